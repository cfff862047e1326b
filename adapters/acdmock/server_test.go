package acdmock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// newServer starts a simulator behind a real HTTP server.
func newServer(t *testing.T, opts acdmock.Options) (*acdmock.Server, *httptest.Server) {
	t.Helper()
	if opts.Site == "" {
		opts.Site = "site1"
	}
	s := acdmock.New(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	Status int
	Body   map[string]any
}

// call makes one raw HTTP request; key "" sends no Idempotency-Key.
func call(t *testing.T, hs *httptest.Server, method, path, key, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(acdmock.HeaderIdempotencyKey, key)
	}
	resp, err := hs.Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	r := reply{Status: resp.StatusCode}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("%s %s: reply %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return r
}

// setup adds queue q1 and the agents, in order.
func setup(t *testing.T, s *acdmock.Server, agents ...acdmock.Agent) {
	t.Helper()
	must(t, s.AddQueue(acdmock.Queue{ID: "q1", Name: "Sales"}))
	must(t, s.AddQueue(acdmock.Queue{ID: "q2", Name: "Support"}))
	for _, a := range agents {
		must(t, s.AddAgent(a))
	}
}

func ready(id string, queues ...string) acdmock.Agent {
	if len(queues) == 0 {
		queues = []string{"q1"}
	}
	return acdmock.Agent{ID: id, CRMAccountID: "crm-" + id, Queues: queues, Ready: true}
}

func TestRoutingPicksLongestIdleReadyAgentWithCapacity(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		give    []acdmock.Agent
		prepare func(t *testing.T, s *acdmock.Server)
		want    string // agent of the new interaction's routing; "" = stays queued
	}{
		{name: "longest idle first", give: []acdmock.Agent{ready("a1"), ready("a2"), ready("a3")}, want: "a1"},
		{
			name: "becoming ready again resets idleness",
			give: []acdmock.Agent{ready("a1"), ready("a2")},
			prepare: func(t *testing.T, s *acdmock.Server) {
				must(t, s.SetAgentReady("a1", false, "break"))
				must(t, s.SetAgentReady("a1", true, ""))
			},
			want: "a2",
		},
		{name: "not ready is skipped", give: []acdmock.Agent{{ID: "a1", Queues: []string{"q1"}}, ready("a2")}, want: "a2"},
		{name: "other queue is skipped", give: []acdmock.Agent{ready("a1", "q2"), ready("a2")}, want: "a2"},
		{
			name: "full agent is skipped",
			give: []acdmock.Agent{ready("a1"), ready("a2")},
			prepare: func(t *testing.T, s *acdmock.Server) {
				_, err := s.CreateInteraction(ctx, "c0", "", "q1") // a1, now full
				must(t, err)
			},
			want: "a2",
		},
		{
			name: "idle before busy with spare capacity",
			give: []acdmock.Agent{{ID: "a1", Queues: []string{"q1"}, Capacity: 3, Ready: true}, ready("a2")},
			prepare: func(t *testing.T, s *acdmock.Server) {
				_, err := s.CreateInteraction(ctx, "c0", "", "q1") // a1: 1 of 3
				must(t, err)
			},
			want: "a2",
		},
		{name: "nobody available: queued", give: []acdmock.Agent{{ID: "a1", Queues: []string{"q1"}}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newServer(t, acdmock.Options{})
			setup(t, s, tt.give...)
			if tt.prepare != nil {
				tt.prepare(t, s)
			}
			id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
			must(t, err)
			v, ok := s.Interaction(id)
			if !ok {
				t.Fatalf("Interaction(%q) not found", id)
			}
			if v.AgentID != tt.want {
				t.Errorf("routed to %q, want %q", v.AgentID, tt.want)
			}
			wantState := acdmock.StateRouting
			if tt.want == "" {
				wantState = acdmock.StateQueued
			}
			if v.State != wantState {
				t.Errorf("state = %q, want %q", v.State, wantState)
			}
		})
	}
}

func TestQueuedInteractionIsRoutedWhenAnAgentBecomesReady(t *testing.T) {
	s, _ := newServer(t, acdmock.Options{})
	setup(t, s, acdmock.Agent{ID: "a1", Queues: []string{"q1"}})
	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
	must(t, err)
	must(t, s.SetAgentReady("a1", true, ""))
	if v, _ := s.Interaction(id); v.AgentID != "a1" || v.RoutingID != "r1" {
		t.Errorf("after ready: agent %q routing %q, want a1 r1", v.AgentID, v.RoutingID)
	}
}

