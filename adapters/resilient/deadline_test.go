package resilient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
)

// slack is how late a deadline may be seen to end on a busy 2-core machine under -race.
const slack = 400 * time.Millisecond

// stackWith is the whole client with its own timeouts over next (a real transport, or one
// that watches a real transport).
func stackWith(cfg Config, t Timeouts, next http.RoundTripper) (*resty.Client, *Breakers) {
	b := NewBreakers(cfg, next, nil)
	return NewResty(cfg, b, t), b
}

// isTimeout: what the stack promises of a call or an attempt cut by its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

// within reports whether took is about want: not shorter, and late by at most slack.
func within(took, want time.Duration) bool {
	return took >= want-5*time.Millisecond && took <= want+slack
}

// sleep holds the request for d (or until the client gives up), then answers with status.
func sleep(d time.Duration, status int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
			w.WriteHeader(status)
		case <-r.Context().Done():
		}
	}
}

// watched is a RoundTripper over a real transport that keeps the context of every request
// that reached it.
type watched struct {
	next http.RoundTripper
	mu   sync.Mutex
	ctxs []context.Context
}

func (w *watched) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.ctxs = append(w.ctxs, req.Context())
	w.mu.Unlock()
	return w.next.RoundTrip(req)
}

func (w *watched) seen() []context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]context.Context(nil), w.ctxs...)
}

func TestAttemptTimeoutIsRetriedAndCounted(t *testing.T) {
	const attempt = 150 * time.Millisecond
	cfg := testConfig()
	cfg.Retries = 1
	cfg.BreakerFailures = 2
	u := newUpstream(t, hang)
	rc, b := stackWith(cfg, Timeouts{Attempt: attempt, Call: cfg.CallBudget(attempt)}, NewTransport(time.Second))
	start := time.Now()
	_, err := get(context.Background(), rc, u)
	took := time.Since(start)
	if !isTimeout(err) {
		t.Fatalf("GET against a hanging upstream = %v, want a timeout (DeadlineExceeded, net.Error Timeout)", err)
	}
	if got := u.hits.Load(); got != 2 {
		t.Errorf("requests = %d, want 2 (1 + 1 retry)", got)
	}
	if !within(took, 2*attempt) {
		t.Errorf("GET took %v, want about 2 attempts of %v", took, attempt)
	}
	if got := b.State(u.host()); got != "open" {
		t.Errorf("State = %q, want open: two attempt timeouts are two upstream failures", got)
	}
}

func TestCallTimeoutCutsRetries(t *testing.T) {
	tests := []struct {
		name     string
		behave   func(http.ResponseWriter, *http.Request)
		t        Timeouts
		backoff  time.Duration
		wantHits int32 // at least
	}{
		{name: "hanging attempts", behave: hang, t: Timeouts{Attempt: 50 * time.Millisecond, Call: 200 * time.Millisecond}, backoff: time.Millisecond, wantHits: 2},
		{name: "no attempt bound", behave: hang, t: Timeouts{Call: 200 * time.Millisecond}, backoff: time.Millisecond, wantHits: 1},
		{name: "failing answers, cut in a wait", behave: status(http.StatusServiceUnavailable), t: Timeouts{Attempt: time.Second, Call: 200 * time.Millisecond}, backoff: 60 * time.Millisecond, wantHits: 2},
		{name: "slow failing answers, cut in an attempt", behave: sleep(80*time.Millisecond, http.StatusServiceUnavailable), t: Timeouts{Attempt: time.Second, Call: 200 * time.Millisecond}, backoff: time.Millisecond, wantHits: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Retries = 1000
			cfg.BackoffMin, cfg.BackoffMax = tt.backoff, tt.backoff
			cfg.BreakerFailures = 10000 // this test is about the deadline, not the breaker
			u := newUpstream(t, tt.behave)
			rc, _ := stackWith(cfg, tt.t, NewTransport(time.Second))
			start := time.Now()
			_, err := get(context.Background(), rc, u)
			took := time.Since(start)
			if !isTimeout(err) {
				t.Fatalf("GET = %v, want a timeout (DeadlineExceeded, net.Error Timeout)", err)
			}
			if !within(took, tt.t.Call) {
				t.Errorf("GET took %v, want about the call timeout %v", took, tt.t.Call)
			}
			if got := u.hits.Load(); got < tt.wantHits {
				t.Errorf("requests = %d, want at least %d", got, tt.wantHits)
			}
		})
	}
}

