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
	}
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
