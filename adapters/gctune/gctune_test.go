package gctune_test

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/gctune"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name          string
		live, minHeap uint64
		base, want    int
	}{
		{"small live heap: goal raised to the floor", 4 * mib, 64 * mib, 100, 1500},
		{"goal already above the floor", 40 * mib, 64 * mib, 100, 100},
		{"live heap above the floor", 100 * mib, 64 * mib, 100, 100},
		{"a higher GOGC is kept", 10 * mib, 64 * mib, 800, 800},
		{"tiny live heap: capped", 1024, 64 * mib, 100, 10000},
		{"no cycle yet: 1 % of the floor assumed", 0, 64 * mib, 100, 9900},
	} {
		if got := gctune.PercentFor(c.live, c.minHeap, c.base); got != c.want {
			t.Errorf("%s: PercentFor(%d, %d, %d) = %d, want %d", c.name, c.live, c.minHeap, c.base, got, c.want)
		}
	}
}

var sink []byte

// churn allocates total bytes of garbage in 64 KiB pieces and returns how many GC cycles ran
// meanwhile.
func churn(total int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range total / (64 << 10) {
		sink = make([]byte, 64<<10)
	}
	sink = nil
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestTunerRunsTheCollectorLessOftenWhileTheHeapIsSmall(t *testing.T) {
	runtime.GC()
	without := churn(512 << 20)

	tu := gctune.Start(128 << 20)
	if tu.MinHeap() != 128<<20 {
		t.Fatalf("MinHeap = %d, want 128 MiB", tu.MinHeap())
	}
	runtime.GC() // a first cycle measures the live heap
	// The cleanup that adjusts runs just after the cycle, on its own goroutine.
	deadline := time.Now().Add(5 * time.Second)
	for tu.Percent() <= 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if tu.Percent() <= 100 || gogc() != uint64(tu.Percent()) {
		t.Fatalf("after a cycle: tuner percent %d, runtime GOGC %d; want both above 100 and equal", tu.Percent(), gogc())
	}
	with := churn(512 << 20)
	tu.Stop()
	if gogc() != 100 || tu.Percent() != 100 {
		t.Fatalf("after Stop: GOGC %d, tuner percent %d; want 100 restored", gogc(), tu.Percent())
	}
	t.Logf("GC cycles for 512 MiB of garbage: %d with GOGC=100, %d with a 128 MiB floor", without, with)
	if with == 0 || with*4 > without {
		t.Fatalf("GC cycles: %d with the floor, %d without; want at least 4 times fewer", with, without)
	}
}

func TestTunerRespectsTheMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(64 << 20)
	defer debug.SetMemoryLimit(old)
	tu := gctune.Start(1 << 30)
	defer tu.Stop()
	if tu.MinHeap() != 32<<20 {
		t.Fatalf("MinHeap = %d, want half the 64 MiB limit", tu.MinHeap())
	}
}

func TestTunerIsOffWithoutAFloorOrWithTheCollectorOff(t *testing.T) {
	if tu := gctune.Start(0); tu.MinHeap() != 0 || tu.Percent() != 100 {
		t.Fatalf("Start(0): MinHeap %d, percent %d; want 0 and GOGC untouched", tu.MinHeap(), tu.Percent())
	}
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	tu := gctune.Start(64 << 20)
	tu.Stop()
	if tu.MinHeap() != 0 || debug.SetGCPercent(-1) != -1 {
		t.Fatal("with GOGC=off the tuner must leave the collector off")
	}
}

func TestOneTunerPerProcess(t *testing.T) {
	first := gctune.Start(64 << 20)
	defer first.Stop()
	second := gctune.Start(256 << 20)
	if second.MinHeap() != 0 || first.MinHeap() != 64<<20 {
		t.Fatalf("MinHeap: first %d, second %d; want the first's floor in force and none for the second", first.MinHeap(), second.MinHeap())
	}
	second.Stop() // a no-op: the first keeps its floor
	if first.MinHeap() != 64<<20 {
		t.Fatal("stopping the second tuner stopped the first")
	}
	first.Stop()
	third := gctune.Start(32 << 20)
	defer third.Stop()
	if third.MinHeap() != 32<<20 {
		t.Fatalf("after the first stopped, a new tuner's MinHeap = %d, want 32 MiB", third.MinHeap())
	}
}
