package acdmock

import (
	"fmt"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// HeaderIdempotencyKey carries the caller's key on every /acd/v1 call. A repeated key returns
// the first response and is not applied again.
const HeaderIdempotencyKey = "Idempotency-Key"

// maxKeyLen bounds an Idempotency-Key.
const maxKeyLen = 255

// Call kinds, the same words as bridge.ACDCallKind.
const (
	KindCreate     = string(bridge.ACDCreate)
	KindRequeue    = string(bridge.ACDRequeue)
	KindComplete   = string(bridge.ACDComplete)
	KindRoute      = string(bridge.ACDRoute)
	KindAgentState = string(bridge.ACDAgentState)
	// KindAccept is POST /acd/v1/interactions/{id}/accept: the bridge reports that the agent
	// took the offer, which connects the routing and stops its alerting timer.
	KindAccept = string(bridge.ACDAccept)
)

// Route types (acdapi.Routed.RouteType).
const (
	RouteLead       = string(bridge.RouteLead)
	RouteTransfer   = string(bridge.RouteTransfer)
	RouteConference = string(bridge.RouteConference)
	RouteConsult    = string(bridge.RouteConsult)
)

// Interaction and routing states (InteractionView.State, RoutingView.State).
const (
	StateQueued    = "queued"    // waiting in a queue for an agent
	StateRouting   = "routing"   // routed; interaction.routed not yet acknowledged by the bridge
	StateAlerting  = "alerting"  // the bridge acknowledged interaction.routed
	StateConnected = "connected" // the agent has the chat: accepted, or asked to route it on
	StateCompleted = "completed"
	StateAbandoned = "abandoned"
	StateRequeued  = "requeued" // routing only: given back to the queue
	StateRevoked   = "revoked"  // routing only: taken back (Revoke, or AlertingTimeout)
)

// Routing strategies (Queue.Strategy): which ready agent with spare capacity gets the next
// interaction of the queue.
const (
	// StrategyLongestIdle (the default) prefers agents with no work, then the least loaded;
	// among equals, the one idle longest (who last took or finished work, or became ready,
	// earliest).
	StrategyLongestIdle = "longest_idle"
	// StrategyRoundRobin takes the queue's agents in the order they were added, each
	// routing going to the next available agent after the one the queue routed to last,
	// whatever their load or idleness.
	StrategyRoundRobin = "round_robin"
)

// Revoke reasons (acdapi.Revoked.Reason, RoutingView.Reason).
const (
	ReasonRevoked         = "revoked"          // Revoke (control)
	ReasonAlertingTimeout = "alerting_timeout" // nobody moved the offer on within AlertingTimeout
)

// Queue is an ACD queue. Strategy "" means StrategyLongestIdle.
type Queue struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Strategy string `json:"strategy,omitempty"`
}

// Agent is an ACD agent. Capacity 0 means 1.
type Agent struct {
	ID           string   `json:"id"`
	CRMAccountID string   `json:"crmAccountId,omitempty"`
	Queues       []string `json:"queues"`
	Capacity     int      `json:"capacity,omitempty"`
	Ready        bool     `json:"ready"`
}

// AgentView is the simulator's state of one agent: Load is how many routings hold a share of
// its capacity (an offer withdrawn because the customer abandoned holds none).
type AgentView struct {
	ID           string   `json:"id"`
	CRMAccountID string   `json:"crmAccountId,omitempty"`
	Queues       []string `json:"queues"`
	Capacity     int      `json:"capacity"`
	Ready        bool     `json:"ready"`
	Reason       string   `json:"reason,omitempty"`
	Load         int      `json:"load"`
}

