package crmmock

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"math"
	"slices"
	"time"
)

// This file is the routing API's behaviour: what the mock answers, given the world. The
// HTTP side (decoding, faults, long-poll waiting) is in api_handlers.go. Each operation is
// split in two: the gate (session token and site, Oracle-shaped) and the evaluation on an
// admitted site (the ...OfLocked functions), which the generic webhook facade
// (generic.go) shares, so both facades answer from one world by one set of rules.

type authenticateRequest struct {
	Site     string `json:"site,omitempty"` // used only when the path has no site
	UserName string `json:"userName"`
	Password string `json:"password"`
	AppID    string `json:"appId"`
}

type authenticateResponse struct {
	ResultCode       string `json:"resultCode"`
	SessionToken     string `json:"sessionToken,omitempty"`
	ExpiresInSeconds int    `json:"expiresInSeconds,omitempty"`
}

type chatRoutedRequest struct {
	Site           string `json:"site,omitempty"` // used only when the path has no site
	ChatID         string `json:"chatId"`
	AgentAccountID string `json:"agentAccountId"`
	QueueID        string `json:"queueId"`
	TransactionID  string `json:"transactionId"`
	// RouteType is lead (also when empty), transfer, conference or consult; the decoder
	// refuses any other value.
	RouteType string `json:"routeType,omitempty"`
}

type chatRoutedResponse struct {
	ResultCode            string `json:"resultCode"`
	ChatID                string `json:"chatId,omitempty"`
	AgentAccountID        string `json:"agentAccountId,omitempty"`
	EngagementState       string `json:"engagementState,omitempty"`
	OfferExpiresInSeconds int    `json:"offerExpiresInSeconds,omitempty"`
}

type engagementResponse struct {
	ResultCode     string `json:"resultCode"`
	ChatID         string `json:"chatId,omitempty"`
	State          string `json:"state,omitempty"`
	EndReason      string `json:"endReason,omitempty"`
	AgentAccountID string `json:"agentAccountId,omitempty"`
	// Participants are the agents in the chat beside its owner (omitted when none).
	Participants []participantElement `json:"participants,omitempty"`
}

// participantElement is one participant of an engagement: OFFERED or ACTIVE while the chat
// lasts, CONCLUDED once it ended.
type participantElement struct {
	AgentAccountID string `json:"agentAccountId"`
	RouteType      string `json:"routeType"`
	State          string `json:"state"`
}

type agentSessionResponse struct {
	ResultCode          string `json:"resultCode"`
	LoggedIn            bool   `json:"loggedIn"`
	SessionID           string `json:"sessionId,omitempty"`
	Presence            string `json:"presence,omitempty"`
	MissedIntervals     int    `json:"missedIntervals"`
	SecondsToDisconnect int    `json:"secondsToDisconnect"`
	StatusType          string `json:"statusType,omitempty"`
	StatusName          string `json:"statusName,omitempty"`
	ActiveSessions      int    `json:"activeSessions"`
	MaxSessions         int    `json:"maxSessions"`
}

type waitingResponse struct {
	ResultCode  string           `json:"resultCode"`
	Engagements []waitingElement `json:"engagements"`
}

type waitingElement struct {
	ChatID         string `json:"chatId"`
	QueueID        string `json:"queueId"`
	CustomerName   string `json:"customerName"`
	WaitingSeconds int    `json:"waitingSeconds"`
}

type pollRequest struct {
	Site        string   `json:"site,omitempty"` // used only when the path has no site
	AfterSeq    int64    `json:"afterSeq"`
	WaitSeconds *float64 `json:"waitSeconds,omitempty"`
}

type pollResponse struct {
	ResultCode string  `json:"resultCode"`
	Timeout    bool    `json:"timeout"`
	LastSeq    int64   `json:"lastSeq"`
	Events     []Event `json:"events"`
}

// Event is one entry of a site's event feed, as served by events/poll. Fields that do not
// apply to the event type are omitted.
type Event struct {
	Seq                 int64     `json:"seq"`
	Type                string    `json:"type"`
	ChatID              string    `json:"chatId,omitempty"`
	AgentAccountID      string    `json:"agentAccountId,omitempty"`
	Cause               string    `json:"cause,omitempty"`
	EndReason           string    `json:"endReason,omitempty"`
	Presence            string    `json:"presence,omitempty"`
	MissedIntervals     int       `json:"missedIntervals,omitempty"`
	SecondsToDisconnect int       `json:"secondsToDisconnect,omitempty"`
	StatusType          string    `json:"statusType,omitempty"`
	StatusName          string    `json:"statusName,omitempty"`
	At                  time.Time `json:"at"`
}

