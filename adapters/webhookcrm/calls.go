package webhookcrm

// The port methods (bridge.CRM).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

const codeSuccess = string(bridgeerr.Success)

// CodeError is a CRM answer whose result code has no place in the method's return values:
// it wraps bridge.ErrUnavailable for the CRM's own failures (UNKNOWN_ERROR,
// RNW_API_EXCEPTION) and bridge.ErrRejected for every other code (see crmcode.Error).
type CodeError = crmcode.Error

// RouteChat routes req.ChatID to req.AgentAccountID under the Idempotency-Key
// req.TransactionID. The whole call, including the resolution below, stays within
// Config.PopBudget; each HTTP attempt within Config.CallTimeout.
//
// The route is idempotent by key, so it is only ever repeated under the same key: 5xx and
// 429 answers (the CRM did not act) are retried at once. When the route gets no answer at
// all (timeout, dropped connection) the CRM may or may not have acted, so the chat is read
// first: OFFERED or ACTIVE to this agent means the route landed; otherwise the route is
// replayed under the same key, which the CRM answers with its first answer if it had one.
// An open breaker fails at once.
func (c *Client) RouteChat(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("route", req.Site)
	if err != nil {
		return bridge.RouteResult{}, err
	}
	if req.TransactionID == "" {
		// Without a key the route could not be retried or resolved safely.
		return bridge.RouteResult{}, fmt.Errorf("webhookcrm route site %s chat %s: no TransactionID for the Idempotency-Key: %w", s.name, req.ChatID, bridge.ErrRejected)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PopBudget)
	defer cancel()

	return crmcode.ResolveRoute(ctx, c.log, req, c.cfg.Retries,
		func(ctx context.Context) (bridge.RouteResult, error) { return c.routeOnce(ctx, s, req) },
		func(ctx context.Context) (bridge.Engagement, error) { return c.chat(ctx, s, req.ChatID) })
}

// routeOnce sends the route once (retryablehttp may repeat it on 5xx/429, never on a
// transport failure — see RouteChat).
func (c *Client) routeOnce(ctx context.Context, s *siteConn, req bridge.RouteRequest) (bridge.RouteResult, error) {
	body, err := c.send(resilient.WithoutTransportRetry(ctx), s, exchange{
		op:             "route",
		method:         http.MethodPost,
		path:           "/routes",
		body:           routeRequest{ChatID: req.ChatID, AgentID: req.AgentAccountID, QueueID: req.QueueID, RouteType: wireRouteType(req.RouteType)},
		idempotencyKey: req.TransactionID,
	})
	if err != nil {
		return bridge.RouteResult{}, err
	}
	r, err := decode[routeReply](body)
	if err != nil {
		return bridge.RouteResult{}, fmt.Errorf("webhookcrm route site %s chat %s: %w", s.name, req.ChatID, err)
	}
	return bridge.RouteResult{
		Code:            r.Result,
		EngagementState: r.EngagementState,
		OfferExpiresIn:  r.OfferExpiresInSeconds.duration(),
	}, nil
}

