package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// effectsOf is a LegEffects with n timeline entries named after tag, and an event for agent
// ("" for none).
func effectsOf(tag string, n int, agent string) bridge.LegEffects {
	var fx bridge.LegEffects
	for i := range n {
		fx.Timeline = append(fx.Timeline, bridge.TimelineEntry{At: t0, Kind: bridge.TimelineDecision, Detail: fmt.Sprintf("%s-%d", tag, i+1)})
	}
	if agent != "" {
		fx.Event = &bridge.Event{Type: bridge.EventInteractionUpdated, AgentID: agent, Message: tag, At: t0}
	}
	return fx
}

// written returns the details of the interaction's timeline and the messages of the agent's
// events, in order.
func written(t *testing.T, s *sessions.Store, interactionID, agent string) (timeline, events []string) {
	t.Helper()
	ctx := t.Context()
	tl, err := s.Timeline(ctx, interactionID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl {
		timeline = append(timeline, e.Detail)
	}
	evs, err := s.Read(ctx, agent, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		events = append(events, e.Message)
	}
	return timeline, events
}

// UpdateLegWith writes what goes with a state change only when the compare-and-set accepts
// the write: a stale fence or a stale version leaves no timeline entry and no event.
func TestUpdateLegWith(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	key := in.Key()
	fenceA, ok, err := s.AcquireLease(ctx, key, 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(A) = %d, %v, %v", fenceA, ok, err)
	}
	time.Sleep(200 * time.Millisecond) // A's lease expires
	fenceB, ok, err := s.AcquireLease(ctx, key, time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(B) = %d, %v, %v", fenceB, ok, err)
	}

	tests := []struct {
		name    string
		version int64
		fence   int64
		fx      bridge.LegEffects
		wantErr error
		wantVer int64
	}{
		{name: "stale fence", version: 1, fence: fenceA, fx: effectsOf("fenced", 2, "a1"), wantErr: bridge.ErrFenced},
		{name: "stale version", version: 0, fence: fenceB, fx: effectsOf("conflict", 2, "a1"), wantErr: bridge.ErrConflict},
		{name: "accepted", version: 1, fence: fenceB, fx: effectsOf("ok", 2, "a1"), wantVer: 2},
		{name: "accepted, no event", version: 2, fence: fenceB, fx: effectsOf("quiet", 1, ""), wantVer: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := *in
			w.Version, w.State = tt.version, bridge.StatePopping
			fxErr, err := s.UpdateLegWith(ctx, &w, tt.fence, tt.fx)
			if !errors.Is(err, tt.wantErr) || fxErr != nil {
				t.Fatalf("UpdateLegWith(%s) = %v, %v, want nil, %v", tt.name, fxErr, err, tt.wantErr)
			}
			if err == nil && w.Version != tt.wantVer {
				t.Errorf("UpdateLegWith(%s) set Version %d, want %d", tt.name, w.Version, tt.wantVer)
			}
		})
	}
	timeline, events := written(t, s, "i1", "a1")
	if diff := cmp.Diff([]string{"ok-1", "ok-2", "quiet-1"}, timeline); diff != "" {
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ok"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	// The indexes follow the write, as UpdateLeg's do.
	if legs, err := s.AgentLegs(ctx, "a1"); err != nil || len(legs) != 1 || legs[0].Version != 3 {
		t.Errorf("AgentLegs(a1) = %v, %v, want the leg at version 3", legs, err)
	}
	for _, k := range []string{s.Keys().Timeline("i1"), s.Keys().Events("a1"), s.Keys().Leg(key), s.Keys().Fence(key)} {
		if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl <= 0 {
			t.Errorf("PTTL(%s) = %v, %v, want a TTL", k, ttl, err)
		}
	}
}

// ReleaseLease ends the writer's lease with its write, only if the write is accepted, and
// never another holder's lease.
func TestUpdateLegWithReleasesLease(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	key := in.Key()
	fenceA, _, _ := s.AcquireLease(ctx, key, 100*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	fenceB, ok, err := s.AcquireLease(ctx, key, time.Minute)
	if err != nil || !ok {
		t.Fatalf("AcquireLease(B) = %d, %v, %v", fenceB, ok, err)
	}
	release := bridge.LegEffects{ReleaseLease: true}

	a := *in
	a.State = bridge.StateOffered
	if _, err := s.UpdateLegWith(ctx, &a, fenceA, release); !errors.Is(err, bridge.ErrFenced) {
		t.Fatalf("UpdateLegWith(stale A, release) = %v, want ErrFenced", err)
	}
	stale := *in
	stale.Version = 7
	if _, err := s.UpdateLegWith(ctx, &stale, fenceB, release); !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("UpdateLegWith(B at a stale version, release) = %v, want ErrConflict", err)
	}
	if _, ok, _ := s.AcquireLease(ctx, key, time.Minute); ok {
		t.Fatal("a refused write released the lease")
	}
	b := *in
	b.State = bridge.StateOffered
	if _, err := s.UpdateLegWith(ctx, &b, fenceB, release); err != nil {
		t.Fatalf("UpdateLegWith(B, release) = %v", err)
	}
	fenceC, ok, err := s.AcquireLease(ctx, key, time.Minute)
	if err != nil || !ok || fenceC <= fenceB {
		t.Fatalf("AcquireLease after B's releasing write = %d, %v, %v, want a fence > %d", fenceC, ok, err, fenceB)
	}
	// B's next releasing write (say a replay) is fenced, and leaves C's lease alone.
	if _, err := s.UpdateLegWith(ctx, &b, fenceB, release); !errors.Is(err, bridge.ErrFenced) {
		t.Fatalf("UpdateLegWith(B after C took over) = %v, want ErrFenced", err)
	}
	if _, ok, _ := s.AcquireLease(ctx, key, time.Minute); ok {
		t.Fatal("C's lease was released by B")
	}
}

func TestCreateLegWith(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	created, fxErr, err := s.CreateLegWith(ctx, in, effectsOf("first", 1, "a1"))
	if err != nil || fxErr != nil || !created || in.Version != 1 {
		t.Fatalf("CreateLegWith(new) = %v, %v, %v (version %d), want true, nil, nil (version 1)", created, fxErr, err, in.Version)
	}
	dup := leg("i1", "r1", "a2", "c9", t0.Add(time.Hour))
	created, fxErr, err = s.CreateLegWith(ctx, dup, effectsOf("duplicate", 1, "a2"))
	if err != nil || fxErr != nil || created {
		t.Fatalf("CreateLegWith(duplicate) = %v, %v, %v, want false, nil, nil", created, fxErr, err)
	}
	timeline, events := written(t, s, "i1", "a1")
	if diff := cmp.Diff([]string{"first-1"}, timeline); diff != "" {
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"first"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if _, dupEvents := written(t, s, "i1", "a2"); len(dupEvents) != 0 {
		t.Errorf("a duplicate published %v", dupEvents)
	}
	if legs, err := s.ChatLeg(ctx, "site1", "c1"); err != nil || legs.AgentID != "a1" {
		t.Errorf("ChatLeg(c1) = %v, %v, want the created leg (indexed)", legs, err)
	}
	if _, _, err := s.CreateLegWith(ctx, leg("i2", "r1", "a1", "c2", t0), bridge.LegEffects{ReleaseLease: true}); err == nil {
		t.Error("CreateLegWith(ReleaseLease) succeeded, want an error: a new leg has no lease")
	}
}

func TestLeaseLeg(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	key := in.Key()
	got, fence, ok, err := s.LeaseLeg(ctx, key, time.Minute)
	if err != nil || !ok || fence != 1 {
		t.Fatalf("LeaseLeg = %v, %d, %v, %v, want the leg, 1, true, nil", got, fence, ok, err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("LeaseLeg leg mismatch (-want +got):\n%s", diff)
	}
	for _, k := range []string{s.Keys().Lease(key), s.Keys().Fence(key)} {
		if ttl, err := client.PTTL(ctx, k).Result(); err != nil || ttl <= 0 {
			t.Errorf("PTTL(%s) = %v, %v, want a TTL", k, ttl, err)
		}
	}
	if got, f, ok, err := s.LeaseLeg(ctx, key, time.Minute); err != nil || ok || f != 0 || got != nil {
		t.Fatalf("LeaseLeg while held = %v, %d, %v, %v, want nil, 0, false, nil", got, f, ok, err)
	}
	// The lease's fence is the one writes are checked against.
	w := *in
	w.State = bridge.StatePopping
	if err := s.UpdateLeg(ctx, &w, fence); err != nil {
		t.Fatalf("UpdateLeg(fence %d from LeaseLeg) = %v", fence, err)
	}
	if err := s.ReleaseLease(ctx, key, fence); err != nil {
		t.Fatal(err)
	}
	got, f2, ok, err := s.LeaseLeg(ctx, key, time.Minute)
	if err != nil || !ok || f2 <= fence || got.State != bridge.StatePopping {
		t.Fatalf("LeaseLeg after release = %v, %d, %v, %v, want the popping leg and a fence > %d", got, f2, ok, err, fence)
	}
	// No leg: the lease is taken all the same, and the leg is nil.
	none := bridge.LegKey{InteractionID: "none", RoutingID: "r1"}
	if got, f, ok, err := s.LeaseLeg(ctx, none, time.Minute); err != nil || !ok || f != 1 || got != nil {
		t.Errorf("LeaseLeg(no leg) = %v, %d, %v, %v, want nil, 1, true, nil", got, f, ok, err)
	}
	if _, _, _, err := s.LeaseLeg(ctx, key, 0); err == nil {
		t.Error("LeaseLeg(ttl 0) succeeded, want an error")
	}
}

func TestRecordEffects(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{TimelineMax: 3})
	for i := range 2 {
		if err := s.RecordEffects(ctx, "i1", effectsOf(fmt.Sprintf("r%d", i+1), 2, "a1")); err != nil {
			t.Fatalf("RecordEffects(%d) = %v", i+1, err)
		}
	}
	timeline, events := written(t, s, "i1", "a1")
	if diff := cmp.Diff([]string{"r1-2", "r2-1", "r2-2"}, timeline); diff != "" { // capped at 3, newest kept
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"r1", "r2"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if err := s.RecordEffects(ctx, "i1", bridge.LegEffects{ReleaseLease: true}); err == nil {
		t.Error("RecordEffects(ReleaseLease) succeeded, want an error")
	}
	if err := s.RecordEffects(ctx, "i1", bridge.LegEffects{Event: &bridge.Event{Type: bridge.EventChannelUpdated}}); err == nil {
		t.Error("RecordEffects(event without an agent) succeeded, want an error")
	}
}

// A server that lost its script cache (restart, failover, SCRIPT FLUSH) still runs the
// scripts queued in a pipeline: they are sent again on their own.
func TestEffectsSurviveScriptFlush(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Skipf("SCRIPT FLUSH: %v", err)
	}
	in.State = bridge.StatePopping
	if fxErr, err := s.UpdateLegWith(ctx, in, 0, effectsOf("after-flush", 1, "a1")); err != nil || fxErr != nil {
		t.Fatalf("UpdateLegWith after SCRIPT FLUSH = %v, %v", fxErr, err)
	}
	// Flush again: the update script is cached now, the effects' scripts are not.
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEffects(ctx, "i1", effectsOf("again", 1, "a1")); err != nil {
		t.Fatalf("RecordEffects after SCRIPT FLUSH = %v", err)
	}
	timeline, events := written(t, s, "i1", "a1")
	if diff := cmp.Diff([]string{"after-flush-1", "again-1"}, timeline); diff != "" {
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"after-flush", "again"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

// An item never waits behind another: a consumer busy with one item has not also taken the
// next, so a second consumer handles it meanwhile.
func TestWorkQueueItemsDoNotWaitBehindEachOther(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	for _, p := range []string{"slow", "fast"} {
		if err := s.Enqueue(ctx, "q", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	fastDone := make(chan struct{})
	var rec recorder
	handle := func(name string) func(context.Context, bridge.WorkItem) error {
		return func(ctx context.Context, it bridge.WorkItem) error {
			rec.add(name, it)
			if string(it.Payload) == "slow" {
				select { // holds its item until the other one is handled
				case <-fastDone:
				case <-time.After(3 * time.Second):
					return errors.New("the fast item waited behind the slow one")
				}
				return nil
			}
			close(fastDone)
			return nil
		}
	}
	consume(t, s, "q", "c1", handle("c1"))
	consume(t, s, "q", "c2", handle("c2"))
	waitFor(t, 5*time.Second, "both items handled", func() bool { d, _ := s.Depth(ctx, "q"); return d == 0 })
	for _, d := range rec.all() {
		if d.Deliveries != 1 {
			t.Errorf("item %s delivered %d times, want once: %+v", d.Payload, d.Deliveries, rec.all())
		}
	}
}

// UpdateLegThen refuses as UpdateLeg does, writing nothing; an accepted write's effects are
// all written once wait returns.
func TestUpdateLegThen(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	fence, _, _ := s.AcquireLease(ctx, in.Key(), time.Minute)

	stale := *in
	stale.Version = 5
	if wait, err := s.UpdateLegThen(ctx, &stale, fence, effectsOf("conflict", 1, "a1")); !errors.Is(err, bridge.ErrConflict) || wait != nil {
		t.Fatalf("UpdateLegThen(stale version) = %v, want ErrConflict and no wait", err)
	}
	fenced := *in
	if _, err := s.UpdateLegThen(ctx, &fenced, fence+1, effectsOf("fenced", 1, "a1")); !errors.Is(err, bridge.ErrFenced) {
		t.Fatalf("UpdateLegThen(wrong fence) = %v, want ErrFenced", err)
	}
	w := *in
	w.State = bridge.StatePopping
	wait, err := s.UpdateLegThen(ctx, &w, fence, effectsOf("ok", 2, "a1"))
	if err != nil || w.Version != 2 {
		t.Fatalf("UpdateLegThen = %v (version %d), want nil (version 2)", err, w.Version)
	}
	w.AgentID = "changed" // the background write indexes the leg as written, not as changed since
	if err := wait(); err != nil {
		t.Fatalf("wait() = %v", err)
	}
	if err := wait(); err != nil {
		t.Fatalf("second wait() = %v", err)
	}
	timeline, events := written(t, s, "i1", "a1")
	if diff := cmp.Diff([]string{"ok-1", "ok-2"}, timeline); diff != "" {
		t.Errorf("timeline mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ok"}, events); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if legs, err := s.AgentLegs(ctx, "a1"); err != nil || len(legs) != 1 || legs[0].State != bridge.StatePopping {
		t.Errorf("AgentLegs(a1) = %v, %v, want the popping leg", legs, err)
	}
}

// A queue item rides on a leg's creation: it is added after the leg, its timeline and its
// event; a full queue is reported as bridge.ErrNotQueued (not as best effort) and leaves the
// leg written; a duplicate create queues nothing.
func TestCreateLegWithQueuesTheItemLast(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{QueueMaxLen: 1})
	fx := effectsOf("routed", 1, "a1")
	fx.Queue = &bridge.QueueItem{Queue: bridge.QueuePops, Payload: []byte(`{"interaction_id":"i1","routing_id":"r1"}`)}
	created, fxErr, err := s.CreateLegWith(ctx, leg("i1", "r1", "a1", "c1", t0), fx)
	if err != nil || fxErr != nil || !created {
		t.Fatalf("CreateLegWith = %v, %v, %v; want created", created, fxErr, err)
	}
	items, err := s.Items(ctx, bridge.QueuePops, "", 10)
	if err != nil || len(items) != 1 || string(items[0].Payload) != string(fx.Queue.Payload) {
		t.Fatalf("pop queue = %+v, %v; want the one item", items, err)
	}
	if tl, evs := written(t, s, "i1", "a1"); !cmp.Equal(tl, []string{"routed-1"}) || !cmp.Equal(evs, []string{"routed"}) {
		t.Fatalf("timeline %v, events %v; want the create's", tl, evs)
	}
	// A duplicate writes nothing of fx: still one item.
	if created, _, err := s.CreateLegWith(ctx, leg("i1", "r1", "a1", "c1", t0), fx); err != nil || created {
		t.Fatalf("duplicate CreateLegWith = %v, %v; want not created", created, err)
	}
	// The queue is full now (QueueMaxLen 1): the next leg is created, its item refused.
	fx2 := effectsOf("second", 1, "a1")
	fx2.Queue = &bridge.QueueItem{Queue: bridge.QueuePops, Payload: []byte(`{"interaction_id":"i2","routing_id":"r1"}`)}
	created, fxErr, err = s.CreateLegWith(ctx, leg("i2", "r1", "a1", "c2", t0), fx2)
	if err != nil || !created || !errors.Is(fxErr, bridge.ErrNotQueued) || !errors.Is(fxErr, sessions.ErrQueueFull) {
		t.Fatalf("CreateLegWith on a full queue = %v, %v, %v; want created with ErrNotQueued and ErrQueueFull", created, fxErr, err)
	}
	if n, _ := s.Depth(ctx, bridge.QueuePops); n != 1 {
		t.Fatalf("pop queue depth = %d, want 1", n)
	}
	if _, err := s.GetLeg(ctx, bridge.LegKey{InteractionID: "i2", RoutingID: "r1"}); err != nil {
		t.Fatalf("the leg whose item was refused: %v, want it stored", err)
	}
}

// A state change can bring back its agent's session, read after the write in the same
// round trip; an agent with none gets ErrNotFound.
func TestUpdateLegWithReadsTheAgentSession(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	read := &bridge.SessionRead{}
	if _, err := s.UpdateLegWith(ctx, in, 0, bridge.LegEffects{Session: read}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(read.Err, bridge.ErrNotFound) {
		t.Fatalf("session of an agent with none: %+v, want ErrNotFound", read)
	}
	want := bridge.AgentSession{AgentID: "a1", Site: "site1", CRMAccountID: "acct-1", Channel: bridge.Channel{Reason: "CRM_UNREACHABLE"}}
	if err := s.PutAgentSession(ctx, want, time.Hour); err != nil {
		t.Fatal(err)
	}
	read = &bridge.SessionRead{}
	if _, err := s.UpdateLegWith(ctx, in, 0, bridge.LegEffects{Session: read}); err != nil {
		t.Fatal(err)
	}
	if read.Err != nil || read.Session.CRMAccountID != "acct-1" || read.Session.Channel.Reason != "CRM_UNREACHABLE" {
		t.Fatalf("session read with the write = %+v, want the stored one", read)
	}
	if err := s.RecordEffects(ctx, "i1", bridge.LegEffects{Session: &bridge.SessionRead{}}); err == nil {
		t.Fatal("RecordEffects with Session = nil, want an error (no leg names the agent)")
	}
}
