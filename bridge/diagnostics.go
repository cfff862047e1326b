package bridge

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ACDState is the agent's ready flag as the ACD last reported it (agent.state_changed).
type ACDState struct {
	Ready  bool      `json:"ready"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"` // when the ACD says the flag changed (its event's timestamp)
}

// ACDAgentState records the ready flag the ACD reports for a logged-in agent, as of at (the
// event's timestamp; zero: now). An agent with no media-bar session is ErrNotFound: there is
// nobody to show it to. Webhooks can arrive out of order (the ACD retries, or delivers
// concurrently): a report older than the one recorded is ignored, so a late "ready" cannot
// hide a newer "not ready".
func (s *Service) ACDAgentState(ctx context.Context, agentID string, ready bool, reason string, at time.Time) error {
	if at.IsZero() {
		at = s.clock.Now()
	}
	_, err := s.store.UpdateAgentSession(ctx, agentID, func(sess *AgentSession) (bool, error) {
		if sess.ACD != nil && at.Before(sess.ACD.At) {
			s.obs.Absorbed("stale_agent_state")
			return false, nil
		}
		if sess.ACD != nil && sess.ACD.Ready == ready && sess.ACD.Reason == reason {
			return false, nil // a repeat: keep the time it changed
		}
		sess.ACD = &ACDState{Ready: ready, Reason: reason, At: at}
		return true, nil
	})
	return err
}

// Diagnostics answers the agent's "why am I not getting chats?" from every side at once.
type Diagnostics struct {
	AgentID string    `json:"agent_id"`
	Channel Channel   `json:"channel"`
	ACD     *ACDState `json:"acd,omitempty"` // nil: the ACD has not reported since login
	// CRM is the CRM's live view of the agent's chat session; CRMError says why it is
	// missing (the CRM did not answer).
	CRM      *CRMAgentSession `json:"crm,omitempty"`
	CRMError string           `json:"crm_error,omitempty"`
	// Interactions are the agent's open legs, newest first, with the wrap-up deadline where
	// the queue has a wrap-up timeout. The first is the last offer and its verbatim result.
	Interactions []DiagnosticLeg `json:"interactions"`
	// Stream is the health of the agent's live event streams (the media bar's SSE
	// connections, on whichever replicas hold them); nil when the replica does not track them.
	Stream *StreamHealth `json:"stream,omitempty"`
	// Reasons lists, in words, everything in the way of a new chat; empty when nothing is.
	Reasons []string  `json:"reasons"`
	At      time.Time `json:"at"`
}

