package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// codeCase produces one CRM result code and checks that the bridge applies the catalog row:
// the agent's message (with the verbatim code), the requeue decision observed at the mock
// ACD, the channel effect, the ACD not-ready call, and the leg's descriptor.
//
// Where the mock CRM can be put into the state that yields the code, the scenario does that
// (the CRM evaluates it for real); codes that only a misconfigured or failing CRM returns
// are injected as faults.
type codeCase struct {
	code  bridgeerr.Code
	agent agentSetup
	// prepare returns the chat and queue to route, after the agent has logged in.
	prepare func(ctx context.Context, h *harness, a *scAgent) (chatID, queueID string, err error)
	fault   bool
	// crmRed: prepare changed the agent's CRM presence, status or login, so the CRM's own
	// agent event turns the channel red too; the ACD must still be told not ready once.
	crmRed bool
}

var codeCases = []codeCase{
	{code: bridgeerr.Success},
	{code: bridgeerr.UnknownError, fault: true},
	{code: bridgeerr.RNWAPIException, fault: true},
	{code: bridgeerr.AuthenticationFailed, fault: true},
	{code: bridgeerr.MissingSiteName, fault: true},
	{code: bridgeerr.UnknownSite, fault: true},
	{code: bridgeerr.MissingParameters, fault: true},
	{code: bridgeerr.AgentAbsent, crmRed: true, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		return chatAfter(h, "chat-support", h.crm.SetPresence(h.site, a.account, "ABSENT"))
	}},
	{code: bridgeerr.AgentIDUnknown, fault: true},
	{code: bridgeerr.ChatIDUnknown, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		h.n++
		return fmt.Sprintf("no-such-chat-%d", h.n), "chat-support", nil
	}},
	{code: bridgeerr.InvalidDestAgent, agent: agentSetup{queues: []string{"chat-sales"}}, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		return chatAfter(h, "chat-support", nil) // support is not in this agent's profile
	}},
	{code: bridgeerr.InvalidDestQueue, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		h.n++
		q := fmt.Sprintf("sc-internal-%d", h.n)
		if err := h.crm.CreateQueue(h.site, crmmock.Queue{ID: q, Name: "Internal", External: false}); err != nil {
			return "", "", err
		}
		if err := h.acd.AddQueue(acdmock.Queue{ID: q, Name: "Internal"}); err != nil {
			return "", "", err
		}
		return chatAfter(h, q, nil)
	}},
	{code: bridgeerr.InvalidAgentSession, crmRed: true, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		return chatAfter(h, "chat-support", h.crm.Logout(h.site, a.account))
	}},
	{code: bridgeerr.AgentDisconnected, crmRed: true, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		return chatAfter(h, "chat-support", h.crm.SetPresence(h.site, a.account, "DISCONNECTED"))
	}},
	{code: bridgeerr.AgentNotActive, crmRed: true, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		return chatAfter(h, "chat-support", h.crm.SetStatus(h.site, a.account, "On Break"))
	}},
	{code: bridgeerr.CouldNotReserveEngagement, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		// Another agent already has the chat.
		other, err := h.newAgent(ctx, agentSetup{})
		if err != nil {
			return "", "", err
		}
		r, _, err := h.routeNewChat(ctx, other, "chat-support", "offered to the other agent", bridge.StateOffered)
		return r.chatID, "chat-support", err
	}},
	{code: bridgeerr.CouldNotAssignEngagement, agent: agentSetup{maxSessions: 1}, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		// The agent's only chat slot is taken by a first chat.
		_, _, err := h.routeNewChat(ctx, a, "chat-support", "first chat offered", bridge.StateOffered)
		return chatAfter(h, "chat-support", err)
	}},
	{code: bridgeerr.EndUserAbandonedEngagement, prepare: func(ctx context.Context, h *harness, a *scAgent) (string, string, error) {
		chat, err := h.newChat("chat-support")
		if err != nil {
			return "", "", err
		}
		if err := h.crm.Abandon(h.site, chat); err != nil {
			return "", "", err
		}
		// Let the bridge see the customer's exit first, so the pop (not the CRM event) is
		// what meets it: the code under test is the CRM's answer to the pop.
		return chat, "chat-support", h.crmEventBarrier(ctx)
	}},
}

func chatAfter(h *harness, queueID string, err error) (string, string, error) {
	if err != nil {
		return "", "", err
	}
	chat, err := h.newChat(queueID)
	return chat, queueID, err
}

