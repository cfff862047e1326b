package acd_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acd"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// fixture is a simulator with queue q1, ready agents a1 and a2, an escalation queue q2
// nobody serves, and interaction i1 routed to a1 as r1, behind a real HTTP server. wrap, when
// set, sits between the client and the simulator to inject faults or watch the wire.
type fixture struct {
	acd    *acdmock.Server
	server *httptest.Server
}

func newFixture(t *testing.T, wrap func(next http.Handler) http.Handler) fixture {
	t.Helper()
	return newFixtureWith(t, acdmock.Options{}, wrap)
}

func newFixtureWith(t *testing.T, opts acdmock.Options, wrap func(next http.Handler) http.Handler) fixture {
	t.Helper()
	opts.Site = "site1"
	s := acdmock.New(opts)
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { hs.Close(); s.Close() })
	must(t, s.AddQueue(acdmock.Queue{ID: "q1", Name: "Sales"}))
	must(t, s.AddQueue(acdmock.Queue{ID: "q2", Name: "Escalations"}))
	must(t, s.AddAgent(acdmock.Agent{ID: "a1", Queues: []string{"q1"}, Ready: true}))
	must(t, s.AddAgent(acdmock.Agent{ID: "a2", Queues: []string{"q1"}, Ready: true}))
	id, err := s.CreateInteraction(context.Background(), "chat-1", "", "q1")
	must(t, err)
	if id != "i1" {
		t.Fatalf("CreateInteraction = %q, want i1", id)
	}
	return fixture{acd: s, server: hs}
}

