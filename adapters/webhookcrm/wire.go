package webhookcrm

// Wire types of the generic webhook CRM API (adapters/crmmock doc.go, "Generic webhook
// API") and their decoders. Everything that reads bytes from the CRM goes through decode,
// so one fuzz target covers every reply shape.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

type routeRequest struct {
	ChatID  string `json:"chat_id"`
	AgentID string `json:"agent_id"`
	QueueID string `json:"queue_id"`
	// RouteType is sent for second legs only (transfer, conference, consult), so a lead's
	// request is byte for byte what it was before route types existed.
	RouteType string `json:"route_type,omitempty"`
}

// wireRouteType is the route_type a route request carries: none for a lead.
func wireRouteType(rt bridge.RouteType) string {
	if rt == bridge.RouteLead {
		return ""
	}
	return string(rt)
}

type routeReply struct {
	Result                string      `json:"result"`
	ChatID                string      `json:"chat_id"`
	AgentID               string      `json:"agent_id"`
	EngagementState       string      `json:"engagement_state"`
	OfferExpiresInSeconds wireSeconds `json:"offer_expires_in_seconds"`
}

// responseRequest answers an offer for the agent (POST /chats/{chatId}/responses, under the
// Idempotency-Key).
type responseRequest struct {
	AgentID string `json:"agent_id"`
	Action  string `json:"action"` // accept, decline
}

// wireAction is the response action for an OfferResponse.
func wireAction(accept bool) string {
	if accept {
		return "accept"
	}
	return "decline"
}

type responseReply struct {
	Result          string `json:"result"`
	ChatID          string `json:"chat_id"`
	AgentID         string `json:"agent_id"`
	EngagementState string `json:"engagement_state"`
}

type chatReply struct {
	Result    string `json:"result"`
	ChatID    string `json:"chat_id"`
	State     string `json:"state"`
	EndReason string `json:"end_reason"`
	AgentID   string `json:"agent_id"`
	// Participants are the agents in the chat beside its owner (absent when none).
	Participants []wireParticipant `json:"participants"`
}

type wireParticipant struct {
	AgentID   string `json:"agent_id"`
	RouteType string `json:"route_type"`
	State     string `json:"state"`
}

type agentReply struct {
	Result              string      `json:"result"`
	AgentID             string      `json:"agent_id"`
	LoggedIn            bool        `json:"logged_in"`
	SessionID           string      `json:"session_id"`
	Presence            string      `json:"presence"`
	MissedIntervals     int         `json:"missed_intervals"`
	SecondsToDisconnect wireSeconds `json:"seconds_to_disconnect"`
	StatusType          string      `json:"status_type"`
	StatusName          string      `json:"status_name"`
	ActiveSessions      int         `json:"active_sessions"`
	MaxSessions         int         `json:"max_sessions"`
}

type eventsReply struct {
	Result  string      `json:"result"`
	Timeout bool        `json:"timeout"`
	LastSeq int64       `json:"last_seq"`
	Events  []wireEvent `json:"events"`
}

type wireEvent struct {
	Seq                 int64       `json:"seq"`
	Type                string      `json:"type"`
	ChatID              string      `json:"chat_id"`
	AgentID             string      `json:"agent_id"`
	Cause               string      `json:"cause"`
	EndReason           string      `json:"end_reason"`
	Presence            string      `json:"presence"`
	MissedIntervals     int         `json:"missed_intervals"`
	SecondsToDisconnect wireSeconds `json:"seconds_to_disconnect"`
	StatusType          string      `json:"status_type"`
	StatusName          string      `json:"status_name"`
	At                  time.Time   `json:"at"`
}

