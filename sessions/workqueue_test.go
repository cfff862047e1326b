package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// fastQueue are small durations so redelivery happens within a test.
var fastQueue = sessions.Options{ReclaimIdle: 200 * time.Millisecond, BlockFor: 50 * time.Millisecond}

// consume runs Consume in the background until the returned stop is called; stop waits for
// it and fails the test if Consume returned an error.
func consume(t *testing.T, s *sessions.Store, queue, consumer string, handle func(context.Context, bridge.WorkItem) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Consume(ctx, queue, consumer, handle) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Consume(%s, %s) = %v, want nil after cancel", queue, consumer, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Consume(%s, %s) did not return within 5s of cancel", queue, consumer)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type delivery struct {
	Consumer   string
	Payload    string
	Deliveries int64
	At         time.Time
}

// recorder collects deliveries from any number of consumers.
type recorder struct {
	mu  sync.Mutex
	got []delivery
}

func (r *recorder) add(consumer string, it bridge.WorkItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, delivery{Consumer: consumer, Payload: string(it.Payload), Deliveries: it.Deliveries, At: time.Now()})
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func TestWorkQueueDeliversOnce(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	const n = 30
	var want []string
	for i := range n {
		p := fmt.Sprintf("item-%02d", i)
		want = append(want, p)
		if err := s.Enqueue(ctx, "pops", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := s.Depth(ctx, "pops"); err != nil || d != n {
		t.Fatalf("Depth(pops) = %d, %v, want %d", d, err, n)
	}
	var rec recorder
	for _, c := range []string{"c1", "c2"} {
		consume(t, s, "pops", c, func(_ context.Context, it bridge.WorkItem) error {
			rec.add(c, it)
			time.Sleep(time.Millisecond)
			return nil
		})
	}
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "pops"); return d == 0 })
	time.Sleep(3 * fastQueue.ReclaimIdle) // nothing may come back

	var got []string
	for _, d := range rec.all() {
		got = append(got, d.Payload)
		if d.Deliveries != 1 {
			t.Errorf("item %s delivered with Deliveries %d, want 1", d.Payload, d.Deliveries)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered items mismatch (-want +got):\n%s", diff)
	}
}

func TestWorkQueueRetryAfterError(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	var rec recorder
	consume(t, s, "outbox", "c1", func(_ context.Context, it bridge.WorkItem) error {
		rec.add("c1", it)
		if it.Deliveries < 3 {
			return errors.New("ACD unavailable")
		}
		return nil
	})
	if err := s.Enqueue(ctx, "outbox", []byte("call")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "three deliveries", func() bool { return len(rec.all()) >= 3 })
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "outbox"); return d == 0 })

	got := rec.all()
	var counts []int64
	for _, d := range got {
		counts = append(counts, d.Deliveries)
	}
	if diff := cmp.Diff([]int64{1, 2, 3}, counts); diff != "" {
		t.Errorf("Deliveries per attempt mismatch (-want +got):\n%s", diff)
	}
	// Idle time runs from the (re)delivery, a few round trips before the handler records it,
	// so the recorded gap may fall a little short of ReclaimIdle; it must not be immediate.
	for i := 1; i < len(got); i++ {
		if gap := got[i].At.Sub(got[i-1].At); gap < fastQueue.ReclaimIdle*3/4 {
			t.Errorf("attempt %d came %v after the previous one, want about ReclaimIdle %v", i+1, gap, fastQueue.ReclaimIdle)
		}
	}
}

