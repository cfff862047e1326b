package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// countingPresence records each call's batch size.
type countingPresence struct {
	mu      sync.Mutex
	reports []int // batch sizes of ReportStreams
	closed  []int
	last    map[string]string // conn id -> last event id reported
}

func (c *countingPresence) ReportStreams(_ context.Context, rs []bridge.StreamReport, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, len(rs))
	for _, r := range rs {
		c.last[r.ConnID] = r.LastEventID
	}
	return nil
}

func (c *countingPresence) StreamsClosed(_ context.Context, rs []bridge.StreamReport) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = append(c.closed, len(rs))
	return nil
}

func (c *countingPresence) StreamHealth(context.Context, string, time.Duration) (bridge.StreamHealth, error) {
	return bridge.StreamHealth{}, nil
}

func (c *countingPresence) snapshot() (reports, closed []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.reports...), append([]int(nil), c.closed...)
}

// Streams report alone when they open, then together: one write per heartbeat for all of
// them, carrying how far each got; closed streams are removed in one write; and the flusher
// stops once nothing is open.
func TestPresenceBatchReportsAllStreamsInOneWritePerHeartbeat(t *testing.T) {
	store := &countingPresence{last: map[string]string{}}
	const beat = 50 * time.Millisecond
	p := newPresenceBatch(store, beat, slog.New(slog.DiscardHandler))
	const n = 40
	for i := range n {
		p.opened(context.Background(), bridge.StreamReport{AgentID: "a", ConnID: string(rune('A' + i))})
	}
	p.delivered("A", "5-0")
	waitFor(t, "a batch of every stream", func() bool {
		reports, _ := store.snapshot()
		return len(reports) > n && reports[len(reports)-1] == n
	})
	reports, _ := store.snapshot()
	for i, size := range reports[:n] {
		if size != 1 {
			t.Fatalf("open report %d carried %d streams, want 1", i, size)
		}
	}
	store.mu.Lock()
	if got := store.last["A"]; got != "5-0" {
		t.Errorf("stream A's last id in the batch = %q, want 5-0", got)
	}
	store.mu.Unlock()

	for i := range n {
		p.ended(string(rune('A' + i)))
	}
	waitFor(t, "the closed streams removed in one write", func() bool {
		_, closed := store.snapshot()
		return len(closed) == 1 && closed[0] == n
	})
	waitFor(t, "the flusher to stop", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.running
	})
	before, _ := store.snapshot()
	time.Sleep(3 * beat)
	if after, _ := store.snapshot(); len(after) != len(before) {
		t.Errorf("reports went on with no stream open: %d then %d", len(before), len(after))
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
