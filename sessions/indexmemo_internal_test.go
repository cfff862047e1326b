package sessions

import (
	"fmt"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func memoLeg(i int) *bridge.Interaction {
	return &bridge.Interaction{
		InteractionID: fmt.Sprint("i", i), RoutingID: "r1", AgentID: "a1", Site: "s", ChatID: "c",
		State: bridge.StateRouted, RoutedAt: time.Unix(100, 0),
	}
}

func TestIndexMemoTake(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name   string
		change func(in *bridge.Interaction)
		after  time.Duration
		want   bool
	}{
		{name: "same leg, moments later", after: time.Second, want: true},
		{name: "stale", after: memoFresh},
		{name: "other agent", change: func(in *bridge.Interaction) { in.AgentID = "a2" }},
		{name: "other chat", change: func(in *bridge.Interaction) { in.ChatID = "c2" }},
		{name: "other site", change: func(in *bridge.Interaction) { in.Site = "s2" }},
		{name: "other routing time", change: func(in *bridge.Interaction) { in.RoutedAt = in.RoutedAt.Add(time.Microsecond) }},
		{name: "terminal", change: func(in *bridge.Interaction) { in.State = bridge.StateCompleted }},
		{name: "not remembered", change: func(in *bridge.Interaction) { in.RoutingID = "r2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m indexMemo
			in := memoLeg(1)
			m.remember(in, now)
			if tt.change != nil {
				tt.change(in)
			}
			if got := m.take(in, now.Add(tt.after)); got != tt.want {
				t.Errorf("take = %v, want %v", got, tt.want)
			}
			if _, kept := m.legs[memoLeg(1).Key()]; kept != (tt.name == "not remembered") {
				t.Errorf("entry kept after take: %v (take must consume the entry it looked at)", kept)
			}
		})
	}
}

func TestIndexMemoIsBounded(t *testing.T) {
	var m indexMemo
	now := time.Unix(1000, 0)
	for i := range memoMax {
		m.remember(memoLeg(i), now)
	}
	m.remember(memoLeg(memoMax), now.Add(time.Second))
	if len(m.legs) != memoMax {
		t.Fatalf("%d entries, want the bound %d", len(m.legs), memoMax)
	}
	if m.take(memoLeg(memoMax), now.Add(time.Second)) {
		t.Error("an entry beyond the bound was kept")
	}
	later := now.Add(memoFresh)
	m.remember(memoLeg(memoMax+1), later) // every older entry is stale by now: swept
	if len(m.legs) != 1 || !m.take(memoLeg(memoMax+1), later) {
		t.Errorf("after the sweep: %d entries, want only the new one", len(m.legs))
	}
	m.forget(memoLeg(0))
}
