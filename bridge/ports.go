package bridge

import (
	"context"
	"errors"
	"time"
)

// Errors adapters wrap so the core can decide without knowing the technology.
var (
	// ErrUnavailable: no usable answer from an upstream (transport failure, timeout, 5xx,
	// 429, breaker open). The call may be retried later.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrBreakerOpen: the upstream's circuit breaker is open; the call was not attempted.
	// Always wrapped together with ErrUnavailable.
	ErrBreakerOpen = errors.New("circuit breaker open")
	// ErrMalformedReply: the upstream answered, but not with a reply that can be read.
	ErrMalformedReply = errors.New("malformed upstream reply")
	// ErrRejected: the upstream refused the request for good (4xx other than 408/429);
	// retrying the same request cannot succeed.
	ErrRejected = errors.New("upstream rejected the request")
	// ErrOutcomeUnknown: the request may have reached the upstream and been applied, but no
	// answer came back (timeout, connection lost mid-request). Always wrapped together with
	// ErrUnavailable. Only a retry under the same idempotency key can tell what happened.
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may have been applied")

	// ErrNotFound: the store has no such record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a compare-and-set write lost against a concurrent writer.
	ErrConflict = errors.New("version conflict")
	// ErrFenced: the writer's lease was taken over by another replica; it must stop.
	ErrFenced = errors.New("lease fenced by another holder")
	// ErrNotQueued: LegEffects.Queue's item was not added to its queue (the leg was written).
	ErrNotQueued = errors.New("work item not queued")
)

// CRM is the CRM chat server, as the core needs it. Adapters return the verbatim result code
// whenever the CRM answered (business rejections included) and an error only when there was
// no usable answer (wrapping ErrUnavailable or ErrMalformedReply).
type CRM interface {
	// RouteChat asks the CRM to route (pop) a waiting chat to an agent. TransactionID makes
	// it idempotent: a replay returns the first answer.
	RouteChat(ctx context.Context, req RouteRequest) (RouteResult, error)
	// AgentSession reads an agent's CRM chat session.
	AgentSession(ctx context.Context, site, accountID string) (CRMAgentSession, error)
	// Engagement reads a chat's state.
	Engagement(ctx context.Context, site, chatID string) (Engagement, error)
	// PollEvents long-polls the site's event feed for events after afterSeq. An empty slice
	// with a nil error is the CRM's timeout marker.
	PollEvents(ctx context.Context, site string, afterSeq int64) ([]CRMEvent, error)
	// RespondOffer answers an agent's pending offer in the CRM on its behalf (the media bar's
	// Accept and Decline) and returns the CRM's result code verbatim: SUCCESS, or a business
	// code (NO_PENDING_OFFER, DECLINE_NOT_ALLOWED, ...). The outcome itself comes back as a
	// CRM event (EngagementAccepted, EngagementDeclined). TransactionID (required: adapters
	// refuse a request without one, ErrRejected) makes it idempotent: a replay returns the
	// first answer and is not applied twice, so adapters retry it under the same id.
	RespondOffer(ctx context.Context, req OfferResponse) (string, error)
}

// OfferResponse is an agent's answer to an offer, sent by the bridge: accept, or decline.
type OfferResponse struct {
	Site   string
	ChatID string
	// AgentAccountID is the offered agent: the chat's owner-to-be, or a transfer, conference
	// or consult target.
	AgentAccountID string
	Accept         bool // false: decline
	TransactionID  string
}

// ChatLister lists the chats waiting in a CRM queue. It is what intake needs; a CRM adapter
// that cannot list waiting chats simply does not implement it, and intake stays off.
type ChatLister interface {
	WaitingChats(ctx context.Context, site, queueID string) ([]WaitingChat, error)
}

// WaitingChat is a chat waiting in a CRM queue for an agent.
type WaitingChat struct {
	ChatID       string
	QueueID      string
	CustomerName string
	Waiting      time.Duration
}

// RouteRequest is one pop.
type RouteRequest struct {
	Site           string
	ChatID         string
	AgentAccountID string
	QueueID        string
	TransactionID  string
	// RouteType is lead for a waiting chat; transfer, conference and consult add the agent to
	// a chat another agent already has (the CRM checks the chat is ACTIVE instead of WAITING).
	RouteType RouteType
}

// RouteResult is the CRM's answer to a pop.
type RouteResult struct {
	Code            string // verbatim
	EngagementState string // OFFERED, ACTIVE (auto-accept), ...
	OfferExpiresIn  time.Duration
}

