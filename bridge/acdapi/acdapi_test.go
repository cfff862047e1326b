package acdapi

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testSecret, _ = ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef-test-key")))
	otherSecret   = Secret("another-secret-of-16+")
	t0            = time.Unix(1_800_000_000, 0)
)

func TestVerifySignatureVectors(t *testing.T) {
	body := []byte(`{"type":"interaction.routed"}`)
	good := Sign(testSecret, "evt_1", t0, body)
	ts := strconv.FormatInt(t0.Unix(), 10)
	tests := []struct {
		name        string
		secrets     []Secret
		id, ts, sig string
		body        []byte
		now         time.Time
		want        error
	}{
		{name: "valid", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0},
		{name: "several signatures one valid", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: "v1,AAAA " + Sign(otherSecret, "evt_1", t0, body) + " " + good, body: body, now: t0},
		{name: "rotation: second secret signs", secrets: []Secret{otherSecret, testSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0},
		{name: "tampered body", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: good, body: []byte(`{"type":"interaction.revoked"}`), now: t0, want: ErrNoMatchingSig},
		{name: "tampered id", secrets: []Secret{testSecret}, id: "evt_2", ts: ts, sig: good, body: body, now: t0, want: ErrNoMatchingSig},
		{name: "wrong secret", secrets: []Secret{otherSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0, want: ErrNoMatchingSig},
		{name: "old timestamp", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0.Add(6 * time.Minute), want: ErrTimestampTooOld},
		{name: "future timestamp", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0.Add(-6 * time.Minute), want: ErrTimestampFuture},
		{name: "inside window", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: good, body: body, now: t0.Add(4 * time.Minute)},
		{name: "missing id", secrets: []Secret{testSecret}, ts: ts, sig: good, body: body, now: t0, want: ErrMissingHeaders},
		{name: "missing timestamp", secrets: []Secret{testSecret}, id: "evt_1", sig: good, body: body, now: t0, want: ErrMissingHeaders},
		{name: "missing signature", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, body: body, now: t0, want: ErrMissingHeaders},
		{name: "non-numeric timestamp", secrets: []Secret{testSecret}, id: "evt_1", ts: "yesterday", sig: good, body: body, now: t0, want: ErrBadTimestamp},
		{name: "wrong version", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: "v2," + good[3:], body: body, now: t0, want: ErrNoMatchingSig},
		{name: "garbage signature", secrets: []Secret{testSecret}, id: "evt_1", ts: ts, sig: "v1,!!!", body: body, now: t0, want: ErrNoMatchingSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verifier{Secrets: tt.secrets, Tolerance: 5 * time.Minute, Now: func() time.Time { return tt.now }}
			err := v.Verify(tt.id, tt.ts, tt.sig, tt.body)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	if _, err := ParseSecret("whsec_not base64!"); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("ParseSecret(bad base64) = %v, want ErrInvalidSecret", err)
	}
	if _, err := ParseSecret(""); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("ParseSecret(empty) = %v, want ErrInvalidSecret", err)
	}
	s, err := ParseSecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("key")))
	if err != nil || string(s) != "key" {
		t.Errorf("ParseSecret() = %q, %v", s, err)
	}
	// Without the prefix the secret is still base64, as the bridge's config reads it.
	if s, err := ParseSecret(base64.StdEncoding.EncodeToString([]byte("key"))); err != nil || string(s) != "key" {
		t.Errorf("ParseSecret(no prefix) = %q, %v", s, err)
	}
	if _, err := ParseSecret("raw key bytes"); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("ParseSecret(not base64) = %v, want ErrInvalidSecret", err)
	}
}

