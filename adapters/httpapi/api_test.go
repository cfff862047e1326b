package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

var secret = acdapi.Secret("test-webhook-secret-0123456789")

type env struct {
	srv   *httptest.Server
	store *sessions.Store
	svc   *bridge.Service
	crm   *bridgetest.CRM
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rdb, prefix := sessionstest.Redis(t)
	return newEnvOn(t, rdb, prefix)
}

func newEnvOn(t *testing.T, rdb redis.UniversalClient, prefix string) *env {
	t.Helper()
	return newEnvWith(t, rdb, prefix, func(*httpapi.Options) {})
}

// newEnvWith is newEnvOn with the HTTP options adjusted.
func newEnvWith(t *testing.T, rdb redis.UniversalClient, prefix string, adjust func(*httpapi.Options)) *env {
	t.Helper()
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	crm := &bridgetest.CRM{}
	svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default(),
		Queues: map[string]bridge.QueueOptions{"sales": {Name: "Sales", DispositionRequired: true, Dispositions: []string{"Resolved"}}}}},
		PopBudget: time.Second}, bridge.Deps{CRM: crm, ACD: &bridgetest.ACD{}, Store: store, Work: store, Events: store})
	if err != nil {
		t.Fatal(err)
	}
	opts := httpapi.Options{WebhookSecrets: []acdapi.Secret{secret}, MaxBodyBytes: 4096,
		TokenSecret: []byte("token-secret-0123456789-0123456789"), AdminToken: "admin-token-0123456789", SSEPoll: 10 * time.Millisecond}
	adjust(&opts)
	api := httpapi.New(opts, svc, store, nil, nil, nil)
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, svc: svc, crm: crm}
}

func (e *env) post(t *testing.T, path string, headers map[string]string, body []byte) (*http.Response, httpapi.ErrorBody) {
	t.Helper()
	resp, raw := e.postRaw(t, path, headers, body)
	var eb httpapi.ErrorBody
	_ = json.Unmarshal(raw, &eb)
	return resp, eb
}

// postRaw is post returning the answer's raw body.
func (e *env) postRaw(t *testing.T, path string, headers map[string]string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func signed(id string, body []byte) map[string]string {
	return acdapi.Headers(secret, id, time.Now(), body)
}

const routedBody = `{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"sales","agentId":"a1","routeType":"lead"}}`

func TestWebhookBadInputIsRefusedAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	tooBig := []byte(`{"type":"interaction.routed","pad":"` + strings.Repeat("x", 5000) + `"}`)
	tests := []struct {
		name       string
		body       []byte
		headers    func(body []byte) map[string]string
		wantStatus int
		wantField  string
	}{
		{name: "no signature", body: []byte(routedBody), headers: func([]byte) map[string]string { return nil }, wantStatus: 401, wantField: "webhook-signature"},
		{name: "tampered body", body: []byte(routedBody), headers: func(b []byte) map[string]string {
			return signed("e1", []byte(strings.Replace(routedBody, "a1", "a2", 1)))
		}, wantStatus: 401, wantField: "webhook-signature"},
		{name: "replayed outside window", body: []byte(routedBody), headers: func(b []byte) map[string]string {
			return acdapi.Headers(secret, "e1", time.Now().Add(-time.Hour), b)
		}, wantStatus: 401, wantField: "webhook-signature"},
		{name: "malformed JSON", body: []byte(`{"type":`), wantStatus: 400, wantField: "body"},
		{name: "missing field", body: []byte(strings.Replace(routedBody, `"chatId":"c1",`, "", 1)), wantStatus: 400, wantField: "data.chatId"},
		{name: "unknown event type", body: []byte(strings.Replace(routedBody, "interaction.routed", "interaction.exploded", 1)), wantStatus: 422, wantField: "type"},
		{name: "unknown site", body: []byte(strings.Replace(routedBody, `"site":"demo"`, `"site":"mars"`, 1)), wantStatus: 422, wantField: "data.site"},
		{name: "too large", body: tooBig, wantStatus: 413, wantField: "body"},
		{name: "bad timestamp", body: []byte(strings.Replace(routedBody, "2026-11-21T10:00:00Z", "yesterday", 1)), wantStatus: 400, wantField: "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signed("evt-"+tt.name, tt.body)
			if tt.headers != nil {
				h = tt.headers(tt.body)
			}
			resp, eb := e.post(t, "/v1/acd/events", h, tt.body)
			if resp.StatusCode != tt.wantStatus || eb.Field != tt.wantField || eb.Message == "" {
				t.Errorf("POST = %d %+v, want %d on field %q with a message", resp.StatusCode, eb, tt.wantStatus, tt.wantField)
			}
		})
	}
	legs, err := e.store.InteractionLegs(context.Background(), "i1")
	if err != nil || len(legs) != 0 {
		t.Errorf("refused webhooks stored %d legs (%v)", len(legs), err)
	}
	if depth, _ := e.store.Depth(context.Background(), bridge.QueuePops); depth != 0 {
		t.Errorf("refused webhooks queued %d pops", depth)
	}
}

