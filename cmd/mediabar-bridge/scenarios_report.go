package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// The reporting scenarios check SPEC section 5 where a contact center reads it: the admin
// outcome export (GET /v1/reports/outcomes), one row per ended agent leg.

// outcomes returns the rows the outcome export has for one interaction.
func (h *harness) outcomes(ctx context.Context, iid string) ([]httpapi.OutcomeRow, error) {
	q := url.Values{"since": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "format": {"jsonl"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.bridgeURL+"/v1/reports/outcomes?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.cfg.Admin.Token.Value())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("outcome export: HTTP %d %s", resp.StatusCode, b)
	}
	var rows []httpapi.OutcomeRow
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r httpapi.OutcomeRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("outcome export line %q: %w", sc.Text(), err)
		}
		if r.InteractionID == iid {
			rows = append(rows, r)
		}
	}
	return rows, sc.Err()
}

// descriptorText is a row's descriptor as SPEC section 5 writes it.
func descriptorText(r httpapi.OutcomeRow) string {
	if r.Reason == "" {
		return r.Role + " / " + r.Result
	}
	return r.Role + " / " + r.Result + " [" + r.Reason + "]"
}

// expectOutcomes waits until the export reports exactly the wanted descriptors for the
// interaction (in any order), one row per leg: no leg twice, none missing.
func (h *harness) expectOutcomes(ctx context.Context, iid string, want ...string) error {
	slices.Sort(want)
	var got []string
	for {
		rows, err := h.outcomes(ctx, iid)
		if err != nil {
			return err
		}
		got = got[:0]
		legs := map[string]int{}
		for _, r := range rows {
			got = append(got, descriptorText(r))
			legs[r.RoutingID]++
		}
		for leg, n := range legs {
			if n > 1 {
				return fmt.Errorf("interaction %s: leg %s reported %d times", iid, leg, n)
			}
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interaction %s outcomes = [%s], want [%s]", iid, strings.Join(got, "; "), strings.Join(want, "; "))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ownRouting sets up a routing the scenario delivers itself (no mock ACD involved): a new
// agent, a new chat in chat-support, and an interaction id of its own with prefix.
func (h *harness) ownRouting(ctx context.Context, prefix string) (*scAgent, acdapi.Routed, error) {
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		return nil, acdapi.Routed{}, err
	}
	chat, err := h.newChat("chat-support")
	if err != nil {
		return nil, acdapi.Routed{}, err
	}
	h.n++
	return a, acdapi.Routed{InteractionID: fmt.Sprintf("%s-%d", prefix, h.n), RoutingID: "r1", ChatID: chat, Site: h.site,
		QueueID: "chat-support", AgentID: a.acdID, RouteType: "lead"}, nil
}

// webhookSecret is the bridge's first configured ACD webhook secret.
func (h *harness) webhookSecret() (acdapi.Secret, error) {
	return acdapi.ParseSecret(h.cfg.ACD.WebhookSecrets[0].Value())
}

// signedEvent builds an event body and its signed headers, as the ACD would send them.
func (h *harness) signedEvent(eventID, typ string, ts time.Time, data any) ([]byte, map[string]string, error) {
	body, err := acdapi.Build(typ, ts, data)
	if err != nil {
		return nil, nil, err
	}
	secret, err := h.webhookSecret()
	if err != nil {
		return nil, nil, err
	}
	return body, acdapi.Headers(secret, eventID, ts, body), nil
}

// postWebhook delivers a body with the given headers and returns the status and error body.
func (h *harness) postWebhook(ctx context.Context, body []byte, headers map[string]string) (int, httpapi.ErrorBody, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.bridgeURL+"/v1/acd/events", bytes.NewReader(body))
	if err != nil {
		return 0, httpapi.ErrorBody{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, httpapi.ErrorBody{}, err
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb, nil
}

// deliver signs and posts one event; any answer but 2xx is an error.
func (h *harness) deliver(ctx context.Context, eventID, typ string, data any) error {
	body, headers, err := h.signedEvent(eventID, typ, time.Now(), data)
	if err != nil {
		return err
	}
	status, eb, err := h.postWebhook(ctx, body, headers)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s answered %d %s: %s", typ, eventID, status, eb.Error, eb.Message)
	}
	return nil
}

// completeLeg completes the agent's leg once it reaches one of the states.
func completeLeg(ctx context.Context, a *scAgent, iid, disposition string, states ...bridge.State) error {
	if _, err := waitLeg(ctx, a, iid, "completable", inState(states...)); err != nil {
		return err
	}
	if _, err := a.mb.complete(ctx, iid, disposition); err != nil {
		return fmt.Errorf("agent %s completes %s: %w", a.acdID, iid, err)
	}
	return nil
}
