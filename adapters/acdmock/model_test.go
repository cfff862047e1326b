package acdmock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// t0 is the frozen real time of the tests that drive the clock: only Advance moves it.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func frozen() time.Time { return t0 }

// ev is one webhook event; Detail is the route type (routed), reason (revoked), stage
// (abandoned) or state (agent.state_changed).
type ev struct{ Type, RoutingID, AgentID, Detail string }

func events(t *testing.T, s *acdmock.Server) []ev {
	t.Helper()
	var out []ev
	for _, h := range s.Webhooks() {
		p, err := acdapi.Parse(h.Body)
		if err != nil {
			t.Fatalf("webhook %s body %q: %v", h.EventID, h.Body, err)
		}
		e := ev{Type: h.Type, RoutingID: h.RoutingID, AgentID: h.AgentID}
		switch {
		case p.Routed != nil:
			e.Detail = p.Routed.RouteType
		case p.Revoked != nil:
			e.Detail = p.Revoked.Reason
		case p.Abandoned != nil:
			e.Detail = p.Abandoned.Stage
		case p.AgentChanged != nil:
			e.Detail = p.AgentChanged.State
		}
		out = append(out, e)
	}
	return out
}

func routed(routingID, agentID, routeType string) ev {
	return ev{acdapi.TypeRouted, routingID, agentID, routeType}
}

var nKey atomic.Int64

// acd makes one /acd/v1 POST with a fresh Idempotency-Key.
func acd(t *testing.T, hs *httptest.Server, path, body string) reply {
	t.Helper()
	return call(t, hs, http.MethodPost, path, fmt.Sprintf("key-%d", nKey.Add(1)), body)
}

func wantOK(t *testing.T, r reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("reply = %+v, want %d", r, status)
	}
}

func view(t *testing.T, s *acdmock.Server, id string) acdmock.InteractionView {
	t.Helper()
	v, ok := s.Interaction(id)
	if !ok {
		t.Fatalf("Interaction(%q) not found", id)
	}
	return v
}

func load(t *testing.T, s *acdmock.Server, agentID string) int {
	t.Helper()
	a, ok := s.Agent(agentID)
	if !ok {
		t.Fatalf("Agent(%q) not found", agentID)
	}
	return a.Load
}