func (s *Server) authenticateLocked(siteName string, req authenticateRequest, now time.Time) authenticateResponse {
	switch {
	case siteName == "":
		return authenticateResponse{ResultCode: CodeMissingSiteName}
	case s.w.sites[siteName] == nil:
		return authenticateResponse{ResultCode: CodeUnknownSite}
	case req.UserName == "" || req.Password == "":
		return authenticateResponse{ResultCode: CodeMissingParameters}
	}
	want, ok := s.users[req.UserName]
	if !ok || want != req.Password {
		return authenticateResponse{ResultCode: CodeAuthenticationFailed}
	}
	token := newToken()
	s.w.tokens[token] = sessionToken{site: siteName, expires: now.Add(s.opts.TokenTTL)}
	return authenticateResponse{
		ResultCode:       CodeSuccess,
		SessionToken:     token,
		ExpiresInSeconds: int(s.opts.TokenTTL / time.Second),
	}
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// gateLocked runs the checks every call except authenticate starts with, in the real
// server's order: token → AUTHENTICATION_FAILED, site empty → MISSING_SITE_NAME, site
// unknown → UNKNOWN_SITE. A token is valid for the site that issued it only; a valid token
// presented to another known site is AUTHENTICATION_FAILED too, decided after the site
// checks (the real sites are separate servers, so a request for a missing or unknown site
// never gets as far as comparing tokens).
func (s *Server) gateLocked(token, siteName string, now time.Time) (*site, string) {
	tok, ok := s.w.tokens[token]
	if !ok || !now.Before(tok.expires) {
		return nil, CodeAuthenticationFailed
	}
	st, code := s.siteGateLocked(siteName)
	if code != "" {
		return nil, code
	}
	if tok.site != siteName {
		return nil, CodeAuthenticationFailed
	}
	return st, ""
}

// siteGateLocked is the site half of the gate: empty → MISSING_SITE_NAME, unknown →
// UNKNOWN_SITE.
func (s *Server) siteGateLocked(siteName string) (*site, string) {
	if siteName == "" {
		return nil, CodeMissingSiteName
	}
	st := s.w.sites[siteName]
	if st == nil {
		return nil, CodeUnknownSite
	}
	return st, ""
}

// chatRoutedLocked answers chatRouted, replaying the first answer for a known transactionId.
func (s *Server) chatRoutedLocked(token, siteName string, req chatRoutedRequest, now time.Time) chatRoutedResponse {
	st, code := s.gateLocked(token, siteName, now)
	return s.idempotentRouteLocked(st, code, req.TransactionID, req, now)
}

// idempotentRouteLocked answers a route request under an idempotency key (chatRouted's
// transactionId, the generic facade's Idempotency-Key; one namespace per site, as one CRM
// keeps one): a known key replays the first answer; otherwise the request is evaluated and
// counted in RouteEvaluations. st is nil and gateCode set when the gate refused the
// request.
func (s *Server) idempotentRouteLocked(st *site, gateCode, key string, req chatRoutedRequest, now time.Time) chatRoutedResponse {
	if st != nil && key != "" {
		if first, ok := st.routes[key]; ok {
			return first
		}
	}
	if key != "" {
		s.w.routeEvals[key]++
	}
	if gateCode != "" {
		// Not remembered: the request was not admitted, so a later admitted retry with the
		// same key is evaluated afresh.
		return chatRoutedResponse{ResultCode: gateCode, ChatID: req.ChatID, AgentAccountID: req.AgentAccountID}
	}
	resp := s.routeLocked(st, req, now)
	if key != "" {
		st.routes[key] = resp
	}
	return resp
}

// routeLocked evaluates an admitted chatRouted request: the checks after the gate, in the
// real server's order; the first that fails decides the code. The route type changes only
// the chat-state step: a lead needs a WAITING chat; a transfer, conference or consult needs
// an ACTIVE chat with an owner that the target is not in yet (neither owner nor
// participant). Every other check applies to the target as to a lead's agent.
func (s *Server) routeLocked(st *site, req chatRoutedRequest, now time.Time) chatRoutedResponse {
	resp := chatRoutedResponse{ChatID: req.ChatID, AgentAccountID: req.AgentAccountID}
	fail := func(code string) chatRoutedResponse {
		resp.ResultCode = code
		return resp
	}
	if req.ChatID == "" || req.AgentAccountID == "" || req.QueueID == "" {
		return fail(CodeMissingParameters)
	}
	c := st.chats[req.ChatID]
	if c == nil {
		return fail(CodeChatIDUnknown)
	}
	if c.state == StateConcluded {
		if c.byCustomer {
			return fail(CodeEndUserAbandonedEngagement)
		}
		return fail(CodeChatIDUnknown)
	}
	if q := st.queues[req.QueueID]; q == nil || !q.External {
		return fail(CodeInvalidDestQueue)
	}
	a := st.agents[req.AgentAccountID]
	if a == nil {
		return fail(CodeAgentIDUnknown)
	}
	if !a.hasQueue(req.QueueID) {
		return fail(CodeInvalidDestAgent)
	}
	switch a.presence() {
	case "":
		return fail(CodeInvalidAgentSession)
	case PresenceAbsent:
		return fail(CodeAgentAbsent)
	case PresenceDisconnected:
		return fail(CodeAgentDisconnected)
	}
	if !st.statuses[a.statusName] {
		return fail(CodeAgentNotActive)
	}
	lead := req.RouteType == "" || req.RouteType == RouteLead
	switch {
	case lead && c.state != StateWaiting:
		return fail(CodeCouldNotReserveEngagement)
	case !lead && (c.state != StateActive || c.agentID == "" || c.hasAgent(a.AccountID)):
		return fail(CodeCouldNotReserveEngagement)
	}
	if st.activeSessions(a.AccountID) >= a.MaxSessions {
		return fail(CodeCouldNotAssignEngagement)
	}
	if !lead {
		return s.offerParticipantLocked(st, c, a, req, now)
	}

	c.queueID = req.QueueID // routing through another external queue moves the chat there
	c.agentID = a.AccountID
	c.state = StateOffered
	c.offerExpires = now.Add(s.opts.OfferTimeout)
	s.scheduleChatLocked(c)
	st.reindexChat(c)
	s.emitLocked(st, chatEvent(EventEngagementOffered, c, now))
	if a.AutoAccept {
		c.state = StateActive
		c.offerExpires = time.Time{}
		s.scheduleChatLocked(c)
		st.reindexChat(c)
		s.emitLocked(st, chatEvent(EventEngagementAccepted, c, now))
		resp.ResultCode, resp.EngagementState = CodeSuccess, StateActive
		return resp
	}
	resp.ResultCode, resp.EngagementState = CodeSuccess, StateOffered
	resp.OfferExpiresInSeconds = int(math.Ceil(s.opts.OfferTimeout.Seconds()))
	return resp
}

// offerParticipantLocked adds a transfer, conference or consult target to an ACTIVE chat:
// OFFERED with its own offer timer (EngagementOffered for the target) or, with auto-accept,
// accepted at once (see acceptParticipantLocked).
func (s *Server) offerParticipantLocked(st *site, c *chat, a *agent, req chatRoutedRequest, now time.Time) chatRoutedResponse {
	p := &participant{
		agentID:      a.AccountID,
		routeType:    req.RouteType,
		queueID:      req.QueueID,
		state:        StateOffered,
		offerExpires: now.Add(s.opts.OfferTimeout),
	}
	s.w.nextParticipant++
	p.offerTimer = participantTimerSlot(st, c, p, s.w.nextParticipant)
	c.participants = append(c.participants, p)
	s.scheduleParticipantLocked(p)
	st.reindexChat(c)
	s.emitLocked(st, participantEvent(EventEngagementOffered, c, p, now))
	resp := chatRoutedResponse{ResultCode: CodeSuccess, ChatID: c.id, AgentAccountID: a.AccountID}
	if a.AutoAccept {
		s.acceptParticipantLocked(st, c, p, now)
		resp.EngagementState = StateActive
		return resp
	}
	resp.EngagementState = StateOffered
	resp.OfferExpiresInSeconds = int(math.Ceil(s.opts.OfferTimeout.Seconds()))
	return resp
}

// acceptParticipantLocked is an offered participant accepting (EngagementAccepted for it). A
// conference or consult guest becomes ACTIVE beside the owner. A transfer target becomes the
// chat's owner, the chat moves to the queue the transfer came through, and the previous
// owner is out of the chat. The feed has no event of its own for the previous owner: the
// target's EngagementAccepted on a transfer says it.
func (s *Server) acceptParticipantLocked(st *site, c *chat, p *participant, now time.Time) {
	p.offerExpires = time.Time{}
	if p.routeType != RouteTransfer {
		p.state = StateActive
		s.scheduleParticipantLocked(p)
		st.reindexChat(c)
		s.emitLocked(st, participantEvent(EventEngagementAccepted, c, p, now))
		return
	}
	c.dropParticipant(p)
	s.scheduleParticipantLocked(p)
	c.agentID = p.agentID
	c.queueID = p.queueID
	st.reindexChat(c)
	s.emitLocked(st, chatEvent(EventEngagementAccepted, c, now))
}

func (s *Server) engagementLocked(token, siteName, chatID string, now time.Time) engagementResponse {
	st, code := s.gateLocked(token, siteName, now)
	if code != "" {
		return engagementResponse{ResultCode: code}
	}
	return engagementOfLocked(st, chatID)
}

func engagementOfLocked(st *site, chatID string) engagementResponse {
	if chatID == "" {
		return engagementResponse{ResultCode: CodeMissingParameters}
	}
	c := st.chats[chatID]
	if c == nil {
		return engagementResponse{ResultCode: CodeChatIDUnknown, ChatID: chatID}
	}
	resp := engagementResponse{
		ResultCode:     CodeSuccess,
		ChatID:         c.id,
		State:          c.state,
		EndReason:      c.endReason,
		AgentAccountID: c.agentID,
	}
	for _, p := range c.participants {
		resp.Participants = append(resp.Participants, participantElement{AgentAccountID: p.agentID, RouteType: p.routeType, State: p.state})
	}
	return resp
}

func (s *Server) agentSessionLocked(token, siteName, accountID string, now time.Time) agentSessionResponse {
	st, code := s.gateLocked(token, siteName, now)
	if code != "" {
		return agentSessionResponse{ResultCode: code}
	}
	return s.agentSessionOfLocked(st, accountID, now)
}

func (s *Server) agentSessionOfLocked(st *site, accountID string, now time.Time) agentSessionResponse {
	if accountID == "" {
		return agentSessionResponse{ResultCode: CodeMissingParameters}
	}
	a := st.agents[accountID]
	if a == nil {
		return agentSessionResponse{ResultCode: CodeAgentIDUnknown}
	}
	resp := agentSessionResponse{
		ResultCode:     CodeSuccess,
		LoggedIn:       a.loggedIn,
		Presence:       a.presence(),
		ActiveSessions: st.activeSessions(a.AccountID),
		MaxSessions:    a.MaxSessions,
	}
	if a.loggedIn || a.disconnected {
		resp.SessionID = a.sessionID
	}
	if !a.loggedIn {
		resp.ResultCode = CodeInvalidAgentSession
		return resp
	}
	resp.MissedIntervals = a.missed
	resp.SecondsToDisconnect = s.secondsToDisconnect(a, now)
	resp.StatusType = st.statusType(a)
	resp.StatusName = a.statusName
	return resp
}

func (s *Server) waitingLocked(token, siteName, queueID, state string, now time.Time) waitingResponse {
	st, code := s.gateLocked(token, siteName, now)
	if code != "" {
		return waitingResponse{ResultCode: code, Engagements: []waitingElement{}}
	}
	return waitingOfLocked(st, queueID, state, now)
}

func waitingOfLocked(st *site, queueID, state string, now time.Time) waitingResponse {
	if queueID == "" {
		return waitingResponse{ResultCode: CodeMissingParameters, Engagements: []waitingElement{}}
	}
	if state == "" {
		state = StateWaiting
	}
	switch state {
	case StateWaiting, StateOffered, StateActive, StateConcluded:
	default:
		return waitingResponse{ResultCode: CodeMissingParameters, Engagements: []waitingElement{}}
	}
	if st.queues[queueID] == nil {
		return waitingResponse{ResultCode: CodeInvalidDestQueue, Engagements: []waitingElement{}}
	}
	resp := waitingResponse{ResultCode: CodeSuccess, Engagements: []waitingElement{}}
	for _, id := range st.chatOrder {
		c := st.chats[id]
		if c.queueID != queueID || c.state != state {
			continue
		}
		end := now
		if c.state == StateConcluded {
			end = c.endedAt
		}
		resp.Engagements = append(resp.Engagements, waitingElement{
			ChatID:         c.id,
			QueueID:        c.queueID,
			CustomerName:   c.customerName,
			WaitingSeconds: int(end.Sub(c.createdAt) / time.Second),
		})
	}
	return resp
}

// pollLocked returns the events after afterSeq, or nil when there are none yet (the caller
// then waits and asks again).
func (s *Server) pollLocked(token, siteName string, afterSeq int64, now time.Time) (pollResponse, bool) {
	st, code := s.gateLocked(token, siteName, now)
	if code != "" {
		return pollResponse{ResultCode: code, Events: []Event{}}, true
	}
	return s.pollOfLocked(st, afterSeq)
}

func (s *Server) pollOfLocked(st *site, afterSeq int64) (pollResponse, bool) {
	resp := pollResponse{ResultCode: CodeSuccess, LastSeq: s.seqs[st.name], Events: []Event{}}
	// The log is in sequence order (emitLocked numbers each event from the site's counter):
	// the first event after the cursor is found by binary search, not by reading the whole
	// log on every poll (10,000 events once it is full, one poll per event under load).
	i, _ := slices.BinarySearchFunc(st.events, afterSeq+1, func(ev Event, seq int64) int { return cmp.Compare(ev.Seq, seq) })
	resp.Events = append(resp.Events, st.events[i:min(len(st.events), i+maxEventsPerPoll)]...)
	if len(resp.Events) == 0 {
		resp.Timeout = true
		return resp, false
	}
	resp.LastSeq = resp.Events[len(resp.Events)-1].Seq
	return resp, true
}
