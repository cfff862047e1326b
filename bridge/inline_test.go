package bridge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// Inline pops: the replica that records a routing pops it itself. These tests run no pop
// worker unless they say so: a leg that ends offered was popped inline.

// legState reads a leg's state ("" if it cannot be read).
func (f *fixture) legState(iid string) bridge.State {
	in, err := f.store.GetLeg(context.Background(), bridge.LegKey{InteractionID: iid, RoutingID: "r1"})
	if err != nil {
		return ""
	}
	return in.State
}

// holdCRM makes the CRM's chatRouted for chats (every chat when none is named) wait until
// release, or the test's end, and answer SUCCESS (offered) then; other chats answer at once.
func (f *fixture) holdCRM(t *testing.T, chats ...string) (release func()) {
	held := make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	t.Cleanup(release)
	f.crm.RouteChatFn = func(_ context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
		if len(chats) == 0 || slices.Contains(chats, req.ChatID) {
			<-held
		}
		return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
	}
	return release
}

// runWorkers runs one pop worker until the test ends.
func (f *fixture) runWorkers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.svc.RunPopWorkers(ctx, "test-worker"); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// poppedInline routes i1 to a1 on a fixture with inline pops and waits for the offer.
func poppedInline(t *testing.T) *fixture {
	f := newFixtureWith(t, nil, nil, 4)
	f.login(t, "a1")
	if _, err := f.svc.Routed(context.Background(), routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leg popped inline", func() bool { return f.legState("i1") == bridge.StateOffered })
	// The outcome's timeline entries and event are written just after the leg; the item is
	// acked once they are, which ends the pop.
	waitFor(t, "the pop's item acked", func() bool { d, _ := f.work.Depth(context.Background(), bridge.QueuePops); return d == 0 })
	return f
}

func TestInlinePopNeedsNoWorker(t *testing.T) {
	f := poppedInline(t)
	ctx := context.Background()
	if routes := f.crm.Routes(); len(routes) != 1 || !strings.HasSuffix(routes[0].TransactionID, "#1") {
		t.Fatalf("CRM routes = %+v, want one, attempt 1", routes)
	}
	// The creation's lease was the pop's (fence 1), and its outcome released it.
	tl, err := f.store.Timeline(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	var start string
	for _, e := range tl {
		if strings.HasPrefix(e.Detail, "pop_start") {
			start = e.Detail
		}
	}
	if !strings.Contains(start, "lease fence 1)") {
		t.Fatalf("pop_start entry = %q, want it under lease fence 1 (taken by the creation)", start)
	}
	if _, ok, err := f.store.AcquireLease(ctx, bridge.LegKey{InteractionID: "i1", RoutingID: "r1"}, time.Second); err != nil || !ok {
		t.Fatalf("lease after the pop = %v, %v; want free", ok, err)
	}
}

func TestInlinePopsAreBoundedAndTheRestGoToTheWorkers(t *testing.T) {
	f := newFixtureWith(t, nil, nil, 1)
	f.login(t, "a1")
	f.login(t, "a2")
	ctx := context.Background()
	release := f.holdCRM(t, "chat-i1") // the inline pop of i1 holds the only inline slot
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "i1's inline pop calling the CRM", func() bool { return len(f.crm.Routes()) == 1 })
	if _, err := f.svc.Routed(ctx, routedCmd("i2", "a2")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if st := f.legState("i2"); st != bridge.StateRouted {
		t.Fatalf("i2 = %s with the inline slot busy and no worker, want routed (queued for the workers)", st)
	}
	// i2's lease was not taken (or was given back): a worker pops it at once, while i1 is
	// still in flight.
	f.runWorkers(t)
	waitFor(t, "i2 popped by a worker", func() bool { return f.legState("i2") == bridge.StateOffered })
	if st := f.legState("i1"); st != bridge.StateRouted {
		t.Fatalf("i1 = %s while its CRM call hangs, want routed", st)
	}
	release()
	waitFor(t, "i1 popped inline", func() bool { return f.legState("i1") == bridge.StateOffered })
	waitFor(t, "both items acked", func() bool { d, _ := f.work.Depth(ctx, bridge.QueuePops); return d == 0 })
	if n := len(f.crm.Routes()); n != 2 {
		t.Fatalf("CRM routes = %d, want 2 (one per chat)", n)
	}
}

func TestInlinePopWhoseItemWasRefusedStillRuns(t *testing.T) {
	// One item at most per stream: i1's pop in flight fills the claimed items' stream.
	f := newFixtureWith(t, nil, nil, 4, func(o *sessions.Options) { o.QueueMaxLen = 1 })
	f.login(t, "a1")
	f.login(t, "a2")
	ctx := context.Background()
	f.holdCRM(t, "chat-i1")
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "i1's inline pop calling the CRM", func() bool { return len(f.crm.Routes()) == 1 })
	// i2's item is refused, so the ACD is told to retry; its pop, already under way under
	// the creation's lease, goes on (no worker runs here).
	if _, err := f.svc.Routed(ctx, routedCmd("i2", "a2")); !errors.Is(err, bridge.ErrNotQueued) {
		t.Fatalf("Routed(i2) with its queue full = %v, want ErrNotQueued (the ACD retries)", err)
	}
	waitFor(t, "i2 popped inline", func() bool { return f.legState("i2") == bridge.StateOffered })
	if out, err := f.svc.Routed(ctx, routedCmd("i2", "a2")); err != nil || !out.Duplicate {
		t.Fatalf("the ACD's retry = %+v, %v; want a duplicate", out, err)
	}
	var i2Routes int
	for _, r := range f.crm.Routes() {
		if r.ChatID == "chat-i2" {
			i2Routes++
		}
	}
	if i2Routes != 1 {
		t.Fatalf("CRM routes of i2 = %d, want 1", i2Routes)
	}
	if st := f.legState("i1"); st != bridge.StateRouted {
		t.Fatalf("i1 = %s while its CRM call hangs, want routed", st)
	}
}

// The routed event and the creation's timeline entry are written while the inline pop's CRM
// call is in flight; the pop's own writes come after them.
func TestInlinePopWritesAfterTheCreation(t *testing.T) {
	f := poppedInline(t)
	ctx := context.Background()
	tl, err := f.store.Timeline(ctx, "i1")
	if err != nil || len(tl) < 3 {
		t.Fatalf("timeline = %+v, %v", tl, err)
	}
	at := func(prefix string) int {
		for i, e := range tl {
			if strings.HasPrefix(e.Detail, prefix) {
				return i
			}
		}
		t.Fatalf("no %q on the timeline %+v", prefix, tl)
		return -1
	}
	if start := at("pop_start"); at("interaction.routed") > start || at("interaction.updated state=routed") > start {
		t.Fatalf("timeline %+v: the pop's entries come before the creation's", tl)
	}
	evs, err := f.store.Read(ctx, "a1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, e := range evs {
		if e.Interaction != nil && e.Interaction.InteractionID == "i1" {
			states = append(states, string(e.Interaction.State))
		}
	}
	if len(states) < 2 || states[0] != string(bridge.StateRouted) || states[len(states)-1] != string(bridge.StateOffered) {
		t.Fatalf("agent's events for i1 = %v, want routed first and offered last", states)
	}
}

func TestFailedInlinePopIsTakenOverByAWorker(t *testing.T) {
	f := newFixtureWith(t, nil, nil, 4)
	f.login(t, "a1")
	ctx := context.Background()
	var calls atomic.Int32
	f.crm.RouteChatFn = func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		if calls.Add(1) == 1 {
			return bridge.RouteResult{}, bridge.ErrOutcomeUnknown // the answer was lost
		}
		return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
	}
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the inline pop left uncertain", func() bool { return f.legState("i1") == bridge.StatePopping })
	f.runWorkers(t)
	waitFor(t, "a worker finished it", func() bool { return f.legState("i1") == bridge.StateOffered })
	routes := f.crm.Routes()
	if len(routes) != 2 || routes[0].TransactionID != routes[1].TransactionID {
		t.Fatalf("CRM routes = %+v, want the same transaction replayed", routes)
	}
	waitFor(t, "queue drained", func() bool { d, _ := f.work.Depth(ctx, bridge.QueuePops); return d == 0 })
}

