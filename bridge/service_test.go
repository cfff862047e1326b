package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

type fixture struct {
	svc     *bridge.Service
	store   *sessions.Store
	work    bridge.WorkQueue
	crm     *bridgetest.CRM
	acd     *bridgetest.ACD
	catalog *bridgeerr.Catalog
}

// newFixture builds the service over a real Redis (sessionstest) with fake CRM and ACD.
// work, when not nil, wraps the store's work queue (to inject failures).
func newFixture(t *testing.T, wrap func(bridge.WorkQueue) bridge.WorkQueue) *fixture {
	t.Helper()
	return newFixtureWith(t, wrap, nil, 0)
}

// newFixtureWith is newFixture on the given clock (nil: the wall clock), with up to inline
// inline pops (0: every pop waits for Pop or a worker); tune, when given, adjusts the
// store's options.
func newFixtureWith(t *testing.T, wrap func(bridge.WorkQueue) bridge.WorkQueue, clock bridge.Clock, inline int, tune ...func(*sessions.Options)) *fixture {
	t.Helper()
	return buildFixture(t, fixtureSetup{wrapWork: wrap, clock: clock, inline: inline, tune: tune})
}

// fixtureSetup is what newFixtureWith takes, and wrapStore: when not nil, it wraps the store
// the service writes legs through (the fixture's own reads bypass it).
type fixtureSetup struct {
	wrapWork  func(bridge.WorkQueue) bridge.WorkQueue
	wrapStore func(bridge.Store) bridge.Store
	clock     bridge.Clock
	inline    int
	tune      []func(*sessions.Options)
}

