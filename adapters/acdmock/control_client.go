package acdmock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ControlClient drives a simulator over /control/v1. Its errors are *Error with the same
// kinds as the in-process methods.
type ControlClient struct {
	base string
	hc   *http.Client
}

// NewControlClient talks to the simulator at baseURL (nil hc: http.DefaultClient).
func NewControlClient(baseURL string, hc *http.Client) *ControlClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &ControlClient{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// Reset mirrors Server.Reset.
func (c *ControlClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/control/v1/reset", nil, nil)
}

// AddQueue mirrors Server.AddQueue.
func (c *ControlClient) AddQueue(ctx context.Context, q Queue) error {
	return c.do(ctx, http.MethodPost, "/control/v1/queues", q, nil)
}

// AddAgent mirrors Server.AddAgent.
func (c *ControlClient) AddAgent(ctx context.Context, a Agent) error {
	return c.do(ctx, http.MethodPost, "/control/v1/agents", a, nil)
}

// SetAgentReady mirrors Server.SetAgentReady.
func (c *ControlClient) SetAgentReady(ctx context.Context, id string, ready bool, reason string) error {
	return c.do(ctx, http.MethodPut, "/control/v1/agents/"+url.PathEscape(id)+"/ready", readyRequest{Ready: ready, Reason: reason}, nil)
}

// CreateInteraction mirrors Server.CreateInteraction.
func (c *ControlClient) CreateInteraction(ctx context.Context, chatID, site, queueID string) (string, error) {
	var resp createResponse
	err := c.do(ctx, http.MethodPost, "/control/v1/interactions", createRequest{ChatID: chatID, Site: site, QueueID: queueID}, &resp)
	return resp.InteractionID, err
}

// RouteTo mirrors Server.RouteTo.
func (c *ControlClient) RouteTo(ctx context.Context, interactionID, agentID, routeType string) (string, error) {
	var resp routeToResponse
	err := c.do(ctx, http.MethodPost, "/control/v1/interactions/"+url.PathEscape(interactionID)+"/route-to", routeToRequest{AgentID: agentID, RouteType: routeType}, &resp)
	return resp.RoutingID, err
}

// Revoke mirrors Server.Revoke.
func (c *ControlClient) Revoke(ctx context.Context, interactionID string) error {
	return c.do(ctx, http.MethodPost, "/control/v1/interactions/"+url.PathEscape(interactionID)+"/revoke", nil, nil)
}

// Abandon mirrors Server.Abandon.
func (c *ControlClient) Abandon(ctx context.Context, interactionID, stage string) error {
	return c.do(ctx, http.MethodPost, "/control/v1/interactions/"+url.PathEscape(interactionID)+"/abandon", abandonRequest{Stage: stage}, nil)
}

// Accept mirrors Server.Accept.
func (c *ControlClient) Accept(ctx context.Context, interactionID, routingID string) error {
	return c.do(ctx, http.MethodPost, "/control/v1/interactions/"+url.PathEscape(interactionID)+"/accept", controlAcceptRequest{RoutingID: routingID}, nil)
}

// Advance mirrors Server.Advance and returns the simulated clock after it.
func (c *ControlClient) Advance(ctx context.Context, d time.Duration) (time.Time, error) {
	var resp advanceResponse
	err := c.do(ctx, http.MethodPost, "/control/v1/clock/advance", advanceRequest{Duration: d.String()}, &resp)
	return resp.Now, err
}

// Agent mirrors Server.Agent; a missing agent is (zero, false, nil).
func (c *ControlClient) Agent(ctx context.Context, id string) (AgentView, bool, error) {
	var v AgentView
	err := c.do(ctx, http.MethodGet, "/control/v1/agents/"+url.PathEscape(id), nil, &v)
	if errors.Is(err, ErrNotFound) {
		return AgentView{}, false, nil
	}
	return v, err == nil, err
}

// SetDown mirrors Server.SetDown.
func (c *ControlClient) SetDown(ctx context.Context, down bool) error {
	return c.do(ctx, http.MethodPut, "/control/v1/down", downRequest{Down: down}, nil)
}

// Calls mirrors Server.Calls.
func (c *ControlClient) Calls(ctx context.Context) ([]Call, error) {
	var calls []Call
	err := c.do(ctx, http.MethodGet, "/control/v1/calls", nil, &calls)
	return calls, err
}

// Applied mirrors Server.Applied: id is an interaction, a routing or (agent_state) an agent.
func (c *ControlClient) Applied(ctx context.Context, kind, id string) (int, error) {
	var resp appliedResponse
	q := url.Values{"kind": {kind}, "id": {id}}
	err := c.do(ctx, http.MethodGet, "/control/v1/applied?"+q.Encode(), nil, &resp)
	return resp.Count, err
}

// Interaction mirrors Server.Interaction; a missing interaction is (zero, false, nil).
func (c *ControlClient) Interaction(ctx context.Context, id string) (InteractionView, bool, error) {
	var v InteractionView
	err := c.do(ctx, http.MethodGet, "/control/v1/interactions/"+url.PathEscape(id), nil, &v)
	if errors.Is(err, ErrNotFound) {
		return InteractionView{}, false, nil
	}
	return v, err == nil, err
}

// Webhooks mirrors Server.Webhooks.
func (c *ControlClient) Webhooks(ctx context.Context) ([]WebhookDelivery, error) {
	var ws []WebhookDelivery
	err := c.do(ctx, http.MethodGet, "/control/v1/webhooks", nil, &ws)
	return ws, err
}

// Flush mirrors Server.Flush.
func (c *ControlClient) Flush(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/control/v1/flush", nil, nil)
}

func (c *ControlClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("acdmock control %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("acdmock control %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("acdmock control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("acdmock control %s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		_ = json.Unmarshal(raw, &eb)
		return &Error{Kind: kindOf(resp.StatusCode), Field: eb.Field, Reason: eb.Error}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("acdmock control %s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}
