package resilient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// upstream is a real HTTP server that answers what its behave function says and counts the
// requests it received.
type upstream struct {
	srv    *httptest.Server
	hits   atomic.Int32
	behave atomic.Value // func(http.ResponseWriter, *http.Request)
}

func newUpstream(t testing.TB, behave func(http.ResponseWriter, *http.Request)) *upstream {
	t.Helper()
	u := &upstream{}
	u.set(behave)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		u.behave.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) set(behave func(http.ResponseWriter, *http.Request)) { u.behave.Store(behave) }
func (u *upstream) host() string                                        { return strings.TrimPrefix(u.srv.URL, "http://") }

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// hang holds the request until the client gives up.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// drop closes the connection without an answer.
func drop(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func testConfig() Config {
	return Config{
		Name:               "test",
		Retries:            2,
		BackoffMin:         time.Millisecond,
		BackoffMax:         2 * time.Millisecond,
		BreakerFailures:    3,
		BreakerOpenFor:     time.Hour,
		BreakerHalfOpenMax: 1,
	}
}

// stack is the whole client: resty → retryablehttp → breakers → transport.
func stack(cfg Config, attempt time.Duration) (*resty.Client, *Breakers) {
	b := NewBreakers(cfg, NewTransport(time.Second), nil)
	return NewResty(cfg, b, Timeouts{Attempt: attempt, Call: cfg.CallBudget(attempt)}), b
}

func get(ctx context.Context, rc *resty.Client, u *upstream) (*resty.Response, error) {
	return rc.R().SetContext(ctx).Get(u.srv.URL + "/x")
}

func TestTransientStatusesAreRetriedThenAnswered(t *testing.T) {
	var n atomic.Int32
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	rc, b := stack(testConfig(), time.Second)
	resp, err := get(context.Background(), rc, u)
	if err != nil || resp.StatusCode() != http.StatusOK {
		t.Fatalf("GET = %v, %v, want 200", resp, err)
	}
	if got := u.hits.Load(); got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
	if got := b.State(u.host()); got != "closed" {
		t.Errorf("State = %q, want closed (2 failures, then a success)", got)
	}
}

func TestAnswersAreNotRetriedAndDoNotTrip(t *testing.T) {
	cfg := testConfig()
	cfg.BreakerFailures = 1
	for _, code := range []int{400, 401, 404, 409, 501} {
		u := newUpstream(t, status(code))
		rc, b := stack(cfg, time.Second)
		resp, err := get(context.Background(), rc, u)
		if err != nil || resp.StatusCode() != code {
			t.Fatalf("GET = %v, %v, want %d", resp, err, code)
		}
		if got := u.hits.Load(); got != 1 {
			t.Errorf("HTTP %d: requests = %d, want 1", code, got)
		}
		if got := b.State(u.host()); got != "closed" {
			t.Errorf("HTTP %d: State = %q, want closed", code, got)
		}
	}
}

func TestOpenBreakerStopsRetriesAndFailsWithoutSending(t *testing.T) {
	cfg := testConfig()
	cfg.Retries = 5
	cfg.BreakerFailures = 2
	u := newUpstream(t, status(http.StatusBadGateway))
	rc, b := stack(cfg, time.Second)
	_, err := get(context.Background(), rc, u)
	if !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("GET against a failing upstream = %v, want ErrBreakerOpen and ErrUnavailable", err)
	}
	if got := u.hits.Load(); got != 2 {
		t.Errorf("requests = %d, want 2: retries stop when the breaker opens", got)
	}
	if got := b.States(); got[u.host()] != "open" {
		t.Errorf("States = %v, want %s open", got, u.host())
	}
	_, err = get(context.Background(), rc, u)
	if !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("GET with the breaker open = %v, want ErrBreakerOpen and ErrUnavailable", err)
	}
	if got := u.hits.Load(); got != 2 {
		t.Errorf("requests = %d, want still 2: an open breaker sends nothing", got)
	}
}

func TestBreakerRecoversAfterOpenFor(t *testing.T) {
	cfg := testConfig()
	cfg.Retries = 0
	cfg.BreakerFailures = 1
	cfg.BreakerOpenFor = 50 * time.Millisecond
	u := newUpstream(t, status(http.StatusServiceUnavailable))
	rc, b := stack(cfg, time.Second)
	if _, err := get(context.Background(), rc, u); err != nil {
		t.Fatalf("first GET = %v, want the 503 answer", err)
	}
	if got := b.State(u.host()); got != "open" {
		t.Fatalf("State = %q, want open", got)
	}
	u.set(status(http.StatusOK))
	time.Sleep(cfg.BreakerOpenFor + 20*time.Millisecond)
	resp, err := get(context.Background(), rc, u)
	if err != nil || resp.StatusCode() != http.StatusOK {
		t.Fatalf("GET after OpenFor = %v, %v, want 200", resp, err)
	}
	if got := b.State(u.host()); got != "closed" {
		t.Errorf("State after a good probe = %q, want closed", got)
	}
}

