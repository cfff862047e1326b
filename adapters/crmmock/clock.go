package crmmock

import (
	"sync"
	"time"
)

// Clock is the mock's time source. Every timer of the mock (presence, offer timeout, queue
// timeout, session token expiry) reads it, so a test can move the mock minutes ahead in
// microseconds with Advance instead of sleeping.
//
// A Clock is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    func() time.Time
	offset time.Duration
}

// NewClock returns a clock that follows now (usually time.Now) plus an offset that Advance
// moves forward. Real time keeps flowing; Advance jumps ahead of it.
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now}
}

// NewManualClock returns a clock frozen at start that only moves on Advance, for tests that
// want exact times.
func NewManualClock(start time.Time) *Clock {
	return NewClock(func() time.Time { return start })
}

// Now returns the mock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Add(c.offset)
}

// Advance moves the clock forward by d (negative d is ignored: the mock's time never goes
// back). Use Server.Advance to also fire the timers that became due at once; with
// Clock.Advance alone they fire on the next request or background tick.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