func (c codeCase) scenario() func(ctx context.Context, h *harness) error {
	return func(ctx context.Context, h *harness) error {
		a, err := h.newAgent(ctx, c.agent)
		if err != nil {
			return err
		}
		chat, queue := "", "chat-support"
		if c.prepare != nil {
			chat, queue, err = c.prepare(ctx, h, a)
		} else {
			chat, err = h.newChat(queue)
		}
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		if c.crmRed {
			// The CRM's own event turns the channel red first, then the pop meets the red
			// channel: exactly one not-ready for the turn. (When the pop wins the race
			// instead, both may tell the ACD; the bridge prefers once too often to never.)
			if _, err := waitChannel(ctx, a, "red from the CRM's event", func(ch bridge.Channel) bool { return !ch.Green }); err != nil {
				return err
			}
		}
		if c.fault {
			if err := h.crm.InjectFault(crmmock.Fault{Op: "chatRouted", ResultCode: string(c.code), Count: 10}); err != nil {
				return err
			}
		}
		r, err := h.route(ctx, a, chat, queue)
		if err != nil {
			return err
		}
		in, err := waitLeg(ctx, a, r.interactionID, "pop outcome", inState(bridge.StateOffered, bridge.StateActive, bridge.StateFailed))
		if err != nil {
			return err
		}
		return c.check(ctx, h, a, r, in)
	}
}

func (c codeCase) check(ctx context.Context, h *harness, a *scAgent, r routed, in *bridge.Interaction) error {
	cat, _ := h.app.svc.Catalog(h.site)
	entry := cat.Lookup(string(c.code))
	if in.Code != string(c.code) {
		return fmt.Errorf("leg code = %q, want %q (message %q)", in.Code, c.code, in.Message)
	}
	wantState := bridge.StateFailed
	if entry.Success() {
		wantState = bridge.StateOffered
	}
	if in.State != wantState {
		return fmt.Errorf("leg state = %s, want %s", in.State, wantState)
	}
	wantMsg := entry.Render(bridgeerr.MessageVars{Code: string(c.code), AgentSessionID: a.sessionID, AccountID: a.account,
		QueueID: r.queueID, QueueName: in.QueueName, ReasonCode: string(c.code), ChatID: r.chatID})
	if in.Message != wantMsg {
		return fmt.Errorf("agent message = %q, want %q", in.Message, wantMsg)
	}
	if entry.Retry && in.PopAttempts != h.app.cfg.CRM.Client.Retries+1 {
		return fmt.Errorf("retry-first code popped %d times, want %d", in.PopAttempts, h.app.cfg.CRM.Client.Retries+1)
	}
	if !entry.Success() {
		if in.Descriptor == nil || *in.Descriptor != entry.Descriptor {
			return fmt.Errorf("descriptor = %v, want %v", in.Descriptor, entry.Descriptor)
		}
		if in.Requeued != entry.Requeue {
			return fmt.Errorf("leg requeued = %v, want %v", in.Requeued, entry.Requeue)
		}
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	wantRequeue := 0
	if entry.Requeue && !entry.Success() {
		wantRequeue = 1
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != wantRequeue {
		return fmt.Errorf("ACD applied %d requeue calls, want %d", n, wantRequeue)
	}
	for _, call := range h.acd.Calls() {
		if call.Kind == acdmock.KindRequeue && call.InteractionID == r.interactionID && call.Reason != string(c.code) {
			return fmt.Errorf("requeue carried reason %q, want the verbatim %q", call.Reason, c.code)
		}
	}
	wantNotReady := 0
	if entry.ACDNotReady || c.crmRed {
		wantNotReady = 1
	}
	if n := h.acd.Applied(acdmock.KindAgentState, a.acdID); n != wantNotReady {
		return fmt.Errorf("ACD applied %d agent-state calls for %s, want %d", n, a.acdID, wantNotReady)
	}
	me, err := a.mb.me(ctx)
	if err != nil {
		return fmt.Errorf("me: %w", err)
	}
	wantGreen := entry.Channel == bridgeerr.ChannelGreen
	if me.Session.Channel.Green != wantGreen || (!wantGreen && me.Session.Channel.Reason != string(c.code)) {
		return fmt.Errorf("channel = %+v, want green=%v", me.Session.Channel, wantGreen)
	}
	if !entry.Success() {
		// The failure enables Complete; completing clears it from the media bar.
		done, err := a.mb.complete(ctx, r.interactionID, "")
		if err != nil || done.State != bridge.StateCompleted {
			return fmt.Errorf("complete after failure = %v, %v", done, err)
		}
	}
	return nil
}

// scenarioDuplicateWebhook delivers one signed interaction.routed 20 times at once (same
// event id, as an ACD retrying would) and checks the mock CRM saw exactly one chatRouted.
func scenarioDuplicateWebhook(ctx context.Context, h *harness) error {
	a, data, err := h.ownRouting(ctx, "sc-dup")
	if err != nil {
		return err
	}
	iid := data.InteractionID
	body, headers, err := h.signedEvent("evt-"+iid, acdapi.TypeRouted, time.Now(), data)
	if err != nil {
		return err
	}
	before := h.crm.Calls("chatRouted")
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.bridgeURL+"/v1/acd/events", bytes.NewReader(body))
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusAccepted && s != http.StatusOK {
			return fmt.Errorf("delivery %d answered %d", i, s)
		}
	}
	if _, err := waitLeg(ctx, a, iid, "offered", inState(bridge.StateOffered)); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond) // a second pop, if there were one, would land by now
	if n := h.crm.Calls("chatRouted") - before; n != 1 {
		return fmt.Errorf("mock CRM received %d chatRouted for 20 deliveries, want 1", n)
	}
	return nil
}
