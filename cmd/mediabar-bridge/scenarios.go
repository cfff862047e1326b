package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/config"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// A scenario drives the running world (bridge, mock CRM, mock ACD, Redis) over real HTTP and
// checks the outcome where it is observable: the media-bar API, the mock ACD's applied calls,
// the mock CRM's counters.
type scenario struct {
	name string
	run  func(ctx context.Context, h *harness) error
}

// scenarioResult is one line of `scenarios --json`.
type scenarioResult struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

func runScenarios(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scenarios", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per scenario")
	only := fs.String("run", "", "run only scenarios whose name matches this regular expression")
	list := fs.Bool("list", false, "list the scenarios and exit")
	verbose := fs.Bool("v", false, "bridge logs to stderr")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	all := allScenarios()
	if *list {
		for _, s := range all {
			fmt.Fprintln(stdout, s.name)
		}
		return nil
	}
	var filter *regexp.Regexp
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return &usageError{"--run: " + err.Error()}
		}
		filter = re
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = newLogger(stderr, slog.LevelDebug)
	}
	h, err := newHarness(ctx, getenv, logger)
	if err != nil {
		return err
	}
	defer h.close()

	passed, failed := 0, 0
	for _, s := range all {
		if filter != nil && !filter.MatchString(s.name) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.run(sctx, h)
		cancel()
		h.crm.ClearFaults()
		h.quiesce()
		res := scenarioResult{Name: s.name, Passed: err == nil, Detail: "ok"}
		if err != nil {
			res.Detail = err.Error()
			failed++
		} else {
			passed++
		}
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(b))
		} else if res.Passed {
			fmt.Fprintf(stdout, "PASS %s\n", res.Name)
		} else {
			fmt.Fprintf(stdout, "FAIL %s: %s\n", res.Name, res.Detail)
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d scenario(s) failed", failed)
	}
	return nil
}

// harness is the world the scenarios share, plus helpers. Every scenario works with its own
// agents, chats and interactions, so they do not disturb each other.
type harness struct {
	*world
	clock   *crmmock.Clock
	n       int
	barrier *scAgent
	agents  []*scAgent // every scenario agent, to be set not ready between scenarios
}

func newHarness(ctx context.Context, getenv func(string) string, logger *slog.Logger) (*harness, error) {
	clock := crmmock.NewManualClock(time.Now())
	w, err := startWorld(ctx, worldOptions{
		listen: "127.0.0.1:0", opsListen: "127.0.0.1:0", crmListen: "127.0.0.1:0", acdListen: "127.0.0.1:0",
		getenv: getenv, logger: logger, crmClock: clock, dropKeys: true,
		keyPrefix: "mbb-scenarios-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":v1",
		tweak: func(c *config.Config) {
			c.Redis.ReclaimIdle = config.Duration(300 * time.Millisecond)
			c.Redis.LegTTL = config.Duration(2 * time.Hour)
			c.ACD.DeadLetterAfter = config.Duration(time.Hour)
			c.Redis.StreamTTL = config.Duration(time.Hour)
			c.CRM.PollWait = config.Duration(time.Second)
			c.CRM.Client.CallTimeout = config.Duration(time.Second)
			c.CRM.PopBudget = config.Duration(3 * time.Second)
			c.ACD.Client.CallTimeout = config.Duration(time.Second)
			c.CRM.Client.BreakerOpenFor = config.Duration(500 * time.Millisecond)
			c.CRM.Client.BackoffMax = config.Duration(100 * time.Millisecond)
			// The reconciler looks often, and a pop counts as stuck soon after its lease.
			c.Pop.LeaseTTL = config.Duration(4 * time.Second)
			c.Reconciler.Every = config.Duration(200 * time.Millisecond)
			c.Reconciler.StuckAfter = config.Duration(5 * time.Second)
			// Scenarios route their chats explicitly; intake runs on its own queue only.
			c.CRM.IntakeEvery = config.Duration(200 * time.Millisecond)
			// The browser test's "CRM console" embeds the media bar from http://localhost.
			c.Mediabar.FrameAncestors = append(c.Mediabar.FrameAncestors, "http://localhost:*")
			site := &c.CRM.Sites[0]
			for i := range site.Queues {
				site.Queues[i].Intake = false
			}
			site.Queues = append(site.Queues, config.Queue{ID: intakeQueue, Name: "Intake", Intake: true},
				config.Queue{ID: bounceQueue, Name: "Bounce", EscalationQueue: escalationQueue},
				config.Queue{ID: escalationQueue, Name: "Escalation"},
				config.Queue{ID: wrapUpQueue, Name: "Wrap-up timeout", DispositionRequired: true, Dispositions: wrapUpDispositions,
					DefaultDisposition: "Callback", WrapUpTimeout: config.Duration(wrapUpTimeout)})
		},
	})
	if err != nil {
		return nil, err
	}
	for _, q := range []crmmock.Queue{{ID: intakeQueue, Name: "Intake"}, {ID: bounceQueue, Name: "Bounce"}, {ID: escalationQueue, Name: "Escalation"}, {ID: wrapUpQueue, Name: "Wrap-up timeout"}} {
		q.External = true
		err := w.crm.CreateQueue(w.site, q)
		if err == nil {
			err = w.acd.AddQueue(acdmock.Queue{ID: q.ID, Name: q.Name})
		}
		if err != nil {
			w.stop()
			<-w.done
			return nil, fmt.Errorf("scenario queue %s: %w", q.ID, err)
		}
	}
	// directQueue is an ACD skill no interaction waits in: an agent with only this skill gets
	// nothing the ACD would dispatch by itself, only what is routed to it by name.
	if err := w.acd.AddQueue(acdmock.Queue{ID: directQueue, Name: "Direct routing only"}); err != nil {
		w.stop()
		<-w.done
		return nil, err
	}
	// The demo agents stay out of the way: scenarios route explicitly to their own agents.
	for _, a := range demoAgents {
		if err := w.acd.SetAgentReady(a.acdID, false, "scenarios"); err != nil {
			w.stop()
			<-w.done
			return nil, err
		}
	}
	return &harness{world: w, clock: clock}, nil
}