func TestRequeueAvoidsTheLastAgent(t *testing.T) {
	tests := []struct {
		name string
		solo bool
		want string
	}{
		{name: "another agent available", want: "a2"},
		{name: "only that agent", solo: true, want: "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s)
			if !tt.solo {
				// a2 is busy (1 of 2), so a1 (idle) is preferred on every pick but the one after a1 gave it back.
				must(t, s.AddAgent(acdmock.Agent{ID: "a2", Queues: []string{"q1"}, Capacity: 2, Ready: true}))
				_, err := s.CreateInteraction(ctx, "c0", "", "q1")
				must(t, err)
			}
			must(t, s.AddAgent(ready("a1")))
			id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
			must(t, err)
			v, _ := s.Interaction(id)
			if v.AgentID != "a1" {
				t.Fatalf("first routing to %q, want a1", v.AgentID)
			}
			got := call(t, hs, http.MethodPost, "/acd/v1/interactions/"+id+"/requeue", "k1",
				`{"routingId":"`+v.RoutingID+`","agentId":"a1","reasonCode":"AGENT_ABSENT"}`)
			if got.Status != http.StatusOK {
				t.Fatalf("requeue = %+v, want 200", got)
			}
			v, _ = s.Interaction(id)
			if v.AgentID != tt.want {
				t.Errorf("rerouted to %q, want %q", v.AgentID, tt.want)
			}
			if n := len(v.Routings); n != 2 || v.Routings[0].State != acdmock.StateRequeued || v.Routings[0].Reason != "AGENT_ABSENT" {
				t.Errorf("routings = %+v, want the first requeued with AGENT_ABSENT and a second one", v.Routings)
			}
		})
	}
}

// bridgeStub is a webhook receiver that verifies signatures and fails the first n deliveries.
type bridgeStub struct {
	mu       sync.Mutex
	failures int
	verifier acdapi.Verifier
	got      []acdapi.Event
	attempts int
	errs     []error
}

