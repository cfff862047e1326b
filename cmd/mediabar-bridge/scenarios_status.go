package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Channel-status scenarios: the CRM's agent events (presence, status, logout) turn the
// media bar's channel red or green and set the agent not ready in the ACD once. They move
// the mock CRM's clock, so they run after the others.
func statusScenarios() []scenario {
	return []scenario{
		{name: "status/unavailable-and-back", run: scenarioStatusUnavailableAndBack},
		{name: "presence/absent-then-back", run: scenarioAbsentThenBack},
		{name: "presence/disconnect-requeues-offer", run: scenarioDisconnectRequeues},
		{name: "presence/lost-while-offered", run: scenarioPresenceLostWhileOffered},
		{name: "presence/lost-in-wrap-up", run: scenarioPresenceLostInWrapUp},
		{name: "status/logout-with-a-chat", run: scenarioLogoutWithAChat},
		{name: "crm/token-expiry", run: scenarioTokenExpiry},
	}
}

// waitChannel polls the agent's status until cond holds.
func waitChannel(ctx context.Context, a *scAgent, what string, cond func(bridge.Channel) bool) (bridge.Channel, error) {
	var last bridge.Channel
	for {
		me, err := a.mb.me(ctx)
		if err == nil {
			last = me.Session.Channel
			if cond(last) {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting for %s: channel stayed %+v", what, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func redWith(reason string) func(bridge.Channel) bool {
	return func(c bridge.Channel) bool { return !c.Green && c.Reason == reason }
}

func green(c bridge.Channel) bool { return c.Green }

// notReadyCalls counts the agent-state calls the ACD applied for the agent, by readiness.
func (h *harness) agentStateCalls(agentID string) (notReady, ready int) {
	for _, c := range h.acd.Calls() {
		if c.Kind == acdmock.KindAgentState && c.AgentID == agentID && c.Applied {
			if c.State == "ready" {
				ready++
			} else {
				notReady++
			}
		}
	}
	return notReady, ready
}

func scenarioStatusUnavailableAndBack(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	if err := h.crm.SetStatus(h.site, a.account, "In Meeting"); err != nil {
		return err
	}
	ch, err := waitChannel(ctx, a, "red on an unavailable status", redWith("AGENT_NOT_ACTIVE"))
	if err != nil {
		return err
	}
	if ch.Message == "" {
		return fmt.Errorf("red channel has no message for the agent")
	}
	if err := h.crm.SetStatus(h.site, a.account, "Unrestricted"); err != nil {
		return err
	}
	if _, err := waitChannel(ctx, a, "green again", green); err != nil {
		return err
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	notReady, ready := h.agentStateCalls(a.acdID)
	if notReady != 1 || ready != 1 {
		return fmt.Errorf("ACD applied %d not-ready and %d ready calls, want 1 and 1 (ready_on_green)", notReady, ready)
	}
	return nil
}

func scenarioAbsentThenBack(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	h.crm.Advance(121 * time.Second) // one presence interval missed
	ch, err := waitChannel(ctx, a, "absent", redWith("AGENT_ABSENT"))
	if err != nil {
		return err
	}
	if ch.SecondsToDisconnect <= 0 || ch.Banner {
		return fmt.Errorf("absent channel = %+v, want a countdown and no banner", ch)
	}
	first := ch.SecondsToDisconnect
	h.crm.Advance(120 * time.Second) // second interval: still absent, countdown shorter
	ch, err = waitChannel(ctx, a, "countdown", func(c bridge.Channel) bool {
		return c.Reason == "AGENT_ABSENT" && c.SecondsToDisconnect > 0 && c.SecondsToDisconnect < first
	})
	if err != nil {
		return err
	}
	if err := h.crm.Heartbeat(h.site, a.account); err != nil { // the console polls again
		return err
	}
	if _, err := waitChannel(ctx, a, "green after a presence poll", green); err != nil {
		return err
	}
	h.barrier = nil // the clock moved: the barrier agent missed its polls too
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if notReady, _ := h.agentStateCalls(a.acdID); notReady != 1 {
		return fmt.Errorf("ACD applied %d not-ready calls, want 1", notReady)
	}
	return nil
}

func scenarioDisconnectRequeues(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	r, err := h.activeChat(ctx, a)
	if err != nil {
		return err
	}
	// No presence poll through both absent intervals: the CRM disconnects the agent and
	// requeues its chats itself.
	for range 3 {
		h.crm.Advance(121 * time.Second)
	}
	h.barrier = nil
	ch, err := waitChannel(ctx, a, "disconnected", redWith("AGENT_DISCONNECTED"))
	if err != nil {
		return err
	}
	if !ch.Banner {
		return fmt.Errorf("disconnected channel = %+v, want the re-login banner", ch)
	}
	in, err := waitLeg(ctx, a, r.interactionID, "requeued by the CRM", inState(bridge.StateRequeued))
	if err != nil {
		return err
	}
	if !in.Requeued || in.Descriptor == nil || in.Descriptor.Result != "Redirected" {
		return fmt.Errorf("requeued leg = %+v", in)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d requeues, want 1", n)
	}
	if notReady, _ := h.agentStateCalls(a.acdID); notReady != 1 {
		return fmt.Errorf("ACD applied %d not-ready calls, want 1", notReady)
	}
	return nil
}

// missPresencePolls moves the CRM clock through both absent intervals and on to disconnect,
// with no presence poll from the agent's console.
func (h *harness) missPresencePolls() {
	for range 3 {
		h.crm.Advance(121 * time.Second)
	}
	h.barrier = nil // the barrier agent missed its polls too
}

// scenarioPresenceLostWhileOffered: the console goes quiet with an offer on screen. The offer
// times out first (60 s) and the chat is requeued once; then the session is disconnected and
// the banner shows. Nothing is requeued twice.
func scenarioPresenceLostWhileOffered(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{})
	if err != nil {
		return err
	}
	h.missPresencePolls()
	if _, err := waitChannel(ctx, a, "disconnected", redWith("AGENT_DISCONNECTED")); err != nil {
		return err
	}
	in, err := waitLeg(ctx, a, r.interactionID, "requeued", inState(bridge.StateRequeued))
	if err != nil {
		return err
	}
	if in.Code != string(bridgeerr.OfferTimeout) || !in.Requeued {
		return fmt.Errorf("leg = %s %q requeued=%v, want requeued with %s", in.State, in.Code, in.Requeued, bridgeerr.OfferTimeout)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d requeues, want 1", n)
	}
	return nil
}

// scenarioPresenceLostInWrapUp: the chat is over and the agent is in wrap-up when the console
// goes quiet. The session is disconnected, but the finished chat is not requeued, and the
// agent can still complete it.
func scenarioPresenceLostInWrapUp(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{})
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, r.chatID, "accept"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "active", inState(bridge.StateActive)); err != nil {
		return err
	}
	if err := h.crm.Conclude(h.site, r.chatID, "AGENT_CONCLUDED"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "wrap-up", inState(bridge.StateWrapUp)); err != nil {
		return err
	}
	h.missPresencePolls()
	if _, err := waitChannel(ctx, a, "disconnected", redWith("AGENT_DISCONNECTED")); err != nil {
		return err
	}
	if err := h.crmEventBarrier(ctx); err != nil {
		return err
	}
	in, err := a.mb.interaction(ctx, r.interactionID)
	if err != nil {
		return err
	}
	if in.State != bridge.StateWrapUp {
		return fmt.Errorf("after the disconnect the finished chat is %s %q, want still wrap_up", in.State, in.Code)
	}
	if _, err := a.mb.complete(ctx, r.interactionID, ""); err != nil {
		return fmt.Errorf("complete after the disconnect: %w", err)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 0 {
		return fmt.Errorf("ACD applied %d requeues of a finished chat, want 0", n)
	}
	if n := h.acd.Applied(acdmock.KindComplete, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d completes, want 1", n)
	}
	return nil
}

// scenarioLogoutWithAChat: the agent logs out of CRM chat with a chat offered. The CRM puts
// the chat back in its queue; the bridge requeues it in the ACD once, tells the agent why,
// turns the channel red with the re-login banner and sets the agent not ready.
func scenarioLogoutWithAChat(ctx context.Context, h *harness) error {
	a, r, err := h.offered(ctx, agentSetup{})
	if err != nil {
		return err
	}
	if err := h.crm.Logout(h.site, a.account); err != nil {
		return err
	}
	ch, err := waitChannel(ctx, a, "logged off", redWith(string(bridgeerr.InvalidAgentSession)))
	if err != nil {
		return err
	}
	if !ch.Banner || ch.Message == "" {
		return fmt.Errorf("logged-off channel = %+v, want the banner and a message", ch)
	}
	in, err := waitLeg(ctx, a, r.interactionID, "requeued", inState(bridge.StateRequeued))
	if err != nil {
		return err
	}
	if in.Code != string(bridgeerr.LoggedOffRequeued) || !in.Requeued || in.Message == "" {
		return fmt.Errorf("leg = code %q requeued=%v message %q, want %s", in.Code, in.Requeued, in.Message, bridgeerr.LoggedOffRequeued)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d requeues, want 1", n)
	}
	if notReady, _ := h.agentStateCalls(a.acdID); notReady != 1 {
		return fmt.Errorf("ACD applied %d not-ready calls, want 1", notReady)
	}
	return nil
}

// scenarioTokenExpiry: the CRM session token of the bridge expires (the CRM clock passes its
// lifetime). The next call is refused with AUTHENTICATION_FAILED; the adapter signs in again,
// once, and pops go on: no agent ever sees the code.
func scenarioTokenExpiry(ctx context.Context, h *harness) error {
	before := h.crm.Calls(crmmock.OpAuthenticate)
	h.crm.Advance(time.Hour + time.Minute) // the mock's token lifetime is 1 h
	h.barrier = nil
	a, err := h.newAgent(ctx, agentSetup{}) // login validates the CRM session: a CRM call
	if err != nil {
		return err
	}
	r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop outcome", bridge.StateOffered, bridge.StateFailed)
	if err != nil {
		return err
	}
	if in.State != bridge.StateOffered {
		return fmt.Errorf("after the token expired the pop ended %s %q, want offered", in.State, in.Code)
	}
	if err := h.expectEvaluatedOnce(r); err != nil {
		return err
	}
	if n := h.crm.Calls(crmmock.OpAuthenticate) - before; n != 1 {
		return fmt.Errorf("the adapter authenticated %d times after the token expired, want 1", n)
	}
	return nil
}
