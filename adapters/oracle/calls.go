package oracle

// The port methods (bridge.CRM) and intake's WaitingChats.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// CodeError is a CRM answer whose result code has no place in the method's return values:
// it wraps bridge.ErrUnavailable for the CRM's own failures (UNKNOWN_ERROR,
// RNW_API_EXCEPTION) and bridge.ErrRejected for every other code (see crmcode.Error).
type CodeError = crmcode.Error

// RouteChat pops req.ChatID to req.AgentAccountID. The whole call, including the resolution
// below, stays within Config.PopBudget; each HTTP attempt within Config.CallTimeout.
//
// When chatRouted gets no usable answer (timeout, dropped connection, 5xx), the pop may or may
// not have reached the CRM, so it is never simply sent again: the engagement is read first,
// and if it is already OFFERED/ACTIVE to this agent the pop succeeded; otherwise chatRouted is
// replayed with the same TransactionID, which the CRM answers with its first answer if it had
// one. An open breaker fails at once.
func (c *Client) RouteChat(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("chatRouted", req.Site)
	if err != nil {
		return bridge.RouteResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PopBudget)
	defer cancel()

	return crmcode.ResolveRoute(ctx, c.log, req, c.cfg.Retries,
		func(ctx context.Context) (bridge.RouteResult, error) { return c.routeOnce(ctx, s, req) },
		func(ctx context.Context) (bridge.Engagement, error) { return c.engagement(ctx, s, req.ChatID) })
}

// routeOnce sends chatRouted once (retryablehttp may repeat it on 5xx/429, never on a
// transport failure — see crmcode.ResolveRoute).
func (c *Client) routeOnce(ctx context.Context, s *siteConn, req bridge.RouteRequest) (bridge.RouteResult, error) {
	ctx = resilient.WithoutTransportRetry(ctx)
	r, err := withSession(ctx, c, s, "chatRouted", func(ctx context.Context, token string) (routeReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "chatRouted",
			method: http.MethodPost,
			path:   "/chatRouted",
			token:  token,
			body: chatRoutedRequest{
				ChatID:         req.ChatID,
				AgentAccountID: req.AgentAccountID,
				QueueID:        req.QueueID,
				TransactionID:  req.TransactionID,
				RouteType:      wireRouteType(req.RouteType),
			},
		})
		if err != nil {
			return routeReply{}, err
		}
		r, err := decodeRouteReply(body)
		if err != nil {
			return r, fmt.Errorf("oracle chatRouted site %s chat %s: %w", s.name, req.ChatID, err)
		}
		return r, nil
	})
	if err != nil {
		return bridge.RouteResult{}, err
	}
	return bridge.RouteResult{
		Code:            r.ResultCode,
		EngagementState: r.EngagementState,
		OfferExpiresIn:  r.OfferExpiresInSeconds.duration(),
	}, nil
}

// RespondOffer answers the agent's pending offer (accept or decline) and returns the CRM's
// result code verbatim. The whole call stays within the ordinary call budget; each HTTP
// attempt within Config.CallTimeout. Unlike a pop it is retried after a transport failure or
// timeout as well as after 5xx/429, always with the same transactionId: the CRM answers a
// replay with its first answer and never applies it twice, so a lost answer is simply asked
// for again. Without a TransactionID that would not be safe, so the call is refused before
// the wire (ErrRejected). An open breaker fails at once.
func (c *Client) RespondOffer(ctx context.Context, req bridge.OfferResponse) (string, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("respond", req.Site)
	if err != nil {
		return "", err
	}
	if req.TransactionID == "" {
		return "", fmt.Errorf("oracle respond site %s chat %s: no TransactionID: %w", s.name, req.ChatID, bridge.ErrRejected)
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	r, err := withSession(ctx, c, s, "respond", func(ctx context.Context, token string) (respondReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "respond",
			method: http.MethodPost,
			path:   "/engagements/" + url.PathEscape(req.ChatID) + "/respond",
			token:  token,
			body: respondRequest{
				AgentAccountID: req.AgentAccountID,
				Action:         wireAction(req.Accept),
				TransactionID:  req.TransactionID,
			},
		})
		if err != nil {
			return respondReply{}, err
		}
		r, err := decodeRespondReply(body)
		if err != nil {
			return r, fmt.Errorf("oracle respond site %s chat %s: %w", s.name, req.ChatID, err)
		}
		return r, nil
	})
	if err != nil {
		return "", err
	}
	return r.ResultCode, nil
}

