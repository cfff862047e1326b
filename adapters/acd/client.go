// Package acd is the bridge's client of the ACD REST API (/acd/v1). It implements
// bridge.ACD: it reports ErrUnavailable (retry later) or ErrRejected (never succeeds) and the
// core's outbox decides what to do.
//
// Stack (adapters/resilient): resty (whole-call timeout, no retries) → retryablehttp
// (jittered backoff; every call carries an Idempotency-Key so transport errors, 5xx and 429
// are safe to retry) → one gobreaker per host → transport.
package acd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// HeaderIdempotencyKey is sent with every call; the ACD applies a key once.
const HeaderIdempotencyKey = "Idempotency-Key"

// Config is every number the client uses. Zero values get the defaults noted.
type Config struct {
	BaseURL string
	// CallTimeout bounds one Send, retries and backoff included (default 2s).
	CallTimeout time.Duration
	// Retries after the first attempt (default 2; negative: none).
	Retries int
	// BackoffMin and BackoffMax bound the jittered exponential backoff (default 100ms, 1s).
	BackoffMin, BackoffMax time.Duration
	// BreakerFailures consecutive failures open the breaker (default 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long it stays open before a trial call (default 10s).
	BreakerOpenFor time.Duration
	// BreakerHalfOpenMax trial calls are let through while half-open (default 1).
	BreakerHalfOpenMax uint32
	// Transport is the underlying transport (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
}

// defaults fill the zero values of Config's numbers.
var defaults = resilient.Policy{
	CallTimeout:        2 * time.Second,
	Retries:            2,
	BackoffMin:         100 * time.Millisecond,
	BackoffMax:         time.Second,
	BreakerFailures:    5,
	BreakerOpenFor:     10 * time.Second,
	BreakerHalfOpenMax: 1,
}

// policy is the config's numbers with the defaults filled in; a BackoffMax below
// BackoffMin is raised to it.
func (c Config) policy() resilient.Policy {
	p := resilient.Policy{
		CallTimeout: c.CallTimeout, Retries: c.Retries,
		BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax,
		BreakerFailures: c.BreakerFailures, BreakerOpenFor: c.BreakerOpenFor,
		BreakerHalfOpenMax: c.BreakerHalfOpenMax,
	}.WithDefaults(defaults)
	p.BackoffMax = max(p.BackoffMax, p.BackoffMin)
	return p
}

// resilience is the shared HTTP stack's share of the policy. The ACD's breaker counts
// transport failures, timeouts and 5xx only: a 429 is the ACD's rate limiter answering, so
// it is retried (after its Retry-After) but does not open the breaker.
func resilience(p resilient.Policy) resilient.Config {
	rc := p.Config("acd")
	rc.BreakerCounts = func(status int) bool { return status >= 500 }
	return rc
}

// Client calls the ACD.
type Client struct {
	rest     *resty.Client
	breakers *resilient.Breakers
	host     string
	logger   *slog.Logger
}

var _ bridge.ACD = (*Client)(nil)

// New builds a client for cfg.BaseURL.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("acd client: base_url %q: want an absolute http(s) URL", cfg.BaseURL)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "acd_client")

	pol := cfg.policy()
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	brk := resilient.NewBreakers(resilience(pol), transport, logger)
	// No per-attempt limit: CallTimeout bounds one Send, retries and backoff included. The
	// final answer (a 5xx, a transport error) comes back to Send to classify.
	rest := resilient.NewResty(resilience(pol), brk, resilient.Timeouts{Call: pol.CallTimeout}).
		SetBaseURL(strings.TrimRight(cfg.BaseURL, "/")).
		SetHeader("Content-Type", "application/json").
		SetHeader("Accept", "application/json")
	return &Client{rest: rest, breakers: brk, host: u.Host, logger: logger}, nil
}

// BreakerState is the state of the ACD host's breaker: closed, half-open or open.
func (c *Client) BreakerState() string { return c.breakers.State(c.host) }

// request is one call on the wire.
type request struct {
	method, path string
	body         any
	// alreadyApplied: a 409 means an earlier call already did it (completed / requeued).
	alreadyApplied bool
}

// Send makes one call. nil when the ACD applied it (or had already applied it); an error
// wrapping bridge.ErrUnavailable (and bridge.ErrBreakerOpen) when there was no usable
// answer; an *APIError wrapping bridge.ErrRejected when the ACD refused it for good.
func (c *Client) Send(ctx context.Context, call bridge.ACDCall) error {
	req, err := wireRequest(call)
	if err != nil {
		return err
	}
	op := string(call.Kind)
	resp, err := c.rest.R().
		SetContext(ctx).
		SetHeader(HeaderIdempotencyKey, call.IdempotencyKey).
		SetBody(req.body).
		Execute(req.method, req.path)
	if err != nil {
		if errors.Is(err, bridge.ErrBreakerOpen) {
			return fmt.Errorf("acd %s: %w: %w", op, bridge.ErrUnavailable, bridge.ErrBreakerOpen)
		}
		return fmt.Errorf("acd %s: %w: %w", op, bridge.ErrUnavailable, err)
	}
	status := resp.StatusCode()
	switch {
	case status >= 200 && status < 300:
		if call.Kind == bridge.ACDCreate {
			var created struct {
				InteractionID string `json:"interactionId"`
			}
			if json.Unmarshal(resp.Body(), &created) == nil {
				c.logger.DebugContext(ctx, "acd interaction created", "interaction_id", created.InteractionID, "chat_id", call.ChatID)
			}
		}
		return nil
	case status == http.StatusConflict && req.alreadyApplied:
		c.logger.InfoContext(ctx, "acd call already applied", "kind", op, "interaction_id", call.InteractionID,
			"agent_id", call.AgentID, "acd_error", errorText(resp.Body()).Message)
		return nil
	}
	apiErr := errorText(resp.Body())
	apiErr.Op, apiErr.Status = op, status
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		apiErr.kind = bridge.ErrUnavailable
	case status >= 400:
		apiErr.kind = bridge.ErrRejected
	default:
		apiErr.kind = bridge.ErrMalformedReply
	}
	return apiErr
}

