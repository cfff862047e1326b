// Package acdmock is the ACD simulator: the /acd/v1 REST API the bridge calls, the signed
// webhooks the bridge receives, and a control API (Go and /control/v1 over HTTP) to drive and
// inspect it. Customers test their bridge deployment with it, so its behaviour follows the
// ACD contract, not the convenience of our own tests.
package acdmock

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// Options configure the simulator. Zero values get the defaults noted.
type Options struct {
	// WebhookURL is the bridge's POST /v1/acd/events URL; "" records events without sending.
	WebhookURL    string
	WebhookSecret acdapi.Secret
	// WebhookRetries is how many times a failed delivery is retried (default 5; negative: 0).
	WebhookRetries int
	// WebhookBackoff is the first retry delay, doubled per retry up to 30 times it (default 200ms).
	WebhookBackoff time.Duration
	// AlertingTimeout is reserved; the simulator does not time out offers yet.
	AlertingTimeout time.Duration
	// Site is the CRM site of interactions created without one.
	Site string
	// HTTPClient sends webhooks (default: a client with a 5s timeout).
	HTTPClient *http.Client
	Now        func() time.Time
}

// Server is the simulator, an http.Handler. Close stops its webhook sender.
type Server struct {
	opts Options
	http *echo.Echo

	mu         sync.Mutex
	world      *world
	generation uint64 // bumped by Reset so late deliveries do not touch the new world
	down       bool
	calls      []Call
	replies    map[string]storedReply // by Idempotency-Key
	deliveries []*delivery            // every event, in order
	pending    []*delivery            // waiting for the sender
	nEvent     int
	closed     bool

	wake      chan struct{}
	stop      context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type storedReply struct {
	route         string
	status        int
	body          []byte
	interactionID string
}

type delivery struct {
	rec        *WebhookDelivery
	generation uint64
	done       chan struct{} // closed when delivered or given up
}

var _ http.Handler = (*Server)(nil)

// New starts a simulator and its webhook sender.
func New(opts Options) *Server {
	if opts.WebhookRetries == 0 {
		opts.WebhookRetries = 5
	}
	opts.WebhookRetries = max(opts.WebhookRetries, 0)
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = 200 * time.Millisecond
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, replies: map[string]storedReply{}, wake: make(chan struct{}, 1)}
	s.world = newWorld(opts.Now, opts.Site)
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.http = echo.New()
	s.http.HideBanner, s.http.HidePort = true, true
	s.http.HTTPErrorHandler = errorHandler
	s.routes(s.http)
	s.wg.Add(1)
	go s.sendLoop()
	return s
}

// ServeHTTP serves /acd/v1 and /control/v1.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.http.ServeHTTP(w, r) }

// Close stops the webhook sender, waiting for a delivery in flight; events not yet sent are
// given up. Safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.mu.Lock()
		s.closed = true
		for _, d := range s.pending {
			close(d.done)
		}
		s.pending = nil
		s.mu.Unlock()
	})
}

// Reset forgets everything: queues, agents, interactions, calls, idempotency keys, webhooks
// (undelivered ones are dropped), and ends a SetDown.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.world = newWorld(s.opts.Now, s.opts.Site)
	s.generation++
	s.down = false
	s.calls, s.deliveries, s.nEvent = nil, nil, 0
	s.replies = map[string]storedReply{}
	for _, d := range s.pending {
		close(d.done)
	}
	s.pending = nil
}

// AddQueue adds a queue.
func (s *Server) AddQueue(q Queue) error {
	return s.apply(nil, func(w *world) error { return w.addQueue(q) })
}

// AddAgent adds an agent; its queues must exist. A ready agent is routed waiting work at once.
func (s *Server) AddAgent(a Agent) error {
	return s.apply(nil, func(w *world) error { return w.addAgent(a) })
}

// SetAgentReady sets the agent's ready flag (sending agent.state_changed when it changes).
func (s *Server) SetAgentReady(id string, ready bool, reason string) error {
	return s.apply(nil, func(w *world) error { return w.setReady(id, ready, reason) })
}

