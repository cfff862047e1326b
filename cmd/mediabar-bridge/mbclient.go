package main

import (
	"bufio"
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

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// mediabarClient speaks the media-bar API over HTTP, as a media-bar frontend would.
type mediabarClient struct {
	base  string
	token string
	hc    *http.Client
}

// apiStatusError is a non-2xx answer with its decoded body.
type apiStatusError struct {
	Status int
	Body   httpapi.ErrorBody
}

func (e *apiStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s (field %q)", e.Status, e.Body.Error, e.Body.Message, e.Body.Field)
}

func newMediabarClient(base string) *mediabarClient {
	return &mediabarClient{base: base, hc: &http.Client{Timeout: 10 * time.Second}}
}

func (c *mediabarClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		e := &apiStatusError{Status: resp.StatusCode}
		_ = json.Unmarshal(raw, &e.Body)
		return e
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *mediabarClient) login(ctx context.Context, req httpapi.LoginRequest) error {
	var resp httpapi.LoginResponse
	if err := c.do(ctx, http.MethodPost, "/v1/mediabar/login", req, &resp); err != nil {
		return err
	}
	c.token = resp.Token
	return nil
}

func (c *mediabarClient) me(ctx context.Context) (httpapi.MeResponse, error) {
	var me httpapi.MeResponse
	err := c.do(ctx, http.MethodGet, "/v1/mediabar/me", nil, &me)
	return me, err
}

func (c *mediabarClient) interactions(ctx context.Context) ([]*bridge.Interaction, error) {
	var out struct {
		Interactions []*bridge.Interaction `json:"interactions"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/mediabar/interactions", nil, &out)
	return out.Interactions, err
}

func (c *mediabarClient) interaction(ctx context.Context, id string) (*bridge.Interaction, error) {
	var in bridge.Interaction
	if err := c.do(ctx, http.MethodGet, "/v1/mediabar/interactions/"+id, nil, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

func (c *mediabarClient) complete(ctx context.Context, id, disposition string) (*bridge.Interaction, error) {
	return c.completeLeg(ctx, id, "", disposition)
}

// legAction is the path of an action on interaction id, narrowed to one of its routings
// when routingID is set (the agent may hold more than one leg of it).
func legAction(id, routingID, action string) string {
	p := "/v1/mediabar/interactions/" + id + "/" + action
	if routingID != "" {
		p += "?routing_id=" + url.QueryEscape(routingID)
	}
	return p
}

// completeLeg completes one leg: routing routingID of interaction id ("" for the newest open).
func (c *mediabarClient) completeLeg(ctx context.Context, id, routingID, disposition string) (*bridge.Interaction, error) {
	var in bridge.Interaction
	if err := c.do(ctx, http.MethodPost, legAction(id, routingID, "complete"), httpapi.CompleteRequest{Disposition: disposition}, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// transfer asks for a transfer, conference or consult of the agent's active chat.
func (c *mediabarClient) transfer(ctx context.Context, id string, req httpapi.TransferRequest) (*bridge.Interaction, error) {
	var in bridge.Interaction
	if err := c.do(ctx, http.MethodPost, "/v1/mediabar/interactions/"+id+"/transfer", req, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// waitEvent reads the agent's event stream from its start until an event of the type comes.
func (c *mediabarClient) waitEvent(ctx context.Context, typ string) (bridge.Event, error) {
	ev, err := c.waitEventWhere(ctx, func(ev bridge.Event) bool { return ev.Type == typ })
	if err != nil {
		return ev, fmt.Errorf("no %s event: %w", typ, err)
	}
	return ev, nil
}

// stream opens the agent's event stream (query: "" or "?last_event_id=..."); ctx bounds it.
func (c *mediabarClient) stream(ctx context.Context, query string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/mediabar/events"+query, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{}).Do(req) // no client timeout: the stream stays open
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("event stream: HTTP %d", resp.StatusCode)
	}
	return resp, nil
}

// openStream opens the agent's event stream, as a media bar does, and reads it in the
// background until stop.
func (c *mediabarClient) openStream(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.stream(ctx, "")
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return func() { cancel(); <-done }, nil
}

// waitEventWhere reads the agent's event stream from its start until an event matches.
func (c *mediabarClient) waitEventWhere(ctx context.Context, match func(bridge.Event) bool) (bridge.Event, error) {
	resp, err := c.stream(ctx, "?last_event_id=0")
	if err != nil {
		return bridge.Event{}, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev bridge.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			continue // not an event (the reconnect frame)
		}
		if match(ev) {
			return ev, nil
		}
	}
	return bridge.Event{}, fmt.Errorf("none before the stream ended: %v", errors.Join(sc.Err(), ctx.Err()))
}

// answerOffer is the media bar's Accept or Decline ("accept" / "decline").
func (c *mediabarClient) answerOffer(ctx context.Context, id, verb string) (*bridge.Interaction, error) {
	return c.answerLeg(ctx, id, "", verb)
}

// answerLeg is answerOffer for one routing of the interaction.
func (c *mediabarClient) answerLeg(ctx context.Context, id, routingID, verb string) (*bridge.Interaction, error) {
	var in bridge.Interaction
	if err := c.do(ctx, http.MethodPost, legAction(id, routingID, verb), nil, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// diagnostics is the agent's "why am I not getting chats?".
func (c *mediabarClient) diagnostics(ctx context.Context) (bridge.Diagnostics, error) {
	var d bridge.Diagnostics
	err := c.do(ctx, http.MethodGet, "/v1/mediabar/diagnostics", nil, &d)
	return d, err
}
