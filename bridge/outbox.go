package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// QueueACDDeadLetter holds ACD calls that can never succeed (rejected) or kept failing past
// DeadLetterAfter. Nothing consumes it automatically: operators inspect and replay it.
const QueueACDDeadLetter = "acd-dead-letter"

// DeadLetter is one dead-lettered ACD call.
type DeadLetter struct {
	Call  ACDCall `json:"call"`
	Error string  `json:"error"`
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
	payload, _ := json.Marshal(DeadLetter{Call: call, Error: cause.Error()})
	if err := s.work.Enqueue(ctx, QueueACDDeadLetter, payload); err != nil {
		return fmt.Errorf("dead-letter %s: %w", call.IdempotencyKey, err) // keep it in the outbox
	}
	if call.InteractionID != "" {
		s.timeline(ctx, in, TimelineACDCall, fmt.Sprintf("%s dead-lettered: %v", call.Kind, cause), "", 0)
	}
	return nil
}

// requeueCall gives a leg's chat back to the ACD. One key per leg: however many paths decide
// to requeue it (pop result, decline, timeout, CRM requeue), the ACD applies it once.
func requeueCall(l *Interaction, reason string) ACDCall {
	return ACDCall{Kind: ACDRequeue, IdempotencyKey: "requeue:" + l.Key().String(),
		InteractionID: l.InteractionID, RoutingID: l.RoutingID, AgentID: l.AgentID, Reason: reason}
}

// agentStateCall sets the agent ready or not ready; key names the decision it comes from.
func agentStateCall(agentID string, ready bool, key, reason string) ACDCall {
	return ACDCall{Kind: ACDAgentState, IdempotencyKey: key, AgentID: agentID, Ready: ready, Reason: reason}
}