func TestCallerEndIsNotCounted(t *testing.T) {
	const callerWaits = 60 * time.Millisecond
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		wantErr  error
		wantHits int32
	}{
		{
			name: "cancelled during an attempt",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(callerWaits, cancel)
				return ctx, cancel
			},
			wantErr:  context.Canceled,
			wantHits: 1,
		},
		{
			name: "cancelled before the call",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			wantErr:  context.Canceled,
			wantHits: 0,
		},
		{
			name: "own deadline, sooner than the stack's",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), callerWaits)
			},
			wantErr:  context.DeadlineExceeded,
			wantHits: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.BreakerFailures = 1
			u := newUpstream(t, hang)
			rc, b := stackWith(cfg, Timeouts{Attempt: 5 * time.Second, Call: 15 * time.Second}, NewTransport(time.Second))
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := get(ctx, rc, u)
			took := time.Since(start)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("GET = %v, want %v", err, tt.wantErr)
			}
			if took > callerWaits+slack {
				t.Errorf("GET took %v, want it to end when the caller gave up (%v)", took, callerWaits)
			}
			if got := u.hits.Load(); got != tt.wantHits {
				t.Errorf("requests = %d, want %d (the caller's end is not retried)", got, tt.wantHits)
			}
			if got := b.State(u.host()); got != "closed" {
				t.Errorf("State = %q, want closed: the caller gave up, the upstream did not fail", got)
			}
		})
	}
}

func TestBodyAfterTheCall(t *testing.T) {
	const attempt = 300 * time.Millisecond
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	tests := []struct {
		name     string
		dribble  time.Duration // the server's pause after each 16 KiB
		wantCut  bool          // the read fails with a timeout, wantTook after the call began
		wantTook time.Duration
	}{
		{name: "read in full within the deadlines", dribble: time.Millisecond},
		{name: "cut at the attempt timeout", dribble: 50 * time.Millisecond, wantCut: true, wantTook: attempt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				w.WriteHeader(http.StatusOK)
				for chunk := range slices.Chunk(body, 16<<10) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					_ = rc.Flush()
					select {
					case <-time.After(tt.dribble):
					case <-r.Context().Done():
						return
					}
				}
			})
			cfg := testConfig()
			rc, _ := stackWith(cfg, Timeouts{Attempt: attempt, Call: cfg.CallBudget(attempt)}, NewTransport(time.Second))
			start := time.Now()
			resp, err := rc.R().SetDoNotParseResponse(true).Get(u.srv.URL + "/x")
			if err != nil {
				t.Fatalf("GET = %v, want 200", err)
			}
			raw := resp.RawBody()
			defer raw.Close()
			time.Sleep(20 * time.Millisecond) // the call has returned; the body waits
			got, err := io.ReadAll(raw)
			took := time.Since(start)
			if tt.wantCut {
				if !isTimeout(err) {
					t.Fatalf("reading the body = %v, want a timeout (DeadlineExceeded, net.Error Timeout)", err)
				}
				if !within(took, tt.wantTook) {
					t.Errorf("the read ended after %v, want about %v", took, tt.wantTook)
				}
				return
			}
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("reading the body = %d bytes, %v, want all %d bytes", len(got), err, len(body))
			}
			if err := raw.Close(); err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
		})
	}
}

