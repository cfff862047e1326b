package crmtest

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// t0 is where the mock's manual clock starts.
var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// world is a seeded mock CRM on a real HTTP server and the adapter under test pointed at
// it. The mock's clock is manual and its background ticker off: timers move only when a
// case advances the clock.
type world struct {
	t       *testing.T
	mock    *crmmock.Server
	srv     *httptest.Server
	crm     bridge.CRM
	timings Timings
}

// newWorld seeds: external queues Q1 (Sales) and Q3 (Support), internal queue Q2; agents
//
//	A1    Q1, one session, may decline, logged in (session S1)
//	A2    Q3 only, logged in
//	BULK  Q1, 1000 sessions, logged in
//	OUT   Q1, never logged in
func newWorld(t *testing.T, target Target) *world {
	t.Helper()
	w := &world{t: t, timings: DefaultTimings}
	w.mock = crmmock.New(crmmock.Options{
		Sites:        []string{Site},
		Users:        map[string]string{User: Password},
		APIKey:       APIKey,
		Clock:        crmmock.NewManualClock(t0),
		TickInterval: -1,
		OfferTimeout: time.Hour, // offers stay put unless a case moves the clock
		MaxPollWait:  2 * time.Second,
	})
	w.srv = httptest.NewServer(w.mock)
	t.Cleanup(w.srv.Close)
	t.Cleanup(w.mock.Close) // runs first: releases hanging requests so the server can close

	w.must(w.mock.CreateQueue(Site, crmmock.Queue{ID: "Q1", Name: "Sales", External: true}))
	w.must(w.mock.CreateQueue(Site, crmmock.Queue{ID: "Q2", Name: "Internal", External: false}))
	w.must(w.mock.CreateQueue(Site, crmmock.Queue{ID: "Q3", Name: "Support", External: true}))
	for _, a := range []crmmock.Agent{
		{AccountID: "A1", Queues: []string{"Q1"}, MaxSessions: 1, AllowDecline: true},
		{AccountID: "A2", Queues: []string{"Q3"}, MaxSessions: 1},
		{AccountID: "BULK", Queues: []string{"Q1"}, MaxSessions: 1000},
		{AccountID: "OUT", Queues: []string{"Q1"}, MaxSessions: 1},
	} {
		w.must(w.mock.CreateAgent(Site, a))
		if a.AccountID != "OUT" {
			if _, err := w.mock.Login(Site, a.AccountID); err != nil {
				t.Fatalf("Login(%s): %v", a.AccountID, err)
			}
		}
	}

	w.crm = target.New(t, w.mock, w.srv.URL, w.timings)
	if w.crm == nil {
		t.Fatalf("%s: Target.New returned nil", target.Name)
	}
	if _, ok := w.crm.(BreakerReporter); !ok {
		t.Fatalf("%s: the adapter (%T) does not report its breakers (BreakerStates)", target.Name, w.crm)
	}
	return w
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// chat creates a waiting chat in queue.
func (w *world) chat(queue string) string {
	w.t.Helper()
	id, err := w.mock.CreateChat(Site, queue, "Carol")
	w.must(err)
	return id
}

var txSeq atomic.Int64

// pop is a route request with a fresh transaction id.
func pop(chatID, agent, queue string) bridge.RouteRequest {
	return bridge.RouteRequest{
		Site: Site, ChatID: chatID, AgentAccountID: agent, QueueID: queue,
		TransactionID: "acceptance-tx-" + strconv.FormatInt(txSeq.Add(1), 10),
	}
}

// route pops through the adapter and wants code.
func (w *world) route(req bridge.RouteRequest, code string) bridge.RouteResult {
	w.t.Helper()
	got, err := w.crm.RouteChat(context.Background(), req)
	if err != nil || got.Code != code {
		w.t.Fatalf("RouteChat(%+v) = %+v, %v, want %s", req, got, err, code)
	}
	return got
}

// offerResponse is an answer to chatID's offer for agent with a fresh transaction id.
func offerResponse(chatID, agent string, accept bool) bridge.OfferResponse {
	return bridge.OfferResponse{
		Site: Site, ChatID: chatID, AgentAccountID: agent, Accept: accept,
		TransactionID: "acceptance-respond-" + strconv.FormatInt(txSeq.Add(1), 10),
	}
}

// respond answers an offer through the adapter and wants code, verbatim, with no error.
func (w *world) respond(req bridge.OfferResponse, code string) {
	w.t.Helper()
	got, err := w.crm.RespondOffer(context.Background(), req)
	if err != nil || got != code {
		w.t.Fatalf("RespondOffer(%+v) = %q, %v, want %s", req, got, err, code)
	}
}

// engagement reads a chat through the adapter.
func (w *world) engagement(chatID string) bridge.Engagement {
	w.t.Helper()
	eng, err := w.crm.Engagement(context.Background(), Site, chatID)
	if err != nil {
		w.t.Fatalf("Engagement(%s): %v", chatID, err)
	}
	return eng
}

// host is the mock's host:port, as the adapter's breaker names it.
func (w *world) host() string { return strings.TrimPrefix(w.srv.URL, "http://") }

// breaker is the state of the breaker in front of the mock.
func (w *world) breaker() string {
	return w.crm.(BreakerReporter).BreakerStates()[w.host()]
}

// wantBreakerClosed fails unless the adapter's breaker for the mock is closed (a host not
// listed yet has never failed: closed).
func (w *world) wantBreakerClosed(when string) {
	w.t.Helper()
	if got := w.breaker(); got != "" && got != "closed" {
		w.t.Errorf("%s: breaker = %q, want closed (states: %v)", when, got, w.crm.(BreakerReporter).BreakerStates())
	}
}

// calls is how many requests the mock received, all operations together.
func (w *world) calls() int {
	n := 0
	for _, c := range w.mock.Dump().Calls {
		n += c
	}
	return n
}

// evaluations is how many route requests the mock evaluated, all keys together: a replay
// under a new key would show here, not under the original key.
func (w *world) evaluations() int {
	n := 0
	for _, c := range w.mock.Dump().RouteEvaluations {
		n += c
	}
	return n
}

// respondEvaluations is how many offer responses the mock evaluated, all keys together.
func (w *world) respondEvaluations() int {
	n := 0
	for _, c := range w.mock.Dump().RespondEvaluations {
		n += c
	}
	return n
}

// chatState is the mock's view of a chat.
func (w *world) chatState(chatID string) crmmock.ChatState {
	w.t.Helper()
	for _, s := range w.mock.Dump().Sites {
		for _, c := range s.Chats {
			if c.ChatID == chatID {
				return c
			}
		}
	}
	w.t.Fatalf("chat %s not in the mock", chatID)
	return crmmock.ChatState{}
}

// chatParticipant is the mock's view of an agent's participation in a chat.
func (w *world) chatParticipant(chatID, agent string) (crmmock.ParticipantState, bool) {
	w.t.Helper()
	for _, p := range w.chatState(chatID).Participants {
		if p.AgentAccountID == agent {
			return p, true
		}
	}
	return crmmock.ParticipantState{}, false
}

// lastSeq is the site's last event sequence number.
func (w *world) lastSeq() int64 {
	w.t.Helper()
	for _, s := range w.mock.Dump().Sites {
		if s.Name == Site {
			return s.LastSeq
		}
	}
	w.t.Fatalf("site %s not in the mock", Site)
	return 0
}

// warmUp makes one healthy call, so that an adapter with a session logs in before a case
// breaks the CRM.
func (w *world) warmUp() {
	w.t.Helper()
	if _, err := w.crm.Engagement(context.Background(), Site, "0"); err != nil {
		w.t.Fatalf("warm-up Engagement: %v", err)
	}
}
