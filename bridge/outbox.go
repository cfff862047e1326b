package bridge

import (
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
	payload, _ := json.Marshal(DeadLetter{Call: call, Error: cause.Error(), At: s.clock.Now()})
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
