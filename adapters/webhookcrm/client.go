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
// Files: client.go builds the client (the HTTP stack is crmcode.HTTP) and sends one exchange;
// calls.go the port methods; config.go the config; wire.go the wire types and decoders.
package webhookcrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

var _ bridge.CRM = (*Client)(nil)

// ErrSiteNotConfigured: the call named a site the adapter has no endpoint for. It is wrapped
// together with bridge.ErrRejected: asking again cannot help.
var ErrSiteNotConfigured = errors.New("crm site not configured")

// HeaderIdempotencyKey carries the route's and the offer response's key (the core's
// TransactionID).
const HeaderIdempotencyKey = "Idempotency-Key"

// Client is the CRM adapter. It is safe for concurrent use.
type Client struct {
	*crmcode.HTTP
	cfg   settings
	log   *slog.Logger
	sites map[string]*siteConn
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
	c := &Client{cfg: cfg, log: logger, sites: make(map[string]*siteConn, len(cfg.Sites))}
	var bases []string
	for name, s := range cfg.Sites {
		c.sites[name] = &siteConn{
			name:          name,
			base:          strings.TrimRight(s.BaseURL, "/") + "/crm/v1/sites/" + url.PathEscape(name),
			authorization: "Bearer " + s.APIKey,
		}
		bases = append(bases, s.BaseURL)
	}
	c.HTTP = crmcode.NewHTTP("webhookcrm", cfg.Policy, bases, logger)
	return c, nil
}

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

// send performs x and returns the body of a 200 answer, with crmcode.HTTP.Reply's errors (a
// 4xx quotes the server's reason).
func (c *Client) send(ctx context.Context, s *siteConn, x exchange) ([]byte, error) {
	if err := c.CallerGone(ctx, x.op, s.name); err != nil {
		return nil, err
	}
	rc := c.Calls
	if x.poll {
		rc = c.Polls
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
	return c.Reply(ctx, x.op, s.name, resp, err, describeError)
}
