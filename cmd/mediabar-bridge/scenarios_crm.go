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

// CRM misbehaviour scenarios: the adapter's retries, lost-answer resolution and breaker, seen
// end to end. Each checks at the mock CRM that no chat was routed twice.
func crmScenarios() []scenario {
	return []scenario{
		{name: "crm/outage-then-recovery", run: scenarioCRMOutageThenRecovery},
		{name: "crm/5xx-burst-then-success", run: scenarioCRM5xxBurst},
		{name: "crm/hang-then-replay", run: scenarioCRMHangThenReplay},
		{name: "crm/hang-past-budget-waits-for-the-answer", run: scenarioCRMHangPastBudget},
		{name: "crm/breaker-open-fails-fast", run: scenarioCRMBreakerFailsFast},
	}
}

// firstTransaction is the CRM transaction id of a leg's first pop attempt.
func firstTransaction(r routed) string { return r.interactionID + "/" + r.routingID + "#1" }

// expectEvaluatedOnce checks the CRM evaluated the leg's route exactly once.
func (h *harness) expectEvaluatedOnce(r routed) error {
	if n := h.crm.RouteEvaluations(firstTransaction(r)); n != 1 {
		return fmt.Errorf("the CRM evaluated chatRouted %d times for %s, want exactly 1", n, firstTransaction(r))
	}
	return nil
}

// scenarioCRM5xxBurst: two 503s, then the CRM answers; the retries absorb the burst and the
// chat is offered, routed once.
func scenarioCRM5xxBurst(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	before := h.crm.Calls(crmmock.OpChatRouted)
	if err := h.crm.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: 503, Count: 2}); err != nil {
		return err
	}
	r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop outcome", bridge.StateOffered, bridge.StateFailed)
	if err != nil {
		return err
	}
	if in.State != bridge.StateOffered {
		return fmt.Errorf("after a 2×503 burst the pop ended %s %q, want offered", in.State, in.Code)
	}
	if n := h.crm.Calls(crmmock.OpChatRouted) - before; n != 3 {
		return fmt.Errorf("the CRM received %d chatRouted requests, want 3 (two 503s, one answer)", n)
	}
	return h.expectEvaluatedOnce(r)
}

// scenarioCRMHangThenReplay: the first chatRouted hangs; the adapter gives up on it at the
// call timeout, finds the chat still waiting, and replays the same transaction, which the
// CRM evaluates: offered, routed once.
func scenarioCRMHangThenReplay(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	if err := h.crm.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true, Count: 1}); err != nil {
		return err
	}
	r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop outcome", bridge.StateOffered, bridge.StateFailed)
	if err != nil {
		return err
	}
	if in.State != bridge.StateOffered {
		return fmt.Errorf("after one hung call the pop ended %s %q, want offered", in.State, in.Code)
	}
	return h.expectEvaluatedOnce(r)
}

// scenarioCRMHangPastBudget: chatRouted hangs every time, past the pop budget. The route may
// yet be applied, so the chat is neither failed nor requeued (requeueing could leave it
// offered in the CRM and routed again by the ACD): the leg stays popping and the pop replays
// the same transaction id. When the CRM answers again, the replay is evaluated once and the
// chat is offered; the ACD never got a requeue.
func scenarioCRMHangPastBudget(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	if err := h.crm.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true}); err != nil {
		return err
	}
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "pop in flight", bridge.StatePopping)
	if err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "uncertain", func(in *bridge.Interaction) bool { return in.PopUncertain }); err != nil {
		return err
	}
	budget := time.Duration(h.cfg.CRM.PopBudget)
	time.Sleep(budget) // a second round against the hung CRM: still no verdict
	if in, err := a.mb.interaction(ctx, r.interactionID); err != nil || in.State != bridge.StatePopping || in.Requeued {
		return fmt.Errorf("with the CRM hung the leg is %+v %v, want popping and not requeued", in, err)
	}
	if n := h.crm.RouteEvaluations(firstTransaction(r)); n != 0 {
		return fmt.Errorf("the CRM evaluated the hung route %d times, want 0", n)
	}
	h.crm.ClearFaults()
	in, err := waitLeg(ctx, a, r.interactionID, "offered after the CRM answers", inState(bridge.StateOffered, bridge.StateFailed))
	if err != nil {
		return err
	}
	if in.State != bridge.StateOffered || in.PopUncertain {
		return fmt.Errorf("after the CRM answered the leg is %s %q uncertain=%v, want offered", in.State, in.Code, in.PopUncertain)
	}
	if err := h.expectEvaluatedOnce(r); err != nil {
		return err
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 0 {
		return fmt.Errorf("ACD applied %d requeues, want 0", n)
	}
	return nil
}