func TestWorkQueueConsumerKilled(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	started := make(chan struct{})
	stopA := consume(t, s, "pops", "replica-a", func(hctx context.Context, it bridge.WorkItem) error {
		close(started)
		<-hctx.Done() // killed mid-handler
		return hctx.Err()
	})
	if err := s.Enqueue(ctx, "pops", []byte("pop-1")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("replica-a never got the item")
	}
	stopA()

	var rec recorder
	consume(t, s, "pops", "replica-b", func(_ context.Context, it bridge.WorkItem) error {
		rec.add("replica-b", it)
		return nil
	})
	waitFor(t, 5*time.Second, "replica-b takes the item over", func() bool { return len(rec.all()) == 1 })
	want := []delivery{{Consumer: "replica-b", Payload: "pop-1", Deliveries: 2}}
	if diff := cmp.Diff(want, rec.all(), cmpIgnoreAt); diff != "" {
		t.Errorf("takeover mismatch (-want +got):\n%s", diff)
	}
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "pops"); return d == 0 })
}

func TestWorkQueueLongHandlerKeepsItem(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, fastQueue)
	var rec recorder
	for _, c := range []string{"c1", "c2"} {
		consume(t, s, "pops", c, func(_ context.Context, it bridge.WorkItem) error {
			rec.add(c, it)
			time.Sleep(4 * fastQueue.ReclaimIdle) // longer than ReclaimIdle: kept alive
			return nil
		})
	}
	if err := s.Enqueue(ctx, "pops", []byte("slow")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "pops"); return d == 0 })
	if got := rec.all(); len(got) != 1 {
		t.Errorf("slow item delivered %d times (%+v), want once", len(got), got)
	}
}

func TestWorkQueueFull(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{QueueMaxLen: 2})
	tests := []struct {
		give    string
		wantErr error
	}{
		{give: "a"},
		{give: "b"},
		{give: "c", wantErr: sessions.ErrQueueFull},
	}
	for _, tt := range tests {
		if err := s.Enqueue(ctx, "q", []byte(tt.give)); !errors.Is(err, tt.wantErr) {
			t.Errorf("Enqueue(%q) = %v, want %v", tt.give, err, tt.wantErr)
		}
	}
	if d, err := s.Depth(ctx, "q"); err != nil || d != 2 {
		t.Errorf("Depth(q) = %d, %v, want 2", d, err)
	}
}

func TestWorkQueueDropsIdleConsumers(t *testing.T) {
	ctx := t.Context()
	opts := fastQueue
	opts.ConsumerTTL = 300 * time.Millisecond
	s, client := newStore(t, opts)
	if err := s.Enqueue(ctx, "pops", []byte("x")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	stopOld := consume(t, s, "pops", "old-pod", func(context.Context, bridge.WorkItem) error { close(done); return nil })
	<-done
	stopOld()

	cs, err := client.XInfoConsumers(ctx, s.Keys().Queue("pops"), "workers").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) > 0 && cs[0].Idle < 0 {
		t.Skip("this server does not report consumer idle times (miniredis)")
	}
	consume(t, s, "pops", "new-pod", func(context.Context, bridge.WorkItem) error { return nil })
	waitFor(t, 5*time.Second, "old-pod removed from the group", func() bool {
		cs, err := client.XInfoConsumers(ctx, s.Keys().Queue("pops"), "workers").Result()
		if err != nil {
			return false
		}
		return !slices.ContainsFunc(cs, func(c redisConsumer) bool { return c.Name == "old-pod" })
	})
}

func TestWorkQueueRecoversDeletedStream(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, fastQueue)
	var rec recorder
	consume(t, s, "pops", "c1", func(_ context.Context, it bridge.WorkItem) error { rec.add("c1", it); return nil })
	if err := s.Enqueue(ctx, "pops", []byte("first")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first item", func() bool { return len(rec.all()) == 1 })
	// Someone deletes the stream (and with it the group); work enqueued afterwards still flows.
	if err := client.Del(ctx, s.Keys().Queue("pops")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "pops", []byte("second")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "second item", func() bool { return len(rec.all()) == 2 })
}

func TestConsumeNeedsConsumerName(t *testing.T) {
	s, _ := newStore(t, fastQueue)
	if err := s.Consume(t.Context(), "pops", "", nil); err == nil {
		t.Errorf("Consume with an empty consumer name = nil, want an error")
	}
}

type redisConsumer = redis.XInfoConsumer

var cmpIgnoreAt = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".At" }, cmp.Ignore())
