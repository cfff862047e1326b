package crmmock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The request decoders read outside input: they must never panic, must either accept a
// body or reject it as a 400, and what they accept must survive a round trip.

func FuzzChatRoutedRequest(f *testing.F) {
	for _, seed := range []string{
		`{"chatId":"1001","agentAccountId":"a1","queueId":"sales","transactionId":"tx"}`,
		`{"chatId":1001}`, `{}`, ``, `{"chatId":"a"} {}`, `null`, `[]`, `{"site":"demo","chatId":"\u0000"}`,
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
