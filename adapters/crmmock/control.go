package crmmock

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// This file is the control plane's behaviour, as Go methods. The HTTP control plane
// (control_handlers.go) and ControlClient (client.go) expose exactly these semantics.

// Control errors. Every error a control method returns is a *ControlError that matches
// (errors.Is) one of ErrInvalidInput, ErrNotFound or ErrConflict, and also
// ErrDeclineNotAllowed where that is the cause.
var (
	ErrInvalidInput      = errors.New("invalid input")
	ErrNotFound          = errors.New("not found")
	ErrConflict          = errors.New("conflict")
	ErrDeclineNotAllowed = errors.New("decline not allowed by the agent's profile")
)

// ControlError says which input field of a control call is at fault and why.
type ControlError struct {
	Kind    error  // ErrInvalidInput, ErrNotFound or ErrConflict
	Cause   error  // a more specific sentinel (ErrDeclineNotAllowed), or nil
	Field   string // the JSON field at fault ("site", "queueId", ...)
	Message string
}

func (e *ControlError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *ControlError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func controlErr(kind error, field, format string, args ...any) *ControlError {
	return &ControlError{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *ControlError {
	return controlErr(ErrInvalidInput, field, format, args...)
}

// Queue is a chat queue. Only external queues can be routed to by chatRouted.
type Queue struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	External bool   `json:"external"`
}

// Agent is an agent account and its chat profile.
type Agent struct {
	AccountID string `json:"accountId"`
	// Queues the agent's profile lets it take chats from (they must exist).
	Queues []string `json:"queues"`
	// MaxSessions is the agent's concurrent chat capacity; 0 means 1.
	MaxSessions int `json:"maxSessions"`
	// AllowDecline: the profile allows declining an offer.
	AllowDecline bool `json:"allowDecline"`
	// AutoAccept: offers are accepted at once (no toast, no offer timeout).
	AutoAccept bool `json:"autoAccept"`
}

// Reset clears every queue, added status, agent, chat, event, remembered transaction,
// fault and counter, back to the state New returned. Session tokens stay valid (they
// belong to the configured users, which Reset does not change) and event sequence numbers
// keep growing, so a client that is long-polling across a Reset never sees them go back.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	tokens := s.w.tokens
	s.w = newWorld(s.opts.Sites)
	s.w.tokens = tokens
	close(s.wake) // wake long polls so they re-read the (now empty) logs
	s.wake = make(chan struct{})
}

// siteLocked returns the site or a not-found error.
func (s *Server) siteLocked(name string) (*site, error) {
	if name == "" {
		return nil, invalid("site", "site is required")
	}
	st := s.w.sites[name]
	if st == nil {
		return nil, controlErr(ErrNotFound, "site", "unknown site %q", name)
	}
	return st, nil
}

// agentLocked returns the site and agent or an error naming the field at fault.
func (s *Server) agentLocked(siteName, accountID string) (*site, *agent, error) {
	st, err := s.siteLocked(siteName)
	if err != nil {
		return nil, nil, err
	}
	if accountID == "" {
		return nil, nil, invalid("accountId", "accountId is required")
	}
	a := st.agents[accountID]
	if a == nil {
		return nil, nil, controlErr(ErrNotFound, "accountId", "unknown agent %q", accountID)
	}
	return st, a, nil
}

// chatLocked returns the site and chat or an error naming the field at fault.
func (s *Server) chatLocked(siteName, chatID string) (*site, *chat, error) {
	st, err := s.siteLocked(siteName)
	if err != nil {
		return nil, nil, err
	}
	if chatID == "" {
		return nil, nil, invalid("chatId", "chatId is required")
	}
	c := st.chats[chatID]
	if c == nil {
		return nil, nil, controlErr(ErrNotFound, "chatId", "unknown chat %q", chatID)
	}
	return st, c, nil
}

// begin locks the server and fires the timers due now; every control method starts so,
// like every API request.
func (s *Server) begin() time.Time {
	s.mu.Lock()
	now := s.clock.Now()
	s.fireTimersLocked(now)
	return now
}

// CreateQueue adds a queue to a site.
func (s *Server) CreateQueue(siteName string, q Queue) error {
	s.begin()
	defer s.mu.Unlock()
	st, err := s.siteLocked(siteName)
	if err != nil {
		return err
	}
	if q.ID == "" {
		return invalid("id", "queue id is required")
	}
	if st.queues[q.ID] != nil {
		return controlErr(ErrConflict, "id", "queue %q already exists", q.ID)
	}
	if q.Name == "" {
		q.Name = q.ID
	}
	st.queues[q.ID] = &q
	st.queueOrder = append(st.queueOrder, q.ID)
	return nil
}

// CreateAgent adds an agent account (logged out) to a site.
func (s *Server) CreateAgent(siteName string, a Agent) error {
	s.begin()
	defer s.mu.Unlock()
	st, err := s.siteLocked(siteName)
	if err != nil {
		return err
	}
	if a.AccountID == "" {
		return invalid("accountId", "accountId is required")
	}
	if st.agents[a.AccountID] != nil {
		return controlErr(ErrConflict, "accountId", "agent %q already exists", a.AccountID)
	}
	if a.MaxSessions < 0 {
		return invalid("maxSessions", "maxSessions must not be negative")
	}
	if a.MaxSessions == 0 {
		a.MaxSessions = 1
	}
	for i, q := range a.Queues {
		if st.queues[q] == nil {
			return controlErr(ErrNotFound, "queues["+strconv.Itoa(i)+"]", "unknown queue %q (create queues before agents)", q)
		}
	}
	a.Queues = append([]string(nil), a.Queues...)
	ag := &agent{Agent: a, chats: make(map[*chat]struct{})}
	ag.presenceTimer = agentTimerSlot(st, ag, len(st.agentOrder))
	st.agents[a.AccountID] = ag
	st.agentOrder = append(st.agentOrder, a.AccountID)
	return nil
}

// AddStatus adds a named agent status of the available or unavailable type to a site.
func (s *Server) AddStatus(siteName, name string, available bool) error {
	s.begin()
	defer s.mu.Unlock()
	st, err := s.siteLocked(siteName)
	if err != nil {
		return err
	}
	if name == "" {
		return invalid("name", "status name is required")
	}
	if _, ok := st.statuses[name]; ok {
		return controlErr(ErrConflict, "name", "status %q already exists", name)
	}
	st.addStatus(name, available)
	return nil
}

// Login logs an agent in to CRM chat: status Unrestricted, presence ACTIVE. It emits
// AgentConnectionStateChanged (ACTIVE) and AgentStatusChanged. Logging in an agent that is
// already logged in counts as a presence poll and returns the same session id.
func (s *Server) Login(siteName, accountID string) (string, error) {
	now := s.begin()
	defer s.mu.Unlock()
	st, a, err := s.agentLocked(siteName, accountID)
	if err != nil {
		return "", err
	}
	if a.loggedIn {
		s.presencePollLocked(st, a, now)
		return a.sessionID, nil
	}
	s.w.nextSession++
	a.loggedIn = true
	a.disconnected = false
	a.sessionID = "S" + strconv.FormatInt(s.w.nextSession, 10)
	a.lastPoll = now
	a.missed = 0
	a.statusName = StatusUnrestricted
	s.scheduleAgentLocked(a)
	s.connectionEventLocked(st, a, now)
	s.statusEventLocked(st, a, now)
	return a.sessionID, nil
}

// Logout logs an agent out; its offered and active chats go back to WAITING
// (EngagementRequeued, cause AGENT_LOGGED_OFF), then AgentLoggedOff.
func (s *Server) Logout(siteName, accountID string) error {
	now := s.begin()
	defer s.mu.Unlock()
	st, a, err := s.agentLocked(siteName, accountID)
	if err != nil {
		return err
	}
	if !a.loggedIn {
		a.disconnected = false
		return nil // logging out twice is harmless
	}
	s.tearDownLocked(st, a, CauseAgentLoggedOff, now)
	return nil
}

// SetStatus changes a logged-in agent's status (emits AgentStatusChanged).
func (s *Server) SetStatus(siteName, accountID, statusName string) error {
	now := s.begin()
	defer s.mu.Unlock()
	st, a, err := s.agentLocked(siteName, accountID)
	if err != nil {
		return err
	}
	if statusName == "" {
		return invalid("statusName", "statusName is required")
	}
	if _, ok := st.statuses[statusName]; !ok {
		return controlErr(ErrNotFound, "statusName", "unknown status %q", statusName)
	}
	if !a.loggedIn {
		return controlErr(ErrConflict, "accountId", "agent %q is not logged in", accountID)
	}
	if a.statusName == statusName {
		return nil
	}
	a.statusName = statusName
	s.statusEventLocked(st, a, now)
	return nil
}

func (s *Server) statusEventLocked(st *site, a *agent, at time.Time) {
	s.emitLocked(st, Event{
		Type:           EventAgentStatusChanged,
		AgentAccountID: a.AccountID,
		StatusType:     st.statusType(a),
		StatusName:     a.statusName,
		At:             at,
	})
}

// Heartbeat is the agent console's presence poll. It restores an ABSENT agent to ACTIVE
// (emitting AgentConnectionStateChanged). A disconnected or logged-out agent must log in.
func (s *Server) Heartbeat(siteName, accountID string) error {
	now := s.begin()
	defer s.mu.Unlock()
	st, a, err := s.agentLocked(siteName, accountID)
	if err != nil {
		return err
	}
	if !a.loggedIn {
		return controlErr(ErrConflict, "accountId", "agent %q has no chat session (presence %q): log in again", accountID, a.presence())
	}
	s.presencePollLocked(st, a, now)
	return nil
}

// presencePollLocked records a presence poll.
func (s *Server) presencePollLocked(st *site, a *agent, now time.Time) {
	wasAbsent := a.missed > 0
	a.lastPoll = now
	a.missed = 0
	s.scheduleAgentLocked(a)
	if wasAbsent {
		s.connectionEventLocked(st, a, now)
	}
}

// SetPresence forces a logged-in agent's presence: ACTIVE (as a poll), ABSENT (as if the
// last poll was one AbsentInterval ago; the countdown to disconnect runs from there) or
// DISCONNECTED (the server tears the session down and requeues the agent's chats now).
func (s *Server) SetPresence(siteName, accountID, presence string) error {
	now := s.begin()
	defer s.mu.Unlock()
	st, a, err := s.agentLocked(siteName, accountID)
	if err != nil {
		return err
	}
	switch presence {
	case PresenceActive, PresenceAbsent, PresenceDisconnected:
	case "":
		return invalid("presence", "presence is required")
	default:
		return invalid("presence", "presence %q is not ACTIVE, ABSENT or DISCONNECTED", presence)
	}
	if !a.loggedIn {
		return controlErr(ErrConflict, "accountId", "agent %q is not logged in", accountID)
	}
	switch presence {
	case PresenceActive:
		s.presencePollLocked(st, a, now)
	case PresenceAbsent:
		if a.missed == 0 {
			a.lastPoll = now.Add(-s.opts.AbsentInterval)
			a.missed = 1
			s.scheduleAgentLocked(a)
			s.connectionEventLocked(st, a, now)
		}
	case PresenceDisconnected:
		a.missed = s.opts.AbsentRetryCount + 1
		s.scheduleAgentLocked(a)
		s.disconnectLocked(st, a, now)
	}
	return nil
}

// NewChat is a customer chat to create.
type NewChat struct {
	QueueID      string `json:"queueId"`
	CustomerName string `json:"customerName"`
	// CustomerPolls turns the customer's presence on: the customer's chat client must poll
	// (CustomerHeartbeat) like the agent console does, and a customer who stops goes
	// through the agents' absent logic (AbsentInterval, AbsentRetryCount) and is then lost:
	// the chat is CONCLUDED with PARTICIPANT_LEFT. Off, the customer never goes missing.
	CustomerPolls bool `json:"customerPolls,omitempty"`
}

// CreateChat puts a new customer chat in a queue (WAITING) and returns its id. The
// customer does not poll (see CreateChatWith).
func (s *Server) CreateChat(siteName, queueID, customerName string) (string, error) {
	return s.CreateChatWith(siteName, NewChat{QueueID: queueID, CustomerName: customerName})
}

// CreateChatWith puts a new customer chat in a queue (WAITING) and returns its id. With
// CustomerPolls the creation counts as the customer's first poll.
func (s *Server) CreateChatWith(siteName string, nc NewChat) (string, error) {
	now := s.begin()
	defer s.mu.Unlock()
	st, err := s.siteLocked(siteName)
	if err != nil {
		return "", err
	}
	if nc.QueueID == "" {
		return "", invalid("queueId", "queueId is required")
	}
	if st.queues[nc.QueueID] == nil {
		return "", controlErr(ErrNotFound, "queueId", "unknown queue %q", nc.QueueID)
	}
	s.w.nextChat++
	c := &chat{
		id:           strconv.FormatInt(s.w.nextChat, 10),
		order:        len(st.chatOrder),
		queueID:      nc.QueueID,
		customerName: nc.CustomerName,
		state:        StateWaiting,
		createdAt:    now,
		waitingSince: now,
	}
	if nc.CustomerPolls {
		c.customerPolls = true
		c.customerLastPoll = now
	}
	c.customerTimer, c.timer = chatTimerSlots(st, c, c.order)
	st.chats[c.id] = c
	st.chatOrder = append(st.chatOrder, c.id)
	s.scheduleChatLocked(c)
	return c.id, nil
}

// CustomerHeartbeat is the customer's chat client polling: it restores an ABSENT customer to
// ACTIVE. Only chats created with CustomerPolls have a polling customer; a concluded chat
// has none left.
func (s *Server) CustomerHeartbeat(siteName, chatID string) error {
	now := s.begin()
	defer s.mu.Unlock()
	_, c, err := s.chatLocked(siteName, chatID)
	if err != nil {
		return err
	}
	if !c.customerPolls {
		return controlErr(ErrConflict, "chatId", "chat %q was not created with customerPolls", chatID)
	}
	if c.state == StateConcluded {
		return controlErr(ErrConflict, "chatId", "chat %q is already concluded (%s)", chatID, c.endReason)
	}
	c.customerLastPoll = now
	c.customerMissed = 0
	s.scheduleChatLocked(c)
	return nil
}

// Respond is the offered owner's answer to the toast (see RespondWith).
func (s *Server) Respond(siteName, chatID, action string) error {
	return s.RespondWith(siteName, chatID, OfferReply{Action: action})
}

// OfferReply is an agent's answer to an offer.
type OfferReply struct {
	// Action is accept, decline or ignore.
	Action string `json:"action"`
	// AgentAccountID is the agent answering: empty (or the owner) for the chat's own offer,
	// else a transfer, conference or consult target offered into the chat.
	AgentAccountID string `json:"agentAccountId,omitempty"`
}

// RespondWith answers an offer as the offered agent.
//
// The owner's offer (AgentAccountID empty or the owner): accept makes the chat ACTIVE
// (EngagementAccepted); decline puts it back to WAITING (EngagementDeclined); ignore does
// nothing (the offer times out).
//
// A participant's offer (AgentAccountID a transfer, conference or consult target): accept
// makes a conference or consult guest ACTIVE beside the owner and makes a transfer target
// the chat's owner, the previous owner leaving the chat (EngagementAccepted for the target,
// nothing for the previous owner); decline takes the target out of the chat
// (EngagementDeclined), which stays ACTIVE with its owner.
//
// Decline works only if the answering agent's profile allows it, else the error matches
// ErrDeclineNotAllowed. An offer that is not pending is ErrConflict.
func (s *Server) RespondWith(siteName, chatID string, r OfferReply) error {
	now := s.begin()
	defer s.mu.Unlock()
	switch r.Action {
	case ActionAccept, ActionDecline, ActionIgnore:
	case "":
		return invalid("action", "action is required")
	default:
		return invalid("action", "action %q is not accept, decline or ignore", r.Action)
	}
	st, c, err := s.chatLocked(siteName, chatID)
	if err != nil {
		return err
	}
	if r.AgentAccountID != "" && r.AgentAccountID != c.agentID {
		p, err := s.participantLocked(st, c, r.AgentAccountID)
		if err != nil {
			return err
		}
		if p.state != StateOffered {
			return controlErr(ErrConflict, "agentAccountId", "agent %q is %s in chat %q, not OFFERED", p.agentID, p.state, chatID)
		}
		return s.replyLocked(st, c, p, p.agentID, r.Action, now)
	}
	if c.state != StateOffered {
		return controlErr(ErrConflict, "chatId", "chat %q is %s, not OFFERED", chatID, c.state)
	}
	return s.replyLocked(st, c, nil, c.agentID, r.Action, now)
}

// replyLocked applies a control-plane answer to a pending offer of accountID (p nil: the
// chat's own): ignore changes nothing, a decline needs the profile's permission.
func (s *Server) replyLocked(st *site, c *chat, p *participant, accountID, action string, now time.Time) error {
	switch action {
	case ActionIgnore:
		return nil
	case ActionDecline:
		if err := mayDecline(st, accountID); err != nil {
			return err
		}
	}
	s.answerOfferLocked(st, c, p, action, now)
	return nil
}

// mayDecline is nil if the agent's profile allows declining an offer.
func mayDecline(st *site, accountID string) error {
	if a := st.agents[accountID]; a != nil && a.AllowDecline {
		return nil
	}
	e := controlErr(ErrConflict, "action", "agent %q may not decline: its profile does not allow it", accountID)
	e.Cause = ErrDeclineNotAllowed
	return e
}

// participantLocked returns the agent's live participation in c, or an error naming
// agentAccountId: not found for an agent the site does not know, conflict for one that is
// not (or no longer) in the chat.
func (s *Server) participantLocked(st *site, c *chat, accountID string) (*participant, error) {
	if st.agents[accountID] == nil {
		return nil, controlErr(ErrNotFound, "agentAccountId", "unknown agent %q", accountID)
	}
	if c.state == StateConcluded {
		return nil, controlErr(ErrConflict, "chatId", "chat %q is already concluded (%s)", c.id, c.endReason)
	}
	p := c.participant(accountID)
	if p == nil {
		return nil, controlErr(ErrConflict, "agentAccountId", "agent %q is not in chat %q", accountID, c.id)
	}
	return p, nil
}

// Abandon is the customer leaving: the chat is CONCLUDED with ENDED_USER_CANCEL (and
// chatRouted answers END_USER_ABANDONED_ENGAGEMENT for it from then on).
func (s *Server) Abandon(siteName, chatID string) error {
	return s.Conclude(siteName, chatID, EndEndedUserCancel)
}

// Conclude ends a chat with a verbatim end reason (see ConcludeWith).
func (s *Server) Conclude(siteName, chatID, reason string) error {
	return s.ConcludeWith(siteName, chatID, Conclusion{Reason: reason})
}

// Conclusion is the end of a chat, or of one agent's part in it.
type Conclusion struct {
	// Reason is a verbatim end reason (EndAgentConcluded, ...). Required unless
	// AgentAccountID is set; then it defaults to AGENT_CONCLUDED.
	Reason string `json:"reason,omitempty"`
	// AgentAccountID, when it names an ACTIVE conference or consult participant, makes only
	// that participant leave; empty or the owner ends the whole chat.
	AgentAccountID string `json:"agentAccountId,omitempty"`
}

// ConcludeWith ends a chat, or one participant's part in it.
//
// The whole chat (AgentAccountID empty or the owner): CONCLUDED with the reason, and every
// agent in it gets its own EngagementConcluded with that endReason, the owner first, then
// the participants (OFFERED ones too). Reasons by the customer (END_USER_CONCLUDED,
// ENDED_USER_CANCEL, ENDED_USER_DEFLECTED) make chatRouted answer
// END_USER_ABANDONED_ENGAGEMENT; any other makes it answer CHAT_ID_UNKNOWN.
//
// A participant (AgentAccountID an ACTIVE conference or consult guest): only it leaves
// (EngagementConcluded for it with the reason, AGENT_CONCLUDED by default); the chat stays
// ACTIVE with its owner. An OFFERED participant answers with RespondWith instead, and a
// transfer target is never ACTIVE beside the owner (accepting makes it the owner): both are
// ErrConflict.
func (s *Server) ConcludeWith(siteName, chatID string, e Conclusion) error {
	now := s.begin()
	defer s.mu.Unlock()
	reason := e.Reason
	if reason == "" && e.AgentAccountID != "" {
		reason = EndAgentConcluded
	}
	if reason == "" {
		return invalid("reason", "reason is required")
	}
	if _, ok := endReasons[reason]; !ok {
		return invalid("reason", "%q is not a chat end reason", reason)
	}
	st, c, err := s.chatLocked(siteName, chatID)
	if err != nil {
		return err
	}
	if c.state == StateConcluded {
		return controlErr(ErrConflict, "chatId", "chat %q is already concluded (%s)", chatID, c.endReason)
	}
	if e.AgentAccountID != "" && e.AgentAccountID != c.agentID {
		p, err := s.participantLocked(st, c, e.AgentAccountID)
		if err != nil {
			return err
		}
		if p.state != StateActive || p.routeType == RouteTransfer {
			return controlErr(ErrConflict, "agentAccountId", "agent %q is a %s participant %s in chat %q: only an ACTIVE conference or consult participant leaves alone (answer an offer with respond)",
				p.agentID, p.routeType, p.state, chatID)
		}
		s.leaveLocked(st, c, p, EventEngagementConcluded, reason, now)
		return nil
	}
	s.concludeLocked(st, c, reason, now)
	return nil
}

// Advance moves the mock clock forward by d and fires every timer that became due, in
// time order. Non-positive d only fires timers already due.
func (s *Server) Advance(d time.Duration) {
	s.clock.Advance(d)
	s.begin()
	s.mu.Unlock()
}

// Calls is how many requests the server received for op (OpChatRouted, ...) on either
// facade, including requests answered by an injected fault.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.calls[op]
}

// RouteEvaluations is how many route requests with this transactionId (routing API) or
// Idempotency-Key (generic facade) the server evaluated, i.e. answered other than by
// replaying the first answer or by a fault.
func (s *Server) RouteEvaluations(transactionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.routeEvals[transactionID]
}

// RespondEvaluations is how many respond requests with this transactionId (routing API) or
// Idempotency-Key (generic facade) the server evaluated, i.e. answered other than by
// replaying the first answer or by a fault: a replay is never applied twice.
func (s *Server) RespondEvaluations(transactionID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.respondEvals[transactionID]
}
