package crmmock

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// This file is the mock's timers: what is due when (timerOfLocked), and the schedule that
// finds the next one due without looking at the whole world on every request.
//
// Every timer lives in a slot: an agent's presence, a polling customer's presence, a chat's
// own offer or queue timeout, a participant's offer. A slot is in the schedule, a min-heap
// by due time (ties in the order the world lists its timers, see timerRank), exactly while
// its timer runs. Code that changes anything a timer depends on (an agent's loggedIn,
// lastPoll, missed; a chat's state, offerExpires, createdAt, waitingSince, customerPolls,
// customerLastPoll, customerMissed; a participant's state, offerExpires, or its place in
// the chat) reschedules the slots concerned right after (scheduleAgentLocked,
// scheduleChatLocked, scheduleParticipantLocked). As a safety net, the timer at the
// top is recomputed from the world before it fires. A new world (Reset) has an empty
// schedule; the clock moving changes no due time, only which ones have come.

// fireTimersLocked fires every timer due at or before now, earliest first, each at its own
// due time, so one big Advance produces the same events in the same order as living
// through the time would.
func (s *Server) fireTimersLocked(now time.Time) {
	for {
		if s.beforeNextTimer != nil {
			s.beforeNextTimer(now)
		}
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
// the order the world lists its timers: sites by name; in a site, agents in creation order,
// then chats in creation order; in a chat, its polling customer's presence, then its
// participants' offers in routing order, then the chat's own offer or queue timeout.
func (s *Server) nextTimerLocked(now time.Time) (timer, bool) {
	h := &s.w.timers
	for h.Len() > 0 {
		slot := (*h)[0]
		if slot.due.After(now) {
			return timer{}, false
		}
		// The safety net: the schedule should already agree with the world.
		t, ok := s.timerOfLocked(slot)
		switch {
		case !ok:
			heap.Remove(h, 0)
		case !t.due.Equal(slot.due):
			slot.due = t.due
			heap.Fix(h, 0)
		default:
			return t, true
		}
	}
	return timer{}, false
}

// timerOfLocked is the timer running in slot now, if any: the one definition of when each
// timer is due.
func (s *Server) timerOfLocked(slot *timerSlot) (timer, bool) {
	t := timer{site: slot.site, agent: slot.agent, chat: slot.chat, participant: slot.participant}
	switch slot.kind {
	case slotPresence:
		a := slot.agent
		if !a.loggedIn {
			return timer{}, false
		}
		t.kind, t.due = timerPresence, a.lastPoll.Add(time.Duration(a.missed+1)*s.opts.AbsentInterval)
	case slotCustomer:
		c := slot.chat
		if !c.customerPolls || c.state == StateConcluded {
			return timer{}, false
		}
		t.kind, t.due = timerCustomer, c.customerLastPoll.Add(time.Duration(c.customerMissed+1)*s.opts.AbsentInterval)
	case slotParticipantOffer:
		p := slot.participant
		if p.state != StateOffered || !slices.Contains(slot.chat.participants, p) {
			return timer{}, false
		}
		t.kind, t.due = timerParticipantOffer, p.offerExpires
	case slotChat:
		c := slot.chat
		switch c.state {
		case StateOffered:
			t.kind, t.due = timerOffer, c.offerExpires
		case StateWaiting:
			due := c.createdAt.Add(s.opts.QueueTimeout)
			if due.Before(c.waitingSince) {
				due = c.waitingSince
			}
			t.kind, t.due = timerQueue, due
		default:
			return timer{}, false
		}
	default:
		return timer{}, false
	}
	return t, true
}

// scheduleAgentLocked reschedules the agent's presence timer; call it after changing
// loggedIn, lastPoll or missed.
func (s *Server) scheduleAgentLocked(a *agent) {
	s.scheduleLocked(&a.presenceTimer)
}

// scheduleChatLocked reschedules every timer of the chat: its customer's presence, its own
// offer or queue timeout and its participants' offers. Call it after changing anything of
// the chat a timer depends on. A participant that left the chat is no longer in it: see
// scheduleParticipantLocked.
func (s *Server) scheduleChatLocked(c *chat) {
	s.scheduleLocked(&c.customerTimer)
	for _, p := range c.participants {
		s.scheduleLocked(&p.offerTimer)
	}
	s.scheduleLocked(&c.timer)
}

// scheduleParticipantLocked reschedules a participant's offer timer; call it after
// changing its state or offerExpires, or adding it to or taking it out of its chat.
func (s *Server) scheduleParticipantLocked(p *participant) {
	s.scheduleLocked(&p.offerTimer)
}

// scheduleLocked puts the slot's timer in the schedule at its due time, moves it there, or
// takes it out when no timer runs in the slot.
func (s *Server) scheduleLocked(slot *timerSlot) {
	h := &s.w.timers
	t, ok := s.timerOfLocked(slot)
	switch {
	case ok && slot.index < 0:
		slot.due = t.due
		heap.Push(h, slot)
	case ok:
		slot.due = t.due
		heap.Fix(h, slot.index)
	case slot.index >= 0:
		heap.Remove(h, slot.index)
	}
}

type slotKind int

const (
	slotPresence         slotKind = iota + 1 // an agent's presence: timerPresence
	slotCustomer                             // a polling customer's presence: timerCustomer
	slotParticipantOffer                     // a participant's offer: timerParticipantOffer
	slotChat                                 // a chat's own: timerOffer or timerQueue
)

// timerSlot is where one timer of an agent, chat or participant lives (see the top of the
// file). Its entity holds it by value and sets it up once, when it is created.
type timerSlot struct {
	kind        slotKind
	rank        timerRank
	site        *site
	agent       *agent
	chat        *chat
	participant *participant
	due         time.Time // while scheduled
	index       int       // the slot's place in the heap; -1 while not scheduled
}

// timerRank is a slot's place in the order the world lists its timers, which breaks ties
// between timers due at the same time (see nextTimerLocked).
type timerRank struct {
	site  int   // the site's place among the sorted site names
	group int   // 0 for an agent, 1 for a chat
	order int   // the agent's or chat's place in creation order
	sub   int   // in a chat: 0 the customer, 1 a participant, 2 the chat's own
	seq   int64 // a participant's routing order
}

func (r timerRank) compare(o timerRank) int {
	return cmp.Or(
		cmp.Compare(r.site, o.site),
		cmp.Compare(r.group, o.group),
		cmp.Compare(r.order, o.order),
		cmp.Compare(r.sub, o.sub),
		cmp.Compare(r.seq, o.seq),
	)
}

// agentTimerSlot is a new agent's presence slot; order is its place in creation order.
func agentTimerSlot(st *site, a *agent, order int) timerSlot {
	return timerSlot{
		kind: slotPresence, rank: timerRank{site: st.rank, order: order},
		site: st, agent: a, index: -1,
	}
}

// chatTimerSlots are a new chat's customer and own slots; order is its place in creation
// order.
func chatTimerSlots(st *site, c *chat, order int) (customer, own timerSlot) {
	customer = timerSlot{
		kind: slotCustomer, rank: timerRank{site: st.rank, group: 1, order: order},
		site: st, chat: c, index: -1,
	}
	own = customer
	own.kind, own.rank.sub = slotChat, 2
	return customer, own
}

// participantTimerSlot is a new participant's offer slot; seq is its routing order.
func participantTimerSlot(st *site, c *chat, p *participant, seq int64) timerSlot {
	rank := c.customerTimer.rank
	rank.sub, rank.seq = 1, seq
	return timerSlot{kind: slotParticipantOffer, rank: rank, site: st, chat: c, participant: p, index: -1}
}

// timerHeap is the schedule: a container/heap of the running timers' slots, earliest due
// first, ties by rank.
type timerHeap []*timerSlot

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.due.Before(b.due) {
		return true
	}
	if b.due.Before(a.due) {
		return false
	}
	return a.rank.compare(b.rank) < 0
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	slot := x.(*timerSlot)
	slot.index = len(*h)
	*h = append(*h, slot)
}

func (h *timerHeap) Pop() any {
	old := *h
	slot := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	slot.index = -1
	return slot
}