// CreateInteraction queues a new interaction for a CRM chat (site "" means Options.Site) and
// routes it if an agent is available. Like every control method taking a ctx, it returns once
// the webhooks it caused were delivered or given up; ctx bounds only that wait.
func (s *Server) CreateInteraction(ctx context.Context, chatID, site, queueID string) (string, error) {
	var id string
	err := s.apply(ctx, func(w *world) (err error) {
		id, err = w.create(createRequest{ChatID: chatID, Site: site, QueueID: queueID})
		return err
	})
	return id, err
}

// RouteTo forces a routing of the interaction to one agent, whatever the agent's state or
// capacity (routeType "" means lead), and sends interaction.routed.
func (s *Server) RouteTo(ctx context.Context, interactionID, agentID, routeType string) (string, error) {
	var id string
	err := s.apply(ctx, func(w *world) (err error) {
		id, err = w.routeTo(interactionID, agentID, routeType)
		return err
	})
	return id, err
}

// Revoke takes the newest open routing back (interaction.revoked) and routes the interaction
// again, to another agent when one is available.
func (s *Server) Revoke(ctx context.Context, interactionID string) error {
	return s.apply(ctx, func(w *world) error { return w.revoke(interactionID) })
}

// Abandon: the customer left at stage queued, routing or alerting ("" infers it from the
// state). Sends interaction.abandoned; open routings stay open until completed.
func (s *Server) Abandon(ctx context.Context, interactionID, stage string) error {
	return s.apply(ctx, func(w *world) error { return w.abandon(interactionID, stage) })
}

// SetDown makes every /acd/v1 call answer 503 without applying it, until SetDown(false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Calls returns every /acd/v1 call received, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Applied counts the calls of kind that were applied for the interaction (for agent_state:
// the agent). Calls answered from the idempotency store, refused, or made while down are not
// counted.
func (s *Server) Applied(kind, interactionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Applied && c.Kind == kind && (c.InteractionID == interactionID || (kind == KindAgentState && c.AgentID == interactionID)) {
			n++
		}
	}
	return n
}

// Interaction returns the state of one interaction.
func (s *Server) Interaction(id string) (InteractionView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.world.view(id)
}

// Webhooks returns every webhook event, oldest first, with its delivery so far.
func (s *Server) Webhooks() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WebhookDelivery, 0, len(s.deliveries))
	for _, d := range s.deliveries {
		rec := *d.rec
		rec.Body = slices.Clone(rec.Body)
		out = append(out, rec)
	}
	return out
}

// Flush waits until every webhook event so far was delivered or given up.
func (s *Server) Flush(ctx context.Context) error {
	s.mu.Lock()
	ds := slices.Clone(s.deliveries)
	s.mu.Unlock()
	return waitAll(ctx, ds)
}

// apply runs op on the world under the lock, queues the webhooks it caused, and with a
// non-nil ctx waits for their delivery.
func (s *Server) apply(ctx context.Context, op func(w *world) error) error {
	s.mu.Lock()
	err := op(s.world)
	ds := s.queueEventsLocked()
	s.mu.Unlock()
	s.signal()
	if err != nil || ctx == nil {
		return err
	}
	return waitAll(ctx, ds)
}

func waitAll(ctx context.Context, ds []*delivery) error {
	for _, d := range ds {
		select {
		case <-d.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// queueEventsLocked turns the world's new events into signed deliveries.
func (s *Server) queueEventsLocked() []*delivery {
	events := s.world.events
	s.world.events = nil
	ds := make([]*delivery, 0, len(events))
	for _, e := range events {
		s.nEvent++
		now := s.opts.Now()
		rec := &WebhookDelivery{
			EventID: "evt_" + strconv.Itoa(s.nEvent), Type: e.typ, InteractionID: e.interactionID,
			RoutingID: e.routingID, AgentID: e.agentID, CreatedAt: now,
		}
		d := &delivery{rec: rec, generation: s.generation, done: make(chan struct{})}
		body, err := acdapi.Build(e.typ, now, e.data)
		rec.Body = body
		switch {
		case err != nil:
			rec.LastError = "build: " + err.Error()
			close(d.done)
		case s.opts.WebhookURL == "" || s.closed:
			close(d.done)
		default:
			s.pending = append(s.pending, d)
		}
		s.deliveries = append(s.deliveries, d)
		ds = append(ds, d)
	}
	return ds
}

func (s *Server) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
