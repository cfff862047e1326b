package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// presenceReasons are the red reasons that come from the agent's CRM chat connection; a
// presence event may clear only these (and only ABSENT comes back by itself: a disconnected
// or logged-off agent must log in again). statusReasons come from the CRM status.
var (
	recoverablePresence = map[string]bool{string(bridgeerr.AgentAbsent): true}
	statusReasons       = map[string]bool{string(bridgeerr.AgentNotActive): true}
)

// agentEvent keeps the agent's channel true to the CRM: presence and status changes turn it
// red or green, the media bar is told, and the ACD is set not ready (or ready again, when
// configured) so no chat is routed into a dead session.
func (s *Service) agentEvent(ctx context.Context, site string, ev CRMEvent) error {
	if ev.AgentAccountID == "" {
		return nil
	}
	agentID, err := s.store.AgentByAccount(ctx, site, ev.AgentAccountID)
	if errors.Is(err, ErrNotFound) {
		return nil // not logged in to the media bar
	}
	if err != nil {
		return err
	}
	// Decided and written against the session as stored, atomically: a concurrent change of
	// the channel (a pop's result, another event) makes this read again and decide again.
	var next Channel
	var changed bool
	_, err = s.store.UpdateAgentSession(ctx, agentID, func(sess *AgentSession) (bool, error) {
		if sess.Site != site || sess.CRMAccountID != ev.AgentAccountID {
			changed = false
			return false, nil
		}
		next, changed = s.channelAfter(site, sess.Channel, ev)
		if !changed {
			return false, nil
		}
		// The ACD first (durable outbox), as everywhere: keyed by the event, so a replayed
		// event, or a second try of this update, is applied once.
		key := site + ":" + strconv.FormatInt(ev.Seq, 10) + ":" + agentID
		switch {
		case sess.Channel.Green && !next.Green:
			if err := s.enqueueACD(ctx, agentStateCall(agentID, false, "notready:"+key, next.Reason)); err != nil {
				return false, err
			}
		case !sess.Channel.Green && next.Green && s.opts.ReadyOnGreen:
			if err := s.enqueueACD(ctx, agentStateCall(agentID, true, "ready:"+key, "crm_green")); err != nil {
				return false, err
			}
		}
		sess.Channel = next
		return true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil // logged out of the media bar meanwhile
	}
	if err != nil || !changed {
		return err
	}
	s.log.Info("agent channel changed", "agent_id", agentID, "green", next.Green, "reason", next.Reason, "crm_event", ev.Type)
	s.publishChannel(ctx, agentID, next)
	return nil
}

// channelAfter computes the channel after one CRM agent event.
func (s *Service) channelAfter(site string, cur Channel, ev CRMEvent) (Channel, bool) {
	cat := s.opts.Sites[site].Catalog
	// The reason is the CRM's code (what a pop would have answered); the words come from
	// the catalog's channel row.
	red := func(code, words bridgeerr.Code, reason string) Channel {
		e := cat.Lookup(string(words))
		return Channel{Reason: string(code), Banner: e.Channel == bridgeerr.ChannelBanner,
			Message: e.Render(bridgeerr.MessageVars{Code: string(code), ReasonCode: reason, AccountID: ev.AgentAccountID})}
	}
	next := cur
	switch ev.Type {
	case CRMAgentConnectionStateChanged:
		switch ev.Presence {
		case "ACTIVE":
			if !cur.Green && recoverablePresence[cur.Reason] {
				next = Channel{Green: true}
			}
		case "ABSENT":
			if cur.Green || recoverablePresence[cur.Reason] || statusReasons[cur.Reason] {
				next = red(bridgeerr.AgentAbsent, bridgeerr.ChannelAbsent, "ABSENT")
				next.SecondsToDisconnect = ev.SecondsToDisconnect
				next.Message += fmt.Sprintf(" The CRM will disconnect you in %d s (missed presence intervals: %d).", ev.SecondsToDisconnect, ev.MissedIntervals)
			}
		case "DISCONNECTED":
			next = red(bridgeerr.AgentDisconnected, bridgeerr.ChannelDisconnected, "DISCONNECTED")
		}
	case CRMAgentStatusChanged:
		switch ev.StatusType {
		case "AVAILABLE":
			if !cur.Green && statusReasons[cur.Reason] {
				next = Channel{Green: true}
			}
		case "UNAVAILABLE":
			if cur.Green || statusReasons[cur.Reason] {
				next = red(bridgeerr.AgentNotActive, bridgeerr.ChannelStatusUnavailable, ev.StatusName)
			}
		}
	case CRMAgentLoggedOff:
		// The CRM logs a disconnected agent off right after: keep the more specific reason.
		if cur.Reason != string(bridgeerr.AgentDisconnected) {
			next = red(bridgeerr.InvalidAgentSession, bridgeerr.ChannelLoggedOff, "AgentLoggedOff")
		}
	}
	return next, next != cur
}
