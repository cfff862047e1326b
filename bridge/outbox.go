package bridge

import (
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrNotReplayable: a dead letter that cannot be decoded into a call.
var ErrNotReplayable = errors.New("dead letter is not replayable")

// QueueACDDeadLetter holds ACD calls that can never succeed (rejected) or kept failing past
// DeadLetterAfter. Nothing consumes it automatically: operators inspect and replay it.
const QueueACDDeadLetter = "acd-dead-letter"

// DeadLetter is one dead-lettered ACD call.
type DeadLetter struct {
	// ID identifies it in the dead-letter queue (set when listed).
	ID    string  `json:"id,omitempty"`
	Call  ACDCall `json:"call"`
	Error string  `json:"error"`
	// At is when it was dead-lettered.
	At time.Time `json:"at"`
}

// DeadLetters lists up to limit dead-lettered ACD calls after the id after ("" from the
// oldest), oldest first.
func (s *Service) DeadLetters(ctx context.Context, after string, limit int) ([]DeadLetter, error) {
	items, err := s.work.Items(ctx, QueueACDDeadLetter, after, limit)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	out := make([]DeadLetter, 0, len(items))
	for _, it := range items {
		var d DeadLetter
		if err := json.Unmarshal(it.Payload, &d); err != nil {
			d.Error = "unreadable dead letter: " + err.Error()
		}
		d.ID = it.ID
		out = append(out, d)
	}
	return out, nil
}

// ReplayDeadLetter puts a dead-lettered call back in the outbox (its dead-letter horizon
// starts again) and then removes it from the dead letters. In that order, so a crash in
// between leaves a call listed twice rather than lost; its idempotency key makes the ACD
// apply it once however often it is replayed. ErrNotFound when there is no such dead letter.
func (s *Service) ReplayDeadLetter(ctx context.Context, id string) (ACDCall, error) {
	it, err := s.work.Item(ctx, QueueACDDeadLetter, id)
	if errors.Is(err, ErrNotFound) {
		return ACDCall{}, err
	}
	if err != nil {
		return ACDCall{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	var d DeadLetter
	if err := json.Unmarshal(it.Payload, &d); err != nil || d.Call.Kind == "" {
		return ACDCall{}, fmt.Errorf("dead letter %s cannot be read (%v): %w", id, err, ErrNotReplayable)
	}
	if err := s.enqueueACD(ctx, d.Call); err != nil {
		return ACDCall{}, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	if err := s.work.Remove(ctx, QueueACDDeadLetter, id); err != nil {
		s.log.Warn("replayed dead letter not removed; it may be listed again", "id", id, "err", err)
	}
	s.log.Info("dead letter replayed", "id", id, "kind", d.Call.Kind, "idempotency_key", d.Call.IdempotencyKey)
	if d.Call.InteractionID != "" {
		in := &Interaction{InteractionID: d.Call.InteractionID, RoutingID: d.Call.RoutingID}
		s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("%s replayed from the dead letters by an operator", d.Call.Kind), "", 0)
	}
	return d.Call, nil
}

// RunOutbox makes the ACD calls in the durable outbox until ctx ends. A call the ACD cannot
// take now stays in the outbox and is retried (by any replica) after the work queue's
// reclaim interval; the idempotency key makes a repeat harmless.
func (s *Service) RunOutbox(ctx context.Context, consumer string) error {
	return s.work.Consume(ctx, QueueACDOutbox, consumer, func(ctx context.Context, item WorkItem) error {
		var call ACDCall
		if err := json.Unmarshal(item.Payload, &call); err != nil || call.Kind == "" {
			s.log.Error("drop unreadable outbox item", "item_id", item.ID, "err", err)
			return nil
		}
		return s.sendACD(ctx, call, item.Deliveries)
	})
}

func (s *Service) sendACD(ctx context.Context, call ACDCall, deliveries int64) error {
	if !call.NotBefore.IsZero() && s.clock.Now().Before(call.NotBefore) {
		return errHeld // left in the outbox: the work queue hands it out again later
	}
	start := s.clock.Now()
	err := s.acd.Send(ctx, call)
	latency := s.clock.Now().Sub(start)
	s.obs.ACDCallFinished(call.Kind, err)
	in := &Interaction{InteractionID: call.InteractionID, RoutingID: call.RoutingID}
	attrs := []any{"kind", call.Kind, "interaction_id", call.InteractionID, "agent_id", call.AgentID, "idempotency_key", call.IdempotencyKey, "deliveries", deliveries}
	switch {
	case err == nil:
		if call.InteractionID != "" {
			s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("%s acknowledged by the ACD (reason %s, disposition %q)", call.Kind, call.Reason, call.Disposition), call.Reason, latency)
		}
		return nil
	case ctx.Err() != nil:
		return err // shutting down: another replica makes the call
	case errors.Is(err, ErrRejected) && call.Kind == ACDRoute:
		// The ACD refused the transfer (target busy, not ready, unknown): replaying it later
		// cannot help, the agent can. The agent keeps the chat and is told why.
		s.log.Info("ACD refused a transfer request", append(attrs, "err", err)...)
		s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("%s to %s refused by the ACD: %v", call.RouteType, routeTarget(call), err), "", latency)
		s.publish(ctx, Event{Type: EventTransferFailed, AgentID: call.AgentID,
			Message: fmt.Sprintf("The %s to %s did not happen: %v. You still have the chat.", call.RouteType, routeTarget(call), err)})
		return nil
	case errors.Is(err, ErrRejected) && call.Kind == ACDAccept:
		// The offer ended at the ACD before the accept reached it (revoked, abandoned): its
		// own webhook tells the bridge; there is nothing to replay.
		s.log.Info("ACD refused an accept: the offer is over there", append(attrs, "err", err)...)
		s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("accept refused by the ACD: %v", err), "", latency)
		return nil
	case errors.Is(err, ErrRejected):
		s.log.Error("ACD rejected a call; dead-lettered", append(attrs, "err", err)...)
		return s.deadLetter(ctx, in, call, err)
	case s.clock.Now().Sub(call.CreatedAt) > s.opts.DeadLetterAfter:
		s.log.Error("ACD call still failing after the dead-letter horizon; dead-lettered", append(attrs, "err", err)...)
		return s.deadLetter(ctx, in, call, err)
	default:
		s.log.Warn("ACD call failed; will retry", append(attrs, "err", err)...)
		return err
	}
}

