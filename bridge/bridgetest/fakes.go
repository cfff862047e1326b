// Package bridgetest has hand-written fakes of the core's outside ports, with function
// fields so each test says exactly what the outside world answers.
package bridgetest

import (
	"context"
	"sync"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// CRM is a fake bridge.CRM. Nil functions answer SUCCESS / an available, present session /
// no events / SUCCESS to an offer response.
type CRM struct {
	RouteChatFn    func(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error)
	AgentSessionFn func(ctx context.Context, site, accountID string) (bridge.CRMAgentSession, error)
	EngagementFn   func(ctx context.Context, site, chatID string) (bridge.Engagement, error)
	PollEventsFn   func(ctx context.Context, site string, afterSeq int64) ([]bridge.CRMEvent, error)
	RespondOfferFn func(ctx context.Context, req bridge.OfferResponse) (string, error)

	mu        sync.Mutex
	routes    []bridge.RouteRequest
	responses []bridge.OfferResponse
}

var _ bridge.CRM = (*CRM)(nil)

// RouteChat records the request and answers with RouteChatFn.
func (c *CRM) RouteChat(ctx context.Context, req bridge.RouteRequest) (bridge.RouteResult, error) {
	c.mu.Lock()
	c.routes = append(c.routes, req)
	c.mu.Unlock()
	if c.RouteChatFn != nil {
		return c.RouteChatFn(ctx, req)
	}
	return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
}

// Routes returns every RouteChat request seen.
func (c *CRM) Routes() []bridge.RouteRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bridge.RouteRequest(nil), c.routes...)
}

// AgentSession answers with AgentSessionFn.
func (c *CRM) AgentSession(ctx context.Context, site, accountID string) (bridge.CRMAgentSession, error) {
	if c.AgentSessionFn != nil {
		return c.AgentSessionFn(ctx, site, accountID)
	}
	return bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "sess-" + accountID, Presence: "ACTIVE",
		StatusType: "AVAILABLE", StatusName: "Unrestricted", MaxSessions: 3}, nil
}

// Engagement answers with EngagementFn.
func (c *CRM) Engagement(ctx context.Context, site, chatID string) (bridge.Engagement, error) {
	if c.EngagementFn != nil {
		return c.EngagementFn(ctx, site, chatID)
	}
	return bridge.Engagement{Code: "SUCCESS", ChatID: chatID, State: bridge.EngagementWaiting}, nil
}

// PollEvents answers with PollEventsFn, or waits for ctx.
func (c *CRM) PollEvents(ctx context.Context, site string, afterSeq int64) ([]bridge.CRMEvent, error) {
	if c.PollEventsFn != nil {
		return c.PollEventsFn(ctx, site, afterSeq)
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// RespondOffer records the request and answers with RespondOfferFn (nil: SUCCESS).
func (c *CRM) RespondOffer(ctx context.Context, req bridge.OfferResponse) (string, error) {
	c.mu.Lock()
	c.responses = append(c.responses, req)
	c.mu.Unlock()
	if c.RespondOfferFn != nil {
		return c.RespondOfferFn(ctx, req)
	}
	return "SUCCESS", nil
}

// OfferResponses returns every RespondOffer request seen.
func (c *CRM) OfferResponses() []bridge.OfferResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bridge.OfferResponse(nil), c.responses...)
}

// ACD is a fake bridge.ACD that records calls.
type ACD struct {
	SendFn func(ctx context.Context, call bridge.ACDCall) error

	mu    sync.Mutex
	calls []bridge.ACDCall
}

var _ bridge.ACD = (*ACD)(nil)

// Send records the call when SendFn accepts it (nil SendFn accepts everything).
func (a *ACD) Send(ctx context.Context, call bridge.ACDCall) error {
	if a.SendFn != nil {
		if err := a.SendFn(ctx, call); err != nil {
			return err
		}
	}
	a.mu.Lock()
	a.calls = append(a.calls, call)
	a.mu.Unlock()
	return nil
}

// Calls returns the accepted calls.
func (a *ACD) Calls() []bridge.ACDCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]bridge.ACDCall(nil), a.calls...)
}

// Count returns how many accepted calls have that kind (and interaction, when not "").
func (a *ACD) Count(kind bridge.ACDCallKind, interactionID string) int {
	n := 0
	for _, c := range a.Calls() {
		if c.Kind == kind && (interactionID == "" || c.InteractionID == interactionID) {
			n++
		}
	}
	return n
}
