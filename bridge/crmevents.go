package bridge

import (
	"context"
	"errors"
	"fmt"
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

// consumeCRMEvents polls and applies events while this replica holds the lock.
func (s *Service) consumeCRMEvents(ctx context.Context, site, name string, fence int64) {
	after, err := s.store.Cursor(ctx, name)
	if err != nil {
		s.log.Warn("read CRM event cursor", "site", site, "err", err)
		return
	}
	backoff := 200 * time.Millisecond
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
			continue
		}
		for _, ev := range events {
			if err := s.HandleCRMEvent(ctx, site, ev); err != nil {
				s.log.Warn("apply CRM event", "site", site, "seq", ev.Seq, "type", ev.Type, "chat_id", ev.ChatID, "err", err)
			}
			after = max(after, ev.Seq)
		}
		if err := s.store.SetCursor(ctx, name, fence, after); err != nil {
			if !errors.Is(err, ErrFenced) {
				s.log.Warn("store CRM event cursor", "site", site, "err", err)
			}
			return // fenced: another replica is the consumer now
		}
	}
}

// HandleCRMEvent applies one CRM event to the leg of its chat.
func (s *Service) HandleCRMEvent(ctx context.Context, site string, ev CRMEvent) error {
	if ev.ChatID == "" {
		return s.agentEvent(ctx, site, ev)
	}
	leg, err := s.store.ChatLeg(ctx, site, ev.ChatID)
	if errors.Is(err, ErrNotFound) {
		return nil // a chat the bridge never popped
	}
	if err != nil {
		return err
	}
	if ev.AgentAccountID != "" && leg.CRMAccountID != "" && ev.AgentAccountID != leg.CRMAccountID {
		return nil // about an earlier leg of the chat, with another agent
	}
	key := leg.Key()
	switch ev.Type {
	case CRMEngagementAccepted:
		_, _, err = s.transition(ctx, key, TriggerAccept, 0, nil)
	case CRMEngagementDeclined:
		err = s.requeueFromCRM(ctx, leg, TriggerDecline, bridgeerr.AgentDeclined, "declined")
	case CRMEngagementTimeout:
		err = s.requeueFromCRM(ctx, leg, TriggerOfferTimeout, bridgeerr.OfferTimeout, "offer_timeout")
	case CRMEngagementRequeued:
		err = s.requeueFromCRM(ctx, leg, TriggerCRMRequeue, requeueCause(ev.Cause), "")
	case CRMEngagementConcluded:
		err = s.concluded(ctx, leg, ev.EndReason)
	}
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
	if err := s.enqueueACD(ctx, requeueCall(leg, string(code))); err != nil {
		return err
	}
	if notReadyReason != "" && s.opts.DeclineNotReady {
		if err := s.enqueueACD(ctx, agentStateCall(leg.AgentID, false, "notready:"+key.String(), notReadyReason)); err != nil {
			return err
		}
	}
	_, _, err := s.transition(ctx, key, t, 0, func(l *Interaction) {
		l.Code = string(code)
		l.Message = s.render(l, s.lookup(l, code), "")
		l.Requeued = true
		l.Descriptor = redirected(l.RouteType)
	})
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