func TestOneBreakerPerHost(t *testing.T) {
	cfg := testConfig()
	cfg.Retries = 0
	cfg.BreakerFailures = 1
	bad := newUpstream(t, status(http.StatusInternalServerError))
	good := newUpstream(t, status(http.StatusOK))
	rc, b := stack(cfg, time.Second)
	b.Watch(good.host())
	_, _ = get(context.Background(), rc, bad)
	if resp, err := get(context.Background(), rc, good); err != nil || resp.StatusCode() != http.StatusOK {
		t.Fatalf("GET to the healthy host = %v, %v, want 200", resp, err)
	}
	want := map[string]string{bad.host(): "open", good.host(): "closed"}
	got := b.States()
	for host, state := range want {
		if got[host] != state {
			t.Errorf("States()[%s] = %q, want %q (all: %v)", host, got[host], state, got)
		}
	}
	if got := b.State("never.called"); got != "closed" {
		t.Errorf("State(never called) = %q, want closed", got)
	}
}

func TestBreakerCountsOverride(t *testing.T) {
	cfg := testConfig()
	cfg.BreakerFailures = 1
	cfg.BreakerCounts = func(status int) bool { return status >= 500 }
	u := newUpstream(t, status(http.StatusTooManyRequests))
	rc, b := stack(cfg, time.Second)
	resp, err := get(context.Background(), rc, u)
	if err != nil || resp.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("GET = %v, %v, want the 429", resp, err)
	}
	if got := u.hits.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (429 is still retried)", got)
	}
	if got := b.State(u.host()); got != "closed" {
		t.Errorf("State = %q, want closed: this breaker does not count 429", got)
	}
}

func TestCallerGivingUpIsNotAFailure(t *testing.T) {
	cfg := testConfig()
	cfg.BreakerFailures = 1
	u := newUpstream(t, hang)
	rc, b := stack(cfg, 5*time.Second)
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := get(ctx, rc, u)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("GET cancelled by the caller = %v, want context.Canceled", err)
		}
		if got := b.State(u.host()); got != "closed" {
			t.Fatalf("State = %q, want closed: the caller gave up, the upstream did not fail", got)
		}
	}
	if got := u.hits.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (a cancelled call is not retried)", got)
	}

	// The attempt timeout is the stack's own deadline: that is the upstream failing.
	cfg.Retries = 0
	rc, b = stack(cfg, 20*time.Millisecond)
	if _, err := get(context.Background(), rc, u); err == nil {
		t.Fatal("GET against a hanging upstream = nil error, want a timeout")
	}
	if got := b.State(u.host()); got != "open" {
		t.Errorf("State after an attempt timeout = %q, want open", got)
	}
}

func TestWithoutTransportRetry(t *testing.T) {
	cfg := testConfig()
	cfg.BreakerFailures = 100 // this test is about retries, not the breaker
	u := newUpstream(t, drop)
	rc, _ := stack(cfg, time.Second)
	if _, err := get(context.Background(), rc, u); err == nil {
		t.Fatal("GET against a dropping upstream = nil error")
	}
	if got := u.hits.Load(); got != 3 {
		t.Errorf("requests = %d, want 3 (1 + 2 retries)", got)
	}
	u.hits.Store(0)
	if _, err := get(WithoutTransportRetry(context.Background()), rc, u); err == nil {
		t.Fatal("GET against a dropping upstream = nil error")
	}
	if got := u.hits.Load(); got != 1 {
		t.Errorf("requests marked WithoutTransportRetry = %d, want 1", got)
	}
}

// BenchmarkStack is one small GET through the whole stack (resty → retryablehttp →
// breakers → transport) against a local server, with both deadlines set; allocs/op is the
// figure to watch (the server's own allocations are included).
func BenchmarkStack(b *testing.B) {
	u := newUpstream(b, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) })
	rc, _ := stack(testConfig(), time.Second)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := get(ctx, rc, u)
		if err != nil || resp.StatusCode() != http.StatusOK || len(resp.Body()) == 0 {
			b.Fatalf("GET = %v, %v, want 200 with a body", resp, err)
		}
	}
}
