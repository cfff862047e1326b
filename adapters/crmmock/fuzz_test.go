package crmmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The request decoders read outside input: they must never panic, must either accept a
// body or reject it as a 400, and what they accept must survive a round trip.

func FuzzChatRoutedRequest(f *testing.F) {
	for _, seed := range []string{
		`{"chatId":"1001","agentAccountId":"a1","queueId":"sales","transactionId":"tx"}`,
		`{"chatId":1001}`, `{}`, ``, `{"chatId":"a"} {}`, `null`, `[]`, `{"site":"demo","chatId":"\u0000"}`,
		`{"chatId":"1001","agentAccountId":"a1","queueId":"sales","transactionId":"tx","routeType":"transfer"}`,
		`{"chatId":"1001","routeType":"lead"}`, `{"routeType":"Conference"}`, `{"routeType":""}`,
		`{"routeType":null}`, `{"routeType":["consult"]}`, `{"ROUTETYPE":"consult"}`,
	} {
		f.Add([]byte(seed))
	}
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	f.Cleanup(srv.Close)
	if err := srv.CreateQueue("demo", Queue{ID: "sales", External: true}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeChatRouted(data)
		if err == nil {
			if !validRouteType(req.RouteType) {
				t.Fatalf("decodeChatRouted(%q) accepted route type %q", data, req.RouteType)
			}
			roundTrip(t, req, decodeChatRouted)
		}
		// The whole handler: 200 with a resultCode, or 400 with an error body.
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/uq/v1/demo/chatRouted", bytes.NewReader(data))
		srv.ServeHTTP(rec, r)
		var body map[string]any
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("answer %q is not JSON: %v", rec.Body.Bytes(), jerr)
		}
		switch {
		case err == nil && (rec.Code != http.StatusOK || body["resultCode"] == nil):
			t.Fatalf("accepted body answered %d %v", rec.Code, body)
		case err != nil && rec.Code != http.StatusBadRequest:
			t.Fatalf("rejected body (%v) answered %d %v", err, rec.Code, body)
		}
	})
}

func FuzzAuthenticateRequest(f *testing.F) {
	for _, seed := range []string{`{"userName":"bridge","password":"bridge","appId":"x"}`, `{"userName":true}`, `"x"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := decodeAuthenticate(data); err == nil {
			roundTrip(t, req, decodeAuthenticate)
		}
	})
}

func FuzzPollRequest(f *testing.F) {
	for _, seed := range []string{`{"afterSeq":12,"waitSeconds":0.5}`, `{"afterSeq":-1}`, `{"waitSeconds":-3}`, `{"afterSeq":1e40}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodePoll(data)
		if err != nil {
			return
		}
		if req.WaitSeconds != nil && *req.WaitSeconds < 0 {
			t.Fatalf("decodePoll accepted waitSeconds %v", *req.WaitSeconds)
		}
		roundTrip(t, req, decodePoll)
	})
}