// crmEventBarrier returns once the bridge has applied every CRM event emitted so far. The
// bridge applies a site's events in order, so when an accept emitted now is visible on the
// media bar, everything before it has been handled.
func (h *harness) crmEventBarrier(ctx context.Context) error {
	if h.barrier == nil {
		a, err := h.newAgent(ctx, agentSetup{maxSessions: 1000})
		if err != nil {
			return fmt.Errorf("barrier agent: %w", err)
		}
		h.barrier = a
	}
	r, _, err := h.routeNewChat(ctx, h.barrier, "chat-support", "barrier offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	if err := h.crm.Respond(h.site, r.chatID, "accept"); err != nil {
		return err
	}
	_, err = waitLeg(ctx, h.barrier, r.interactionID, "barrier accepted", inState(bridge.StateActive))
	return err
}

// quiesce leaves no scenario agent ready in the ACD, so the next scenario's chats go only
// where it routes them. (An agent turns ready again when its CRM side turns green, with
// acd.ready_on_green; the ACD would then route new chats to it by itself.)
func (h *harness) quiesce() {
	for _, a := range h.agents {
		_ = h.acd.SetAgentReady(a.acdID, false, "scenario over")
	}
}

func (h *harness) close() {
	h.stop()
	<-h.done
}

// scAgent is one scenario's agent, logged in to CRM chat and to the media bar.
type scAgent struct {
	acdID, account, sessionID string
	mb                        *mediabarClient
}

type agentSetup struct {
	queues       []string // CRM profile queues (default: the demo queues)
	acdQueues    []string // ACD skills (default: the demo queues)
	maxSessions  int
	allowDecline bool
	autoAccept   bool
}

