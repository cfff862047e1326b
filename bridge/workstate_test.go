package bridge_test

import (
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func TestWorkStateOf(t *testing.T) {
	legs := func(states ...bridge.State) []*bridge.Interaction {
		var out []*bridge.Interaction
		for _, s := range states {
			out = append(out, &bridge.Interaction{State: s})
		}
		return out
	}
	sess := bridge.AgentSession{MaxSessions: 3}
	tests := []struct {
		name  string
		legs  []*bridge.Interaction
		state string
		busy  int
	}{
		{"nothing open", nil, bridge.WorkIdle, 0},
		{"only finished legs", legs(bridge.StateCompleted, bridge.StateRequeued, bridge.StateRevoked), bridge.WorkIdle, 0},
		{"an offer beats a chat in progress", legs(bridge.StateActive, bridge.StateOffered), bridge.WorkOffered, 2},
		{"a chat in progress beats a wrap-up", legs(bridge.StateWrapUp, bridge.StateActive, bridge.StateCompleted), bridge.WorkBusy, 2},
		{"a failed pop awaits Complete", legs(bridge.StateFailed), bridge.WorkWrapUp, 1},
		{"popping holds a slot", legs(bridge.StatePopping), bridge.WorkBusy, 1},
	}
	for _, tt := range tests {
		w := bridge.WorkStateOf(sess, tt.legs)
		if w.State != tt.state || w.Busy != tt.busy || w.Max != 3 {
			t.Errorf("%s: %+v, want %s busy %d of 3", tt.name, w, tt.state, tt.busy)
		}
	}
}