// scenarioCRMBreakerFailsFast: with the CRM failing, the breaker opens; a pop then fails at
// once without a request reaching the CRM, and the chat is requeued. After the open period
// the breaker probes, closes, and pops succeed.
func scenarioCRMBreakerFailsFast(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{maxSessions: 10})
	if err != nil {
		return err
	}
	if err := h.crm.InjectFault(crmmock.Fault{Op: "*", HTTPStatus: 503}); err != nil {
		return err
	}
	// The open period is short, so a pop may land after it; try a few times.
	for attempt := 1; ; attempt++ {
		if err := h.waitBreaker(ctx, "open"); err != nil {
			return err
		}
		before := h.crm.Calls(crmmock.OpChatRouted)
		r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop outcome", bridge.StateOffered, bridge.StateFailed)
		if err != nil {
			return err
		}
		if in.State != bridge.StateFailed || in.Code != string(bridgeerr.CRMUnreachable) || !in.Requeued {
			return fmt.Errorf("a pop with the breaker open ended %s %q requeued=%v", in.State, in.Code, in.Requeued)
		}
		if h.crm.Calls(crmmock.OpChatRouted) == before && h.breakerIs("open") {
			if err := h.waitOutboxDrained(ctx); err != nil {
				return err
			}
			if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 1 {
				return fmt.Errorf("ACD applied %d requeues, want 1", n)
			}
			break // failed fast: no request reached the CRM
		}
		if attempt == 3 {
			return fmt.Errorf("every pop reached the CRM although the breaker was open")
		}
	}
	h.crm.ClearFaults()
	return h.popsSucceedAgain(ctx, a)
}

// breakerIs reports whether every CRM host's breaker is in state.
func (h *harness) breakerIs(state string) bool {
	states := h.app.crm.BreakerStates()
	for _, st := range states {
		if st != state {
			return false
		}
	}
	return len(states) > 0
}

func (h *harness) waitBreaker(ctx context.Context, state string) error {
	for !h.breakerIs(state) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRM breaker never %s: %v", state, h.app.crm.BreakerStates())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// popsSucceedAgain waits out the breaker's open period until a pop is offered again, then
// checks the breaker closed and the channel green.
func (h *harness) popsSucceedAgain(ctx context.Context, a *scAgent) error {
	for attempt := 1; ; attempt++ {
		r, in, err := h.routeNewChat(ctx, a, "chat-support", "pop after recovery", bridge.StateFailed, bridge.StateOffered)
		if err != nil {
			return err
		}
		if in.State == bridge.StateOffered {
			if err := h.expectEvaluatedOnce(r); err != nil {
				return err
			}
			break
		}
		if attempt == 4 {
			return fmt.Errorf("after recovery pops still fail: %s %q", in.State, in.Code)
		}
		time.Sleep(time.Duration(h.cfg.CRM.Client.BreakerOpenFor))
	}
	if _, err := waitChannel(ctx, a, "green once the CRM answers", green); err != nil {
		return err
	}
	if !h.breakerIs("closed") {
		return fmt.Errorf("CRM breaker after recovery: %v, want closed", h.app.crm.BreakerStates())
	}
	return nil
}
