package oracle

// The lower half of the client stack (STYLE.md, "Resilient HTTP client order"):
//
//	resty → retryablehttp (checkRetry, jitteredBackoff) → breakerTransport (one gobreaker per
//	host) → http.Transport
//
// This file holds the retry policy, the backoff and the per-host breakers.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// callerKey marks the context the caller handed to a port method, so that the layers below
// can tell the caller's cancellation (never an upstream failure) from our own deadlines.
type callerKey struct{}

// markCaller remembers ctx as the caller's context (once: inner calls keep the outer mark).
func markCaller(ctx context.Context) context.Context {
	if ctx.Value(callerKey{}) != nil {
		return ctx
	}
	return context.WithValue(ctx, callerKey{}, ctx)
}

// callerErr is the caller's own cancellation or deadline, or nil while the caller still waits.
// Our deadlines (per attempt, pop budget) are not the caller's and do not show here.
func callerErr(ctx context.Context) error {
	caller, ok := ctx.Value(callerKey{}).(context.Context)
	if !ok {
		return nil
	}
	return caller.Err()
}

// noTransportRetryKey marks a request whose transport failures must not be retried blindly:
// chatRouted, whose outcome after a timeout is first read back from the CRM (see RouteChat).
type noTransportRetryKey struct{}

func withoutTransportRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noTransportRetryKey{}, true)
}

// checkRetry is retryablehttp's CheckRetry: it decides whether one failed attempt is worth
// another. Every call the adapter makes is idempotent (GETs, authenticate, poll, and
// chatRouted thanks to its transactionId); an open breaker is never retried.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, bridge.ErrBreakerOpen) {
			return false, err
		}
		if v, _ := ctx.Value(noTransportRetryKey{}).(bool); v {
			return false, err
		}
		return true, err
	}
	return transientStatus(resp.StatusCode), nil
}

// transientStatus: the server could not answer now; the same request may succeed later.
// These statuses are also breaker failures.
func transientStatus(code int) bool {
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return true
	case code >= 500 && code != http.StatusNotImplemented:
		return true
	}
	return false
}

// jitteredBackoff is retryablehttp's Backoff: full jitter between min and an exponential
// ceiling capped at max; a Retry-After on 429/503 is honoured up to max.
func jitteredBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			return min(max(time.Duration(s)*time.Second, minWait), maxWait)
		}
	}
	ceiling := maxWait
	if attempt < 30 {
		if c := minWait << attempt; c > 0 && c < maxWait {
			ceiling = c
		}
	}
	if ceiling <= minWait {
		return minWait
	}
	return minWait + rand.N(ceiling-minWait+1)
}

// breakerOpenError is what an open (or saturated half-open) breaker answers instead of a
// request. It wraps bridge.ErrUnavailable and bridge.ErrBreakerOpen.
type breakerOpenError struct {
	host  string
	cause error // gobreaker.ErrOpenState or gobreaker.ErrTooManyRequests
}

func (e *breakerOpenError) Error() string {
	return fmt.Sprintf("crm host %s: %v: %v", e.host, bridge.ErrBreakerOpen, e.cause)
}

func (e *breakerOpenError) Unwrap() []error {
	return []error{bridge.ErrUnavailable, bridge.ErrBreakerOpen, e.cause}
}

// statusFailure carries a transient HTTP status through gobreaker as a failure; the response
// itself is handed on unchanged.
type statusFailure struct{ status int }

func (e *statusFailure) Error() string { return "HTTP " + strconv.Itoa(e.status) }

// callerGone wraps a transport error caused by the caller's cancellation, so the breaker can
// leave it out of its counts.
type callerGone struct{ err error }

func (e *callerGone) Error() string { return e.err.Error() }
func (e *callerGone) Unwrap() error { return e.err }

// breakerTransport is an http.RoundTripper with one circuit breaker per upstream host.
// Transport errors, timeouts, 5xx, 408 and 429 are failures; other answers (4xx included)
// are successes; the caller's cancellation is not counted at all.
type breakerTransport struct {
	base     http.RoundTripper
	settings gobreaker.Settings // Name is set per host

	mu       sync.Mutex
	breakers map[string]*gobreaker.CircuitBreaker[*http.Response]
}

func newBreakerTransport(base http.RoundTripper, cfg Config, logger *slog.Logger) *breakerTransport {
	threshold := cfg.BreakerFailures
	return &breakerTransport{
		base: base,
		settings: gobreaker.Settings{
			MaxRequests: cfg.BreakerHalfOpenMax,
			Timeout:     cfg.BreakerOpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
			IsExcluded: func(err error) bool {
				var gone *callerGone
				return errors.As(err, &gone)
			},
			OnStateChange: func(host string, from, to gobreaker.State) {
				logger.Warn("crm circuit breaker changed state", "host", host, "from", from.String(), "to", to.String())
			},
		},
		breakers: make(map[string]*gobreaker.CircuitBreaker[*http.Response]),
	}
}

// breaker returns host's breaker, creating it on first use.
func (t *breakerTransport) breaker(host string) *gobreaker.CircuitBreaker[*http.Response] {
	t.mu.Lock()
	defer t.mu.Unlock()
	cb, ok := t.breakers[host]
	if !ok {
		st := t.settings
		st.Name = host
		cb = gobreaker.NewCircuitBreaker[*http.Response](st)
		t.breakers[host] = cb
	}
	return cb
}

// states reports every known host's breaker state: "closed", "half-open" or "open".
func (t *breakerTransport) states() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]string, len(t.breakers))
	for host, cb := range t.breakers {
		out[host] = cb.State().String()
	}
	return out
}

// RoundTrip implements http.RoundTripper.
func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	resp, err := t.breaker(host).Execute(func() (*http.Response, error) {
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			if callerErr(req.Context()) != nil {
				return nil, &callerGone{err: err}
			}
			return nil, err
		}
		if transientStatus(resp.StatusCode) {
			return resp, &statusFailure{status: resp.StatusCode}
		}
		return resp, nil
	})
	var (
		sf   *statusFailure
		gone *callerGone
	)
	switch {
	case err == nil:
		return resp, nil
	case errors.As(err, &sf):
		return resp, nil // a failure for the breaker, an answer for the retry policy
	case errors.As(err, &gone):
		return nil, gone.err
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return nil, &breakerOpenError{host: host, cause: err}
	}
	return nil, err
}
