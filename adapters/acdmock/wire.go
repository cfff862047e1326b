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
	StateConnected = "connected" // the agent asked to route it on (so they had it)
	StateCompleted = "completed"
	StateAbandoned = "abandoned"
	StateRequeued  = "requeued" // routing only: given back to the queue
	StateRevoked   = "revoked"  // routing only: taken back with Revoke
)

// Queue is an ACD queue.
type Queue struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Agent is an ACD agent. Capacity 0 means 1.
type Agent struct {
	ID           string   `json:"id"`
	CRMAccountID string   `json:"crmAccountId,omitempty"`
	Queues       []string `json:"queues"`
	Capacity     int      `json:"capacity,omitempty"`
	Ready        bool     `json:"ready"`
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

// RoutingView is one routing (agent leg) of an interaction.
type RoutingView struct {
	RoutingID   string    `json:"routingId"`
	AgentID     string    `json:"agentId"`
	QueueID     string    `json:"queueId"`
	RouteType   string    `json:"routeType"`
	State       string    `json:"state"`
	Reason      string    `json:"reason,omitempty"`
	Disposition string    `json:"disposition,omitempty"`
	RoutedAt    time.Time `json:"routedAt"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
}

// InteractionView is the simulator's state of one interaction. AgentID and RoutingID name the
// newest routing still open, if any.
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
}

func (r *requeueRequest) validate() error {
	if err := required(field{"agentId", r.AgentID}); err != nil {
		return err
	}
	return optionalIDs(field{"routingId", r.RoutingID}, field{"reasonCode", r.ReasonCode})
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

// statusResponse answers requeue, complete, route and state.
type statusResponse struct {
	Status    string `json:"status"`
	RoutingID string `json:"routingId,omitempty"`
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

type downRequest struct {
	Down bool `json:"down"`
}

type appliedResponse struct {
	Count int `json:"count"`
}
