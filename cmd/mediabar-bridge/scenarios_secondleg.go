package main

import (
	"context"
	"fmt"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Transfer, conference and consult as the agents live them: the first agent asks on the
// media bar, the ACD routes the second leg, the bridge pops it into the chat the CRM already
// has active, the second agent answers in the CRM console. Each scenario asserts SPEC
// section 5's descriptors for both legs from the outcome export.
func secondLegScenarios() []scenario {
	return []scenario{
		{name: "report/transfer-accepted", run: scenarioSecondLeg(bridge.RouteTransfer, true)},
		{name: "report/transfer-not-accepted", run: scenarioSecondLeg(bridge.RouteTransfer, false)},
		{name: "report/conference-accepted", run: scenarioSecondLeg(bridge.RouteConference, true)},
		{name: "report/conference-not-accepted", run: scenarioSecondLeg(bridge.RouteConference, false)},
		{name: "report/consult", run: scenarioSecondLeg(bridge.RouteConsult, true)},
		{name: "transfer/refused-by-the-acd", run: scenarioTransferRefused},
	}
}

// directQueue: see newHarness.
const directQueue = "sc-direct"

// secondLegWant is SPEC section 5's table: the first leg's and the second leg's descriptor.
func secondLegWant(rt bridge.RouteType, accepted bool) (first, second string) {
	switch {
	case rt == bridge.RouteTransfer && accepted:
		return "RoutedTo / Transferred", "ReceivedTransfer / Completed"
	case !accepted:
		return "RoutedTo / Completed", rt.Role() + " / Abandoned [Revoked]"
	}
	return "RoutedTo / Completed", rt.Role() + " / Completed"
}

func scenarioSecondLeg(rt bridge.RouteType, accepted bool) func(context.Context, *harness) error {
	return func(ctx context.Context, h *harness) error {
		first, err := h.newAgent(ctx, agentSetup{})
		if err != nil {
			return err
		}
		// Ready in the ACD, but with no skill anything waits in (chats requeued by earlier
		// scenarios), so the only thing the ACD routes to it is this second leg.
		second, err := h.newAgent(ctx, agentSetup{allowDecline: true, acdQueues: []string{directQueue}})
		if err != nil {
			return err
		}
		r, err := h.activeChat(ctx, first)
		if err != nil {
			return err
		}
		// The second agent is ready in the ACD, so the ACD can route to it.
		if err := h.acd.SetAgentReady(second.acdID, true, ""); err != nil {
			return err
		}
		if _, err := first.mb.transfer(ctx, r.interactionID, httpapi.TransferRequest{Type: string(rt), TargetAgentID: second.acdID}); err != nil {
			return fmt.Errorf("media-bar %s: %w", rt, err)
		}
		leg, err := waitLeg(ctx, second, r.interactionID, "second leg offered", inState(bridge.StateOffered))
		if err != nil {
			return err
		}
		if leg.RouteType != rt || leg.FromRoutingID != r.routingID {
			return fmt.Errorf("second leg = %s from %q, want %s from %s", leg.RouteType, leg.FromRoutingID, rt, r.routingID)
		}
		action := "decline"
		if accepted {
			action = "accept"
		}
		if err := h.crm.RespondWith(h.site, r.chatID, crmmock.OfferReply{Action: action, AgentAccountID: second.account}); err != nil {
			return fmt.Errorf("second agent answers in the CRM: %w", err)
		}
		switch {
		case !accepted:
			if _, err := waitLeg(ctx, second, r.interactionID, "second leg not taken", inState(bridge.StateRequeued)); err != nil {
				return err
			}
			if in, err := first.mb.interaction(ctx, r.interactionID); err != nil || in.State != bridge.StateActive {
				return fmt.Errorf("first agent's leg after the second leg failed: %+v %v, want still active", in, err)
			}
			if err := h.crm.Conclude(h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
				return err
			}
			if err := completeLeg(ctx, first, r.interactionID, "", bridge.StateWrapUp); err != nil {
				return err
			}
		case rt == bridge.RouteTransfer:
			// The first agent is out of the chat and wraps up; the second has it.
			if err := completeLeg(ctx, first, r.interactionID, "", bridge.StateWrapUp); err != nil {
				return err
			}
			if _, err := waitLeg(ctx, second, r.interactionID, "transfer active", inState(bridge.StateActive)); err != nil {
				return err
			}
			if err := h.crm.Conclude(h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
				return err
			}
			if err := completeLeg(ctx, second, r.interactionID, "", bridge.StateWrapUp); err != nil {
				return err
			}
		default: // conference or consult: both in the chat
			if _, err := waitLeg(ctx, second, r.interactionID, "second leg active", inState(bridge.StateActive)); err != nil {
				return err
			}
			if rt == bridge.RouteConsult { // the consulted agent leaves; the chat goes on
				if err := h.crm.ConcludeWith(h.site, r.chatID, crmmock.Conclusion{AgentAccountID: second.account}); err != nil {
					return err
				}
				if err := completeLeg(ctx, second, r.interactionID, "", bridge.StateWrapUp); err != nil {
					return err
				}
				if in, err := first.mb.interaction(ctx, r.interactionID); err != nil || in.State != bridge.StateActive {
					return fmt.Errorf("first agent's leg after the consult: %+v %v, want still active", in, err)
				}
			}
			if err := h.crm.Conclude(h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
				return err
			}
			for _, a := range []*scAgent{first, second} {
				if rt == bridge.RouteConsult && a == second {
					continue
				}
				if err := completeLeg(ctx, a, r.interactionID, "", bridge.StateWrapUp); err != nil {
					return err
				}
			}
		}
		wantFirst, wantSecond := secondLegWant(rt, accepted)
		if err := h.expectOutcomes(ctx, r.interactionID, wantFirst, wantSecond); err != nil {
			return err
		}
		if err := h.waitOutboxDrained(ctx); err != nil {
			return err
		}
		if n := h.acd.Applied(acdmock.KindRoute, r.interactionID); n != 1 {
			return fmt.Errorf("ACD applied %d route requests, want 1", n)
		}
		if n := h.acd.Applied(acdmock.KindComplete, r.interactionID); n != 1+countTrue(accepted) {
			return fmt.Errorf("ACD applied %d completes, want %d", n, 1+countTrue(accepted))
		}
		if view, ok := h.acd.Interaction(r.interactionID); !ok || view.State != acdmock.StateCompleted {
			return fmt.Errorf("ACD interaction = %+v, want completed", view)
		}
		return nil
	}
}

func countTrue(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A transfer the ACD refuses (the target is not ready) reaches the agent as transfer.failed
// on the event stream; the agent keeps the chat and nothing is dead-lettered.
func scenarioTransferRefused(ctx context.Context, h *harness) error {
	first, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	busy, err := h.newAgent(ctx, agentSetup{}) // not ready in the ACD
	if err != nil {
		return err
	}
	r, err := h.activeChat(ctx, first)
	if err != nil {
		return err
	}
	deadBefore, err := h.app.store.Depth(ctx, bridge.QueueACDDeadLetter)
	if err != nil {
		return err
	}
	if _, err := first.mb.transfer(ctx, r.interactionID, httpapi.TransferRequest{Type: "transfer", TargetAgentID: busy.acdID}); err != nil {
		return err
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	ev, err := first.mb.waitEvent(ctx, bridge.EventTransferFailed)
	if err != nil {
		return err
	}
	if ev.Message == "" {
		return fmt.Errorf("transfer.failed carries no message")
	}
	if in, err := first.mb.interaction(ctx, r.interactionID); err != nil || in.State != bridge.StateActive {
		return fmt.Errorf("after the refused transfer the leg is %+v %v, want active", in, err)
	}
	if dead, _ := h.app.store.Depth(ctx, bridge.QueueACDDeadLetter); dead != deadBefore {
		return fmt.Errorf("the refused transfer was dead-lettered")
	}
	return nil
}
