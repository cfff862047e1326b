package bridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Inline pops. The replica that records a routing pops the chat itself, at once, instead of
// waiting for one of its pop workers to be woken by the queue: the leg's creation takes the
// pop's lease (fence 1, as a worker's first lease would), and the pop's work item is claimed
// for this replica's inline consumer as it is added, so no worker sees it. The CRM call goes
// out while the rest of the creation is written. That takes a worker's wake-up, the lease's
// round trip and the creation's second round trip off every pop's path (bench).
//
// Nothing else changes: the item is durable and pending like any other, kept alive while the
// pop runs and acked when it ends; if the replica dies, or the pop fails, it is reclaimed and
// finished by any worker (fence 2: a takeover). A replica runs at most Options.InlinePops at
// once; a routing that finds them all busy goes to the workers as before.

// inlinePops counts a replica's inline pops, so that they are bounded and a shutdown can
// wait for them, and keeps the goroutines that ran them for the next ones.
type inlinePops struct {
	mu       sync.Mutex
	running  int
	max      int
	draining bool
	idle     chan struct{} // closed when draining and nothing runs

	jobs       chan func()   // unbuffered: taken only by a goroutine waiting for one
	idleFor    time.Duration // how long such a goroutine waits before it ends
	goroutines atomic.Int32  // those alive, running a pop or waiting for one
	waiting    atomic.Int32  // those waiting for one
}

func newInlinePops(n int) *inlinePops {
	return &inlinePops{max: n, jobs: make(chan func()), idleFor: 30 * time.Second}
}

// start runs pop on a goroutine that ran an earlier inline pop and is waiting for another,
// or on a new one. A pop's call stack (the CRM client's HTTP stack, go-redis, JSON) is deep:
// on a new goroutine its stack was grown and copied several times on every pop (about 2% of
// the replica's CPU under load, bench profile); a kept goroutine has grown it once. At most
// max pops run at once (take), so at most max goroutines wait.
func (p *inlinePops) start(pop func()) {
	select {
	case p.jobs <- pop:
	default:
		p.goroutines.Add(1)
		go p.serve(pop)
	}
}

// serve runs pop, then the pops start hands it, until none comes for idleFor.
func (p *inlinePops) serve(pop func()) {
	defer p.goroutines.Add(-1)
	timer := time.NewTimer(p.idleFor)
	defer timer.Stop()
	for {
		pop()
		timer.Reset(p.idleFor)
		p.waiting.Add(1)
		select {
		case pop = <-p.jobs:
			p.waiting.Add(-1)
		case <-timer.C:
			p.waiting.Add(-1)
			return
		}
	}
}

// take reserves a slot for an inline pop: false when they are all busy or draining.
func (p *inlinePops) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.draining || p.running >= p.max {
		return false
	}
	p.running++
	return true
}

// done frees a slot take reserved.
func (p *inlinePops) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	if p.running == 0 && p.idle != nil {
		close(p.idle)
		p.idle = nil
	}
}

// drain stops new inline pops and waits until none runs, or ctx ends.
func (p *inlinePops) drain(ctx context.Context) error {
	p.mu.Lock()
	p.draining = true
	if p.running == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.idle == nil {
		p.idle = make(chan struct{})
	}
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DrainInlinePops stops this replica's inline pops (routings go to the workers from now on)
// and waits for those running to finish, or for ctx to end; what is left then is reclaimed
// by another replica, like a worker's item. A graceful shutdown calls it once no more
// webhooks come in.
func (s *Service) DrainInlinePops(ctx context.Context) error { return s.inline.drain(ctx) }

// routedInline records a routing as CreateLegWith would, for a pop this replica runs itself
// (its inline slot already taken): the creation takes the pop's lease, the pop's item is
// claimed for this replica, and the pop starts as soon as the leg exists. Its CRM call goes
// out while the rest of the creation (indexes, timeline, the agent's event, the item) is
// written; it writes nothing before that is done.
//
// A pop whose item could not be queued (fxErr wraps ErrNotQueued) runs all the same, under
// its lease: the ACD gets 503 and retries, and the retry is a duplicate. Should this replica
// die before the pop ends, that retry re-queues the pop (duplicateRouting), as it would have
// without an inline pop.
func (s *Service) routedInline(ctx context.Context, key LegKey, in *Interaction, fx LegEffects) (created bool, fxErr, err error) {
	fx.Queue.Claim = s.opts.InlineConsumer
	lease := &LeaseTake{TTL: s.opts.LeaseTTL}
	fx.Lease = lease
	created, finish, err := s.store.CreateLegThen(ctx, in, fx)
	if err != nil || !created {
		// A duplicate took no lease. After an error one may have been taken (the script ran,
		// its answer was lost); it expires after LeaseTTL, and the ACD's retry re-queues the pop.
		s.inline.done()
		return created, nil, err
	}
	run := s.popInline(key, *in, lease.Fence) // its own copy of the leg: the caller still reads in
	fxErr = finish()
	run.written(s, fx.Queue.ClaimedID)
	return true, fxErr, nil
}

// inlineRun is an inline pop in flight, as its webhook's request sees it.
type inlineRun struct {
	writtenCh chan struct{} // closed once the creation's writes are done
	// Set before writtenCh closes: the claimed item's id ("" when it was not queued) and its
	// hold.
	claimedID string
	release   func(ack bool)
	// acked: the pop's outcome acked the item with its write (popLease.ackWithOutcome); the
	// hold then only lets it go. Set and read by the pop's goroutine.
	acked bool
}

// written tells the pop that the creation's writes are done, and holds its item (claimedID,
// "" when it was not queued) for it.
func (r *inlineRun) written(s *Service, claimedID string) {
	if claimedID != "" {
		r.claimedID = claimedID
		r.release = s.work.Hold(context.Background(), QueuePops, s.opts.InlineConsumer, claimedID)
	}
	close(r.writtenCh)
}

// wait returns once the creation's writes are done.
func (r *inlineRun) wait() { <-r.writtenCh }

// popInline starts the pop of a leg this replica just created with its lease (fence), in the
// background, as a pop worker would run its item: bounded by the lease, never cut short by
// the webhook's request, and its item acked once it succeeded (or left to be reclaimed).
func (s *Service) popInline(key LegKey, leg Interaction, fence int64) *inlineRun {
	run := &inlineRun{writtenCh: make(chan struct{})}
	s.inline.start(func() {
		defer s.inline.done()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.LeaseTTL)
		defer cancel()
		err := s.popLeased(ctx, key, &leg, fence, run)
		run.wait()
		if run.release != nil {
			run.release(err == nil && !run.acked)
		}
	})
	return run
}