func (s *Service) deadLetter(ctx context.Context, in *Interaction, call ACDCall, cause error) error {
	payload, _ := json.Marshal(DeadLetter{Call: call, Error: cause.Error(), At: s.clock.Now()})
	if err := s.work.Enqueue(ctx, QueueACDDeadLetter, payload); err != nil {
		return fmt.Errorf("dead-letter %s: %w", call.IdempotencyKey, err) // keep it in the outbox
	}
	s.obs.DeadLettered(call.Kind)
	if call.InteractionID != "" {
		s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("%s dead-lettered: %v", call.Kind, cause), "", 0)
	}
	return nil
}

// errHeld: an outbox call whose NotBefore has not come yet (not a failure: nothing was sent).
var errHeld = errors.New("held in the outbox until its not-before time")

// bounceHold is how long the requeue of an interaction bouncing past its budget, with no
// escalation queue, is held: 1 s for the first requeue past the budget, doubling, at most
// maxBounceHold. It keeps a chat that no agent can take (the CRM is unreachable, every
// agent declines) from looping between the ACD and the bridge tens of times a second.
func bounceHold(over int) time.Duration {
	if over < 1 {
		over = 1
	}
	return min(time.Second<<min(over-1, 10), maxBounceHold)
}

const maxBounceHold = 30 * time.Second

// requeueCall gives a leg's chat back to the ACD. One key per leg: however many paths decide
// to requeue it (pop result, decline, timeout, CRM requeue), the ACD applies it once.
func requeueCall(l *Interaction, reason string) ACDCall {
	return ACDCall{Kind: ACDRequeue, IdempotencyKey: "requeue:" + l.Key().String(),
		InteractionID: l.InteractionID, RoutingID: l.RoutingID, AgentID: l.AgentID, Reason: reason}
}