func TestWebhookAcceptedThenDuplicate(t *testing.T) {
	e := newEnv(t)
	body := []byte(routedBody)
	resp, raw := e.postRaw(t, "/v1/acd/events", signed("evt-1", body), body)
	if resp.StatusCode != http.StatusAccepted || strings.Contains(string(raw), "duplicate_event") {
		t.Fatalf("first delivery = %d %s, want 202, not a duplicate event", resp.StatusCode, raw)
	}
	// The new routing recorded its webhook id with its leg.
	if first, err := e.store.FirstDelivery(context.Background(), "evt-1", time.Hour); err != nil || first {
		t.Fatalf("webhook id after the first delivery: first=%v %v, want recorded already", first, err)
	}
	resp, raw = e.postRaw(t, "/v1/acd/events", signed("evt-1", body), body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"duplicate_event":true`) {
		t.Fatalf("repeat delivery = %d %s, want 200 duplicate with duplicate_event", resp.StatusCode, raw)
	}
	if depth, _ := e.store.Depth(context.Background(), bridge.QueuePops); depth != 1 {
		t.Errorf("pop queue depth = %d, want 1", depth)
	}
}

// A new routing whose agent event cannot be written (the stream key holds a string: Redis
// answers WRONGTYPE) is still recorded with its pop, and its first delivery is not answered as
// a duplicate event although the webhook id was marked in the same round trip.
func TestWebhookFirstDeliveryIsNotADuplicateWhenItsEventFails(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	e := newEnvOn(t, rdb, prefix)
	ctx := context.Background()
	if err := rdb.Set(ctx, e.store.Keys().Events("a1"), "not a stream", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	body := []byte(routedBody)
	resp, raw := e.postRaw(t, "/v1/acd/events", signed("evt-1", body), body)
	if resp.StatusCode != http.StatusAccepted || strings.Contains(string(raw), "duplicate_event") {
		t.Fatalf("first delivery with the agent's event failing = %d %s, want 202, not a duplicate event", resp.StatusCode, raw)
	}
	if depth, _ := e.store.Depth(ctx, bridge.QueuePops); depth != 1 {
		t.Errorf("pop queue depth = %d, want 1", depth)
	}
	resp, raw = e.postRaw(t, "/v1/acd/events", signed("evt-1", body), body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"duplicate_event":true`) {
		t.Fatalf("repeat delivery = %d %s, want 200 with duplicate_event", resp.StatusCode, raw)
	}
}

func (e *env) login(t *testing.T, agent string) string {
	t.Helper()
	body, _ := json.Marshal(httpapi.LoginRequest{AgentID: agent, Site: "demo", CRMAccountID: "acct-" + agent, CRMChatSessionID: "sess-acct-" + agent})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/mediabar/login", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login %s = %v %v", agent, resp.StatusCode, err)
	}
	defer resp.Body.Close()
	var lr httpapi.LoginResponse
	_ = json.NewDecoder(resp.Body).Decode(&lr)
	return lr.Token
}

func (e *env) get(t *testing.T, path, token string) (int, httpapi.ErrorBody) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&eb)
	return resp.StatusCode, eb
}

