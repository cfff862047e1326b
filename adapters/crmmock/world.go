package crmmock

import (
	"math"
	"slices"
	"time"
)

// world is everything Reset clears. The Server's mutex guards it.
type world struct {
	sites       map[string]*site
	tokens      map[string]sessionToken // session token -> what it grants
	faults      []*activeFault
	calls       map[string]int
	routeEvals  map[string]int // transactionId -> evaluated chatRouted requests
	nextChat    int64
	nextSession int64

	respondEvals map[string]int // transactionId / Idempotency-Key -> evaluated respond requests
}

type sessionToken struct {
	site    string
	expires time.Time
}

// site is one CRM site (interface): its queues, statuses, agents, chats and event log.
type site struct {
	name        string
	queues      map[string]*Queue
	queueOrder  []string
	statuses    map[string]bool // name -> available
	statusOrder []string
	agents      map[string]*agent
	agentOrder  []string
	chats       map[string]*chat
	chatOrder   []string
	routes      map[string]chatRoutedResponse // transactionId -> first answer
	responds    map[string]respondResponse    // respond's transactionId -> first answer
	events      []Event
}

// agent is an agent account and its chat session.
type agent struct {
	Agent
	loggedIn bool
	// disconnected: the server tore the session down after missed presence polls. The agent
	// stays DISCONNECTED (and chatRouted answers AGENT_DISCONNECTED) until it logs in again.
	disconnected bool
	sessionID    string
	lastPoll     time.Time
	missed       int // missed presence intervals since lastPoll (0 while ACTIVE)
	statusName   string
}

// chat is one engagement.
type chat struct {
	id           string
	queueID      string
	customerName string
	state        string
	agentID      string // while OFFERED or ACTIVE; kept after CONCLUDED for the record
	endReason    string
	byCustomer   bool      // concluded by the customer
	createdAt    time.Time // the customer's queue-wait clock starts here
	waitingSince time.Time // last time the chat (re)entered WAITING
	offerExpires time.Time // while OFFERED
	endedAt      time.Time
	// The customer's side, for chats created with customer polling on (NewChat): the chat
	// widget polls like the agent console, and the same absent logic applies (lostAt).
	customerPolls    bool
	customerLastPoll time.Time
	customerMissed   int // missed intervals since customerLastPoll
	// participants are the agents in the chat beside its owner (second legs), in the order
	// they were routed.
	participants []*participant
}

// participant is an agent a transfer, conference or consult route added to an ACTIVE chat
// beside its owner. It is OFFERED (with its own offer timer) until it answers: accepting a
// conference or consult makes it ACTIVE beside the owner, accepting a transfer makes it the
// chat's owner (it then leaves this list and the previous owner leaves the chat). It leaves
// the list when it declines, times out, leaves alone or its session ends; when the chat
// ends it stays, CONCLUDED, for the record. While OFFERED or ACTIVE it holds a capacity
// slot of its agent, like an owned chat.
type participant struct {
	agentID      string
	routeType    string    // transfer, conference, consult
	queueID      string    // the queue it was routed through (an accepted transfer moves the chat there)
	state        string    // OFFERED, ACTIVE, CONCLUDED
	offerExpires time.Time // while OFFERED
}

// live reports whether the participant is still in the chat (OFFERED or ACTIVE).
func (p *participant) live() bool { return p.state == StateOffered || p.state == StateActive }

// participant returns the agent's live participation in the chat, or nil.
func (c *chat) participant(accountID string) *participant {
	for _, p := range c.participants {
		if p.agentID == accountID && p.live() {
			return p
		}
	}
	return nil
}

// hasAgent reports whether the agent is in the chat: its owner (OFFERED or ACTIVE) or a live
// participant.
func (c *chat) hasAgent(accountID string) bool {
	owner := c.agentID == accountID && (c.state == StateOffered || c.state == StateActive)
	return owner || c.participant(accountID) != nil
}

// dropParticipant removes p from the chat's participants.
func (c *chat) dropParticipant(p *participant) {
	c.participants = slices.DeleteFunc(c.participants, func(q *participant) bool { return q == p })
}

// customerPresence is the polling customer's presence while the chat lasts: ACTIVE or
// ABSENT; "" when the customer does not poll or the chat is over.
func (c *chat) customerPresence() string {
	switch {
	case !c.customerPolls || c.state == StateConcluded:
		return ""
	case c.customerMissed > 0:
		return PresenceAbsent
	}
	return PresenceActive
}

