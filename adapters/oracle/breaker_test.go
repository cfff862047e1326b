package oracle_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// openBreaker logs in, then fails engagement reads until the host's breaker opens.
func openBreaker(t testing.TB, w *world) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.crm.Engagement(ctx, site, "1"); err != nil { // log in while healthy
		t.Fatal(err)
	}
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpEngagement, HTTPStatus: 503}))
	for range 50 {
		if w.crm.BreakerStates()[w.host()] == "open" {
			return
		}
		if _, err := w.crm.Engagement(ctx, site, "1"); !errors.Is(err, bridge.ErrUnavailable) {
			t.Fatalf("Engagement with a failing CRM: error = %v, want ErrUnavailable", err)
		}
	}
	t.Fatalf("breaker never opened: %v", w.crm.BreakerStates())
}

func TestBreakerOpensAndFailsFast(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) {
		c.BreakerFailures = 3
		c.BreakerOpenFor = time.Minute
	})
	openBreaker(t, w)
	// 1 healthy read + 3 failing attempts (retries included) opened it.
	if n := w.mock.Calls(crmmock.OpEngagement); n != 4 {
		t.Errorf("Calls(engagement) = %d, want 4", n)
	}
	calls := w.mock.Dump().Calls

	ctx := context.Background()
	chat := w.chat(t, "Q1")
	ops := []struct {
		name string
		call func() error
	}{
		{"RouteChat", func() error { _, err := w.crm.RouteChat(ctx, pop(chat, "A1", "Q1")); return err }},
		{"Engagement", func() error { _, err := w.crm.Engagement(ctx, site, chat); return err }},
		{"AgentSession", func() error { _, err := w.crm.AgentSession(ctx, site, "A1"); return err }},
		{"PollEvents", func() error { _, err := w.crm.PollEvents(ctx, site, 0); return err }},
		{"WaitingChats", func() error { _, err := w.crm.WaitingChats(ctx, site, "Q1"); return err }},
	}
	for _, op := range ops {
		start := time.Now()
		err := op.call()
		elapsed := time.Since(start)
		if !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
			t.Errorf("%s with an open breaker: error = %v, want ErrBreakerOpen and ErrUnavailable", op.name, err)
		}
		// A generous bound; the real figure (< 50ms) is BenchmarkRouteChatBreakerOpen's.
		if elapsed > 500*time.Millisecond {
			t.Errorf("%s with an open breaker took %v, want a fast failure", op.name, elapsed)
		}
	}
	for op, n := range w.mock.Dump().Calls {
		if n != calls[op] {
			t.Errorf("Calls(%s) went from %d to %d: an open breaker must not send", op, calls[op], n)
		}
	}
}

func TestBreakerRecoversAfterOpenFor(t *testing.T) {
	const openFor = 150 * time.Millisecond
	w := newWorld(t, func(c *oracle.Config) {
		c.BreakerFailures = 2
		c.BreakerOpenFor = openFor
		c.Retries = -1
	})
	openBreaker(t, w)
	ctx := context.Background()

	// Still failing after BreakerOpenFor: the probe fails and the breaker opens again.
	time.Sleep(openFor + 50*time.Millisecond)
	if got := w.crm.BreakerStates()[w.host()]; got != "half-open" {
		t.Fatalf("BreakerStates()[host] after %v = %q, want half-open", openFor, got)
	}
	if _, err := w.crm.Engagement(ctx, site, "1"); errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("half-open probe: error = %v, want ErrUnavailable from the CRM itself", err)
	}
	if got := w.crm.BreakerStates()[w.host()]; got != "open" {
		t.Fatalf("BreakerStates()[host] after a failed probe = %q, want open", got)
	}

	// Healthy again: the next probe closes it.
	w.mock.ClearFaults()
	time.Sleep(openFor + 50*time.Millisecond)
	got, err := w.crm.RouteChat(ctx, pop(w.chat(t, "Q1"), "A1", "Q1"))
	if err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat after recovery = %+v, %v, want SUCCESS", got, err)
	}
	if got := w.crm.BreakerStates()[w.host()]; got != "closed" {
		t.Errorf("BreakerStates()[host] after a good probe = %q, want closed", got)
	}
}

