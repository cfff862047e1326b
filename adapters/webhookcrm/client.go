// Package webhookcrm is a second CRM adapter: it implements bridge.CRM over the generic
// webhook CRM protocol (a static bearer API key, snake_case JSON, an Idempotency-Key on the
// route and offer-response calls, the CRM's verdict as "result"; adapters/crmmock serves it
// next to the Oracle-like API).
//
// Adapters report, the core decides: whenever the CRM answered, its result code comes back
// verbatim with a nil error, business rejections included. An error means there was no usable
// answer: it wraps bridge.ErrUnavailable (timeouts, transport failures, 5xx, 429, breaker
// open — the last also wraps bridge.ErrBreakerOpen), bridge.ErrMalformedReply (a 200 that
// cannot be read), bridge.ErrRejected (other 4xx, e.g. a refused API key) or the caller's own
// ctx.Err().
//
// Files: client.go builds the HTTP stack (adapters/resilient) and sends one exchange;
// calls.go the port methods; config.go the config; wire.go the wire types and decoders.
package webhookcrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

var _ bridge.CRM = (*Client)(nil)

// ErrSiteNotConfigured: the call named a site the adapter has no endpoint for. It is wrapped
// together with bridge.ErrRejected: asking again cannot help.
var ErrSiteNotConfigured = errors.New("crm site not configured")

// HeaderIdempotencyKey carries the route's and the offer response's key (the core's
// TransactionID).
const HeaderIdempotencyKey = "Idempotency-Key"

// maxReplyBytes bounds a reply body; a longer one is malformed.
const maxReplyBytes = 4 << 20

// Client is the CRM adapter. It is safe for concurrent use.
type Client struct {
	cfg       settings
	log       *slog.Logger
	sites     map[string]*siteConn
	calls     *resty.Client // ordinary calls: attempt = CallTimeout
	polls     *resty.Client // the long-poll: attempt = PollWait + CallTimeout
	breakers  *resilient.Breakers
	transport *http.Transport
}

// siteConn is one configured site.
type siteConn struct {
	name          string
	base          string // BaseURL + /crm/v1/sites/{site}
	authorization string // "Bearer <key>": a secret, only ever put in the header
}

// New builds the client. Nothing is sent until the first call.
func New(config Config, logger *slog.Logger) (*Client, error) {
	cfg := config.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "crm_webhook")

	transport := resilient.NewTransport(cfg.CallTimeout)
	breakers := resilient.NewBreakers(cfg.resilience(), transport, logger)
	c := &Client{
		cfg:       cfg,
		log:       logger,
		sites:     make(map[string]*siteConn, len(cfg.Sites)),
		breakers:  breakers,
		transport: transport,
	}
	c.calls = newResty(cfg, breakers, cfg.CallTimeout)
	c.polls = newResty(cfg, breakers, cfg.PollAttempt())
	for name, s := range cfg.Sites {
		c.sites[name] = &siteConn{
			name:          name,
			base:          strings.TrimRight(s.BaseURL, "/") + "/crm/v1/sites/" + url.PathEscape(name),
			authorization: "Bearer " + s.APIKey,
		}
		u, _ := url.Parse(s.BaseURL) // validated
		breakers.Watch(u.Host)       // so BreakerStates lists every host from the start
	}
	return c, nil
}

// newResty is the shared resilient stack with each attempt bounded by attempt and the whole
// call by the budget that leaves room for every retry.
func newResty(cfg settings, breakers *resilient.Breakers, attempt time.Duration) *resty.Client {
	rc := cfg.resilience()
	return resilient.NewResty(rc, breakers, resilient.Timeouts{Attempt: attempt, Call: rc.CallBudget(attempt)}).
		SetResponseBodyLimit(maxReplyBytes).
		SetHeader("Accept", "application/json")
}

// BreakerStates reports each upstream host's breaker: "closed", "half-open" or "open".
func (c *Client) BreakerStates() map[string]string { return c.breakers.States() }

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

func (c *Client) site(op, name string) (*siteConn, error) {
	s, ok := c.sites[name]
	if !ok {
		return nil, fmt.Errorf("webhookcrm %s site %q: %w: %w", op, name, ErrSiteNotConfigured, bridge.ErrRejected)
	}
	return s, nil
}

// exchange is one logical request (retryablehttp may make several attempts of it).
type exchange struct {
	op             string // route, response, chat, agent, events: for errors
	method         string
	path           string // after /crm/v1/sites/{site}, already escaped
	query          url.Values
	body           any
	idempotencyKey string
	poll           bool
}

// send performs x and returns the body of a 200 answer. Errors: the caller's ctx.Err()
// (wrapped) when the caller gave up; bridge.ErrUnavailable (+ ErrBreakerOpen) when there was
// no answer; bridge.ErrRejected for a 4xx (the server's reason quoted); bridge.ErrMalformedReply
// for any other status.
func (c *Client) send(ctx context.Context, s *siteConn, x exchange) ([]byte, error) {
	if err := resilient.CallerErr(ctx); err != nil {
		return nil, fmt.Errorf("webhookcrm %s site %s: %w", x.op, s.name, err)
	}
	rc := c.calls
	if x.poll {
		rc = c.polls
	}
	req := rc.R().SetContext(ctx).SetHeader("Authorization", s.authorization)
	if x.idempotencyKey != "" {
		req.SetHeader(HeaderIdempotencyKey, x.idempotencyKey)
	}
	if x.body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(x.body)
	}
	if x.query != nil {
		req.SetQueryParamsFromValues(x.query)
	}
	resp, err := req.Execute(x.method, s.base+x.path)
	if err != nil {
		return nil, c.unavailable(ctx, x.op, s.name, err)
	}
	status := resp.StatusCode()
	switch {
	case status == http.StatusOK:
		return resp.Body(), nil
	case resilient.TransientStatus(status):
		return nil, fmt.Errorf("webhookcrm %s site %s: HTTP %d: %w: %w", x.op, s.name, status, bridge.ErrUnavailable, crmcode.ErrAnsweredError)
	case status >= 400 && status < 500:
		return nil, fmt.Errorf("webhookcrm %s site %s: HTTP %d %s: %w", x.op, s.name, status, describeError(resp.Body()), bridge.ErrRejected)
	}
	return nil, fmt.Errorf("webhookcrm %s site %s: HTTP %d: %w", x.op, s.name, status, bridge.ErrMalformedReply)
}

// unavailable classifies a failure without an answer.
func (c *Client) unavailable(ctx context.Context, op, site string, err error) error {
	if cerr := resilient.CallerErr(ctx); cerr != nil {
		return fmt.Errorf("webhookcrm %s site %s: %w", op, site, cerr)
	}
	if errors.Is(err, resty.ErrResponseBodyTooLarge) {
		return fmt.Errorf("webhookcrm %s site %s: %w: %w", op, site, bridge.ErrMalformedReply, err)
	}
	if errors.Is(err, bridge.ErrBreakerOpen) {
		return fmt.Errorf("webhookcrm %s site %s: %w", op, site, err) // already wraps ErrUnavailable
	}
	return fmt.Errorf("webhookcrm %s site %s: %w: %w", op, site, bridge.ErrUnavailable, err)
}