func buildFixture(t *testing.T, setup fixtureSetup) *fixture {
	t.Helper()
	rdb, prefix := sessionstest.Redis(t)
	opts := sessions.Options{Prefix: prefix, ReclaimIdle: 100 * time.Millisecond, BlockFor: 50 * time.Millisecond}
	for _, f := range setup.tune {
		f(&opts)
	}
	store := sessions.New(rdb, opts)
	f := &fixture{store: store, crm: &bridgetest.CRM{}, acd: &bridgetest.ACD{}, catalog: bridgeerr.Default()}
	f.work = store
	if setup.wrapWork != nil {
		f.work = setup.wrapWork(store)
	}
	var legs bridge.Store = store
	if setup.wrapStore != nil {
		legs = setup.wrapStore(store)
	}
	clock, inline := setup.clock, setup.inline
	svc, err := bridge.New(bridge.Options{
		Sites: map[string]bridge.SiteOptions{"demo": {Catalog: f.catalog, Queues: map[string]bridge.QueueOptions{
			"sales": {Name: "Sales", DispositionRequired: true, Dispositions: []string{"Resolved", "Follow-up"},
				EscalationQueue: "support"},
			"support": {Name: "Support", DispositionRequired: true, Dispositions: []string{"Resolved"},
				DefaultDisposition: "Resolved", WrapUpTimeout: 2 * time.Minute},
		}}},
		PopBudget: time.Second, PopRetries: 2, LeaseTTL: 3 * time.Second, DeclineNotReady: true,
		InlinePops: inline, InlineConsumer: "test-inline",
	}, bridge.Deps{CRM: f.crm, ACD: f.acd, Store: legs, Work: f.work, Events: store, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// login logs agent in with CRM account acct-<agent>.
func (f *fixture) login(t *testing.T, agent string) {
	t.Helper()
	if _, err := f.svc.Login(context.Background(), bridge.Login{AgentID: agent, Site: "demo", CRMAccountID: "acct-" + agent, CRMChatSessionID: "sess-acct-" + agent}); err != nil {
		t.Fatalf("Login(%s) = %v", agent, err)
	}
}

func routedCmd(iid, agent string) bridge.Routed {
	return bridge.Routed{EventID: "evt-" + iid, InteractionID: iid, RoutingID: "r1", ChatID: "chat-" + iid, Site: "demo",
		QueueID: "sales", AgentID: agent, RouteType: bridge.RouteLead}
}

// route records a routing and pops it synchronously.
func (f *fixture) route(t *testing.T, iid, agent string) *bridge.Interaction {
	t.Helper()
	ctx := context.Background()
	out, err := f.svc.Routed(ctx, routedCmd(iid, agent))
	if err != nil {
		t.Fatalf("Routed() = %v", err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatalf("Pop() = %v", err)
	}
	in, err := f.store.GetLeg(ctx, out.Key)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// drainOutbox runs the outbox until the fake ACD has n calls (or fails the test).
func (f *fixture) drainOutbox(t *testing.T, n int) []bridge.ACDCall {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { _ = f.svc.RunOutbox(ctx, "test-outbox"); close(done) }()
	for len(f.acd.Calls()) < n && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a surplus call would show up here
	cancel()
	<-done
	calls := f.acd.Calls()
	if len(calls) != n {
		t.Fatalf("ACD received %d calls, want %d: %+v", len(calls), n, calls)
	}
	return calls
}

// callOf returns the first call of a kind (zero if none).
func callOf(calls []bridge.ACDCall, kind bridge.ACDCallKind) bridge.ACDCall {
	for _, c := range calls {
		if c.Kind == kind {
			return c
		}
	}
	return bridge.ACDCall{}
}

func answer(code string) func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
	return func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		return bridge.RouteResult{Code: code}, nil
	}
}

func TestPopAppliesCatalogDecision(t *testing.T) {
	tests := []struct {
		name         string
		crm          func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error)
		wantState    bridge.State
		wantCode     string
		wantRequeue  bool
		wantNotReady bool
		wantGreen    bool
		wantAttempts int
	}{
		{name: "success", crm: answer("SUCCESS"), wantState: bridge.StateOffered, wantCode: "SUCCESS", wantGreen: true, wantAttempts: 1},
		{name: "agent absent", crm: answer("AGENT_ABSENT"), wantState: bridge.StateFailed, wantCode: "AGENT_ABSENT", wantRequeue: true, wantNotReady: true, wantAttempts: 1},
		{name: "chat gone, no requeue", crm: answer("COULD_NOT_RESERVE_ENGAGEMENT"), wantState: bridge.StateFailed, wantCode: "COULD_NOT_RESERVE_ENGAGEMENT", wantGreen: true, wantAttempts: 1},
		{name: "transient retried then requeued", crm: answer("RNW_API_EXCEPTION"), wantState: bridge.StateFailed, wantCode: "RNW_API_EXCEPTION", wantRequeue: true, wantGreen: true, wantAttempts: 3},
		{name: "unknown code: safe default", crm: answer("BRAND_NEW_CODE"), wantState: bridge.StateFailed, wantCode: "BRAND_NEW_CODE", wantRequeue: true, wantGreen: true, wantAttempts: 1},
		{name: "empty code is malformed", crm: answer(""), wantState: bridge.StateFailed, wantCode: string(bridgeerr.MalformedCRMReply), wantRequeue: true, wantGreen: true, wantAttempts: 1},
		{name: "malformed reply", crm: func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
			return bridge.RouteResult{}, fmt.Errorf("decode: %w", bridge.ErrMalformedReply)
		}, wantState: bridge.StateFailed, wantCode: string(bridgeerr.MalformedCRMReply), wantRequeue: true, wantGreen: true, wantAttempts: 1},
		{name: "CRM unreachable", crm: func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
			return bridge.RouteResult{}, fmt.Errorf("dial: %w", bridge.ErrUnavailable)
		}, wantState: bridge.StateFailed, wantCode: string(bridgeerr.CRMUnreachable), wantRequeue: true, wantAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.crm.RouteChatFn = tt.crm
			f.login(t, "a1")
			in := f.route(t, "i1", "a1")
			if in.State != tt.wantState || in.Code != tt.wantCode || in.PopAttempts != tt.wantAttempts {
				t.Fatalf("leg = state %s code %q attempts %d, want %s %q %d", in.State, in.Code, in.PopAttempts, tt.wantState, tt.wantCode, tt.wantAttempts)
			}
			if !strings.Contains(in.Message, tt.wantCode) && tt.wantCode != "SUCCESS" && !strings.HasPrefix(tt.wantCode, "BRIDGE_") {
				t.Errorf("message %q does not show the verbatim code %s", in.Message, tt.wantCode)
			}
			n := 0
			if tt.wantRequeue {
				n++
			}
			if tt.wantNotReady {
				n++
			}
			calls := f.drainOutbox(t, n)
			requeues := 0
			for _, c := range calls {
				if c.Kind == bridge.ACDRequeue {
					requeues++
					if c.Reason != tt.wantCode || c.IdempotencyKey == "" {
						t.Errorf("requeue call = %+v, want reason %s and an idempotency key", c, tt.wantCode)
					}
				}
			}
			if (requeues == 1) != tt.wantRequeue {
				t.Errorf("requeues = %d, want requeue %v", requeues, tt.wantRequeue)
			}
			sess, err := f.svc.Session(context.Background(), "a1")
			if err != nil || sess.Channel.Green != tt.wantGreen {
				t.Errorf("channel = %+v (%v), want green %v", sess.Channel, err, tt.wantGreen)
			}
		})
	}
}

func TestUnknownCodeIsCounted(t *testing.T) {
	f := newFixture(t, nil)
	f.crm.RouteChatFn = answer("NEVER_SEEN_BEFORE")
	f.login(t, "a1")
	f.route(t, "i1", "a1")
	if got := f.catalog.UnknownSeen(); got == 0 {
		t.Errorf("UnknownSeen() = 0 after an unknown code")
	}
}

