package bridge

import (
	"context"
	"sync"
	"time"
)

// Inline pops. The replica that records a routing pops the chat itself, right after the ACD
// has its answer, instead of waiting for one of its pop workers to be woken by the queue:
// the leg's creation takes the pop's lease (fence 1, as a worker's first lease would), and the
// pop's work item is claimed for this replica's inline consumer as it is added, so no worker
// sees it. That takes a worker's wake-up and the lease's round trip off every pop (bench).
//
// Nothing else changes: the item is durable and pending like any other, kept alive while the
// pop runs and acked when it ends; if the replica dies, or the pop fails, it is reclaimed and
// finished by any worker (fence 2: a takeover). A replica runs at most Options.InlinePops at
// once; a routing that finds them all busy goes to the workers as before.

// inlinePops counts a replica's inline pops, so that they are bounded and a shutdown can
// wait for them.
type inlinePops struct {
	mu       sync.Mutex
	running  int
	max      int
	draining bool
	idle     chan struct{} // closed when draining and nothing runs
}

func newInlinePops(n int) *inlinePops { return &inlinePops{max: n} }

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

// popInline runs the pop of a leg this replica just created with its lease (fence) and
// whose work item it claimed, in the background, as a pop worker would run the item.
func (s *Service) popInline(key LegKey, leg Interaction, item WorkItem, fence int64) {
	go func() {
		defer s.inline.done()
		// As in RunPopWorkers: bounded by the lease, never cut short by the webhook's request.
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.LeaseTTL)
		defer cancel()
		s.work.Handle(ctx, QueuePops, s.opts.InlineConsumer, item, func(ctx context.Context, _ WorkItem) error {
			return s.popLeased(ctx, key, &leg, fence)
		})
	}()
}

// notInline gives back an inline slot whose pop will not run here after all (the item was
// not claimed, or the routing not recorded), with the lease its creation took, so that the
// worker that gets the item is not kept waiting for the lease to expire.
func (s *Service) notInline(ctx context.Context, key LegKey, fence int64) {
	s.inline.done()
	if fence <= 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.store.ReleaseLease(rctx, key, fence); err != nil {
		s.log.Warn("lease of a routing popped by the workers not released; it expires on its own",
			"interaction_id", key.InteractionID, "routing_id", key.RoutingID, "err", err)
	}
}
