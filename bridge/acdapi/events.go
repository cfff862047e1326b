package acdapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event types the ACD sends.
const (
	TypeRouted       = "interaction.routed"
	TypeRevoked      = "interaction.revoked"
	TypeAbandoned    = "interaction.abandoned"
	TypeAgentChanged = "agent.state_changed"
)

// Envelope is the webhook body: {"type", "timestamp", "data": {...}}.
type Envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Routed is the data of interaction.routed: the ACD chose agent AgentID for the chat.
type Routed struct {
	InteractionID string `json:"interactionId"`
	// RoutingID identifies this routing of the interaction (a requeue or transfer gets a new
	// one). Optional: when absent, the agent id is used, so a second routing of the same
	// interaction to the same agent must carry a routingId to be told apart from a duplicate.
	RoutingID string `json:"routingId,omitempty"`
	ChatID    string `json:"chatId"`
	Site      string `json:"site"`
	QueueID   string `json:"queueId"`
	QueueName string `json:"queueName,omitempty"`
	AgentID   string `json:"agentId"`
	// CRMAccountID optionally names the agent's CRM account; the logged-in session's binding
	// is used when absent.
	CRMAccountID string `json:"crmAccountId,omitempty"`
	RouteType    string `json:"routeType"` // lead | transfer | conference | consult
	// FromRoutingID names the routing (leg) that asked for this transfer, conference or
	// consult. Optional; the bridge then takes the interaction's newest active leg.
	FromRoutingID string `json:"fromRoutingId,omitempty"`
}

// Revoked is the data of interaction.revoked: the ACD took the offer back.
type Revoked struct {
	InteractionID string `json:"interactionId"`
	RoutingID     string `json:"routingId,omitempty"`
	AgentID       string `json:"agentId"`
	Reason        string `json:"reason,omitempty"`
}

// Abandoned is the data of interaction.abandoned: the customer left.
type Abandoned struct {
	InteractionID string `json:"interactionId"`
	RoutingID     string `json:"routingId,omitempty"`
	AgentID       string `json:"agentId,omitempty"`
	Stage         string `json:"stage"` // queued | routing | alerting
}

// AgentStateChanged is the data of agent.state_changed.
type AgentStateChanged struct {
	AgentID string `json:"agentId"`
	State   string `json:"state"` // ready | not_ready
	Reason  string `json:"reason,omitempty"`
}

// Abandon stages.
const (
	StageQueued   = "queued"
	StageRouting  = "routing"
	StageAlerting = "alerting"
)

// Event is one parsed webhook: exactly one of the data pointers is set, per Type.
type Event struct {
	Type         string
	Timestamp    time.Time
	Routed       *Routed
	Revoked      *Revoked
	Abandoned    *Abandoned
	AgentChanged *AgentStateChanged
}

// ErrMalformed (400) and ErrInvalid (422) classify a *FieldError.
var (
	ErrMalformed = errors.New("malformed webhook body")
	ErrInvalid   = errors.New("semantically invalid webhook")
)

// FieldError names the field at fault. Kind is ErrMalformed or ErrInvalid.
type FieldError struct {
	Kind   error
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }
func (e *FieldError) Unwrap() error { return e.Kind }

func malformed(field, reason string) error {
	return &FieldError{Kind: ErrMalformed, Field: field, Reason: reason}
}

func invalid(field, reason string) error {
	return &FieldError{Kind: ErrInvalid, Field: field, Reason: reason}
}