func TestRoutedTwiceIsOnePop(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	var wg sync.WaitGroup
	var created atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
			if err != nil {
				t.Errorf("Routed() = %v", err)
				return
			}
			if !out.Duplicate {
				created.Add(1)
			}
			_ = f.svc.Pop(ctx, out.Key) // every delivery also tries to pop
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Errorf("%d routings recorded as new, want 1", created.Load())
	}
	if n := len(f.crm.Routes()); n != 1 {
		t.Errorf("CRM saw %d route calls, want 1", n)
	}
	depth, _ := f.work.Depth(ctx, bridge.QueuePops)
	if depth != 1 {
		t.Errorf("pop queue depth = %d, want 1 item for 20 deliveries", depth)
	}
}

// A fresh pop's first call goes out with no write before it, and its answer is the leg's
// one write: routed → offered at version 2, with the attempt and the account, and a timeline
// in the order things happened (start, answer, decision).
func TestFirstPopWritesTheLegOnceAfterTheCRMAnswers(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	var during *bridge.Interaction
	f.crm.RouteChatFn = func(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
		during, _ = f.store.GetLeg(ctx, out.Key)
		return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if during == nil || during.State != bridge.StateRouted || during.Version != 1 {
		t.Fatalf("during the first call the leg was %+v, want routed at version 1 (no write before the call)", during)
	}
	got, _ := f.store.GetLeg(ctx, out.Key)
	if got.State != bridge.StateOffered || got.Version != 2 || got.PopAttempts != 1 || got.CRMAccountID != "acct-a1" {
		t.Fatalf("after the pop: %s v%d attempts %d account %q, want offered v2, attempt 1, acct-a1", got.State, got.Version, got.PopAttempts, got.CRMAccountID)
	}
	tl, err := f.store.Timeline(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pop_start: routed, sending chatRouted attempt 1", "answered SUCCESS", "pop_offered: routed -> offered"}
	i := 0
	for _, e := range tl {
		if i < len(want) && strings.Contains(e.Detail, want[i]) {
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("timeline %+v lacks, in order, %q", tl, want[i:])
	}
}

func TestTakeoverReplaysSameTransaction(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	// First replica: the CRM call is cut off by shutdown mid-flight.
	cctx, cancel := context.WithCancel(ctx)
	f.crm.RouteChatFn = func(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
		cancel()
		return bridge.RouteResult{}, ctx.Err()
	}
	if err := f.svc.Pop(cctx, out.Key); err == nil {
		t.Fatal("Pop() after cancellation = nil, want an error so the work item is retried")
	}
	in, _ := f.store.GetLeg(ctx, out.Key)
	if in.State != bridge.StateRouted {
		t.Fatalf("interrupted first pop left state %s, want routed (nothing is written before a first call)", in.State)
	}
	// Another replica takes over once the lease is released.
	f.crm.RouteChatFn = answer("SUCCESS")
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	routes := f.crm.Routes()
	if len(routes) != 2 || routes[0].TransactionID != routes[1].TransactionID {
		t.Fatalf("takeover transaction ids = %+v, want the same id twice (a CRM replay, not a second route)", routes)
	}
	in, _ = f.store.GetLeg(ctx, out.Key)
	if in.State != bridge.StateOffered {
		t.Errorf("after takeover state = %s, want offered", in.State)
	}
}

// failingOutbox fails the first n enqueues on one queue (the ACD outbox unless set), as a
// Redis hiccup would.
type failingOutbox struct {
	bridge.WorkQueue
	queue string
	fail  atomic.Int32
}

func (w *failingOutbox) Enqueue(ctx context.Context, queue string, payload []byte) error {
	target := w.queue
	if target == "" {
		target = bridge.QueueACDOutbox
	}
	if queue == target && w.fail.Add(-1) >= 0 {
		return errors.New("redis: connection reset")
	}
	return w.WorkQueue.Enqueue(ctx, queue, payload)
}

func TestRequeueSurvivesOutboxFailure(t *testing.T) {
	var fo *failingOutbox
	f := newFixture(t, func(w bridge.WorkQueue) bridge.WorkQueue {
		fo = &failingOutbox{WorkQueue: w}
		fo.fail.Store(1)
		return fo
	})
	f.crm.RouteChatFn = answer("COULD_NOT_ASSIGN_ENGAGEMENT")
	f.login(t, "a1")
	ctx := context.Background()
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pop(ctx, out.Key); err == nil {
		t.Fatal("Pop() = nil although the requeue could not be enqueued")
	}
	if in, _ := f.store.GetLeg(ctx, out.Key); in.State.Terminal() || in.State == bridge.StateFailed {
		t.Fatalf("leg reached %s without its requeue being stored", in.State)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil { // the work item's retry
		t.Fatal(err)
	}
	calls := f.drainOutbox(t, 1)
	if calls[0].Kind != bridge.ACDRequeue {
		t.Errorf("call = %+v, want the requeue", calls[0])
	}
	if n := len(f.crm.Routes()); n != 2 || f.crm.Routes()[0].TransactionID != f.crm.Routes()[1].TransactionID {
		t.Errorf("retry re-routed with a new transaction: %+v", f.crm.Routes())
	}
}

func TestLateEventsAreAbsorbed(t *testing.T) {
	f := newFixture(t, nil)
	f.crm.RouteChatFn = answer("CHAT_ID_UNKNOWN")
	f.login(t, "a1")
	ctx := context.Background()
	f.route(t, "i1", "a1")
	done, err := f.svc.Complete(ctx, "a1", "i1", "")
	if err != nil || done.State != bridge.StateCompleted {
		t.Fatalf("Complete() = %+v, %v", done, err)
	}
	// Abandon and revoke after complete change nothing.
	if in, err := f.svc.Abandon(ctx, "i1", "r1", "a1", "alerting"); err != nil || in.State != bridge.StateCompleted || in.Version != done.Version {
		t.Errorf("Abandon after complete = %+v, %v; want unchanged", in, err)
	}
	if in, err := f.svc.Revoke(ctx, "i1", "r1", "a1", ""); err != nil || in.State != bridge.StateCompleted {
		t.Errorf("Revoke after complete = %+v, %v; want unchanged", in, err)
	}
	tl, _ := f.svc.Timeline(ctx, "i1")
	absorbed := 0
	for _, e := range tl {
		if e.Kind == bridge.TimelineAbsorbed {
			absorbed++
		}
	}
	if absorbed != 2 {
		t.Errorf("timeline has %d absorbed entries, want 2: %+v", absorbed, tl)
	}
}

func TestCompleteRules(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	f.login(t, "a2")
	ctx := context.Background()
	f.route(t, "i1", "a1")
	_ = f.svc.HandleCRMEvent(ctx, "demo", bridge.CRMEvent{Type: bridge.CRMEngagementAccepted, ChatID: "chat-i1", AgentAccountID: "acct-a1"})
	_ = f.svc.HandleCRMEvent(ctx, "demo", bridge.CRMEvent{Type: bridge.CRMEngagementConcluded, ChatID: "chat-i1", EndReason: "END_USER_CONCLUDED"})
	in, _ := f.svc.AgentLeg(ctx, "a1", "i1")
	if in.State != bridge.StateWrapUp {
		t.Fatalf("state after accept+conclude = %s, want wrapup", in.State)
	}
	tests := []struct {
		name, agent, disposition string
		want                     error
	}{
		{name: "another agent", agent: "a2", want: bridge.ErrForbidden},
		{name: "no disposition on a required queue", agent: "a1", want: bridge.ErrDispositionRequired},
		{name: "disposition not in list", agent: "a1", disposition: "Whatever", want: bridge.ErrUnknownDisposition},
		{name: "ok", agent: "a1", disposition: "Resolved"},
		{name: "twice", agent: "a1", disposition: "Resolved", want: bridge.ErrNotCompletable},
	}
	for _, tt := range tests {
		_, err := f.svc.Complete(ctx, tt.agent, "i1", tt.disposition)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("%s: Complete() = %v, want %v", tt.name, err, tt.want)
		}
	}
	calls := f.drainOutbox(t, 2) // the accept when the chat went active, then the complete
	if c := callOf(calls, bridge.ACDComplete); c.Disposition != "Resolved" || callOf(calls, bridge.ACDAccept).Kind == "" {
		t.Errorf("ACD calls = %+v, want an accept and one complete with Resolved", calls)
	}
}

func TestLoginRefusals(t *testing.T) {
	tests := []struct {
		name     string
		give     bridge.CRMAgentSession
		wantCode string
	}{
		{name: "unknown account", give: bridge.CRMAgentSession{Code: "AGENT_ID_UNKNOWN"}, wantCode: "AGENT_ID_UNKNOWN"},
		{name: "not logged in to CRM chat", give: bridge.CRMAgentSession{Code: "INVALID_AGENT_SESSION"}, wantCode: "INVALID_AGENT_SESSION"},
		{name: "other session", give: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "other", Presence: "ACTIVE", StatusType: "AVAILABLE"}, wantCode: "INVALID_AGENT_SESSION"},
		{name: "absent", give: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "sess-acct-a1", Presence: "ABSENT", StatusType: "AVAILABLE"}, wantCode: "ABSENT"},
		{name: "unavailable status", give: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "sess-acct-a1", Presence: "ACTIVE", StatusType: "UNAVAILABLE", StatusName: "On Break"}, wantCode: "AGENT_NOT_ACTIVE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.crm.AgentSessionFn = func(context.Context, string, string) (bridge.CRMAgentSession, error) { return tt.give, nil }
			_, err := f.svc.Login(context.Background(), bridge.Login{AgentID: "a1", Site: "demo", CRMAccountID: "acct-a1", CRMChatSessionID: "sess-acct-a1"})
			var refused *bridge.LoginRefusedError
			if !errors.As(err, &refused) || refused.Code != tt.wantCode || refused.Message == "" {
				t.Fatalf("Login() = %v, want refusal %s with a message", err, tt.wantCode)
			}
			if _, err := f.svc.Session(context.Background(), "a1"); !errors.Is(err, bridge.ErrNotLoggedIn) {
				t.Errorf("refused login stored a session: %v", err)
			}
		})
	}
}

