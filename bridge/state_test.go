package bridge

import (
	"errors"
	"testing"
)

// legal restates the state machine independently of the transitions map: every pair not
// listed here must be refused.
var legal = []struct {
	from State
	t    Trigger
	to   State
}{
	{StateRouted, TriggerPopStart, StatePopping},
	{StateRouted, TriggerPopOffered, StateOffered},
	{StateRouted, TriggerPopActive, StateActive},
	{StateRouted, TriggerPopFailed, StateFailed},
	{StateRouted, TriggerRevoke, StateRevoked},
	{StateRouted, TriggerAbandon, StateAbandoned},
	{StatePopping, TriggerPopStart, StatePopping},
	{StatePopping, TriggerPopOffered, StateOffered},
	{StatePopping, TriggerPopActive, StateActive},
	{StatePopping, TriggerPopFailed, StateFailed},
	{StatePopping, TriggerRevoke, StateRevoked},
	{StatePopping, TriggerAbandon, StateAbandoned},
	{StateOffered, TriggerAccept, StateActive},
	{StateOffered, TriggerDecline, StateRequeued},
	{StateOffered, TriggerOfferTimeout, StateRequeued},
	{StateOffered, TriggerRevoke, StateRevoked},
	{StateOffered, TriggerAbandon, StateAbandoned},
	{StateOffered, TriggerChatEnded, StateAbandoned},
	{StateOffered, TriggerCRMRequeue, StateRequeued},
	{StateActive, TriggerChatEnded, StateWrapUp},
	{StateActive, TriggerComplete, StateCompleted},
	{StateActive, TriggerCRMRequeue, StateRequeued},
	{StateActive, TriggerTransferred, StateWrapUp},
	{StateWrapUp, TriggerComplete, StateCompleted},
	{StateFailed, TriggerComplete, StateCompleted},
	{StateAbandoned, TriggerComplete, StateCompleted},
}

var allStates = []State{StateRouted, StatePopping, StateOffered, StateActive, StateWrapUp,
	StateFailed, StateAbandoned, StateCompleted, StateRequeued, StateRevoked}

func TestNextEveryPair(t *testing.T) {
	want := map[State]map[Trigger]State{}
	for _, l := range legal {
		if want[l.from] == nil {
			want[l.from] = map[Trigger]State{}
		}
		want[l.from][l.t] = l.to
	}
	for _, from := range allStates {
		for _, tr := range Triggers {
			got, err := Next(from, tr)
			to, ok := want[from][tr]
			switch {
			case ok && err != nil:
				t.Errorf("Next(%s, %s) = error %v, want %s", from, tr, err, to)
			case ok && got != to:
				t.Errorf("Next(%s, %s) = %s, want %s", from, tr, got, to)
			case !ok && !errors.Is(err, ErrIllegalTransition):
				t.Errorf("Next(%s, %s) = %s, %v; want ErrIllegalTransition", from, tr, got, err)
			case !ok && got != from:
				t.Errorf("Next(%s, %s) moved to %s on an illegal transition", from, tr, got)
			}
		}
	}
}

func TestTerminalStatesHaveNoWayOut(t *testing.T) {
	for _, s := range allStates {
		if !s.Valid() {
			t.Errorf("%s.Valid() = false", s)
		}
		if !s.Terminal() {
			continue
		}
		for _, tr := range Triggers {
			if _, err := Next(s, tr); err == nil {
				t.Errorf("terminal %s accepts %s", s, tr)
			}
		}
	}
	if State("bogus").Valid() {
		t.Error(`State("bogus").Valid() = true`)
	}
}

func TestEveryStateReachableFromRouted(t *testing.T) {
	seen := map[State]bool{StateRouted: true}
	frontier := []State{StateRouted}
	for len(frontier) > 0 {
		s := frontier[0]
		frontier = frontier[1:]
		for _, tr := range Triggers {
			if to, err := Next(s, tr); err == nil && !seen[to] {
				seen[to] = true
				frontier = append(frontier, to)
			}
		}
	}
	for _, s := range allStates {
		if !seen[s] {
			t.Errorf("state %s is unreachable from routed", s)
		}
	}
}
