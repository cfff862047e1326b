package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// A call the ACD rejects is dead-lettered, listed for ops, and replayed once the cause is
// fixed: the ACD then gets it exactly once, and the dead letter is gone.
func TestDeadLetterListAndReplay(t *testing.T) {
	f := newFixture(t, nil)
	var reject atomic.Bool
	reject.Store(true)
	f.acd.SendFn = func(ctx context.Context, call bridge.ACDCall) error {
		if reject.Load() {
			return fmt.Errorf("acd: 404 unknown interaction: %w", bridge.ErrRejected)
		}
		return nil
	}
	f.crm.RouteChatFn = answer("COULD_NOT_ASSIGN_ENGAGEMENT") // → requeue call
	f.login(t, "a1")
	f.route(t, "i1", "a1")
	ctx := t.Context()
	runOutbox := func() func() {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = f.svc.RunOutbox(ctx, "test-outbox"); close(done) }()
		return func() { cancel(); <-done }
	}

	stop := runOutbox()
	var dead []bridge.DeadLetter
	waitFor(t, "the rejected requeue dead-lettered", func() bool {
		dead, _ = f.svc.DeadLetters(ctx, "", 10)
		return len(dead) == 1
	})
	stop()
	d := dead[0]
	if d.ID == "" || d.Call.Kind != bridge.ACDRequeue || d.Call.InteractionID != "i1" || d.Error == "" || d.At.IsZero() {
		t.Fatalf("dead letter = %+v", d)
	}
	if n := len(f.acd.Calls()); n != 0 {
		t.Fatalf("ACD accepted %d calls while rejecting", n)
	}

	reject.Store(false)
	call, err := f.svc.ReplayDeadLetter(ctx, d.ID)
	if err != nil || call.IdempotencyKey != d.Call.IdempotencyKey {
		t.Fatalf("ReplayDeadLetter = %+v, %v", call, err)
	}
	if _, err := f.svc.ReplayDeadLetter(ctx, d.ID); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("second replay = %v, want ErrNotFound", err)
	}
	if left, _ := f.svc.DeadLetters(ctx, "", 10); len(left) != 0 {
		t.Errorf("dead letters after replay = %+v", left)
	}
	stop = runOutbox()
	waitFor(t, "the replayed call made", func() bool { return f.acd.Count(bridge.ACDRequeue, "i1") == 1 })
	time.Sleep(50 * time.Millisecond) // a surplus call would show up here
	stop()
	if n := f.acd.Count(bridge.ACDRequeue, "i1"); n != 1 {
		t.Errorf("ACD got %d requeues, want 1", n)
	}
}

func TestDeadLettersPage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	for i := range 5 {
		payload := fmt.Appendf(nil, `{"call":{"kind":"requeue","idempotency_key":"k%d"},"error":"rejected"}`, i)
		if err := f.work.Enqueue(ctx, bridge.QueueACDDeadLetter, payload); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	after := ""
	for range 10 {
		page, err := f.svc.DeadLetters(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			keys = append(keys, d.Call.IdempotencyKey)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(keys) != "[k0 k1 k2 k3 k4]" {
		t.Errorf("paged keys = %v", keys)
	}
	if _, err := f.svc.ReplayDeadLetter(ctx, "1-1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("replay of an unknown id = %v, want ErrNotFound", err)
	}
}
