package oracle

// Wire types of the JSON routing API (ORACLE.md) and their decoders. Everything that reads
// bytes from the CRM goes through decode, so one fuzz target per reply shape covers it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

type authenticateRequest struct {
	UserName string `json:"userName"`
	Password string `json:"password"`
	AppID    string `json:"appId"`
}

type authenticateReply struct {
	ResultCode       string      `json:"resultCode"`
	SessionToken     string      `json:"sessionToken"`
	ExpiresInSeconds wireSeconds `json:"expiresInSeconds"`
}

type chatRoutedRequest struct {
	ChatID         string `json:"chatId"`
	AgentAccountID string `json:"agentAccountId"`
	QueueID        string `json:"queueId"`
	TransactionID  string `json:"transactionId"`
	// RouteType is sent for second legs only (transfer, conference, consult), so a lead's
	// request is byte for byte what it was before route types existed.
	RouteType string `json:"routeType,omitempty"`
}

// wireRouteType is the routeType a chatRouted request carries: none for a lead.
func wireRouteType(rt bridge.RouteType) string {
	if rt == bridge.RouteLead {
		return ""
	}
	return string(rt)
}

type routeReply struct {
	ResultCode            string      `json:"resultCode"`
	ChatID                string      `json:"chatId"`
	AgentAccountID        string      `json:"agentAccountId"`
	EngagementState       string      `json:"engagementState"`
	OfferExpiresInSeconds wireSeconds `json:"offerExpiresInSeconds"`
}

// respondRequest answers an offer for the agent (POST .../engagements/{chatId}/respond).
type respondRequest struct {
	AgentAccountID string `json:"agentAccountId"`
	Action         string `json:"action"` // accept, decline
	TransactionID  string `json:"transactionId"`
}

// Offer response actions on the wire.
const (
	actionAccept  = "accept"
	actionDecline = "decline"
)

// wireAction is the respond action for an OfferResponse.
func wireAction(accept bool) string {
	if accept {
		return actionAccept
	}
	return actionDecline
}

type respondReply struct {
	ResultCode      string `json:"resultCode"`
	ChatID          string `json:"chatId"`
	AgentAccountID  string `json:"agentAccountId"`
	EngagementState string `json:"engagementState"`
}

type engagementReply struct {
	ResultCode     string `json:"resultCode"`
	ChatID         string `json:"chatId"`
	State          string `json:"state"`
	EndReason      string `json:"endReason"`
	AgentAccountID string `json:"agentAccountId"`
	// Participants are the agents in the chat beside its owner (absent when none).
	Participants []wireParticipant `json:"participants"`
}

type wireParticipant struct {
	AgentAccountID string `json:"agentAccountId"`
	RouteType      string `json:"routeType"`
	State          string `json:"state"`
}

type agentSessionReply struct {
	ResultCode          string      `json:"resultCode"`
	LoggedIn            bool        `json:"loggedIn"`
	SessionID           string      `json:"sessionId"`
	Presence            string      `json:"presence"`
	MissedIntervals     int         `json:"missedIntervals"`
	SecondsToDisconnect wireSeconds `json:"secondsToDisconnect"`
	StatusType          string      `json:"statusType"`
	StatusName          string      `json:"statusName"`
	ActiveSessions      int         `json:"activeSessions"`
	MaxSessions         int         `json:"maxSessions"`
}

type waitingReply struct {
	ResultCode  string `json:"resultCode"`
	Engagements []struct {
		ChatID         string      `json:"chatId"`
		QueueID        string      `json:"queueId"`
		CustomerName   string      `json:"customerName"`
		WaitingSeconds wireSeconds `json:"waitingSeconds"`
	} `json:"engagements"`
}

type pollRequest struct {
	AfterSeq    int64   `json:"afterSeq"`
	WaitSeconds float64 `json:"waitSeconds"` // whole seconds unless PollWait has a fraction
}

type pollReply struct {
	ResultCode string      `json:"resultCode"`
	Timeout    bool        `json:"timeout"`
	LastSeq    int64       `json:"lastSeq"`
	Events     []wireEvent `json:"events"`
}