// Engagement reads one chat's state.
func (c *Client) Engagement(ctx context.Context, site, chatID string) (bridge.Engagement, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("engagement", site)
	if err != nil {
		return bridge.Engagement{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	return c.engagement(ctx, s, chatID)
}

func (c *Client) engagement(ctx context.Context, s *siteConn, chatID string) (bridge.Engagement, error) {
	r, err := withSession(ctx, c, s, "engagement", func(ctx context.Context, token string) (engagementReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "engagement",
			method: http.MethodGet,
			path:   "/engagements/" + url.PathEscape(chatID),
			token:  token,
		})
		if err != nil {
			return engagementReply{}, err
		}
		r, err := decodeEngagementReply(body)
		if err != nil {
			return r, fmt.Errorf("oracle engagement site %s chat %s: %w", s.name, chatID, err)
		}
		return r, nil
	})
	if err != nil {
		return bridge.Engagement{}, err
	}
	return r.engagement(), nil
}

// AgentSession reads an agent's CRM chat session.
func (c *Client) AgentSession(ctx context.Context, site, accountID string) (bridge.CRMAgentSession, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("agentSession", site)
	if err != nil {
		return bridge.CRMAgentSession{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	r, err := withSession(ctx, c, s, "agentSession", func(ctx context.Context, token string) (agentSessionReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "agentSession",
			method: http.MethodGet,
			path:   "/agents/" + url.PathEscape(accountID) + "/session",
			token:  token,
		})
		if err != nil {
			return agentSessionReply{}, err
		}
		r, err := decode[agentSessionReply](body)
		if err != nil {
			return r, fmt.Errorf("oracle agentSession site %s agent %s: %w", s.name, accountID, err)
		}
		return r, nil
	})
	if err != nil {
		return bridge.CRMAgentSession{}, err
	}
	return bridge.CRMAgentSession{
		Code:                r.ResultCode,
		LoggedIn:            r.LoggedIn,
		SessionID:           r.SessionID,
		Presence:            r.Presence,
		MissedIntervals:     r.MissedIntervals,
		SecondsToDisconnect: r.SecondsToDisconnect.int(),
		StatusType:          r.StatusType,
		StatusName:          r.StatusName,
		ActiveSessions:      r.ActiveSessions,
		MaxSessions:         r.MaxSessions,
	}, nil
}

// PollEvents long-polls the site's event feed for events after afterSeq. The CRM's timeout
// marker is an empty slice with a nil error. A result code other than SUCCESS is a *CodeError.
func (c *Client) PollEvents(ctx context.Context, site string, afterSeq int64) ([]bridge.CRMEvent, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("poll", site)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.PollAttempt()))
	defer cancel()
	var events []bridge.CRMEvent
	r, err := withSession(ctx, c, s, "poll", func(ctx context.Context, token string) (pollReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "poll",
			method: http.MethodPost,
			path:   "/events/poll",
			token:  token,
			body:   pollRequest{AfterSeq: afterSeq, WaitSeconds: c.cfg.pollWaitSeconds()},
			poll:   true,
		})
		if err != nil {
			return pollReply{}, err
		}
		r, evs, err := decodeEvents(body)
		if err != nil {
			return r, fmt.Errorf("oracle poll site %s: %w", s.name, err)
		}
		events = evs
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	if r.ResultCode != codeSuccess {
		return nil, &CodeError{Adapter: "oracle", Op: "poll", Site: s.name, Code: r.ResultCode}
	}
	return events, nil
}

// WaitingChats lists the chats waiting in an (external) queue. A result code other than
// SUCCESS is a *CodeError.
func (c *Client) WaitingChats(ctx context.Context, site, queueID string) ([]bridge.WaitingChat, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("waitingChats", site)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	r, err := withSession(ctx, c, s, "waitingChats", func(ctx context.Context, token string) (waitingReply, error) {
		body, err := c.send(ctx, s, exchange{
			op:     "waitingChats",
			method: http.MethodGet,
			path:   "/queues/" + url.PathEscape(queueID) + "/engagements",
			query:  url.Values{"state": {bridge.EngagementWaiting}},
			token:  token,
		})
		if err != nil {
			return waitingReply{}, err
		}
		r, err := decode[waitingReply](body)
		if err != nil {
			return r, fmt.Errorf("oracle waitingChats site %s queue %s: %w", s.name, queueID, err)
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	if r.ResultCode != codeSuccess {
		return nil, &CodeError{Adapter: "oracle", Op: "waitingChats", Site: s.name, Code: r.ResultCode}
	}
	chats := make([]bridge.WaitingChat, 0, len(r.Engagements))
	for _, e := range r.Engagements {
		chats = append(chats, bridge.WaitingChat{
			ChatID:       e.ChatID,
			QueueID:      e.QueueID,
			CustomerName: e.CustomerName,
			Waiting:      e.WaitingSeconds.duration(),
		})
	}
	return chats, nil
}
