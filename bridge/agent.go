package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Login binds an agent's three identities after checking the CRM chat session: the agent must
// already be logged in to CRM chat, present, and in an available status. A refusal is a
// *LoginRefusedError whose Message tells the agent exactly what to do.
type Login struct {
	AgentID          string
	Site             string
	CRMAccountID     string
	CRMChatSessionID string
}

// Login validates and stores the agent's media-bar session.
func (s *Service) Login(ctx context.Context, l Login) (AgentSession, error) {
	if _, ok := s.opts.Sites[l.Site]; !ok {
		return AgentSession{}, fmt.Errorf("login %s: site %q: %w", l.AgentID, l.Site, ErrUnknownSite)
	}
	cs, err := s.crm.AgentSession(ctx, l.Site, l.CRMAccountID)
	if err != nil {
		return AgentSession{}, &LoginRefusedError{Code: string(bridgeerr.CRMUnreachable),
			Message: "The media bar cannot reach the CRM chat server right now. Try again in a minute; call your supervisor if it keeps failing."}
	}
	if refusal := checkCRMSession(cs, l.CRMChatSessionID); refusal != nil {
		return AgentSession{}, refusal
	}
	now := s.clock.Now()
	sess := AgentSession{AgentID: l.AgentID, Site: l.Site, CRMAccountID: l.CRMAccountID,
		CRMChatSessionID: l.CRMChatSessionID, Channel: Channel{Green: true}, MaxSessions: cs.MaxSessions,
		LoggedInAt: now, LastSeenAt: now}
	if err := s.store.PutAgentSession(ctx, sess, s.opts.SessionTTL); err != nil {
		return AgentSession{}, fmt.Errorf("login %s: %w", l.AgentID, errors.Join(ErrStoreUnavailable, err))
	}
	s.log.Info("agent logged in", "agent_id", l.AgentID, "site", l.Site, "crm_account_id", l.CRMAccountID)
	s.publishChannel(ctx, l.AgentID, sess.Channel)
	return sess, nil
}

func checkCRMSession(cs CRMAgentSession, wantSession string) *LoginRefusedError {
	switch {
	case cs.Code == string(bridgeerr.AgentIDUnknown):
		return &LoginRefusedError{Code: cs.Code, Message: "The CRM chat server does not know this agent account. Check the account id, or ask your supervisor to map your account."}
	case cs.Code != "" && cs.Code != string(bridgeerr.Success) && cs.Code != string(bridgeerr.InvalidAgentSession):
		return &LoginRefusedError{Code: cs.Code, Message: "The CRM chat server refused the session check (" + cs.Code + "). Try again; call your supervisor if it keeps failing."}
	case !cs.LoggedIn || cs.Code == string(bridgeerr.InvalidAgentSession):
		return &LoginRefusedError{Code: string(bridgeerr.InvalidAgentSession), Message: "You are not logged in to CRM chat. Log in to chat in the CRM console with an available status (for example Unrestricted) first, then log in to the media bar."}
	case wantSession != "" && cs.SessionID != wantSession:
		return &LoginRefusedError{Code: string(bridgeerr.InvalidAgentSession), Message: "The CRM chat session id does not match your current CRM chat session. Reload the CRM console and log in to the media bar again."}
	case cs.Presence != "" && cs.Presence != "ACTIVE":
		return &LoginRefusedError{Code: cs.Presence, Message: "Your CRM chat console is not connected (presence " + cs.Presence + "). Reload the CRM console, log in to chat again, then log in to the media bar."}
	case cs.StatusType != "AVAILABLE":
		return &LoginRefusedError{Code: string(bridgeerr.AgentNotActive), Message: "Your CRM chat status is \"" + cs.StatusName + "\", which is not available. Set it to Unrestricted (or another available status), then log in to the media bar."}
	}
	return nil
}

