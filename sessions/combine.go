package sessions

import (
	"context"
	"sync"
)

// Round trips made at the same time are merged into one pipeline ("flat combining"): a
// pop's state change, a webhook's leg creation and a worker's ack each wait for Redis, and
// under load dozens wait at once. Sent one by one, each costs a write and a read system call
// on both ends, which was a quarter of the bridge's CPU and most of Redis's (bench). Merged,
// a pipeline of many requests costs about what one does.
//
// Nothing waits for a batch to fill: a request is sent at once when fewer than limit
// pipelines are in flight, so an idle store adds only a mutex to each round trip. Otherwise
// it waits for a pipeline in flight to return, and the first waiter then sends every waiting
// request in one pipeline (its own included) while the rest keep waiting for that one. Each
// request's commands stay in order and together; across requests the order is arrival order.
// Requests are independent: each reads its own commands' results, and one failing does not
// fail another (a lost connection fails every command it carried, as it would have alone).

// maxCombined bounds the requests in one pipeline, so one slow batch cannot hold many.
const maxCombined = 64

type combiner struct {
	limit int // pipelines in flight at once

	mu      sync.Mutex
	running int
	waiting []*combinedRequest
	send    func(ctx context.Context, p *pipe) // executes a pipeline (Store.sendPipe)
	newPipe func() *pipe
}

type combinedRequest struct {
	queue func(p *pipe)
	lead  chan struct{} // receives when this request is to send the waiting ones
	// promoted (under mu): handed a slot, so it sends a pipeline even if another sender
	// takes it first (then with what is waiting, or nothing).
	promoted bool
	done     chan struct{} // closed once its pipeline returned
}

// do has queue add its commands to a pipeline and returns once that pipeline was executed;
// the commands then hold their results. queue runs on whichever goroutine sends the
// pipeline, while do's caller waits. Once queued a request is sent whatever ctx does, as a
// command already written would be: the wait is bounded by the client's own timeouts.
func (c *combiner) do(ctx context.Context, queue func(p *pipe)) {
	r := &combinedRequest{queue: queue, lead: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.waiting = append(c.waiting, r)
	if c.running < c.limit {
		c.running++
		c.mu.Unlock()
		c.sendWaiting(ctx)
	} else {
		c.mu.Unlock()
	}
	for {
		select {
		case <-r.lead:
			c.sendWaiting(ctx)
		case <-r.done:
			// Another sender may have taken this request after the slot was handed to it:
			// the slot must not be lost with it.
			select {
			case <-r.lead:
				c.sendWaiting(ctx)
			default:
			}
			return
		}
	}
}

// sendWaiting sends the waiting requests (up to maxCombined) as one pipeline, then hands
// its slot to the next waiter, if any, or gives it up.
func (c *combiner) sendWaiting(ctx context.Context) {
	c.mu.Lock()
	n := min(len(c.waiting), maxCombined)
	batch := c.waiting[:n:n]
	c.waiting = c.waiting[n:]
	c.mu.Unlock()

	if n > 0 {
		p := c.newPipe()
		for _, r := range batch {
			r.queue(p)
		}
		// Not the caller's cancellation: the pipeline carries other requests too.
		c.send(context.WithoutCancel(ctx), p)
		for _, r := range batch {
			close(r.done)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.waiting {
		if !w.promoted { // one slot per waiter: a promoted one sends its own pipeline
			w.promoted = true
			w.lead <- struct{}{} // never blocks: the first and only token; c.running unchanged
			return
		}
	}
	c.running--
}
