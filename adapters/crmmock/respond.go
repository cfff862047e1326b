package crmmock

import "time"

// This file is the respond operation: the bridge answering an offer in the CRM on the
// agent's behalf (the media bar's Accept and Decline buttons). Both facades share the
// evaluation (respondLocked), and the control plane's RespondWith applies an answer through
// the same helpers (pendingOfferLocked, answerOfferLocked), so an offer answered over the
// wire and one answered from the agent's console change the world identically.

type respondRequest struct {
	AgentAccountID string `json:"agentAccountId"`
	// Action is accept or decline; the decoder refuses any other value but none (which is
	// MISSING_PARAMETERS). Ignoring an offer is not a call: it is making none.
	Action        string `json:"action"`
	TransactionID string `json:"transactionId"`
}

type respondResponse struct {
	ResultCode     string `json:"resultCode"`
	ChatID         string `json:"chatId,omitempty"`
	AgentAccountID string `json:"agentAccountId,omitempty"`
	// EngagementState is the chat's state once the call is over (as the engagement read
	// shows it), on SUCCESS, NO_PENDING_OFFER and DECLINE_NOT_ALLOWED.
	EngagementState string `json:"engagementState,omitempty"`
}

// respondActions are the actions respond takes (the control plane's ignore is not one).
var respondActions = []string{ActionAccept, ActionDecline}

// idempotentRespondLocked answers a respond request under an idempotency key (the routing
// API's transactionId, the generic facade's Idempotency-Key; one namespace per site, shared
// by both facades, apart from the routes' one): a known key replays the first answer, which
// is not applied again; otherwise the request is evaluated and counted in
// RespondEvaluations. st is nil and gateCode set when the gate refused the request; such an
// answer is not remembered.
func (s *Server) idempotentRespondLocked(st *site, gateCode, chatID, key string, req respondRequest, now time.Time) respondResponse {
	if st != nil && key != "" {
		if first, ok := st.responds[key]; ok {
			return first
		}
	}
	if key != "" {
		s.w.respondEvals[key]++
	}
	if gateCode != "" {
		return respondResponse{ResultCode: gateCode, ChatID: chatID, AgentAccountID: req.AgentAccountID}
	}
	resp := s.respondLocked(st, chatID, req, now)
	if key != "" {
		st.responds[key] = resp
	}
	return resp
}

// respondLocked evaluates an admitted respond request. The checks, in order, the first that
// fails deciding the code: chatId, agentAccountId or action missing → MISSING_PARAMETERS;
// chat unknown → CHAT_ID_UNKNOWN; chat ended by the customer →
// END_USER_ABANDONED_ENGAGEMENT; chat ended otherwise → CHAT_ID_UNKNOWN (chatRouted's
// rules for an ended chat); agent unknown → AGENT_ID_UNKNOWN; the agent has no pending
// offer in the chat → NO_PENDING_OFFER; decline and the agent's profile does not allow it →
// DECLINE_NOT_ALLOWED; else SUCCESS, the answer applied.
func (s *Server) respondLocked(st *site, chatID string, req respondRequest, now time.Time) respondResponse {
	resp := respondResponse{ChatID: chatID, AgentAccountID: req.AgentAccountID}
	fail := func(code string) respondResponse {
		resp.ResultCode = code
		return resp
	}
	if chatID == "" || req.AgentAccountID == "" || req.Action == "" {
		return fail(CodeMissingParameters)
	}
	c := st.chats[chatID]
	if c == nil {
		return fail(CodeChatIDUnknown)
	}
	if c.state == StateConcluded {
		if c.byCustomer {
			return fail(CodeEndUserAbandonedEngagement)
		}
		return fail(CodeChatIDUnknown)
	}
	if st.agents[req.AgentAccountID] == nil {
		return fail(CodeAgentIDUnknown)
	}
	resp.EngagementState = c.state
	p, pending := c.pendingOffer(req.AgentAccountID)
	if !pending {
		return fail(CodeNoPendingOffer)
	}
	if req.Action == ActionDecline && !st.agents[req.AgentAccountID].AllowDecline {
		return fail(CodeDeclineNotAllowed)
	}
	s.answerOfferLocked(st, c, p, req.Action, now)
	resp.ResultCode, resp.EngagementState = CodeSuccess, c.state
	return resp
}

// pendingOffer finds the agent's offer in c that waits for an answer: the chat's own offer
// while the chat is OFFERED to it (p nil), or its OFFERED participation (a transfer,
// conference or consult target). pending is false for an agent that was never offered the
// chat, has answered already (accepted, declined), or whose offer timed out.
func (c *chat) pendingOffer(accountID string) (p *participant, pending bool) {
	if c.state == StateOffered && c.agentID == accountID {
		return nil, true
	}
	if p := c.participant(accountID); p != nil && p.state == StateOffered {
		return p, true
	}
	return nil, false
}

// answerOfferLocked applies accept or decline to a pending offer (p nil: the chat's own;
// see pendingOffer). The caller has checked that a decline is allowed.
//
// The chat's own offer: accept makes the chat ACTIVE (EngagementAccepted), decline puts it
// back to WAITING (EngagementDeclined). A participant's: accept makes a conference or
// consult guest ACTIVE beside the owner, or a transfer target the owner
// (acceptParticipantLocked); decline takes the target out (EngagementDeclined) and the chat
// stays ACTIVE with its owner.
func (s *Server) answerOfferLocked(st *site, c *chat, p *participant, action string, now time.Time) {
	switch {
	case p != nil && action == ActionAccept:
		s.acceptParticipantLocked(st, c, p, now)
	case p != nil && action == ActionDecline:
		s.leaveLocked(st, c, p, EventEngagementDeclined, "", now)
	case action == ActionAccept:
		c.state = StateActive
		c.offerExpires = time.Time{}
		s.scheduleChatLocked(c)
		st.reindexChat(c)
		s.emitLocked(st, chatEvent(EventEngagementAccepted, c, now))
	case action == ActionDecline:
		s.requeueLocked(st, c, chatEvent(EventEngagementDeclined, c, now), now)
	}
}
