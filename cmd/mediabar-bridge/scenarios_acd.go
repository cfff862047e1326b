package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// The ACD side, as the ACD sees it: signed webhooks in (refused when the signature is not
// right, absorbed when repeated or out of order), durable calls out (held while the ACD is
// down, applied once when it is back), and SPEC section 5's descriptors for every flow.
func acdScenarios() []scenario {
	return []scenario{
		{name: "webhook/signature-failures", run: scenarioSignatureFailures},
		{name: "webhook/routed-3x-new-ids-and-abandon-either-order", run: scenarioDuplicatesAndReordered},
		{name: "acd/down-then-back", run: scenarioACDDownThenBack},
		{name: "report/routed-accepted-completed", run: scenarioReportCompleted},
		{name: "report/offered-not-accepted-revoked", run: scenarioReportRevoked},
		{name: "report/abandoned-in-queue", run: scenarioReportAbandon(acdapi.StageQueued)},
		{name: "report/abandoned-during-routing", run: scenarioReportAbandon(acdapi.StageRouting)},
		{name: "report/abandoned-while-alerted", run: scenarioReportAbandon(acdapi.StageAlerting)},
	}
}

// Every way a signature can be wrong is answered 401 and changes nothing; a delivery with
// several signatures of which one is right (secret rotation) is taken.
func scenarioSignatureFailures(ctx context.Context, h *harness) error {
	a, data, err := h.ownRouting(ctx, "sc-sig")
	if err != nil {
		return err
	}
	iid := data.InteractionID
	now := time.Now()
	body, good, err := h.signedEvent("evt-"+iid, acdapi.TypeRouted, now, data)
	if err != nil {
		return err
	}
	wrong := acdapi.Headers(acdapi.Secret("a-secret-the-bridge-does-not-have"), "evt-"+iid, now, body)
	_, old, _ := h.signedEvent("evt-"+iid, acdapi.TypeRouted, now.Add(-10*time.Minute), data)
	_, future, _ := h.signedEvent("evt-"+iid, acdapi.TypeRouted, now.Add(10*time.Minute), data)
	with := func(k, v string) map[string]string {
		m := maps.Clone(good)
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] ^= 0x01
	cases := []struct {
		name    string
		body    []byte
		headers map[string]string
	}{
		{"tampered body", tampered, good},
		{"wrong secret", body, wrong},
		{"timestamp 10 min old", body, old},
		{"timestamp 10 min ahead", body, future},
		{"no webhook-id", body, with(acdapi.HeaderID, "")},
		{"no webhook-timestamp", body, with(acdapi.HeaderTimestamp, "")},
		{"no webhook-signature", body, with(acdapi.HeaderSignature, "")},
		{"signature of another event id", body, with(acdapi.HeaderID, "evt-someone-else")},
		{"several signatures, none right", body, with(acdapi.HeaderSignature, wrong[acdapi.HeaderSignature]+" v1,AAAA")},
	}
	before := h.crm.Calls("chatRouted")
	for _, c := range cases {
		status, eb, err := h.postWebhook(ctx, c.body, c.headers)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if status != 401 || eb.Error != "invalid_signature" {
			return fmt.Errorf("%s: answered %d %q, want 401 invalid_signature", c.name, status, eb.Error)
		}
	}
	var se *apiStatusError
	if _, err := a.mb.interaction(ctx, iid); !errors.As(err, &se) || se.Status != 404 {
		return fmt.Errorf("after refused deliveries the agent sees interaction %s: %v, want 404", iid, err)
	}
	if n := h.crm.Calls("chatRouted") - before; n != 0 {
		return fmt.Errorf("refused deliveries reached the CRM: %d chatRouted", n)
	}
	// Rotation: the ACD signs with the old and the new secret; one of them is the bridge's.
	status, eb, err := h.postWebhook(ctx, body, with(acdapi.HeaderSignature, wrong[acdapi.HeaderSignature]+" "+good[acdapi.HeaderSignature]))
	if err != nil || status != 202 {
		return fmt.Errorf("two signatures, one right: %d %q %v, want 202", status, eb.Error, err)
	}
	_, err = waitLeg(ctx, a, iid, "offered", inState(bridge.StateOffered))
	return err
}

// The routed webhook delivered three times under three event ids (an ACD that re-sends
// instead of retrying) is one pop; its abandon overtaking it, or arriving after it, ends the
// one leg with one descriptor. The mock CRM counts the chatRouted requests.
func scenarioDuplicatesAndReordered(ctx context.Context, h *harness) error {
	for _, abandonFirst := range []bool{false, true} {
		a, routedData, err := h.ownRouting(ctx, "sc-reorder")
		if err != nil {
			return err
		}
		iid := routedData.InteractionID
		abandon := func() error {
			return h.deliver(ctx, "evt-"+iid+"-abandon", acdapi.TypeAbandoned,
				acdapi.Abandoned{InteractionID: iid, RoutingID: "r1", AgentID: a.acdID, Stage: acdapi.StageAlerting})
		}
		before := h.crm.Calls("chatRouted")
		if abandonFirst {
			if err := abandon(); err != nil {
				return err
			}
		}
		for i := 3; i >= 1; i-- { // newest id first: the order says nothing
			if err := h.deliver(ctx, fmt.Sprintf("evt-%s-routed-%d", iid, i), acdapi.TypeRouted, routedData); err != nil {
				return err
			}
		}
		if !abandonFirst {
			if _, err := waitLeg(ctx, a, iid, "offered", inState(bridge.StateOffered)); err != nil {
				return err
			}
			if err := abandon(); err != nil {
				return err
			}
			if err := completeLeg(ctx, a, iid, "", bridge.StateAbandoned); err != nil {
				return err
			}
		}
		time.Sleep(200 * time.Millisecond) // a surplus pop, if there were one, would land by now
		wantPops := 1
		if abandonFirst {
			wantPops = 0
		}
		if n := h.crm.Calls("chatRouted") - before; n != wantPops {
			return fmt.Errorf("abandon first=%v: mock CRM received %d chatRouted, want %d", abandonFirst, n, wantPops)
		}
		want := "RoutedTo / CustomerAbandoned [AbandonedWhileRinging]"
		if err := h.expectOutcomes(ctx, iid, want); err != nil {
			return fmt.Errorf("abandon first=%v: %w", abandonFirst, err)
		}
	}
	return nil
}

