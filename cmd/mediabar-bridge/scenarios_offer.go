package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Offer scenarios: the CRM's offer toast times out, or the agent declines where the profile
// allows it. Either way the chat goes back to the ACD once, with the reason, and the agent is
// set not ready ("declined" by default).
func offerScenarios() []scenario {
	return []scenario{
		{name: "offer/decline-allowed", run: scenarioDecline},
		{name: "offer/decline-not-allowed", run: scenarioDeclineNotAllowed},
		{name: "offer/timeout", run: scenarioOfferTimeout},
		{name: "offer/accept-on-the-media-bar", run: scenarioMediabarAccept},
		{name: "offer/decline-on-the-media-bar", run: scenarioMediabarDecline},
	}
}

// Accept on the media bar: the bridge answers in the CRM, the chat is active there and on the
// media bar, and the ACD is told once.
func scenarioMediabarAccept(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{})
	if err != nil {
		return err
	}
	in, err := a.mb.answerOffer(ctx, r.interactionID, "accept")
	if err != nil || in.State != bridge.StateActive {
		return fmt.Errorf("media-bar accept = %+v, %v; want active", in, err)
	}
	if st := h.crm.Dump(); chatState(st, r.chatID) != crmmock.StateActive {
		return fmt.Errorf("CRM chat %s is %q after the accept, want ACTIVE", r.chatID, chatState(st, r.chatID))
	}
	var se *apiStatusError
	if _, err := a.mb.answerOffer(ctx, r.interactionID, "accept"); !errors.As(err, &se) || se.Status != 409 || se.Body.Error != "not_offered" {
		return fmt.Errorf("second accept = %v, want 409 not_offered", err)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindAccept, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d accepts, want 1", n)
	}
	return nil
}

// Decline on the media bar: refused with 403 (nothing changes) where the agent's CRM profile
// does not allow it; otherwise the chat goes back to the ACD once.
func scenarioMediabarDecline(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{allowDecline: false})
	if err != nil {
		return err
	}
	var se *apiStatusError
	if _, err := a.mb.answerOffer(ctx, r.interactionID, "decline"); !errors.As(err, &se) || se.Status != 403 || se.Body.Error != "decline_not_allowed" {
		return fmt.Errorf("decline without the profile's permission = %v, want 403 decline_not_allowed", err)
	}
	if in, err := a.mb.interaction(ctx, r.interactionID); err != nil || in.State != bridge.StateOffered {
		return fmt.Errorf("after the refused decline the leg is %+v %v, want still offered", in, err)
	}
	b, r2, err := h.offered(ctx, agentSetup{allowDecline: true})
	if err != nil {
		return err
	}
	if _, err := b.mb.answerOffer(ctx, r2.interactionID, "decline"); err != nil {
		return fmt.Errorf("media-bar decline: %w", err)
	}
	if st := h.crm.Dump(); chatState(st, r2.chatID) != crmmock.StateWaiting {
		return fmt.Errorf("CRM chat %s is %q after the decline, want WAITING", r2.chatID, chatState(st, r2.chatID))
	}
	return h.checkRequeuedOnce(ctx, b, r2, bridgeerr.AgentDeclined)
}

// chatState is a chat's state in a dump of the mock CRM.
func chatState(st crmmock.State, chatID string) string {
	for _, site := range st.Sites {
		for _, c := range site.Chats {
			if c.ChatID == chatID {
				return c.State
			}
		}
	}
	return ""
}

// offered routes a new chat to a new agent and waits for the offer.
func (h *harness) offered(ctx context.Context, s agentSetup) (*scAgent, routed, error) {
	a, err := h.newAgent(ctx, s)
	if err != nil {
		return nil, routed{}, err
	}
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	return a, r, err
}

// checkRequeuedOnce checks the leg ended requeued with code, the ACD applied exactly one
// requeue carrying that reason and set the agent not ready once.
func (h *harness) checkRequeuedOnce(ctx context.Context, a *scAgent, r routed, code bridgeerr.Code) error {
	in, err := waitLeg(ctx, a, r.interactionID, "requeued", inState(bridge.StateRequeued))
	if err != nil {
		return err
	}
	if in.Code != string(code) || !in.Requeued || in.Descriptor == nil || *in.Descriptor != (bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"}) {
		return fmt.Errorf("leg = code %q requeued %v descriptor %v, want %s, requeued, RoutedTo / Redirected [Revoked]", in.Code, in.Requeued, in.Descriptor, code)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d requeues, want 1", n)
	}
	for _, c := range h.acd.Calls() {
		if c.Kind == acdmock.KindRequeue && c.InteractionID == r.interactionID && c.Reason != string(code) {
			return fmt.Errorf("requeue reason = %q, want %s", c.Reason, code)
		}
	}
	if notReady, _ := h.agentStateCalls(a.acdID); notReady != 1 {
		return fmt.Errorf("ACD applied %d not-ready calls after the offer was lost, want 1", notReady)
	}
	return nil
}

func scenarioDecline(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{allowDecline: true})
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, r.chatID, "decline"); err != nil {
		return fmt.Errorf("decline in the CRM console: %w", err)
	}
	return h.checkRequeuedOnce(ctx, a, r, bridgeerr.AgentDeclined)
}

func scenarioDeclineNotAllowed(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{allowDecline: false})
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, r.chatID, "decline"); !errors.Is(err, crmmock.ErrDeclineNotAllowed) {
		return fmt.Errorf("decline without the profile right = %v, want refused", err)
	}
	if err := h.crmEventBarrier(ctx); err != nil {
		return err
	}
	in, err := a.mb.interaction(ctx, r.interactionID)
	if err != nil || in.State != bridge.StateOffered {
		return fmt.Errorf("after a refused decline the leg is %v (%v), want still offered", in, err)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 0 {
		return fmt.Errorf("ACD applied %d requeues for a refused decline, want 0", n)
	}
	return nil
}

func scenarioOfferTimeout(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{})
	if err != nil {
		return err
	}
	h.crm.Advance(61 * time.Second) // the CRM's fixed 60 s offer timeout
	return h.checkRequeuedOnce(ctx, a, r, bridgeerr.OfferTimeout)
}