func (b *bridgeStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.attempts++
	if err := b.verifier.Verify(r.Header.Get(acdapi.HeaderID), r.Header.Get(acdapi.HeaderTimestamp), r.Header.Get(acdapi.HeaderSignature), body); err != nil {
		b.errs = append(b.errs, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if b.failures > 0 {
		b.failures--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	ev, err := acdapi.Parse(body)
	if err != nil {
		b.errs = append(b.errs, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	b.got = append(b.got, ev)
	w.WriteHeader(http.StatusAccepted)
}

func TestWebhookSignedAndRetriedUntil2xx(t *testing.T) {
	secret, err := acdapi.ParseSecret("whsec_" + "c2VjcmV0LWtleS1mb3ItdGVzdHM=")
	must(t, err)
	stub := &bridgeStub{failures: 2, verifier: acdapi.Verifier{Secrets: []acdapi.Secret{secret}, Tolerance: time.Minute}}
	bridge := httptest.NewServer(stub)
	t.Cleanup(bridge.Close)
	s, _ := newServer(t, acdmock.Options{WebhookURL: bridge.URL, WebhookSecret: secret, WebhookBackoff: time.Millisecond})
	setup(t, s, ready("a1"))

	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
	must(t, err)

	hooks := s.Webhooks()
	wantHooks := []acdmock.WebhookDelivery{{
		EventID: "evt_1", Type: acdapi.TypeRouted, InteractionID: id, RoutingID: "r1", AgentID: "a1",
		Attempts: 3, LastStatus: http.StatusAccepted, Delivered: true,
	}}
	if diff := cmp.Diff(wantHooks, hooks, cmpopts.IgnoreFields(acdmock.WebhookDelivery{}, "Body", "CreatedAt")); diff != "" {
		t.Errorf("Webhooks() mismatch (-want +got):\n%s", diff)
	}
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if len(stub.errs) != 0 {
		t.Fatalf("bridge stub refused deliveries: %v", stub.errs)
	}
	want := []acdapi.Event{{Type: acdapi.TypeRouted, Routed: &acdapi.Routed{
		InteractionID: id, RoutingID: "r1", ChatID: "chat-1", Site: "site1", QueueID: "q1", QueueName: "Sales",
		AgentID: "a1", CRMAccountID: "crm-a1", RouteType: "lead",
	}}}
	if diff := cmp.Diff(want, stub.got, cmpopts.IgnoreFields(acdapi.Event{}, "Timestamp")); diff != "" {
		t.Errorf("delivered events mismatch (-want +got):\n%s", diff)
	}
	if v, _ := s.Interaction(id); v.State != acdmock.StateAlerting {
		t.Errorf("state after delivery = %q, want %q", v.State, acdmock.StateAlerting)
	}
}

func TestWebhookGivesUpAfterRetries(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	s, _ := newServer(t, acdmock.Options{WebhookURL: down.URL, WebhookSecret: acdapi.Secret("k"), WebhookRetries: 2, WebhookBackoff: time.Millisecond})
	setup(t, s, ready("a1"))
	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
	must(t, err)
	hooks := s.Webhooks()
	if len(hooks) != 1 || hooks[0].Attempts != 3 || hooks[0].Delivered || hooks[0].LastStatus != http.StatusServiceUnavailable {
		t.Errorf("Webhooks() = %+v, want one undelivered event after 3 attempts", hooks)
	}
	if v, _ := s.Interaction(id); v.State != acdmock.StateRouting {
		t.Errorf("state = %q, want %q (never acknowledged)", v.State, acdmock.StateRouting)
	}
}

func TestRevokeAndAbandonSendTheirEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), ready("a2"))
	id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	must(t, s.Revoke(ctx, id))
	v, _ := s.Interaction(id)
	if v.AgentID != "a2" {
		t.Fatalf("after revoke routed to %q, want a2", v.AgentID)
	}
	must(t, s.Abandon(ctx, id, ""))

	type ev struct{ Type, InteractionID, RoutingID, AgentID string }
	var got []ev
	for _, h := range s.Webhooks() {
		got = append(got, ev{h.Type, h.InteractionID, h.RoutingID, h.AgentID})
	}
	want := []ev{
		{acdapi.TypeRouted, id, "r1", "a1"},
		{acdapi.TypeRevoked, id, "r1", "a1"},
		{acdapi.TypeRouted, id, "r2", "a2"},
		{acdapi.TypeAbandoned, id, "r2", "a2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	last := s.Webhooks()[3]
	parsed, err := acdapi.Parse(last.Body)
	must(t, err)
	if parsed.Abandoned == nil || parsed.Abandoned.Stage != acdapi.StageRouting {
		t.Errorf("abandoned event = %+v, want stage routing", parsed.Abandoned)
	}
	v, _ = s.Interaction(id)
	if v.State != acdmock.StateAbandoned || v.AbandonStage != acdapi.StageRouting {
		t.Errorf("state %q stage %q, want abandoned routing", v.State, v.AbandonStage)
	}
	// The agent still completes the abandoned interaction.
	if r := call(t, newHTTP(t, s), http.MethodPost, "/acd/v1/interactions/"+id+"/complete", "k1", `{"agentId":"a2"}`); r.Status != http.StatusOK {
		t.Errorf("complete after abandon = %+v, want 200", r)
	}
}

func newHTTP(t *testing.T, s *acdmock.Server) *httptest.Server {
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs
}

func TestTransferConferenceAndComplete(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), ready("a2"), ready("a3", "q2"))
	id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	path := "/acd/v1/interactions/" + id

	steps := []struct {
		name       string
		path, key  string
		body       string
		wantStatus int
		wantBody   map[string]any
	}{
		{"conference a2", path + "/route", "k1", `{"routingId":"r1","fromAgentId":"a1","routeType":"conference","targetAgentId":"a2"}`,
			http.StatusAccepted, map[string]any{"status": "routed", "routingId": "r2"}},
		{"a2 declines", path + "/requeue", "k2", `{"routingId":"r2","agentId":"a2","reasonCode":"declined"}`,
			http.StatusOK, map[string]any{"status": "requeued", "routingId": "r2"}},
		{"transfer to queue q2", path + "/route", "k3", `{"routingId":"r1","fromAgentId":"a1","routeType":"transfer","targetQueueId":"q2"}`,
			http.StatusAccepted, map[string]any{"status": "routed", "routingId": "r3"}},
		{"a1 completes", path + "/complete", "k4", `{"routingId":"r1","agentId":"a1","disposition":"transferred"}`,
			http.StatusOK, map[string]any{"status": "completed", "routingId": "r1"}},
		{"a3 completes", path + "/complete", "k5", `{"agentId":"a3","disposition":"sold"}`,
			http.StatusOK, map[string]any{"status": "completed", "routingId": "r3"}},
		{"complete again, new key", path + "/complete", "k6", `{"agentId":"a3"}`,
			http.StatusConflict, map[string]any{"error": "interaction " + id + " is already completed"}},
	}
	for _, st := range steps {
		got := call(t, hs, http.MethodPost, st.path, st.key, st.body)
		if diff := cmp.Diff(reply{st.wantStatus, st.wantBody}, got); diff != "" {
			t.Fatalf("%s: reply mismatch (-want +got):\n%s", st.name, diff)
		}
	}
	v, _ := s.Interaction(id)
	type leg struct{ RoutingID, AgentID, QueueID, RouteType, State string }
	var legs []leg
	for _, r := range v.Routings {
		legs = append(legs, leg{r.RoutingID, r.AgentID, r.QueueID, r.RouteType, r.State})
	}
	wantLegs := []leg{
		{"r1", "a1", "q1", "lead", acdmock.StateCompleted},
		{"r2", "a2", "q1", "conference", acdmock.StateRequeued},
		{"r3", "a3", "q2", "transfer", acdmock.StateCompleted},
	}
	if diff := cmp.Diff(wantLegs, legs); diff != "" {
		t.Errorf("routings mismatch (-want +got):\n%s", diff)
	}
	if v.State != acdmock.StateCompleted {
		t.Errorf("state = %q, want completed", v.State)
	}
}

func TestIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), ready("a2"))
	id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	path := "/acd/v1/interactions/" + id + "/requeue"
	body := `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`

	first := call(t, hs, http.MethodPost, path, "key-1", body)
	second := call(t, hs, http.MethodPost, path, "key-1", body)
	if first.Status != http.StatusOK {
		t.Fatalf("first requeue = %+v, want 200", first)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("replay differs from the first reply (-first +replay):\n%s", diff)
	}
	if n := s.Applied(acdmock.KindRequeue, id); n != 1 {
		t.Errorf("Applied(requeue, %q) = %d, want 1", id, n)
	}
	if v, _ := s.Interaction(id); len(v.Routings) != 2 {
		t.Errorf("routings = %d, want 2 (one requeue)", len(v.Routings))
	}
	var applied []bool
	for _, c := range s.Calls() {
		applied = append(applied, c.Applied)
	}
	if diff := cmp.Diff([]bool{true, false}, applied); diff != "" {
		t.Errorf("Calls() applied mismatch (-want +got):\n%s", diff)
	}

	reused := call(t, hs, http.MethodPost, "/acd/v1/interactions/"+id+"/complete", "key-1", `{"agentId":"a2"}`)
	if reused.Status != http.StatusUnprocessableEntity || reused.Body["field"] != acdmock.HeaderIdempotencyKey {
		t.Errorf("key reused on another route = %+v, want 422 naming the header", reused)
	}
}