// Logout ends the agent's media-bar session. It is refused with ErrOpenInteractions (and the
// list) while the agent holds reserved, unfinished interactions.
func (s *Service) Logout(ctx context.Context, agentID string) ([]*Interaction, error) {
	legs, err := s.store.AgentLegs(ctx, agentID)
	if err != nil {
		return nil, fmt.Errorf("logout %s: %w", agentID, storeErr(err))
	}
	var open []*Interaction
	for _, in := range legs {
		if !in.State.Terminal() {
			open = append(open, in)
		}
	}
	if len(open) > 0 {
		return open, ErrOpenInteractions
	}
	if err := s.store.DeleteAgentSession(ctx, agentID); err != nil {
		return nil, fmt.Errorf("logout %s: %w", agentID, storeErr(err))
	}
	s.log.Info("agent logged out", "agent_id", agentID)
	return nil, nil
}

// Session returns the agent's media-bar session (ErrNotLoggedIn when there is none).
func (s *Service) Session(ctx context.Context, agentID string) (AgentSession, error) {
	sess, err := s.store.GetAgentSession(ctx, agentID)
	if errors.Is(err, ErrNotFound) {
		return AgentSession{}, ErrNotLoggedIn
	}
	return sess, storeErr(err)
}

// storeErr marks a store failure as such (the HTTP side answers 503: retry), leaving
// ErrNotFound, which is an answer, alone.
func storeErr(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStoreUnavailable) {
		return err
	}
	return errors.Join(ErrStoreUnavailable, err)
}

// Interactions lists the agent's current legs (not yet completed).
func (s *Service) Interactions(ctx context.Context, agentID string) ([]*Interaction, error) {
	legs, err := s.store.AgentLegs(ctx, agentID)
	if err != nil {
		return nil, storeErr(err)
	}
	slices.SortFunc(legs, func(a, b *Interaction) int { return a.RoutedAt.Compare(b.RoutedAt) })
	return legs, nil
}

// routingKey carries the routing a media-bar request names (?routing_id=).
type routingKey struct{}

// ForRouting narrows the agent's interaction calls made with ctx (AgentLeg, and through it
// Complete, Accept, Decline, Transfer) to one routing of the interaction. An agent can hold
// two legs of one interaction (a failed pop awaiting Complete, and the same chat routed back
// to it); a media bar acting on one of them names it, so that a Complete meant for the
// failure notice never completes the chat the agent is in. It is request-scoped: the HTTP
// layer sets it from the request, and the core's signatures stay those of the one-leg case.
func ForRouting(ctx context.Context, routingID string) context.Context {
	if routingID == "" {
		return ctx
	}
	return context.WithValue(ctx, routingKey{}, routingID)
}

// AgentLeg finds the agent's leg of an interaction: the routing named with ForRouting, else
// the agent's newest open leg, else its newest. Another agent's interaction (or routing) is
// ErrForbidden, an unknown one ErrNotFound.
func (s *Service) AgentLeg(ctx context.Context, agentID, interactionID string) (*Interaction, error) {
	legs, err := s.store.InteractionLegs(ctx, interactionID)
	if err != nil {
		return nil, storeErr(err)
	}
	if len(legs) == 0 {
		return nil, ErrNotFound
	}
	if rid, _ := ctx.Value(routingKey{}).(string); rid != "" {
		for _, in := range legs {
			if in.RoutingID == rid {
				if in.AgentID != agentID {
					return nil, ErrForbidden
				}
				return in, nil
			}
		}
		return nil, ErrNotFound
	}
	// The agent's newest open leg, else its newest leg. An agent can hold two legs of one
	// interaction: a failed pop awaiting Complete, and a later routing of the same chat back
	// to it. Once the later one is finished, the earlier one must still be reachable, or it
	// would stay open for ever.
	var newest, newestOpen *Interaction
	for _, in := range legs {
		if in.AgentID != agentID {
			continue
		}
		if newest == nil || !in.RoutedAt.Before(newest.RoutedAt) {
			newest = in
		}
		if !in.State.Terminal() && (newestOpen == nil || !in.RoutedAt.Before(newestOpen.RoutedAt)) {
			newestOpen = in
		}
	}
	switch {
	case newestOpen != nil:
		return newestOpen, nil
	case newest != nil:
		return newest, nil
	}
	return nil, ErrForbidden
}