// Call is one /acd/v1 request the simulator received, applied or not.
type Call struct {
	Kind           string    `json:"kind"`
	InteractionID  string    `json:"interactionId,omitempty"`
	RoutingID      string    `json:"routingId,omitempty"`
	AgentID        string    `json:"agentId,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Disposition    string    `json:"disposition,omitempty"`
	State          string    `json:"state,omitempty"`
	RouteType      string    `json:"routeType,omitempty"`
	TargetAgentID  string    `json:"targetAgentId,omitempty"`
	TargetQueueID  string    `json:"targetQueueId,omitempty"`
	ChatID         string    `json:"chatId,omitempty"`
	Site           string    `json:"site,omitempty"`
	QueueID        string    `json:"queueId,omitempty"`
	IdempotencyKey string    `json:"idempotencyKey,omitempty"`
	Applied        bool      `json:"applied"`
	Status         int       `json:"status"`
	At             time.Time `json:"at"`
}

// RoutingView is one routing (agent leg) of an interaction. FromRoutingID names the leg that
// asked for a transfer, conference or consult. EscalatedTo is the queue a requeue with a
// targetQueueId sent the interaction to (set only when the requeue put it back to wait
// there). AlertingUntil is when AlertingTimeout takes the offer back, while that timer runs.
type RoutingView struct {
	RoutingID     string    `json:"routingId"`
	AgentID       string    `json:"agentId"`
	QueueID       string    `json:"queueId"`
	RouteType     string    `json:"routeType"`
	FromRoutingID string    `json:"fromRoutingId,omitempty"`
	State         string    `json:"state"`
	Reason        string    `json:"reason,omitempty"`
	EscalatedTo   string    `json:"escalatedTo,omitempty"`
	Disposition   string    `json:"disposition,omitempty"`
	RoutedAt      time.Time `json:"routedAt"`
	AlertingUntil time.Time `json:"alertingUntil,omitzero"`
	EndedAt       time.Time `json:"endedAt,omitzero"`
}

// InteractionView is the simulator's state of one interaction. QueueID is its queue: the one
// it was created in, or the escalation queue of the last requeue that sent it to one.
// AgentID and RoutingID name the newest routing still open, if any.
type InteractionView struct {
	ID           string        `json:"id"`
	ChatID       string        `json:"chatId"`
	Site         string        `json:"site"`
	QueueID      string        `json:"queueId"`
	CustomerName string        `json:"customerName,omitempty"`
	State        string        `json:"state"`
	AgentID      string        `json:"agentId,omitempty"`
	RoutingID    string        `json:"routingId,omitempty"`
	AbandonStage string        `json:"abandonStage,omitempty"`
	CreatedAt    time.Time     `json:"createdAt"`
	Routings     []RoutingView `json:"routings"`
}

// WebhookDelivery is one webhook event and how its delivery went. Attempts is 0 when no
// WebhookURL is configured (the event is recorded, not sent).
type WebhookDelivery struct {
	EventID       string    `json:"eventId"`
	Type          string    `json:"type"`
	InteractionID string    `json:"interactionId,omitempty"`
	RoutingID     string    `json:"routingId,omitempty"`
	AgentID       string    `json:"agentId,omitempty"`
	Attempts      int       `json:"attempts"`
	LastStatus    int       `json:"lastStatus,omitempty"`
	LastError     string    `json:"lastError,omitempty"`
	Delivered     bool      `json:"delivered"`
	Body          []byte    `json:"body"` // the signed envelope, as sent
	CreatedAt     time.Time `json:"createdAt"`
}

// --- /acd/v1 request and response bodies ---

type createRequest struct {
	ChatID       string `json:"chatId"`
	Site         string `json:"site"`
	QueueID      string `json:"queueId"`
	CustomerName string `json:"customerName,omitempty"`
}

func (r *createRequest) validate() error {
	if err := required(field{"chatId", r.ChatID}, field{"queueId", r.QueueID}); err != nil {
		return err
	}
	if len(r.CustomerName) > 256 {
		return fail(ErrInvalid, "customerName", "longer than 256 bytes")
	}
	return optionalIDs(field{"site", r.Site})
}

type createResponse struct {
	InteractionID string `json:"interactionId"`
}

type requeueRequest struct {
	RoutingID  string `json:"routingId"`
	AgentID    string `json:"agentId"`
	ReasonCode string `json:"reasonCode"`
	// TargetQueueID, when set, escalates: the interaction waits in this queue instead of the
	// routing's own.
	TargetQueueID string `json:"targetQueueId,omitempty"`
}

func (r *requeueRequest) validate() error {
	if err := required(field{"agentId", r.AgentID}); err != nil {
		return err
	}
	return optionalIDs(field{"routingId", r.RoutingID}, field{"reasonCode", r.ReasonCode}, field{"targetQueueId", r.TargetQueueID})
}

type completeRequest struct {
	RoutingID   string `json:"routingId"`
	AgentID     string `json:"agentId"`
	Disposition string `json:"disposition"`
}

func (r *completeRequest) validate() error {
	if err := required(field{"agentId", r.AgentID}); err != nil {
		return err
	}
	return optionalIDs(field{"routingId", r.RoutingID}, field{"disposition", r.Disposition})
}

type routeRequest struct {
	RoutingID     string `json:"routingId"`
	FromAgentID   string `json:"fromAgentId"`
	RouteType     string `json:"routeType"`
	TargetAgentID string `json:"targetAgentId,omitempty"`
	TargetQueueID string `json:"targetQueueId,omitempty"`
}

func (r *routeRequest) validate() error {
	if err := required(field{"fromAgentId", r.FromAgentID}, field{"routeType", r.RouteType}); err != nil {
		return err
	}
	switch r.RouteType {
	case RouteTransfer, RouteConference, RouteConsult:
	default:
		return fail(ErrInvalid, "routeType", fmt.Sprintf("%q is not one of transfer, conference, consult", r.RouteType))
	}
	if (r.TargetAgentID == "") == (r.TargetQueueID == "") {
		return fail(ErrBadRequest, "targetAgentId", "exactly one of targetAgentId and targetQueueId is required")
	}
	return optionalIDs(field{"routingId", r.RoutingID}, field{"targetAgentId", r.TargetAgentID}, field{"targetQueueId", r.TargetQueueID})
}

type acceptRequest struct {
	RoutingID string `json:"routingId"`
	AgentID   string `json:"agentId"`
}

func (r *acceptRequest) validate() error {
	if err := required(field{"agentId", r.AgentID}); err != nil {
		return err
	}
	return optionalIDs(field{"routingId", r.RoutingID})
}

type stateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func (r *stateRequest) validate() error {
	if err := required(field{"state", r.State}); err != nil {
		return err
	}
	if r.State != "ready" && r.State != "not_ready" {
		return fail(ErrInvalid, "state", fmt.Sprintf("%q is not one of ready, not_ready", r.State))
	}
	return optionalIDs(field{"reason", r.Reason})
}

// statusResponse answers requeue, complete, route, accept and state. EscalatedTo (requeue
// only) is the escalation queue the interaction now waits in, when it went there.
type statusResponse struct {
	Status      string `json:"status"`
	RoutingID   string `json:"routingId,omitempty"`
	EscalatedTo string `json:"escalatedTo,omitempty"`
}

// --- /control/v1 request and response bodies ---

type readyRequest struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

type routeToRequest struct {
	AgentID   string `json:"agentId"`
	RouteType string `json:"routeType,omitempty"`
}

type routeToResponse struct {
	RoutingID string `json:"routingId"`
}

type abandonRequest struct {
	Stage string `json:"stage,omitempty"`
}

// controlAcceptRequest names the routing to mark answered; "" means the newest offer.
type controlAcceptRequest struct {
	RoutingID string `json:"routingId,omitempty"`
}

type advanceRequest struct {
	Duration string `json:"duration"` // Go duration: "90s", "2m30s"; "0s" fires what is due
}

type advanceResponse struct {
	Now time.Time `json:"now"`
}

type downRequest struct {
	Down bool `json:"down"`
}

type appliedResponse struct {
	Count int `json:"count"`
}