// CRMAgentSession is the CRM's view of an agent's chat session.
type CRMAgentSession struct {
	Code                string `json:"code"` // verbatim: SUCCESS, AGENT_ID_UNKNOWN, INVALID_AGENT_SESSION
	LoggedIn            bool   `json:"logged_in"`
	SessionID           string `json:"session_id"`
	Presence            string `json:"presence"` // ACTIVE, ABSENT, DISCONNECTED
	MissedIntervals     int    `json:"missed_intervals"`
	SecondsToDisconnect int    `json:"seconds_to_disconnect"`
	StatusType          string `json:"status_type"` // AVAILABLE, UNAVAILABLE
	StatusName          string `json:"status_name"` // Unrestricted, In Meeting, ...
	ActiveSessions      int    `json:"active_sessions"`
	MaxSessions         int    `json:"max_sessions"`
}

// Engagement is the CRM's view of one chat.
type Engagement struct {
	Code           string // verbatim
	ChatID         string
	State          string // WAITING, OFFERED, ACTIVE, CONCLUDED
	EndReason      string // verbatim CRM end reason
	AgentAccountID string // the chat's owner: the agent of the lead (or accepted transfer)
	// Participants are the other agents in the chat: a conference or consult guest, or a
	// transfer target that has not accepted yet.
	Participants []Participant
}

// Participant is one more agent in a chat, with how it came (transfer, conference, consult)
// and its own state (OFFERED until it accepts, then ACTIVE).
type Participant struct {
	AgentAccountID string
	RouteType      RouteType
	State          string
}

// Participant returns the chat's view of one agent: the owner (RouteType lead, the chat's
// State) or a participant; ok is false when the agent is not in the chat.
func (e Engagement) Participant(accountID string) (Participant, bool) {
	if accountID != "" && accountID == e.AgentAccountID {
		return Participant{AgentAccountID: accountID, RouteType: RouteLead, State: e.State}, true
	}
	for _, p := range e.Participants {
		if p.AgentAccountID == accountID {
			return p, true
		}
	}
	return Participant{}, false
}

// CRM engagement states.
const (
	EngagementWaiting   = "WAITING"
	EngagementOffered   = "OFFERED"
	EngagementActive    = "ACTIVE"
	EngagementConcluded = "CONCLUDED"
)

// CRMEvent is one event from the CRM's long-poll feed.
type CRMEvent struct {
	Seq                 int64
	Type                string // EngagementOffered, EngagementAccepted, ...
	ChatID              string
	AgentAccountID      string
	Cause               string // EngagementRequeued cause
	EndReason           string // EngagementConcluded end reason, verbatim
	Presence            string
	MissedIntervals     int
	SecondsToDisconnect int
	StatusType          string
	StatusName          string
	At                  time.Time
}

// CRM event types, verbatim.
const (
	CRMEngagementOffered           = "EngagementOffered"
	CRMEngagementAccepted          = "EngagementAccepted"
	CRMEngagementDeclined          = "EngagementDeclined"
	CRMEngagementTimeout           = "EngagementTimeout"
	CRMEngagementRequeued          = "EngagementRequeued"
	CRMEngagementConcluded         = "EngagementConcluded"
	CRMAgentConnectionStateChanged = "AgentConnectionStateChanged"
	CRMAgentStatusChanged          = "AgentStatusChanged"
	CRMAgentLoggedOff              = "AgentLoggedOff"
)

// ACD is the router. Calls are made through the durable outbox; the adapter reports
// ErrUnavailable (retry later) or ErrRejected (will never succeed) and the outbox decides.
type ACD interface {
	Send(ctx context.Context, call ACDCall) error
}

