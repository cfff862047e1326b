package sessions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// claimed adds payload to queue with a claim for consumer, as a routing's creation does, and
// returns the item's id if it was claimed ("" if not).
func claimed(t *testing.T, s *sessions.Store, queue, consumer, payload string) string {
	t.Helper()
	item := &bridge.QueueItem{Queue: queue, Payload: []byte(payload), Claim: consumer}
	if err := s.RecordEffects(t.Context(), "i-"+payload, bridge.LegEffects{Queue: item}); err != nil {
		t.Fatalf("enqueue %s with a claim: %v", payload, err)
	}
	return item.ClaimedID
}

func TestClaimedItemsAreReadByNoOtherConsumer(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	var rec recorder
	stopWorker := consume(t, s, "pops", "worker", func(_ context.Context, it bridge.WorkItem) error {
		rec.add("worker", it)
		return nil
	})
	time.Sleep(100 * time.Millisecond) // the worker is blocked in its read

	id := claimed(t, s, "pops", "inline", "first")
	if id == "" {
		t.Fatal("the item was not claimed")
	}
	time.Sleep(50 * time.Millisecond) // the worker would have had it by now
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("the worker received %+v, want nothing: the item was claimed", got)
	}
	if d, _ := s.Depth(ctx, "pops"); d != 1 {
		t.Fatalf("depth with a claimed item in flight = %d, want 1", d)
	}
	release := s.Hold(ctx, "pops", "inline", id)
	time.Sleep(2 * fastQueue.ReclaimIdle) // kept alive: the worker must not reclaim it
	release(true)
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("the worker received %+v while it was held, want nothing", got)
	}
	if d, _ := s.Depth(ctx, "pops"); d != 0 {
		t.Fatalf("depth %d after release(true), want 0 (acked and deleted)", d)
	}

	// An item waiting in the queue does not stop a claim, nor does the claim take it.
	stopWorker()
	if err := s.Enqueue(ctx, "pops", []byte("older")); err != nil {
		t.Fatal(err)
	}
	id = claimed(t, s, "pops", "inline", "newer")
	if id == "" {
		t.Fatal("not claimed with an item waiting")
	}
	consume(t, s, "pops", "worker2", func(_ context.Context, it bridge.WorkItem) error {
		rec.add("worker2", it)
		return nil
	})
	waitFor(t, 5*time.Second, "the waiting item handled by the worker", func() bool { return len(rec.all()) == 1 })
	s.Hold(ctx, "pops", "inline", id)(true)
	if d, _ := s.Depth(ctx, "pops"); d != 0 {
		t.Fatalf("depth %d, want 0", d)
	}
	if got := rec.all(); len(got) != 1 || got[0].Payload != "older" {
		t.Fatalf("worker handled %+v, want the waiting item only", got)
	}
}

func TestClaimedItemThatFailsIsReclaimed(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	id := claimed(t, s, "pops", "inline", "job")
	if id == "" {
		t.Fatal("not claimed")
	}
	s.Hold(ctx, "pops", "inline", id)(false) // the pop failed: left to be reclaimed
	var rec recorder
	consume(t, s, "pops", "worker", func(_ context.Context, it bridge.WorkItem) error {
		rec.add("worker", it)
		return nil
	})
	waitFor(t, 5*time.Second, "the failed item reclaimed", func() bool { return len(rec.all()) == 1 })
	if got := rec.all()[0]; got.Payload != "job" || got.Deliveries != 2 {
		t.Fatalf("reclaimed %+v, want job on its second delivery", got)
	}
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "pops"); return d == 0 })
}