// newAgent creates an agent in both mocks (not ready in the ACD, so only explicit routings
// reach it) and logs it in to CRM chat and to the media bar.
func (h *harness) newAgent(ctx context.Context, s agentSetup) (*scAgent, error) {
	h.n++
	a := &scAgent{acdID: fmt.Sprintf("sc-agent-%d", h.n), account: fmt.Sprintf("sc-acct-%d", h.n), mb: newMediabarClient(h.bridgeURL)}
	if s.queues == nil {
		s.queues = demoQueueIDs()
	}
	if s.maxSessions == 0 {
		s.maxSessions = 3
	}
	if err := h.crm.CreateAgent(h.site, crmmock.Agent{AccountID: a.account, Queues: s.queues, MaxSessions: s.maxSessions, AllowDecline: s.allowDecline, AutoAccept: s.autoAccept}); err != nil {
		return nil, fmt.Errorf("crm agent: %w", err)
	}
	if s.acdQueues == nil {
		s.acdQueues = demoQueueIDs()
	}
	if err := h.acd.AddAgent(acdmock.Agent{ID: a.acdID, CRMAccountID: a.account, Queues: s.acdQueues, Capacity: 5, Ready: false}); err != nil {
		return nil, fmt.Errorf("acd agent: %w", err)
	}
	sid, err := h.crm.Login(h.site, a.account)
	if err != nil {
		return nil, fmt.Errorf("crm login: %w", err)
	}
	a.sessionID = sid
	if err := a.mb.login(ctx, httpapi.LoginRequest{AgentID: a.acdID, Site: h.site, CRMAccountID: a.account, CRMChatSessionID: sid}); err != nil {
		return nil, fmt.Errorf("media-bar login: %w", err)
	}
	h.agents = append(h.agents, a)
	return a, nil
}

// routed is one chat routed by the ACD to a scenario agent.
type routed struct {
	chatID, interactionID, routingID, queueID string
}

// route creates an ACD interaction for chatID (queued: no agent is ready) and has the ACD
// route it to the agent, which sends the signed interaction.routed webhook to the bridge.
func (h *harness) route(ctx context.Context, a *scAgent, chatID, queueID string) (routed, error) {
	iid, err := h.acd.CreateInteraction(ctx, chatID, h.site, queueID)
	if err != nil {
		return routed{}, fmt.Errorf("acd create: %w", err)
	}
	rid, err := h.acd.RouteTo(ctx, iid, a.acdID, "lead")
	if err != nil {
		return routed{}, fmt.Errorf("acd route: %w", err)
	}
	return routed{chatID: chatID, interactionID: iid, routingID: rid, queueID: queueID}, nil
}

// routeNewChat starts a customer chat in the queue, has the ACD route it to the agent, and
// waits until the agent's leg reaches one of the states.
func (h *harness) routeNewChat(ctx context.Context, a *scAgent, queueID, what string, states ...bridge.State) (routed, *bridge.Interaction, error) {
	chat, err := h.newChat(queueID)
	if err != nil {
		return routed{}, nil, err
	}
	r, err := h.route(ctx, a, chat, queueID)
	if err != nil {
		return routed{}, nil, err
	}
	in, err := waitLeg(ctx, a, r.interactionID, what, inState(states...))
	return r, in, err
}

// activeChat routes a new chat in chat-support to the agent, who accepts it in the CRM
// console, and waits until the media bar shows it active.
func (h *harness) activeChat(ctx context.Context, a *scAgent) (routed, error) {
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		return r, err
	}
	if err := h.crm.Respond(h.site, r.chatID, "accept"); err != nil {
		return r, err
	}
	_, err = waitLeg(ctx, a, r.interactionID, "active", inState(bridge.StateActive))
	return r, err
}

// newChat starts a customer chat in the CRM queue.
func (h *harness) newChat(queueID string) (string, error) {
	h.n++
	return h.crm.CreateChat(h.site, queueID, fmt.Sprintf("Scenario customer %d", h.n))
}