func TestDrainInlinePopsWaitsForRunningPops(t *testing.T) {
	f := newFixtureWith(t, nil, nil, 4)
	f.login(t, "a1")
	f.login(t, "a2")
	ctx := context.Background()
	release := f.holdCRM(t)
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "i1's inline pop calling the CRM", func() bool { return len(f.crm.Routes()) == 1 })
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.svc.DrainInlinePops(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DrainInlinePops with a pop in flight = %v, want the deadline", err)
	}
	// Draining: a new routing is left to the workers.
	if _, err := f.svc.Routed(ctx, routedCmd("i2", "a2")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(f.crm.Routes()); n != 1 {
		t.Fatalf("CRM routes = %d while draining, want 1 (i2 is not popped inline)", n)
	}
	drained := make(chan error, 1)
	go func() { drained <- f.svc.DrainInlinePops(ctx) }()
	select {
	case err := <-drained:
		t.Fatalf("DrainInlinePops returned %v with a pop in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if st := f.legState("i1"); st != bridge.StateOffered {
		t.Fatalf("i1 = %s once drained, want offered", st)
	}
	if st := f.legState("i2"); st != bridge.StateRouted {
		t.Fatalf("i2 = %s, want routed: its pop waits for a worker", st)
	}
}

// holdLog is a work queue that records how each hold was let go: true for an ack of its own,
// false when the holder only let it go.
type holdLog struct {
	bridge.WorkQueue
	mu   sync.Mutex
	acks []bool
}

func (h *holdLog) Hold(ctx context.Context, queue, consumer, id string) func(bool) {
	release := h.WorkQueue.Hold(ctx, queue, consumer, id)
	return func(ack bool) {
		h.mu.Lock()
		h.acks = append(h.acks, ack)
		h.mu.Unlock()
		release(ack)
	}
}

func (h *holdLog) released() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.acks)
}