// The caller giving up is not the CRM failing: ctx.Err() comes back, the breaker counts nothing.
func TestCallerCancellationDoesNotTripBreaker(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) { c.BreakerFailures = 1 })
	if _, err := w.crm.Engagement(context.Background(), site, "1"); err != nil { // log in
		t.Fatal(err)
	}
	inject(t, w, crmmock.Fault{Op: "*", Hang: true})

	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name: "cancelled while waiting",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name: "cancelled before the call",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
		{
			name: "caller's own deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := []struct {
				name string
				call func(ctx context.Context) error
			}{
				{"RouteChat", func(ctx context.Context) error {
					_, err := w.crm.RouteChat(ctx, pop("1", "A1", "Q1"))
					return err
				}},
				{"AgentSession", func(ctx context.Context) error { _, err := w.crm.AgentSession(ctx, site, "A1"); return err }},
				{"PollEvents", func(ctx context.Context) error { _, err := w.crm.PollEvents(ctx, site, 0); return err }},
			}
			for _, c := range calls {
				ctx, cancel := tt.ctx()
				start := time.Now()
				err := c.call(ctx)
				cancel()
				if !errors.Is(err, tt.wantErr) || errors.Is(err, bridge.ErrUnavailable) {
					t.Errorf("%s error = %v, want %v and not ErrUnavailable", c.name, err, tt.wantErr)
				}
				if elapsed := time.Since(start); elapsed > 200*time.Millisecond {
					t.Errorf("%s took %v after the caller gave up", c.name, elapsed)
				}
				if got := w.crm.BreakerStates()[w.host()]; got != "closed" {
					t.Fatalf("%s: BreakerStates()[host] = %q, want closed", c.name, got)
				}
			}
		})
	}

	w.mock.ClearFaults()
	if got, err := w.crm.RouteChat(context.Background(), pop(w.chat(t, "Q1"), "A1", "Q1")); err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat afterwards = %+v, %v, want SUCCESS", got, err)
	}
}

// A 4xx is the CRM answering: not a breaker failure, not retried, ErrRejected.
func TestClientErrorsDoNotTripBreaker(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) { c.BreakerFailures = 1 })
	ctx := context.Background()
	for _, status := range []int{400, 404, 409} {
		inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: status, Count: 1})
		before := w.mock.Calls(crmmock.OpChatRouted)
		_, err := w.crm.RouteChat(ctx, pop(w.chat(t, "Q1"), "A1", "Q1"))
		if !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) {
			t.Errorf("RouteChat with HTTP %d: error = %v, want ErrRejected only", status, err)
		}
		if n := w.mock.Calls(crmmock.OpChatRouted) - before; n != 1 {
			t.Errorf("HTTP %d sent %d times, want 1 (no retry)", status, n)
		}
		if got := w.crm.BreakerStates()[w.host()]; got != "closed" {
			t.Fatalf("after HTTP %d: BreakerStates()[host] = %q, want closed", status, got)
		}
	}
	// The CRM was answering all along: the next pop goes through.
	if got, err := w.crm.RouteChat(ctx, pop(w.chat(t, "Q1"), "A1", "Q1")); err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat afterwards = %+v, %v, want SUCCESS", got, err)
	}
}

// BenchmarkRouteChatBreakerOpen is the fast-failure figure: with the breaker open a pop must
// fail in well under 50ms (it should take microseconds).
func BenchmarkRouteChatBreakerOpen(b *testing.B) {
	w := newWorld(b, func(c *oracle.Config) {
		c.BreakerFailures = 1
		c.BreakerOpenFor = time.Hour
	})
	openBreaker(b, w)
	ctx := context.Background()
	req := pop("1", "A1", "Q1")
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		_, err := w.crm.RouteChat(ctx, req)
		worst = max(worst, time.Since(start))
		if !errors.Is(err, bridge.ErrBreakerOpen) {
			b.Fatalf("RouteChat error = %v, want ErrBreakerOpen", err)
		}
	}
	b.ReportMetric(float64(worst.Microseconds()), "worst-µs")
}
