package crmmock

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// t0 is where every manual test clock starts.
var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// harness is a mock on a manual clock, served over real HTTP, with an authenticated token
// for site "demo".
type harness struct {
	t     *testing.T
	srv   *Server
	ts    *httptest.Server
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = NewManualClock(t0)
	}
	if opts.TickInterval == 0 {
		opts.TickInterval = -1 // deterministic: timers fire on requests and Advance only
	}
	if opts.Sites == nil {
		opts.Sites = []string{"demo", "other"}
	}
	srv := New(opts)
	checkEveryPick(t, srv, nil) // every test also checks the timer schedule against the scan
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(srv.Close) // runs first: releases hanging requests so ts.Close can finish
	h := &harness{t: t, srv: srv, ts: ts}
	h.token = h.authenticate("demo")
	return h
}

func (h *harness) authenticate(site string) string {
	h.t.Helper()
	var resp authenticateResponse
	h.do(http.MethodPost, "/uq/v1/"+site+"/authenticate", "", authenticateRequest{UserName: "bridge", Password: "bridge", AppID: "test"}, &resp)
	if resp.ResultCode != CodeSuccess {
		h.t.Fatalf("authenticate(%q) = %s, want SUCCESS", site, resp.ResultCode)
	}
	return resp.SessionToken
}

// do sends one request with the token and decodes the JSON answer into out; it returns
// the HTTP status.
func (h *harness) do(method, path, token string, in, out any) int {
	h.t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(headerSession, token)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// raw sends a raw body and returns status and body.
func (h *harness) raw(method, path, token, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.ts.URL+path, bytes.NewBufferString(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(headerSession, token)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func (h *harness) route(chatID, agentID, queueID, txn string) chatRoutedResponse {
	h.t.Helper()
	var resp chatRoutedResponse
	h.do(http.MethodPost, "/uq/v1/demo/chatRouted", h.token, chatRoutedRequest{ChatID: chatID, AgentAccountID: agentID, QueueID: queueID, TransactionID: txn}, &resp)
	return resp
}

func (h *harness) session(agentID string) agentSessionResponse {
	h.t.Helper()
	var resp agentSessionResponse
	h.do(http.MethodGet, "/uq/v1/demo/agents/"+url.PathEscape(agentID)+"/session", h.token, nil, &resp)
	return resp
}

func (h *harness) engagement(chatID string) engagementResponse {
	h.t.Helper()
	var resp engagementResponse
	h.do(http.MethodGet, "/uq/v1/demo/engagements/"+url.PathEscape(chatID), h.token, nil, &resp)
	return resp
}

// poll polls without waiting.
func (h *harness) poll(afterSeq int64) pollResponse {
	h.t.Helper()
	zero := 0.0
	var resp pollResponse
	h.do(http.MethodPost, "/uq/v1/demo/events/poll", h.token, pollRequest{AfterSeq: afterSeq, WaitSeconds: &zero}, &resp)
	return resp
}

// lastSeq is the site's current last event seq.
func (h *harness) lastSeq() int64 {
	h.t.Helper()
	return h.poll(1 << 60).LastSeq
}

// eventsSince returns the events after seq, without seq and at (compared separately).
func (h *harness) eventsSince(seq int64) []Event {
	h.t.Helper()
	evs := h.poll(seq).Events
	for i := range evs {
		evs[i].Seq = 0
		evs[i].At = time.Time{}
	}
	return evs
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedBasic creates queues sales (external), internal (not external) and other (external),
// agents a1 (sales, internal; max 1) and a2 (sales; max 1), both logged in, and returns a
// WAITING chat in sales.
func (h *harness) seedBasic() string {
	h.t.Helper()
	s := h.srv
	must(h.t, s.CreateQueue("demo", Queue{ID: "sales", Name: "Sales", External: true}))
	must(h.t, s.CreateQueue("demo", Queue{ID: "internal", Name: "Internal"}))
	must(h.t, s.CreateQueue("demo", Queue{ID: "other", Name: "Other", External: true}))
	must(h.t, s.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales", "internal"}, MaxSessions: 1}))
	must(h.t, s.CreateAgent("demo", Agent{AccountID: "a2", Queues: []string{"sales"}, MaxSessions: 1}))
	for _, a := range []string{"a1", "a2"} {
		if _, err := s.Login("demo", a); err != nil {
			h.t.Fatal(err)
		}
	}
	id, err := s.CreateChat("demo", "sales", "Ada")
	must(h.t, err)
	return id
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