// wireRequest maps a call to its route and body.
func wireRequest(call bridge.ACDCall) (request, error) {
	op := string(call.Kind)
	if call.IdempotencyKey == "" {
		return request{}, invalidCall(op, "idempotency key required")
	}
	interaction := func() (string, error) {
		if call.InteractionID == "" {
			return "", invalidCall(op, "interaction id required")
		}
		return "/acd/v1/interactions/" + url.PathEscape(call.InteractionID), nil
	}
	switch call.Kind {
	case bridge.ACDCreate:
		return request{method: http.MethodPost, path: "/acd/v1/interactions",
			body: createBody{ChatID: call.ChatID, Site: call.Site, QueueID: call.QueueID}}, nil
	case bridge.ACDRequeue:
		p, err := interaction()
		return request{method: http.MethodPost, path: p + "/requeue", alreadyApplied: true,
			body: requeueBody{RoutingID: call.RoutingID, AgentID: call.AgentID, ReasonCode: call.Reason, TargetQueueID: call.TargetQueueID}}, err
	case bridge.ACDComplete:
		p, err := interaction()
		return request{method: http.MethodPost, path: p + "/complete", alreadyApplied: true,
			body: completeBody{RoutingID: call.RoutingID, AgentID: call.AgentID, Disposition: call.Disposition}}, err
	case bridge.ACDRoute:
		p, err := interaction()
		return request{method: http.MethodPost, path: p + "/route",
			body: routeBody{RoutingID: call.RoutingID, FromAgentID: call.AgentID, RouteType: string(call.RouteType),
				TargetAgentID: call.TargetAgentID, TargetQueueID: call.TargetQueueID}}, err
	case bridge.ACDAccept:
		// A 409 (the offer already ended: revoked, requeued, abandoned) is not "already
		// applied": the agent's accept came too late, so it is a rejection.
		p, err := interaction()
		return request{method: http.MethodPost, path: p + "/accept",
			body: acceptBody{RoutingID: call.RoutingID, AgentID: call.AgentID}}, err
	case bridge.ACDAgentState:
		if call.AgentID == "" {
			return request{}, invalidCall(op, "agent id required")
		}
		state := "not_ready"
		if call.Ready {
			state = "ready"
		}
		return request{method: http.MethodPut, path: "/acd/v1/agents/" + url.PathEscape(call.AgentID) + "/state",
			body: stateBody{State: state, Reason: call.Reason}}, nil
	}
	return request{}, invalidCall(op, fmt.Sprintf("unknown call kind %q", call.Kind))
}

// Wire bodies (the ACD's JSON names).
type (
	createBody struct {
		ChatID       string `json:"chatId"`
		Site         string `json:"site"`
		QueueID      string `json:"queueId"`
		CustomerName string `json:"customerName,omitempty"`
	}
	requeueBody struct {
		RoutingID  string `json:"routingId,omitempty"`
		AgentID    string `json:"agentId"`
		ReasonCode string `json:"reasonCode"`
		// TargetQueueID escalates: the chat waits in this queue instead of the routing's own.
		TargetQueueID string `json:"targetQueueId,omitempty"`
	}
	acceptBody struct {
		RoutingID string `json:"routingId,omitempty"`
		AgentID   string `json:"agentId"`
	}
	completeBody struct {
		RoutingID   string `json:"routingId,omitempty"`
		AgentID     string `json:"agentId"`
		Disposition string `json:"disposition"`
	}
	routeBody struct {
		RoutingID     string `json:"routingId,omitempty"`
		FromAgentID   string `json:"fromAgentId"`
		RouteType     string `json:"routeType"`
		TargetAgentID string `json:"targetAgentId,omitempty"`
		TargetQueueID string `json:"targetQueueId,omitempty"`
	}
	stateBody struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
)

// APIError is an answer from the ACD that is not a success: its status and its
// {"error", "field"} body. It wraps bridge.ErrRejected (4xx other than 408/429),
// bridge.ErrUnavailable (408, 429, 5xx) or bridge.ErrMalformedReply (anything else).
type APIError struct {
	Op      string
	Status  int
	Message string `json:"error"`
	Field   string `json:"field"`
	kind    error
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("acd %s: status %d", e.Op, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg + ": " + e.kind.Error()
}

func (e *APIError) Unwrap() error { return e.kind }

// errorText reads the ACD's error body; a body that is not JSON is kept, shortened, as text.
func errorText(body []byte) *APIError {
	e := &APIError{}
	if json.Unmarshal(body, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
	}
	// The ACD's text ends up in errors, logs and dead letters: bounded and escaped.
	e.Message, e.Field = resilient.Quote(e.Message), resilient.Quote(e.Field)
	return e
}

// invalidCall is a call the bridge built wrong: it can never succeed, so it is a rejection.
func invalidCall(op, reason string) error {
	return fmt.Errorf("acd %s: %s: %w", op, reason, bridge.ErrRejected)
}
