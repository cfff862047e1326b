package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// intakeQueue is the scenarios' one queue with intake on; the others route explicitly.
const intakeQueue = "chat-intake"

func intakeScenarios() []scenario {
	return []scenario{
		{name: "intake/customer-to-agent", run: scenarioIntakeLoop},
		{name: "intake/concurrent-replicas-create-once", run: scenarioIntakeOnce},
	}
}

// intakeAgent is ready in the ACD for the intake queue only, so the ACD routes intake chats
// to it by itself. It turns ready only once logged in to the media bar, as a real agent does.
func (h *harness) intakeAgent(ctx context.Context) (*scAgent, error) {
	q := []string{intakeQueue}
	a, err := h.newAgent(ctx, agentSetup{queues: q, acdQueues: q})
	if err != nil {
		return nil, err
	}
	return a, h.acd.SetAgentReady(a.acdID, true, "")
}

// scenarioIntakeLoop: a customer starts a chat in the CRM queue and nothing else happens by
// hand: the bridge's intake has the ACD create the interaction, the ACD routes it, the bridge
// pops it, the agent accepts and completes.
func scenarioIntakeLoop(ctx context.Context, h *harness) error {
	a, err := h.intakeAgent(ctx)
	if err != nil {
		return err
	}
	// Out of the way of the next intake scenario, whatever happens here.
	defer func() { _ = h.acd.SetAgentReady(a.acdID, false, "scenario over") }()
	chat, err := h.newChat(intakeQueue)
	if err != nil {
		return err
	}
	in, err := waitChatLeg(ctx, a, chat, "intake chat offered", inState(bridge.StateOffered))
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, chat, "accept"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, in.InteractionID, "accepted", inState(bridge.StateActive)); err != nil {
		return err
	}
	if err := h.crm.Conclude(h.site, chat, "END_USER_CONCLUDED"); err != nil {
		return err
	}
	if _, err := waitLeg(ctx, a, in.InteractionID, "wrap-up", inState(bridge.StateWrapUp)); err != nil {
		return err
	}
	if _, err := a.mb.complete(ctx, in.InteractionID, ""); err != nil {
		return fmt.Errorf("complete: %w", err)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	return h.expectCreatedOnce(chat, in.InteractionID)
}

// scenarioIntakeOnce: five "replicas" poll the intake queue at the same moment as the
// running intake loop; the ACD still creates exactly one interaction for the chat.
func scenarioIntakeOnce(ctx context.Context, h *harness) error {
	// No agent is ready for the queue yet, so the chat stays waiting while the polls race.
	chat, err := h.newChat(intakeQueue)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Go(func() { _, errs[i] = h.app.svc.IntakeOnce(ctx, h.site, intakeQueue) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("intake poll: %w", err)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	// Later polls (the loop runs every 200 ms) must not create it again either.
	time.Sleep(500 * time.Millisecond)
	a, err := h.intakeAgent(ctx)
	if err != nil {
		return err
	}
	in, err := waitChatLeg(ctx, a, chat, "intake chat offered", inState(bridge.StateOffered))
	if err != nil {
		return err
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	return h.expectCreatedOnce(chat, in.InteractionID)
}

// expectCreatedOnce checks at the mock ACD that exactly one interaction was created for the
// chat (repeats with the same idempotency key are answered, not applied) and that it is the
// one the agent got.
func (h *harness) expectCreatedOnce(chatID, interactionID string) error {
	applied, asked := 0, 0
	for _, c := range h.acd.Calls() {
		if c.Kind != acdmock.KindCreate || c.ChatID != chatID {
			continue
		}
		asked++
		if c.Applied {
			applied++
			if c.InteractionID != interactionID {
				return fmt.Errorf("ACD created %s for chat %s; the agent got %s", c.InteractionID, chatID, interactionID)
			}
		}
	}
	if applied != 1 {
		return fmt.Errorf("ACD created %d interactions for chat %s (%d create calls), want exactly 1", applied, chatID, asked)
	}
	return nil
}

// waitChatLeg waits until the agent has a leg for the CRM chat in a state cond accepts.
func waitChatLeg(ctx context.Context, a *scAgent, chatID, what string, cond func(*bridge.Interaction) bool) (*bridge.Interaction, error) {
	for {
		legs, err := a.mb.interactions(ctx)
		if err == nil {
			for _, in := range legs {
				if in.ChatID == chatID && cond(in) {
					return in, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s: chat %s never reached the agent (last error %v)", what, chatID, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
