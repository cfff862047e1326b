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
	// timers is the schedule of every running timer (timers.go).
	timers          timerHeap
	nextParticipant int64 // participants' routing order, for timer ties

	respondEvals map[string]int // transactionId / Idempotency-Key -> evaluated respond requests
}

type sessionToken struct {
	site    string
	expires time.Time
}

// site is one CRM site (interface): its queues, statuses, agents, chats and event log.
type site struct {
	name        string
	rank        int // its place among the sorted site names, for timer ties
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
	events      []Event                       // the event log, oldest first (appendEvent)
	// eventArray is the array a full event log slides in (appendEvent); nil until then.
	eventArray []Event
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
	// presenceTimer is the slot of the presence timer (timers.go): reschedule it after
	// changing loggedIn, lastPoll or missed.
	presenceTimer timerSlot
	// chats are the chats the agent is in (agentchats.go), kept by reindexChat.
	chats map[*chat]struct{}
}

// chat is one engagement.
type chat struct {
	id           string
	order        int // its place in the site's creation order
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
	// customerTimer and timer are the slots of the customer's presence timer and of the
	// chat's own offer or queue timeout (timers.go): reschedule them (scheduleChatLocked)
	// after changing state, offerExpires, waitingSince or the customer's fields.
	customerTimer timerSlot
	timer         timerSlot
	// indexedAgents are the agents whose index lists the chat (agentchats.go): call
	// reindexChat after changing state, agentID, participants or a participant's state.
	indexedAgents []string
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
	// offerTimer is the slot of the offer timer (timers.go): reschedule it after changing
	// state or offerExpires, or taking the participant out of the chat.
	offerTimer timerSlot
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
	for i, n := range w.sortedSiteNames() {
		w.sites[n].rank = i
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
	st.appendEvent(ev)
	close(s.wake)
	s.wake = make(chan struct{})
}

// appendEvent appends ev to the site's log, dropping the oldest event once the log holds
// maxEventsPerSite, in amortised constant time. A full log slides forward in its array and
// is copied to the start of eventArray (twice the cap, allocated the first time) only when
// it reaches the array's end: one copy of the log per maxEventsPerSite events, no
// allocation after the first, and the log's memory stays at 2*maxEventsPerSite events.
func (st *site) appendEvent(ev Event) {
	if len(st.events) >= maxEventsPerSite {
		keep := st.events[len(st.events)-maxEventsPerSite+1:]
		if len(st.events) == cap(st.events) { // no room left after the log
			if st.eventArray == nil {
				st.eventArray = make([]Event, 2*maxEventsPerSite)
			}
			n := copy(st.eventArray, keep)
			clear(st.eventArray[n:])
			keep = st.eventArray[:n]
		} else {
			clear(st.events[:len(st.events)-len(keep)]) // let the dropped events' strings go
		}
		st.events = keep
	}
	st.events = append(st.events, ev)
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
	s.scheduleChatLocked(c)
	st.reindexChat(c)
	s.emitLocked(st, ev)
	for _, p := range slices.Clone(c.participants) {
		if p.live() {
			s.leaveLocked(st, c, p, EventEngagementConcluded, EndParticipantLeft, at)
		}
	}
	c.participants = nil
	st.reindexChat(c)
}

// leaveLocked takes a participant out of the chat (declined, timed out, left alone, session
// ended) and emits typ for it; endReason is set for EngagementConcluded. The chat and its
// owner are not touched.
func (s *Server) leaveLocked(st *site, c *chat, p *participant, typ, endReason string, at time.Time) {
	c.dropParticipant(p)
	s.scheduleParticipantLocked(p)
	st.reindexChat(c)
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
	s.scheduleChatLocked(c)
	st.reindexChat(c)
	ev := chatEvent(EventEngagementConcluded, c, at)
	ev.EndReason = reason
	s.emitLocked(st, ev)
	for _, p := range c.participants {
		if !p.live() {
			continue
		}
		p.state = StateConcluded
		p.offerExpires = time.Time{}
		s.scheduleParticipantLocked(p)
		st.reindexChat(c)
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
	s.scheduleAgentLocked(a)
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

// missIntervalLocked records one more missed presence interval: ABSENT for the first
// AbsentRetryCount intervals after the one that made the agent absent, then DISCONNECTED.
func (s *Server) missIntervalLocked(st *site, a *agent, at time.Time) {
	a.missed++
	s.scheduleAgentLocked(a)
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
	s.scheduleChatLocked(c)
	if c.customerMissed <= s.opts.AbsentRetryCount {
		return
	}
	s.concludeLocked(st, c, EndParticipantLeft, at)
	c.byCustomer = true
}

func (s *Server) offerTimeoutLocked(st *site, c *chat, at time.Time) {
	s.requeueLocked(st, c, chatEvent(EventEngagementTimeout, c, at), at)
}