// The deadlines end with the call: the contexts they made are released (cancelled, not
// timed out) once the body is read and closed, and the caller's request is left as it was.
func TestDeadlinesReleasedWhenCallEnds(t *testing.T) {
	tests := []struct {
		name     string
		behave   func(http.ResponseWriter, *http.Request)
		wantHits int32
	}{
		{name: "answer with a body", behave: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }, wantHits: 1},
		{name: "no content", behave: status(http.StatusNoContent), wantHits: 1},
		{name: "retried failures", behave: status(http.StatusBadGateway), wantHits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const attempt = 10 * time.Second
			cfg := testConfig()
			cfg.BreakerFailures = 100
			u := newUpstream(t, tt.behave)
			w := &watched{next: NewTransport(time.Second)}
			rc, _ := stackWith(cfg, Timeouts{Attempt: attempt, Call: cfg.CallBudget(attempt)}, w)
			ctx := context.Background()
			if _, err := get(ctx, rc, u); err != nil {
				t.Fatalf("GET = %v, want an answer", err)
			}
			seen := w.seen()
			if len(seen) != int(tt.wantHits) {
				t.Fatalf("attempts = %d, want %d", len(seen), tt.wantHits)
			}
			for i, c := range seen {
				end, ok := c.Deadline()
				if !ok || time.Until(end) > attempt {
					t.Errorf("attempt %d deadline = %v, %v, want one within the attempt timeout", i, end, ok)
				}
				if c.Err() == nil || !errors.Is(context.Cause(c), context.Canceled) {
					t.Errorf("attempt %d context after the call: Err %v, Cause %v, want released (Canceled)", i, c.Err(), context.Cause(c))
				}
			}
		})
	}
}

// The requests of a redirect chain share one attempt's deadline, as they shared the
// http.Client.Timeout it replaces.
func TestAttemptDeadlineSpansRedirects(t *testing.T) {
	const hop = 80 * time.Millisecond
	tests := []struct {
		name        string
		attempt     time.Duration
		wantTimeout bool
	}{
		{name: "two hops within the attempt", attempt: 3 * hop, wantTimeout: false},
		{name: "each hop within, the chain not", attempt: hop + hop/2, wantTimeout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(hop):
				case <-r.Context().Done():
					return
				}
				if r.URL.Path == "/x" {
					http.Redirect(w, r, "/y", http.StatusFound)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			cfg := testConfig()
			cfg.Retries = 0
			rc, _ := stackWith(cfg, Timeouts{Attempt: tt.attempt, Call: time.Minute}, NewTransport(time.Second))
			resp, err := get(context.Background(), rc, u)
			if tt.wantTimeout {
				if !isTimeout(err) {
					t.Fatalf("GET = %v, %v, want a timeout", resp, err)
				}
				return
			}
			if err != nil || resp.StatusCode() != http.StatusOK {
				t.Fatalf("GET = %v, %v, want 200", resp, err)
			}
			if got := u.hits.Load(); got != 2 {
				t.Errorf("requests = %d, want 2 (the redirect and its target)", got)
			}
		})
	}
}

func TestNoGoroutinePerRequest(t *testing.T) {
	const calls = 200
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) })
	transport := NewTransport(time.Second)
	cfg := testConfig()
	rc, _ := stackWith(cfg, Timeouts{Attempt: time.Second, Call: cfg.CallBudget(time.Second)}, transport)
	// settled closes the idle connections and waits (2s at most) for the goroutine count to
	// reach limit and hold still: the connections' goroutines, client's and server's, end.
	settled := func(limit int) int {
		transport.CloseIdleConnections()
		n := runtime.NumGoroutine()
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n && m <= limit {
				break
			}
			n = m
		}
		return n
	}
	if _, err := get(context.Background(), rc, u); err != nil { // warm up
		t.Fatalf("GET = %v", err)
	}
	before := settled(math.MaxInt)
	for range calls {
		if _, err := get(context.Background(), rc, u); err != nil {
			t.Fatalf("GET = %v", err)
		}
	}
	if after := settled(before + 3); after > before+3 {
		t.Errorf("goroutines after %d calls = %d, want about %d", calls, after, before)
	}
}