func TestRoutedToAgentWithoutSessionIsRequeued(t *testing.T) {
	f := newFixture(t, nil)
	in := f.route(t, "i1", "nobody")
	if in.State != bridge.StateFailed || in.Code != string(bridgeerr.AgentNotLoggedIn) {
		t.Fatalf("leg = %s %s, want failed %s", in.State, in.Code, bridgeerr.AgentNotLoggedIn)
	}
	if len(f.crm.Routes()) != 0 {
		t.Errorf("popped to the CRM without an account")
	}
	f.drainOutbox(t, 2) // requeue + not ready
}

func TestAgentChannelFollowsCRMAgentEvents(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	ev := func(seq int64, typ string, mod func(*bridge.CRMEvent)) bridge.CRMEvent {
		e := bridge.CRMEvent{Seq: seq, Type: typ, AgentAccountID: "acct-a1"}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	steps := []struct {
		name       string
		ev         bridge.CRMEvent
		wantGreen  bool
		wantReason string
		wantBanner bool
	}{
		{"status unavailable", ev(1, bridge.CRMAgentStatusChanged, func(e *bridge.CRMEvent) { e.StatusType, e.StatusName = "UNAVAILABLE", "On Break" }), false, "AGENT_NOT_ACTIVE", false},
		{"status available again", ev(2, bridge.CRMAgentStatusChanged, func(e *bridge.CRMEvent) { e.StatusType = "AVAILABLE" }), true, "", false},
		{"absent with countdown", ev(3, bridge.CRMAgentConnectionStateChanged, func(e *bridge.CRMEvent) { e.Presence, e.MissedIntervals, e.SecondsToDisconnect = "ABSENT", 1, 240 }), false, "AGENT_ABSENT", false},
		{"available does not clear absence", ev(4, bridge.CRMAgentStatusChanged, func(e *bridge.CRMEvent) { e.StatusType = "AVAILABLE" }), false, "AGENT_ABSENT", false},
		{"present again", ev(5, bridge.CRMAgentConnectionStateChanged, func(e *bridge.CRMEvent) { e.Presence = "ACTIVE" }), true, "", false},
		{"disconnected", ev(6, bridge.CRMAgentConnectionStateChanged, func(e *bridge.CRMEvent) { e.Presence = "DISCONNECTED" }), false, "AGENT_DISCONNECTED", true},
		{"presence alone does not heal a disconnect", ev(7, bridge.CRMAgentConnectionStateChanged, func(e *bridge.CRMEvent) { e.Presence = "ACTIVE" }), false, "AGENT_DISCONNECTED", true},
		{"another account's event", bridge.CRMEvent{Seq: 8, Type: bridge.CRMAgentLoggedOff, AgentAccountID: "acct-zz"}, false, "AGENT_DISCONNECTED", true},
	}
	for _, st := range steps {
		if err := f.svc.HandleCRMEvent(ctx, "demo", st.ev); err != nil {
			t.Fatalf("%s: HandleCRMEvent() = %v", st.name, err)
		}
		sess, err := f.svc.Session(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		ch := sess.Channel
		if ch.Green != st.wantGreen || ch.Reason != st.wantReason || ch.Banner != st.wantBanner {
			t.Errorf("%s: channel = %+v, want green=%v reason=%q banner=%v", st.name, ch, st.wantGreen, st.wantReason, st.wantBanner)
		}
		if st.wantReason == "AGENT_ABSENT" && (ch.SecondsToDisconnect != 240 || !strings.Contains(ch.Message, "240")) {
			t.Errorf("%s: absent channel lacks the countdown: %+v", st.name, ch)
		}
	}
	// Replaying an event already applied changes nothing and calls the ACD no more.
	if err := f.svc.HandleCRMEvent(ctx, "demo", steps[5].ev); err != nil {
		t.Fatal(err)
	}
	// Each green → red step (1, 3, 6) sets the agent not ready; red → green (2, 5) makes no
	// call because ReadyOnGreen is off in this fixture.
	calls := f.drainOutbox(t, 3)
	var got []string
	for _, c := range calls {
		if c.Kind != bridge.ACDAgentState || c.Ready {
			t.Errorf("unexpected ACD call %+v", c)
		}
		got = append(got, c.Reason)
	}
	want := []string{"AGENT_NOT_ACTIVE", "AGENT_ABSENT", "AGENT_DISCONNECTED"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("not-ready reasons = %v, want %v", got, want)
	}
	evs, err := f.store.Read(ctx, "a1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	channelEvents := 0
	for _, e := range evs {
		if e.Type == bridge.EventChannelUpdated {
			channelEvents++
		}
	}
	if channelEvents != 1+5 { // login + the five changes (steps 1, 2, 3, 5, 6)
		t.Errorf("media bar got %d channel events, want 6", channelEvents)
	}
}

// pollingCRM serves a fixed list of events from afterSeq on and records every poll.
type pollingCRM struct {
	bridgetest.CRM
	mu     sync.Mutex
	events []bridge.CRMEvent
	polls  []int64
}

func newPollingCRM(events ...bridge.CRMEvent) *pollingCRM {
	p := &pollingCRM{events: events}
	p.PollEventsFn = func(ctx context.Context, site string, after int64) ([]bridge.CRMEvent, error) {
		p.mu.Lock()
		p.polls = append(p.polls, after)
		var out []bridge.CRMEvent
		for _, e := range p.events {
			if e.Seq > after {
				out = append(out, e)
			}
		}
		p.mu.Unlock()
		if len(out) == 0 { // the long-poll's timeout marker, quickly
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		return out, nil
	}
	return p
}

func (p *pollingCRM) pollsSeen() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.polls...)
}

func TestOneCRMEventConsumerPerSiteWithTakeover(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	status := func(seq int64, typ string) bridge.CRMEvent {
		return bridge.CRMEvent{Seq: seq, Type: bridge.CRMAgentStatusChanged, AgentAccountID: "acct-a1", StatusType: typ, StatusName: typ}
	}
	crmA := newPollingCRM(status(1, "UNAVAILABLE"), status(2, "AVAILABLE"), status(3, "UNAVAILABLE"))
	crmB := newPollingCRM(status(1, "UNAVAILABLE"), status(2, "AVAILABLE"), status(3, "UNAVAILABLE"), status(4, "AVAILABLE"))
	replica := func(crm bridge.CRM) *bridge.Service {
		svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: f.catalog}},
			PopBudget: time.Second, ConsumerLockTTL: 300 * time.Millisecond},
			bridge.Deps{CRM: crm, ACD: f.acd, Store: f.store, Work: f.store, Events: f.store})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	ctxA, stopA := context.WithCancel(ctx)
	doneA := make(chan struct{})
	go func() { _ = replica(crmA).RunCRMEvents(ctxA, "demo"); close(doneA) }()
	waitFor(t, "replica A consumed up to seq 3", func() bool { c, _ := f.store.Cursor(ctx, "crm-events/demo"); return c == 3 })

	ctxB, stopB := context.WithCancel(ctx)
	defer stopB()
	doneB := make(chan struct{})
	go func() { _ = replica(crmB).RunCRMEvents(ctxB, "demo"); close(doneB) }()
	time.Sleep(time.Second) // three lock TTLs: B must stay on standby
	if polls := crmB.pollsSeen(); len(polls) != 0 {
		t.Fatalf("replica B polled %v while A held the site", polls)
	}
	stopA()
	<-doneA
	waitFor(t, "replica B took over and consumed seq 4", func() bool { c, _ := f.store.Cursor(ctx, "crm-events/demo"); return c == 4 })
	if polls := crmB.pollsSeen(); polls[0] != 3 {
		t.Errorf("replica B started at seq %d, want 3 (where A stopped), not a replay", polls[0])
	}
	sess, _ := f.svc.Session(ctx, "a1")
	if !sess.Channel.Green {
		t.Errorf("channel after the last event (available) = %+v, want green", sess.Channel)
	}
	stopB()
	<-doneB
}

