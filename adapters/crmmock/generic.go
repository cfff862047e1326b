package crmmock

import (
	"crypto/subtle"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The generic webhook CRM facade: a second wire protocol over the same world (see doc.go,
// "Generic webhook API"). It is deliberately not Oracle-shaped: a static bearer API key
// instead of a session login, snake_case JSON, an Idempotency-Key header instead of a
// transactionId, real HTTP statuses for protocol problems (401, 400) and the CRM's verdict
// as "result" in a 200. Every verdict comes from the same evaluation as the routing API
// (api.go), so the two facades can never disagree.

// Result-code field names of the two facades, for faulted answers.
const (
	oracleCodeField  = "resultCode"
	genericCodeField = "result"
)

// HeaderIdempotencyKey carries the route call's idempotency key on the generic facade.
const HeaderIdempotencyKey = "Idempotency-Key"

// maxIdempotencyKey bounds an Idempotency-Key (the size payment APIs allow).
const maxIdempotencyKey = 255

type genericRouteRequest struct {
	ChatID  string `json:"chat_id"`
	AgentID string `json:"agent_id"`
	QueueID string `json:"queue_id"`
	// RouteType is lead (also when empty), transfer, conference or consult.
	RouteType string `json:"route_type,omitempty"`
}

type genericRouteResponse struct {
	Result                string `json:"result"`
	ChatID                string `json:"chat_id,omitempty"`
	AgentID               string `json:"agent_id,omitempty"`
	EngagementState       string `json:"engagement_state,omitempty"`
	OfferExpiresInSeconds int    `json:"offer_expires_in_seconds,omitempty"`
}

type genericResponseRequest struct {
	AgentID string `json:"agent_id"`
	// Action is accept or decline (none is MISSING_PARAMETERS).
	Action string `json:"action"`
}

type genericResponseResponse struct {
	Result          string `json:"result"`
	ChatID          string `json:"chat_id,omitempty"`
	AgentID         string `json:"agent_id,omitempty"`
	EngagementState string `json:"engagement_state,omitempty"`
}

type genericChatResponse struct {
	Result       string               `json:"result"`
	ChatID       string               `json:"chat_id,omitempty"`
	State        string               `json:"state,omitempty"`
	EndReason    string               `json:"end_reason,omitempty"`
	AgentID      string               `json:"agent_id,omitempty"`
	Participants []genericParticipant `json:"participants,omitempty"`
}

type genericParticipant struct {
	AgentID   string `json:"agent_id"`
	RouteType string `json:"route_type"`
	State     string `json:"state"`
}

type genericAgentResponse struct {
	Result              string `json:"result"`
	AgentID             string `json:"agent_id,omitempty"`
	LoggedIn            bool   `json:"logged_in"`
	SessionID           string `json:"session_id,omitempty"`
	Presence            string `json:"presence,omitempty"`
	MissedIntervals     int    `json:"missed_intervals"`
	SecondsToDisconnect int    `json:"seconds_to_disconnect"`
	StatusType          string `json:"status_type,omitempty"`
	StatusName          string `json:"status_name,omitempty"`
	ActiveSessions      int    `json:"active_sessions"`
	MaxSessions         int    `json:"max_sessions"`
}

type genericWaitingResponse struct {
	Result string               `json:"result"`
	Chats  []genericWaitingChat `json:"chats"`
}

type genericWaitingChat struct {
	ChatID         string `json:"chat_id"`
	QueueID        string `json:"queue_id"`
	CustomerName   string `json:"customer_name"`
	WaitingSeconds int    `json:"waiting_seconds"`
}

type genericEventsResponse struct {
	Result  string         `json:"result"`
	Timeout bool           `json:"timeout"`
	LastSeq int64          `json:"last_seq"`
	Events  []genericEvent `json:"events"`
}

type genericEvent struct {
	Seq                 int64     `json:"seq"`
	Type                string    `json:"type"`
	ChatID              string    `json:"chat_id,omitempty"`
	AgentID             string    `json:"agent_id,omitempty"`
	Cause               string    `json:"cause,omitempty"`
	EndReason           string    `json:"end_reason,omitempty"`
	Presence            string    `json:"presence,omitempty"`
	MissedIntervals     int       `json:"missed_intervals,omitempty"`
	SecondsToDisconnect int       `json:"seconds_to_disconnect,omitempty"`
	StatusType          string    `json:"status_type,omitempty"`
	StatusName          string    `json:"status_name,omitempty"`
	At                  time.Time `json:"at"`
}

// eventsQuery is the events call's query: ?after=N&wait=S.
type eventsQuery struct {
	After int64
	Wait  *float64 // seconds; nil: the server's MaxPollWait
}

// apiError is a generic-facade refusal that is not a CRM verdict: an HTTP status with
// {"error", "field", "reason"}.
type apiError struct {
	Status int
	Code   string // unauthorized, invalid_request
	Field  string // the body field, query parameter or header at fault
	Reason string
}

func (e *apiError) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Reason
	}
	return e.Code + ": " + e.Field + ": " + e.Reason
}

