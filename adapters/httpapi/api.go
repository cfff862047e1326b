// Package httpapi is the bridge's HTTP surface (echo v4): the ACD webhook, the media-bar
// agent API with its server-sent event stream, the admin endpoints, and the ops endpoints on
// their own port. Handlers are thin: they decode, call the core, and encode; every error goes
// through one HTTPErrorHandler.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// Options configure the HTTP surface.
type Options struct {
	WebhookSecrets   []acdapi.Secret
	WebhookTolerance time.Duration
	MaxBodyBytes     int64
	TokenSecret      []byte
	TokenTTL         time.Duration
	AdminToken       string
	Version          string
	// SSEPoll is how often an idle stream checks the agent's event stream; SSEHeartbeat how
	// often it sends a comment to keep proxies from closing it.
	SSEPoll      time.Duration
	SSEHeartbeat time.Duration
	// FrameAncestors lists who may embed the reference media bar (CSP frame-ancestors
	// sources, validated by config); empty means mediabarui.DefaultFrameAncestors.
	FrameAncestors []string
	// Now is the clock for tokens and signatures (tests).
	Now func() time.Time
	// WebhookObserver, when set, is told the event type ("unknown" before parsing) and result
	// of every ACD webhook delivery (metrics).
	WebhookObserver func(eventType, result string)
}

// Service is what the HTTP surface needs from the core.
type Service interface {
	Routed(ctx context.Context, r bridge.Routed) (bridge.RoutedOutcome, error)
	Revoke(ctx context.Context, interactionID, routingID, agentID, reason string) (*bridge.Interaction, error)
	Abandon(ctx context.Context, interactionID, routingID, agentID, stage string) (*bridge.Interaction, error)
	Delivered(ctx context.Context, eventID string) (first bool, err error)

	Login(ctx context.Context, l bridge.Login) (bridge.AgentSession, error)
	Logout(ctx context.Context, agentID string) ([]*bridge.Interaction, error)
	Session(ctx context.Context, agentID string) (bridge.AgentSession, error)
	Interactions(ctx context.Context, agentID string) ([]*bridge.Interaction, error)
	AgentLeg(ctx context.Context, agentID, interactionID string) (*bridge.Interaction, error)
	Complete(ctx context.Context, agentID, interactionID, disposition string) (*bridge.Interaction, error)
	Transfer(ctx context.Context, agentID, interactionID string, r bridge.TransferRequest) (*bridge.Interaction, error)
	Accept(ctx context.Context, agentID, interactionID string) (*bridge.Interaction, error)
	Diagnose(ctx context.Context, agentID string) (bridge.Diagnostics, error)
	ACDAgentState(ctx context.Context, agentID string, ready bool, reason string, at time.Time) error
	Decline(ctx context.Context, agentID, interactionID string) (*bridge.Interaction, error)
	Queue(site, queueID string) (bridge.QueueOptions, bool)
	Timeline(ctx context.Context, interactionID string) ([]bridge.TimelineEntry, error)
	Outcomes(ctx context.Context, since, until time.Time, each func(*bridge.Interaction) error) error
	DeadLetters(ctx context.Context, after string, limit int) ([]bridge.DeadLetter, error)
	ReplayDeadLetter(ctx context.Context, id string) (bridge.ACDCall, error)
}

// Readiness reports dependencies for /readyz.
type Readiness interface {
	// Ping fails when the state store is unreachable: the only thing readiness fails on.
	Ping(ctx context.Context) error
	// Breakers reports upstream breaker states (informational).
	Breakers() map[string]string
}

// API holds the handlers' dependencies.
type API struct {
	opts     Options
	svc      Service
	events   bridge.Events
	ready    Readiness
	metrics  http.Handler
	log      *slog.Logger
	verifier acdapi.Verifier
	tokens   tokenIssuer

	presenceOnce sync.Once
	presence     *presenceBatch
}

// presenceBatch is the replica's one batch of stream reports, made on first use.
func (a *API) presenceBatch(store StreamPresence) *presenceBatch {
	a.presenceOnce.Do(func() { a.presence = newPresenceBatch(store, a.opts.SSEHeartbeat, a.log) })
	return a.presence
}

// New builds the API.
func New(opts Options, svc Service, events bridge.Events, ready Readiness, metrics http.Handler, log *slog.Logger) *API {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 10
	}
	if opts.WebhookTolerance <= 0 {
		opts.WebhookTolerance = 5 * time.Minute
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 8 * time.Hour
	}
	if opts.SSEPoll <= 0 {
		opts.SSEPoll = 100 * time.Millisecond
	}
	if opts.SSEHeartbeat <= 0 {
		opts.SSEHeartbeat = 15 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = http.NotFoundHandler()
	}
	return &API{
		opts: opts, svc: svc, events: events, ready: ready, metrics: metrics, log: log,
		verifier: acdapi.Verifier{Secrets: opts.WebhookSecrets, Tolerance: opts.WebhookTolerance, Now: opts.Now},
		tokens:   tokenIssuer{secret: opts.TokenSecret, ttl: opts.TokenTTL, now: opts.Now},
	}
}

func (a *API) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = a.errorHandler
	return e
}

var _ Service = (*bridge.Service)(nil)
