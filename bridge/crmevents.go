package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// RunCRMEvents runs the site's CRM event consumer until ctx ends. One replica at a time
// consumes a site: it holds a named lock, renewed while it works; the others stand by and take
// over within the lock's TTL when the holder dies. The sequence reached is stored with the
// lock (fenced), so a takeover or a restart continues where the last holder stopped instead
// of replaying the CRM's retained events. Events still go through the state machine, so the
// few a takeover may see twice are absorbed.
func (s *Service) RunCRMEvents(ctx context.Context, site string) error {
	name := "crm-events/" + site
	s.runSingleton(ctx, name, s.opts.ConsumerLockTTL, func(ctx context.Context, fence int64) {
		s.consumeCRMEvents(ctx, site, name, fence)
	})
	return nil
}

// cursorEvery: how often the CRM event consumer stores its cursor while events flow.
const cursorEvery = 100 * time.Millisecond

// pollLinger: after a poll that brought events, the consumer waits this long before the
// next, so that events arriving together are read together. Under load a poll per event was
// an HTTP exchange per pop on both ends, made just as the pop's own last writes were in
// flight; a few milliseconds are nothing to an agent's accept or a customer's goodbye.
const pollLinger = 5 * time.Millisecond

// consumeCRMEvents polls and applies events while this replica holds the lock.
func (s *Service) consumeCRMEvents(ctx context.Context, site, name string, fence int64) {
	after, err := s.store.Cursor(ctx, name)
	if err != nil {
		s.log.Warn("read CRM event cursor", "site", site, "err", err)
		return
	}
	backoff := 200 * time.Millisecond
	failures := 0 // consecutive failures to apply the event after the cursor
	// The cursor is stored at most every cursorEvery while events flow, and always when
	// this holder stops: under load a write per poll was a Redis round trip per pop. A
	// holder that dies replays to the next at most that much, which the state machine
	// absorbs (a repeated event is an illegal transition, recorded and ignored).
	stored, lastStore := after, time.Now()
	// storeCursor writes after if it moved since the last write. false: this holder must
	// stop, fenced (another replica consumes now) or with the store failing (whoever holds
	// the lock next resumes from the stored cursor).
	storeCursor := func(ctx context.Context) bool {
		if after == stored {
			return true
		}
		if err := s.store.SetCursor(ctx, name, fence, after); err != nil {
			if errors.Is(err, ErrFenced) {
				stored = after // not ours to store any more
			} else {
				s.log.Warn("store CRM event cursor", "site", site, "err", err)
			}
			return false
		}
		stored, lastStore = after, time.Now()
		return true
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		storeCursor(sctx)
	}()
	for ctx.Err() == nil {
		events, err := s.crm.PollEvents(ctx, site, after)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("CRM event poll failed", "site", site, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 200 * time.Millisecond
		if len(events) == 0 {
			if !storeCursor(ctx) { // the flow paused: store where it stopped
				return
			}
			continue
		}
		retry := false
		for _, ev := range events {
			if err := s.HandleCRMEvent(ctx, site, ev); err != nil {
				if ctx.Err() != nil {
					return // not applied: the next holder reads it again from the stored cursor
				}
				failures++
				if failures < maxEventAttempts {
					// Most likely the store is failing: keep the cursor before this event and
					// read it again after a pause, rather than lose it.
					s.log.Warn("apply CRM event; will retry", "site", site, "seq", ev.Seq, "type", ev.Type, "chat_id", ev.ChatID, "attempt", failures, "err", err)
					retry = true
					break
				}
				// A poison event must not stop every agent's status: skip it, loudly; the
				// reconciler settles its leg from the CRM's state.
				s.log.Error("apply CRM event failed; skipped", "site", site, "seq", ev.Seq, "type", ev.Type, "chat_id", ev.ChatID, "attempts", failures, "err", err)
			}
			failures = 0
			after = max(after, ev.Seq)
		}
		if (retry || time.Since(lastStore) >= cursorEvery) && !storeCursor(ctx) {
			return
		}
		pause := pollLinger
		if retry {
			pause = min(time.Duration(1<<failures)*100*time.Millisecond, 5*time.Second)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// maxEventAttempts is how many times one CRM event is applied before it is skipped.
const maxEventAttempts = 5

// HandleCRMEvent applies one CRM event to the leg of its chat.
func (s *Service) HandleCRMEvent(ctx context.Context, site string, ev CRMEvent) error {
	if ev.ChatID == "" {
		return s.agentEvent(ctx, site, ev)
	}
	// What the event does to its leg, decided before the leg is looked up (two round trips),
	// which an event that changes no leg (the offer itself: the pop already knows) skips.
	var apply func(*Interaction) error
	switch ev.Type {
	case CRMEngagementAccepted:
		apply = func(leg *Interaction) error { _, err := s.accept(ctx, leg); return err }
	case CRMEngagementDeclined:
		apply = func(leg *Interaction) error {
			return s.requeueFromCRM(ctx, leg, TriggerDecline, bridgeerr.AgentDeclined, "declined")
		}
	case CRMEngagementTimeout:
		apply = func(leg *Interaction) error {
			return s.requeueFromCRM(ctx, leg, TriggerOfferTimeout, bridgeerr.OfferTimeout, "offer_timeout")
		}
	case CRMEngagementRequeued:
		apply = func(leg *Interaction) error {
			return s.requeueFromCRM(ctx, leg, TriggerCRMRequeue, requeueCause(ev.Cause), "")
		}
	case CRMEngagementConcluded:
		apply = func(leg *Interaction) error { return s.concluded(ctx, leg, ev.EndReason) }
	default:
		return nil
	}
	leg, err := s.chatLegOf(ctx, site, ev.ChatID, ev.AgentAccountID)
	if errors.Is(err, ErrNotFound) {
		return nil // a chat the bridge never popped, or an agent it never popped it to
	}
	if err != nil {
		return err
	}
	return apply(leg)
}

// chatLegOf finds the leg a CRM chat event is about: the chat's newest leg, or, when the
// event names another agent (a conference guest, the agent who transferred it, an earlier
// leg), that agent's newest leg of the same interaction.
func (s *Service) chatLegOf(ctx context.Context, site, chatID, accountID string) (*Interaction, error) {
	leg, err := s.store.ChatLeg(ctx, site, chatID)
	if err != nil || accountID == "" || leg.CRMAccountID == "" || leg.CRMAccountID == accountID {
		return leg, err
	}
	legs, err := s.store.InteractionLegs(ctx, leg.InteractionID)
	if err != nil {
		return nil, err
	}
	for _, l := range slices.Backward(legs) {
		if l.CRMAccountID == accountID && l.ChatID == chatID {
			return l, nil
		}
	}
	return nil, ErrNotFound
}

// accept moves an offered leg to active. The ACD's accept call (it stops the alerting timer)
// goes into the outbox first, and only while the leg can still be accepted: a failed state
// write is retried by the caller and the idempotency key makes the repeat harmless, while a
// replay of an accept already stored adds nothing. A transfer then takes the transferring
// agent out of the chat, also on a replay, since a first try may have stopped short of it.
func (s *Service) accept(ctx context.Context, leg *Interaction) (*Interaction, error) {
	if _, err := Next(leg.State, TriggerAccept); err == nil {
		if err := s.enqueueACD(ctx, acceptCall(leg)); err != nil {
			return nil, err
		}
	}
	in, _, err := s.transition(ctx, leg.Key(), TriggerAccept, 0, nil)
	if err == nil && in.State == StateActive && in.RouteType == RouteTransfer {
		err = s.transferredAway(ctx, in)
	}
	return in, err
}

// transferredAway moves the transferring agent's leg to wrap-up once the target accepted.
// That leg is the one the ACD named (fromRoutingId), else the interaction's newest active
// leg of another agent.
func (s *Service) transferredAway(ctx context.Context, target *Interaction) error {
	legs, err := s.store.InteractionLegs(ctx, target.InteractionID)
	if err != nil {
		return err
	}
	var from *Interaction
	for _, l := range slices.Backward(legs) {
		if target.FromRoutingID != "" && l.RoutingID == target.FromRoutingID ||
			target.FromRoutingID == "" && l.AgentID != target.AgentID && l.State == StateActive {
			from = l
			break
		}
	}
	if from == nil {
		s.timeline(ctx, target, TimelineDecision, "transfer accepted; no leg of the transferring agent to close", "", 0)
		return nil
	}
	_, _, err = s.transition(ctx, from.Key(), TriggerTransferred, 0, func(l *Interaction) {
		l.Code = string(bridgeerr.Transferred)
		l.Message = s.render(l, s.lookup(l, bridgeerr.Transferred), "")
		d := legDescriptor(l.RouteType, s.lookup(l, bridgeerr.Transferred).Descriptor)
		l.Descriptor = &d
	})
	return err
}

// requeueCause is the catalog code for the cause of a CRM-side requeue: a result code
// (AGENT_DISCONNECTED) stays verbatim; a logout, which is no result code, has its own row.
func requeueCause(cause string) bridgeerr.Code {
	if cause == "AGENT_LOGGED_OFF" {
		return bridgeerr.LoggedOffRequeued
	}
	return bridgeerr.Code(cause)
}

// requeueFromCRM ends an offered (or, for a CRM requeue, active) leg and gives the chat back
// to the ACD.
func (s *Service) requeueFromCRM(ctx context.Context, leg *Interaction, t Trigger, code bridgeerr.Code, notReadyReason string) error {
	if _, err := Next(leg.State, t); err != nil {
		_, _, err := s.transition(ctx, leg.Key(), t, 0, nil) // absorbed and recorded
		return err
	}
	key := leg.Key()
	call, err := s.requeueCallFor(ctx, leg, string(code))
	if err != nil {
		return err
	}
	if err := s.enqueueACD(ctx, call); err != nil {
		return err
	}
	if notReadyReason != "" && s.opts.DeclineNotReady {
		if err := s.enqueueACD(ctx, agentStateCall(leg.AgentID, false, "notready:"+key.String(), notReadyReason)); err != nil {
			return err
		}
	}
	_, applied, err := s.transition(ctx, key, t, 0, func(l *Interaction) {
		l.Code = string(code)
		l.Message = s.render(l, s.lookup(l, code), "")
		l.Requeued = true
		l.Descriptor = redirected(l.RouteType)
	})
	if applied {
		s.obs.Requeued(string(code), call.TargetQueueID != "")
	}
	return err
}

// customerEndReasons are the verbatim CRM end reasons that mean the customer left.
var customerEndReasons = map[string]bool{
	"END_USER_CONCLUDED": true, "ENDED_USER_CANCEL": true, "ENDED_USER_DEFLECTED": true, "PARTICIPANT_LEFT": true,
}

func (s *Service) concluded(ctx context.Context, leg *Interaction, endReason string) error {
	key := leg.Key()
	if leg.State == StateActive {
		_, _, err := s.transition(ctx, key, TriggerChatEnded, 0, func(l *Interaction) {
			l.Code = endReason
		})
		return err
	}
	code := bridgeerr.CustomerAbandoned
	stage := "alerting"
	if endReason == "QUEUE_TIMEOUT" {
		code = bridgeerr.QueueTimeout
	}
	if leg.State == StateRouted || leg.State == StatePopping {
		stage = "routing"
	}
	entry := s.lookup(leg, code)
	trigger := TriggerAbandon
	if leg.State == StateOffered {
		trigger = TriggerChatEnded
	}
	_, _, err := s.transition(ctx, key, trigger, 0, func(l *Interaction) {
		l.Code = string(code)
		l.AbandonStage = stage
		l.Message = s.render(l, entry, "") + fmt.Sprintf(" (CRM end reason %s)", endReason)
		d := abandonDescriptor(l.RouteType, stage)
		if code == bridgeerr.QueueTimeout {
			d = entry.Descriptor
		}
		l.Descriptor = &d
	})
	return err
}
