package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Queues of the escalation scenario: chats in bounceQueue that keep bouncing go to
// escalationQueue (crm.sites[].queues[].escalation_queue).
const (
	bounceQueue     = "chat-bounce"
	escalationQueue = "chat-escalation"
)

func escalationScenarios() []scenario {
	return []scenario{
		{name: "requeue/decline-loop-escalates", run: scenarioDeclineLoopEscalates},
	}
}

// Two agents decline the same chat in turn, each going ready again at once, so the ACD
// (which only avoids the agent who just failed) would ping-pong it forever. When the first
// agent turns it down a second time, the bridge's requeue names the escalation queue, and
// the ACD routes it to the supervisor there.
func scenarioDeclineLoopEscalates(ctx context.Context, h *harness) error {
	var pair []*scAgent
	for range 2 {
		a, err := h.newAgent(ctx, agentSetup{queues: []string{bounceQueue}, acdQueues: []string{bounceQueue}, allowDecline: true})
		if err != nil {
			return err
		}
		pair = append(pair, a)
	}
	super, err := h.newAgent(ctx, agentSetup{queues: []string{escalationQueue}, acdQueues: []string{escalationQueue}})
	if err != nil {
		return err
	}
	for _, a := range append(pair, super) {
		if err := h.acd.SetAgentReady(a.acdID, true, ""); err != nil {
			return err
		}
	}
	chat, err := h.newChat(bounceQueue)
	if err != nil {
		return err
	}
	iid, err := h.acd.CreateInteraction(ctx, chat, h.site, bounceQueue)
	if err != nil {
		return err
	}
	var declined []string
	for len(declined) < 3 {
		a, err := offeredTo(ctx, iid, pair)
		if err != nil {
			return fmt.Errorf("after declines by %v: %w", declined, err)
		}
		if err := h.crm.Respond(h.site, chat, "decline"); err != nil {
			return err
		}
		if _, err := waitLeg(ctx, a, iid, "requeued", inState(bridge.StateRequeued)); err != nil {
			return err
		}
		declined = append(declined, a.acdID)
		// The bridge sets a declining agent not ready; the agent goes ready again at once.
		if err := h.waitAgentReady(ctx, a.acdID, false); err != nil {
			return err
		}
		if err := h.acd.SetAgentReady(a.acdID, true, ""); err != nil {
			return err
		}
	}
	if declined[0] != declined[2] || declined[0] == declined[1] {
		return fmt.Errorf("declines by %v, want the two agents in turn", declined)
	}
	in, err := waitLeg(ctx, super, iid, "offered to the supervisor", inState(bridge.StateOffered))
	if err != nil {
		return err
	}
	if in.QueueID != escalationQueue {
		return fmt.Errorf("supervisor's leg is in queue %s, want %s", in.QueueID, escalationQueue)
	}
	view, ok := h.acd.Interaction(iid)
	if !ok || view.QueueID != escalationQueue {
		return fmt.Errorf("ACD interaction queue = %q, want %s", view.QueueID, escalationQueue)
	}
	if n := h.acd.Applied(acdmock.KindRequeue, iid); n != 3 {
		return fmt.Errorf("ACD applied %d requeues, want 3", n)
	}
	escalated := 0
	for _, r := range view.Routings {
		if r.EscalatedTo != "" {
			escalated++
		}
	}
	if escalated != 1 {
		return fmt.Errorf("ACD shows %d escalated routings, want exactly the third", escalated)
	}
	return nil
}

// offeredTo waits until one of the agents has the interaction offered and returns it.
func offeredTo(ctx context.Context, iid string, agents []*scAgent) (*scAgent, error) {
	for {
		for _, a := range agents {
			if in, err := a.mb.interaction(ctx, iid); err == nil && in.State == bridge.StateOffered {
				return a, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interaction %s was not offered to any of the agents", iid)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitAgentReady waits until the ACD shows the agent's ready flag as wanted.
func (h *harness) waitAgentReady(ctx context.Context, agentID string, ready bool) error {
	for {
		if v, ok := h.acd.Agent(agentID); ok && v.Ready == ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ACD agent %s never became ready=%v", agentID, ready)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
