package acd

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/sony/gobreaker/v2"
)

// breakers is the transport with one circuit breaker per upstream host. It sits inside the
// retries, so every attempt counts and an open breaker stops the retry loop at once.
type breakers struct {
	cfg    Config
	logger *slog.Logger
	next   http.RoundTripper

	mu     sync.Mutex
	byHost map[string]*gobreaker.CircuitBreaker[*http.Response]
}

func newBreakers(cfg Config, logger *slog.Logger, next http.RoundTripper) *breakers {
	return &breakers{cfg: cfg, logger: logger, next: next, byHost: map[string]*gobreaker.CircuitBreaker[*http.Response]{}}
}

// errServerFailure marks a 5xx for the breaker; the response itself still goes back to the
// retry layer.
var errServerFailure = errors.New("acd server error")

func (b *breakers) breaker(host string) *gobreaker.CircuitBreaker[*http.Response] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cb, ok := b.byHost[host]; ok {
		return cb
	}
	cb := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        host,
		MaxRequests: b.cfg.BreakerHalfOpenMax,
		Timeout:     b.cfg.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.cfg.BreakerFailures },
		// The caller giving up says nothing about the ACD's health.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.logger.Warn("acd circuit breaker state changed", "host", name, "from", from.String(), "to", to.String())
		},
	})
	b.byHost[host] = cb
	return cb
}

// state reports a host's breaker state; a host never called is closed.
func (b *breakers) state(host string) string {
	b.mu.Lock()
	cb, ok := b.byHost[host]
	b.mu.Unlock()
	if !ok {
		return gobreaker.StateClosed.String()
	}
	return cb.State().String()
}

// RoundTrip counts transport errors and 5xx as failures; any other answer (4xx included) is a
// success for the breaker.
func (b *breakers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.breaker(req.URL.Host).Execute(func() (*http.Response, error) {
		resp, err := b.next.RoundTrip(req)
		if err != nil {
			if req.Context().Err() == context.Canceled {
				return nil, context.Canceled
			}
			return nil, err
		}
		if resp.StatusCode >= 500 {
			return resp, errServerFailure
		}
		return resp, nil
	})
	if errors.Is(err, errServerFailure) {
		return resp, nil
	}
	return resp, err
}

func isBreakerOpen(err error) bool {
	return errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}