func TestCreateLegWithTakesTheLease(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	lease := &bridge.LeaseTake{TTL: time.Minute}
	created, fxErr, err := s.CreateLegWith(ctx, in, bridge.LegEffects{Lease: lease})
	if err != nil || fxErr != nil || !created || lease.Fence != 1 {
		t.Fatalf("CreateLegWith(lease) = %v, %v, %v, fence %d; want created with fence 1", created, fxErr, err, lease.Fence)
	}
	if _, ok, err := s.AcquireLease(ctx, in.Key(), time.Minute); err != nil || ok {
		t.Fatalf("AcquireLease after the creation took it = %v, %v; want held", ok, err)
	}
	dupLease := &bridge.LeaseTake{TTL: time.Minute}
	if created, _, err := s.CreateLegWith(ctx, leg("i1", "r1", "a1", "c1", t0), bridge.LegEffects{Lease: dupLease}); err != nil || created || dupLease.Fence != 0 {
		t.Fatalf("duplicate CreateLegWith(lease) = %v, %v, fence %d; want not created, no lease", created, err, dupLease.Fence)
	}
	if err := s.ReleaseLease(ctx, in.Key(), 1); err != nil {
		t.Fatal(err)
	}
	// The next lease is a later holder's: fence 2, so it knows a pop may have begun.
	if _, fence, ok, err := s.LeaseLeg(ctx, in.Key(), time.Minute); err != nil || !ok || fence != 2 {
		t.Fatalf("LeaseLeg after release = fence %d, %v, %v; want 2", fence, ok, err)
	}
	// A leg created without a lease leaves the fence alone.
	plain := leg("i2", "r1", "a1", "c2", t0)
	if created, _, err := s.CreateLegWith(ctx, plain, bridge.LegEffects{}); err != nil || !created {
		t.Fatal(created, err)
	}
	if _, fence, ok, err := s.LeaseLeg(ctx, plain.Key(), time.Minute); err != nil || !ok || fence != 1 {
		t.Fatalf("first LeaseLeg of a leg created without one = fence %d, %v, %v; want 1", fence, ok, err)
	}
	if _, _, err := s.CreateLegWith(ctx, leg("i3", "r1", "a1", "c3", t0), bridge.LegEffects{Lease: &bridge.LeaseTake{}}); err == nil {
		t.Error("CreateLegWith with a zero lease ttl succeeded, want an error")
	}
}

func TestCreateLegThenLeavesTheEffectsToFinish(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	fx := effectsOf("first", 1, "a1")
	fx.Queue = &bridge.QueueItem{Queue: "pops", Payload: []byte("pop i1"), Claim: "inline"}
	fx.Lease = &bridge.LeaseTake{TTL: time.Minute}
	created, finish, err := s.CreateLegThen(ctx, in, fx)
	if err != nil || !created || in.Version != 1 || fx.Lease.Fence != 1 {
		t.Fatalf("CreateLegThen = %v, %v (version %d, fence %d); want created, version 1, fence 1", created, err, in.Version, fx.Lease.Fence)
	}
	if got, err := s.GetLeg(ctx, in.Key()); err != nil || got.Version != 1 {
		t.Fatalf("leg before finish = %+v, %v; want it stored at version 1", got, err)
	}
	// Nothing of fx before finish: the caller's next step overlaps that round trip.
	if timeline, events := written(t, s, "i1", "a1"); len(timeline) != 0 || len(events) != 0 {
		t.Fatalf("timeline %v, events %v before finish; want none", timeline, events)
	}
	if d, _ := s.Depth(ctx, "pops"); d != 0 {
		t.Fatalf("depth %d before finish, want 0", d)
	}
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if fx.Queue.ClaimedID == "" {
		t.Fatal("the pop item was not claimed by the time finish returned")
	}
	timeline, events := written(t, s, "i1", "a1")
	if len(timeline) != 1 || len(events) != 1 {
		t.Fatalf("timeline %v, events %v after finish; want one of each", timeline, events)
	}
	if d, _ := s.Depth(ctx, "pops"); d != 1 {
		t.Fatalf("depth %d, want the claimed item", d)
	}
	// A second call answers again and writes nothing more.
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if timeline, events := written(t, s, "i1", "a1"); len(timeline) != 1 || len(events) != 1 {
		t.Fatalf("timeline %v, events %v after a second finish; want still one of each", timeline, events)
	}
	created, finish, err = s.CreateLegThen(ctx, leg("i1", "r1", "a1", "c1", t0), effectsOf("dup", 1, "a1"))
	if err != nil || created || finish != nil {
		t.Fatalf("duplicate CreateLegThen = %v, finish %v, %v; want not created, nil finish", created, finish != nil, err)
	}
}

// The claim creates the consumer group only when the stream was empty; should the group be
// gone from a stream that holds items (deleted by hand), the claim recreates it rather than
// leave its item unread, where no consumer would ever look.
func TestClaimRecreatesAGroupDeletedByHand(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, fastQueue)
	key := s.Keys().ClaimedQueue("pops")
	if claimed(t, s, "pops", "inline", "first") == "" {
		t.Fatal("the first item was not claimed")
	}
	if err := client.XGroupDestroy(ctx, key, "workers").Err(); err != nil {
		t.Fatal(err)
	}
	id := claimed(t, s, "pops", "inline", "second")
	if id == "" {
		t.Fatal("the second item was not claimed")
	}
	pending, err := client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: "workers", Start: "-", End: "+", Count: 10}).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pending {
		if p.Consumer != "inline" {
			t.Errorf("item %s pending for %s, want inline", p.ID, p.Consumer)
		}
		ids = append(ids, p.ID)
	}
	if len(ids) != 2 || ids[1] != id {
		t.Errorf("pending %v, want both items, the second %s: none left unread", ids, id)
	}
}

