package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// The ops port's /metrics carries what operators page on: webhook results by type, pops,
// requeues, queue depths and ages, interactions by state, breaker states.
func TestMetricsReportWhatHappened(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := newHarness(ctx, testEnv(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	a, err := h.newAgent(ctx, agentSetup{allowDecline: true})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		t.Fatal(err)
	}
	body, headers, err := h.signedEvent("evt-metrics-bad", acdapi.TypeRevoked, time.Now(), acdapi.Revoked{InteractionID: r.interactionID, AgentID: a.acdID})
	if err != nil {
		t.Fatal(err)
	}
	headers[acdapi.HeaderSignature] = "v1,AAAA"
	if status, _, err := h.postWebhook(ctx, body, headers); err != nil || status != 401 {
		t.Fatalf("bad signature: %d %v", status, err)
	}
	if err := h.crm.Respond(h.site, r.chatID, "decline"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitLeg(ctx, a, r.interactionID, "requeued", inState(bridge.StateRequeued)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // past the state collector's cache
	resp, err := http.Get(h.opsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	text := string(raw)
	for _, want := range []string{
		`mbb_webhook_events_total{result="accepted",type="interaction.routed"}`,
		`mbb_webhook_events_total{result="invalid_signature",type="unknown"} 1`,
		`mbb_pops_total{code="SUCCESS",decision="no_requeue"}`,
		`mbb_requeues_total{code="FLOW_AGENT_DECLINED",escalated="false"} 1`,
		`mbb_queue_depth{queue="acd-outbox"}`,
		`mbb_queue_oldest_seconds{queue="pops"}`,
		`mbb_interactions_open`,
		`mbb_interactions_stuck`,
		`mbb_breaker_state{state="closed",upstream="acd"} 1`,
		`mbb_state_read_up 1`,
		`mbb_pop_crm_seconds_bucket`,
		`go_gc_gogc_percent `, // the percent the GC floor sets (runtime.gc_min_heap_mib)
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(text, "mbb_"))
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A logged-in agent refreshes its token; the new one works, and no token gets nothing.
func TestTokenRefresh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := newHarness(ctx, testEnv(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	a, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := a.mb.do(ctx, http.MethodPost, "/v1/mediabar/token", nil, &resp); err != nil || resp.Token == "" || !resp.ExpiresAt.After(time.Now()) {
		t.Fatalf("refresh = %+v, %v", resp, err)
	}
	fresh := newMediabarClient(h.bridgeURL)
	fresh.token = resp.Token
	if _, err := fresh.me(ctx); err != nil {
		t.Errorf("the refreshed token does not work: %v", err)
	}
	var se *apiStatusError
	if err := newMediabarClient(h.bridgeURL).do(ctx, http.MethodPost, "/v1/mediabar/token", nil, nil); !errors.As(err, &se) || se.Status != 401 {
		t.Errorf("refresh without a token = %v, want 401", err)
	}
}