// An inline pop's outcome acks its item in the outcome's own round trip: the hold then only
// lets it go. A transfer's pop, which writes more after its outcome (the first agent's leg),
// acks once it has returned, as a worker does.
func TestInlinePopOutcomeAcksItsItem(t *testing.T) {
	holds := &holdLog{}
	f := newFixtureWith(t, func(w bridge.WorkQueue) bridge.WorkQueue { holds.WorkQueue = w; return holds }, nil, 4)
	f.login(t, "a1")
	f.login(t, "a2")
	ctx := context.Background()
	if _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first hold let go", func() bool { return len(holds.released()) == 1 })
	if st := f.legState("i1"); st != bridge.StateOffered {
		t.Fatalf("i1 = %s, want offered", st)
	}
	if got := holds.released(); got[0] {
		t.Fatalf("holds released %v: the offer's pop acked its item itself, want the outcome's write to", got)
	}
	if d, _ := f.work.Depth(ctx, bridge.QueuePops); d != 0 {
		t.Fatalf("depth %d after the offer, want 0 (acked with the outcome)", d)
	}

	f.crmEvent(t, bridge.CRMEngagementAccepted, "chat-i1", "a1")
	if _, err := f.svc.Transfer(ctx, "a1", "i1", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a2"}); err != nil {
		t.Fatal(err)
	}
	r := routedCmd("i1", "a2")
	r.EventID, r.RoutingID, r.RouteType, r.FromRoutingID = "evt-i1-r2", "r2", bridge.RouteTransfer, "r1"
	if _, err := f.svc.Routed(ctx, r); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the transfer's hold let go", func() bool { return len(holds.released()) == 2 })
	if got := holds.released(); !got[1] {
		t.Fatalf("holds released %v: the transfer's pop left its ack to the outcome, want its own", got)
	}
	if d, _ := f.work.Depth(ctx, bridge.QueuePops); d != 0 {
		t.Fatalf("depth %d after the transfer's pop, want 0", d)
	}
}

