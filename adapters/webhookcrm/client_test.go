package webhookcrm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/webhookcrm"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

const (
	site   = "demo"
	apiKey = "s3cret-api-key"
)

var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// world is a mock CRM on a real HTTP server with queue Q1 and agent A1 logged in. wrap, if
// given, sits in front of the mock.
type world struct {
	mock *crmmock.Server
	srv  *httptest.Server
	logs *syncBuffer
}

func newWorld(t *testing.T, wrap ...func(http.Handler) http.Handler) *world {
	t.Helper()
	w := &world{logs: &syncBuffer{}}
	w.mock = crmmock.New(crmmock.Options{Sites: []string{site}, APIKey: apiKey, Clock: crmmock.NewManualClock(t0), TickInterval: -1})
	var h http.Handler = w.mock
	for _, wr := range wrap {
		h = wr(h)
	}
	w.srv = httptest.NewServer(h)
	t.Cleanup(w.srv.Close)
	t.Cleanup(w.mock.Close)
	must(t, w.mock.CreateQueue(site, crmmock.Queue{ID: "Q1", External: true}))
	must(t, w.mock.CreateAgent(site, crmmock.Agent{AccountID: "A1", Queues: []string{"Q1"}}))
	if _, err := w.mock.Login(site, "A1"); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) config(key string) webhookcrm.Config {
	return webhookcrm.Config{
		Sites:       map[string]webhookcrm.Site{site: {BaseURL: w.srv.URL, APIKey: key}},
		CallTimeout: 250 * time.Millisecond,
		BackoffMin:  time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
		PollWait:    100 * time.Millisecond,
	}
}

func (w *world) client(t *testing.T, key string) *webhookcrm.Client {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return newClient(t, w.config(key), logger)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A refused API key is the CRM refusing the bridge for good: ErrRejected, sent once, no
// breaker failure, and the key is neither in the error nor in the logs.
func TestWrongAPIKeyIsRejected(t *testing.T) {
	w := newWorld(t)
	const wrong = "wrong-key-123"
	crm := w.client(t, wrong)
	chat, err := w.mock.CreateChat(site, "Q1", "Ada")
	must(t, err)
	_, err = crm.RouteChat(context.Background(), bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "tx-1"})
	if !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("RouteChat with a wrong key = %v, want ErrRejected", err)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("error %q does not say the key was refused", err)
	}
	if n := w.mock.Calls(crmmock.OpChatRouted); n != 1 {
		t.Errorf("route sent %d times, want 1", n)
	}
	if got := crm.BreakerStates()[strings.TrimPrefix(w.srv.URL, "http://")]; got != "closed" {
		t.Errorf("breaker = %q, want closed", got)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error %q shows the API key", err)
	}
}

// RouteChat without a TransactionID could not be replayed safely: refused before the wire.
func TestRouteChatNeedsATransactionID(t *testing.T) {
	w := newWorld(t)
	crm := w.client(t, apiKey)
	_, err := crm.RouteChat(context.Background(), bridge.RouteRequest{Site: site, ChatID: "1", AgentAccountID: "A1", QueueID: "Q1"})
	if !errors.Is(err, bridge.ErrRejected) {
		t.Fatalf("RouteChat without a TransactionID = %v, want ErrRejected", err)
	}
	if n := w.mock.Calls(crmmock.OpChatRouted); n != 0 {
		t.Errorf("route sent %d times, want 0", n)
	}
}

// The route is sent once per attempt with the TransactionID as its Idempotency-Key, and a
// lost answer is resolved without a second evaluation, whatever the transport does.
func TestRouteChatSendsTheTransactionIDAsKey(t *testing.T) {
	var (
		mu   sync.Mutex
		keys []string
	)
	w := newWorld(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/routes") {
				mu.Lock()
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
			}
			next.ServeHTTP(rw, r)
		})
	})
	crm := w.client(t, apiKey)
	chat, err := w.mock.CreateChat(site, "Q1", "Ada")
	must(t, err)
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: 503, Count: 1}))
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Count: 1}))
	got, err := crm.RouteChat(context.Background(), bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "tx-42"})
	if err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat = %+v, %v, want SUCCESS", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) < 3 {
		t.Errorf("route attempts = %d, want at least 3 (503, drop, answer)", len(keys))
	}
	for _, k := range keys {
		if k != "tx-42" {
			t.Errorf("route attempts carried keys %q, want tx-42 every time", keys)
			break
		}
	}
	if n := w.mock.RouteEvaluations("tx-42"); n != 1 {
		t.Errorf("RouteEvaluations = %d, want 1", n)
	}
}