// Complete ends the agent's part of an interaction, with a disposition where the queue asks
// for one. For a leg that was requeued to the ACD, Complete only clears it from the media bar:
// the ACD already has the chat back.
func (s *Service) Complete(ctx context.Context, agentID, interactionID, disposition string) (*Interaction, error) {
	leg, err := s.AgentLeg(ctx, agentID, interactionID)
	if err != nil {
		return nil, err
	}
	q, _ := s.Queue(leg.Site, leg.QueueID)
	if err := completable(leg, q, disposition); err != nil {
		return leg, err
	}
	return s.complete(ctx, leg, disposition)
}

// completable checks Complete's rules: a state Complete can leave, and the queue's
// disposition rules.
func completable(leg *Interaction, q QueueOptions, disposition string) error {
	if _, err := Next(leg.State, TriggerComplete); err != nil {
		return fmt.Errorf("%w (state %s)", ErrNotCompletable, leg.State)
	}
	needsDisposition := leg.State == StateActive || leg.State == StateWrapUp
	if needsDisposition && q.DispositionRequired && disposition == "" {
		return ErrDispositionRequired
	}
	if disposition != "" && len(q.Dispositions) > 0 && !slices.Contains(q.Dispositions, disposition) {
		return fmt.Errorf("%w: %q (allowed: %v)", ErrUnknownDisposition, disposition, q.Dispositions)
	}
	return nil
}

func (s *Service) complete(ctx context.Context, leg *Interaction, disposition string) (*Interaction, error) {
	key := leg.Key()
	if !leg.Requeued {
		// Outbox first, as in finishPop: a failed state write is retried by the agent and the
		// idempotency key keeps the ACD from applying it twice.
		if err := s.enqueueACD(ctx, ACDCall{Kind: ACDComplete, IdempotencyKey: "complete:" + key.String(),
			InteractionID: leg.InteractionID, RoutingID: leg.RoutingID, AgentID: leg.AgentID, Disposition: disposition}); err != nil {
			return nil, err
		}
	}
	in, applied, err := s.transition(ctx, key, TriggerComplete, 0, func(l *Interaction) {
		l.Disposition = disposition
	})
	if err != nil {
		return nil, err
	}
	if !applied {
		return in, fmt.Errorf("%w (state %s)", ErrNotCompletable, in.State)
	}
	return in, nil
}

// Revoke withdraws a leg the ACD took back.
func (s *Service) Revoke(ctx context.Context, interactionID, routingID, agentID, reason string) (*Interaction, error) {
	key, err := s.resolveLeg(ctx, interactionID, routingID, agentID)
	if err != nil {
		return nil, err
	}
	in, _, err := s.transition(ctx, key, TriggerRevoke, 0, func(l *Interaction) {
		l.Code = string(bridgeerr.OfferRevoked)
		l.Message = s.render(l, s.lookup(l, bridgeerr.OfferRevoked), "")
		l.Descriptor = redirected(l.RouteType)
	})
	return in, err
}