// slowCreation holds the effects of every leg creation (CreateLegThen's finish) until gate
// closes.
type slowCreation struct {
	bridge.Store
	gate chan struct{}
}

func (s slowCreation) CreateLegThen(ctx context.Context, in *bridge.Interaction, fx bridge.LegEffects) (bool, func() error, error) {
	created, finish, err := s.Store.CreateLegThen(ctx, in, fx)
	if finish == nil {
		return created, nil, err
	}
	return created, func() error { <-s.gate; return finish() }, err
}

// An offer's compare-and-set does not wait for the creation's effects (it touches only the
// leg); its own effects do, so the timeline and the agent's events keep their order, and
// the item the creation claimed is still acked with the outcome.
func TestInlineOfferWritesItsLegBeforeTheCreationsEffects(t *testing.T) {
	gate := make(chan struct{})
	released := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(released)
	holds := &holdLog{}
	f := buildFixture(t, fixtureSetup{inline: 4,
		wrapStore: func(s bridge.Store) bridge.Store { return slowCreation{Store: s, gate: gate} },
		wrapWork:  func(w bridge.WorkQueue) bridge.WorkQueue { holds.WorkQueue = w; return holds }})
	f.login(t, "a1")
	ctx := context.Background()
	routed := make(chan error, 1)
	go func() { _, err := f.svc.Routed(ctx, routedCmd("i1", "a1")); routed <- err }()

	waitFor(t, "the offer stored while the creation's effects are held", func() bool { return f.legState("i1") == bridge.StateOffered })
	time.Sleep(50 * time.Millisecond) // the outcome's effects would be out by now
	if tl, err := f.store.Timeline(ctx, "i1"); err != nil || len(tl) != 0 {
		t.Fatalf("timeline before the creation's effects = %+v, %v; want none", tl, err)
	}
	if states := legEvents(t, f, "i1"); len(states) != 0 {
		t.Fatalf("i1's events before the creation's effects = %v; want none", states)
	}

	released()
	if err := <-routed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hold let go", func() bool { return len(holds.released()) == 1 })
	if got := holds.released(); got[0] {
		t.Fatalf("holds released %v, want the item acked with the outcome", got)
	}
	if d, _ := f.work.Depth(ctx, bridge.QueuePops); d != 0 {
		t.Fatalf("depth %d, want 0", d)
	}
	tl, err := f.store.Timeline(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, e := range tl {
		details = append(details, e.Detail)
	}
	if len(details) < 4 || !strings.HasPrefix(details[0], "interaction.routed") || !strings.HasPrefix(details[len(details)-1], "interaction.updated state=offered") {
		t.Fatalf("timeline %q, want the routing first and the offer's event last", details)
	}
	if states := legEvents(t, f, "i1"); !slices.Equal(states, []bridge.State{bridge.StateRouted, bridge.StateOffered}) {
		t.Fatalf("agent's events %v, want routed then offered", states)
	}
	if legs, err := f.store.AgentLegs(ctx, "a1"); err != nil || len(legs) != 1 {
		t.Fatalf("AgentLegs = %v, %v; want the leg indexed", legs, err)
	}
}

// legEvents lists the states a1's events carried for interaction iid, in order.
func legEvents(t *testing.T, f *fixture, iid string) []bridge.State {
	t.Helper()
	evs, err := f.store.Read(context.Background(), "a1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var states []bridge.State
	for _, e := range evs {
		if e.Interaction != nil && e.Interaction.InteractionID == iid {
			states = append(states, e.Interaction.State)
		}
	}
	return states
}
