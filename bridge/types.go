// Package bridge is the core: domain types, the ports it needs from the outside world (CRM,
// ACD, Store, Events) and the service that runs the flows and the interaction state machine.
// It imports the standard library and the catalog (bridgeerr) only.
package bridge

import (
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// RouteType is how the ACD routed the chat to the agent.
type RouteType string

const (
	RouteLead       RouteType = "lead"
	RouteTransfer   RouteType = "transfer"
	RouteConference RouteType = "conference"
	RouteConsult    RouteType = "consult"
)

// Valid reports whether t is one of the known route types.
func (t RouteType) Valid() bool {
	switch t {
	case RouteLead, RouteTransfer, RouteConference, RouteConsult:
		return true
	}
	return false
}

// Role is the reporting role of a leg with this route type.
func (t RouteType) Role() string {
	switch t {
	case RouteTransfer:
		return "ReceivedTransfer"
	case RouteConference:
		return "InConference"
	case RouteConsult:
		return "ReceivedConsult"
	}
	return "RoutedTo"
}

// Interaction is one agent leg of an ACD interaction: the ACD routed chat ChatID to agent
// AgentID, and the bridge pops it into that agent's CRM console. Several legs may share an
// InteractionID (requeue to another agent, transfer, conference); RoutingID tells them apart.
type Interaction struct {
	InteractionID string    `json:"interaction_id"`
	RoutingID     string    `json:"routing_id"`
	ChatID        string    `json:"chat_id"`
	Site          string    `json:"site"`
	QueueID       string    `json:"queue_id"`
	QueueName     string    `json:"queue_name,omitempty"`
	AgentID       string    `json:"agent_id"`
	CRMAccountID  string    `json:"crm_account_id,omitempty"`
	RouteType     RouteType `json:"route_type"`
	// FromRoutingID is the leg that asked for this transfer, conference or consult leg.
	FromRoutingID string `json:"from_routing_id,omitempty"`
	State         State  `json:"state"`
	// Version increases by one on every stored change; writes are compare-and-set on it.
	Version int64 `json:"version"`
	// Code is the last verbatim CRM result code (or bridge failure kind) for this leg.
	Code string `json:"code,omitempty"`
	// Message is what the agent was told about Code.
	Message string `json:"message,omitempty"`
	// Requeued is true once the bridge decided to give the chat back to the ACD.
	Requeued    bool   `json:"requeued"`
	Disposition string `json:"disposition,omitempty"`
	// AbandonStage is queued / routing / alerting when the customer left.
	AbandonStage string `json:"abandon_stage,omitempty"`
	// Descriptor is the reporting outcome, set once the leg reaches a terminal state.
	Descriptor *bridgeerr.Descriptor `json:"descriptor,omitempty"`
	// PopAttempts counts CRM route attempts made for this leg (same transaction id each time).
	PopAttempts int `json:"pop_attempts"`
	// PopUncertain: the current attempt's route may have reached the CRM without an answer.
	// Until the CRM answers that transaction id, the pop is neither failed nor requeued (the
	// CRM may still offer the chat); the pop is retried with the same transaction id.
	PopUncertain bool      `json:"pop_uncertain,omitempty"`
	RoutedAt     time.Time `json:"routed_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Key identifies the leg: interaction id and routing id.
func (in *Interaction) Key() LegKey {
	return LegKey{InteractionID: in.InteractionID, RoutingID: in.RoutingID}
}

// LegKey identifies one agent leg.
type LegKey struct {
	InteractionID string `json:"interaction_id"`
	RoutingID     string `json:"routing_id"`
}

// String is the stable text form, also used as the CRM transaction id for the pop, so that a
// retried or taken-over pop replays the first CRM answer instead of routing twice.
func (k LegKey) String() string { return k.InteractionID + "/" + k.RoutingID }

// AgentSession binds the three identities of a logged-in agent.
type AgentSession struct {
	AgentID          string  `json:"agent_id"`            // ACD agent id
	Site             string  `json:"site"`                // CRM site
	CRMAccountID     string  `json:"crm_account_id"`      // CRM agent account id
	CRMChatSessionID string  `json:"crm_chat_session_id"` // CRM agent chat session id
	Channel          Channel `json:"channel"`
	// ACD is the ready flag as the ACD last reported it (nil until it does).
	ACD *ACDState `json:"acd,omitempty"`
	// MaxSessions is the agent's chat capacity in the CRM, as the CRM reported it at login.
	MaxSessions int       `json:"max_sessions,omitempty"`
	LoggedInAt  time.Time `json:"logged_in_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
}

// Channel is the state of the agent's chat channel on the media bar.
type Channel struct {
	Green bool `json:"green"`
	// Reason is the code that turned it red (a catalog code, or a presence/status reason).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Banner asks the agent to log out, reload the CRM console and log in again.
	Banner bool `json:"banner,omitempty"`
	// SecondsToDisconnect counts down while the CRM sees the agent's console as absent.
	SecondsToDisconnect int `json:"seconds_to_disconnect,omitempty"`
}

// Event is what the media bar receives on the agent's stream.
type Event struct {
	ID          string       `json:"id,omitempty"` // stream id, set by the publisher
	Type        string       `json:"type"`         // interaction.updated, channel.updated, ...
	AgentID     string       `json:"agent_id"`
	Interaction *Interaction `json:"interaction,omitempty"`
	Channel     *Channel     `json:"channel,omitempty"`
	// Message is for events that carry words only (transfer.failed).
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at"`
}

// Event types published to agents.
const (
	EventInteractionUpdated = "interaction.updated"
	EventChannelUpdated     = "channel.updated"
	// EventTransferFailed: the ACD refused a transfer, conference or consult the agent asked
	// for; the agent keeps the chat.
	EventTransferFailed = "transfer.failed"
)

// TimelineEntry is one step of an interaction's history.
type TimelineEntry struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // acd_event, decision, crm_call, acd_call, mediabar_event, absorbed
	RoutingID string    `json:"routing_id,omitempty"`
	Detail    string    `json:"detail"`
	Code      string    `json:"code,omitempty"`
	LatencyMS int64     `json:"latency_ms,omitempty"`
}

// Timeline entry kinds.
const (
	TimelineACDEvent      = "acd_event"
	TimelineDecision      = "decision"
	TimelineCRMCall       = "crm_call"
	TimelineACDCall       = "acd_call"
	TimelineMediabarEvent = "mediabar_event"
	TimelineAbsorbed      = "absorbed"
)