// waitLeg polls the agent's view of the interaction until cond holds.
func waitLeg(ctx context.Context, a *scAgent, iid string, what string, cond func(*bridge.Interaction) bool) (*bridge.Interaction, error) {
	var last *bridge.Interaction
	var lastErr error
	for {
		in, err := a.mb.interaction(ctx, iid)
		if err == nil {
			last = in
			if cond(in) {
				return in, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return nil, fmt.Errorf("waiting for %s: interaction %s stayed %s (code %q)", what, iid, last.State, last.Code)
			}
			return nil, fmt.Errorf("waiting for %s: %v", what, lastErr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func inState(states ...bridge.State) func(*bridge.Interaction) bool {
	return func(in *bridge.Interaction) bool {
		for _, s := range states {
			if in.State == s {
				return true
			}
		}
		return false
	}
}

// waitOutboxDrained waits until every ACD call the bridge decided on has been made.
//
// Calls held on purpose (ACDCall.NotBefore still ahead: the requeue of some earlier
// scenario's interaction that kept bouncing with no escalation queue) are not waited for.
func (h *harness) waitOutboxDrained(ctx context.Context) error {
	for {
		n, err := h.dueOutboxCalls(ctx)
		if err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ACD outbox not drained (depth %d, err %v)", n, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dueOutboxCalls counts the calls in the ACD outbox that are due now (not held).
func (h *harness) dueOutboxCalls(ctx context.Context) (int, error) {
	items, err := h.app.store.Items(ctx, bridge.QueueACDOutbox, "", 10000)
	if err != nil {
		return 0, err
	}
	due := 0
	for _, it := range items {
		var call bridge.ACDCall
		if json.Unmarshal(it.Payload, &call) == nil && time.Now().Before(call.NotBefore) {
			continue
		}
		due++
	}
	return due, nil
}

func allScenarios() []scenario {
	out := []scenario{
		{name: "pop-success-through-complete", run: scenarioPopThroughComplete},
		{name: "duplicate-webhook-20x-one-pop", run: scenarioDuplicateWebhook},
	}
	out = append(out, crmScenarios()...)
	for _, c := range codeCases {
		out = append(out, scenario{name: "code/" + string(c.code), run: c.scenario()})
	}
	out = append(out, offerScenarios()...)
	out = append(out, intakeScenarios()...)
	out = append(out, reconcilerScenarios()...)
	out = append(out, acdScenarios()...)
	out = append(out, escalationScenarios()...)
	out = append(out, secondLegScenarios()...)
	out = append(out, diagnosticsScenarios()...)
	out = append(out, wrapUpScenarios()...)
	return append(out, statusScenarios()...)
}

func scenarioPopThroughComplete(ctx context.Context, h *harness) error {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return err
	}
	r, _, err := h.routeNewChat(ctx, a, "chat-sales", "offered", bridge.StateOffered)
	if err != nil {
		return err
	}
	chat := r.chatID
	if err := h.crm.Respond(h.site, chat, "accept"); err != nil {
		return fmt.Errorf("agent accepts in the CRM console: %w", err)
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "active", inState(bridge.StateActive)); err != nil {
		return err
	}
	if err := h.crm.Conclude(h.site, chat, "END_USER_CONCLUDED"); err != nil {
		return fmt.Errorf("customer ends the chat: %w", err)
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "wrap-up", inState(bridge.StateWrapUp)); err != nil {
		return err
	}
	// Sales requires a disposition: Complete without one is refused and changes nothing.
	_, err = a.mb.complete(ctx, r.interactionID, "")
	var se *apiStatusError
	if !errors.As(err, &se) || se.Status != 422 || se.Body.Error != "disposition_required" {
		return fmt.Errorf("complete without disposition = %v, want 422 disposition_required", err)
	}
	if in, _ := a.mb.interaction(ctx, r.interactionID); in == nil || in.State != bridge.StateWrapUp {
		return fmt.Errorf("refused complete changed the interaction: %+v", in)
	}
	done, err := a.mb.complete(ctx, r.interactionID, "Resolved")
	if err != nil {
		return fmt.Errorf("complete with disposition: %w", err)
	}
	want := bridgeerr.Descriptor{Role: "RoutedTo", Result: "Completed"}
	if done.State != bridge.StateCompleted || done.Descriptor == nil || *done.Descriptor != want {
		return fmt.Errorf("completed leg = state %s descriptor %v, want completed %v", done.State, done.Descriptor, want)
	}
	if err := h.waitOutboxDrained(ctx); err != nil {
		return err
	}
	if n := h.acd.Applied(acdmock.KindComplete, r.interactionID); n != 1 {
		return fmt.Errorf("ACD applied %d complete calls, want 1", n)
	}
	if n := h.acd.Applied(acdmock.KindRequeue, r.interactionID); n != 0 {
		return fmt.Errorf("ACD applied %d requeue calls, want 0", n)
	}
	for _, c := range h.acd.Calls() {
		if c.Kind == acdmock.KindComplete && c.InteractionID == r.interactionID && c.Disposition != "Resolved" {
			return fmt.Errorf("ACD complete carried disposition %q, want Resolved", c.Disposition)
		}
	}
	if legs, _ := a.mb.interactions(ctx); len(legs) != 0 {
		return fmt.Errorf("completed interaction still on the media bar: %d legs", len(legs))
	}
	return nil
}
