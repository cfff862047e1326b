package crmmock

import (
	"maps"
	"time"
)

// State is a JSON-able snapshot of the whole mock, for assertions and debugging.
type State struct {
	Now    time.Time   `json:"now"`
	Sites  []SiteState `json:"sites"`
	Faults []Fault     `json:"faults"`
	// Calls counts requests received per op, on both facades (faulted ones included).
	Calls map[string]int `json:"calls"`
	// RouteEvaluations counts evaluated route requests per transactionId / Idempotency-Key.
	RouteEvaluations map[string]int `json:"routeEvaluations"`
	// RespondEvaluations counts evaluated respond requests per transactionId /
	// Idempotency-Key.
	RespondEvaluations map[string]int `json:"respondEvaluations"`
}

// SiteState is one site in a State.
type SiteState struct {
	Name     string        `json:"name"`
	LastSeq  int64         `json:"lastSeq"`
	Queues   []Queue       `json:"queues"`
	Statuses []StatusState `json:"statuses"`
	Agents   []AgentState  `json:"agents"`
	Chats    []ChatState   `json:"chats"`
}

// StatusState is a named agent status.
type StatusState struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
}

// AgentState is an agent account and its session.
type AgentState struct {
	Agent
	LoggedIn            bool      `json:"loggedIn"`
	SessionID           string    `json:"sessionId,omitempty"`
	Presence            string    `json:"presence,omitempty"`
	MissedIntervals     int       `json:"missedIntervals"`
	SecondsToDisconnect int       `json:"secondsToDisconnect"`
	StatusType          string    `json:"statusType,omitempty"`
	StatusName          string    `json:"statusName,omitempty"`
	ActiveSessions      int       `json:"activeSessions"`
	LastPoll            time.Time `json:"lastPoll,omitzero"`
}

// ChatState is one chat.
type ChatState struct {
	ChatID         string    `json:"chatId"`
	QueueID        string    `json:"queueId"`
	CustomerName   string    `json:"customerName"`
	State          string    `json:"state"`
	AgentAccountID string    `json:"agentAccountId,omitempty"`
	EndReason      string    `json:"endReason,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	OfferExpiresAt time.Time `json:"offerExpiresAt,omitzero"`
	EndedAt        time.Time `json:"endedAt,omitzero"`
	// The polling customer (chats created with customerPolls): presence ACTIVE or ABSENT
	// while the chat lasts, missed intervals, last poll.
	CustomerPolls           bool      `json:"customerPolls,omitempty"`
	CustomerPresence        string    `json:"customerPresence,omitempty"`
	CustomerMissedIntervals int       `json:"customerMissedIntervals,omitempty"`
	CustomerLastPoll        time.Time `json:"customerLastPoll,omitzero"`
	// Participants are the agents in the chat beside its owner (transfer, conference,
	// consult), in routing order; CONCLUDED ones stay after the chat ended.
	Participants []ParticipantState `json:"participants,omitempty"`
}

// ParticipantState is one agent in a chat beside its owner.
type ParticipantState struct {
	AgentAccountID string    `json:"agentAccountId"`
	RouteType      string    `json:"routeType"`
	QueueID        string    `json:"queueId"`
	State          string    `json:"state"` // OFFERED, ACTIVE, CONCLUDED
	OfferExpiresAt time.Time `json:"offerExpiresAt,omitzero"`
}

// Dump returns a snapshot of the whole mock (after firing the timers due now).
func (s *Server) Dump() State {
	now := s.begin()
	defer s.mu.Unlock()
	out := State{
		Now:              now.UTC(),
		Sites:            []SiteState{},
		Faults:           []Fault{},
		Calls:            maps.Clone(s.w.calls),
		RouteEvaluations: maps.Clone(s.w.routeEvals),

		RespondEvaluations: maps.Clone(s.w.respondEvals),
	}
	for _, af := range s.w.faults {
		f := af.Fault
		f.Count = af.left // what is left of it
		out.Faults = append(out.Faults, f)
	}
	for _, name := range s.w.sortedSiteNames() {
		st := s.w.sites[name]
		ss := SiteState{
			Name:     name,
			LastSeq:  s.seqs[name],
			Queues:   []Queue{},
			Statuses: []StatusState{},
			Agents:   []AgentState{},
			Chats:    []ChatState{},
		}
		for _, id := range st.queueOrder {
			ss.Queues = append(ss.Queues, *st.queues[id])
		}
		for _, n := range st.statusOrder {
			ss.Statuses = append(ss.Statuses, StatusState{Name: n, Available: st.statuses[n]})
		}
		for _, id := range st.agentOrder {
			a := st.agents[id]
			as := AgentState{
				Agent:               a.Agent,
				LoggedIn:            a.loggedIn,
				Presence:            a.presence(),
				MissedIntervals:     a.missed,
				SecondsToDisconnect: s.secondsToDisconnect(a, now),
				StatusType:          st.statusType(a),
				ActiveSessions:      st.activeSessions(id),
			}
			as.Queues = append([]string{}, a.Queues...)
			if a.loggedIn || a.disconnected {
				as.SessionID = a.sessionID
			}
			if a.loggedIn {
				as.StatusName = a.statusName
				as.LastPoll = a.lastPoll.UTC()
			}
			ss.Agents = append(ss.Agents, as)
		}
		for _, id := range st.chatOrder {
			c := st.chats[id]
			var participants []ParticipantState
			for _, p := range c.participants {
				participants = append(participants, ParticipantState{
					AgentAccountID: p.agentID,
					RouteType:      p.routeType,
					QueueID:        p.queueID,
					State:          p.state,
					OfferExpiresAt: p.offerExpires.UTC(),
				})
			}
			ss.Chats = append(ss.Chats, ChatState{
				ChatID:         c.id,
				QueueID:        c.queueID,
				CustomerName:   c.customerName,
				State:          c.state,
				AgentAccountID: c.agentID,
				EndReason:      c.endReason,
				CreatedAt:      c.createdAt.UTC(),
				OfferExpiresAt: c.offerExpires.UTC(),
				EndedAt:        c.endedAt.UTC(),

				CustomerPolls:           c.customerPolls,
				CustomerPresence:        c.customerPresence(),
				CustomerMissedIntervals: c.customerMissed,
				CustomerLastPoll:        c.customerLastPoll.UTC(),
				Participants:            participants,
			})
		}
		out.Sites = append(out.Sites, ss)
	}
	return out
}
