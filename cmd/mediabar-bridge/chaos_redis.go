package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// redisServer is a redis-server the chaos run owns, so it can kill and restart it. AOF with
// fsync on every write: a write Redis acknowledged survives a SIGKILL, as in a production
// deployment configured for durability; what the run checks is that the bridge copes with
// the outage itself.
type redisServer struct {
	path, dir, addr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// execLookPath is exec.LookPath (a variable so tests can pretend redis-server is missing).
var execLookPath = exec.LookPath

func startRedisServer(ctx context.Context, path string) (*redisServer, error) {
	dir, err := os.MkdirTemp("", "mbb-chaos-redis-")
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	r := &redisServer{path: path, dir: dir, addr: addr}
	if err := r.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return r, nil
}

func (r *redisServer) url() string { return "redis://" + r.addr + "/0" }

// start runs the server and waits until it accepts connections.
func (r *redisServer) start(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(r.addr)
	cmd := exec.Command(r.path, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond); err == nil {
			// A PING answered +PONG: loading the AOF is over.
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			n, _ := c.Read(buf)
			c.Close()
			if string(buf[:n]) == "+PONG\r\n" {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited at start (port %s)", port)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not answering on %s within 15s", r.addr)
		}
	}
}

// kill SIGKILLs the server and waits for it to be gone.
func (r *redisServer) kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// stop kills the server and removes its directory.
func (r *redisServer) stop() {
	r.kill()
	os.RemoveAll(r.dir)
}