func TestParse(t *testing.T) {
	const ts = `"timestamp":"2026-11-21T10:00:00Z"`
	tests := []struct {
		name      string
		give      string
		wantKind  error
		wantField string
		wantType  string
	}{
		{name: "routed", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"q","agentId":"a1","routeType":"lead"}}`, wantType: TypeRouted},
		{name: "revoked", give: `{"type":"interaction.revoked",` + ts + `,"data":{"interactionId":"i1","agentId":"a1"}}`, wantType: TypeRevoked},
		{name: "abandoned queued", give: `{"type":"interaction.abandoned",` + ts + `,"data":{"interactionId":"i1","stage":"queued"}}`, wantType: TypeAbandoned},
		{name: "agent state", give: `{"type":"agent.state_changed",` + ts + `,"data":{"agentId":"a1","state":"ready"}}`, wantType: TypeAgentChanged},
		{name: "not json", give: `{"type":`, wantKind: ErrMalformed, wantField: "body"},
		{name: "trailing data", give: `{"type":"interaction.revoked",` + ts + `,"data":{"interactionId":"i1","agentId":"a1"}} {}`, wantKind: ErrMalformed, wantField: "body"},
		{name: "missing type", give: `{` + ts + `,"data":{}}`, wantKind: ErrMalformed, wantField: "type"},
		{name: "missing timestamp", give: `{"type":"interaction.revoked","data":{}}`, wantKind: ErrMalformed, wantField: "timestamp"},
		{name: "timestamp not a time", give: `{"type":"interaction.revoked","timestamp":"yesterday","data":{}}`, wantKind: ErrMalformed, wantField: "timestamp"},
		{name: "timestamp a number", give: `{"type":"interaction.revoked","timestamp":1800000000,"data":{}}`, wantKind: ErrMalformed, wantField: "timestamp"},
		{name: "missing data", give: `{"type":"interaction.revoked",` + ts + `}`, wantKind: ErrMalformed, wantField: "data"},
		{name: "unknown type", give: `{"type":"interaction.teleported",` + ts + `,"data":{}}`, wantKind: ErrInvalid, wantField: "type"},
		{name: "missing chat id", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","site":"demo","queueId":"q","agentId":"a1","routeType":"lead"}}`, wantKind: ErrMalformed, wantField: "data.chatId"},
		{name: "wrong type of field", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":42}}`, wantKind: ErrMalformed, wantField: "data.interactionId"},
		{name: "unknown field", give: `{"type":"interaction.routed",` + ts + `,"data":{"colour":"blue"}}`, wantKind: ErrMalformed, wantField: "data.colour"},
		{name: "bad route type", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"q","agentId":"a1","routeType":"teleport"}}`, wantKind: ErrInvalid, wantField: "data.routeType"},
		{name: "bad stage", give: `{"type":"interaction.abandoned",` + ts + `,"data":{"interactionId":"i1","stage":"later"}}`, wantKind: ErrInvalid, wantField: "data.stage"},
		{name: "alerting abandon needs agent", give: `{"type":"interaction.abandoned",` + ts + `,"data":{"interactionId":"i1","stage":"alerting"}}`, wantKind: ErrInvalid, wantField: "data.agentId"},
		{name: "control characters in id", give: `{"type":"interaction.revoked",` + ts + `,"data":{"interactionId":"i1\r\nX","agentId":"a1"}}`, wantKind: ErrInvalid, wantField: "data.interactionId"},
		{name: "transfer from a leg", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","routingId":"r2","chatId":"c1","site":"demo","queueId":"q","agentId":"a2","routeType":"transfer","fromRoutingId":"r1"}}`, wantType: TypeRouted},
		{name: "lead from a leg", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"q","agentId":"a1","routeType":"lead","fromRoutingId":"r1"}}`, wantKind: ErrInvalid, wantField: "data.fromRoutingId"},
		{name: "control characters in routing id", give: `{"type":"interaction.routed",` + ts + `,"data":{"interactionId":"i1","routingId":"r\n1","chatId":"c1","site":"demo","queueId":"q","agentId":"a1","routeType":"lead"}}`, wantKind: ErrInvalid, wantField: "data.routingId"},
		{name: "overlong abandon routing id", give: `{"type":"interaction.abandoned",` + ts + `,"data":{"interactionId":"i1","routingId":"` + strings.Repeat("r", 129) + `","agentId":"a1","stage":"alerting"}}`, wantKind: ErrInvalid, wantField: "data.routingId"},
		{name: "control characters in revoke reason", give: `{"type":"interaction.revoked",` + ts + `,"data":{"interactionId":"i1","agentId":"a1","reason":"x\u0007"}}`, wantKind: ErrInvalid, wantField: "data.reason"},
		{name: "bad agent state", give: `{"type":"agent.state_changed",` + ts + `,"data":{"agentId":"a1","state":"sleepy"}}`, wantKind: ErrInvalid, wantField: "data.state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.give))
			if tt.wantKind == nil {
				if err != nil || ev.Type != tt.wantType {
					t.Fatalf("Parse() = %+v, %v; want type %s", ev, err, tt.wantType)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, tt.wantKind) || fe.Field != tt.wantField {
				t.Errorf("Parse() error = %v (%#v), want %v on field %q", err, fe, tt.wantKind, tt.wantField)
			}
		})
	}
}

func TestBuildRoundTrip(t *testing.T) {
	body, err := Build(TypeRevoked, t0, Revoked{InteractionID: "i1", AgentID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Parse(body)
	if err != nil || ev.Revoked.InteractionID != "i1" || !ev.Timestamp.Equal(t0) {
		t.Errorf("Parse(Build()) = %+v, %v", ev, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"q","agentId":"a1","routeType":"lead"}}`))
	f.Add([]byte(`{"type":"interaction.abandoned","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","stage":"alerting","agentId":"a"}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("Parse error without a field: %v", err)
			}
			return
		}
		set := 0
		for _, p := range []bool{ev.Routed != nil, ev.Revoked != nil, ev.Abandoned != nil, ev.AgentChanged != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("Parse() set %d payloads for type %q", set, ev.Type)
		}
	})
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"type":"x"}`)
	f.Add("evt_1", strconv.FormatInt(t0.Unix(), 10), Sign(testSecret, "evt_1", t0, body), body)
	f.Add("", "", "", []byte{})
	f.Add("e", "1", "v1,a v1,b v1,c", []byte("x"))
	v := Verifier{Secrets: []Secret{testSecret}, Tolerance: 5 * time.Minute, Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := v.Verify(id, ts, sig, body)
		if err == nil && sig != Sign(testSecret, id, t0, body) && !containsSig(sig, Sign(testSecret, id, time.Unix(mustInt(ts), 0), body)) {
			t.Fatalf("Verify accepted a signature it did not make: %q", sig)
		}
	})
}

func containsSig(header, sig string) bool {
	for i := 0; i+len(sig) <= len(header); i++ {
		if header[i:i+len(sig)] == sig {
			return true
		}
	}
	return false
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
