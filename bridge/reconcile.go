package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// The reconciler is the safety net under the event-driven flows: it finds legs that have sat
// in a non-terminal state past their deadline (a pop whose work item was lost, an offer whose
// CRM answer never arrived, a chat whose end was missed, a wrap-up left open) and resolves
// them from the CRM's own state. One replica runs it at a time. Everything it does goes
// through the same transitions as the live flows, so racing a late event is harmless.

// reconcileBatch is how many due legs one pass looks at.
const reconcileBatch = 200

// RunReconciler runs reconciliation passes every ReconcileEvery until ctx ends, on one
// replica at a time.
func (s *Service) RunReconciler(ctx context.Context) error {
	s.runSingleton(ctx, "reconciler", s.opts.ConsumerLockTTL, func(ctx context.Context, _ int64) {
		t := time.NewTicker(s.opts.ReconcileEvery)
		defer t.Stop()
		for {
			if _, err := s.ReconcileOnce(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reconciliation pass failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return nil
}

// minReconcileAge is the youngest a leg can be and still be due: the smallest deadline.
func (s *Service) minReconcileAge() time.Duration {
	return min(s.opts.StuckAfter, s.opts.OfferDeadline)
}

// deferLeg makes the leg due again at at.
func (s *Service) deferLeg(ctx context.Context, l *Interaction, at time.Time) {
	if err := s.store.DeferLeg(ctx, l.Key(), at.Add(-s.minReconcileAge())); err != nil {
		s.log.Warn("reconciler could not defer a leg", "interaction_id", l.InteractionID, "routing_id", l.RoutingID, "err", err)
	}
}

// ReconcileOnce looks at the legs now due and resolves those past their deadline; it
// returns how many it acted on.
func (s *Service) ReconcileOnce(ctx context.Context) (int, error) {
	now := s.clock.Now()
	legs, err := s.store.OpenLegs(ctx, now.Add(-s.minReconcileAge()), reconcileBatch)
	if err != nil {
		return 0, err
	}
	acted := 0
	var errs []error
	for _, l := range legs {
		did, err := s.reconcileLeg(ctx, l, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("leg %s: %w", l.Key(), err))
			s.deferLeg(ctx, l, now.Add(s.opts.ReconcileEvery)) // try again next pass
			continue
		}
		if did {
			acted++
			s.obs.Reconciled(l.State)
		}
	}
	return acted, errors.Join(errs...)
}

// reconcileLeg resolves one leg if it is past its state's deadline, else defers it to then.
func (s *Service) reconcileLeg(ctx context.Context, l *Interaction, now time.Time) (bool, error) {
	age := now.Sub(l.UpdatedAt)
	switch l.State {
	case StateRouted, StatePopping:
		if age < s.opts.StuckAfter {
			s.deferLeg(ctx, l, l.UpdatedAt.Add(s.opts.StuckAfter))
			return false, nil
		}
		// The pop's work item is gone (or its replica with it): queue it again. Pop takes the
		// lease, replays the same transaction id, and a surplus item is a no-op.
		if err := s.queuePop(ctx, l.Key()); err != nil {
			return false, err
		}
		s.timeline(ctx, l, TimelineDecision, fmt.Sprintf("reconciler: pop stuck in %s for %s, queued again", l.State, age.Round(time.Second)), "", 0)
		s.deferLeg(ctx, l, now.Add(s.opts.StuckAfter))
		return true, nil

	case StateOffered:
		if age < s.opts.OfferDeadline {
			s.deferLeg(ctx, l, l.UpdatedAt.Add(s.opts.OfferDeadline))
			return false, nil
		}
		return s.reconcileWithCRM(ctx, l, now)

	case StateActive:
		if age < s.opts.ActiveCheckEvery {
			s.deferLeg(ctx, l, l.UpdatedAt.Add(s.opts.ActiveCheckEvery))
			return false, nil
		}
		return s.reconcileWithCRM(ctx, l, now)

	case StateWrapUp, StateFailed, StateAbandoned:
		return s.reconcileWrapUp(ctx, l, now)
	}
	return false, nil
}

// reconcileWithCRM reads the chat in the CRM and brings an offered or active leg in line.
func (s *Service) reconcileWithCRM(ctx context.Context, l *Interaction, now time.Time) (bool, error) {
	e, err := s.crm.Engagement(ctx, l.Site, l.ChatID)
	if err != nil {
		return false, fmt.Errorf("read chat %s in the CRM: %w", l.ChatID, err)
	}
	// The agent's own view: the chat's state for its owner, the participant's state for a
	// conference or consult guest or a transfer target still deciding.
	p, in := e.Participant(l.CRMAccountID)
	state, mine := e.State, in || e.AgentAccountID == ""
	if in {
		state = p.State
	}
	s.timeline(ctx, l, TimelineCRMCall, fmt.Sprintf("reconciler: leg %s for %s; CRM says %s (agent %q)", l.State, now.Sub(l.UpdatedAt).Round(time.Second), e.State, e.AgentAccountID), e.Code, 0)
	switch {
	case e.Code == string(bridgeerr.ChatIDUnknown):
		// The CRM no longer knows the chat: nothing can come back to this leg.
		return true, s.concluded(ctx, l, e.Code)
	case e.Code != string(bridgeerr.Success):
		// Any other code (UNKNOWN_ERROR, a failed login, one no catalog knows) says nothing
		// about the chat: acting on it could end a chat that is still going. Try next pass.
		return false, fmt.Errorf("read chat %s in the CRM: result %q", l.ChatID, e.Code)
	case e.State == EngagementConcluded:
		return true, s.concluded(ctx, l, e.EndReason)
	case state == EngagementActive && mine && l.State == StateOffered:
		_, err := s.accept(ctx, l)
		return true, err
	case (state == EngagementOffered || state == EngagementActive) && mine:
		next := s.opts.OfferDeadline
		if l.State == StateActive {
			next = s.opts.ActiveCheckEvery
		}
		s.deferLeg(ctx, l, now.Add(next)) // as it should be; look again later
		return false, nil
	case l.State == StateOffered:
		// Waiting again, or with another agent: the offer ended and the event was missed.
		return true, s.requeueFromCRM(ctx, l, TriggerOfferTimeout, bridgeerr.OfferTimeout, "offer_timeout")
	default:
		return true, s.requeueFromCRM(ctx, l, TriggerCRMRequeue, bridgeerr.ReconciledRequeue, "")
	}
}

// reconcileWrapUp completes a leg left awaiting Complete past its queue's wrap-up timeout,
// with the queue's default disposition. Without a timeout the agent completes it, however
// long it takes.
func (s *Service) reconcileWrapUp(ctx context.Context, l *Interaction, now time.Time) (bool, error) {
	q, _ := s.Queue(l.Site, l.QueueID)
	if q.WrapUpTimeout <= 0 {
		s.deferLeg(ctx, l, now.Add(time.Hour))
		return false, nil
	}
	if due := l.UpdatedAt.Add(q.WrapUpTimeout); now.Before(due) {
		s.deferLeg(ctx, l, due)
		return false, nil
	}
	disposition := ""
	if l.State == StateWrapUp {
		disposition = q.DefaultDisposition
	}
	// This leg, not the agent's newest one in the interaction (Complete's lookup): an agent
	// may hold several legs of one interaction (requeued back to them).
	err := completable(l, q, disposition)
	if err == nil {
		_, err = s.complete(ctx, l, disposition)
	}
	if err != nil {
		if errors.Is(err, ErrDispositionRequired) {
			s.log.Warn("wrap-up timeout cannot complete: the queue requires a disposition and has no default",
				"site", l.Site, "queue_id", l.QueueID, "interaction_id", l.InteractionID)
			s.deferLeg(ctx, l, now.Add(time.Hour))
			return false, nil
		}
		return false, err
	}
	s.timeline(ctx, l, TimelineDecision, fmt.Sprintf("wrap-up timeout (%s): completed with disposition %q", q.WrapUpTimeout, disposition), "", 0)
	return true, nil
}
