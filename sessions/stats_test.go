package sessions_test

import (
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

func TestStats(t *testing.T) {
	s, _ := newStore(t, sessions.Options{})
	ctx := t.Context()
	now := time.Now()
	states := []bridge.State{bridge.StateRouted, bridge.StateOffered, bridge.StateOffered, bridge.StateActive, bridge.StateCompleted}
	for i, st := range states {
		l := leg("i"+string(rune('1'+i)), "r1", "a1", "c", now.Add(-time.Duration(10-i)*time.Minute))
		if _, err := s.CreateLeg(ctx, l); err != nil {
			t.Fatal(err)
		}
		if st != bridge.StateRouted {
			l.State = st
			if err := s.UpdateLeg(ctx, l, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 {
		if err := s.Enqueue(ctx, "outbox", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	// The first two legs were last written 10 and 9 minutes ago: overdue 8.5 minutes back.
	got, err := s.Stats(ctx, []string{"outbox", "empty"}, now.Add(-510*time.Second), 100)
	if err != nil {
		t.Fatal(err)
	}
	if got.QueueDepth["outbox"] != 3 || got.QueueDepth["empty"] != 0 {
		t.Errorf("depths = %v, want outbox 3, empty 0", got.QueueDepth)
	}
	if age := got.QueueOldest["outbox"]; age < 20*time.Millisecond || age > time.Minute {
		t.Errorf("oldest outbox item age = %s, want about 20ms", age)
	}
	if got.QueueOldest["empty"] != 0 {
		t.Errorf("empty queue oldest = %s", got.QueueOldest["empty"])
	}
	if got.OpenLegs != 4 || got.Overdue != 2 {
		t.Errorf("open %d overdue %d, want 4 and 2", got.OpenLegs, got.Overdue)
	}
	want := map[bridge.State]int{bridge.StateRouted: 1, bridge.StateOffered: 2, bridge.StateActive: 1}
	for st, n := range want {
		if got.LegsByState[st] != n {
			t.Errorf("legs by state = %v, want %v", got.LegsByState, want)
			break
		}
	}
	if got, _ := s.Stats(ctx, nil, now, 2); len(got.LegsByState) == 0 || got.LegsByState[bridge.StateRouted]+got.LegsByState[bridge.StateOffered]+got.LegsByState[bridge.StateActive] != 2 {
		t.Errorf("a sample of 2 counted %v", got.LegsByState)
	}
}

func TestValidItemID(t *testing.T) {
	for id, want := range map[string]bool{
		"1-0": true, "1700000000000-3": true, "18446744073709551615-18446744073709551614": true,
		"": false, "1": false, "-1": false, "1-": false, "a-1": false, "+1-0": false,
		"18446744073709551616-0": false, "1-99999999999999999999": false,
		"18446744073709551615-18446744073709551615": false, // nothing can come after it
	} {
		if got := sessions.ValidItemID(id); got != want {
			t.Errorf("ValidItemID(%q) = %v, want %v", id, got, want)
		}
	}
}