func newWorld(siteNames []string) *world {
	w := &world{
		sites:      make(map[string]*site),
		tokens:     make(map[string]sessionToken),
		calls:      make(map[string]int),
		routeEvals: make(map[string]int),
		nextChat:   1000,

		respondEvals: make(map[string]int),
	}
	for _, n := range siteNames {
		w.sites[n] = newSite(n)
	}
	return w
}

func newSite(name string) *site {
	st := &site{
		name:     name,
		queues:   make(map[string]*Queue),
		statuses: make(map[string]bool),
		agents:   make(map[string]*agent),
		chats:    make(map[string]*chat),
		routes:   make(map[string]chatRoutedResponse),
		responds: make(map[string]respondResponse),
	}
	st.addStatus(StatusUnrestricted, true)
	st.addStatus(StatusInMeeting, false)
	st.addStatus(StatusOnBreak, false)
	return st
}

func (st *site) addStatus(name string, available bool) {
	st.statuses[name] = available
	st.statusOrder = append(st.statusOrder, name)
}

// activeSessions counts the agent's OFFERED and ACTIVE chats, owned or as a participant:
// each holds a capacity slot.
func (st *site) activeSessions(accountID string) int {
	return len(st.agentChats(accountID))
}

// agentChats returns the chats the agent is in (owner of an OFFERED or ACTIVE chat, or live
// participant) in creation order.
func (st *site) agentChats(accountID string) []*chat {
	var out []*chat
	for _, id := range st.chatOrder {
		if c := st.chats[id]; c.hasAgent(accountID) {
			out = append(out, c)
		}
	}
	return out
}

func (a *agent) hasQueue(queueID string) bool { return slices.Contains(a.Queues, queueID) }

// presence is the session's presence; "" when the agent is logged out (or never logged in).
func (a *agent) presence() string {
	switch {
	case a.disconnected:
		return PresenceDisconnected
	case !a.loggedIn:
		return ""
	case a.missed > 0:
		return PresenceAbsent
	}
	return PresenceActive
}

// statusType is AVAILABLE or UNAVAILABLE for a logged-in agent, "" otherwise.
func (st *site) statusType(a *agent) string {
	if !a.loggedIn {
		return ""
	}
	if st.statuses[a.statusName] {
		return StatusTypeAvailable
	}
	return StatusTypeUnavailable
}

// disconnectAt is when an agent that keeps not polling is disconnected: it turns ABSENT one
// interval after its last poll and stays ABSENT for AbsentRetryCount more intervals.
func (s *Server) disconnectAt(a *agent) time.Time {
	return a.lastPoll.Add(time.Duration(s.opts.AbsentRetryCount+1) * s.opts.AbsentInterval)
}

// secondsToDisconnect is the countdown an ABSENT agent's session shows; 0 otherwise.
func (s *Server) secondsToDisconnect(a *agent, now time.Time) int {
	if a.presence() != PresenceAbsent {
		return 0
	}
	left := s.disconnectAt(a).Sub(now)
	if left <= 0 {
		return 0
	}
	return int(math.Ceil(left.Seconds()))
}

// emitLocked appends an event to the site's log and wakes long polls.
func (s *Server) emitLocked(st *site, ev Event) {
	s.seqs[st.name]++
	ev.Seq = s.seqs[st.name]
	ev.At = ev.At.UTC()
	st.events = append(st.events, ev)
	if over := len(st.events) - maxEventsPerSite; over > 0 {
		st.events = slices.Delete(st.events, 0, over)
	}
	close(s.wake)
	s.wake = make(chan struct{})
}

// chatEvent is an engagement event for c's owner.
func chatEvent(typ string, c *chat, at time.Time) Event {
	return Event{Type: typ, ChatID: c.id, AgentAccountID: c.agentID, At: at}
}

// participantEvent is an engagement event for a participant of c.
func participantEvent(typ string, c *chat, p *participant, at time.Time) Event {
	return Event{Type: typ, ChatID: c.id, AgentAccountID: p.agentID, At: at}
}

