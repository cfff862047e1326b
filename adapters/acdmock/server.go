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
	// AlertingTimeout takes back an offer nobody moved on (requeue, complete, accept, route)
	// this long after its interaction.routed (interaction.revoked, reason alerting_timeout)
	// and routes the interaction again. 0 (the default; negative: 0) never times out.
	AlertingTimeout time.Duration
	// TickInterval is how often (real time) a background goroutine fires due timers, so that
	// they fire even when nobody calls; only started with an AlertingTimeout. Default 200ms;
	// negative: no ticker (timers fire on calls and Advance only).
	TickInterval time.Duration
	// Site is the CRM site of interactions created without one.
	Site string
	// HTTPClient sends webhooks (default: a client with a 5s timeout).
	HTTPClient *http.Client
	// Now is the real time (default time.Now). The simulated clock is Now plus whatever
	// Advance added; webhook signatures use Now itself, so that an advanced clock stays
	// inside the bridge's replay window.
	Now func() time.Time
}

// Server is the simulator, an http.Handler. Close stops its webhook sender.
type Server struct {
	opts Options
	http *echo.Echo

	mu         sync.Mutex
	offset     time.Duration // added to opts.Now by Advance: the simulated clock
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
	opts.AlertingTimeout = max(opts.AlertingTimeout, 0)
	if opts.TickInterval == 0 {
		opts.TickInterval = 200 * time.Millisecond
	}
	s := &Server{opts: opts, replies: map[string]storedReply{}, wake: make(chan struct{}, 1)}
	s.world = s.newWorld()
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.http = echo.New()
	s.http.HideBanner, s.http.HidePort = true, true
	s.http.HTTPErrorHandler = errorHandler
	s.routes(s.http)
	s.wg.Add(1)
	go s.sendLoop()
	if opts.AlertingTimeout > 0 && opts.TickInterval > 0 {
		s.wg.Add(1)
		go s.tickLoop()
	}
	return s
}

func (s *Server) newWorld() *world {
	return newWorld(s.nowLocked, s.opts.Site, s.opts.AlertingTimeout)
}

// nowLocked is the simulated clock; s.mu must be held.
func (s *Server) nowLocked() time.Time { return s.opts.Now().Add(s.offset) }

// tickLoop fires due timers every TickInterval until Close.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.lock()
			s.unlock()
		case <-s.stop.Done():
			return
		}
	}
}

// lock takes s.mu and fires the timers due by now, so that every call sees the world as it
// is at its time, whether or not the ticker ran.
func (s *Server) lock() {
	s.mu.Lock()
	s.world.fireDue(s.nowLocked())
}

// unlock queues the webhooks caused under the lock, releases it and wakes the sender.
func (s *Server) unlock() []*delivery {
	ds := s.queueEventsLocked()
	s.mu.Unlock()
	s.signal()
	return ds
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
// (undelivered ones are dropped), and ends a SetDown. The clock keeps its time.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.world = s.newWorld()
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

// Revoke takes the newest open routing back (interaction.revoked, reason revoked) and, when
// no other leg faces the customer, routes the interaction again, to another agent when one
// is available.
func (s *Server) Revoke(ctx context.Context, interactionID string) error {
	return s.apply(ctx, func(w *world) error { return w.revoke(interactionID) })
}

// Abandon: the customer left at stage queued, routing or alerting ("" infers it from the
// state). Sends interaction.abandoned and frees the capacity of the withdrawn offers; their
// routings stay open until the agent completes them. A stage that contradicts the state
// (queued while offered, routing/alerting while not offered, or nothing to infer because the
// agent already has the chat) is ErrConflict.
func (s *Server) Abandon(ctx context.Context, interactionID, stage string) error {
	return s.apply(ctx, func(w *world) error { return w.abandon(interactionID, stage) })
}

// Accept marks a routing answered, as POST /acd/v1/interactions/{id}/accept does for the
// bridge: it is connected and its alerting timer stops. routingID "" means the newest offer.
func (s *Server) Accept(ctx context.Context, interactionID, routingID string) error {
	return s.apply(ctx, func(w *world) error { return w.controlAccept(interactionID, routingID) })
}

// Advance moves the simulated clock forward by d and fires every timer that became due, in
// due order, each at its own time (one big Advance yields what living through it would).
// d = 0 only fires the timers already due; d < 0 or beyond a year is ErrInvalid.
func (s *Server) Advance(ctx context.Context, d time.Duration) error {
	if err := checkAdvance(d); err != nil {
		return err
	}
	return s.apply(ctx, func(*world) error {
		s.offset += d
		s.world.fireDue(s.nowLocked())
		return nil
	})
}

// Now returns the simulated clock: Options.Now plus every Advance.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// Agent returns the state of one agent.
func (s *Server) Agent(id string) (AgentView, bool) {
	s.lock()
	defer s.unlock()
	return s.world.agentView(id)
}

// SetDown makes every /acd/v1 call answer 503 without applying it or remembering its
// Idempotency-Key, until SetDown(false): the same call made after the outage is applied
// then. Routing, timers and webhooks go on meanwhile.
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

// Applied counts the calls of kind that the ACD applied for id: an interaction id, a routing
// id (the leg a requeue, complete or accept named or resolved to; for route, the asking leg),
// or, for agent_state, an agent id. Calls answered from the idempotency store, refused, or
// made while down are not counted, so after an outage and any number of retries of one call
// (same Idempotency-Key) the count is exactly 1: 0 means the call was lost, 2 that something
// was applied twice. By routing id it stays exact when an interaction is legitimately
// requeued more than once.
func (s *Server) Applied(kind, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if !c.Applied || c.Kind != kind || id == "" {
			continue
		}
		if c.InteractionID == id || c.RoutingID == id || (kind == KindAgentState && c.AgentID == id) {
			n++
		}
	}
	return n
}

// Interaction returns the state of one interaction.
func (s *Server) Interaction(id string) (InteractionView, bool) {
	s.lock()
	defer s.unlock()
	return s.world.view(id)
}

// Webhooks returns every webhook event, oldest first, with its delivery so far.
func (s *Server) Webhooks() []WebhookDelivery {
	s.lock()
	defer s.unlock()
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
	s.lock()
	s.queueEventsLocked()
	ds := slices.Clone(s.deliveries)
	s.mu.Unlock()
	s.signal()
	return waitAll(ctx, ds)
}

// apply runs op on the world under the lock (after the timers due), queues the webhooks it
// caused, and with a non-nil ctx waits for their delivery.
func (s *Server) apply(ctx context.Context, op func(w *world) error) error {
	s.lock()
	err := op(s.world)
	ds := s.unlock()
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
		rec := &WebhookDelivery{
			EventID: "evt_" + strconv.Itoa(s.nEvent), Type: e.typ, InteractionID: e.interactionID,
			RoutingID: e.routingID, AgentID: e.agentID, CreatedAt: e.at,
		}
		d := &delivery{rec: rec, generation: s.generation, done: make(chan struct{})}
		body, err := acdapi.Build(e.typ, e.at, e.data)
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