// client builds a client with fast test numbers; cfg overrides them where set.
func (f fixture) client(t *testing.T, cfg acd.Config) *acd.Client {
	t.Helper()
	cfg.BaseURL = f.server.URL
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	c, err := acd.New(cfg, nil)
	must(t, err)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var requeueI1 = bridge.ACDCall{
	Kind: bridge.ACDRequeue, IdempotencyKey: "requeue-i1-r1", InteractionID: "i1", RoutingID: "r1",
	AgentID: "a1", Reason: "AGENT_ABSENT",
}

func TestSendMapsEachKindToItsRoute(t *testing.T) {
	tests := []struct {
		name string
		give bridge.ACDCall
		want acdmock.Call
	}{
		{
			name: "create",
			give: bridge.ACDCall{Kind: bridge.ACDCreate, IdempotencyKey: "k-create", ChatID: "chat-2", Site: "site1", QueueID: "q1"},
			want: acdmock.Call{Kind: acdmock.KindCreate, InteractionID: "i2", ChatID: "chat-2", Site: "site1", QueueID: "q1", IdempotencyKey: "k-create", Applied: true, Status: 201},
		},
		{
			name: "requeue",
			give: requeueI1,
			want: acdmock.Call{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Reason: "AGENT_ABSENT", IdempotencyKey: "requeue-i1-r1", Applied: true, Status: 200},
		},
		{
			name: "requeue to an escalation queue",
			give: bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "k-escalate", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Reason: "COULD_NOT_ASSIGN_ENGAGEMENT", TargetQueueID: "q2"},
			want: acdmock.Call{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Reason: "COULD_NOT_ASSIGN_ENGAGEMENT", TargetQueueID: "q2", IdempotencyKey: "k-escalate", Applied: true, Status: 200},
		},
		{
			name: "accept",
			give: bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k-accept", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"},
			want: acdmock.Call{Kind: acdmock.KindAccept, InteractionID: "i1", RoutingID: "r1", AgentID: "a1", IdempotencyKey: "k-accept", Applied: true, Status: 200},
		},
		{
			name: "complete",
			give: bridge.ACDCall{Kind: bridge.ACDComplete, IdempotencyKey: "k-complete", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Disposition: "sold"},
			want: acdmock.Call{Kind: acdmock.KindComplete, InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Disposition: "sold", IdempotencyKey: "k-complete", Applied: true, Status: 200},
		},
		{
			name: "route",
			give: bridge.ACDCall{Kind: bridge.ACDRoute, IdempotencyKey: "k-route", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", RouteType: bridge.RouteConference, TargetAgentID: "a2"},
			want: acdmock.Call{Kind: acdmock.KindRoute, InteractionID: "i1", RoutingID: "r1", AgentID: "a1", RouteType: "conference", TargetAgentID: "a2", IdempotencyKey: "k-route", Applied: true, Status: 202},
		},
		{
			name: "agent not ready",
			give: bridge.ACDCall{Kind: bridge.ACDAgentState, IdempotencyKey: "k-state", AgentID: "a1", Reason: "AGENT_ABSENT"},
			want: acdmock.Call{Kind: acdmock.KindAgentState, AgentID: "a1", State: "not_ready", Reason: "AGENT_ABSENT", IdempotencyKey: "k-state", Applied: true, Status: 200},
		},
		{
			name: "agent ready",
			give: bridge.ACDCall{Kind: bridge.ACDAgentState, IdempotencyKey: "k-ready", AgentID: "a2", Ready: true},
			want: acdmock.Call{Kind: acdmock.KindAgentState, AgentID: "a2", State: "ready", IdempotencyKey: "k-ready", Applied: true, Status: 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.client(t, acd.Config{})
			if err := c.Send(context.Background(), tt.give); err != nil {
				t.Fatalf("Send(%+v) = %v, want nil", tt.give, err)
			}
			want := []acdmock.Call{tt.want}
			if diff := cmp.Diff(want, f.acd.Calls(), cmpopts.IgnoreFields(acdmock.Call{}, "At")); diff != "" {
				t.Errorf("calls at the ACD mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendWhileDownIsUnavailableThenAppliedOnce(t *testing.T) {
	tests := []struct {
		name string
		give bridge.ACDCall
	}{
		{name: "requeue", give: requeueI1},
		{name: "escalation requeue", give: bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "k-escalate", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", TargetQueueID: "q2"}},
		{name: "accept", give: bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k-accept", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, nil)
			c := f.client(t, acd.Config{Retries: 2})

			f.acd.SetDown(true)
			err := c.Send(ctx, tt.give)
			if !errors.Is(err, bridge.ErrUnavailable) || errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrBreakerOpen) {
				t.Fatalf("Send while down = %v, want ErrUnavailable only", err)
			}
			if n := len(f.acd.Calls()); n != 3 {
				t.Errorf("attempts while down = %d, want 3 (1 + 2 retries)", n)
			}

			f.acd.SetDown(false)
			// The outbox makes the same call again, and may make it twice (takeover).
			for range 2 {
				if err := c.Send(ctx, tt.give); err != nil {
					t.Fatalf("Send after recovery = %v, want nil", err)
				}
			}
			if n := f.acd.Applied(string(tt.give.Kind), tt.give.RoutingID); n != 1 {
				t.Errorf("Applied(%s, %s) = %d, want 1", tt.give.Kind, tt.give.RoutingID, n)
			}
		})
	}
}

// TestSendBodies pins the JSON on the wire: a requeue without an escalation queue is the
// body it always was.
func TestSendBodies(t *testing.T) {
	tests := []struct {
		name     string
		give     bridge.ACDCall
		wantPath string
		wantBody string
	}{
		{
			name: "requeue", give: requeueI1, wantPath: "/acd/v1/interactions/i1/requeue",
			wantBody: `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`,
		},
		{
			name:     "escalation requeue",
			give:     bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "k", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", Reason: "AGENT_ABSENT", TargetQueueID: "q2"},
			wantPath: "/acd/v1/interactions/i1/requeue",
			wantBody: `{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT","targetQueueId":"q2"}`,
		},
		{
			name:     "accept",
			give:     bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"},
			wantPath: "/acd/v1/interactions/i1/accept",
			wantBody: `{"routingId":"r1","agentId":"a1"}`,
		},
		{
			name:     "accept without a routing id",
			give:     bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k", InteractionID: "i1", AgentID: "a1"},
			wantPath: "/acd/v1/interactions/i1/accept",
			wantBody: `{"agentId":"a1"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct{ Method, Path, Key, Body string }
			var mu sync.Mutex
			var got []seen
			f := newFixture(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					mu.Lock()
					got = append(got, seen{r.Method, r.URL.Path, r.Header.Get(acd.HeaderIdempotencyKey), string(body)})
					mu.Unlock()
					r.Body = io.NopCloser(bytes.NewReader(body))
					next.ServeHTTP(w, r)
				})
			})
			c := f.client(t, acd.Config{})
			if err := c.Send(context.Background(), tt.give); err != nil {
				t.Fatalf("Send(%+v) = %v, want nil", tt.give, err)
			}
			want := []seen{{http.MethodPost, tt.wantPath, tt.give.IdempotencyKey, tt.wantBody}}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests on the wire (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAcceptStopsTheAlertingTimer: once the bridge reported the accept, the ACD's alerting
// timeout no longer takes the chat back.
func TestAcceptStopsTheAlertingTimer(t *testing.T) {
	ctx := context.Background()
	frozen := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f := newFixtureWith(t, acdmock.Options{AlertingTimeout: 30 * time.Second, Now: func() time.Time { return frozen }}, nil)
	c := f.client(t, acd.Config{})
	if err := c.Send(ctx, bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k-accept", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"}); err != nil {
		t.Fatalf("Send(accept) = %v, want nil", err)
	}
	must(t, f.acd.Advance(ctx, time.Hour))
	v, _ := f.acd.Interaction("i1")
	if v.State != acdmock.StateConnected || v.RoutingID != "r1" || len(v.Routings) != 1 || !v.Routings[0].AlertingUntil.IsZero() {
		t.Errorf("an hour after the accept: %+v, want r1 connected with no alerting timer", v)
	}
	for _, h := range f.acd.Webhooks() {
		if h.Type == acdapi.TypeRevoked {
			t.Errorf("webhook %s %s after the accept, want none", h.Type, h.RoutingID)
		}
	}
}

// loseFirstReply lets the first request reach the ACD but answers the client 502, as a proxy
// that dropped the ACD's answer would.
func loseFirstReply(next http.Handler) http.Handler {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			next.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestRetryAfterALostReplyIsAppliedOnce(t *testing.T) {
	f := newFixture(t, loseFirstReply)
	c := f.client(t, acd.Config{})
	if err := c.Send(context.Background(), requeueI1); err != nil {
		t.Fatalf("Send = %v, want nil after a retry", err)
	}
	var applied []bool
	for _, call := range f.acd.Calls() {
		applied = append(applied, call.Applied)
	}
	if diff := cmp.Diff([]bool{true, false}, applied); diff != "" {
		t.Errorf("applied per attempt (-want +got):\n%s", diff)
	}
	if n := f.acd.Applied(acdmock.KindRequeue, "i1"); n != 1 {
		t.Errorf("Applied(requeue, i1) = %d, want 1", n)
	}
	if v, _ := f.acd.Interaction("i1"); len(v.Routings) != 2 {
		t.Errorf("routings = %d, want 2 (requeued once, rerouted once)", len(v.Routings))
	}
}

func TestSendOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(t *testing.T, c *acd.Client)
		give      bridge.ACDCall
		want      error // nil, bridge.ErrRejected, bridge.ErrUnavailable
		wantField string
		wantCalls int // at the ACD
	}{
		{
			name: "unknown interaction", want: bridge.ErrRejected, wantField: "id", wantCalls: 1,
			give: bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "k", InteractionID: "i99", AgentID: "a1"},
		},
		{
			name: "unknown agent", want: bridge.ErrRejected, wantField: "id", wantCalls: 1,
			give: bridge.ACDCall{Kind: bridge.ACDAgentState, IdempotencyKey: "k", AgentID: "zz", Ready: true},
		},
		{
			name: "invalid route type", want: bridge.ErrRejected, wantField: "routeType", wantCalls: 1,
			give: bridge.ACDCall{Kind: bridge.ACDRoute, IdempotencyKey: "k", InteractionID: "i1", AgentID: "a1", RouteType: "lead", TargetAgentID: "a2"},
		},
		{
			name: "route conflict is a rejection", want: bridge.ErrRejected, wantField: "targetAgentId", wantCalls: 2,
			prepare: func(t *testing.T, c *acd.Client) {
				must(t, c.Send(context.Background(), bridge.ACDCall{Kind: bridge.ACDAgentState, IdempotencyKey: "nr", AgentID: "a2"}))
			},
			give: bridge.ACDCall{Kind: bridge.ACDRoute, IdempotencyKey: "k", InteractionID: "i1", AgentID: "a1", RouteType: bridge.RouteTransfer, TargetAgentID: "a2"},
		},
		{
			name: "complete already completed is success", want: nil, wantCalls: 2,
			prepare: func(t *testing.T, c *acd.Client) {
				must(t, c.Send(context.Background(), bridge.ACDCall{Kind: bridge.ACDComplete, IdempotencyKey: "first", InteractionID: "i1", AgentID: "a1"}))
			},
			give: bridge.ACDCall{Kind: bridge.ACDComplete, IdempotencyKey: "second", InteractionID: "i1", AgentID: "a1"},
		},
		{
			name: "requeue already requeued is success", want: nil, wantCalls: 2,
			prepare: func(t *testing.T, c *acd.Client) {
				must(t, c.Send(context.Background(), requeueI1))
			},
			give: bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "other", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"},
		},
		{
			name: "requeue to an unknown escalation queue is a rejection", want: bridge.ErrRejected, wantField: "targetQueueId", wantCalls: 1,
			give: bridge.ACDCall{Kind: bridge.ACDRequeue, IdempotencyKey: "k", InteractionID: "i1", RoutingID: "r1", AgentID: "a1", TargetQueueID: "nope"},
		},
		{
			name: "accept after the offer ended is a rejection, not already applied", want: bridge.ErrRejected, wantField: "routingId", wantCalls: 2,
			prepare: func(t *testing.T, c *acd.Client) {
				must(t, c.Send(context.Background(), requeueI1))
			},
			give: bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"},
		},
		{
			name: "accept twice is success", want: nil, wantCalls: 2,
			prepare: func(t *testing.T, c *acd.Client) {
				must(t, c.Send(context.Background(), bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "first", InteractionID: "i1", AgentID: "a1"}))
			},
			give: bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "second", InteractionID: "i1", RoutingID: "r1", AgentID: "a1"},
		},
		{
			name: "accept without an interaction is refused before the wire", want: bridge.ErrRejected, wantCalls: 0,
			give: bridge.ACDCall{Kind: bridge.ACDAccept, IdempotencyKey: "k", AgentID: "a1"},
		},
		{
			name: "no idempotency key is refused before the wire", want: bridge.ErrRejected, wantCalls: 0,
			give: bridge.ACDCall{Kind: bridge.ACDComplete, InteractionID: "i1", AgentID: "a1"},
		},
		{
			name: "unknown kind is refused before the wire", want: bridge.ErrRejected, wantCalls: 0,
			give: bridge.ACDCall{Kind: "pause", IdempotencyKey: "k"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			c := f.client(t, acd.Config{BreakerFailures: 1})
			if tt.prepare != nil {
				tt.prepare(t, c)
			}
			err := c.Send(context.Background(), tt.give)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Send(%+v) = %v, want %v", tt.give, err, tt.want)
			}
			if tt.wantField != "" {
				var apiErr *acd.APIError
				if !errors.As(err, &apiErr) || apiErr.Field != tt.wantField || apiErr.Message == "" {
					t.Errorf("Send error = %#v, want an *acd.APIError naming field %q with the ACD's text", err, tt.wantField)
				}
			}
			if n := len(f.acd.Calls()); n != tt.wantCalls {
				t.Errorf("calls at the ACD = %d, want %d (rejections are not retried)", n, tt.wantCalls)
			}
			if got := c.BreakerState(); got != "closed" {
				t.Errorf("BreakerState() = %q, want closed (4xx do not trip it)", got)
			}
		})
	}
}

func TestOpenBreakerFailsFastAndRecovers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	c := f.client(t, acd.Config{Retries: 5, BreakerFailures: 2, BreakerOpenFor: 100 * time.Millisecond})

	f.acd.SetDown(true)
	err := c.Send(ctx, requeueI1)
	if !errors.Is(err, bridge.ErrUnavailable) || !errors.Is(err, bridge.ErrBreakerOpen) {
		t.Fatalf("Send while down = %v, want ErrUnavailable and ErrBreakerOpen", err)
	}
	if n := len(f.acd.Calls()); n != 2 {
		t.Errorf("attempts = %d, want 2 (retries stop when the breaker opens)", n)
	}
	if got := c.BreakerState(); got != "open" {
		t.Errorf("BreakerState() = %q, want open", got)
	}

	start := time.Now()
	err = c.Send(ctx, requeueI1)
	if !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
		t.Errorf("Send with open breaker = %v, want ErrBreakerOpen and ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 50*time.Millisecond {
		t.Errorf("Send with open breaker took %v, want a fast failure", elapsed)
	}
	if n := len(f.acd.Calls()); n != 2 {
		t.Errorf("attempts = %d, want still 2 (nothing sent while open)", n)
	}

	f.acd.SetDown(false)
	time.Sleep(120 * time.Millisecond)
	if err := c.Send(ctx, requeueI1); err != nil {
		t.Fatalf("Send after the open period = %v, want nil", err)
	}
	if got := c.BreakerState(); got != "closed" {
		t.Errorf("BreakerState() = %q, want closed after a successful trial", got)
	}
	if n := f.acd.Applied(acdmock.KindRequeue, "i1"); n != 1 {
		t.Errorf("Applied(requeue, i1) = %d, want 1", n)
	}
}

// stall holds requests to the given path until the client gives up.
func stall(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/acd/v1/interactions/i1/complete" {
			// The server notices a client hanging up only once the body was read.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestCallerCancellationDoesNotTripTheBreaker(t *testing.T) {
	f := newFixture(t, stall)
	c := f.client(t, acd.Config{BreakerFailures: 1, CallTimeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	err := c.Send(ctx, bridge.ACDCall{Kind: bridge.ACDComplete, IdempotencyKey: "k", InteractionID: "i1", AgentID: "a1"})
	if !errors.Is(err, bridge.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Send cancelled = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	if got := c.BreakerState(); got != "closed" {
		t.Errorf("BreakerState() = %q, want closed", got)
	}
}

func TestCallTimeoutIsUnavailableAndCounts(t *testing.T) {
	f := newFixture(t, stall)
	c := f.client(t, acd.Config{BreakerFailures: 1, CallTimeout: 50 * time.Millisecond})
	start := time.Now()
	err := c.Send(context.Background(), bridge.ACDCall{Kind: bridge.ACDComplete, IdempotencyKey: "k", InteractionID: "i1", AgentID: "a1"})
	if !errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("Send to a stalled ACD = %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Send took %v, want about the 50ms call timeout", elapsed)
	}
	if got := c.BreakerState(); got != "open" {
		t.Errorf("BreakerState() = %q, want open (a stalled ACD is a failure)", got)
	}
}

func TestTooManyRequestsIsRetriedThenUnavailable(t *testing.T) {
	var hits atomic.Int32
	f := newFixture(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
		})
	})
	c := f.client(t, acd.Config{Retries: 2, BreakerFailures: 1})
	err := c.Send(context.Background(), requeueI1)
	var apiErr *acd.APIError
	if !errors.Is(err, bridge.ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests {
		t.Fatalf("Send = %v, want ErrUnavailable with status 429", err)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("attempts = %d, want 3", n)
	}
	if got := c.BreakerState(); got != "closed" {
		t.Errorf("BreakerState() = %q, want closed (429 is an answer, not a failure)", got)
	}
}

func TestNewRejectsABadBaseURL(t *testing.T) {
	for _, give := range []string{"", "acd.local:8080", "ftp://acd", "http://"} {
		if _, err := acd.New(acd.Config{BaseURL: give}, nil); err == nil {
			t.Errorf("New(BaseURL %q) = nil error, want an error", give)
		}
	}
}