func TestMediabarAuthorization(t *testing.T) {
	e := newEnv(t)
	tokA, tokB := e.login(t, "a1"), e.login(t, "a2")
	ctx := context.Background()
	out, err := e.svc.Routed(ctx, bridge.Routed{InteractionID: "i1", RoutingID: "r1", ChatID: "c1", Site: "demo", QueueID: "sales", AgentID: "a1", RouteType: bridge.RouteLead})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	forged := tokA[:len(tokA)-4] + "AAAA"
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"owner reads", "GET", "/v1/mediabar/interactions/i1", tokA, 200},
		{"other agent reads", "GET", "/v1/mediabar/interactions/i1", tokB, 403},
		{"other agent timeline", "GET", "/v1/mediabar/interactions/i1/timeline", tokB, 403},
		{"other agent completes", "POST", "/v1/mediabar/interactions/i1/complete", tokB, 403},
		{"no token", "GET", "/v1/mediabar/me", "", 401},
		{"forged token", "GET", "/v1/mediabar/me", forged, 401},
		{"garbage token", "GET", "/v1/mediabar/me", "v1.x.y", 401},
		{"unknown interaction", "GET", "/v1/mediabar/interactions/nope", tokA, 404},
		{"admin route with agent token", "GET", "/v1/interactions/i1/timeline", tokA, 401},
		{"admin route with admin token", "GET", "/v1/interactions/i1/timeline", "admin-token-0123456789", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
	// The other agent's refused complete changed nothing.
	in, _ := e.svc.AgentLeg(ctx, "a1", "i1")
	if in.State != bridge.StateOffered {
		t.Errorf("state after refused cross-agent complete = %s, want offered", in.State)
	}
}

func TestLoginBadInput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, body string
		want       int
		field      string
	}{
		{"not json", `{`, 400, "body"},
		{"missing agent", `{"site":"demo","crmAccountId":"x","crmChatSessionId":"y"}`, 400, "agentId"},
		{"wrong type", `{"agentId":5}`, 400, "agentId"},
		{"unknown field", `{"agentId":"a","site":"demo","crmAccountId":"x","crmChatSessionId":"y","role":"admin"}`, 400, "body"},
		{"control chars", `{"agentId":"a\r\nb","site":"demo","crmAccountId":"x","crmChatSessionId":"y"}`, 400, "agentId"},
		{"unknown site", `{"agentId":"a","site":"mars","crmAccountId":"x","crmChatSessionId":"y"}`, 422, "site"},
	}
	for _, tt := range tests {
		resp, eb := e.post(t, "/v1/mediabar/login", nil, []byte(tt.body))
		if resp.StatusCode != tt.want || eb.Field != tt.field {
			t.Errorf("%s: login = %d %+v, want %d field %q", tt.name, resp.StatusCode, eb, tt.want, tt.field)
		}
	}
	e.crm.AgentSessionFn = func(context.Context, string, string) (bridge.CRMAgentSession, error) {
		return bridge.CRMAgentSession{Code: "INVALID_AGENT_SESSION"}, nil
	}
	resp, eb := e.post(t, "/v1/mediabar/login", nil, []byte(`{"agentId":"a","site":"demo","crmAccountId":"x","crmChatSessionId":"y"}`))
	if resp.StatusCode != 409 || !strings.Contains(eb.Message, "CRM") {
		t.Errorf("login without CRM session = %d %+v, want 409 with an actionable message", resp.StatusCode, eb)
	}
}

func TestEventsResumeWithLastEventID(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, "a1")
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		id, err := e.store.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated, AgentID: "a1", Channel: &bridge.Channel{Green: i%2 == 0}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	got := readSSE(t, e.srv.URL+"/v1/mediabar/events", tok, ids[0], 2)
	if len(got) != 2 || got[0] != ids[1] || got[1] != ids[2] {
		t.Errorf("resumed ids = %v, want %v", got, ids[1:])
	}
	if code, eb := e.get(t, "/v1/mediabar/events?last_event_id=../../etc", tok); code != 400 || eb.Field != "Last-Event-ID" {
		t.Errorf("bad Last-Event-ID = %d %+v, want 400", code, eb)
	}
}