func FuzzAdvanceRequest(f *testing.F) {
	for _, seed := range []string{`{"duration":"90s"}`, `{"duration":"-1s"}`, `{"duration":""}`, `{"duration":"9999999h"}`, `{"dur":"1s"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeAdvance(data)
		if err == nil && d <= 0 {
			t.Fatalf("decodeAdvance(%q) = %v, want a positive duration", data, d)
		}
	})
}

// roundTrip checks that an accepted request encodes and decodes to itself.
func roundTrip[T any](t *testing.T, req T, decode func([]byte) (T, error)) {
	t.Helper()
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatalf("marshal %+v: %v", req, err)
	}
	again, err := decode(data)
	if err != nil {
		t.Fatalf("decode(marshal(%+v)) = %v", req, err)
	}
	a, _ := json.Marshal(again)
	if !bytes.Equal(a, data) {
		t.Fatalf("round trip changed %s into %s", data, a)
	}
}

// The generic facade's route decoders, through the whole handler: a body and an
// Idempotency-Key are either accepted (200 with a "result") or refused (400 with the
// field at fault and a reason); never a panic, never a 5xx.
func FuzzGenericRouteRequest(f *testing.F) {
	for _, seed := range []struct{ key, body string }{
		{"k1", `{"chat_id":"1001","agent_id":"a1","queue_id":"sales"}`},
		{"k2", `{"chatId":"1001"}`}, {"k3", `{"chat_id":1001}`}, {"", `{}`}, {"k 4", `{}`},
		{"k5", ``}, {"k6", `null`}, {"k7", `{"chat_id":"\u0000"} {}`}, {"ключ", `{}`},
		{"k8", `{"chat_id":"1001","agent_id":"a1","queue_id":"sales","route_type":"consult"}`},
		{"k9", `{"route_type":"barge"}`}, {"k10", `{"route_type":1}`}, {"k11", `{"routeType":"transfer"}`},
	} {
		f.Add(seed.key, []byte(seed.body))
	}
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	f.Cleanup(srv.Close)
	if err := srv.CreateQueue("demo", Queue{ID: "sales", External: true}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		req, err := decodeGenericRoute(data)
		if err == nil {
			if !validRouteType(req.RouteType) {
				t.Fatalf("decodeGenericRoute(%q) accepted route type %q", data, req.RouteType)
			}
			roundTrip(t, req, decodeGenericRoute)
		}
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/crm/v1/sites/demo/routes", bytes.NewReader(data))
		r.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
		r.Header[HeaderIdempotencyKey] = []string{key} // as sent, even if no client would
		srv.ServeHTTP(rec, r)
		var body map[string]any
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("answer %q is not JSON: %v", rec.Body.Bytes(), jerr)
		}
		_, keyErr := decodeIdempotencyKey(r.Header)
		switch {
		case err == nil && keyErr == nil && (rec.Code != http.StatusOK || body["result"] == nil):
			t.Fatalf("accepted request answered %d %v", rec.Code, body)
		case (err != nil || keyErr != nil) && (rec.Code != http.StatusBadRequest || body["reason"] == "" || body["error"] != "invalid_request"):
			t.Fatalf("refused request (%v, %v) answered %d %v", err, keyErr, rec.Code, body)
		}
	})
}

func FuzzIdempotencyKey(f *testing.F) {
	for _, seed := range []string{"tx-1", "", "a b", "ключ", strings.Repeat("k", 300), "\x7f"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		got, err := decodeIdempotencyKey(http.Header{HeaderIdempotencyKey: {key}})
		if err != nil {
			return
		}
		if got != key || len(got) == 0 || len(got) > maxIdempotencyKey || strings.ContainsFunc(got, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("decodeIdempotencyKey accepted %q as %q", key, got)
		}
	})
}

func FuzzEventsQuery(f *testing.F) {
	for _, seed := range [][2]string{{"12", "0.5"}, {"", ""}, {"-1", ""}, {"", "-3"}, {"1e3", "NaN"}, {"9223372036854775808", "Inf"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, after, wait string) {
		q, err := decodeEventsQuery(after, wait)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || (ae.Field != "after" && ae.Field != "wait") {
				t.Fatalf("decodeEventsQuery(%q, %q) = %v, want a 400 naming after or wait", after, wait, err)
			}
			return
		}
		if q.After < 0 || (q.Wait != nil && (*q.Wait < 0 || math.IsNaN(*q.Wait) || math.IsInf(*q.Wait, 0))) {
			t.Fatalf("decodeEventsQuery(%q, %q) accepted %+v", after, wait, q)
		}
	})
}

// The respond decoders, through the whole handler of either facade: accepted (200 with a
// result code) or refused (400 naming the field); an accepted action is accept, decline or
// none; never a panic, never a 5xx.
func FuzzRespondRequest(f *testing.F) {
	for _, seed := range []struct{ key, body string }{
		{"r1", `{"agentAccountId":"a1","action":"accept","transactionId":"r1"}`},
		{"r2", `{"agentAccountId":"a1","action":"decline"}`}, {"r3", `{"action":"ignore"}`}, {"r4", `{"action":1}`},
		{"r5", `{}`}, {"", ``}, {"r6", `null`}, {"r7", `{"agent_id":"a1","action":"accept"}`},
		{"r8", `{"agentAccountId":"a1","action":"accept"} {}`}, {"r 9", `{"agent_id":"a1","action":"DECLINE"}`},
	} {
		f.Add(seed.key, []byte(seed.body))
	}
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	f.Cleanup(srv.Close)
	if err := srv.CreateQueue("demo", Queue{ID: "sales", External: true}); err != nil {
		f.Fatal(err)
	}
	token := srv.authenticateForTest(f, "demo")
	f.Fuzz(func(t *testing.T, key string, data []byte) {
		req, err := decodeRespond(data)
		if err == nil {
			if !validRespondAction(req.Action) {
				t.Fatalf("decodeRespond(%q) accepted action %q", data, req.Action)
			}
			roundTrip(t, req, decodeRespond)
		}
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/uq/v1/demo/engagements/1001/respond", bytes.NewReader(data))
		r.Header.Set(headerSession, token)
		srv.ServeHTTP(rec, r)
		var body map[string]any
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("answer %q is not JSON: %v", rec.Body.Bytes(), jerr)
		}
		switch {
		case err == nil && (rec.Code != http.StatusOK || body["resultCode"] == nil || body["resultCode"] == CodeAuthenticationFailed):
			t.Fatalf("accepted body answered %d %v", rec.Code, body)
		case err != nil && rec.Code != http.StatusBadRequest:
			t.Fatalf("rejected body (%v) answered %d %v", err, rec.Code, body)
		}

		greq, gerr := decodeGenericResponse(data)
		if gerr == nil {
			if !validRespondAction(greq.Action) {
				t.Fatalf("decodeGenericResponse(%q) accepted action %q", data, greq.Action)
			}
			roundTrip(t, greq, decodeGenericResponse)
		}
		rec = httptest.NewRecorder()
		r = httptest.NewRequest(http.MethodPost, "/crm/v1/sites/demo/chats/1001/responses", bytes.NewReader(data))
		r.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
		r.Header[HeaderIdempotencyKey] = []string{key}
		srv.ServeHTTP(rec, r)
		body = nil
		if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil {
			t.Fatalf("generic answer %q is not JSON: %v", rec.Body.Bytes(), jerr)
		}
		_, keyErr := decodeIdempotencyKey(r.Header)
		switch {
		case gerr == nil && keyErr == nil && (rec.Code != http.StatusOK || body["result"] == nil):
			t.Fatalf("accepted generic request answered %d %v", rec.Code, body)
		case (gerr != nil || keyErr != nil) && (rec.Code != http.StatusBadRequest || body["reason"] == "" || body["error"] != "invalid_request"):
			t.Fatalf("refused generic request (%v, %v) answered %d %v", gerr, keyErr, rec.Code, body)
		}
	})
}

// authenticateForTest logs in as the default user on site and returns the token.
func (s *Server) authenticateForTest(tb testing.TB, site string) string {
	tb.Helper()
	now := s.begin()
	defer s.mu.Unlock()
	resp := s.authenticateLocked(site, authenticateRequest{UserName: "bridge", Password: "bridge"}, now)
	if resp.ResultCode != CodeSuccess {
		tb.Fatalf("authenticate(%q) = %s", site, resp.ResultCode)
	}
	return resp.SessionToken
}
