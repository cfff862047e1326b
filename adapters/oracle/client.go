// Package oracle is the CRM adapter: it implements bridge.CRM over the JSON rendering of the
// Oracle B2C Service third-party queue API (see ORACLE.md).
//
// Adapters report, the core decides: whenever the CRM answered, its result code comes back
// verbatim with a nil error, business rejections included. An error means there was no usable
// answer: it wraps bridge.ErrUnavailable (timeouts, transport failures, 5xx, 429, breaker
// open — the last also wraps bridge.ErrBreakerOpen), bridge.ErrMalformedReply (a 200 that
// cannot be read), bridge.ErrRejected (other 4xx) or the caller's own ctx.Err().
//
// Files: client.go builds the client (the HTTP stack, resty → retryablehttp → one breaker
// per host, is crmcode.HTTP) and sends one exchange; session.go the session tokens; calls.go the port
// methods; wire.go the wire types and decoders.
package oracle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

var _ bridge.CRM = (*Client)(nil)

// ErrSiteNotConfigured: the call named a site the adapter has no endpoint for. It is wrapped
// together with bridge.ErrRejected: asking again cannot help.
var ErrSiteNotConfigured = errors.New("crm site not configured")

// Client is the CRM adapter. It is safe for concurrent use.
type Client struct {
	*crmcode.HTTP
	cfg   settings
	log   *slog.Logger
	sites map[string]*siteConn
	now   func() time.Time // token expiry; tests may replace it
}

// siteConn is one configured site: where it lives and the bridge's session there.
type siteConn struct {
	name    string
	site    Site
	base    string // BaseURL + /uq/v1/{site}
	session *session
}

// New builds the client. Nothing is sent until the first call (authentication is lazy).
func New(config Config, logger *slog.Logger) (*Client, error) {
	cfg := config.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "crm_oracle")
	c := &Client{cfg: cfg, log: logger, sites: make(map[string]*siteConn, len(cfg.Sites)), now: time.Now}
	var bases []string
	for name, s := range cfg.Sites {
		c.sites[name] = &siteConn{
			name:    name,
			site:    s,
			base:    strings.TrimRight(s.BaseURL, "/") + "/uq/v1/" + url.PathEscape(name),
			session: newSession(),
		}
		bases = append(bases, s.BaseURL)
	}
	c.HTTP = crmcode.NewHTTP("oracle", cfg.Policy, bases, logger)
	return c, nil
}

func (c *Client) site(op, name string) (*siteConn, error) {
	s, ok := c.sites[name]
	if !ok {
		return nil, fmt.Errorf("oracle %s site %q: %w: %w", op, name, ErrSiteNotConfigured, bridge.ErrRejected)
	}
	return s, nil
}

// exchange is one logical request (retryablehttp may make several attempts of it).
type exchange struct {
	op     string // chatRouted, respond, engagement, ...: for errors
	method string
	path   string // after /uq/v1/{site}, already escaped
	query  url.Values
	body   any
	token  string // X-UQ-Session; empty for authenticate
	poll   bool
}

// send performs x and returns the body of a 200 answer, with crmcode.HTTP.Reply's errors.
func (c *Client) send(ctx context.Context, s *siteConn, x exchange) ([]byte, error) {
	if err := c.CallerGone(ctx, x.op, s.name); err != nil {
		return nil, err
	}
	rc := c.Calls
	if x.poll {
		rc = c.Polls
	}
	req := rc.R().SetContext(ctx)
	if x.token != "" {
		req.SetHeader("X-UQ-Session", x.token)
	}
	if x.body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(x.body)
	}
	if x.query != nil {
		req.SetQueryParamsFromValues(x.query)
	}
	resp, err := req.Execute(x.method, s.base+x.path)
	return c.Reply(ctx, x.op, s.name, resp, err, nil)
}
