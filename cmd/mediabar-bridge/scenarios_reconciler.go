package main

import (
	"context"
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func reconcilerScenarios() []scenario {
	return []scenario{
		{name: "reconciler/pop-abandoned-mid-way", run: scenarioReconcilerFinishesAbandonedPop},
	}
}

// scenarioReconcilerFinishesAbandonedPop: a replica stored a routed leg and died before its
// pop reached the work queue, after the ACD had its 2xx (so no webhook retry will come). The
// reconciler finds the leg stuck past reconciler.stuck_after, queues the pop again, and the
// chat reaches the agent, routed once.
func scenarioReconcilerFinishesAbandonedPop(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	chat, err := h.newChat("chat-support")
	if err != nil {
		return err
	}
	iid, err := h.acd.CreateInteraction(ctx, chat, h.site, "chat-support")
	if err != nil {
		return err
	}
	now := time.Now()
	leg := &bridge.Interaction{InteractionID: iid, RoutingID: "r-orphan", ChatID: chat, Site: h.site, QueueID: "chat-support",
		AgentID: a.acdID, CRMAccountID: a.account, RouteType: bridge.RouteLead, State: bridge.StateRouted, RoutedAt: now, UpdatedAt: now}
	if created, err := h.app.store.CreateLeg(ctx, leg); err != nil || !created {
		return fmt.Errorf("store the orphan leg: created=%v err=%v", created, err)
	}
	in, err := waitLeg(ctx, a, iid, "offered after reconciliation", inState(bridge.StateOffered))
	if err != nil {
		return err
	}
	if waited := time.Since(now); waited < time.Duration(h.cfg.Reconciler.StuckAfter) {
		return fmt.Errorf("the leg was popped after %s, before it counted as stuck (%s)", waited, h.cfg.Reconciler.StuckAfter)
	}
	return h.expectEvaluatedOnce(routed{interactionID: in.InteractionID, routingID: in.RoutingID})
}
