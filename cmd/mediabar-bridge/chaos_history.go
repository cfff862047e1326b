package main

import (
	"sync"
	"time"
)

// The chaos run's history, Jepsen style: every operation a client process of the run makes
// (customers, agents, the webhook relay, the nemesis) is recorded when it is invoked and
// again when it completes: ok, fail (it certainly did not happen) or info (indeterminate:
// it may or may not have happened, e.g. a timeout). Observations (what an agent's media bar
// showed) are recorded as ok reads. The checker reads the history after the run, together
// with what the mocks, the bridge's exports and Redis hold at the end.

// opType is the phase of an operation in the history.
type opType string

const (
	opInvoke opType = "invoke"
	opOK     opType = "ok"
	opFail   opType = "fail"
	opInfo   opType = "info" // indeterminate
)

// Operation names (chaosOp.F).
const (
	fCreateChat = "create-chat"  // customer starts a chat in the CRM
	fAbandon    = "abandon"      // customer leaves
	fObserve    = "observe"      // an agent's media bar shows a leg in a state (Value)
	fAccept     = "accept"       // agent clicks Accept
	fConclude   = "conclude"     // agent ends the chat in the CRM console
	fComplete   = "complete"     // agent clicks Complete
	fLogin      = "login"        // agent logs in to CRM chat and the media bar
	fWebhook    = "webhook"      // the relay delivers an ACD webhook to a replica
	fFault      = "fault"        // the nemesis starts (invoke) and heals (ok) a fault (Value: kind)
	fSetReady   = "acd-ready"    // the agent makes itself ready in the ACD desktop
	fHeartbeat  = "presence-off" // the agent's CRM console stops polling (nemesis)
)

// chaosOp is one entry of the history.
type chaosOp struct {
	Index         int       `json:"index"`
	Time          time.Time `json:"time"`
	Process       string    `json:"process"`
	Type          opType    `json:"type"`
	F             string    `json:"f"`
	InteractionID string    `json:"interaction_id,omitempty"`
	RoutingID     string    `json:"routing_id,omitempty"`
	ChatID        string    `json:"chat_id,omitempty"`
	Agent         string    `json:"agent,omitempty"`
	Value         string    `json:"value,omitempty"`
}

// history is the append-only record of a run, safe for concurrent use.
type history struct {
	mu  sync.Mutex
	ops []chaosOp
}

// add appends op (stamping its index and, when unset, its time) and returns the stamped op.
func (h *history) add(op chaosOp) chaosOp {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.Index = len(h.ops)
	if op.Time.IsZero() {
		op.Time = time.Now()
	}
	h.ops = append(h.ops, op)
	return op
}

// invoke records the start of an operation; call ok, fail or info on the result once.
func (h *history) invoke(op chaosOp) *pendingOp {
	op.Type = opInvoke
	return &pendingOp{h: h, op: h.add(op)}
}

// snapshot returns a copy of the history so far.
func (h *history) snapshot() []chaosOp {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]chaosOp(nil), h.ops...)
}

// pendingOp is an invoked operation waiting for its completion.
type pendingOp struct {
	h  *history
	op chaosOp
}

func (p *pendingOp) complete(t opType, value string) {
	op := p.op
	op.Type, op.Value, op.Time = t, value, time.Time{}
	p.h.add(op)
}

func (p *pendingOp) ok(value string)   { p.complete(opOK, value) }
func (p *pendingOp) fail(value string) { p.complete(opFail, value) }
func (p *pendingOp) info(value string) { p.complete(opInfo, value) }

// end completes the operation from an error: nil is ok; a definite refusal (an HTTP 4xx
// answer) is fail; anything else (timeouts, resets, 5xx) is indeterminate.
func (p *pendingOp) end(err error, value string) {
	switch {
	case err == nil:
		p.ok(value)
	case isDefiniteFailure(err):
		p.fail(err.Error())
	default:
		p.info(err.Error())
	}
}

// isDefiniteFailure: the server answered and refused, so nothing happened.
func isDefiniteFailure(err error) bool {
	if e, ok := err.(*apiStatusError); ok {
		return e.Status >= 400 && e.Status < 500
	}
	return false
}
