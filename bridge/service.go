package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Work queue names.
const (
	QueuePops      = "pops"
	QueueACDOutbox = "acd-outbox"
)

// Options configure the service. cmd maps the config file onto them; the core never reads
// configuration itself.
type Options struct {
	Sites map[string]SiteOptions
	// PopBudget bounds one CRM route attempt, retries and resolution included.
	PopBudget time.Duration
	// PopRetries is how many times a pop is retried (with a new transaction id) after a
	// retry-first code before the catalog's decision applies.
	PopRetries int
	// LeaseTTL is how long a replica owns a pop before another may take it over; it must
	// exceed PopBudget.
	LeaseTTL time.Duration
	// SessionTTL is how long a media-bar agent session lives without a heartbeat.
	SessionTTL time.Duration
	// DedupeTTL is how long webhook event ids are remembered.
	DedupeTTL time.Duration
	// DeadLetterAfter: an ACD call still failing after this long is dead-lettered.
	DeadLetterAfter time.Duration
	// DeclineNotReady sets the agent not ready (reason "declined") after a decline or an
	// offer timeout.
	DeclineNotReady bool
	// ReadyOnGreen sets the agent ready in the ACD when the CRM side turns green again.
	ReadyOnGreen bool
	// ConsumerLockTTL: a replica consuming a site's CRM events holds its lock this long
	// between renewals; a dead consumer is replaced within it.
	ConsumerLockTTL time.Duration
	// IntakeEvery is how often a site's intake queues are polled for new chats.
	IntakeEvery time.Duration
	// IntakeRemember is how long a chat handed to the ACD is remembered, so that it is not
	// created twice while it waits; it must exceed the CRM's wait-queue timeout.
	IntakeRemember time.Duration

	// ReconcileEvery is how often the reconciler looks for legs past their deadline.
	ReconcileEvery time.Duration
	// StuckAfter: a leg still routed or popping this long after its last change has lost its
	// pop; the reconciler queues it again. It must exceed LeaseTTL.
	StuckAfter time.Duration
	// OfferDeadline: an offer with no CRM answer this long is checked against the CRM (the
	// CRM's own offer timeout is 60 s).
	OfferDeadline time.Duration
	// ActiveCheckEvery: an active chat is checked against the CRM this often, in case its end
	// was missed.
	ActiveCheckEvery time.Duration
	// RequeueBudget is how many times an interaction may be requeued to its own queue; the
	// requeue that reaches it goes to the queue's escalation queue instead (default 5).
	RequeueBudget int

	// InlinePops is how many pops a replica may run at once in the webhook's wake (see
	// inline.go), on top of its pop workers; 0 leaves every pop to the workers.
	// InlineConsumer names this replica's inline pops in the pop queue's consumer group (unique
	// per replica, like a worker's name); required when InlinePops > 0.
	InlinePops     int
	InlineConsumer string
}

// SiteOptions are per CRM site.
type SiteOptions struct {
	AutoAccept   bool
	AllowDecline bool
	Queues       map[string]QueueOptions
	// Catalog is the effective catalog for the site (global and site overrides applied).
	Catalog *bridgeerr.Catalog
}

// QueueOptions are per queue.
type QueueOptions struct {
	Name                string
	DispositionRequired bool
	Dispositions        []string
	DefaultDisposition  string
	WrapUpTimeout       time.Duration
	// Intake: the bridge creates the ACD interaction for each new chat waiting in this queue.
	Intake bool
	// EscalationQueue receives an interaction whose requeue budget is spent or that the same
	// agent turned down twice, instead of this queue ("" = keep requeueing here, with an ops
	// alert).
	EscalationQueue string
}

// Service runs the flows. It is stateless: every replica builds one over the same Store.
type Service struct {
	opts   Options
	crm    CRM
	acd    ACD
	store  Store
	work   WorkQueue
	events Events
	clock  Clock
	log    *slog.Logger
	obs    Observer
	intake ChatLister
	// inline is the only state a Service keeps in memory: the pops it runs in webhooks'
	// wake, which a shutdown waits for.
	inline *inlinePops
}