type apiErrorBody struct {
	Error  string `json:"error"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func invalidRequest(field, reason string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Reason: reason}
}

// asInvalidRequest turns a body that cannot be read into a 400 naming the field.
func asInvalidRequest(err error) error {
	var re *requestError
	if errors.As(err, &re) {
		return invalidRequest(re.Field, re.Message)
	}
	return err
}

// decodeGenericRoute reads the route body. Unknown fields are refused (a camelCase
// "chatId" is a client speaking the other facade, not a body to route with empty fields);
// missing fields are the CRM's verdict (MISSING_PARAMETERS), not a protocol error. An
// unknown route_type is refused too (lead, transfer, conference, consult or none).
func decodeGenericRoute(data []byte) (genericRouteRequest, error) {
	var req genericRouteRequest
	if err := decodeJSON(data, &req, true); err != nil {
		return req, asInvalidRequest(err)
	}
	if !validRouteType(req.RouteType) {
		return req, invalidRequest("route_type", routeTypeMessage(req.RouteType))
	}
	return req, nil
}

// decodeGenericResponse reads an offer response body: strict like a route's (unknown fields
// refused), and an action other than accept or decline (or none, MISSING_PARAMETERS) is
// refused too.
func decodeGenericResponse(data []byte) (genericResponseRequest, error) {
	var req genericResponseRequest
	if err := decodeJSON(data, &req, true); err != nil {
		return req, asInvalidRequest(err)
	}
	if !validRespondAction(req.Action) {
		return req, invalidRequest("action", respondActionMessage(req.Action))
	}
	return req, nil
}

// decodeIdempotencyKey checks a route's or an offer response's Idempotency-Key: required, at
// most 255 printable ASCII characters.
func decodeIdempotencyKey(h http.Header) (string, error) {
	key := h.Get(HeaderIdempotencyKey)
	switch {
	case key == "":
		return "", invalidRequest(HeaderIdempotencyKey, "required: the call is idempotent by key")
	case len(key) > maxIdempotencyKey:
		return "", invalidRequest(HeaderIdempotencyKey, "longer than "+strconv.Itoa(maxIdempotencyKey)+" characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", invalidRequest(HeaderIdempotencyKey, "only printable ASCII without spaces")
		}
	}
	return key, nil
}

// decodeEventsQuery reads ?after=N&wait=S: after a non-negative integer (default 0), wait
// non-negative seconds (default: the server's maximum).
func decodeEventsQuery(after, wait string) (eventsQuery, error) {
	var q eventsQuery
	if after != "" {
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil || n < 0 {
			return q, invalidRequest("after", "want a non-negative integer event sequence number")
		}
		q.After = n
	}
	if wait != "" {
		f, err := strconv.ParseFloat(wait, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return q, invalidRequest("wait", "want a non-negative number of seconds")
		}
		q.Wait = &f
	}
	return q, nil
}

// authorize checks the bearer API key (constant time: the key is a secret).
func (s *Server) authorize(r *http.Request) error {
	const scheme = "bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization", Reason: "want Authorization: Bearer <api key>"}
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(scheme):])), []byte(s.opts.APIKey)) != 1 {
		return &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Field: "Authorization", Reason: "unknown API key"}
	}
	return nil
}

func genericRoute(r chatRoutedResponse) genericRouteResponse {
	return genericRouteResponse{
		Result:                r.ResultCode,
		ChatID:                r.ChatID,
		AgentID:               r.AgentAccountID,
		EngagementState:       r.EngagementState,
		OfferExpiresInSeconds: r.OfferExpiresInSeconds,
	}
}

func genericResponse(r respondResponse) genericResponseResponse {
	return genericResponseResponse{Result: r.ResultCode, ChatID: r.ChatID, AgentID: r.AgentAccountID, EngagementState: r.EngagementState}
}

func genericChat(r engagementResponse) genericChatResponse {
	out := genericChatResponse{Result: r.ResultCode, ChatID: r.ChatID, State: r.State, EndReason: r.EndReason, AgentID: r.AgentAccountID}
	for _, p := range r.Participants {
		out.Participants = append(out.Participants, genericParticipant{AgentID: p.AgentAccountID, RouteType: p.RouteType, State: p.State})
	}
	return out
}

func genericAgent(accountID string, r agentSessionResponse) genericAgentResponse {
	return genericAgentResponse{
		Result:              r.ResultCode,
		AgentID:             accountID,
		LoggedIn:            r.LoggedIn,
		SessionID:           r.SessionID,
		Presence:            r.Presence,
		MissedIntervals:     r.MissedIntervals,
		SecondsToDisconnect: r.SecondsToDisconnect,
		StatusType:          r.StatusType,
		StatusName:          r.StatusName,
		ActiveSessions:      r.ActiveSessions,
		MaxSessions:         r.MaxSessions,
	}
}

func genericWaiting(r waitingResponse) genericWaitingResponse {
	out := genericWaitingResponse{Result: r.ResultCode, Chats: make([]genericWaitingChat, 0, len(r.Engagements))}
	for _, e := range r.Engagements {
		out.Chats = append(out.Chats, genericWaitingChat(e))
	}
	return out
}

func genericEvents(r pollResponse) genericEventsResponse {
	out := genericEventsResponse{Result: r.ResultCode, Timeout: r.Timeout, LastSeq: r.LastSeq, Events: make([]genericEvent, 0, len(r.Events))}
	for _, e := range r.Events {
		out.Events = append(out.Events, genericEvent{
			Seq:                 e.Seq,
			Type:                e.Type,
			ChatID:              e.ChatID,
			AgentID:             e.AgentAccountID,
			Cause:               e.Cause,
			EndReason:           e.EndReason,
			Presence:            e.Presence,
			MissedIntervals:     e.MissedIntervals,
			SecondsToDisconnect: e.SecondsToDisconnect,
			StatusType:          e.StatusType,
			StatusName:          e.StatusName,
			At:                  e.At,
		})
	}
	return out
}
