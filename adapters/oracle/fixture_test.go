package oracle_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

const (
	site     = "demo"
	user     = "bridge"
	password = "s3cret-pw"
	tokenTTL = 10 * time.Minute
)

var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// world is a mock CRM on a real HTTP server and an adapter pointed at it.
type world struct {
	mock *crmmock.Server
	srv  *httptest.Server
	crm  *oracle.Client
	cfg  oracle.Config
	logs *syncBuffer

	// loseRouteAnswers: this many chatRouted requests are evaluated by the CRM, but the
	// answer never reaches the adapter (the connection is closed instead).
	loseRouteAnswers atomic.Int32

	// routeBodies and respondBodies are the chatRouted and respond request bodies as sent,
	// in order.
	mu            sync.Mutex
	routeBodies   []string
	respondBodies []string
}

// sentRoutes returns the chatRouted bodies sent so far.
func (w *world) sentRoutes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.routeBodies...)
}

// sentResponds returns the respond bodies sent so far.
func (w *world) sentResponds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.respondBodies...)
}

// testConfig is small and fast: every number is milliseconds.
func testConfig(baseURL string) oracle.Config {
	return oracle.Config{
		Sites:              map[string]oracle.Site{site: {BaseURL: baseURL, UserName: user, Password: password, AppID: "oracle-test"}},
		CallTimeout:        250 * time.Millisecond,
		PopBudget:          2 * time.Second,
		Retries:            2,
		BackoffMin:         time.Millisecond,
		BackoffMax:         5 * time.Millisecond,
		BreakerFailures:    5,
		BreakerOpenFor:     150 * time.Millisecond,
		BreakerHalfOpenMax: 1,
		TokenRefresh:       time.Minute,
		PollWait:           100 * time.Millisecond,
	}
}

// newWorld starts a seeded mock and a client. mutate may change the client's config.
func newWorld(t testing.TB, mutate ...func(*oracle.Config)) *world {
	t.Helper()
	w := &world{logs: &syncBuffer{}}
	w.mock = crmmock.New(crmmock.Options{
		Sites:        []string{site},
		Users:        map[string]string{user: password},
		Clock:        crmmock.NewManualClock(t0),
		TokenTTL:     tokenTTL,
		TickInterval: -1,
		MaxPollWait:  2 * time.Second,
	})
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	t.Cleanup(w.mock.Close) // runs first: releases hanging requests
	w.cfg = testConfig(w.srv.URL)
	for _, m := range mutate {
		m(&w.cfg)
	}
	w.crm = w.newClient(t, w.cfg)
	w.seed(t)
	return w
}

func (w *world) newClient(t testing.TB, cfg oracle.Config) *oracle.Client {
	t.Helper()
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := oracle.New(cfg, logger)
	if err != nil {
		t.Fatalf("oracle.New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// serve passes requests to the mock, recording chatRouted and respond bodies and losing
// chatRouted answers on request.
func (w *world) serve(rw http.ResponseWriter, r *http.Request) {
	if record := w.bodiesOf(r.URL.Path); record != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		w.mu.Lock()
		*record = append(*record, string(body))
		w.mu.Unlock()
	}
	if strings.HasSuffix(r.URL.Path, "/chatRouted") && w.loseRouteAnswers.Add(-1) >= 0 {
		w.mock.ServeHTTP(httptest.NewRecorder(), r) // the CRM evaluates it...
		conn, _, err := http.NewResponseController(rw).Hijack()
		if err == nil {
			_ = conn.Close() // ...and the answer is lost on the way back
		}
		return
	}
	w.mock.ServeHTTP(rw, r)
}

// bodiesOf is where serve records the bodies sent to path, or nil.
func (w *world) bodiesOf(path string) *[]string {
	switch {
	case strings.HasSuffix(path, "/chatRouted"):
		return &w.routeBodies
	case strings.HasSuffix(path, "/respond"):
		return &w.respondBodies
	}
	return nil
}

// seed: external queues Q1 (Sales) and Q3 (Support), internal queue Q2; agents
//
//	A1    Q1, one session, logged in
//	A2    Q3 only, logged in
//	AUTO  Q1, auto-accept, logged in
//	BULK  Q1, 1000 sessions, logged in
//	OUT   Q1, never logged in
func (w *world) seed(t testing.TB) {
	t.Helper()
	must(t, w.mock.CreateQueue(site, crmmock.Queue{ID: "Q1", Name: "Sales", External: true}))
	must(t, w.mock.CreateQueue(site, crmmock.Queue{ID: "Q2", Name: "Internal", External: false}))
	must(t, w.mock.CreateQueue(site, crmmock.Queue{ID: "Q3", Name: "Support", External: true}))
	agents := []crmmock.Agent{
		{AccountID: "A1", Queues: []string{"Q1"}, MaxSessions: 1, AllowDecline: true},
		{AccountID: "A2", Queues: []string{"Q3"}, MaxSessions: 1},
		{AccountID: "AUTO", Queues: []string{"Q1"}, MaxSessions: 5, AutoAccept: true},
		{AccountID: "BULK", Queues: []string{"Q1"}, MaxSessions: 1000},
		{AccountID: "OUT", Queues: []string{"Q1"}, MaxSessions: 1},
	}
	for _, a := range agents {
		must(t, w.mock.CreateAgent(site, a))
		if a.AccountID != "OUT" {
			if _, err := w.mock.Login(site, a.AccountID); err != nil {
				t.Fatalf("Login(%s): %v", a.AccountID, err)
			}
		}
	}
}

// chat creates a waiting chat in queue.
func (w *world) chat(t testing.TB, queue string) string {
	t.Helper()
	id, err := w.mock.CreateChat(site, queue, "Carol")
	if err != nil {
		t.Fatalf("CreateChat(%s): %v", queue, err)
	}
	return id
}

func (w *world) host() string { return strings.TrimPrefix(w.srv.URL, "http://") }

var txSeq atomic.Int64

// pop is a route request with a fresh transaction id.
func pop(chatID, agent, queue string) bridge.RouteRequest {
	return bridge.RouteRequest{
		Site: site, ChatID: chatID, AgentAccountID: agent, QueueID: queue,
		TransactionID: "tx-" + strconv.FormatInt(txSeq.Add(1), 10),
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
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