type wireEvent struct {
	Seq                 int64       `json:"seq"`
	Type                string      `json:"type"`
	ChatID              string      `json:"chatId"`
	AgentAccountID      string      `json:"agentAccountId"`
	Cause               string      `json:"cause"`
	EndReason           string      `json:"endReason"`
	Presence            string      `json:"presence"`
	MissedIntervals     int         `json:"missedIntervals"`
	SecondsToDisconnect wireSeconds `json:"secondsToDisconnect"`
	StatusType          string      `json:"statusType"`
	StatusName          string      `json:"statusName"`
	At                  wireTime    `json:"at"`
}

func (r authenticateReply) code() string { return r.ResultCode }
func (r routeReply) code() string        { return r.ResultCode }
func (r respondReply) code() string      { return r.ResultCode }
func (r engagementReply) code() string   { return r.ResultCode }
func (r agentSessionReply) code() string { return r.ResultCode }
func (r waitingReply) code() string      { return r.ResultCode }
func (r pollReply) code() string         { return r.ResultCode }

// reply is any decoded answer: all of them carry a resultCode.
type reply interface{ code() string }

// decode reads one 200 body. Anything that is not a JSON object with a non-empty resultCode
// is an ErrMalformedReply; decode never panics.
func decode[R reply](body []byte) (R, error) {
	var r, zero R
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return zero, fmt.Errorf("%w: body is not a JSON object", bridge.ErrMalformedReply)
	}
	if err := json.Unmarshal(trimmed, &r); err != nil {
		return zero, fmt.Errorf("%w: %v", bridge.ErrMalformedReply, err)
	}
	if r.code() == "" {
		return zero, fmt.Errorf("%w: no resultCode", bridge.ErrMalformedReply)
	}
	return r, nil
}

// decodeRouteReply reads a chatRouted answer.
func decodeRouteReply(body []byte) (routeReply, error) { return decode[routeReply](body) }

// decodeRespondReply reads a respond answer: a JSON object with a non-empty resultCode and
// string fields, like every answer (the code is verbatim; the core decides).
func decodeRespondReply(body []byte) (respondReply, error) { return decode[respondReply](body) }

// decodeEngagementReply reads an engagement answer. A participant without an agent is
// ErrMalformedReply; route types and states come through verbatim (the core decides what
// they mean).
func decodeEngagementReply(body []byte) (engagementReply, error) {
	r, err := decode[engagementReply](body)
	if err != nil {
		return r, err
	}
	for i, p := range r.Participants {
		if p.AgentAccountID == "" {
			return engagementReply{}, fmt.Errorf("%w: participants[%d] has no agentAccountId", bridge.ErrMalformedReply, i)
		}
	}
	return r, nil
}

// engagement maps the answer to the core's type; no participants is a nil slice.
func (r engagementReply) engagement() bridge.Engagement {
	eng := bridge.Engagement{
		Code:           r.ResultCode,
		ChatID:         r.ChatID,
		State:          r.State,
		EndReason:      r.EndReason,
		AgentAccountID: r.AgentAccountID,
	}
	for _, p := range r.Participants {
		eng.Participants = append(eng.Participants, bridge.Participant{
			AgentAccountID: p.AgentAccountID,
			RouteType:      bridge.RouteType(p.RouteType),
			State:          p.State,
		})
	}
	return eng
}

// decodeEvents reads a long-poll answer and maps its events to the core's type. A timeout
// marker is an empty, non-nil slice.
func decodeEvents(body []byte) (pollReply, []bridge.CRMEvent, error) {
	r, err := decode[pollReply](body)
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
			AgentAccountID:      e.AgentAccountID,
			Cause:               e.Cause,
			EndReason:           e.EndReason,
			Presence:            e.Presence,
			MissedIntervals:     e.MissedIntervals,
			SecondsToDisconnect: e.SecondsToDisconnect.int(),
			StatusType:          e.StatusType,
			StatusName:          e.StatusName,
			At:                  time.Time(e.At),
		})
	}
	return r, events, nil
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

// wireTime accepts an RFC 3339 string or a Unix time in milliseconds; null or "" is zero.
type wireTime time.Time

func (t *wireTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			return nil
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		*t = wireTime(v)
		return nil
	}
	ms, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || ms < 0 || ms > 1e15 {
		return fmt.Errorf("time %s is neither RFC 3339 nor Unix milliseconds", b)
	}
	*t = wireTime(time.UnixMilli(ms).UTC())
	return nil
}