// requeueLocked puts an offered or active chat back to WAITING and emits ev, the owner's
// event (EngagementRequeued, EngagementTimeout or EngagementDeclined, built before the
// call). A chat that goes back to the queue has no agent left in it: every participant then
// leaves with EngagementConcluded, endReason PARTICIPANT_LEFT.
func (s *Server) requeueLocked(st *site, c *chat, ev Event, at time.Time) {
	c.state = StateWaiting
	c.agentID = ""
	c.offerExpires = time.Time{}
	c.waitingSince = at
	s.emitLocked(st, ev)
	for _, p := range slices.Clone(c.participants) {
		if p.live() {
			s.leaveLocked(st, c, p, EventEngagementConcluded, EndParticipantLeft, at)
		}
	}
	c.participants = nil
}

// leaveLocked takes a participant out of the chat (declined, timed out, left alone, session
// ended) and emits typ for it; endReason is set for EngagementConcluded. The chat and its
// owner are not touched.
func (s *Server) leaveLocked(st *site, c *chat, p *participant, typ, endReason string, at time.Time) {
	c.dropParticipant(p)
	ev := participantEvent(typ, c, p, at)
	if typ == EventEngagementConcluded {
		ev.EndReason = endReason
	}
	s.emitLocked(st, ev)
}

// concludeLocked ends a chat with a verbatim end reason: EngagementConcluded for the owner
// (or, for a chat nobody had, without an agent), then one for each participant still in the
// chat, OFFERED ones included, all with the same endReason. The participants stay listed,
// CONCLUDED, for the record.
func (s *Server) concludeLocked(st *site, c *chat, reason string, at time.Time) {
	c.state = StateConcluded
	c.endReason = reason
	c.byCustomer = endReasons[reason]
	c.offerExpires = time.Time{}
	c.endedAt = at
	ev := chatEvent(EventEngagementConcluded, c, at)
	ev.EndReason = reason
	s.emitLocked(st, ev)
	for _, p := range c.participants {
		if !p.live() {
			continue
		}
		p.state = StateConcluded
		p.offerExpires = time.Time{}
		ev := participantEvent(EventEngagementConcluded, c, p, at)
		ev.EndReason = reason
		s.emitLocked(st, ev)
	}
}

// tearDownLocked ends an agent's session (logout or disconnect), chat by chat in creation
// order: the chats it owns go back to WAITING with an EngagementRequeued event carrying
// cause (their participants leave, see requeueLocked); where it is a participant it leaves
// with EngagementConcluded, endReason PARTICIPANT_LEFT, and the chat stays with its owner.
// Then AgentLoggedOff.
func (s *Server) tearDownLocked(st *site, a *agent, cause string, at time.Time) {
	for _, c := range st.agentChats(a.AccountID) {
		if p := c.participant(a.AccountID); p != nil {
			s.leaveLocked(st, c, p, EventEngagementConcluded, EndParticipantLeft, at)
			continue
		}
		ev := chatEvent(EventEngagementRequeued, c, at)
		ev.Cause = cause
		s.requeueLocked(st, c, ev, at)
	}
	a.loggedIn = false
	a.missed = 0
	s.emitLocked(st, Event{Type: EventAgentLoggedOff, AgentAccountID: a.AccountID, Cause: cause, At: at})
}

// connectionEventLocked emits AgentConnectionStateChanged for a's presence at time at.
func (s *Server) connectionEventLocked(st *site, a *agent, at time.Time) {
	s.emitLocked(st, Event{
		Type:                EventAgentConnectionStateChanged,
		AgentAccountID:      a.AccountID,
		Presence:            a.presence(),
		MissedIntervals:     a.missed,
		SecondsToDisconnect: s.secondsToDisconnect(a, at),
		At:                  at,
	})
}

// fireTimersLocked fires every timer due at or before now, earliest first, each at its own
// due time, so one big Advance produces the same events in the same order as living
// through the time would.
func (s *Server) fireTimersLocked(now time.Time) {
	for {
		t, ok := s.nextTimerLocked(now)
		if !ok {
			return
		}
		switch t.kind {
		case timerPresence:
			s.missIntervalLocked(t.site, t.agent, t.due)
		case timerOffer:
			s.offerTimeoutLocked(t.site, t.chat, t.due)
		case timerParticipantOffer:
			s.leaveLocked(t.site, t.chat, t.participant, EventEngagementTimeout, "", t.due)
		case timerQueue:
			s.concludeLocked(t.site, t.chat, EndQueueTimeout, t.due)
		case timerCustomer:
			s.missCustomerIntervalLocked(t.site, t.chat, t.due)
		}
	}
}

type timerKind int