// RespondOffer answers the agent's pending offer (accept or decline) under the
// Idempotency-Key req.TransactionID and returns the CRM's result verbatim. The whole call
// stays within the ordinary call budget; each HTTP attempt within Config.CallTimeout. Unlike
// a route it is retried after a transport failure or timeout as well as after 5xx/429,
// always under the same key: the CRM answers a replay with its first answer and never
// applies it twice, so a lost answer is simply asked for again. Without a key the call is
// refused before the wire (ErrRejected). An open breaker fails at once.
func (c *Client) RespondOffer(ctx context.Context, req bridge.OfferResponse) (string, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("response", req.Site)
	if err != nil {
		return "", err
	}
	if req.TransactionID == "" {
		return "", fmt.Errorf("webhookcrm response site %s chat %s: no TransactionID for the Idempotency-Key: %w", s.name, req.ChatID, bridge.ErrRejected)
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	body, err := c.send(ctx, s, exchange{
		op:             "response",
		method:         http.MethodPost,
		path:           "/chats/" + url.PathEscape(req.ChatID) + "/responses",
		body:           responseRequest{AgentID: req.AgentAccountID, Action: wireAction(req.Accept)},
		idempotencyKey: req.TransactionID,
	})
	if err != nil {
		return "", err
	}
	r, err := decode[responseReply](body)
	if err != nil {
		return "", fmt.Errorf("webhookcrm response site %s chat %s: %w", s.name, req.ChatID, err)
	}
	return r.Result, nil
}

// Engagement reads one chat's state.
func (c *Client) Engagement(ctx context.Context, site, chatID string) (bridge.Engagement, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("chat", site)
	if err != nil {
		return bridge.Engagement{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	return c.chat(ctx, s, chatID)
}

func (c *Client) chat(ctx context.Context, s *siteConn, chatID string) (bridge.Engagement, error) {
	body, err := c.send(ctx, s, exchange{op: "chat", method: http.MethodGet, path: "/chats/" + url.PathEscape(chatID)})
	if err != nil {
		return bridge.Engagement{}, err
	}
	eng, err := decodeChat(body)
	if err != nil {
		return bridge.Engagement{}, fmt.Errorf("webhookcrm chat site %s chat %s: %w", s.name, chatID, err)
	}
	return eng, nil
}

// AgentSession reads an agent's CRM chat session.
func (c *Client) AgentSession(ctx context.Context, site, accountID string) (bridge.CRMAgentSession, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("agent", site)
	if err != nil {
		return bridge.CRMAgentSession{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	body, err := c.send(ctx, s, exchange{op: "agent", method: http.MethodGet, path: "/agents/" + url.PathEscape(accountID)})
	if err != nil {
		return bridge.CRMAgentSession{}, err
	}
	r, err := decode[agentReply](body)
	if err != nil {
		return bridge.CRMAgentSession{}, fmt.Errorf("webhookcrm agent site %s agent %s: %w", s.name, accountID, err)
	}
	return bridge.CRMAgentSession{
		Code:                r.Result,
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
// marker is an empty slice with a nil error. A result other than SUCCESS is a *CodeError.
func (c *Client) PollEvents(ctx context.Context, site string, afterSeq int64) ([]bridge.CRMEvent, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("events", site)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.PollAttempt()))
	defer cancel()
	after := strconv.FormatInt(max(afterSeq, 0), 10) // the API has no negative sequence numbers
	body, err := c.send(ctx, s, exchange{
		op:     "events",
		method: http.MethodGet,
		path:   "/events",
		query:  url.Values{"after": {after}, "wait": {c.cfg.pollWaitSeconds()}},
		poll:   true,
	})
	if err != nil {
		return nil, err
	}
	r, events, err := decodeEvents(body)
	if err != nil {
		return nil, fmt.Errorf("webhookcrm events site %s: %w", s.name, err)
	}
	if r.Result != codeSuccess {
		return nil, &CodeError{Adapter: "webhookcrm", Op: "events", Site: s.name, Code: r.Result}
	}
	return events, nil
}

// WaitingChats lists the chats waiting in a queue (intake; implements bridge.ChatLister). A
// result other than SUCCESS is a *CodeError.
func (c *Client) WaitingChats(ctx context.Context, site, queueID string) ([]bridge.WaitingChat, error) {
	ctx = resilient.MarkCaller(ctx)
	s, err := c.site("waiting", site)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.CallBudget(c.cfg.CallTimeout))
	defer cancel()
	body, err := c.send(ctx, s, exchange{op: "waiting", method: http.MethodGet, path: "/queues/" + url.PathEscape(queueID) + "/waiting"})
	if err != nil {
		return nil, err
	}
	r, err := decode[waitingReply](body)
	if err != nil {
		return nil, fmt.Errorf("webhookcrm waiting site %s queue %s: %w", s.name, queueID, err)
	}
	if r.Result != string(bridgeerr.Success) {
		return nil, &CodeError{Adapter: "webhookcrm", Op: "waiting", Site: s.name, Code: r.Result}
	}
	chats := make([]bridge.WaitingChat, 0, len(r.Chats))
	for _, w := range r.Chats {
		chats = append(chats, bridge.WaitingChat{ChatID: w.ChatID, QueueID: w.QueueID, CustomerName: w.CustomerName, Waiting: w.WaitingSeconds.duration()})
	}
	return chats, nil
}
