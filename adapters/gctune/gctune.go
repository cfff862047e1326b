// Package gctune keeps the Go garbage collector's heap goal at or above a floor.
//
// The bridge's live heap is small (a few MiB at rest), and Go's collector starts a cycle each
// time the heap grows by GOGC percent of it: at a few thousand pops a second that is about
// ten cycles a second. Each cycle takes a quarter of the CPUs for its marking and slows the
// goroutines that allocate meanwhile, and on a 2-core replica the pops that overlap one are
// the slowest 1 % (bench: the 1-connection p99 fell by about a third, for the bridge and for
// the floor alike, with the collector run about seven times less often). A floor on the heap goal
// trades a bounded amount of memory (MinHeap) for far fewer cycles while the live heap is
// small; once it is larger than MinHeap, GOGC applies unchanged.
//
// It works as the runtime would with a larger GOGC: after every cycle it sets the percent
// that puts the next goal at MinHeap (never below the GOGC it started with). GOMEMLIMIT still
// bounds the heap, and the floor is capped at half of it, so a small container never trades
// its headroom for it.
package gctune

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// maxPercent bounds the percent the tuner sets: with a live heap of 1 % of MinHeap or less
// the goal stays below MinHeap.
const maxPercent = 10000

// running is the tuner in force: there is one collector per process, so one tuner.
var running atomic.Pointer[Tuner]

// Tuner keeps the heap goal at or above a floor until Stop.
type Tuner struct {
	minHeap uint64
	base    int // the GOGC percent it started with, restored by Stop
	stopped atomic.Bool
	percent atomic.Int64 // the percent set last

	mu   sync.Mutex       // serialises adjust (the cleanup goroutine, Start) and Stop
	live []metrics.Sample // the live heap the last cycle found
}

// Start floors the heap goal at minHeap bytes, or at half the memory limit (GOMEMLIMIT)
// when that is lower. It does nothing when minHeap is 0, when the collector is off
// (GOGC=off), or while another Tuner runs (its MinHeap is then 0): Stop is then a no-op too.
func Start(minHeap uint64) *Tuner {
	t := &Tuner{base: gogcPercent(), live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.percent.Store(int64(t.base))
	if minHeap == 0 || !running.CompareAndSwap(nil, t) {
		t.stopped.Store(true)
		return t
	}
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		minHeap = min(minHeap, uint64(limit)/2)
	}
	t.minHeap = minHeap
	if minHeap == 0 || t.base <= 0 {
		t.stopped.Store(true)
		running.Store(nil)
		return t
	}
	t.adjust()
	t.arm()
	return t
}

// MinHeap is the floor in force (0: none).
func (t *Tuner) MinHeap() uint64 {
	if t.stopped.Load() {
		return 0
	}
	return t.minHeap
}

// Percent is the GOGC percent the tuner set last.
func (t *Tuner) Percent() int { return int(t.percent.Load()) }

// Stop gives the collector back its own GOGC.
func (t *Tuner) Stop() {
	if t.stopped.Swap(true) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	debug.SetGCPercent(t.base)
	t.percent.Store(int64(t.base))
	running.Store(nil)
}

// gogcPercent is the collector's GOGC percent now (negative when off).
func gogcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// sentinel is an object whose collection marks the end of a GC cycle. It holds a pointer so
// that it is not batched with other small objects (the tiny allocator), which would delay it.
type sentinel struct{ _ *int }

// arm has the next cycle call adjust: a cleanup runs once its object has been collected.
func (t *Tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *Tuner) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	}, t)
}

// adjust sets the percent for the live heap the last cycle found.
func (t *Tuner) adjust() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.live)
	p := PercentFor(t.live[0].Value.Uint64(), t.minHeap, t.base)
	if int64(p) != t.percent.Load() {
		debug.SetGCPercent(p)
		t.percent.Store(int64(p))
	}
}

// PercentFor is the GOGC percent that puts the heap goal after a cycle that found live bytes
// at minHeap (the goal is about live × (1 + percent/100)), and never below base. A live heap
// of 0 (no cycle yet) is taken as 1 % of minHeap.
func PercentFor(live, minHeap uint64, base int) int {
	if live == 0 {
		live = max(minHeap/100, 1)
	}
	if live >= minHeap {
		return base
	}
	p := (minHeap - live) * 100 / live
	return max(base, int(min(p, maxPercent)))
}