// errorReply is the body of a 4xx: {"error", "field", "reason"}.
type errorReply struct {
	Error  string `json:"error"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (r routeReply) result() string   { return r.Result }
func (r chatReply) result() string    { return r.Result }
func (r agentReply) result() string   { return r.Result }
func (r eventsReply) result() string  { return r.Result }
func (r waitingReply) result() string { return r.Result }

func (r responseReply) result() string { return r.Result }

type waitingReply struct {
	Result string        `json:"result"`
	Chats  []waitingChat `json:"chats"`
}

type waitingChat struct {
	ChatID         string      `json:"chat_id"`
	QueueID        string      `json:"queue_id"`
	CustomerName   string      `json:"customer_name"`
	WaitingSeconds wireSeconds `json:"waiting_seconds"`
}

// reply is any decoded 200 answer: all of them carry a result.
type reply interface{ result() string }

// decode reads one 200 body. Anything that is not a JSON object with a non-empty result is
// an ErrMalformedReply; decode never panics.
func decode[R reply](body []byte) (R, error) {
	var r, zero R
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return zero, fmt.Errorf("%w: body is not a JSON object", bridge.ErrMalformedReply)
	}
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return zero, fmt.Errorf("%w: %v", bridge.ErrMalformedReply, err)
	}
	if r.result() == "" {
		return zero, fmt.Errorf("%w: no result", bridge.ErrMalformedReply)
	}
	return r, nil
}

// decodeChat reads a chat answer and maps it to the core's type. A participant without an
// agent is ErrMalformedReply; route types and states come through verbatim (the core decides
// what they mean). No participants is a nil slice.
func decodeChat(body []byte) (bridge.Engagement, error) {
	r, err := decode[chatReply](body)
	if err != nil {
		return bridge.Engagement{}, err
	}
	eng := bridge.Engagement{Code: r.Result, ChatID: r.ChatID, State: r.State, EndReason: r.EndReason, AgentAccountID: r.AgentID}
	for i, p := range r.Participants {
		if p.AgentID == "" {
			return bridge.Engagement{}, fmt.Errorf("%w: participants[%d] has no agent_id", bridge.ErrMalformedReply, i)
		}
		eng.Participants = append(eng.Participants, bridge.Participant{
			AgentAccountID: p.AgentID,
			RouteType:      bridge.RouteType(p.RouteType),
			State:          p.State,
		})
	}
	return eng, nil
}

// decodeEvents reads an events answer and maps its events to the core's type. A timeout
// marker is an empty, non-nil slice.
func decodeEvents(body []byte) (eventsReply, []bridge.CRMEvent, error) {
	r, err := decode[eventsReply](body)
	if err != nil {
		return r, nil, err
	}
	events := make([]bridge.CRMEvent, 0, len(r.Events))
	if r.Timeout {
		return r, events, nil
	}
	for _, e := range r.Events {
		events = append(events, bridge.CRMEvent{
			Seq:                 e.Seq,
			Type:                e.Type,
			ChatID:              e.ChatID,
			AgentAccountID:      e.AgentID,
			Cause:               e.Cause,
			EndReason:           e.EndReason,
			Presence:            e.Presence,
			MissedIntervals:     e.MissedIntervals,
			SecondsToDisconnect: e.SecondsToDisconnect.int(),
			StatusType:          e.StatusType,
			StatusName:          e.StatusName,
			At:                  e.At,
		})
	}
	return r, events, nil
}

// describeError summarises a 4xx body for an error message (bounded; never the request).
func describeError(body []byte) string {
	var e errorReply
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return `"` + resilient.Quote(string(bytes.TrimSpace(body))) + `"`
	}
	out := e.Error
	if e.Field != "" {
		out += " (" + e.Field + ")"
	}
	if e.Reason != "" {
		out += ": " + e.Reason
	}
	return resilient.Quote(out)
}

// maxWireSeconds bounds any seconds value the CRM sends (about 31 years); beyond it the
// reply is garbage, and a time.Duration would overflow.
const maxWireSeconds = 1e9

// wireSeconds is a non-negative number of seconds; integers and fractions are accepted.
type wireSeconds float64

func (s *wireSeconds) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxWireSeconds {
		return fmt.Errorf("seconds %s out of range", b)
	}
	*s = wireSeconds(f)
	return nil
}

func (s wireSeconds) duration() time.Duration {
	return time.Duration(float64(s) * float64(time.Second))
}
func (s wireSeconds) int() int { return int(math.Round(float64(s))) }