// StreamHealth is what the replicas last reported of an agent's live event streams. Each
// open stream reports itself on open and then on its heartbeats; a replica that dies stops
// reporting, and its streams drop out once their report is older than the report TTL.
type StreamHealth struct {
	// Connected: at least one stream reported within the TTL.
	Connected bool `json:"connected"`
	// Streams counts the streams that did (one per open media-bar tab).
	Streams    int        `json:"streams"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	// LastEventID is the newest event id a stream had delivered at its last report;
	// LatestEventID is the newest event in the agent's stream now. A stream a heartbeat or
	// more behind is normal; one that is not connected gets nothing until it reconnects.
	LastEventID   string `json:"last_event_id,omitempty"`
	LatestEventID string `json:"latest_event_id,omitempty"`
}

// StreamReport is one open stream as its replica reports it for StreamHealth.
type StreamReport struct {
	AgentID, ConnID, LastEventID string
}

// WithStream adds the stream health, and a reason when no stream is connected: offers would
// then reach the CRM console but never show on the media bar.
func (d *Diagnostics) WithStream(h StreamHealth) {
	d.Stream = &h
	if !h.Connected {
		d.Reasons = append(d.Reasons, "Your media bar has no live event stream connected: new offers and status changes will not show until it reconnects. Reload the media bar if this persists.")
	}
}

// DiagnosticLeg is one open leg as diagnostics show it.
type DiagnosticLeg struct {
	InteractionID string     `json:"interaction_id"`
	State         State      `json:"state"`
	Code          string     `json:"code,omitempty"`
	Message       string     `json:"message,omitempty"`
	RoutedAt      time.Time  `json:"routed_at"`
	WrapUpDueAt   *time.Time `json:"wrap_up_due_at,omitempty"`
}

// Diagnose reads the agent's session, open legs and the CRM's view of its chat session.
func (s *Service) Diagnose(ctx context.Context, agentID string) (Diagnostics, error) {
	sess, err := s.Session(ctx, agentID)
	if err != nil {
		return Diagnostics{}, err
	}
	d := Diagnostics{AgentID: agentID, Channel: sess.Channel, ACD: sess.ACD, At: s.clock.Now(), Interactions: []DiagnosticLeg{}}
	legs, err := s.store.AgentLegs(ctx, agentID)
	if err != nil {
		return Diagnostics{}, err
	}
	slices.SortFunc(legs, func(a, b *Interaction) int { return b.RoutedAt.Compare(a.RoutedAt) })
	wrapUps := 0
	for _, l := range legs {
		dl := DiagnosticLeg{InteractionID: l.InteractionID, State: l.State, Code: l.Code, Message: l.Message, RoutedAt: l.RoutedAt}
		if l.State == StateWrapUp {
			wrapUps++
			if q, _ := s.Queue(l.Site, l.QueueID); q.WrapUpTimeout > 0 {
				due := l.UpdatedAt.Add(q.WrapUpTimeout)
				dl.WrapUpDueAt = &due
			}
		}
		d.Interactions = append(d.Interactions, dl)
	}
	crm, err := s.crm.AgentSession(ctx, sess.Site, sess.CRMAccountID)
	if err != nil {
		if ctx.Err() != nil {
			return Diagnostics{}, ctx.Err()
		}
		d.CRMError = err.Error()
	} else {
		d.CRM = &crm
	}
	d.Reasons = reasonsNoChats(d, wrapUps)
	return d, nil
}

// reasonsNoChats says, for people, what stands between the agent and a new chat.
func reasonsNoChats(d Diagnostics, wrapUps int) []string {
	r := []string{}
	if !d.Channel.Green {
		r = append(r, fmt.Sprintf("Your chat channel is red (%s): %s", d.Channel.Reason, d.Channel.Message))
	}
	if d.ACD != nil && !d.ACD.Ready {
		r = append(r, fmt.Sprintf("The routing system has you as not ready (%s) since %s.", d.ACD.Reason, d.ACD.At.Format(time.RFC3339)))
	}
	switch c := d.CRM; {
	case d.CRMError != "":
		r = append(r, "The CRM chat server did not answer about your chat session: "+d.CRMError)
	case c.Code != "SUCCESS":
		r = append(r, fmt.Sprintf("The CRM chat server does not have a usable chat session for you (%s). Log in to chat in the CRM console, then log in here again.", c.Code))
	case !c.LoggedIn:
		r = append(r, "You are not logged in to CRM chat. Log in to chat in the CRM console, then log in here again.")
	default:
		if c.Presence != "" && c.Presence != "ACTIVE" {
			r = append(r, fmt.Sprintf("The CRM sees your chat console as %s (%d s to disconnect). Check the CRM console is open and connected.", c.Presence, c.SecondsToDisconnect))
		}
		if c.StatusType != "" && c.StatusType != "AVAILABLE" {
			r = append(r, fmt.Sprintf("Your CRM chat status is %q, which is not available. Set an available status such as Unrestricted.", c.StatusName))
		}
		if c.MaxSessions > 0 && c.ActiveSessions >= c.MaxSessions {
			r = append(r, fmt.Sprintf("All your chat slots are in use (%d of %d).", c.ActiveSessions, c.MaxSessions))
		}
	}
	if wrapUps > 0 {
		r = append(r, fmt.Sprintf("You have %d chat(s) in wrap-up: complete them to free the slot.", wrapUps))
	}
	return r
}
