package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Transfer, conference and consult: the agent asks, the bridge asks the ACD (a durable route
// call), and the ACD routes the chat to the second agent as interaction.routed with that
// route type. The second leg is popped like any other, into a chat the CRM already has
// active. If it fails, only that leg ends: the first agent keeps the chat. When a transfer
// target accepts, the first agent's leg goes to wrap-up (FLOW_TRANSFERRED).

// TransferRequest is what the agent asks for: a route type other than lead, and exactly one
// target, an agent or a queue.
type TransferRequest struct {
	RouteType     RouteType
	TargetAgentID string
	TargetQueueID string
}

// ErrNotTransferable: the leg is not active (only a chat the agent has can be handed on).
var ErrNotTransferable = errors.New("only an active chat can be transferred, conferenced or consulted")

// RequestError is a request the service refuses as such: Field names what is wrong.
type RequestError struct {
	Field  string
	Reason string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Reason }

// Check validates the request on its own, before any state is read.
func (r TransferRequest) Check(agentID string) error {
	switch r.RouteType {
	case RouteTransfer, RouteConference, RouteConsult:
	default:
		return &RequestError{Field: "type", Reason: fmt.Sprintf("%q is not one of transfer, conference, consult", r.RouteType)}
	}
	switch {
	case (r.TargetAgentID == "") == (r.TargetQueueID == ""):
		return &RequestError{Field: "targetAgentId", Reason: "give exactly one of targetAgentId and targetQueueId"}
	case r.TargetAgentID == agentID:
		return &RequestError{Field: "targetAgentId", Reason: "the target is you"}
	case r.TargetQueueID != "" && r.RouteType == RouteConsult:
		return &RequestError{Field: "targetQueueId", Reason: "a consult is with an agent, not a queue"}
	}
	for _, f := range []struct{ name, v string }{{"targetAgentId", r.TargetAgentID}, {"targetQueueId", r.TargetQueueID}} {
		if len(f.v) > 128 {
			return &RequestError{Field: f.name, Reason: "longer than 128 bytes"}
		}
		for _, c := range f.v {
			if c < 0x20 || c == 0x7f {
				return &RequestError{Field: f.name, Reason: "contains control characters"}
			}
		}
	}
	return nil
}

// Transfer asks the ACD to route the agent's active chat to another agent or a queue as a
// transfer, conference or consult. The call goes through the outbox, so an ACD outage
// delays it but does not lose it.
func (s *Service) Transfer(ctx context.Context, agentID, interactionID string, r TransferRequest) (*Interaction, error) {
	if err := r.Check(agentID); err != nil {
		return nil, err
	}
	leg, err := s.AgentLeg(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	if leg.State != StateActive {
		return nil, fmt.Errorf("%w (state %s)", ErrNotTransferable, leg.State)
	}
	legs, err := s.store.InteractionLegs(ctx, interactionID)
	if err != nil {
		return nil, storeErr(err)
	}
	target := "agent " + r.TargetAgentID
	if r.TargetQueueID != "" {
		target = "queue " + r.TargetQueueID
	}
	// The key repeats for a double click (same legs, same target) so the ACD routes once, and
	// changes once the first attempt produced a leg (a declined target may be asked again).
	key := "route:" + leg.Key().String() + ":" + strconv.Itoa(len(legs)) + ":" + string(r.RouteType) + ":" + target
	if err := s.enqueueACD(ctx, ACDCall{Kind: ACDRoute, IdempotencyKey: key, InteractionID: leg.InteractionID,
		RoutingID: leg.RoutingID, AgentID: agentID, RouteType: r.RouteType,
		TargetAgentID: r.TargetAgentID, TargetQueueID: r.TargetQueueID}); err != nil {
		return nil, errors.Join(ErrStoreUnavailable, err)
	}
	s.timeline(ctx, leg, TimelineDecision, fmt.Sprintf("agent %s asked for a %s to %s", agentID, r.RouteType, target), "", 0)
	return leg, nil
}