// TestDownAnswers503AppliesNothingAndForgetsTheKey: while down every /acd/v1 call is 503 and
// changes nothing; the refusal is not stored under its Idempotency-Key, so the same call made
// once the ACD is back is applied, exactly once however often it is repeated.
func TestDownAnswers503AppliesNothingAndForgetsTheKey(t *testing.T) {
	tests := []struct {
		kind, method, path, body string
		id                       string // for Applied: interaction, routing or agent
		wantStatus               int
	}{
		{acdmock.KindCreate, http.MethodPost, "/acd/v1/interactions", `{"chatId":"chat-2","queueId":"q1"}`, "i2", http.StatusCreated},
		{acdmock.KindRequeue, http.MethodPost, "/acd/v1/interactions/i1/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT","targetQueueId":"q2"}`, "r1", http.StatusOK},
		{acdmock.KindComplete, http.MethodPost, "/acd/v1/interactions/i1/complete", `{"agentId":"a1","disposition":"sold"}`, "i1", http.StatusOK},
		{acdmock.KindRoute, http.MethodPost, "/acd/v1/interactions/i1/route", `{"fromAgentId":"a1","routeType":"consult","targetAgentId":"a2"}`, "r1", http.StatusAccepted},
		{acdmock.KindAccept, http.MethodPost, "/acd/v1/interactions/i1/accept", `{"routingId":"r1","agentId":"a1"}`, "i1", http.StatusOK},
		{acdmock.KindAgentState, http.MethodPut, "/acd/v1/agents/a2/state", `{"state":"not_ready","reason":"lunch"}`, "a2", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			ctx := context.Background()
			s, hs := newServer(t, acdmock.Options{AlertingTimeout: time.Minute, Now: frozen})
			setup(t, s, ready("a1"), ready("a2", "q1", "q2"))
			_, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
			must(t, err)
			snapshot := func() any {
				i1, _ := s.Interaction("i1")
				a1, _ := s.Agent("a1")
				a2, _ := s.Agent("a2")
				_, i2 := s.Interaction("i2")
				return []any{i1, a1, a2, i2, len(s.Webhooks())}
			}
			before := snapshot()

			s.SetDown(true)
			for range 2 {
				got := call(t, hs, tt.method, tt.path, "k1", tt.body)
				if got.Status != http.StatusServiceUnavailable || got.Body["error"] == "" {
					t.Errorf("while down = %+v, want 503 with an error", got)
				}
			}
			if diff := cmp.Diff(before, snapshot()); diff != "" {
				t.Errorf("while down the ACD changed (-before +after):\n%s", diff)
			}
			if n := s.Applied(tt.kind, tt.id); n != 0 {
				t.Errorf("Applied(%s, %s) while down = %d, want 0", tt.kind, tt.id, n)
			}

			s.SetDown(false)
			first := call(t, hs, tt.method, tt.path, "k1", tt.body)
			again := call(t, hs, tt.method, tt.path, "k1", tt.body)
			if first.Status != tt.wantStatus {
				t.Fatalf("after the outage, same key = %+v, want %d (the 503 was not stored)", first, tt.wantStatus)
			}
			if diff := cmp.Diff(first, again); diff != "" {
				t.Errorf("replay differs from the first reply (-first +replay):\n%s", diff)
			}
			if n := s.Applied(tt.kind, tt.id); n != 1 {
				t.Errorf("Applied(%s, %s) = %d, want 1", tt.kind, tt.id, n)
			}
			var applied []bool
			for _, c := range s.Calls() {
				applied = append(applied, c.Applied)
			}
			if diff := cmp.Diff([]bool{false, false, true, false}, applied); diff != "" {
				t.Errorf("Calls() applied (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppliedCounts: Applied counts the calls applied, by interaction, by routing (the one
// the call named or resolved to) or, for agent_state, by agent; replays and refusals are not
// counted.
func TestAppliedCounts(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), ready("a2"))
	id, err := s.CreateInteraction(ctx, "chat-1", "", "q1") // r1: a1
	must(t, err)
	path := "/acd/v1/interactions/" + id
	requeue := func(key, body string, want int) {
		t.Helper()
		if got := call(t, hs, http.MethodPost, path+"/requeue", key, body); got.Status != want {
			t.Fatalf("requeue %s = %+v, want %d", body, got, want)
		}
	}
	requeue("k1", `{"routingId":"r1","agentId":"a1"}`, http.StatusOK) // r2: a2
	requeue("k1", `{"routingId":"r1","agentId":"a1"}`, http.StatusOK) // replay
	requeue("k2", `{"routingId":"r1","agentId":"a1"}`, http.StatusConflict)
	requeue("k3", `{"agentId":"a2"}`, http.StatusOK) // resolves to r2; r3: a1
	if got := call(t, hs, http.MethodPost, path+"/route", "k4", `{"fromAgentId":"a1","routeType":"consult","targetAgentId":"a2"}`); got.Status != http.StatusAccepted {
		t.Fatalf("route = %+v, want 202", got)
	}
	if got := call(t, hs, http.MethodPut, "/acd/v1/agents/a2/state", "k5", `{"state":"not_ready"}`); got.Status != http.StatusOK {
		t.Fatalf("agent state = %+v, want 200", got)
	}

	cc := acdmock.NewControlClient(hs.URL, hs.Client())
	tests := []struct {
		kind, id string
		want     int
	}{
		{acdmock.KindRequeue, id, 2},
		{acdmock.KindRequeue, "r1", 1},
		{acdmock.KindRequeue, "r2", 1},
		{acdmock.KindRequeue, "r3", 0},
		{acdmock.KindRoute, "r3", 1}, // the asking leg, resolved from fromAgentId
		{acdmock.KindRoute, id, 1},
		{acdmock.KindAgentState, "a2", 1},
		{acdmock.KindComplete, id, 0},
	}
	for _, tt := range tests {
		if got := s.Applied(tt.kind, tt.id); got != tt.want {
			t.Errorf("Applied(%s, %s) = %d, want %d", tt.kind, tt.id, got, tt.want)
		}
		got, err := cc.Applied(ctx, tt.kind, tt.id)
		must(t, err)
		if got != tt.want {
			t.Errorf("control Applied(%s, %s) = %d, want %d", tt.kind, tt.id, got, tt.want)
		}
	}
}

func TestACDBadInput(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path, key  string
		body       string
		wantStatus int
		wantField  string
	}{
		{"no idempotency key", http.MethodPost, "/acd/v1/interactions", "", `{"chatId":"c","queueId":"q1"}`, 400, acdmock.HeaderIdempotencyKey},
		{"not JSON", http.MethodPost, "/acd/v1/interactions", "k", `{"chatId":`, 400, "body"},
		{"unknown field", http.MethodPost, "/acd/v1/interactions", "k", `{"chatId":"c","queueId":"q1","prio":1}`, 400, "prio"},
		{"wrong type", http.MethodPost, "/acd/v1/interactions", "k", `{"chatId":7,"queueId":"q1"}`, 400, "chatId"},
		{"missing chatId", http.MethodPost, "/acd/v1/interactions", "k", `{"queueId":"q1"}`, 400, "chatId"},
		{"unknown queue", http.MethodPost, "/acd/v1/interactions", "k", `{"chatId":"c","queueId":"nope"}`, 404, "queueId"},
		{"trailing data", http.MethodPost, "/acd/v1/interactions", "k", `{"chatId":"c","queueId":"q1"} {}`, 400, "body"},
		{"unknown interaction", http.MethodPost, "/acd/v1/interactions/i99/requeue", "k", `{"agentId":"a1"}`, 404, "id"},
		{"requeue without agent", http.MethodPost, "/acd/v1/interactions/i1/requeue", "k", `{"routingId":"r1"}`, 400, "agentId"},
		{"requeue by the wrong agent", http.MethodPost, "/acd/v1/interactions/i1/requeue", "k", `{"routingId":"r1","agentId":"a2"}`, 422, "agentId"},
		{"requeue to an unknown queue", http.MethodPost, "/acd/v1/interactions/i1/requeue", "k", `{"routingId":"r1","agentId":"a1","targetQueueId":"nope"}`, 404, "targetQueueId"},
		{"requeue target queue not a string", http.MethodPost, "/acd/v1/interactions/i1/requeue", "k", `{"agentId":"a1","targetQueueId":["q2"]}`, 400, "targetQueueId"},
		{"requeue target queue with control characters", http.MethodPost, "/acd/v1/interactions/i1/requeue", "k", `{"agentId":"a1","targetQueueId":"q\u0007"}`, 422, "targetQueueId"},
		{"unknown routing", http.MethodPost, "/acd/v1/interactions/i1/complete", "k", `{"routingId":"r9","agentId":"a1"}`, 404, "routingId"},
		{"route type lead", http.MethodPost, "/acd/v1/interactions/i1/route", "k", `{"fromAgentId":"a1","routeType":"lead","targetAgentId":"a2"}`, 422, "routeType"},
		{"route with two targets", http.MethodPost, "/acd/v1/interactions/i1/route", "k", `{"fromAgentId":"a1","routeType":"transfer","targetAgentId":"a2","targetQueueId":"q1"}`, 400, "targetAgentId"},
		{"route to a not-ready agent", http.MethodPost, "/acd/v1/interactions/i1/route", "k", `{"fromAgentId":"a1","routeType":"consult","targetAgentId":"a2"}`, 409, "targetAgentId"},
		{"bad agent state", http.MethodPut, "/acd/v1/agents/a1/state", "k", `{"state":"busy"}`, 422, "state"},
		{"unknown agent", http.MethodPut, "/acd/v1/agents/zz/state", "k", `{"state":"ready"}`, 404, "id"},
		{"accept without agent", http.MethodPost, "/acd/v1/interactions/i1/accept", "k", `{"routingId":"r1"}`, 400, "agentId"},
		{"accept by the wrong agent", http.MethodPost, "/acd/v1/interactions/i1/accept", "k", `{"routingId":"r1","agentId":"a2"}`, 422, "agentId"},
		{"accept unknown routing", http.MethodPost, "/acd/v1/interactions/i1/accept", "k", `{"routingId":"r9","agentId":"a1"}`, 404, "routingId"},
		{"accept unknown interaction", http.MethodPost, "/acd/v1/interactions/i9/accept", "k", `{"agentId":"a1"}`, 404, "id"},
		{"accept unknown field", http.MethodPost, "/acd/v1/interactions/i1/accept", "k", `{"agentId":"a1","when":"now"}`, 400, "when"},
		{"accept without idempotency key", http.MethodPost, "/acd/v1/interactions/i1/accept", "", `{"agentId":"a1"}`, 400, acdmock.HeaderIdempotencyKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s, ready("a1"), acdmock.Agent{ID: "a2", Queues: []string{"q1"}})
			_, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			got := call(t, hs, tt.method, tt.path, tt.key, tt.body)
			if got.Status != tt.wantStatus || got.Body["field"] != tt.wantField || got.Body["error"] == "" {
				t.Errorf("%s %s %s = %d %v, want %d with field %q", tt.method, tt.path, tt.body, got.Status, got.Body, tt.wantStatus, tt.wantField)
			}
			for _, c := range s.Calls() {
				if c.Applied {
					t.Errorf("call %+v applied, want nothing applied", c)
				}
			}
		})
	}
}

func TestControlClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{})
	cc := acdmock.NewControlClient(hs.URL, hs.Client())

	must(t, cc.AddQueue(ctx, acdmock.Queue{ID: "q1", Name: "Sales"}))
	must(t, cc.AddAgent(ctx, acdmock.Agent{ID: "a1", CRMAccountID: "crm-a1", Queues: []string{"q1"}}))
	must(t, cc.AddAgent(ctx, ready("a2")))
	id, err := cc.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	must(t, cc.SetAgentReady(ctx, "a1", true, ""))
	rid, err := cc.RouteTo(ctx, id, "a1", "consult")
	must(t, err)
	if rid != "r2" {
		t.Errorf("RouteTo = %q, want r2", rid)
	}
	must(t, cc.Revoke(ctx, id))
	must(t, cc.Abandon(ctx, id, acdapi.StageAlerting))

	got, ok, err := cc.Interaction(ctx, id)
	must(t, err)
	want, _ := s.Interaction(id)
	if !ok {
		t.Fatalf("Interaction(%q) not found", id)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("Interaction over HTTP differs from in-process (-want +got):\n%s", diff)
	}
	if got.State != acdmock.StateAbandoned || got.AgentID != "a2" {
		t.Errorf("state %q agent %q, want abandoned with a2", got.State, got.AgentID)
	}
	if _, ok, err := cc.Interaction(ctx, "nope"); ok || err != nil {
		t.Errorf("Interaction(nope) = ok %v err %v, want not found, nil", ok, err)
	}

	hooks, err := cc.Webhooks(ctx)
	must(t, err)
	if diff := cmp.Diff(s.Webhooks(), hooks, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("Webhooks over HTTP differ (-want +got):\n%s", diff)
	}

	must(t, cc.SetDown(ctx, true))
	r := call(t, hs, http.MethodPut, "/acd/v1/agents/a1/state", "k1", `{"state":"not_ready","reason":"lunch"}`)
	must(t, cc.SetDown(ctx, false))
	r2 := call(t, hs, http.MethodPut, "/acd/v1/agents/a1/state", "k1", `{"state":"not_ready","reason":"lunch"}`)
	if r.Status != http.StatusServiceUnavailable || r2.Status != http.StatusOK {
		t.Errorf("state while down / up = %d / %d, want 503 / 200", r.Status, r2.Status)
	}
	calls, err := cc.Calls(ctx)
	must(t, err)
	if diff := cmp.Diff(s.Calls(), calls, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("Calls over HTTP differ (-want +got):\n%s", diff)
	}
	n, err := cc.Applied(ctx, acdmock.KindAgentState, "a1")
	must(t, err)
	if n != 1 {
		t.Errorf("Applied(agent_state, a1) = %d, want 1", n)
	}
	must(t, cc.Flush(ctx))
	must(t, cc.Reset(ctx))
	if _, ok := s.Interaction(id); ok {
		t.Errorf("Interaction(%q) survived Reset", id)
	}
}

func TestControlBadInput(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path, body string
		wantStatus int
		wantField  string
	}{
		{"queue without id", http.MethodPost, "/control/v1/queues", `{"name":"x"}`, 400, "id"},
		{"duplicate queue", http.MethodPost, "/control/v1/queues", `{"id":"q1"}`, 409, "id"},
		{"agent in unknown queue", http.MethodPost, "/control/v1/agents", `{"id":"a9","queues":["q1","nope"]}`, 404, "queues[1]"},
		{"agent capacity not a number", http.MethodPost, "/control/v1/agents", `{"id":"a9","capacity":"two"}`, 400, "capacity"},
		{"agent negative capacity", http.MethodPost, "/control/v1/agents", `{"id":"a9","capacity":-1}`, 422, "capacity"},
		{"agent unknown field", http.MethodPost, "/control/v1/agents", `{"id":"a9","skill":"x"}`, 400, "skill"},
		{"ready for unknown agent", http.MethodPut, "/control/v1/agents/zz/ready", `{"ready":true}`, 404, "id"},
		{"interaction without chat", http.MethodPost, "/control/v1/interactions", `{"queueId":"q1"}`, 400, "chatId"},
		{"route-to unknown agent", http.MethodPost, "/control/v1/interactions/i1/route-to", `{"agentId":"zz"}`, 404, "agentId"},
		{"route-to bad route type", http.MethodPost, "/control/v1/interactions/i1/route-to", `{"agentId":"a1","routeType":"push"}`, 422, "routeType"},
		{"abandon bad stage", http.MethodPost, "/control/v1/interactions/i1/abandon", `{"stage":"ringing"}`, 422, "stage"},
		{"revoke unknown", http.MethodPost, "/control/v1/interactions/i9/revoke", ``, 404, "id"},
		{"applied without kind", http.MethodGet, "/control/v1/applied?id=i1", ``, 400, "kind"},
		{"down not a bool", http.MethodPut, "/control/v1/down", `{"down":"yes"}`, 400, "down"},
		{"queue unknown strategy", http.MethodPost, "/control/v1/queues", `{"id":"q9","strategy":"random"}`, 422, "strategy"},
		{"agent view unknown", http.MethodGet, "/control/v1/agents/zz", ``, 404, "id"},
		{"abandon queued while offered", http.MethodPost, "/control/v1/interactions/i1/abandon", `{"stage":"queued"}`, 409, "stage"},
		{"accept unknown interaction", http.MethodPost, "/control/v1/interactions/i9/accept", ``, 404, "id"},
		{"accept unknown routing", http.MethodPost, "/control/v1/interactions/i1/accept", `{"routingId":"r9"}`, 404, "routingId"},
		{"accept routing not a string", http.MethodPost, "/control/v1/interactions/i1/accept", `{"routingId":1}`, 400, "routingId"},
		{"advance without duration", http.MethodPost, "/control/v1/clock/advance", `{}`, 400, "duration"},
		{"advance not a duration", http.MethodPost, "/control/v1/clock/advance", `{"duration":"soon"}`, 400, "duration"},
		{"advance a number", http.MethodPost, "/control/v1/clock/advance", `{"duration":90}`, 400, "duration"},
		{"advance backwards", http.MethodPost, "/control/v1/clock/advance", `{"duration":"-1s"}`, 422, "duration"},
		{"advance too far", http.MethodPost, "/control/v1/clock/advance", `{"duration":"9000h"}`, 422, "duration"},
		{"advance unknown field", http.MethodPost, "/control/v1/clock/advance", `{"duration":"1s","jump":true}`, 400, "jump"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s, ready("a1"))
			_, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			got := call(t, hs, tt.method, tt.path, "", tt.body)
			if got.Status != tt.wantStatus || got.Body["field"] != tt.wantField || got.Body["error"] == "" {
				t.Errorf("%s %s %s = %d %v, want %d with field %q", tt.method, tt.path, tt.body, got.Status, got.Body, tt.wantStatus, tt.wantField)
			}
		})
	}
}

func TestControlClientErrorsMatchInProcess(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{})
	cc := acdmock.NewControlClient(hs.URL, hs.Client())
	setup(t, s)
	tests := []struct {
		name string
		give func() error
		want error
	}{
		{"unknown queue", func() error { return cc.AddAgent(ctx, acdmock.Agent{ID: "a1", Queues: []string{"nope"}}) }, acdmock.ErrNotFound},
		{"duplicate queue", func() error { return cc.AddQueue(ctx, acdmock.Queue{ID: "q1"}) }, acdmock.ErrConflict},
		{"abandon unknown interaction", func() error { return cc.Abandon(ctx, "i1", "alerting") }, acdmock.ErrNotFound},
		{"missing chat", func() error { _, err := cc.CreateInteraction(ctx, "", "", "q1"); return err }, acdmock.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give()
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			var e *acdmock.Error
			if !errors.As(err, &e) || e.Field == "" {
				t.Errorf("err = %#v, want an *acdmock.Error naming a field", err)
			}
		})
	}
}

func TestConcurrentCallsAreRaceFree(t *testing.T) {
	ctx := context.Background()
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(stub.Close)
	s, hs := newServer(t, acdmock.Options{WebhookURL: stub.URL, WebhookSecret: acdapi.Secret("k")})
	setup(t, s, acdmock.Agent{ID: "a1", Queues: []string{"q1"}, Capacity: 50, Ready: true})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id, err := s.CreateInteraction(ctx, "chat", "", "q1")
			if err != nil {
				t.Error(err)
				return
			}
			key := "k-" + id
			// Two deliveries of the same call race; exactly one applies.
			var inner sync.WaitGroup
			for range 2 {
				inner.Go(func() {
					call(t, hs, http.MethodPost, "/acd/v1/interactions/"+id+"/complete", key, `{"agentId":"a1"}`)
				})
			}
			inner.Wait()
			if n := s.Applied(acdmock.KindComplete, id); n != 1 {
				t.Errorf("Applied(complete, %s) = %d, want 1 (call %d)", id, n, i)
			}
			_ = s.Webhooks()
		})
	}
	wg.Wait()
	must(t, s.Flush(ctx))
}