// ACDCall is one call to the ACD. IdempotencyKey is sent as the Idempotency-Key header so a
// call made twice (retry, takeover) is applied once.
type ACDCall struct {
	Kind           ACDCallKind `json:"kind"`
	IdempotencyKey string      `json:"idempotency_key"`
	InteractionID  string      `json:"interaction_id,omitempty"`
	RoutingID      string      `json:"routing_id,omitempty"`
	AgentID        string      `json:"agent_id,omitempty"`
	// Reason is the verbatim code behind a requeue, or the not-ready reason.
	Reason      string `json:"reason,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Ready       bool   `json:"ready,omitempty"`
	// Route requests (transfer / conference / consult).
	RouteType     RouteType `json:"route_type,omitempty"`
	TargetAgentID string    `json:"target_agent_id,omitempty"`
	// TargetQueueID is the queue of a route request, or, on a requeue, the escalation queue
	// the interaction goes to instead of its own (requeue budget spent, decline loop).
	TargetQueueID string `json:"target_queue_id,omitempty"`
	// Intake.
	ChatID  string `json:"chat_id,omitempty"`
	Site    string `json:"site,omitempty"`
	QueueID string `json:"queue_id,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	// NotBefore holds the call in the outbox until then (zero: send at once). A requeue of
	// an interaction that keeps bouncing with no escalation queue is held, so a chat nobody
	// can take does not loop between the ACD and the bridge as fast as they can go.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// ACDCallKind is the operation.
type ACDCallKind string

const (
	ACDRequeue    ACDCallKind = "requeue"
	ACDComplete   ACDCallKind = "complete"
	ACDAgentState ACDCallKind = "agent_state"
	ACDRoute      ACDCallKind = "route"
	ACDCreate     ACDCallKind = "create"
	// ACDAccept tells the ACD the agent took the offer, so it stops its alerting timer.
	ACDAccept ACDCallKind = "accept"
)

// Store keeps all shared state (Redis in production). Every method is safe to call from any
// replica at any time.
type Store interface {
	// FirstDelivery records a webhook event id; true the first time it is seen within ttl.
	FirstDelivery(ctx context.Context, eventID string, ttl time.Duration) (bool, error)
	// Remembered reports whether FirstDelivery recorded id and it has not expired yet.
	Remembered(ctx context.Context, id string) (bool, error)

	// CreateLeg stores a new leg at Version 1 (setting in.Version) unless one with the same
	// key exists; created is false for a duplicate routing. It also indexes the leg under its
	// agent, its interaction and its CRM chat.
	CreateLeg(ctx context.Context, in *Interaction) (created bool, err error)
	// GetLeg returns ErrNotFound when there is no such leg.
	GetLeg(ctx context.Context, key LegKey) (*Interaction, error)
	// UpdateLeg writes in if the stored version equals in.Version, then sets in.Version to the
	// new version. ErrConflict if another writer got there first. With fence > 0 the write is
	// refused with ErrFenced unless fence is still the leg's current lease fence.
	UpdateLeg(ctx context.Context, in *Interaction, fence int64) error
	// CreateLegWith is CreateLeg that also writes fx once the leg is created (nothing of fx
	// for a duplicate). fxErr reports fx not written although the leg was created.
	CreateLegWith(ctx context.Context, in *Interaction, fx LegEffects) (created bool, fxErr, err error)
	// CreateLegThen is CreateLegWith returning once the leg is created, with fx (and the
	// indexes) left to finish, which writes them on its caller's goroutine and returns fxErr
	// (nil finish for a duplicate): the caller starts its next step elsewhere, then calls
	// finish, before it writes anything else about the leg.
	CreateLegThen(ctx context.Context, in *Interaction, fx LegEffects) (created bool, finish func() error, err error)
	// UpdateLegWith is UpdateLeg that also writes fx once the write succeeded. err is
	// UpdateLeg's (nothing was written); fxErr reports fx not written although the leg was.
	UpdateLegWith(ctx context.Context, in *Interaction, fence int64, fx LegEffects) (fxErr, err error)
	// UpdateLegThen is UpdateLegWith returning once the leg is written, with fx (and the
	// indexes) written in the background: wait returns fxErr once they are. The caller calls
	// wait before it writes anything else about the leg, which keeps the timeline and the
	// agent's events in order.
	UpdateLegThen(ctx context.Context, in *Interaction, fence int64, fx LegEffects) (wait func() error, err error)
	// RecordEffects writes fx without a leg write (fx.ReleaseLease must be false).
	RecordEffects(ctx context.Context, interactionID string, fx LegEffects) error
	// AgentLegs lists the agent's legs that are not yet completed/ended for the agent.
	AgentLegs(ctx context.Context, agentID string) ([]*Interaction, error)
	// InteractionLegs lists every leg of an interaction, oldest first.
	InteractionLegs(ctx context.Context, interactionID string) ([]*Interaction, error)
	// ChatLeg returns the newest leg for a CRM chat (ErrNotFound if none).
	ChatLeg(ctx context.Context, site, chatID string) (*Interaction, error)

	// AcquireLease takes the per-leg lease for ttl; ok is false while another holder has it.
	// fence increases with every successful acquisition (fencing token).
	AcquireLease(ctx context.Context, key LegKey, ttl time.Duration) (fence int64, ok bool, err error)
	// ReleaseLease releases the lease if fence still holds it.
	ReleaseLease(ctx context.Context, key LegKey, fence int64) error
	// LeaseLeg is AcquireLease, then GetLeg once the lease is taken (one step for the store,
	// which saves a pop a round trip). leg is nil when ok is false, and when there is no such
	// leg (the lease is held all the same). With an error no lease is held.
	LeaseLeg(ctx context.Context, key LegKey, ttl time.Duration) (leg *Interaction, fence int64, ok bool, err error)

	// AcquireLock, RenewLock and ReleaseLock elect one holder of a named job across replicas
	// (the CRM event consumer of a site), with a fencing token like the leg lease.
	AcquireLock(ctx context.Context, name string, ttl time.Duration) (fence int64, ok bool, err error)
	RenewLock(ctx context.Context, name string, fence int64, ttl time.Duration) (bool, error)
	ReleaseLock(ctx context.Context, name string, fence int64) error
	// Cursor is the named job's stored position (0 when none); SetCursor writes it only while
	// fence holds the lock of that name (else ErrFenced).
	Cursor(ctx context.Context, name string) (int64, error)
	SetCursor(ctx context.Context, name string, fence, value int64) error

	PutAgentSession(ctx context.Context, s AgentSession, ttl time.Duration) error
	// UpdateAgentSession applies mutate to the stored session and writes it back only if it
	// was neither changed nor deleted meanwhile (else it reads again and retries), keeping
	// its TTL; mutate says whether to write. ErrNotFound when the agent is not logged in:
	// an update never brings back a session a logout deleted.
	UpdateAgentSession(ctx context.Context, agentID string, mutate func(*AgentSession) (bool, error)) (AgentSession, error)
	// GetAgentSession returns ErrNotFound when the agent is not logged in.
	GetAgentSession(ctx context.Context, agentID string) (AgentSession, error)
	DeleteAgentSession(ctx context.Context, agentID string) error
	// AgentByAccount resolves a site's CRM agent account to the logged-in ACD agent id
	// (ErrNotFound when no media-bar session is bound to it).
	AgentByAccount(ctx context.Context, site, accountID string) (string, error)

	// OpenLegs returns up to limit non-terminal legs due for reconciliation at or before due
	// (a leg is due when it was last written, or when DeferLeg said), most overdue first.
	OpenLegs(ctx context.Context, due time.Time, limit int) ([]*Interaction, error)
	// DeferLeg makes an open leg due again at until, unless it is written before then.
	DeferLeg(ctx context.Context, key LegKey, until time.Time) error

	// Outcomes pages through the legs that ended in [since, until), oldest first: up to limit
	// entries after cursor ("" to start); next is "" after the last page. Legs no longer
	// stored are skipped, so a page may hold fewer than limit legs.
	Outcomes(ctx context.Context, since, until time.Time, cursor string, limit int) (legs []*Interaction, next string, err error)

	AppendTimeline(ctx context.Context, interactionID string, e TimelineEntry) error
	Timeline(ctx context.Context, interactionID string) ([]TimelineEntry, error)

	// Ping checks the store is reachable (readiness).
	Ping(ctx context.Context) error
}

// LegEffects are what a state change brings along besides the leg itself: entries for the
// interaction's timeline and an event for an agent's stream. The store writes them only once
// the leg write succeeded, and together (one round trip for Redis), in this order: timeline
// entries, then the event. Like AppendTimeline and Publish on their own they are best
// effort: a failure is reported, never undone, and leaves the leg written.
type LegEffects struct {
	Timeline []TimelineEntry
	// Event is published to Event.AgentID's stream, as Events.Publish does: the store's
	// streams are the Events port's (one Redis).
	Event *Event
	// ReleaseLease (UpdateLegWith only): the write also releases the lease fence holds, in the
	// same step and only if the write is accepted — a lease holder's last write.
	ReleaseLease bool
	// Queue, when set, is added to its work queue after the rest, as WorkQueue.Enqueue would
	// (Routed's pop rides on its leg's creation: a round trip fewer per pop). Unlike the rest
	// it is not best effort: a failure is reported as an fxErr wrapping ErrNotQueued.
	Queue *QueueItem
	// Session, when set, receives the leg's agent's session as read after the rest, in the
	// same round trip (finishPop reads the channel after an offer without another one).
	Session *SessionRead
	// Delivery, when set, is a webhook delivery id recorded as seen after the rest, as
	// FirstDelivery would (best effort): a new routing records its webhook with its leg.
	Delivery *DeliveryMark
	// Lease (CreateLegWith and CreateLegThen only), when set, is taken by the leg's creation itself, as
	// LeaseLeg would take it; the store sets Lease.Fence. A duplicate takes none.
	Lease *LeaseTake
	// Ack, when set, is a claimed work item acked and deleted after the rest, in the same
	// round trip, as its holder's release would: an inline pop's outcome finishes its item
	// with it instead of a round trip of its own. The store sets Ack.Acked once it is; if it
	// was not (a failure, or the write was refused), the holder acks it itself.
	Ack *AckItem
	// Prior, when set, is called once the leg's write is accepted and before any of the rest
	// is sent: it waits for the effects of an earlier write still in flight (an inline pop's
	// creation), which must go first, while the write itself did not wait for them. It may
	// set Ack.ID.
	Prior func()
}

// AckItem is a work item claimed from Queue (QueueItem.Claim), to be acked with a write.
type AckItem struct {
	Queue string
	ID    string // QueueItem.ClaimedID; nothing is acked while it is ""
	Acked bool
}

// LeaseTake asks a leg's creation to take its lease for TTL; Fence is the holder's fence
// once it is taken (0: not taken).
type LeaseTake struct {
	TTL   time.Duration
	Fence int64
}

// DeliveryMark is a webhook delivery id to remember for TTL.
type DeliveryMark struct {
	ID  string
	TTL time.Duration
}

// QueueItem is one item for a work queue.
type QueueItem struct {
	Queue   string
	Payload []byte
	// Claim, when set, names a consumer that takes the item as it is added: no other consumer
	// reads it, though any reclaims it once it is idle (the claimer died or failed), and
	// WorkQueue.Handle runs it. The store sets ClaimedID once it is claimed. The replica that
	// records a routing pops it itself this way, without a worker's wake-up and a lease round
	// trip.
	Claim     string
	ClaimedID string
}

// SessionRead is an agent session read along with a write: Err wraps ErrNotFound when the
// agent has none.
type SessionRead struct {
	Session AgentSession
	Err     error
}

// WorkQueue is durable work shared by all replicas (pops, ACD outbox). An item stays owned
// until its handler returns nil; items of a consumer that died or failed are handed to another
// consumer after they have been idle for the queue's reclaim interval.
type WorkQueue interface {
	Enqueue(ctx context.Context, queue string, payload []byte) error
	// Consume blocks until ctx ends, calling handle for each item.
	Consume(ctx context.Context, queue, consumer string, handle func(ctx context.Context, item WorkItem) error) error
	// Hold keeps an item claimed for consumer (QueueItem.Claim) alive, as Consume does for
	// the item it runs, until release: release(true) acks it, release(false) leaves it to be
	// reclaimed by any consumer once idle. release returns once that is done.
	Hold(ctx context.Context, queue, consumer, id string) (release func(ack bool))
	// Depth is how many items are waiting or in flight.
	Depth(ctx context.Context, queue string) (int64, error)

	// Items, Item and Remove inspect a queue nobody consumes (the ACD dead letters): list up
	// to limit items after the id after ("" from the start), read one (ErrNotFound), delete
	// one (no error if it is gone).
	Items(ctx context.Context, queue, after string, limit int) ([]WorkItem, error)
	Item(ctx context.Context, queue, id string) (WorkItem, error)
	Remove(ctx context.Context, queue, id string) error
}

// WorkItem is one unit of durable work.
type WorkItem struct {
	ID         string
	Payload    []byte
	Deliveries int64 // 1 on first delivery
}

// Events is the per-agent event stream the media bar reads.
type Events interface {
	// Publish appends ev to the agent's stream and returns its stream id.
	Publish(ctx context.Context, agentID string, ev Event) (string, error)
	// Read returns up to count events after afterID ("" or "0" for the start), oldest first.
	Read(ctx context.Context, agentID, afterID string, count int) ([]Event, error)
}

// Clock is the core's time source; tests and the mock CRM drive their own.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
