package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// StreamPresence records which agents have a live stream open, whatever the replica, for
// diagnostics. sessions.Store implements it.
type StreamPresence interface {
	// ReportStreams records that each stream is open and how far it has delivered; a report
	// counts for ttl. One round trip for the whole batch.
	ReportStreams(ctx context.Context, reports []bridge.StreamReport, ttl time.Duration) error
	// StreamsClosed removes the reports of streams that ended.
	StreamsClosed(ctx context.Context, closed []bridge.StreamReport) error
	StreamHealth(ctx context.Context, agentID string, ttl time.Duration) (bridge.StreamHealth, error)
}

// presenceBatch reports a replica's open streams together: a stream reports itself alone
// when it opens (so diagnostics see it at once), and from then on the batch writes every
// open stream's report in one pipelined round trip per heartbeat. A round trip per stream
// per heartbeat would add ~1,300 round trips a second at 19,000 streams to a replica that is
// otherwise idle. The flusher runs only while streams are open on the replica.
type presenceBatch struct {
	store StreamPresence
	every time.Duration // a heartbeat
	ttl   time.Duration // three heartbeats: one late flush does not show a stream as gone
	log   *slog.Logger

	mu      sync.Mutex
	open    map[string]*bridge.StreamReport // by connection id
	closed  []bridge.StreamReport
	running bool
}

func newPresenceBatch(store StreamPresence, heartbeat time.Duration, log *slog.Logger) *presenceBatch {
	return &presenceBatch{store: store, every: heartbeat, ttl: 3 * heartbeat, log: log, open: map[string]*bridge.StreamReport{}}
}

// opened reports a new stream now and adds it to the batch.
func (p *presenceBatch) opened(ctx context.Context, r bridge.StreamReport) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := p.store.ReportStreams(ctx, []bridge.StreamReport{r}, p.ttl); err != nil && ctx.Err() == nil {
		p.log.Debug("report sse stream", "agent_id", r.AgentID, "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open[r.ConnID] = &r
	if !p.running {
		p.running = true
		go p.flushEvery()
	}
}

// delivered records how far a stream has got, for its next report.
func (p *presenceBatch) delivered(connID, lastEventID string) {
	p.mu.Lock()
	if r := p.open[connID]; r != nil {
		r.LastEventID = lastEventID
	}
	p.mu.Unlock()
}

// ended drops a stream from the batch; its report is removed at the next flush.
func (p *presenceBatch) ended(connID string) {
	p.mu.Lock()
	if r := p.open[connID]; r != nil {
		p.closed = append(p.closed, *r)
		delete(p.open, connID)
	}
	p.mu.Unlock()
}

// flushEvery writes the batch each heartbeat until no stream is open and nothing is left to
// remove. A failed flush is retried by the next: reports outlive two missed flushes.
func (p *presenceBatch) flushEvery() {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		reports := make([]bridge.StreamReport, 0, len(p.open))
		for _, r := range p.open {
			reports = append(reports, *r)
		}
		closed := p.closed
		p.closed = nil
		if len(reports) == 0 && len(closed) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.flush(reports, closed)
	}
}

func (p *presenceBatch) flush(reports, closed []bridge.StreamReport) {
	ctx, cancel := context.WithTimeout(context.Background(), p.every)
	defer cancel()
	if len(closed) > 0 {
		if err := p.store.StreamsClosed(ctx, closed); err != nil {
			p.log.Debug("remove closed sse streams' reports", "streams", len(closed), "err", err)
		}
	}
	if len(reports) > 0 {
		if err := p.store.ReportStreams(ctx, reports, p.ttl); err != nil {
			p.log.Warn("report open sse streams", "streams", len(reports), "err", err)
		}
	}
}
