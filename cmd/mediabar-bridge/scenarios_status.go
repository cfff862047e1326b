package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Channel-status scenarios: the CRM's agent events (presence, status, logout) turn the
// media bar's channel red or green and set the agent not ready in the ACD once. They move
// the mock CRM's clock, so they run after the others.
func statusScenarios() []scenario {
	return []scenario{
		{name: "status/unavailable-and-back", run: scenarioStatusUnavailableAndBack},
		{name: "presence/absent-then-back", run: scenarioAbsentThenBack},
		{name: "presence/disconnect-requeues-offer", run: scenarioDisconnectRequeues},
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
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, r.chatID, "accept"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "active", inState(bridge.StateActive)); err != nil {
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