// A second leg carries its route_type and its participant shows on the chat; a lead's
// request stays byte for byte what it was before route types existed, whether RouteType is
// empty or lead.
func TestRouteChatSecondLeg(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies []string
	)
	w := newWorld(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/routes") {
				var b bytes.Buffer
				_, _ = b.ReadFrom(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(b.Bytes()))
				mu.Lock()
				bodies = append(bodies, b.String())
				mu.Unlock()
			}
			next.ServeHTTP(rw, r)
		})
	})
	must(t, w.mock.CreateAgent(site, crmmock.Agent{AccountID: "B1", Queues: []string{"Q1"}, MaxSessions: 2}))
	if _, err := w.mock.Login(site, "B1"); err != nil {
		t.Fatal(err)
	}
	crm := w.client(t, apiKey)
	ctx := context.Background()
	chat, err := w.mock.CreateChat(site, "Q1", "Ada")
	must(t, err)
	other, err := w.mock.CreateChat(site, "Q1", "Bob")
	must(t, err)

	reqs := []struct {
		give bridge.RouteRequest
		want string
	}{
		{bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "lead-1"}, "SUCCESS"},
		{bridge.RouteRequest{Site: site, ChatID: other, AgentAccountID: "B1", QueueID: "Q1", TransactionID: "lead-2", RouteType: bridge.RouteLead}, "SUCCESS"},
		{bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "B1", QueueID: "Q1", TransactionID: "conf-1", RouteType: bridge.RouteConference}, "SUCCESS"},
		{bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "xfer-1", RouteType: bridge.RouteTransfer}, "COULD_NOT_RESERVE_ENGAGEMENT"},
	}
	for i, r := range reqs {
		if i == 2 {
			must(t, w.mock.Respond(site, chat, crmmock.ActionAccept))
		}
		got, err := crm.RouteChat(ctx, r.give)
		if err != nil || got.Code != r.want {
			t.Fatalf("RouteChat(%+v) = %+v, %v, want %s", r.give, got, err, r.want)
		}
	}

	eng, err := crm.Engagement(ctx, site, chat)
	want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: "ACTIVE", AgentAccountID: "A1",
		Participants: []bridge.Participant{{AgentAccountID: "B1", RouteType: bridge.RouteConference, State: "OFFERED"}}}
	if err != nil || !cmp.Equal(want, eng) {
		t.Errorf("Engagement = %+v, %v, want %+v", eng, err, want)
	}
	wantBodies := []string{
		fmt.Sprintf(`{"chat_id":%q,"agent_id":"A1","queue_id":"Q1"}`, chat),
		fmt.Sprintf(`{"chat_id":%q,"agent_id":"B1","queue_id":"Q1"}`, other),
		fmt.Sprintf(`{"chat_id":%q,"agent_id":"B1","queue_id":"Q1","route_type":"conference"}`, chat),
		fmt.Sprintf(`{"chat_id":%q,"agent_id":"A1","queue_id":"Q1","route_type":"transfer"}`, chat),
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(wantBodies, bodies); diff != "" {
		t.Errorf("route bodies (-want +got):\n%s", diff)
	}
}

// A result other than SUCCESS on the events feed is a *CodeError: ErrUnavailable for the
// CRM's own failures, ErrRejected for the rest.
func TestPollEventsCodeErrors(t *testing.T) {
	tests := []struct {
		give string
		want error
	}{
		{give: "UNKNOWN_ERROR", want: bridge.ErrUnavailable},
		{give: "RNW_API_EXCEPTION", want: bridge.ErrUnavailable},
		{give: "UNKNOWN_SITE", want: bridge.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			w := newWorld(t)
			crm := w.client(t, apiKey)
			must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpPoll, ResultCode: tt.give, Count: 1}))
			_, err := crm.PollEvents(context.Background(), site, 0)
			var ce *webhookcrm.CodeError
			if !errors.As(err, &ce) || ce.Code != tt.give || !errors.Is(err, tt.want) {
				t.Errorf("PollEvents with result %s = %v, want a *CodeError wrapping %v", tt.give, err, tt.want)
			}
		})
	}
}

