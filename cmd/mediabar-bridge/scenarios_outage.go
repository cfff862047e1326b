package main

import (
	"context"
	"fmt"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// scenarioCRMOutageThenRecovery: the CRM answers 503 to everything. Every routed chat is
// requeued with BRIDGE_CRM_UNREACHABLE and the agent sees the banner. Once the CRM answers
// again, the breaker closes and pops succeed.
func scenarioCRMOutageThenRecovery(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{maxSessions: 10})
	if err != nil {
		return err
	}
	if err := h.crm.InjectFault(crmmock.Fault{Op: "*", HTTPStatus: 503}); err != nil {
		return err
	}
	var lost []routed
	for range 4 {
		r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop outcome", bridge.StateFailed, bridge.StateOffered)
		if err != nil {
			return err
		}
		if in.Code != string(bridgeerr.CRMUnreachable) || !in.Requeued {
			return fmt.Errorf("during the outage a pop ended %s %q requeued=%v, want failed %s and requeued", in.State, in.Code, in.Requeued, bridgeerr.CRMUnreachable)
		}
		lost = append(lost, r)
	}
	ch, err := waitChannel(ctx, a, "CRM unreachable banner", redWith(string(bridgeerr.CRMUnreachable)))
	if err != nil {
		return err
	}
	if !ch.Banner {
		return fmt.Errorf("channel = %+v, want the banner", ch)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	for _, r := range lost {
		if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
			return fmt.Errorf("interaction %s: ACD applied %d requeues, want 1", r.interactionID, n)
		}
	}

	h.crm.ClearFaults()
	return h.popsSucceedAgain(ctx, a)
}