// With the mock ACD down, a requeue (decline) and a complete wait in the outbox, retried;
// none is lost, and none is applied twice once the ACD is back.
func scenarioACDDownThenBack(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{allowDecline: true})
	if err != nil {
		return err
	}
	toDecline, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	toComplete, err := h.activeChat(ctx, a)
	if err != nil {
		return err
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	refusedBefore := h.refusedCalls()
	h.acd.SetDown(true)
	defer h.acd.SetDown(false)
	if err := h.crm.Respond(h.site, toDecline.chatID, "decline"); err != nil {
		return err
	}
	if err := h.crm.Conclude(h.site, toComplete.chatID, "AGENT_CONCLUDED"); err != nil {
		return err
	}
	if err := completeLeg(ctx, a, toComplete.interactionID, "", bridge.StateWrapUp); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, toDecline.interactionID, "requeued", inState(bridge.StateRequeued)); err != nil {
		return err
	}
	// Let the outbox retry against the dead ACD a few times.
	for h.refusedCalls()-refusedBefore < 3 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the bridge did not retry against the down ACD (refused %d)", h.refusedCalls()-refusedBefore)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if n := h.acd.Applied(acdmock.KindRequeue, toDecline.interactionID) + h.acd.Applied(acdmock.KindComplete, toComplete.interactionID); n != 0 {
		return fmt.Errorf("the ACD applied %d calls while down", n)
	}
	h.acd.SetDown(false)
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond) // a second delivery, if there were one, would land by now
	if n := h.acd.Applied(acdmock.KindRequeue, toDecline.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d requeues, want 1", n)
	}
	if n := h.acd.Applied(acdmock.KindComplete, toComplete.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d completes, want 1", n)
	}
	return nil
}

// refusedCalls counts the calls the mock ACD refused (down, or failed).
func (h *harness) refusedCalls() int {
	n := 0
	for _, c := range h.acd.Calls() {
		if !c.Applied {
			n++
		}
	}
	return n
}

// routed, accepted, completed: RoutedTo / Completed.
func scenarioReportCompleted(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	r, err := h.activeChat(ctx, a)
	if err != nil {
		return err
	}
	if err := h.crm.Conclude(h.site, r.chatID, "END_USER_CONCLUDED"); err != nil {
		return err
	}
	if err := completeLeg(ctx, a, r.interactionID, "", bridge.StateWrapUp); err != nil {
		return err
	}
	return h.expectOutcomes(ctx, r.interactionID, "RoutedTo / Completed")
}

// offered, not accepted, returned to the queue (the ACD takes it back): RoutedTo /
// Redirected [Revoked].
func scenarioReportRevoked(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	if err := h.acd.Revoke(ctx, r.interactionID); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "revoked", inState(bridge.StateRevoked)); err != nil {
		return err
	}
	return h.expectOutcomes(ctx, r.interactionID, "RoutedTo / Redirected [Revoked]")
}

// The customer leaves in queue, while the chat is being routed, or while the agent is
// alerted: Received / CustomerAbandoned [AbandonedWhileQueued], Puller / CustomerAbandoned,
// RoutedTo / CustomerAbandoned [AbandonedWhileRinging]. Nothing is requeued.
func scenarioReportAbandon(stage string) func(ctx context.Context, h *harness) error {
	want := map[string]string{
		acdapi.StageQueued:   "Received / CustomerAbandoned [AbandonedWhileQueued]",
		acdapi.StageRouting:  "Puller / CustomerAbandoned",
		acdapi.StageAlerting: "RoutedTo / CustomerAbandoned [AbandonedWhileRinging]",
	}[stage]
	return func(ctx context.Context, h *harness) error {
		chat, err := h.newChat("chat-support")
		if err != nil {
			return err
		}
		iid, err := h.acd.CreateInteraction(ctx, chat, h.site, "chat-support")
		if err != nil {
			return err
		}
		var a *scAgent
		if stage != acdapi.StageQueued {
			if a, err = h.newAgent(ctx, agentSetup{}); err != nil {
				return err
			}
			if _, err := h.acd.RouteTo(ctx, iid, a.acdID, "lead"); err != nil {
				return err
			}
			if _, err := waitLeg(ctx, a, iid, "offered", inState(bridge.StateOffered)); err != nil {
				return err
			}
		}
		if err := h.acd.Abandon(ctx, iid, stage); err != nil {
			return err
		}
		if a != nil {
			if err := completeLeg(ctx, a, iid, "", bridge.StateAbandoned); err != nil {
				return err
			}
		}
		if err := h.expectOutcomes(ctx, iid, want); err != nil {
			return err
		}
		if err := h.waitOutboxDrained(ctx); err != nil {
			return err
		}
		if n := h.acd.Applied(acdmock.KindRequeue, iid); n != 0 {
			return fmt.Errorf("an abandon was requeued %d times", n)
		}
		return nil
	}
}
