package bridge_test

import (
	"context"
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

// waitingList is a CRM queue's waiting chats, as intake sees them.
type waitingList struct {
	mu    sync.Mutex
	chats []string
	polls atomic.Int32
}

func (w *waitingList) set(chats ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.chats = chats
}

func (w *waitingList) WaitingChats(_ context.Context, site, queueID string) ([]bridge.WaitingChat, error) {
	w.polls.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]bridge.WaitingChat, 0, len(w.chats))
	for _, c := range w.chats {
		out = append(out, bridge.WaitingChat{ChatID: c, QueueID: queueID})
	}
	return out, nil
}

// intakeService is a replica with intake on for queue "inbound" of site "demo", over the
// shared store; work wraps the work queue when not nil.
func intakeService(t *testing.T, store *sessions.Store, lister bridge.ChatLister, work bridge.WorkQueue) *bridge.Service {
	t.Helper()
	if work == nil {
		work = store
	}
	svc, err := bridge.New(bridge.Options{
		Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default(), Queues: map[string]bridge.QueueOptions{
			"inbound": {Name: "Inbound", Intake: true}, "manual": {Name: "Manual"},
		}}},
		IntakeEvery: 20 * time.Millisecond, ConsumerLockTTL: 300 * time.Millisecond,
	}, bridge.Deps{CRM: &bridgetest.CRM{}, ACD: &bridgetest.ACD{}, Store: store, Work: work, Events: store, Intake: lister})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newIntakeStore(t *testing.T) *sessions.Store {
	rdb, prefix := sessionstest.Redis(t)
	return sessions.New(rdb, sessions.Options{Prefix: prefix, ReclaimIdle: 100 * time.Millisecond, BlockFor: 50 * time.Millisecond})
}

// outboxCreates drains the outbox and returns the create calls by chat id.
func outboxCreates(t *testing.T, svc *bridge.Service, store *sessions.Store) map[string][]bridge.ACDCall {
	t.Helper()
	acd := &bridgetest.ACD{}
	drain, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default()}}},
		bridge.Deps{CRM: &bridgetest.CRM{}, ACD: acd, Store: store, Work: store, Events: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = drain.RunOutbox(ctx, "test-outbox"); close(done) }()
	waitFor(t, "outbox drained", func() bool {
		n, err := store.Depth(ctx, bridge.QueueACDOutbox)
		return err == nil && n == 0
	})
	cancel()
	<-done
	out := map[string][]bridge.ACDCall{}
	for _, c := range acd.Calls() {
		if c.Kind != bridge.ACDCreate {
			t.Errorf("unexpected ACD call %+v", c)
			continue
		}
		out[c.ChatID] = append(out[c.ChatID], c)
	}
	return out
}

func TestIntakeHandsEachNewChatToTheACDOnce(t *testing.T) {
	ctx := t.Context()
	store := newIntakeStore(t)
	list := &waitingList{}
	svc := intakeService(t, store, list, nil)

	list.set("c1", "c2")
	if n, err := svc.IntakeOnce(ctx, "demo", "inbound"); n != 2 || err != nil {
		t.Fatalf("first poll = %d, %v; want 2 new chats", n, err)
	}
	if n, err := svc.IntakeOnce(ctx, "demo", "inbound"); n != 0 || err != nil {
		t.Fatalf("second poll of the same chats = %d, %v; want 0", n, err)
	}
	list.set("c2", "c3") // c1 was popped; c3 is new
	if n, err := svc.IntakeOnce(ctx, "demo", "inbound"); n != 1 || err != nil {
		t.Fatalf("third poll = %d, %v; want 1 (c3)", n, err)
	}
	creates := outboxCreates(t, svc, store)
	for _, chat := range []string{"c1", "c2", "c3"} {
		calls := creates[chat]
		if len(calls) != 1 {
			t.Errorf("chat %s: %d create calls, want 1", chat, len(calls))
			continue
		}
		c := calls[0]
		if c.Site != "demo" || c.QueueID != "inbound" || c.IdempotencyKey != "intake/demo/"+chat {
			t.Errorf("chat %s: call %+v", chat, c)
		}
	}
}

// A chat whose create could not be queued is not remembered: the next poll hands it over.
func TestIntakeRetriesAChatWhoseCreateWasNotQueued(t *testing.T) {
	ctx := t.Context()
	store := newIntakeStore(t)
	list := &waitingList{}
	fo := &failingOutbox{WorkQueue: store}
	fo.fail.Store(1)
	svc := intakeService(t, store, list, fo)

	list.set("c1", "c2")
	n, err := svc.IntakeOnce(ctx, "demo", "inbound")
	if err == nil || n != 1 {
		t.Fatalf("poll with one failed enqueue = %d, %v; want 1 and an error", n, err)
	}
	if n, err := svc.IntakeOnce(ctx, "demo", "inbound"); n != 1 || err != nil {
		t.Fatalf("next poll = %d, %v; want the chat that was not queued", n, err)
	}
	creates := outboxCreates(t, svc, store)
	if len(creates["c1"]) != 1 || len(creates["c2"]) != 1 {
		t.Errorf("creates = %v, want one per chat", creates)
	}
}

func TestIntakeQueueNeedsALister(t *testing.T) {
	_, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default(),
		Queues: map[string]bridge.QueueOptions{"inbound": {Intake: true}}}}},
		bridge.Deps{CRM: &bridgetest.CRM{}, ACD: &bridgetest.ACD{}, Store: newIntakeStore(t), Work: newIntakeStore(t), Events: newIntakeStore(t)})
	if err == nil {
		t.Fatal("New() accepted an intake queue without a way to list waiting chats")
	}
}

// Two replicas run intake for the same site: one polls, the other stands by, and takes over
// when the first stops.
func TestRunIntakeIsOneReplicaAtATime(t *testing.T) {
	store := newIntakeStore(t)
	lists := []*waitingList{{}, {}}
	ctxs := make([]context.Context, 2)
	stops := make([]context.CancelFunc, 2)
	dones := make([]chan struct{}, 2)
	for i := range lists {
		svc := intakeService(t, store, lists[i], nil)
		ctxs[i], stops[i] = context.WithCancel(t.Context())
		dones[i] = make(chan struct{})
		go func() { _ = svc.RunIntake(ctxs[i], "demo"); close(dones[i]) }()
	}
	defer func() {
		for i := range stops {
			stops[i]()
			<-dones[i]
		}
	}()
	waitFor(t, "one replica polling", func() bool { return lists[0].polls.Load()+lists[1].polls.Load() >= 5 })
	active, standby := 0, 1
	if lists[1].polls.Load() > lists[0].polls.Load() {
		active, standby = 1, 0
	}
	if n := lists[standby].polls.Load(); n != 0 {
		t.Fatalf("both replicas polled (%d and %d)", lists[active].polls.Load(), n)
	}
	stops[active]()
	<-dones[active]
	waitFor(t, "the standby taking over", func() bool { return lists[standby].polls.Load() > 0 })
}
