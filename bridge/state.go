package bridge

import (
	"errors"
	"fmt"
)

// State is where an agent leg is in its life.
type State string

const (
	// StateRouted: the ACD routed it and it is recorded; its pop has not started, or its
	// first CRM route call is in flight (a pop whose first call answers goes from routed
	// straight to its outcome, one write instead of two).
	StateRouted State = "routed"
	// StatePopping: a pop that needed more than one plain call: retried after a transient
	// code, taken over from a replica that died, or uncertain (no answer yet).
	StatePopping   State = "popping"
	StateOffered   State = "offered"   // CRM shows the toast; waiting for accept/decline
	StateActive    State = "active"    // agent accepted; chatting
	StateWrapUp    State = "wrapup"    // chat ended; agent doing post-processing
	StateFailed    State = "failed"    // pop failed; agent told; awaiting Complete
	StateAbandoned State = "abandoned" // customer left; agent told; awaiting Complete
	StateCompleted State = "completed" // agent's part done (terminal)
	StateRequeued  State = "requeued"  // declined / offer timed out; back to the ACD (terminal)
	StateRevoked   State = "revoked"   // ACD took it back (terminal)
)

// Terminal reports whether no further transition can leave s.
func (s State) Terminal() bool {
	return s == StateCompleted || s == StateRequeued || s == StateRevoked
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// Trigger is what moves a leg from one state to another.
type Trigger string

const (
	TriggerPopStart     Trigger = "pop_start"     // a replica took the lease and calls the CRM
	TriggerPopOffered   Trigger = "pop_offered"   // CRM: SUCCESS, offer shown
	TriggerPopActive    Trigger = "pop_active"    // CRM: SUCCESS with auto-accept
	TriggerPopFailed    Trigger = "pop_failed"    // CRM or bridge failure code
	TriggerAccept       Trigger = "accept"        // agent accepted
	TriggerDecline      Trigger = "decline"       // agent declined
	TriggerOfferTimeout Trigger = "offer_timeout" // CRM offer timed out
	TriggerChatEnded    Trigger = "chat_ended"    // agent or customer ended the chat
	TriggerComplete     Trigger = "complete"      // agent (or wrap-up timeout) completed
	TriggerRevoke       Trigger = "revoke"        // ACD took the offer back
	TriggerAbandon      Trigger = "abandon"       // customer left before the chat was active
	TriggerCRMRequeue   Trigger = "crm_requeue"   // the CRM took the chat back itself (agent disconnected)
	// TriggerTransferred: the agent this leg transferred the chat to accepted it, so this
	// agent is out of the chat and in wrap-up.
	TriggerTransferred Trigger = "transferred"
)

// Triggers lists every trigger (for exhaustive tests and docs).
var Triggers = []Trigger{
	TriggerPopStart, TriggerPopOffered, TriggerPopActive, TriggerPopFailed, TriggerAccept,
	TriggerDecline, TriggerOfferTimeout, TriggerChatEnded, TriggerComplete, TriggerRevoke,
	TriggerAbandon, TriggerCRMRequeue, TriggerTransferred,
}

// transitions is the whole state machine: from → trigger → to. Anything absent is illegal.
var transitions = map[State]map[Trigger]State{
	StateRouted: {
		TriggerPopStart: StatePopping,
		// The first call's answer (the CRM's, or a bridge code such as AGENT_NOT_LOGGED_IN
		// or CRM_UNREACHABLE).
		TriggerPopOffered: StateOffered,
		TriggerPopActive:  StateActive,
		TriggerPopFailed:  StateFailed,
		TriggerRevoke:     StateRevoked,
		TriggerAbandon:    StateAbandoned,
	},
	StatePopping: {
		// A replica that took over a pop whose owner died starts again from popping.
		TriggerPopStart:   StatePopping,
		TriggerPopOffered: StateOffered,
		TriggerPopActive:  StateActive,
		TriggerPopFailed:  StateFailed,
		TriggerRevoke:     StateRevoked,
		TriggerAbandon:    StateAbandoned,
	},
	StateOffered: {
		TriggerAccept:       StateActive,
		TriggerDecline:      StateRequeued,
		TriggerOfferTimeout: StateRequeued,
		TriggerRevoke:       StateRevoked,
		TriggerAbandon:      StateAbandoned,
		TriggerChatEnded:    StateAbandoned, // customer left while the toast was up
		TriggerCRMRequeue:   StateRequeued,
	},
	StateActive: {
		TriggerChatEnded:   StateWrapUp,
		TriggerTransferred: StateWrapUp,
		TriggerComplete:    StateCompleted, // close without wrap-up
		TriggerCRMRequeue:  StateRequeued,
	},
	StateWrapUp: {
		TriggerComplete: StateCompleted,
	},
	StateFailed: {
		TriggerComplete: StateCompleted,
	},
	StateAbandoned: {
		TriggerComplete: StateCompleted,
	},
	StateCompleted: {},
	StateRequeued:  {},
	StateRevoked:   {},
}

// ErrIllegalTransition is returned for a trigger the current state does not accept. The
// service absorbs it (records it on the timeline) instead of applying it.
var ErrIllegalTransition = errors.New("illegal transition")

// Next returns the state trigger t leads to from s.
func Next(s State, t Trigger) (State, error) {
	to, ok := transitions[s][t]
	if !ok {
		return s, fmt.Errorf("%s on %s: %w", t, s, ErrIllegalTransition)
	}
	return to, nil
}