// cursorCountingStore counts the CRM event cursor's writes.
type cursorCountingStore struct {
	*sessions.Store
	writes atomic.Int32
}

func (c *cursorCountingStore) SetCursor(ctx context.Context, name string, fence, value int64) error {
	c.writes.Add(1)
	return c.Store.SetCursor(ctx, name, fence, value)
}

// While events flow one per poll, the cursor is stored at most every so often (not once per
// poll, a Redis round trip per pop under load), and the holder that stops stores where it
// got to: the next holder starts there, replaying nothing.
func TestCRMEventCursorIsStoredSparinglyAndOnStop(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	const n = 200
	var next atomic.Int64
	crm := &bridgetest.CRM{PollEventsFn: func(ctx context.Context, site string, after int64) ([]bridge.CRMEvent, error) {
		if seq := next.Add(1); seq <= n { // one event per poll, as under load
			return []bridge.CRMEvent{{Seq: seq, Type: bridge.CRMAgentStatusChanged, AgentAccountID: "acct-a1", StatusType: "AVAILABLE", StatusName: "Available"}}, nil
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	store := &cursorCountingStore{Store: f.store}
	svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: f.catalog}}, PopBudget: time.Second},
		bridge.Deps{CRM: crm, ACD: f.acd, Store: store, Work: f.store, Events: f.store})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = svc.RunCRMEvents(cctx, "demo"); close(done) }()
	waitFor(t, "all events polled", func() bool { return next.Load() > n })
	stop()
	<-done
	if c, err := f.store.Cursor(ctx, "crm-events/demo"); err != nil || c != n {
		t.Fatalf("cursor after the holder stopped = %d, %v; want %d", c, err, n)
	}
	if w := store.writes.Load(); w >= n/2 {
		t.Errorf("%d cursor writes for %d polls with one event each, want far fewer", w, n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A leg stored whose pop could not be queued is not stranded: the ACD's retry of the webhook
// (a duplicate) re-queues the pop once the leg is visibly not being popped.
func TestRoutedRetryRequeuesALostPop(t *testing.T) {
	// The pop queue holds one item at most, and a stray one fills it: the routing's pop
	// (queued in the same round trip as the leg) is refused as Redis would refuse it.
	f := newFixtureWith(t, nil, nil, 0, func(o *sessions.Options) { o.QueueMaxLen = 1 })
	f.login(t, "a1")
	ctx := context.Background()
	if err := f.work.Enqueue(ctx, bridge.QueuePops, []byte(`{"interaction_id":"stray","routing_id":"r"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); !errors.Is(err, bridge.ErrStoreUnavailable) || !errors.Is(err, bridge.ErrNotQueued) {
		t.Fatalf("Routed() with the pop queue full = %v, want ErrStoreUnavailable and ErrNotQueued (so the ACD retries)", err)
	}
	if in, err := f.store.GetLeg(ctx, bridge.LegKey{InteractionID: "i1", RoutingID: "r1"}); err != nil || in.State != bridge.StateRouted {
		t.Fatalf("leg after the refused pop = %+v, %v; want it stored, routed", in, err)
	}
	stray, err := f.work.Items(ctx, bridge.QueuePops, "", 10)
	if err != nil || len(stray) != 1 {
		t.Fatalf("pop queue = %+v, %v; want the stray item alone", stray, err)
	}
	if err := f.work.Remove(ctx, bridge.QueuePops, stray[0].ID); err != nil {
		t.Fatal(err)
	}
	// An immediate retry is a plain duplicate (the first pop may simply not have run yet).
	if out, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil || !out.Duplicate {
		t.Fatalf("immediate retry = %+v, %v; want a duplicate", out, err)
	}
	if depth, _ := f.work.Depth(ctx, bridge.QueuePops); depth != 0 {
		t.Fatalf("pop queue depth = %d right after the failure, want 0", depth)
	}
	time.Sleep(1100 * time.Millisecond)
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil || !out.Duplicate {
		t.Fatalf("later retry = %+v, %v; want a duplicate", out, err)
	}
	if depth, _ := f.work.Depth(ctx, bridge.QueuePops); depth != 1 {
		t.Fatalf("pop queue depth = %d after the later retry, want 1 (the lost pop re-queued)", depth)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if in, _ := f.store.GetLeg(ctx, out.Key); in.State != bridge.StateOffered || len(f.crm.Routes()) != 1 {
		t.Errorf("leg = %s after %d CRM routes, want offered after 1", in.State, len(f.crm.Routes()))
	}
}

// The chaos run's cases: a pop fails and is requeued, and the ACD routes the same chat back to
// the same agent. The earlier failed leg must stay completable (named by its routing, or as
// the newest open leg once the later one ends), or it would stay open for ever; and a
// Complete for it must never complete the chat the agent is in.
func TestEarlierFailedLegOfTheSameInteractionStaysCompletable(t *testing.T) {
	f := newFixture(t, nil)
	f.login(t, "a1")
	ctx := context.Background()
	f.crm.RouteChatFn = func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		return bridge.RouteResult{Code: "COULD_NOT_RESERVE_ENGAGEMENT"}, nil
	}
	first := f.route(t, "i1", "a1")
	if first.State != bridge.StateFailed {
		t.Fatalf("first leg = %s, want failed", first.State)
	}
	f.crm.RouteChatFn = nil // SUCCESS from now on
	again := routedCmd("i1", "a1")
	again.EventID, again.RoutingID = "evt-i1-again", "r2"
	out, err := f.svc.Routed(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	_ = f.svc.HandleCRMEvent(ctx, "demo", bridge.CRMEvent{Type: bridge.CRMEngagementAccepted, ChatID: "chat-i1", AgentAccountID: "acct-a1"})
	if in, _ := f.svc.AgentLeg(ctx, "a1", "i1"); in == nil || in.RoutingID != "r2" || in.State != bridge.StateActive {
		t.Fatalf("AgentLeg with both open = %+v, want the later, active r2", in)
	}
	// Naming the routing reaches the earlier leg while the later one is open: a Complete
	// meant for the failure notice must not complete the chat the agent is in.
	if in, _ := f.svc.AgentLeg(bridge.ForRouting(ctx, "r1"), "a1", "i1"); in == nil || in.RoutingID != "r1" {
		t.Fatalf("AgentLeg for routing r1 = %+v, want r1", in)
	}
	if _, err := f.svc.AgentLeg(bridge.ForRouting(ctx, "r9"), "a1", "i1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("AgentLeg for an unknown routing = %v, want ErrNotFound", err)
	}
	f.login(t, "a2")
	if _, err := f.svc.AgentLeg(bridge.ForRouting(ctx, "r1"), "a2", "i1"); !errors.Is(err, bridge.ErrForbidden) {
		t.Fatalf("another agent naming a1's routing = %v, want ErrForbidden", err)
	}
	if in, err := f.svc.Complete(bridge.ForRouting(ctx, "r1"), "a1", "i1", ""); err != nil || in.RoutingID != "r1" || in.State != bridge.StateCompleted {
		t.Fatalf("Complete of routing r1 = %+v %v, want r1 completed", in, err)
	}
	if in, _ := f.svc.AgentLeg(ctx, "a1", "i1"); in == nil || in.RoutingID != "r2" || in.State != bridge.StateActive {
		t.Fatalf("after completing r1 the chat = %+v, want r2 still active", in)
	}
	if in, err := f.svc.Complete(ctx, "a1", "i1", "Resolved"); err != nil || in.RoutingID != "r2" {
		t.Fatalf("Complete = %+v %v, want r2 completed", in, err)
	}
	if _, err := f.svc.Complete(ctx, "a1", "i1", ""); !errors.Is(err, bridge.ErrNotCompletable) {
		t.Fatalf("third Complete = %v, want ErrNotCompletable: nothing is left open", err)
	}
	if legs, _ := f.svc.Interactions(ctx, "a1"); len(legs) != 0 {
		t.Fatalf("open legs after both completes: %+v", legs)
	}
}

// failingSessions fails the first n session updates (the store is down a moment).
type failingSessions struct {
	bridge.Store
	left atomic.Int32
}

func (f *failingSessions) UpdateAgentSession(ctx context.Context, agentID string, mutate func(*bridge.AgentSession) (bool, error)) (bridge.AgentSession, error) {
	if f.left.Add(-1) >= 0 {
		return bridge.AgentSession{}, fmt.Errorf("%w: redis is down", bridge.ErrStoreUnavailable)
	}
	return f.Store.UpdateAgentSession(ctx, agentID, mutate)
}

// A CRM event the bridge fails to apply (the store hiccups) is applied again, not skipped with
// the cursor moved past it; one that keeps failing is skipped after maxEventAttempts, so it
// cannot stop the site's events for ever.
func TestCRMEventNotAppliedIsRetriedNotLost(t *testing.T) {
	for _, tt := range []struct {
		name      string
		failures  int32
		wantGreen bool // after the one event, agent unavailable: red if it was applied
	}{
		{name: "applied after two failures", failures: 2, wantGreen: false},
		{name: "skipped after it kept failing", failures: 1000, wantGreen: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.login(t, "a1")
			ctx := context.Background()
			store := &failingSessions{Store: f.store}
			store.left.Store(tt.failures)
			crm := newPollingCRM(bridge.CRMEvent{Seq: 1, Type: bridge.CRMAgentStatusChanged, AgentAccountID: "acct-a1", StatusType: "UNAVAILABLE", StatusName: "On Break"})
			svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: f.catalog}},
				PopBudget: time.Second, ConsumerLockTTL: 300 * time.Millisecond},
				bridge.Deps{CRM: crm, ACD: f.acd, Store: store, Work: f.store, Events: f.store})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { _ = svc.RunCRMEvents(runCtx, "demo"); close(done) }()
			defer func() { stop(); <-done }()
			waitFor(t, "the cursor past the event", func() bool { c, _ := f.store.Cursor(ctx, "crm-events/demo"); return c == 1 })
			sess, _ := f.svc.Session(ctx, "a1")
			if sess.Channel.Green != tt.wantGreen {
				t.Errorf("channel = %+v, want green %v", sess.Channel, tt.wantGreen)
			}
		})
	}
}
