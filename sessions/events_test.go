package sessions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

func TestEventsPublishRead(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	var ids []string
	var published []bridge.Event
	for i := range 4 {
		ev := bridge.Event{
			ID:   "ignored", // the stream assigns it
			Type: bridge.EventChannelUpdated, Channel: &bridge.Channel{Reason: fmt.Sprint(i)},
			At: t0.Add(time.Duration(i) * time.Second),
		}
		id, err := s.Publish(ctx, "a1", ev)
		if err != nil {
			t.Fatal(err)
		}
		ev.ID, ev.AgentID = id, "a1"
		ids = append(ids, id)
		published = append(published, ev)
	}
	if _, err := s.Publish(ctx, "a2", bridge.Event{Type: bridge.EventChannelUpdated}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		giveAfter string
		giveCount int
		want      []bridge.Event
	}{
		{name: "from start", giveAfter: "", giveCount: 10, want: published},
		{name: "from zero", giveAfter: "0", giveCount: 10, want: published},
		{name: "after first is exclusive", giveAfter: ids[0], giveCount: 10, want: published[1:]},
		{name: "count limits", giveAfter: ids[0], giveCount: 2, want: published[1:3]},
		{name: "after last", giveAfter: ids[3], giveCount: 10, want: []bridge.Event{}},
		{name: "no count reads all", giveAfter: "", giveCount: 0, want: published},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Read(ctx, "a1", tt.giveAfter, tt.giveCount)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read(a1, %q, %d) mismatch (-want +got):\n%s", tt.giveAfter, tt.giveCount, diff)
			}
		})
	}
	if got, err := s.Read(ctx, "nobody", "", 10); err != nil || len(got) != 0 {
		t.Errorf("Read(nobody) = %v, %v, want empty", got, err)
	}
}

func TestEventsCap(t *testing.T) {
	ctx := t.Context()
	const maxLen, n = 10, 400
	s, client := newStore(t, sessions.Options{StreamMaxLen: maxLen})
	var last string
	for range n {
		id, err := s.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated})
		if err != nil {
			t.Fatal(err)
		}
		last = id
	}
	// MAXLEN ~ trims whole stream nodes (100 entries by default): at most maxLen+100 remain.
	got, err := client.XLen(ctx, s.Keys().Events("a1")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got < maxLen || got > maxLen+100 {
		t.Errorf("event stream length after %d publishes = %d, want between %d and %d", n, got, maxLen, maxLen+100)
	}
	evs, err := s.Read(ctx, "a1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[len(evs)-1].ID != last {
		t.Errorf("Read after trimming does not end with the newest event %s", last)
	}
}

// Every Publish announces the new id on the prefix's one events channel, in the format the
// SSE hubs read.
func TestPublishAnnounces(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	ps := client.Subscribe(ctx, s.Keys().EventsChannel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	var ids []string
	for _, agent := range []string{"agent \"7\"", "a2"} {
		id, err := s.Publish(ctx, agent, bridge.Event{Type: bridge.EventChannelUpdated})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	want := []sessions.Notification{{AgentID: "agent \"7\"", ID: ids[0]}, {AgentID: "a2", ID: ids[1]}}
	var got []sessions.Notification
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for len(got) < len(want) {
		m, err := ps.ReceiveMessage(rctx)
		if err != nil {
			t.Fatalf("after %d notifications: %v", len(got), err)
		}
		var n sessions.Notification
		if err := json.Unmarshal([]byte(m.Payload), &n); err != nil {
			t.Fatalf("notification %q: %v", m.Payload, err)
		}
		got = append(got, n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications mismatch (-want +got):\n%s", diff)
	}
}