// A claim whose read fails for another reason than a missing group takes its new item back
// out: nothing is left unread in the claimed stream, where no consumer would ever look.
// (Redis refuses the read here by ACL: this user may run everything but XREADGROUP.)
func TestClaimThatCannotReadLeavesNothingBehind(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, fastQueue)
	plain, ok := client.(*redis.Client)
	if !ok {
		t.Skip("needs a standalone Redis client")
	}
	user := "mbb-test-noread-" + strings.ReplaceAll(s.Keys().Prefix(), ":", "-")
	if err := client.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-xreadgroup").Err(); err != nil {
		t.Skipf("this Redis has no ACL users: %v", err)
	}
	t.Cleanup(func() { client.Do(context.Background(), "ACL", "DELUSER", user) })
	opts := *plain.Options()
	opts.Username, opts.Password = user, "pw"
	noRead := redis.NewClient(&opts)
	defer noRead.Close()

	if claimed(t, s, "pops", "inline", "first") == "" { // the stream and its group exist
		t.Fatal("the first item was not claimed")
	}
	refused := sessions.New(noRead, sessions.Options{Prefix: s.Keys().Prefix()})
	item := &bridge.QueueItem{Queue: "pops", Payload: []byte("second"), Claim: "inline"}
	err := refused.RecordEffects(ctx, "i-second", bridge.LegEffects{Queue: item})
	if !errors.Is(err, bridge.ErrNotQueued) || !strings.Contains(err.Error(), "can't run this command") {
		t.Fatalf("claim without read permission: %v, want ErrNotQueued with Redis's refusal", err)
	}
	if n := client.XLen(ctx, s.Keys().ClaimedQueue("pops")).Val(); n != 1 {
		t.Errorf("claimed stream holds %d items, want 1: the refused item must be taken back out", n)
	}
}

// A write's Ack finishes a claimed item in the write's own round trip, only if the write is
// accepted; a refused write leaves the item pending for its holder.
func TestUpdateLegWithAcksTheClaimedItem(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	id := claimed(t, s, "pops", "inline", "pop i1")
	if id == "" {
		t.Fatal("the item was not claimed")
	}
	release := s.Hold(ctx, "pops", "inline", id)

	stale := *in
	stale.Version = 0
	refused := &bridge.AckItem{Queue: "pops", ID: id}
	fx := effectsOf("refused", 1, "a1")
	fx.Ack = refused
	if _, err := s.UpdateLegWith(ctx, &stale, 0, fx); !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("UpdateLegWith(stale version) = %v, want ErrConflict", err)
	}
	if refused.Acked {
		t.Fatal("a refused write reported its item acked")
	}
	if d, _ := s.Depth(ctx, "pops"); d != 1 {
		t.Fatalf("depth %d after a refused write, want the item still there", d)
	}

	ack := &bridge.AckItem{Queue: "pops", ID: id}
	fx = effectsOf("accepted", 1, "a1")
	fx.Ack = ack
	w := *in
	w.State = bridge.StateOffered
	if fxErr, err := s.UpdateLegWith(ctx, &w, 0, fx); err != nil || fxErr != nil {
		t.Fatalf("UpdateLegWith = %v, %v", fxErr, err)
	}
	if !ack.Acked {
		t.Fatal("the accepted write did not report its item acked")
	}
	if d, _ := s.Depth(ctx, "pops"); d != 0 {
		t.Fatalf("depth %d after the accepted write, want 0 (acked and deleted)", d)
	}
	if timeline, events := written(t, s, "i1", "a1"); len(timeline) != 1 || len(events) != 1 {
		t.Fatalf("timeline %v, events %v; want the accepted write's only", timeline, events)
	}
	// The holder only lets it go now; outliving its keep-alive does not bring it back.
	release(false)
	time.Sleep(2 * fastQueue.ReclaimIdle)
	if d, _ := s.Depth(ctx, "pops"); d != 0 {
		t.Fatalf("depth %d after the hold ended, want 0", d)
	}
}