// Abandon records that the customer left at a stage (queued, routing, alerting). Nothing is
// requeued; the agent sees it and completes it.
//
// An abandon about a leg the bridge has no record of (in queue, before any routing; or
// overtaking its own interaction.routed) is recorded as a leg of its own that is over at
// once, so the report has it and a late interaction.routed for it is a duplicate, not a pop.
func (s *Service) Abandon(ctx context.Context, interactionID, routingID, agentID, stage string) (*Interaction, error) {
	if stage == "queued" && routingID == "" {
		routingID = queuedRoutingID // in queue: no agent leg to resolve, whoever had it before
	}
	key, err := s.resolveLeg(ctx, interactionID, routingID, agentID)
	if errors.Is(err, ErrNotFound) && routingID == "" && agentID != "" {
		key, err = LegKey{InteractionID: interactionID, RoutingID: agentID}, nil // as Routed names it
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetLeg(ctx, key); errors.Is(err, ErrNotFound) {
		return s.recordAbandon(ctx, key, agentID, stage)
	}
	in, _, err := s.transition(ctx, key, TriggerAbandon, 0, func(l *Interaction) {
		l.AbandonStage = stage
		l.Code = string(bridgeerr.CustomerAbandoned)
		l.Message = s.render(l, s.lookup(l, bridgeerr.CustomerAbandoned), "")
		d := abandonDescriptor(l.RouteType, stage)
		l.Descriptor = &d
	})
	return in, err
}

// queuedRoutingID names the leg that records a customer abandoning in queue.
const queuedRoutingID = "queued"

// recordAbandon stores a leg that ended with the customer's abandon before the bridge saw it
// routed: nothing to pop, nobody to tell, one outcome to report. It borrows site, chat and
// queue from the interaction's earlier legs, when there are any.
func (s *Service) recordAbandon(ctx context.Context, key LegKey, agentID, stage string) (*Interaction, error) {
	now := s.clock.Now()
	in := &Interaction{InteractionID: key.InteractionID, RoutingID: key.RoutingID, AgentID: agentID,
		RouteType: RouteLead, State: StateCompleted, AbandonStage: stage, Code: string(bridgeerr.CustomerAbandoned),
		RoutedAt: now, UpdatedAt: now}
	if stage == "queued" {
		in.AgentID = "" // the customer left the queue; no agent is part of this
	}
	if legs, err := s.store.InteractionLegs(ctx, key.InteractionID); err == nil && len(legs) > 0 {
		last := legs[len(legs)-1]
		in.Site, in.QueueID, in.QueueName = last.Site, last.QueueID, last.QueueName
	}
	d := abandonDescriptor(RouteLead, stage)
	in.Descriptor = &d
	created, err := s.store.CreateLeg(ctx, in)
	if err != nil {
		return nil, err
	}
	if !created { // recorded meanwhile (a repeat, or the routing won the race): apply to it
		return s.Abandon(ctx, key.InteractionID, key.RoutingID, agentID, stage)
	}
	s.timeline(ctx, in, TimelineACDEvent, fmt.Sprintf("customer abandoned (%s) before the bridge saw this leg routed: recorded as %s", stage, d), in.Code, 0)
	return in, nil
}

// resolveLeg finds the leg an ACD event is about: by routing id when given, else the agent's
// newest leg of the interaction.
func (s *Service) resolveLeg(ctx context.Context, interactionID, routingID, agentID string) (LegKey, error) {
	if routingID != "" {
		return LegKey{InteractionID: interactionID, RoutingID: routingID}, nil
	}
	legs, err := s.store.InteractionLegs(ctx, interactionID)
	if err != nil {
		return LegKey{}, err
	}
	for i := len(legs) - 1; i >= 0; i-- {
		if agentID == "" || legs[i].AgentID == agentID {
			return legs[i].Key(), nil
		}
	}
	return LegKey{}, ErrNotFound
}

// setChannel stores and publishes the agent's channel state. It changes only the channel
// (a concurrent change to the session is kept) and never brings back a session a logout
// deleted.
func (s *Service) setChannel(ctx context.Context, agentID string, ch Channel) {
	_, err := s.store.UpdateAgentSession(ctx, agentID, func(sess *AgentSession) (bool, error) {
		sess.Channel = ch
		return true, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return // logged out meanwhile: nobody to tell
	case err != nil:
		s.log.Warn("store channel state", "agent_id", agentID, "err", err)
	}
	s.publishChannel(ctx, agentID, ch)
}

func (s *Service) publishChannel(ctx context.Context, agentID string, ch Channel) {
	c := ch
	s.publish(ctx, Event{Type: EventChannelUpdated, AgentID: agentID, Channel: &c})
}

// publish sends an event to its agent's stream. A failed publish is logged: the state it
// reports is stored, and the media bar re-reads it on reconnect.
func (s *Service) publish(ctx context.Context, ev Event) {
	ev.At = s.clock.Now()
	if _, err := s.events.Publish(ctx, ev.AgentID, ev); err != nil {
		s.log.Warn("publish event", "type", ev.Type, "agent_id", ev.AgentID, "err", err)
	}
}

// abandonDescriptor reports a customer abandon by the stage it happened at (SPEC section 5).
func abandonDescriptor(rt RouteType, stage string) bridgeerr.Descriptor {
	switch stage {
	case "queued":
		return bridgeerr.Descriptor{Role: "Received", Result: "CustomerAbandoned", Reason: "AbandonedWhileQueued"}
	case "routing":
		return bridgeerr.Descriptor{Role: "Puller", Result: "CustomerAbandoned"}
	}
	return bridgeerr.Descriptor{Role: rt.Role(), Result: "CustomerAbandoned", Reason: "AbandonedWhileRinging"}
}