// Observer receives what the service does, for metrics. Methods must not block.
type Observer interface {
	PopFinished(code string, requeue bool, d time.Duration)
	Transition(from, to State)
	Absorbed(reason string)
	ACDCallFinished(kind ACDCallKind, err error)
	// IntakeCreated counts chats handed to the ACD by intake.
	IntakeCreated(site, queueID string)
	// Reconciled counts legs the reconciler resolved, by the state they were stuck in.
	Reconciled(state State)
	// Requeued counts chats given back to the ACD, by the code behind it; escalated when the
	// requeue went to the escalation queue.
	Requeued(code string, escalated bool)
	// DeadLettered counts ACD calls the outbox gave up on.
	DeadLettered(kind ACDCallKind)
}

type nopObserver struct{}

func (nopObserver) PopFinished(string, bool, time.Duration) {}
func (nopObserver) Transition(State, State)                 {}
func (nopObserver) Absorbed(string)                         {}
func (nopObserver) ACDCallFinished(ACDCallKind, error)      {}
func (nopObserver) IntakeCreated(string, string)            {}
func (nopObserver) Reconciled(State)                        {}
func (nopObserver) Requeued(string, bool)                   {}
func (nopObserver) DeadLettered(ACDCallKind)                {}

// Deps are the ports the service needs.
type Deps struct {
	CRM      CRM
	ACD      ACD
	Store    Store
	Work     WorkQueue
	Events   Events
	Clock    Clock
	Logger   *slog.Logger
	Observer Observer
	// Intake lists waiting chats; required when any queue has Intake on.
	Intake ChatLister
}