// The long poll may be held for PollWait, longer than one ordinary attempt.
func TestPollEventsWaitsLongerThanCallTimeout(t *testing.T) {
	w := newWorld(t)
	cfg := w.config(apiKey)
	cfg.CallTimeout, cfg.PollWait = 50*time.Millisecond, 300*time.Millisecond
	crm := newClient(t, cfg, nil)
	seq := w.mock.Dump().Sites[0].LastSeq
	go func() {
		time.Sleep(150 * time.Millisecond) // past CallTimeout, within PollWait
		_ = w.mock.SetStatus(site, "A1", crmmock.StatusOnBreak)
	}()
	events, err := crm.PollEvents(context.Background(), site, seq)
	if err != nil || len(events) != 1 || events[0].Type != bridge.CRMAgentStatusChanged {
		t.Fatalf("PollEvents = %+v, %v, want the AgentStatusChanged event", events, err)
	}
}

// The API key never reaches the logs, the errors or a printed config.
func TestAPIKeyNeverShown(t *testing.T) {
	w := newWorld(t)
	crm := w.client(t, apiKey)
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Count: 1}))
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpEngagement, HTTPStatus: 503}))
	chat, err := w.mock.CreateChat(site, "Q1", "Ada")
	must(t, err)
	_, rerr := crm.RouteChat(context.Background(), bridge.RouteRequest{Site: site, ChatID: chat, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "tx-1"})
	if !strings.Contains(w.logs.String(), "crm route outcome unknown") {
		t.Fatalf("logs have no resolution line; the test proves nothing:\n%s", w.logs)
	}
	cfg := w.config(apiKey)
	shown := map[string]string{
		"logs":   w.logs.String(),
		"error":  fmt.Sprint(rerr),
		"%v":     fmt.Sprintf("%v", cfg),
		"%+v":    fmt.Sprintf("%+v", cfg),
		"%#v":    fmt.Sprintf("%#v", cfg),
		"String": cfg.Sites[site].String(),
	}
	for where, text := range shown {
		if strings.Contains(text, apiKey) {
			t.Errorf("the API key is in the %s: %s", where, text)
		}
	}
	if !strings.Contains(shown["%+v"], "<redacted>") {
		t.Errorf("printed config %s does not show that a key is set", shown["%+v"])
	}
}

func TestNew(t *testing.T) {
	good := webhookcrm.Config{Sites: map[string]webhookcrm.Site{"demo": {BaseURL: "http://crm.example:8080", APIKey: apiKey}}}
	tests := []struct {
		name    string
		mutate  func(*webhookcrm.Config)
		wantErr string
	}{
		{name: "valid, zero numbers take defaults", mutate: func(*webhookcrm.Config) {}},
		{name: "no sites", mutate: func(c *webhookcrm.Config) { c.Sites = nil }, wantErr: "sites"},
		{name: "empty site name", mutate: func(c *webhookcrm.Config) {
			c.Sites = map[string]webhookcrm.Site{"": {BaseURL: "http://crm", APIKey: "k"}}
		}, wantErr: "sites: empty site name"},
		{name: "bad url", mutate: func(c *webhookcrm.Config) {
			c.Sites = map[string]webhookcrm.Site{"demo": {BaseURL: "crm:8080", APIKey: "k"}}
		}, wantErr: "sites.demo.base_url"},
		{name: "no key", mutate: func(c *webhookcrm.Config) { c.Sites = map[string]webhookcrm.Site{"demo": {BaseURL: "http://crm"}} }, wantErr: "sites.demo.api_key"},
		{name: "key with a newline", mutate: func(c *webhookcrm.Config) {
			c.Sites = map[string]webhookcrm.Site{"demo": {BaseURL: "http://crm", APIKey: "k\nX-Evil: 1"}}
		}, wantErr: "sites.demo.api_key"},
		{name: "backoff upside down", mutate: func(c *webhookcrm.Config) { c.BackoffMin, c.BackoffMax = time.Second, time.Millisecond }, wantErr: "backoff_min"},
		{name: "budget shorter than one attempt", mutate: func(c *webhookcrm.Config) { c.CallTimeout, c.PopBudget = 3*time.Second, time.Second }, wantErr: "pop_budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			c, err := webhookcrm.New(cfg, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() error = %v", err)
				}
				if diff := cmp.Diff(map[string]string{"crm.example:8080": "closed"}, c.BreakerStates()); diff != "" {
					t.Errorf("BreakerStates() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want one naming %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "X-Evil") {
				t.Errorf("New() error %q quotes the API key", err)
			}
		})
	}
}

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
