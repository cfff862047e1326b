package resilient

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/sony/gobreaker/v2"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Breakers is an http.RoundTripper with one circuit breaker per upstream host (a site's
// outage must not stop the others). Transport failures, timeouts and the statuses
// Config.BreakerCounts names are failures; other answers are successes; a failure while the
// caller has given up (CallerErr) is not counted at all. An open breaker answers with an
// error wrapping bridge.ErrUnavailable and bridge.ErrBreakerOpen, without sending.
type Breakers struct {
	name     string
	next     http.RoundTripper
	counts   func(status int) bool
	settings gobreaker.Settings // Name is set per host

	mu     sync.Mutex
	byHost map[string]*gobreaker.CircuitBreaker[*http.Response]
}

// NewBreakers wraps next. logger gets one line per state change.
func NewBreakers(cfg Config, next http.RoundTripper, logger *slog.Logger) *Breakers {
	logger = nopLogger(logger)
	threshold := cfg.BreakerFailures
	counts := cfg.BreakerCounts
	if counts == nil {
		counts = TransientStatus
	}
	return &Breakers{
		name:   cfg.Name,
		next:   next,
		counts: counts,
		settings: gobreaker.Settings{
			MaxRequests: cfg.BreakerHalfOpenMax,
			Timeout:     cfg.BreakerOpenFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
			IsExcluded: func(err error) bool {
				var gone *callerGone
				return errors.As(err, &gone)
			},
			OnStateChange: func(host string, from, to gobreaker.State) {
				logger.Warn("circuit breaker changed state", "upstream", cfg.Name, "host", host,
					"from", from.String(), "to", to.String())
			},
		},
		byHost: make(map[string]*gobreaker.CircuitBreaker[*http.Response]),
	}
}

// Watch creates host's breaker now, so States lists it before the first call.
func (b *Breakers) Watch(host string) { b.breaker(host) }

// breaker returns host's breaker, creating it on first use.
func (b *Breakers) breaker(host string) *gobreaker.CircuitBreaker[*http.Response] {
	b.mu.Lock()
	defer b.mu.Unlock()
	cb, ok := b.byHost[host]
	if !ok {
		st := b.settings
		st.Name = host
		cb = gobreaker.NewCircuitBreaker[*http.Response](st)
		b.byHost[host] = cb
	}
	return cb
}

// State is host's breaker state: "closed", "half-open" or "open". A host never called is
// closed.
func (b *Breakers) State(host string) string {
	b.mu.Lock()
	cb, ok := b.byHost[host]
	b.mu.Unlock()
	if !ok {
		return gobreaker.StateClosed.String()
	}
	return cb.State().String()
}

// States reports every known host's breaker state.
func (b *Breakers) States() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.byHost))
	for host, cb := range b.byHost {
		out[host] = cb.State().String()
	}
	return out
}

// RoundTrip implements http.RoundTripper.
func (b *Breakers) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	resp, err := b.breaker(host).Execute(func() (*http.Response, error) {
		resp, err := b.next.RoundTrip(req)
		if err != nil {
			if CallerErr(req.Context()) != nil {
				return nil, &callerGone{err: err}
			}
			return nil, err
		}
		if b.counts(resp.StatusCode) {
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
		return nil, &breakerOpenError{upstream: b.name, host: host, cause: err}
	}
	return nil, err
}

// breakerOpenError is what an open (or saturated half-open) breaker answers instead of a
// request.
type breakerOpenError struct {
	upstream, host string
	cause          error // gobreaker.ErrOpenState or gobreaker.ErrTooManyRequests
}

func (e *breakerOpenError) Error() string {
	return fmt.Sprintf("%s host %s: %v: %v", e.upstream, e.host, bridge.ErrBreakerOpen, e.cause)
}

func (e *breakerOpenError) Unwrap() []error {
	return []error{bridge.ErrUnavailable, bridge.ErrBreakerOpen, e.cause}
}

// statusFailure carries a counted HTTP status through gobreaker as a failure; the response
// itself is handed on unchanged.
type statusFailure struct{ status int }

func (e *statusFailure) Error() string { return "HTTP " + strconv.Itoa(e.status) }

// callerGone wraps a transport error caused by the caller giving up, so the breaker can
// leave it out of its counts.
type callerGone struct{ err error }

func (e *callerGone) Error() string { return e.err.Error() }
func (e *callerGone) Unwrap() error { return e.err }