// New builds the service.
func New(opts Options, d Deps) (*Service, error) {
	if d.CRM == nil || d.ACD == nil || d.Store == nil || d.Work == nil || d.Events == nil {
		return nil, errors.New("bridge.New: CRM, ACD, Store, Work and Events are required")
	}
	if len(opts.Sites) == 0 {
		return nil, errors.New("bridge.New: at least one site is required")
	}
	for name, s := range opts.Sites {
		if s.Catalog == nil {
			return nil, fmt.Errorf("bridge.New: site %q has no catalog", name)
		}
		if len(s.intakeQueues()) > 0 && d.Intake == nil {
			return nil, fmt.Errorf("bridge.New: site %q has intake queues but the CRM adapter cannot list waiting chats", name)
		}
	}
	if opts.PopBudget <= 0 {
		opts.PopBudget = 5 * time.Second
	}
	if opts.LeaseTTL <= opts.PopBudget {
		opts.LeaseTTL = 3 * opts.PopBudget
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = 72 * time.Hour
	}
	if opts.ConsumerLockTTL <= 0 {
		opts.ConsumerLockTTL = 10 * time.Second
	}
	if opts.IntakeEvery <= 0 {
		opts.IntakeEvery = 2 * time.Second
	}
	if opts.IntakeRemember <= 0 {
		opts.IntakeRemember = 24 * time.Hour
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = 10 * time.Second
	}
	if opts.StuckAfter <= opts.LeaseTTL {
		opts.StuckAfter = max(30*time.Second, 2*opts.LeaseTTL)
	}
	if opts.OfferDeadline <= 0 {
		opts.OfferDeadline = 90 * time.Second
	}
	if opts.ActiveCheckEvery <= 0 {
		opts.ActiveCheckEvery = 15 * time.Minute
	}
	if opts.RequeueBudget <= 0 {
		opts.RequeueBudget = 5
	}
	if opts.DeadLetterAfter <= 0 {
		opts.DeadLetterAfter = 24 * time.Hour
	}
	if d.Clock == nil {
		d.Clock = SystemClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Observer == nil {
		d.Observer = nopObserver{}
	}
	if opts.InlinePops < 0 || (opts.InlinePops > 0 && opts.InlineConsumer == "") {
		return nil, fmt.Errorf("bridge.New: inline pops %d need a consumer name (got %q)", opts.InlinePops, opts.InlineConsumer)
	}
	return &Service{opts: opts, crm: d.CRM, acd: d.ACD, store: d.Store, work: d.Work,
		events: d.Events, clock: d.Clock, log: d.Logger, obs: d.Observer, intake: d.Intake,
		inline: newInlinePops(opts.InlinePops)}, nil
}

// Errors the service returns to its callers (the HTTP adapter maps them to status codes).
var (
	ErrUnknownSite         = errors.New("site is not configured")
	ErrNotLoggedIn         = errors.New("agent is not logged in to the media bar")
	ErrForbidden           = errors.New("interaction belongs to another agent")
	ErrDispositionRequired = errors.New("this queue requires a disposition before Complete")
	ErrUnknownDisposition  = errors.New("disposition is not in the queue's list")
	ErrNotCompletable      = errors.New("interaction cannot be completed in its current state")
	ErrDeclineNotAllowed   = errors.New("decline is not allowed for this agent")
	ErrOpenInteractions    = errors.New("agent has unfinished interactions")
	ErrCRMSessionNotUsable = errors.New("CRM chat session is not usable")
	ErrStoreUnavailable    = errors.New("state store unavailable")
	maxTransitionAttempts  = 8
	errLeaseHeldElsewhere  = errors.New("pop lease held by another replica")
)

// LoginRefusedError says why the CRM session is not usable, in words for the agent.
type LoginRefusedError struct {
	Code    string // verbatim CRM code or presence/status reason
	Message string
}

func (e *LoginRefusedError) Error() string { return e.Code + ": " + e.Message }
func (e *LoginRefusedError) Unwrap() error { return ErrCRMSessionNotUsable }

// Catalog returns the effective catalog of a site.
func (s *Service) Catalog(site string) (*bridgeerr.Catalog, bool) {
	o, ok := s.opts.Sites[site]
	if !ok {
		return nil, false
	}
	return o.Catalog, true
}

// Queue returns a queue's options.
func (s *Service) Queue(site, queueID string) (QueueOptions, bool) {
	q, ok := s.opts.Sites[site].Queues[queueID]
	return q, ok
}

// transition applies trigger t to a leg with a compare-and-set loop, so concurrent writers
// (webhooks, CRM events, media-bar calls, pop workers on other replicas) never lose or double
// an update. mutate may adjust the leg after the state change. An illegal transition is
// absorbed: recorded on the timeline, counted, and reported as applied=false with no error.
func (s *Service) transition(ctx context.Context, key LegKey, t Trigger, fence int64, mutate func(*Interaction)) (in *Interaction, applied bool, err error) {
	return s.applyTrigger(ctx, key, t, change{fence: fence, mutate: mutate})
}

// transitionFrom is transition starting from cur, the leg as the caller last read or wrote
// it, rather than reading it again: a pop holds the leg it just leased or wrote, and a read
// per state change was a third of its round trips. A stale cur costs a conflict and a
// re-read, never a lost update, and an illegal transition is only absorbed on a fresh read.
func (s *Service) transitionFrom(ctx context.Context, cur *Interaction, t Trigger, fence int64, mutate func(*Interaction)) (in *Interaction, applied bool, err error) {
	return s.applyTrigger(ctx, cur.Key(), t, change{cur: cur, fence: fence, mutate: mutate})
}

// change is how applyTrigger goes about one state change.
type change struct {
	cur   *Interaction // start from this copy of the leg (nil: read it); see transitionFrom
	fence int64
	// release: the write also ends fence's lease (LegEffects.ReleaseLease); applied then
	// means the lease is released.
	release bool
	// before are timeline entries that precede the change's own: written with the change,
	// or on their own if it is absorbed or fails, so they are never lost and never reordered.
	before []TimelineEntry
	mutate func(*Interaction)
	// session, when set, receives the leg's agent's session as read with the change's
	// effects, after the write (LegEffects.Session); only if the change is applied.
	session *SessionRead
	// background, when set, has the change's indexes, timeline entries and event written in
	// the background (Store.UpdateLegThen), and receives the func that waits for them (a
	// no-op when nothing was written): call it before writing anything else about the leg.
	background *func()
	// ack, when set, is a claimed work item the write acks once it is applied
	// (LegEffects.Ack): a pop's outcome finishing its inline item.
	ack *AckItem
	// prior, when set, waits for earlier writes about the leg still in flight: the change's
	// compare-and-set does not wait for them, its effects and any other write do
	// (LegEffects.Prior).
	prior func()
}

func (s *Service) applyTrigger(ctx context.Context, key LegKey, t Trigger, c change) (in *Interaction, applied bool, err error) {
	if c.background != nil {
		*c.background = func() {}
	}
	// flush writes c.before when the change will not carry them.
	flush := func(also ...TimelineEntry) {
		if c.prior != nil {
			c.prior()
		}
		s.appendTimeline(ctx, key.InteractionID, append(slices.Clip(c.before), also...)...)
	}
	cur := c.cur
	for attempt := 0; attempt < maxTransitionAttempts; attempt++ {
		fromCopy := cur != nil
		if fromCopy {
			in, cur = cloneLeg(cur), nil
		} else if in, err = s.store.GetLeg(ctx, key); err != nil {
			flush()
			return nil, false, err
		}
		from := in.State
		to, err := Next(from, t)
		if err != nil {
			if fromCopy {
				continue // decide on the stored leg
			}
			s.obs.Absorbed(string(t))
			flush(s.entry(in, TimelineAbsorbed, fmt.Sprintf("%s ignored in state %s", t, from), "", 0))
			return in, false, nil
		}
		in.State = to
		in.UpdatedAt = s.clock.Now()
		if c.mutate != nil {
			c.mutate(in)
		}
		if to.Terminal() && in.Descriptor == nil {
			d := bridgeerr.Descriptor{Role: in.RouteType.Role(), Result: "Completed"}
			in.Descriptor = &d
		}
		// The decision, the agent's event and its timeline entry go with the write: one more
		// round trip, and none of them unless the write is accepted.
		fx := LegEffects{ReleaseLease: c.release, Session: c.session, Ack: c.ack, Prior: c.prior, Timeline: append(slices.Clip(c.before),
			s.entry(in, TimelineDecision, fmt.Sprintf("%s: %s -> %s", t, from, to), in.Code, 0))}
		s.tellAgent(&fx, in, in.Version+1)
		var fxErr error
		var wait func() error
		if c.background != nil {
			wait, err = s.store.UpdateLegThen(ctx, in, c.fence, fx)
		} else {
			fxErr, err = s.store.UpdateLegWith(ctx, in, c.fence, fx)
		}
		switch {
		case errors.Is(err, ErrConflict):
			continue
		case err != nil:
			flush()
			return nil, false, err
		}
		written := *in
		report := func(fxErr error) {
			if fxErr != nil {
				s.log.Warn("state change stored; its timeline entries or agent event were not", "interaction_id", written.InteractionID,
					"routing_id", written.RoutingID, "agent_id", written.AgentID, "chat_id", written.ChatID, "err", fxErr)
			}
		}
		if wait != nil {
			*c.background = sync.OnceFunc(func() { report(wait()) })
		} else {
			report(fxErr)
		}
		s.obs.Transition(from, to)
		return in, true, nil
	}
	flush()
	return nil, false, fmt.Errorf("transition %s on %s: %w", t, key, ErrConflict)
}

// cloneLeg copies a leg deeply enough that changing the copy never changes l.
func cloneLeg(l *Interaction) *Interaction {
	cp := *l
	if l.Descriptor != nil {
		d := *l.Descriptor
		cp.Descriptor = &d
	}
	return &cp
}

// tellAgent adds to fx the event telling the leg's agent about in as stored at version (the
// version the write fx goes with makes), and the event's timeline entry.
func (s *Service) tellAgent(fx *LegEffects, in *Interaction, version int64) {
	if in.AgentID == "" {
		return
	}
	cp := *in
	cp.Version = version
	ev := Event{Type: EventInteractionUpdated, AgentID: in.AgentID, Interaction: &cp, At: s.clock.Now()}
	fx.Event = &ev
	fx.Timeline = append(fx.Timeline, s.entry(in, TimelineMediabarEvent, fmt.Sprintf("%s state=%s", ev.Type, in.State), in.Code, 0))
}

// entry is a timeline entry of the leg, stamped now.
func (s *Service) entry(in *Interaction, kind, detail, code string, latency time.Duration) TimelineEntry {
	return TimelineEntry{At: s.clock.Now(), Kind: kind, RoutingID: in.RoutingID, Detail: detail, Code: code, LatencyMS: latency.Milliseconds()}
}

func (s *Service) timeline(ctx context.Context, in *Interaction, kind, detail, code string, latency time.Duration) {
	s.appendTimeline(ctx, in.InteractionID, s.entry(in, kind, detail, code, latency))
}

// appendTimeline writes entries made earlier, in order. A failure is logged, not returned:
// the timeline is the record of what happened, not a precondition of it.
func (s *Service) appendTimeline(ctx context.Context, interactionID string, entries ...TimelineEntry) {
	var err error
	switch len(entries) {
	case 0:
		return
	case 1:
		err = s.store.AppendTimeline(ctx, interactionID, entries[0])
	default:
		err = s.store.RecordEffects(ctx, interactionID, LegEffects{Timeline: entries})
	}
	if err != nil {
		s.log.Warn("append timeline", "interaction_id", interactionID, "err", err)
	}
}

// enqueueACD puts an ACD call in the durable outbox. It is the only way the core calls the ACD.
func (s *Service) enqueueACD(ctx context.Context, call ACDCall) error {
	call.CreatedAt = s.clock.Now()
	payload, err := json.Marshal(call)
	if err != nil {
		return fmt.Errorf("encode acd call: %w", err)
	}
	if err := s.work.Enqueue(ctx, QueueACDOutbox, payload); err != nil {
		return fmt.Errorf("enqueue acd %s: %w", call.Kind, err)
	}
	return nil
}

// Delivered records a webhook event id; first is false for a repeat within DedupeTTL.
func (s *Service) Delivered(ctx context.Context, eventID string) (bool, error) {
	first, err := s.store.FirstDelivery(ctx, eventID, s.opts.DedupeTTL)
	if err == nil && !first {
		s.obs.Absorbed("duplicate_event")
	}
	return first, err
}

// Timeline returns an interaction's history.
func (s *Service) Timeline(ctx context.Context, interactionID string) ([]TimelineEntry, error) {
	tl, err := s.store.Timeline(ctx, interactionID)
	return tl, storeErr(err)
}

// outcomePage is how many legs Outcomes reads from the store at a time.
const outcomePage = 500

// Outcomes calls each for every leg that ended in [since, until), oldest first, reading the
// store a page at a time so an export of any size runs in bounded memory. It stops at the
// first error each returns.
func (s *Service) Outcomes(ctx context.Context, since, until time.Time, each func(*Interaction) error) error {
	for cursor := ""; ; {
		legs, next, err := s.store.Outcomes(ctx, since, until, cursor, outcomePage)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		for _, l := range legs {
			if err := each(l); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// render fills a catalog message for a leg.
func (s *Service) render(l *Interaction, e bridgeerr.Entry, agentSessionID string) string {
	name := l.QueueName
	if name == "" {
		name = s.opts.Sites[l.Site].Queues[l.QueueID].Name
	}
	return e.Render(bridgeerr.MessageVars{Code: string(e.Code), AgentSessionID: agentSessionID, AccountID: l.CRMAccountID,
		QueueID: l.QueueID, QueueName: name, ReasonCode: string(e.Code), ChatID: l.ChatID})
}

// lookup returns the catalog row of a code for a leg's site.
func (s *Service) lookup(l *Interaction, code bridgeerr.Code) bridgeerr.Entry {
	return s.opts.Sites[l.Site].Catalog.Lookup(string(code))
}

// redirected is the descriptor of a leg that ended without the agent taking the chat.
func redirected(rt RouteType) *bridgeerr.Descriptor {
	d := legDescriptor(rt, bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"})
	return &d
}

// legDescriptor fits a catalog descriptor, written for a first leg, to a leg's route type:
// the role follows the route type, and a transfer, conference or consult target that never
// took the chat is Abandoned, not Redirected: the chat was not given back to a queue, the
// second leg simply did not happen and the first agent keeps the chat (SPEC section 5).
func legDescriptor(rt RouteType, d bridgeerr.Descriptor) bridgeerr.Descriptor {
	if d.Role == "RoutedTo" {
		d.Role = rt.Role()
	}
	if rt != RouteLead && rt != "" && d.Result == "Redirected" {
		d.Result = "Abandoned"
	}
	return d
}
