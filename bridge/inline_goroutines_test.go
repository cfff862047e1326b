package bridge

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor waits until n reads want.
func waitFor(t *testing.T, what string, n *atomic.Int32, want int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", what, n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// Inline pops run on goroutines kept for the next pops: pops one after another share one,
// pops at once get one each, and a burst after them reuses those; idle ones end.
func TestInlinePopsReuseTheirGoroutines(t *testing.T) {
	p := newInlinePops(8)
	p.idleFor = 200 * time.Millisecond

	for range 50 {
		done := make(chan struct{})
		p.start(func() { close(done) })
		<-done
		waitFor(t, "goroutines waiting after a pop", &p.waiting, 1)
	}
	if n := p.goroutines.Load(); n != 1 {
		t.Errorf("50 pops one after another ran on %d goroutines, want 1", n)
	}

	burst := func() {
		var running, release sync.WaitGroup
		running.Add(8)
		release.Add(1)
		for range 8 {
			p.start(func() { running.Done(); release.Wait() })
		}
		running.Wait()
		release.Done()
	}
	burst()
	waitFor(t, "goroutines waiting after a burst", &p.waiting, 8)
	burst()
	if n := p.goroutines.Load(); n != 8 {
		t.Errorf("a second burst of 8 left %d goroutines, want the same 8", n)
	}
	waitFor(t, "goroutines alive once idle", &p.goroutines, 0) // idleFor later, every one has ended
}