// readSSE reads n event ids from the stream after lastID.
func readSSE(t *testing.T, url, token, lastID string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", lastID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ids []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && len(ids) < n {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// Complete's body is optional however it is framed: an empty chunked body completes.
func TestCompleteWithEmptyChunkedBody(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, "a1")
	e.crm.RouteChatFn = func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		return bridge.RouteResult{Code: "CHAT_ID_UNKNOWN"}, nil
	}
	ctx := context.Background()
	out, err := e.svc.Routed(ctx, bridge.Routed{InteractionID: "i1", RoutingID: "r1", ChatID: "c1", Site: "demo", QueueID: "sales", AgentID: "a1", RouteType: bridge.RouteLead})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	// An io.Reader of unknown length makes the client send chunked (no Content-Length).
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/mediabar/interactions/i1/complete", io.MultiReader(strings.NewReader("")))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("complete with an empty chunked body = %d, want 200", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/v1/mediabar/interactions/i1/complete", strings.NewReader(`{"disposition":`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("complete with a truncated body = %d, want 400", resp.StatusCode)
	}
}

// With the state store gone, valid webhooks are answered 503 (retry), never 500 or 2xx.
func TestWebhookAnswers503WhenTheStoreIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	e := newEnvOn(t, dead, "mbbtest:down")
	for _, body := range []string{
		routedBody,
		`{"type":"interaction.revoked","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","agentId":"a1"}}`,
		`{"type":"interaction.abandoned","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","agentId":"a1","stage":"alerting"}}`,
	} {
		resp, eb := e.post(t, "/v1/acd/events", signed("evt-down", []byte(body)), []byte(body))
		if resp.StatusCode != http.StatusServiceUnavailable || eb.Error != "store_unavailable" {
			t.Errorf("%.40s… with Redis down = %d %+v, want 503 store_unavailable", body, resp.StatusCode, eb)
		}
	}
}

// With the state store gone, a logged-in agent's calls answer 503 (retry), not 500.
func TestMediabarAnswers503WhenTheStoreIsDown(t *testing.T) {
	tok := newEnv(t).login(t, "a1") // same token secret as the env below
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	e := newEnvOn(t, dead, "mbbtest:down")
	for _, path := range []string{"/v1/mediabar/me", "/v1/mediabar/interactions", "/v1/mediabar/interactions/i1"} {
		if status, eb := e.get(t, path, tok); status != http.StatusServiceUnavailable || eb.Error != "store_unavailable" {
			t.Errorf("GET %s with Redis down = %d %+v, want 503 store_unavailable", path, status, eb)
		}
	}
}

// The admin timeline reads the store directly (no session check first): with the store gone
// it answers 503 (retry), not 500.
func TestAdminTimelineAnswers503WhenTheStoreIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	e := newEnvOn(t, dead, "mbbtest:down")
	if status, eb := e.get(t, "/v1/interactions/i1/timeline", "admin-token-0123456789"); status != http.StatusServiceUnavailable || eb.Error != "store_unavailable" {
		t.Errorf("admin timeline with Redis down = %d %+v, want 503 store_unavailable", status, eb)
	}
}

// ?routing_id= names one leg of the interaction: a bad one is refused naming the parameter,
// an unknown one is 404, and the agent's own leg answers.
func TestMediabarRoutingIDSelectsTheLeg(t *testing.T) {
	e := newEnv(t)
	tok := e.login(t, "a1")
	resp, eb := e.post(t, "/v1/acd/events", signed("evt-r1", []byte(routedBody)), []byte(routedBody))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("routed webhook = %d %+v", resp.StatusCode, eb)
	}
	in, err := e.svc.AgentLeg(context.Background(), "a1", "i1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		query     string
		want      int
		wantField string
	}{
		{"?routing_id=" + in.RoutingID, http.StatusOK, ""},
		{"?routing_id=nope", http.StatusNotFound, ""},
		{"?routing_id=%0a", http.StatusBadRequest, "routing_id"},
		{"?routing_id=" + strings.Repeat("r", 300), http.StatusBadRequest, "routing_id"},
	} {
		status, eb := e.get(t, "/v1/mediabar/interactions/i1"+tt.query, tok)
		if status != tt.want || eb.Field != tt.wantField {
			t.Errorf("GET interaction%.30s = %d %+v, want %d naming %q", tt.query, status, eb, tt.want, tt.wantField)
		}
	}
}