const (
	timerPresence         timerKind = iota + 1 // an agent misses one more presence interval
	timerOffer                                 // an offer times out
	timerParticipantOffer                      // a transfer, conference or consult offer times out
	timerQueue                                 // a waiting customer's queue timeout
	timerCustomer                              // a polling customer misses one more interval
)

// timer is one due timer.
type timer struct {
	kind  timerKind
	due   time.Time
	site  *site
	agent *agent
	chat  *chat
	// participant is the offered participant of chat (timerParticipantOffer).
	participant *participant
}

// nextTimerLocked finds the earliest timer due at or before now. Ties go to the first in
// site, agent, chat creation order (a chat's participants, in routing order, before the
// chat's own timers).
func (s *Server) nextTimerLocked(now time.Time) (timer, bool) {
	var best timer
	found := false
	consider := func(t timer) {
		if t.due.After(now) || (found && !t.due.Before(best.due)) {
			return
		}
		best, found = t, true
	}
	for _, name := range s.w.sortedSiteNames() {
		st := s.w.sites[name]
		for _, id := range st.agentOrder {
			a := st.agents[id]
			if a.loggedIn {
				due := a.lastPoll.Add(time.Duration(a.missed+1) * s.opts.AbsentInterval)
				consider(timer{kind: timerPresence, due: due, site: st, agent: a})
			}
		}
		for _, id := range st.chatOrder {
			c := st.chats[id]
			if c.customerPolls && c.state != StateConcluded {
				due := c.customerLastPoll.Add(time.Duration(c.customerMissed+1) * s.opts.AbsentInterval)
				consider(timer{kind: timerCustomer, due: due, site: st, chat: c})
			}
			for _, p := range c.participants {
				if p.state == StateOffered {
					consider(timer{kind: timerParticipantOffer, due: p.offerExpires, site: st, chat: c, participant: p})
				}
			}
			switch c.state {
			case StateOffered:
				consider(timer{kind: timerOffer, due: c.offerExpires, site: st, chat: c})
			case StateWaiting:
				due := c.createdAt.Add(s.opts.QueueTimeout)
				if due.Before(c.waitingSince) {
					due = c.waitingSince
				}
				consider(timer{kind: timerQueue, due: due, site: st, chat: c})
			}
		}
	}
	return best, found
}

// missIntervalLocked records one more missed presence interval: ABSENT for the first
// AbsentRetryCount intervals after the one that made the agent absent, then DISCONNECTED.
func (s *Server) missIntervalLocked(st *site, a *agent, at time.Time) {
	a.missed++
	if a.missed <= s.opts.AbsentRetryCount {
		s.connectionEventLocked(st, a, at)
		return
	}
	s.disconnectLocked(st, a, at)
}

// disconnectLocked tears a session down as the server does after missed polls.
func (s *Server) disconnectLocked(st *site, a *agent, at time.Time) {
	a.disconnected = true
	s.emitLocked(st, Event{
		Type:            EventAgentConnectionStateChanged,
		AgentAccountID:  a.AccountID,
		Presence:        PresenceDisconnected,
		MissedIntervals: a.missed,
		At:              at,
	})
	s.tearDownLocked(st, a, CauseAgentDisconnected, at)
}

// missCustomerIntervalLocked is the agent's absent logic applied to a polling customer:
// ABSENT for the interval that made it absent and AbsentRetryCount more, then lost. The feed
// has no event for a customer's presence (the real one has none), so the ABSENT stages show
// only in the state dump; losing the customer ends the chat.
//
// The end reason is PARTICIPANT_LEFT: of ORACLE.md's verbatim reasons it is the one for a
// participant who is gone without ending the chat. ENDED_USER_CANCEL is the customer
// leaving on purpose ("user cancel"), IDLE_TIMEOUT a chat still connected but silent, and
// QUEUE_TIMEOUT a customer who waited too long. The customer did leave, though, so a later
// chatRouted for the chat answers END_USER_ABANDONED_ENGAGEMENT, as for any chat the
// customer left before the pop, rather than CHAT_ID_UNKNOWN.
func (s *Server) missCustomerIntervalLocked(st *site, c *chat, at time.Time) {
	c.customerMissed++
	if c.customerMissed <= s.opts.AbsentRetryCount {
		return
	}
	s.concludeLocked(st, c, EndParticipantLeft, at)
	c.byCustomer = true
}

func (s *Server) offerTimeoutLocked(st *site, c *chat, at time.Time) {
	s.requeueLocked(st, c, chatEvent(EventEngagementTimeout, c, at), at)
}
