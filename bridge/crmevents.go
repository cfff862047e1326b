package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// RunCRMEvents long-polls one site's CRM event feed until ctx ends and applies each event.
// Events are applied through the state machine, so a replay (after a restart, or by a second
// consumer) is absorbed rather than applied twice.
func (s *Service) RunCRMEvents(ctx context.Context, site string) error {
	var after int64
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		events, err := s.crm.PollEvents(ctx, site, after)
		if err != nil {
			if ctx.Err() != nil {
				break
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
		for _, ev := range events {
			if err := s.HandleCRMEvent(ctx, site, ev); err != nil {
				s.log.Warn("apply CRM event", "site", site, "seq", ev.Seq, "type", ev.Type, "chat_id", ev.ChatID, "err", err)
			}
			after = max(after, ev.Seq)
		}
	}
	return nil
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
		err = s.requeueFromCRM(ctx, leg, TriggerCRMRequeue, bridgeerr.Code(ev.Cause), "")
	case CRMEngagementConcluded:
		err = s.concluded(ctx, leg, ev.EndReason)
	}
	return err
}

// requeueFromCRM ends an offered (or, for a CRM requeue, active) leg and gives the chat back
// to the ACD.
func (s *Service) requeueFromCRM(ctx context.Context, leg *Interaction, t Trigger, code bridgeerr.Code, notReadyReason string) error {
	if _, err := Next(leg.State, t); err != nil {
		_, _, err := s.transition(ctx, leg.Key(), t, 0, nil) // absorbed and recorded
		return err
	}
	key := leg.Key()
	if err := s.enqueueACD(ctx, ACDCall{Kind: ACDRequeue, IdempotencyKey: "requeue:" + key.String(),
		InteractionID: leg.InteractionID, RoutingID: leg.RoutingID, AgentID: leg.AgentID, Reason: string(code)}); err != nil {
		return err
	}
	if notReadyReason != "" && s.opts.DeclineNotReady {
		if err := s.enqueueACD(ctx, ACDCall{Kind: ACDAgentState, IdempotencyKey: "notready:" + key.String(),
			AgentID: leg.AgentID, Ready: false, Reason: notReadyReason}); err != nil {
			return err
		}
	}
	entry := s.opts.Sites[leg.Site].Catalog.Lookup(string(code))
	_, _, err := s.transition(ctx, key, t, 0, func(l *Interaction) {
		l.Code = string(code)
		l.Message = entry.Render(bridgeerr.MessageVars{Code: string(code), ChatID: l.ChatID, QueueID: l.QueueID, QueueName: l.QueueName, AccountID: l.CRMAccountID})
		l.Requeued = true
		d := bridgeerr.Descriptor{Role: l.RouteType.Role(), Result: "Redirected", Reason: "Revoked"}
		if l.RouteType == RouteTransfer || l.RouteType == RouteConference {
			d.Result = "Abandoned" // the second leg did not take it; the first agent keeps the chat
		}
		l.Descriptor = &d
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
	entry := s.opts.Sites[leg.Site].Catalog.Lookup(string(code))
	trigger := TriggerAbandon
	if leg.State == StateOffered {
		trigger = TriggerChatEnded
	}
	_, _, err := s.transition(ctx, key, trigger, 0, func(l *Interaction) {
		l.Code = string(code)
		l.AbandonStage = stage
		l.Message = entry.Message + fmt.Sprintf(" (CRM end reason %s)", endReason)
		d := abandonDescriptor(l.RouteType, stage)
		if code == bridgeerr.QueueTimeout {
			d = entry.Descriptor
		}
		l.Descriptor = &d
	})
	return err
}
