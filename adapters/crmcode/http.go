package crmcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// maxReplyBytes bounds a CRM reply body; a longer one is malformed.
const maxReplyBytes = 4 << 20

// HTTP is the HTTP side every CRM adapter shares, whatever its wire protocol: the resilient
// stack (adapters/resilient: resty → retryablehttp → one breaker per host), with one client
// for ordinary calls and one for the long-poll, and the reading of a reply into the port's
// error contract.
type HTTP struct {
	// Name prefixes every error ("oracle", "webhookcrm").
	Name string
	// Calls bound each attempt by CallTimeout; Polls by PollWait + CallTimeout.
	Calls, Polls *resty.Client

	policy    resilient.Policy
	breakers  *resilient.Breakers
	transport *http.Transport
}

// NewHTTP builds the stack for policy. baseURLs are the configured sites' endpoints, whose
// hosts are watched from the start so BreakerStates lists every one.
func NewHTTP(name string, policy resilient.Policy, baseURLs []string, logger *slog.Logger) *HTTP {
	rc := policy.Config("crm") // the CRM's breaker counts transport failures, timeouts, 408, 429, 5xx
	h := &HTTP{Name: name, policy: policy, transport: resilient.NewTransport(policy.CallTimeout)}
	h.breakers = resilient.NewBreakers(rc, h.transport, logger)
	stack := func(attempt time.Duration) *resty.Client {
		return resilient.NewResty(rc, h.breakers, resilient.Timeouts{Attempt: attempt, Call: rc.CallBudget(attempt)}).
			SetResponseBodyLimit(maxReplyBytes).
			SetHeader("Accept", "application/json")
	}
	h.Calls, h.Polls = stack(policy.CallTimeout), stack(policy.PollAttempt())
	for _, raw := range baseURLs {
		if u, err := url.Parse(raw); err == nil {
			h.breakers.Watch(u.Host)
		}
	}
	return h
}

// CallBudget is the whole-call deadline for a call whose attempts take attempt: every
// attempt plus the longest waits between them.
func (h *HTTP) CallBudget(attempt time.Duration) time.Duration {
	return h.policy.Config("crm").CallBudget(attempt)
}

// BreakerStates reports each upstream host's breaker: "closed", "half-open" or "open".
func (h *HTTP) BreakerStates() map[string]string { return h.breakers.States() }

// Close releases idle connections.
func (h *HTTP) Close() { h.transport.CloseIdleConnections() }

// Reply reads one executed exchange (resp, err from resty's Execute) and returns the body
// of a 200 answer. Errors: the caller's ctx.Err() (wrapped) when the caller gave up;
// bridge.ErrUnavailable (+ ErrBreakerOpen) when there was no answer, or with ErrAnsweredError
// for 408/429/5xx; bridge.ErrRejected for another 4xx (describe, when set, quotes the
// server's reason); bridge.ErrMalformedReply for any other status or an oversized body.
func (h *HTTP) Reply(ctx context.Context, op, site string, resp *resty.Response, err error, describe func([]byte) string) ([]byte, error) {
	prefix := fmt.Sprintf("%s %s site %s", h.Name, op, site)
	if err != nil {
		switch {
		case resilient.CallerErr(ctx) != nil:
			return nil, fmt.Errorf("%s: %w", prefix, resilient.CallerErr(ctx))
		case errors.Is(err, resty.ErrResponseBodyTooLarge):
			return nil, fmt.Errorf("%s: %w: %w", prefix, bridge.ErrMalformedReply, err)
		case errors.Is(err, bridge.ErrBreakerOpen):
			return nil, fmt.Errorf("%s: %w", prefix, err) // already wraps ErrUnavailable
		}
		return nil, fmt.Errorf("%s: %w: %w", prefix, bridge.ErrUnavailable, err)
	}
	status := resp.StatusCode()
	switch {
	case status == http.StatusOK:
		return resp.Body(), nil
	case resilient.TransientStatus(status):
		return nil, fmt.Errorf("%s: HTTP %d: %w: %w", prefix, status, bridge.ErrUnavailable, ErrAnsweredError)
	case status >= 400 && status < 500 && describe != nil:
		return nil, fmt.Errorf("%s: HTTP %d %s: %w", prefix, status, describe(resp.Body()), bridge.ErrRejected)
	case status >= 400 && status < 500:
		return nil, fmt.Errorf("%s: HTTP %d: %w", prefix, status, bridge.ErrRejected)
	}
	return nil, fmt.Errorf("%s: HTTP %d: %w", prefix, status, bridge.ErrMalformedReply)
}

// CallerGone is the error for a call not made because the caller already gave up (nil when
// it has not).
func (h *HTTP) CallerGone(ctx context.Context, op, site string) error {
	if err := resilient.CallerErr(ctx); err != nil {
		return fmt.Errorf("%s %s site %s: %w", h.Name, op, site, err)
	}
	return nil
}

// CheckBaseURL validates a site's endpoint for a config error naming the field.
func CheckBaseURL(prefix, site, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: sites.%s.base_url: %q is not an http(s) URL", prefix, site, raw)
	}
	return nil
}