func TestRoutingStrategies(t *testing.T) {
	ctx := context.Background()
	capped := func(id string, capacity int) acdmock.Agent {
		a := ready(id)
		a.Capacity = capacity
		return a
	}
	tests := []struct {
		name     string
		strategy string
		give     []acdmock.Agent
		prepare  func(t *testing.T, s *acdmock.Server, hs *httptest.Server)
		creates  int
		want     []string // agent of each new interaction's routing; "" = queued
	}{
		{
			name: "longest idle: becoming ready again is the most recent idleness",
			give: []acdmock.Agent{ready("a1"), ready("a2"), ready("a3")},
			prepare: func(t *testing.T, s *acdmock.Server, _ *httptest.Server) {
				must(t, s.SetAgentReady("a1", false, "break"))
				must(t, s.SetAgentReady("a1", true, ""))
			},
			creates: 3, want: []string{"a2", "a3", "a1"},
		},
		{
			name: "round robin: the order agents were added, whatever their idleness", strategy: acdmock.StrategyRoundRobin,
			give: []acdmock.Agent{ready("a1"), ready("a2"), ready("a3")},
			prepare: func(t *testing.T, s *acdmock.Server, _ *httptest.Server) {
				must(t, s.SetAgentReady("a1", false, "break"))
				must(t, s.SetAgentReady("a1", true, ""))
			},
			creates: 3, want: []string{"a1", "a2", "a3"},
		},
		{
			name: "round robin wraps around", strategy: acdmock.StrategyRoundRobin,
			give:    []acdmock.Agent{capped("a1", 5), capped("a2", 5), capped("a3", 5)},
			creates: 5, want: []string{"a1", "a2", "a3", "a1", "a2"},
		},
		{
			name: "round robin skips the not ready and the full", strategy: acdmock.StrategyRoundRobin,
			give:    []acdmock.Agent{capped("a1", 1), {ID: "a2", Queues: []string{"q1"}}, capped("a3", 5)},
			creates: 4, want: []string{"a1", "a3", "a3", "a3"},
		},
		{
			name: "longest idle: the least loaded first",
			give: []acdmock.Agent{capped("a1", 5), capped("a2", 5)},
			prepare: func(t *testing.T, s *acdmock.Server, hs *httptest.Server) {
				for range 2 {
					_, err := s.CreateInteraction(ctx, "c0", "", "q1") // i1 → a1, i2 → a2
					must(t, err)
				}
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i2/complete", `{"agentId":"a2"}`), http.StatusOK)
			},
			creates: 2, want: []string{"a2", "a1"},
		},
		{
			name: "round robin: the next agent, whatever the load", strategy: acdmock.StrategyRoundRobin,
			give: []acdmock.Agent{capped("a1", 5), capped("a2", 5)},
			prepare: func(t *testing.T, s *acdmock.Server, hs *httptest.Server) {
				for range 2 {
					_, err := s.CreateInteraction(ctx, "c0", "", "q1") // i1 → a1, i2 → a2
					must(t, err)
				}
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i2/complete", `{"agentId":"a2"}`), http.StatusOK)
			},
			creates: 2, want: []string{"a1", "a2"},
		},
		{
			name: "round robin: nobody available", strategy: acdmock.StrategyRoundRobin,
			give:    []acdmock.Agent{{ID: "a1", Queues: []string{"q1"}}},
			creates: 1, want: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			must(t, s.AddQueue(acdmock.Queue{ID: "q1", Name: "Sales", Strategy: tt.strategy}))
			for _, a := range tt.give {
				must(t, s.AddAgent(a))
			}
			if tt.prepare != nil {
				tt.prepare(t, s, hs)
			}
			var got []string
			for range tt.creates {
				id, err := s.CreateInteraction(ctx, "chat", "", "q1")
				must(t, err)
				got = append(got, view(t, s, id).AgentID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routed to (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequeueRoutesToAnotherAgent(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		agents   []string
		want     []string // the agent of each routing: the first, then after each requeue
	}{
		{name: "longest idle avoids who gave it back", agents: []string{"a1", "a2", "a3"}, want: []string{"a1", "a2", "a3", "a1"}},
		{name: "round robin: the next one", strategy: acdmock.StrategyRoundRobin, agents: []string{"a1", "a2", "a3"}, want: []string{"a1", "a2", "a3", "a1"}},
		{name: "the only agent gets it back", agents: []string{"a1"}, want: []string{"a1", "a1", "a1", "a1"}},
		{name: "round robin, only agent", strategy: acdmock.StrategyRoundRobin, agents: []string{"a1"}, want: []string{"a1", "a1", "a1", "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			must(t, s.AddQueue(acdmock.Queue{ID: "q1", Strategy: tt.strategy}))
			for _, a := range tt.agents {
				must(t, s.AddAgent(ready(a)))
			}
			id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			got := []string{view(t, s, id).AgentID}
			for range len(tt.want) - 1 {
				v := view(t, s, id)
				wantOK(t, acd(t, hs, "/acd/v1/interactions/"+id+"/requeue",
					`{"routingId":"`+v.RoutingID+`","agentId":"`+v.AgentID+`","reasonCode":"AGENT_NOT_ACTIVE"}`), http.StatusOK)
				got = append(got, view(t, s, id).AgentID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAlertingTimeout(t *testing.T) {
	ctx := context.Background()
	const timeout = 30 * time.Second
	revoked := func(routingID, agentID string) ev {
		return ev{acdapi.TypeRevoked, routingID, agentID, acdmock.ReasonAlertingTimeout}
	}
	// Each case: i1 is routed to a1 (r1) at t0, act runs at t0+10s, then the clock moves by
	// advance.
	tests := []struct {
		name      string
		timeout   time.Duration
		act       func(t *testing.T, s *acdmock.Server, hs *httptest.Server)
		advance   time.Duration
		want      []ev
		wantState string
		wantAgent string
	}{
		{
			name: "an unanswered offer is taken back and routed to another agent", timeout: timeout, advance: 20 * time.Second,
			want:      []ev{routed("r1", "a1", "lead"), revoked("r1", "a1"), routed("r2", "a2", "lead")},
			wantState: acdmock.StateRouting, wantAgent: "a2",
		},
		{
			name: "not before its time", timeout: timeout, advance: 20*time.Second - time.Nanosecond,
			want:      []ev{routed("r1", "a1", "lead")},
			wantState: acdmock.StateRouting, wantAgent: "a1",
		},
		{
			name: "off by default", advance: 24 * time.Hour,
			want:      []ev{routed("r1", "a1", "lead")},
			wantState: acdmock.StateRouting, wantAgent: "a1",
		},
		{
			name: "accepted by the bridge", timeout: timeout, advance: time.Hour,
			act: func(t *testing.T, s *acdmock.Server, hs *httptest.Server) {
				body := `{"routingId":"r1","agentId":"a1"}`
				first := call(t, hs, http.MethodPost, "/acd/v1/interactions/i1/accept", "acc-1", body)
				again := call(t, hs, http.MethodPost, "/acd/v1/interactions/i1/accept", "acc-1", body)
				want := reply{http.StatusOK, map[string]any{"status": "accepted", "routingId": "r1"}}
				if diff := cmp.Diff([]reply{want, want}, []reply{first, again}); diff != "" {
					t.Errorf("accept and its replay (-want +got):\n%s", diff)
				}
				if n := s.Applied(acdmock.KindAccept, "i1"); n != 1 {
					t.Errorf("Applied(accept, i1) = %d, want 1", n)
				}
			},
			want:      []ev{routed("r1", "a1", "lead")},
			wantState: acdmock.StateConnected, wantAgent: "a1",
		},
		{
			name: "accepted through the control API", timeout: timeout, advance: time.Hour,
			act:       func(t *testing.T, s *acdmock.Server, _ *httptest.Server) { must(t, s.Accept(ctx, "i1", "")) },
			want:      []ev{routed("r1", "a1", "lead")},
			wantState: acdmock.StateConnected, wantAgent: "a1",
		},
		{
			name: "a requeue ends the offer; the new routing has its own timer", timeout: timeout, advance: 20 * time.Second,
			act: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server) {
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i1/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`), http.StatusOK)
			},
			want:      []ev{routed("r1", "a1", "lead"), routed("r2", "a2", "lead")},
			wantState: acdmock.StateRouting, wantAgent: "a2",
		},
		{
			name: "complete ends the offer", timeout: timeout, advance: time.Hour,
			act: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server) {
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i1/complete", `{"routingId":"r1","agentId":"a1"}`), http.StatusOK)
			},
			want:      []ev{routed("r1", "a1", "lead")},
			wantState: acdmock.StateCompleted,
		},
		{
			name: "abandon ends the offer", timeout: timeout, advance: time.Hour,
			act:       func(t *testing.T, s *acdmock.Server, _ *httptest.Server) { must(t, s.Abandon(ctx, "i1", "")) },
			want:      []ev{routed("r1", "a1", "lead"), {acdapi.TypeAbandoned, "r1", "a1", acdapi.StageRouting}},
			wantState: acdmock.StateAbandoned, wantAgent: "a1",
		},
		{
			name: "a transfer target that does not answer is taken back; the first agent keeps the chat", timeout: timeout, advance: 30 * time.Second,
			act: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server) {
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i1/route", `{"routingId":"r1","fromAgentId":"a1","routeType":"transfer","targetAgentId":"a2"}`), http.StatusAccepted)
			},
			want:      []ev{routed("r1", "a1", "lead"), routed("r2", "a2", "transfer"), revoked("r2", "a2")},
			wantState: acdmock.StateConnected, wantAgent: "a1",
		},
		{
			name: "the only ready agent gets it back", timeout: timeout, advance: 20 * time.Second,
			act: func(t *testing.T, s *acdmock.Server, _ *httptest.Server) {
				must(t, s.SetAgentReady("a2", false, "lunch"))
			},
			want: []ev{
				routed("r1", "a1", "lead"), {acdapi.TypeAgentChanged, "", "a2", "not_ready"},
				revoked("r1", "a1"), routed("r2", "a1", "lead"),
			},
			wantState: acdmock.StateRouting, wantAgent: "a1",
		},
		{
			name: "one big advance is the same as living through it", timeout: timeout, advance: 85 * time.Second,
			want: []ev{
				routed("r1", "a1", "lead"), revoked("r1", "a1"), routed("r2", "a2", "lead"),
				revoked("r2", "a2"), routed("r3", "a1", "lead"), revoked("r3", "a1"), routed("r4", "a2", "lead"),
			},
			wantState: acdmock.StateRouting, wantAgent: "a2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{AlertingTimeout: tt.timeout, Now: frozen})
			setup(t, s, ready("a1"), ready("a2"))
			id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
			must(t, err)
			must(t, s.Advance(ctx, 10*time.Second))
			if tt.act != nil {
				tt.act(t, s, hs)
			}
			must(t, s.Advance(ctx, tt.advance))
			if diff := cmp.Diff(tt.want, events(t, s)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			v := view(t, s, id)
			if v.State != tt.wantState || v.AgentID != tt.wantAgent {
				t.Errorf("state %q agent %q, want %q %q", v.State, v.AgentID, tt.wantState, tt.wantAgent)
			}
		})
	}
}

func TestAlertingTimeoutTimesEachFiringAtItsDueTime(t *testing.T) {
	ctx := context.Background()
	s, _ := newServer(t, acdmock.Options{AlertingTimeout: 30 * time.Second, Now: frozen})
	setup(t, s, ready("a1"), ready("a2"))
	id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	must(t, s.Advance(ctx, 75*time.Second))
	if got, want := s.Now(), t0.Add(75*time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
	type leg struct {
		RoutingID, AgentID, State, Reason string
		RoutedAt, AlertingUntil, EndedAt  time.Duration // since t0; -1: zero
	}
	since := func(at time.Time) time.Duration {
		if at.IsZero() {
			return -1
		}
		return at.Sub(t0)
	}
	var got []leg
	for _, r := range view(t, s, id).Routings {
		got = append(got, leg{r.RoutingID, r.AgentID, r.State, r.Reason, since(r.RoutedAt), since(r.AlertingUntil), since(r.EndedAt)})
	}
	want := []leg{
		{"r1", "a1", acdmock.StateRevoked, acdmock.ReasonAlertingTimeout, 0, -1, 30 * time.Second},
		{"r2", "a2", acdmock.StateRevoked, acdmock.ReasonAlertingTimeout, 30 * time.Second, -1, 60 * time.Second},
		{"r3", "a1", acdmock.StateRouting, "", 60 * time.Second, 90 * time.Second, -1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routings (-want +got):\n%s", diff)
	}
	var at []time.Duration
	for _, h := range s.Webhooks() {
		at = append(at, h.CreatedAt.Sub(t0))
	}
	if diff := cmp.Diff([]time.Duration{0, 30 * time.Second, 30 * time.Second, 60 * time.Second, 60 * time.Second}, at); diff != "" {
		t.Errorf("webhook times since t0 (-want +got):\n%s", diff)
	}
	if n := load(t, s, "a2"); n != 0 {
		t.Errorf("a2 load after its offer was taken back = %d, want 0", n)
	}

	// The bridge learns it lost the race: its late calls on the revoked routing are refused.
	hs := newHTTP(t, s)
	for _, path := range []string{"/accept", "/requeue"} {
		got := acd(t, hs, "/acd/v1/interactions/"+id+path, `{"routingId":"r1","agentId":"a1"}`)
		if got.Status != http.StatusConflict || got.Body["field"] != "routingId" {
			t.Errorf("%s of the revoked routing = %+v, want 409 on routingId", path, got)
		}
	}
}

// manualNow is a real clock a test moves by hand, to show timers firing without Advance.
type manualNow struct {
	mu sync.Mutex
	t  time.Time
}

func (m *manualNow) now() time.Time { m.mu.Lock(); defer m.mu.Unlock(); return m.t }
func (m *manualNow) set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.t = t
}

func TestAlertingTimerFiresWithoutAdvance(t *testing.T) {
	ctx := context.Background()
	t.Run("on the next call", func(t *testing.T) {
		clock := &manualNow{t: t0}
		s, _ := newServer(t, acdmock.Options{AlertingTimeout: 30 * time.Second, TickInterval: -1, Now: clock.now})
		setup(t, s, ready("a1"), ready("a2"))
		id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
		must(t, err)
		clock.set(t0.Add(31 * time.Second))
		if v := view(t, s, id); v.AgentID != "a2" || v.Routings[0].State != acdmock.StateRevoked {
			t.Errorf("after the deadline: agent %q, routings %+v; want r1 revoked, a2", v.AgentID, v.Routings)
		}
	})
	t.Run("on the ticker", func(t *testing.T) {
		got := make(chan acdapi.Event, 10)
		stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if ev, err := acdapi.Parse(body); err == nil {
				got <- ev
			}
			w.WriteHeader(http.StatusOK)
		}))
		t.Cleanup(stub.Close)
		clock := &manualNow{t: t0}
		s, _ := newServer(t, acdmock.Options{AlertingTimeout: 30 * time.Second, TickInterval: time.Millisecond, Now: clock.now,
			WebhookURL: stub.URL, WebhookSecret: acdapi.Secret("k")})
		setup(t, s, ready("a1"))
		_, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
		must(t, err)
		if ev := <-got; ev.Routed == nil {
			t.Fatalf("first event = %+v, want interaction.routed", ev)
		}
		clock.set(t0.Add(31 * time.Second)) // nobody calls the simulator from here on
		select {
		case ev := <-got:
			if ev.Revoked == nil || ev.Revoked.Reason != acdmock.ReasonAlertingTimeout {
				t.Errorf("event = %+v, want interaction.revoked for alerting_timeout", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no revoke delivered by the ticker")
		}
	})
}

func TestAbandonStages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		webhooks  bool // a bridge stub acknowledges interaction.routed (the routing is alerting)
		notReady  bool // a1 starts not ready: the interaction stays queued
		prepare   func(t *testing.T, s *acdmock.Server, hs *httptest.Server)
		stage     string
		wantErr   error
		wantEvent ev
		wantLoad  int // a1's load after the abandon
	}{
		{name: "in queue", notReady: true, wantEvent: ev{acdapi.TypeAbandoned, "", "", acdapi.StageQueued}},
		{name: "while routing", wantEvent: ev{acdapi.TypeAbandoned, "r1", "a1", acdapi.StageRouting}},
		{name: "while alerting", webhooks: true, wantEvent: ev{acdapi.TypeAbandoned, "r1", "a1", acdapi.StageAlerting}},
		{name: "explicit stage", stage: acdapi.StageAlerting, wantEvent: ev{acdapi.TypeAbandoned, "r1", "a1", acdapi.StageAlerting}},
		{
			name: "a consult offer: the offered leg is named, the connected one keeps its capacity",
			prepare: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server) {
				wantOK(t, acd(t, hs, "/acd/v1/interactions/i1/route", `{"fromAgentId":"a1","routeType":"consult","targetAgentId":"a2"}`), http.StatusAccepted)
			},
			wantEvent: ev{acdapi.TypeAbandoned, "r2", "a2", acdapi.StageRouting}, wantLoad: 1,
		},
		{name: "queued while offered", stage: acdapi.StageQueued, wantErr: acdmock.ErrConflict, wantLoad: 1},
		{name: "alerting while queued", notReady: true, stage: acdapi.StageAlerting, wantErr: acdmock.ErrConflict},
		{
			name:    "the agent already has the chat",
			prepare: func(t *testing.T, s *acdmock.Server, _ *httptest.Server) { must(t, s.Accept(ctx, "i1", "r1")) },
			wantErr: acdmock.ErrConflict, wantLoad: 1,
		},
		{name: "unknown stage", stage: "ringing", wantErr: acdmock.ErrInvalid, wantLoad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts acdmock.Options
			if tt.webhooks {
				stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
				t.Cleanup(stub.Close)
				opts.WebhookURL, opts.WebhookSecret = stub.URL, acdapi.Secret("k")
			}
			s, hs := newServer(t, opts)
			setup(t, s, acdmock.Agent{ID: "a1", Queues: []string{"q1"}, Capacity: 2, Ready: !tt.notReady}, ready("a2", "q2"))
			id, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
			must(t, err)
			if tt.prepare != nil {
				tt.prepare(t, s, hs)
			}
			before := len(s.Webhooks())
			err = s.Abandon(ctx, id, tt.stage)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Abandon(%q) = %v, want %v", tt.stage, err, tt.wantErr)
			}
			if n := load(t, s, "a1"); n != tt.wantLoad {
				t.Errorf("a1 load = %d, want %d", n, tt.wantLoad)
			}
			if tt.wantErr != nil {
				var e *acdmock.Error
				if !errors.As(err, &e) || e.Field != "stage" {
					t.Errorf("Abandon error = %#v, want one naming the stage", err)
				}
				if v := view(t, s, id); v.State == acdmock.StateAbandoned {
					t.Errorf("state = %q after a refused abandon", v.State)
				}
				return
			}
			if diff := cmp.Diff([]ev{tt.wantEvent}, events(t, s)[before:]); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if v := view(t, s, id); v.State != acdmock.StateAbandoned || v.AbandonStage != tt.wantEvent.Detail {
				t.Errorf("state %q stage %q, want abandoned %s", v.State, v.AbandonStage, tt.wantEvent.Detail)
			}
			// Nothing goes back to a queue, even when an agent becomes free.
			must(t, s.SetAgentReady("a1", true, ""))
			if got := acd(t, hs, "/acd/v1/interactions/"+id+"/requeue", `{"agentId":"a1"}`); tt.wantEvent.AgentID != "" && got.Status != http.StatusConflict {
				t.Errorf("requeue after abandon = %+v, want 409", got)
			}
			// The agent of the withdrawn offer still completes it, without freeing twice.
			if agent := tt.wantEvent.AgentID; agent != "" {
				before := load(t, s, agent)
				wantOK(t, acd(t, hs, "/acd/v1/interactions/"+id+"/complete", `{"routingId":"`+tt.wantEvent.RoutingID+`","agentId":"`+agent+`"}`), http.StatusOK)
				if n := load(t, s, agent); n != before {
					t.Errorf("%s load after completing the abandoned leg = %d, want %d", agent, n, before)
				}
			}
			if n := len(view(t, s, id).Routings); tt.notReady && n != 0 {
				t.Errorf("abandoned in queue, then routed %d times", n)
			}
		})
	}
}

func TestAbandonFreesCapacityForWaitingWork(t *testing.T) {
	ctx := context.Background()
	s, _ := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"))
	i1, err := s.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	i2, err := s.CreateInteraction(ctx, "chat-2", "", "q1")
	must(t, err)
	if v := view(t, s, i2); v.State != acdmock.StateQueued {
		t.Fatalf("i2 state = %q, want queued (a1 is full)", v.State)
	}
	must(t, s.Abandon(ctx, i1, ""))
	if v := view(t, s, i2); v.AgentID != "a1" {
		t.Errorf("i2 after i1 was abandoned: agent %q, want a1", v.AgentID)
	}
}

// TestRouteFlows checks the six transfer / conference / consult × agent / queue routes: the
// new leg, its webhook, the asking leg kept connected; a failed target leaves the chat with
// the first agent; the interaction completes when both legs did.
func TestRouteFlows(t *testing.T) {
	tests := []struct {
		routeType, target string // target: targetAgentId or targetQueueId
		wantQueue         string
	}{
		{acdmock.RouteTransfer, "targetAgentId", "q1"},
		{acdmock.RouteTransfer, "targetQueueId", "q2"},
		{acdmock.RouteConference, "targetAgentId", "q1"},
		{acdmock.RouteConference, "targetQueueId", "q2"},
		{acdmock.RouteConsult, "targetAgentId", "q1"},
		{acdmock.RouteConsult, "targetQueueId", "q2"},
	}
	for _, tt := range tests {
		t.Run(tt.routeType+" to "+tt.target, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			// a2 serves q2 only, so a route to q2 can only pick a2; a3 (q1) is never picked.
			setup(t, s, ready("a1"), ready("a2", "q2"), ready("a3", "q1"))
			id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			path := "/acd/v1/interactions/" + id
			target := map[string]string{"targetAgentId": "a2", "targetQueueId": "q2"}[tt.target]
			route := `{"routingId":"r1","fromAgentId":"a1","routeType":"` + tt.routeType + `","` + tt.target + `":"` + target + `"}`

			got := acd(t, hs, path+"/route", route)
			if diff := cmp.Diff(reply{http.StatusAccepted, map[string]any{"status": "routed", "routingId": "r2"}}, got); diff != "" {
				t.Fatalf("route reply (-want +got):\n%s", diff)
			}
			v := view(t, s, id)
			if r := v.Routings[1]; r.AgentID != "a2" || r.QueueID != tt.wantQueue || r.RouteType != tt.routeType || r.FromRoutingID != "r1" || r.State != acdmock.StateRouting {
				t.Errorf("new routing = %+v, want a2 in %s, %s from r1, routing", r, tt.wantQueue, tt.routeType)
			}
			if r := v.Routings[0]; r.State != acdmock.StateConnected {
				t.Errorf("asking leg state = %q, want connected", r.State)
			}
			hooks := s.Webhooks()
			last, err := acdapi.Parse(hooks[len(hooks)-1].Body)
			must(t, err)
			wantRouted := &acdapi.Routed{InteractionID: id, RoutingID: "r2", ChatID: "chat-1", Site: "site1", QueueID: tt.wantQueue,
				QueueName: map[string]string{"q1": "Sales", "q2": "Support"}[tt.wantQueue], AgentID: "a2", CRMAccountID: "crm-a2", RouteType: tt.routeType,
				FromRoutingID: "r1"}
			if diff := cmp.Diff(wantRouted, last.Routed); diff != "" {
				t.Errorf("interaction.routed (-want +got):\n%s", diff)
			}

			// The target declines: the first agent keeps the chat, nothing is requeued.
			wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r2","agentId":"a2","reasonCode":"declined"}`), http.StatusOK)
			v = view(t, s, id)
			if v.State != acdmock.StateConnected || v.AgentID != "a1" || len(v.Routings) != 2 || len(s.Webhooks()) != len(hooks) {
				t.Errorf("after the target declined: %+v, want a1 connected, no new routing or event", v)
			}

			// Again, and this time both legs complete (the asking one first).
			wantOK(t, acd(t, hs, path+"/route", route), http.StatusAccepted)
			wantOK(t, acd(t, hs, path+"/complete", `{"routingId":"r1","agentId":"a1","disposition":"`+tt.routeType+`"}`), http.StatusOK)
			if v := view(t, s, id); v.State == acdmock.StateCompleted || v.AgentID != "a2" {
				t.Errorf("after the first agent completed: state %q agent %q, want a2 still on it", v.State, v.AgentID)
			}
			wantOK(t, acd(t, hs, path+"/complete", `{"routingId":"r3","agentId":"a2"}`), http.StatusOK)
			if v := view(t, s, id); v.State != acdmock.StateCompleted {
				t.Errorf("after both completed: state %q, want completed", v.State)
			}
			for _, a := range []string{"a1", "a2", "a3"} {
				if n := load(t, s, a); n != 0 {
					t.Errorf("%s load = %d, want 0", a, n)
				}
			}
		})
	}
}

// TestRouteToABusyQueue: the request waits in the target queue. A transfer survives the
// asking leg (a blind transfer); a conference or consult needs the asking agent.
func TestRouteToABusyQueue(t *testing.T) {
	tests := []struct {
		routeType     string
		completeFirst bool // the asking agent completes before anybody in q2 is free
		wantRouted    bool // a2 gets the request once ready
		wantState     string
	}{
		{acdmock.RouteTransfer, false, true, acdmock.StateRouting},
		{acdmock.RouteTransfer, true, true, acdmock.StateRouting},
		{acdmock.RouteConference, false, true, acdmock.StateRouting},
		{acdmock.RouteConference, true, false, acdmock.StateCompleted},
		{acdmock.RouteConsult, false, true, acdmock.StateRouting},
		{acdmock.RouteConsult, true, false, acdmock.StateCompleted},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s complete first %v", tt.routeType, tt.completeFirst), func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s, ready("a1"), acdmock.Agent{ID: "a2", CRMAccountID: "crm-a2", Queues: []string{"q2"}})
			id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			path := "/acd/v1/interactions/" + id
			got := acd(t, hs, path+"/route", `{"fromAgentId":"a1","routeType":"`+tt.routeType+`","targetQueueId":"q2"}`)
			if diff := cmp.Diff(reply{http.StatusAccepted, map[string]any{"status": "queued"}}, got); diff != "" {
				t.Fatalf("route reply (-want +got):\n%s", diff)
			}
			if tt.completeFirst {
				wantOK(t, acd(t, hs, path+"/complete", `{"agentId":"a1"}`), http.StatusOK)
			}
			must(t, s.SetAgentReady("a2", true, ""))
			v := view(t, s, id)
			if routedToA2 := len(v.Routings) == 2 && v.Routings[1].AgentID == "a2" && v.Routings[1].RouteType == tt.routeType; routedToA2 != tt.wantRouted {
				t.Errorf("routings %+v, want routed to a2 as %s: %v", v.Routings, tt.routeType, tt.wantRouted)
			}
			if v.State != tt.wantState {
				t.Errorf("state = %q, want %q", v.State, tt.wantState)
			}
		})
	}
}

// TestTargetLegFailsWithNobodyElseOnTheChat: when no other leg faces the customer, a failed
// target leg sends the interaction back to a queue as a new lead.
func TestTargetLegFailsWithNobodyElseOnTheChat(t *testing.T) {
	tests := []struct {
		name    string
		prepare string // the route request from a1's r1
		then    func(t *testing.T, s *acdmock.Server, hs *httptest.Server, path string)
		want    []string // agent:routeType:state of every routing at the end
	}{
		{
			name:    "blind transfer, target declines",
			prepare: `{"routingId":"r1","fromAgentId":"a1","routeType":"transfer","targetAgentId":"a2"}`,
			then: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server, path string) {
				wantOK(t, acd(t, hs, path+"/complete", `{"routingId":"r1","agentId":"a1","disposition":"transferred"}`), http.StatusOK)
				wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r2","agentId":"a2","reasonCode":"declined"}`), http.StatusOK)
			},
			want: []string{"a1:lead:completed", "a2:transfer:requeued", "a3:lead:routing"},
		},
		{
			name:    "consult open, the first agent's leg is requeued",
			prepare: `{"routingId":"r1","fromAgentId":"a1","routeType":"consult","targetAgentId":"a2"}`,
			then: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server, path string) {
				wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_DISCONNECTED"}`), http.StatusOK)
			},
			want: []string{"a1:lead:requeued", "a2:consult:routing", "a3:lead:routing"},
		},
		{
			name:    "conference open, the first agent's leg is requeued: the conferenced agent keeps it",
			prepare: `{"routingId":"r1","fromAgentId":"a1","routeType":"conference","targetAgentId":"a2"}`,
			then: func(t *testing.T, _ *acdmock.Server, hs *httptest.Server, path string) {
				wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_DISCONNECTED"}`), http.StatusOK)
			},
			want: []string{"a1:lead:requeued", "a2:conference:routing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s, ready("a1"), ready("a2"), ready("a3"))
			id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			path := "/acd/v1/interactions/" + id
			wantOK(t, acd(t, hs, path+"/route", tt.prepare), http.StatusAccepted)
			tt.then(t, s, hs, path)
			var got []string
			for _, r := range view(t, s, id).Routings {
				got = append(got, r.AgentID+":"+r.RouteType+":"+r.State)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookRetriesWithBackoff(t *testing.T) {
	const backoff = 4 * time.Millisecond
	tests := []struct {
		failures      int
		wantAttempts  int
		wantDelivered bool
	}{
		{failures: 0, wantAttempts: 1, wantDelivered: true},
		{failures: 1, wantAttempts: 2, wantDelivered: true},
		{failures: 3, wantAttempts: 4, wantDelivered: true},
		{failures: 9, wantAttempts: 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("failing %d times", tt.failures), func(t *testing.T) {
			secret := acdapi.Secret("a-test-secret-of-16+")
			var mu sync.Mutex
			var at []time.Time
			var refused []error
			left := tt.failures
			verifier := acdapi.Verifier{Secrets: []acdapi.Secret{secret}, Tolerance: time.Minute}
			stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				at = append(at, time.Now())
				if err := verifier.Verify(r.Header.Get(acdapi.HeaderID), r.Header.Get(acdapi.HeaderTimestamp), r.Header.Get(acdapi.HeaderSignature), body); err != nil {
					refused = append(refused, err)
				}
				if left > 0 {
					left--
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(stub.Close)
			s, _ := newServer(t, acdmock.Options{WebhookURL: stub.URL, WebhookSecret: secret, WebhookRetries: 3, WebhookBackoff: backoff})
			setup(t, s, ready("a1"))
			_, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)

			h := s.Webhooks()[0]
			if h.Attempts != tt.wantAttempts || h.Delivered != tt.wantDelivered {
				t.Errorf("delivery = %d attempts, delivered %v; want %d, %v", h.Attempts, h.Delivered, tt.wantAttempts, tt.wantDelivered)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(refused) > 0 {
				t.Errorf("signatures refused: %v", refused)
			}
			for k := 1; k < len(at); k++ {
				if gap, least := at[k].Sub(at[k-1]), backoff<<(k-1); gap < least {
					t.Errorf("retry %d came %v after the previous attempt, want at least %v (doubling backoff)", k, gap, least)
				}
			}
		})
	}
}

func TestControlClientClockAcceptAndAgent(t *testing.T) {
	ctx := context.Background()
	s, hs := newServer(t, acdmock.Options{AlertingTimeout: time.Minute, Now: frozen})
	cc := acdmock.NewControlClient(hs.URL, hs.Client())
	must(t, cc.AddQueue(ctx, acdmock.Queue{ID: "q1", Strategy: acdmock.StrategyRoundRobin}))
	must(t, cc.AddAgent(ctx, ready("a1")))
	must(t, cc.AddAgent(ctx, ready("a2")))
	i1, err := cc.CreateInteraction(ctx, "chat-1", "", "q1")
	must(t, err)
	i2, err := cc.CreateInteraction(ctx, "chat-2", "", "q1")
	must(t, err)
	must(t, cc.Accept(ctx, i2, ""))

	now, err := cc.Advance(ctx, 90*time.Second)
	must(t, err)
	if want := t0.Add(90 * time.Second); !now.Equal(want) {
		t.Errorf("Advance() = %v, want %v", now, want)
	}
	v1, _, err := cc.Interaction(ctx, i1)
	must(t, err)
	v2, _, err := cc.Interaction(ctx, i2)
	must(t, err)
	if v1.Routings[0].State != acdmock.StateRevoked || v2.State != acdmock.StateConnected {
		t.Errorf("i1 first routing %q, i2 %q; want revoked (not accepted), connected (accepted)", v1.Routings[0].State, v2.State)
	}
	a, ok, err := cc.Agent(ctx, "a2")
	must(t, err)
	want, _ := s.Agent("a2")
	if !ok || !cmp.Equal(want, a) || a.Load != 1 || a.Capacity != 1 {
		t.Errorf("Agent(a2) = %+v, %v; want %+v with load 1", a, ok, want)
	}
	if _, ok, err := cc.Agent(ctx, "nope"); ok || err != nil {
		t.Errorf("Agent(nope) = ok %v err %v, want not found, nil", ok, err)
	}
	if _, err := cc.Advance(ctx, -time.Second); !errors.Is(err, acdmock.ErrInvalid) {
		t.Errorf("Advance(-1s) = %v, want ErrInvalid", err)
	}
	if err := cc.Accept(ctx, i1, "r9"); !errors.Is(err, acdmock.ErrNotFound) {
		t.Errorf("Accept(unknown routing) = %v, want ErrNotFound", err)
	}
	if err := cc.Accept(ctx, i1, "r1"); !errors.Is(err, acdmock.ErrConflict) {
		t.Errorf("Accept(revoked routing) = %v, want ErrConflict", err)
	}
}

// TestRoutedEventNamesTheAskingLeg: interaction.routed carries fromRoutingId for a transfer,
// conference or consult (also one that waited in a queue first), never for a lead.
func TestRoutedEventNamesTheAskingLeg(t *testing.T) {
	s, hs := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), acdmock.Agent{ID: "a2", Queues: []string{"q2"}}, ready("a3"))
	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1") // r1: a1
	must(t, err)
	path := "/acd/v1/interactions/" + id
	wantOK(t, acd(t, hs, path+"/route", `{"routingId":"r1","fromAgentId":"a1","routeType":"transfer","targetQueueId":"q2"}`), http.StatusAccepted)
	must(t, s.SetAgentReady("a2", true, "")) // r2: the waiting transfer
	wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r2","agentId":"a2","reasonCode":"declined"}`), http.StatusOK)
	wantOK(t, acd(t, hs, path+"/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`), http.StatusOK) // r3: a3, lead
	wantOK(t, acd(t, hs, path+"/route", `{"fromAgentId":"a3","routeType":"consult","targetAgentId":"a1"}`), http.StatusAccepted)

	type leg struct{ RoutingID, RouteType, FromRoutingID string }
	var got []leg
	for _, h := range s.Webhooks() {
		p, err := acdapi.Parse(h.Body) // also refuses a lead that names a leg
		must(t, err)
		if p.Routed != nil {
			got = append(got, leg{p.Routed.RoutingID, p.Routed.RouteType, p.Routed.FromRoutingID})
		}
	}
	want := []leg{{"r1", "lead", ""}, {"r2", "transfer", "r1"}, {"r3", "lead", ""}, {"r4", "consult", "r3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("interaction.routed legs (-want +got):\n%s", diff)
	}
}

// TestRequeueEscalation: a requeue with targetQueueId sends the interaction to wait in that
// queue instead of the routing's own, still passing over the agent who gave it back.
func TestRequeueEscalation(t *testing.T) {
	type leg struct{ AgentID, QueueID, RouteType, State, EscalatedTo string }
	tests := []struct {
		name      string
		give      []acdmock.Agent // queue q1 routes i1 to the first (r1)
		conf      bool            // a1 conferences a2 in first; the requeue is a2's
		target    string          // targetQueueId
		then      func(t *testing.T, s *acdmock.Server)
		wantReply map[string]any
		wantQueue string
		wantState string
		wantLegs  []leg
	}{
		{
			name:      "escalated, another agent of the escalation queue takes it",
			give:      []acdmock.Agent{ready("a1", "q1", "q2"), ready("a2", "q2"), ready("a3")},
			target:    "q2",
			wantReply: map[string]any{"status": "requeued", "routingId": "r1", "escalatedTo": "q2"},
			wantQueue: "q2", wantState: acdmock.StateRouting,
			wantLegs: []leg{{"a1", "q1", "lead", acdmock.StateRequeued, "q2"}, {"a2", "q2", "lead", acdmock.StateRouting, ""}},
		},
		{
			name:      "escalated, the agent who gave it back is the only one there",
			give:      []acdmock.Agent{ready("a1", "q1", "q2"), ready("a3")},
			target:    "q2",
			wantReply: map[string]any{"status": "requeued", "routingId": "r1", "escalatedTo": "q2"},
			wantQueue: "q2", wantState: acdmock.StateRouting,
			wantLegs: []leg{{"a1", "q1", "lead", acdmock.StateRequeued, "q2"}, {"a1", "q2", "lead", acdmock.StateRouting, ""}},
		},
		{
			name:   "escalated, nobody ready there: it waits there, not in its own queue",
			give:   []acdmock.Agent{ready("a1"), ready("a3"), {ID: "a2", Queues: []string{"q2"}}},
			target: "q2",
			then: func(t *testing.T, s *acdmock.Server) {
				if v := view(t, s, "i1"); v.State != acdmock.StateQueued || v.QueueID != "q2" {
					t.Errorf("before a2 is ready: state %q queue %q, want queued in q2", v.State, v.QueueID)
				}
				must(t, s.SetAgentReady("a2", true, ""))
			},
			wantReply: map[string]any{"status": "requeued", "routingId": "r1", "escalatedTo": "q2"},
			wantQueue: "q2", wantState: acdmock.StateRouting,
			wantLegs: []leg{{"a1", "q1", "lead", acdmock.StateRequeued, "q2"}, {"a2", "q2", "lead", acdmock.StateRouting, ""}},
		},
		{
			name:      "no target: its own queue",
			give:      []acdmock.Agent{ready("a1", "q1", "q2"), ready("a2", "q2"), ready("a3")},
			wantReply: map[string]any{"status": "requeued", "routingId": "r1"},
			wantQueue: "q1", wantState: acdmock.StateRouting,
			wantLegs: []leg{{"a1", "q1", "lead", acdmock.StateRequeued, ""}, {"a3", "q1", "lead", acdmock.StateRouting, ""}},
		},
		{
			name:      "another leg faces the customer: nothing is requeued, nothing escalated",
			give:      []acdmock.Agent{ready("a1"), ready("a2", "q1", "q2")},
			conf:      true,
			target:    "q2",
			wantReply: map[string]any{"status": "requeued", "routingId": "r2"},
			wantQueue: "q1", wantState: acdmock.StateConnected,
			wantLegs: []leg{{"a1", "q1", "lead", acdmock.StateConnected, ""}, {"a2", "q1", "conference", acdmock.StateRequeued, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, hs := newServer(t, acdmock.Options{})
			setup(t, s, tt.give...)
			id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
			must(t, err)
			path := "/acd/v1/interactions/" + id
			requeue := `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT","targetQueueId":"` + tt.target + `"}`
			if tt.conf {
				wantOK(t, acd(t, hs, path+"/route", `{"routingId":"r1","fromAgentId":"a1","routeType":"conference","targetAgentId":"a2"}`), http.StatusAccepted)
				requeue = `{"routingId":"r2","agentId":"a2","reasonCode":"declined","targetQueueId":"` + tt.target + `"}`
			}
			got := acd(t, hs, path+"/requeue", requeue)
			if diff := cmp.Diff(reply{http.StatusOK, tt.wantReply}, got); diff != "" {
				t.Errorf("requeue reply (-want +got):\n%s", diff)
			}
			if tt.then != nil {
				tt.then(t, s)
			}
			v := view(t, s, id)
			if v.QueueID != tt.wantQueue || v.State != tt.wantState {
				t.Errorf("interaction queue %q state %q, want %q %q", v.QueueID, v.State, tt.wantQueue, tt.wantState)
			}
			var legs []leg
			for _, r := range v.Routings {
				legs = append(legs, leg{r.AgentID, r.QueueID, r.RouteType, r.State, r.EscalatedTo})
			}
			if diff := cmp.Diff(tt.wantLegs, legs); diff != "" {
				t.Errorf("routings (-want +got):\n%s", diff)
			}
			calls := s.Calls()
			if last := calls[len(calls)-1]; last.Kind != acdmock.KindRequeue || last.TargetQueueID != tt.target || !last.Applied {
				t.Errorf("requeue call recorded as %+v, want applied with targetQueueId %q", last, tt.target)
			}
		})
	}
}

// TestRequeueToAnUnknownQueueChangesNothing: 404 naming targetQueueId; the routing stays
// open and the interaction where it was.
func TestRequeueToAnUnknownQueueChangesNothing(t *testing.T) {
	s, hs := newServer(t, acdmock.Options{})
	setup(t, s, ready("a1"), ready("a2"))
	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
	must(t, err)
	before, hooks := view(t, s, id), len(s.Webhooks())
	got := acd(t, hs, "/acd/v1/interactions/"+id+"/requeue", `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT","targetQueueId":"nope"}`)
	if got.Status != http.StatusNotFound || got.Body["field"] != "targetQueueId" {
		t.Errorf("requeue to an unknown queue = %+v, want 404 naming targetQueueId", got)
	}
	if diff := cmp.Diff(before, view(t, s, id)); diff != "" {
		t.Errorf("interaction changed (-before +after):\n%s", diff)
	}
	if n := len(s.Webhooks()); n != hooks {
		t.Errorf("webhooks = %d, want still %d", n, hooks)
	}
	if n := s.Applied(acdmock.KindRequeue, id); n != 0 {
		t.Errorf("Applied(requeue, %s) = %d, want 0", id, n)
	}
	if n := load(t, s, "a1"); n != 1 {
		t.Errorf("a1 load = %d, want 1 (still offered)", n)
	}
}
