//go:build unix

package main

import (
	"fmt"
	"syscall"
	"time"
)

// raiseOpenFiles makes sure this process may hold need open files, raising the soft limit
// and, where allowed (root, CAP_SYS_RESOURCE), the hard one. It returns the limit in force.
func raiseOpenFiles(need uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("read the open-files limit: %w", err)
	}
	if rl.Cur >= need {
		return rl.Cur, nil
	}
	want := syscall.Rlimit{Cur: need, Max: max(rl.Max, need)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return rl.Cur, fmt.Errorf("raise the open-files limit to %d: %w", need, err)
	}
	return need, nil
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