// requeueCallFor is the requeue of a leg, sent to the queue's escalation queue when the
// interaction is bouncing: its requeue budget is spent, or the agent of this leg turned it
// down before (declined or let the offer time out) and does so again. A second leg's requeue
// only ends that leg at the ACD (the first agent keeps the chat), so it never escalates.
func (s *Service) requeueCallFor(ctx context.Context, leg *Interaction, reason string) (ACDCall, error) {
	call := requeueCall(leg, reason)
	if leg.RouteType != RouteLead && leg.RouteType != "" {
		return call, nil
	}
	why, over, err := s.bouncing(ctx, leg, reason)
	if err != nil || why == "" {
		return call, err
	}
	target := s.opts.Sites[leg.Site].Queues[leg.QueueID].EscalationQueue
	attrs := []any{"interaction_id", leg.InteractionID, "routing_id", leg.RoutingID, "queue_id", leg.QueueID, "why", why}
	if target == "" || target == leg.QueueID {
		hold := bounceHold(over)
		call.NotBefore = s.clock.Now().Add(hold)
		s.log.Error("interaction keeps bouncing and its queue has no escalation queue; requeued to the same queue after a hold", append(attrs, "hold", hold)...)
		s.timeline(ctx, leg, TimelineDecision, fmt.Sprintf("no escalation queue: requeued to its own queue, held %s, although %s", hold, why), string(bridgeerr.RequeueEscalated), 0)
		return call, nil
	}
	call.TargetQueueID = target
	s.log.Error("interaction escalated", append(attrs, "escalation_queue", target)...)
	s.timeline(ctx, leg, TimelineDecision, fmt.Sprintf("requeue escalated to queue %s: %s", target, why), string(bridgeerr.RequeueEscalated), 0)
	return call, nil
}

// bouncing says why a requeue of leg should escalate, or "" when it should not, and how many
// requeues past the budget this one is (at least 1 when it escalates).
func (s *Service) bouncing(ctx context.Context, leg *Interaction, reason string) (string, int, error) {
	legs, err := s.store.InteractionLegs(ctx, leg.InteractionID)
	if err != nil {
		return "", 0, fmt.Errorf("count requeues of %s: %w", leg.InteractionID, err)
	}
	requeues := 1 // this one
	for _, l := range legs {
		if l.RoutingID == leg.RoutingID || !l.Requeued || (l.RouteType != RouteLead && l.RouteType != "") {
			continue
		}
		requeues++
		if l.AgentID == leg.AgentID && turnedDown(l.Code) && turnedDown(reason) {
			return fmt.Sprintf("agent %s turned it down again (%s, then %s)", leg.AgentID, l.Code, reason), max(1, requeues-s.opts.RequeueBudget+1), nil
		}
	}
	if requeues >= s.opts.RequeueBudget {
		return fmt.Sprintf("requeue %d reaches the budget of %d", requeues, s.opts.RequeueBudget), requeues - s.opts.RequeueBudget + 1, nil
	}
	return "", 0, nil
}

// turnedDown reports whether a leg's code means its agent did not take the offer.
func turnedDown(code string) bool {
	return code == string(bridgeerr.AgentDeclined) || code == string(bridgeerr.OfferTimeout)
}

// routeTarget names a route call's target for people.
func routeTarget(call ACDCall) string {
	if call.TargetQueueID != "" {
		return "queue " + call.TargetQueueID
	}
	return "agent " + call.TargetAgentID
}

// acceptCall tells the ACD the agent took the offer.
func acceptCall(l *Interaction) ACDCall {
	return ACDCall{Kind: ACDAccept, IdempotencyKey: "accept:" + l.Key().String(),
		InteractionID: l.InteractionID, RoutingID: l.RoutingID, AgentID: l.AgentID}
}

// agentStateCall sets the agent ready or not ready; key names the decision it comes from.
func agentStateCall(agentID string, ready bool, key, reason string) ACDCall {
	return ACDCall{Kind: ACDAgentState, IdempotencyKey: key, AgentID: agentID, Ready: ready, Reason: reason}
}
