package sessions_test

import (
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// Stream reports: each stream counts while its own report is younger than the TTL (a replica
// SIGKILLed stops reporting and its stream drops out), the furthest delivered id wins, the
// newest event id comes from the agent's stream, a clean close removes the report, and the
// presence key never outlives its TTL.
func TestStreamHealth(t *testing.T) {
	s, rdb := newStore(t, sessions.Options{})
	ctx := t.Context()
	const ttl = 300 * time.Millisecond

	h, err := s.StreamHealth(ctx, "a1", ttl)
	if err != nil || h.Connected || h.Streams != 0 || h.LatestEventID != "" {
		t.Fatalf("no stream yet: %+v %v", h, err)
	}
	first, _ := s.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	second, _ := s.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated})

	if err := s.ReportStreams(ctx, []bridge.StreamReport{{AgentID: "a1", ConnID: "dead"}}, ttl); err != nil { // its replica dies now
		t.Fatal(err)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	err = s.ReportStreams(ctx, []bridge.StreamReport{
		{AgentID: "a1", ConnID: "tab1", LastEventID: first},
		{AgentID: "a1", ConnID: "tab2", LastEventID: second},
		{AgentID: "a2", ConnID: "tab1"},
	}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	h, err = s.StreamHealth(ctx, "a1", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Connected || h.Streams != 2 || h.LastEventID != second || h.LatestEventID != second || h.LastSeenAt == nil {
		t.Fatalf("two live tabs and a dead one: %+v, want 2 streams, last and latest %s", h, second)
	}
	key := s.Keys().StreamPresence("a1")
	if pttl := rdb.PTTL(ctx, key).Val(); pttl <= 0 || pttl > ttl {
		t.Fatalf("presence key TTL %v, want (0, %v]", pttl, ttl)
	}

	if h, _ := s.StreamHealth(ctx, "a2", ttl); h.Streams != 1 {
		t.Fatalf("a2: %+v, want its own one stream", h)
	}
	if err := s.StreamsClosed(ctx, []bridge.StreamReport{{AgentID: "a1", ConnID: "tab2"}}); err != nil {
		t.Fatal(err)
	}
	h, _ = s.StreamHealth(ctx, "a1", ttl)
	if h.Streams != 1 || h.LastEventID != first {
		t.Fatalf("after tab2 closed: %+v, want 1 stream at %s", h, first)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if h, _ = s.StreamHealth(ctx, "a1", ttl); h.Connected || h.Streams != 0 {
		t.Fatalf("after every report aged out: %+v, want not connected", h)
	}
}
