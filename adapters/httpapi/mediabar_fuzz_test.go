package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// The media bar's own parsers, fuzzed below the HTTP server: the request body decoder every
// POST goes through, and the agent token verifier every agent route goes through. The
// handlers end to end (with a store) are fuzzed in handlers_fuzz_test.go.

// maxMediabarBody is decodeBody's limit.
const maxMediabarBody = 16 << 10

// FuzzDecodeBody: any body is either decoded into exactly what encoding/json reads from it
// (one JSON value, nothing after it, within the limit) or refused with a 400/413 naming the
// field at fault. An accepted request encodes and decodes to itself.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"agentId":"a1","site":"demo","crmAccountId":"acct-a1","crmChatSessionId":"sess-1"}`,
		`{"disposition":"Resolved"}`,
		`{"type":"transfer","targetQueueId":"sales"}`,
		`{"type":"consult","targetAgentId":"a2"}`,
		``, ` `, `null`, `{}`, `[]`, `"x"`, `{"agentId":5}`, `{"role":"admin"}`, `{"disposition":`,
		`{"disposition":"x"}{"disposition":"y"}`, `{"disposition":"x"}}`, `{"disposition":"x"} x`,
		`{"Disposition":"case"}`, `{"disposition":"a","disposition":"b"}`, "\ufeff{}",
	} {
		for kind := range uint8(3) {
			f.Add(kind, []byte(seed))
		}
	}
	f.Add(uint8(0), []byte(`{"agentId":"`+strings.Repeat("x", maxMediabarBody)+`"}`))
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		kind %= 3
		newValue := func() any {
			switch kind {
			case 0:
				return &LoginRequest{}
			case 1:
				return &CompleteRequest{}
			default:
				return &TransferRequest{}
			}
		}
		optional := kind == 1 // complete's body may be empty
		decode := func(body []byte) (any, error) {
			v := newValue()
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			c := echo.New().NewContext(req, httptest.NewRecorder())
			return v, decodeBody(c, v, optional)
		}
		got, err := decode(body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || (ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge) ||
				ae.body.Field == "" || ae.body.Error == "" || ae.body.Message == "" {
				t.Fatalf("decodeBody(%q) error %#v is not a 400/413 naming a field", body, err)
			}
			if ae.status == http.StatusRequestEntityTooLarge && len(body) <= maxMediabarBody {
				t.Fatalf("decodeBody(%q) = 413 for a body within the limit", body)
			}
			return
		}
		if len(body) > maxMediabarBody {
			t.Fatalf("decodeBody accepted a %d-byte body (limit %d)", len(body), maxMediabarBody)
		}
		if optional && len(bytes.TrimSpace(body)) == 0 {
			return
		}
		// Exactly what the standard decoder reads from the whole body: one value, nothing after.
		want := newValue()
		if err := json.Unmarshal(body, want); err != nil {
			t.Fatalf("decodeBody accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeBody(%q) = %+v, encoding/json reads %+v", body, got, want)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) > maxMediabarBody {
			// Re-encoding spells out every empty field, so a body near the limit can come
			// back longer than the limit: that encoding must be refused as too large.
			_, err := decode(again)
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("a %d-byte re-encoding of %q was not refused as too large: %v", len(again), body, err)
			}
			return
		}
		round, err := decode(again)
		if err != nil || !reflect.DeepEqual(round, got) {
			t.Fatalf("decodeBody(%q) = %+v does not round-trip: %+v, %v", body, got, round, err)
		}
	})
}

var fuzzTokenNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func fuzzIssuer() tokenIssuer {
	return tokenIssuer{secret: []byte("token-secret-0123456789-0123456789"), ttl: 8 * time.Hour,
		now: func() time.Time { return fuzzTokenNow }}
}

// FuzzVerifyToken: whatever the Authorization header carries, verify either returns one of
// its three errors or accepts a token that is byte for byte what the issuer would have made
// for those claims (no second spelling of a valid token), unexpired, with an agent.
func FuzzVerifyToken(f *testing.F) {
	iss := fuzzIssuer()
	valid, _ := iss.issue("a1", "demo")
	payload, _, _ := strings.Cut(strings.TrimPrefix(valid, "v1."), ".")
	for _, seed := range []string{
		valid, "", ".", "..", "v1..", "v1.x.y", "v2" + valid[2:], valid + ".", valid + "=",
		strings.ToUpper(valid), "v1." + payload + ".", "v1." + payload + "." + strings.Repeat("A", 43),
		"eyJhbGciOiJub25lIn0." + payload + ".", "v1." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"a1","exp":99999999999}`)) + ".x",
		"v1." + strings.Repeat("A", 2000) + ".x", valid[:len(valid)-1] + "B", valid[:len(valid)-1] + "C",
		valid[:len(valid)-1] + paddingTwin(valid[len(valid)-1]),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := iss.verify(token)
		if err != nil {
			if !errors.Is(err, errTokenMalformed) && !errors.Is(err, errTokenSignature) && !errors.Is(err, errTokenExpired) {
				t.Fatalf("verify(%q) error = %v, want one of its three", token, err)
			}
			return
		}
		if claims.Agent == "" || claims.Exp <= fuzzTokenNow.Unix() {
			t.Fatalf("verify(%q) accepted claims %+v", token, claims)
		}
		parts := strings.Split(token, ".")
		canonical := "v1." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(iss.mac(parts[1]))
		if token != canonical {
			t.Fatalf("verify accepted %q, a second spelling of %q", token, canonical)
		}
	})
}

// paddingTwin returns the base64url character that differs from c only in the two bits a
// 32-byte MAC leaves unused in its last character: a lenient decoder reads both alike.
func paddingTwin(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)^1])
}

// FuzzIssueVerifyToken: a token the issuer makes verifies to the same claims until it
// expires, and no change to any one byte of it verifies.
func FuzzIssueVerifyToken(f *testing.F) {
	f.Add("a1", "demo", int64(0), uint16(0), byte('x'))
	f.Add("agent-ü", "eu-west.1", int64(8*3600), uint16(60), byte('A'))
	f.Add("a", "", int64(8*3600-1), uint16(120), byte('.'))
	f.Add("a\r\nb", "s", int64(-1), uint16(3), byte('1'))
	f.Fuzz(func(t *testing.T, agent, site string, after int64, pos uint16, b byte) {
		if agent == "" || !utf8.ValidString(agent) || !utf8.ValidString(site) || len(agent) > 256 || len(site) > 256 {
			return // login refuses these before a token is made
		}
		iss := fuzzIssuer()
		token, exp := iss.issue(agent, site)
		at := fuzzTokenNow.Add(time.Duration(after%(16*3600)) * time.Second)
		checker := iss
		checker.now = func() time.Time { return at }
		claims, err := checker.verify(token)
		switch {
		case !at.Before(exp):
			if !errors.Is(err, errTokenExpired) {
				t.Fatalf("verify(issue(%q)) at %v (exp %v) = %+v, %v, want expired", agent, at, exp, claims, err)
			}
		case err != nil || claims.Agent != agent || claims.Site != site || claims.Exp != exp.Unix():
			t.Fatalf("verify(issue(%q, %q)) = %+v, %v", agent, site, claims, err)
		}
		mutated := []byte(token)
		mutated[int(pos)%len(mutated)] = b
		if string(mutated) == token {
			return
		}
		if c, err := iss.verify(string(mutated)); err == nil {
			t.Fatalf("verify accepted %q, one byte off %q: %+v", mutated, token, c)
		}
	})
}
