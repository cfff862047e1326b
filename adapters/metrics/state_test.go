package metrics

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// A failed read says so (up 0) and still reports the breakers; reads are shared by scrapes
// that come close together.
func TestStateCollector(t *testing.T) {
	var reads atomic.Int32
	m := New()
	m.WatchState(func(context.Context) (Snapshot, error) {
		reads.Add(1)
		s := Snapshot{Breakers: map[string]string{"crm:x": "open"}}
		s.QueueDepth = map[string]int64{"acd-outbox": 7}
		s.QueueOldestSeconds = map[string]float64{"acd-outbox": 1.5}
		s.InteractionsByState = map[string]int{"offered": 3}
		s.OpenInteractions, s.StuckInteractions = 3, 1
		return s, nil
	}, func() int { return 42 })
	text := scrape(t, m)
	for _, want := range []string{`mbb_queue_depth{queue="acd-outbox"} 7`, `mbb_queue_oldest_seconds{queue="acd-outbox"} 1.5`,
		`mbb_interactions{state="offered"} 3`, `mbb_interactions_stuck 1`, `mbb_state_read_up 1`, `mbb_sse_clients 42`,
		`mbb_breaker_state{state="open",upstream="crm:x"} 1`, `mbb_breaker_state{state="closed",upstream="crm:x"} 0`} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	scrape(t, m)
	if n := reads.Load(); n != 1 {
		t.Errorf("two scrapes in a row read the state %d times, want 1", n)
	}
	m2 := New()
	m2.WatchState(func(context.Context) (Snapshot, error) {
		return Snapshot{Breakers: map[string]string{"acd": "closed"}}, errors.New("redis down")
	}, nil)
	text = scrape(t, m2)
	if !strings.Contains(text, "mbb_state_read_up 0") || !strings.Contains(text, `mbb_breaker_state{state="closed",upstream="acd"} 1`) || strings.Contains(text, "mbb_queue_depth") {
		t.Errorf("failed read scrape:\n%s", text)
	}
}