// Parse decodes and checks a webhook body. Unknown fields are rejected so a sender's typo is
// caught rather than silently ignored; every error is a *FieldError.
func Parse(body []byte) (Event, error) {
	var env Envelope
	if err := strictDecode(body, &env); err != nil {
		if badTime(err) { // time.Time's own decoder names no field; the envelope has one time
			return Event{}, malformed("timestamp", "want an RFC 3339 time, e.g. 2026-11-21T10:00:00Z")
		}
		return Event{}, malformed(fieldOf(err, ""), reasonOf(err))
	}
	if env.Type == "" {
		return Event{}, malformed("type", "required")
	}
	if env.Timestamp.IsZero() {
		return Event{}, malformed("timestamp", "required (RFC 3339)")
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return Event{}, malformed("data", "required")
	}
	ev := Event{Type: env.Type, Timestamp: env.Timestamp}
	var err error
	switch env.Type {
	case TypeRouted:
		ev.Routed = &Routed{}
		err = decodeData(env.Data, ev.Routed)
		if err == nil {
			err = ev.Routed.check()
		}
	case TypeRevoked:
		ev.Revoked = &Revoked{}
		err = decodeData(env.Data, ev.Revoked)
		if err == nil {
			err = required(field{"data.interactionId", ev.Revoked.InteractionID}, field{"data.agentId", ev.Revoked.AgentID})
		}
		if err == nil {
			err = optional(field{"data.routingId", ev.Revoked.RoutingID}, field{"data.reason", ev.Revoked.Reason})
		}
	case TypeAbandoned:
		ev.Abandoned = &Abandoned{}
		err = decodeData(env.Data, ev.Abandoned)
		if err == nil {
			err = ev.Abandoned.check()
		}
	case TypeAgentChanged:
		ev.AgentChanged = &AgentStateChanged{}
		err = decodeData(env.Data, ev.AgentChanged)
		if err == nil {
			err = ev.AgentChanged.check()
		}
	default:
		return Event{}, invalid("type", fmt.Sprintf("unknown event type %q (want %s, %s, %s or %s)", env.Type, TypeRouted, TypeRevoked, TypeAbandoned, TypeAgentChanged))
	}
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

func (r *Routed) check() error {
	if err := required(
		field{"data.interactionId", r.InteractionID}, field{"data.chatId", r.ChatID},
		field{"data.site", r.Site}, field{"data.queueId", r.QueueID},
		field{"data.agentId", r.AgentID}, field{"data.routeType", r.RouteType},
	); err != nil {
		return err
	}
	if err := optional(field{"data.routingId", r.RoutingID}, field{"data.queueName", r.QueueName},
		field{"data.crmAccountId", r.CRMAccountID}, field{"data.fromRoutingId", r.FromRoutingID}); err != nil {
		return err
	}
	switch r.RouteType {
	case "lead", "transfer", "conference", "consult":
	default:
		return invalid("data.routeType", fmt.Sprintf("%q is not one of lead, transfer, conference, consult", r.RouteType))
	}
	if r.RouteType == "lead" && r.FromRoutingID != "" {
		return invalid("data.fromRoutingId", "only a transfer, conference or consult comes from another leg")
	}
	return nil
}

func (a *Abandoned) check() error {
	if err := required(field{"data.interactionId", a.InteractionID}, field{"data.stage", a.Stage}); err != nil {
		return err
	}
	if err := optional(field{"data.routingId", a.RoutingID}, field{"data.agentId", a.AgentID}); err != nil {
		return err
	}
	switch a.Stage {
	case StageQueued, StageRouting, StageAlerting:
	default:
		return invalid("data.stage", fmt.Sprintf("%q is not one of queued, routing, alerting", a.Stage))
	}
	if a.Stage != StageQueued && a.AgentID == "" {
		return invalid("data.agentId", "required when stage is routing or alerting")
	}
	return nil
}

func (a *AgentStateChanged) check() error {
	if err := required(field{"data.agentId", a.AgentID}, field{"data.state", a.State}); err != nil {
		return err
	}
	if err := optional(field{"data.reason", a.Reason}); err != nil {
		return err
	}
	if a.State != "ready" && a.State != "not_ready" {
		return invalid("data.state", fmt.Sprintf("%q is not one of ready, not_ready", a.State))
	}
	return nil
}

type field struct{ name, value string }

// maxIDLen bounds identifiers: they become Redis keys and log fields.
const maxIDLen = 128

func required(fields ...field) error {
	for _, f := range fields {
		if f.value == "" {
			return malformed(f.name, "required")
		}
	}
	return optional(fields...)
}

// optional checks the fields that are present: bounded, no control characters.
func optional(fields ...field) error {
	for _, f := range fields {
		if len(f.value) > maxIDLen {
			return invalid(f.name, fmt.Sprintf("longer than %d bytes", maxIDLen))
		}
		for _, r := range f.value {
			if r < 0x20 || r == 0x7f {
				return invalid(f.name, "contains control characters")
			}
		}
	}
	return nil
}

func decodeData(raw json.RawMessage, v any) error {
	if err := strictDecode(raw, v); err != nil {
		return malformed(fieldOf(err, "data"), reasonOf(err))
	}
	return nil
}

// badTime reports a time.Time decoding failure.
func badTime(err error) bool {
	var pe *time.ParseError
	return errors.As(err, &pe) || strings.HasPrefix(err.Error(), "Time.UnmarshalJSON")
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// fieldOf names the field a decode error is about, prefixed with the enclosing object.
func fieldOf(err error, prefix string) string {
	var te *json.UnmarshalTypeError
	name := ""
	if errors.As(err, &te) && te.Field != "" {
		name = te.Field
	}
	if name == "" {
		if f, ok := unknownField(err); ok {
			name = f
		}
	}
	switch {
	case name == "" && prefix == "":
		return "body"
	case name == "":
		return prefix
	case prefix == "":
		return name
	}
	return prefix + "." + name
}

func unknownField(err error) (string, bool) {
	const marker = "json: unknown field "
	msg := err.Error()
	if len(msg) > len(marker) && msg[:len(marker)] == marker {
		return trimQuotes(msg[len(marker):]), true
	}
	return "", false
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

func reasonOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if _, ok := unknownField(err); ok {
		return "unknown field"
	}
	return err.Error()
}

// Build marshals an event envelope (for the ACD simulator and tests).
func Build(eventType string, ts time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Envelope{Type: eventType, Timestamp: ts.UTC(), Data: raw})
}
