package acdapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzSignVerify: what Sign makes, Verify accepts inside the tolerance and refuses outside it,
// with either secret of a rotation; no change to the id or to any byte of the body verifies.
func FuzzSignVerify(f *testing.F) {
	f.Add([]byte("0123456789abcdef-test-key"), "evt_1", int64(0), []byte(`{"type":"x"}`), uint16(0))
	f.Add([]byte("k"), "e", int64(300), []byte{}, uint16(7))
	f.Add([]byte("k"), "e", int64(-301), []byte("x"), uint16(1))
	f.Add([]byte{0}, "", int64(1), []byte("body"), uint16(3))
	f.Fuzz(func(t *testing.T, key []byte, id string, skew int64, body []byte, flip uint16) {
		if len(key) == 0 {
			return
		}
		secret := Secret(key)
		const tolerance = 5 * time.Minute
		ts := t0.Add(time.Duration(skew%900) * time.Second)
		h := Headers(secret, id, ts, body)
		for _, secrets := range [][]Secret{{secret}, {otherSecret, secret}} {
			v := Verifier{Secrets: secrets, Tolerance: tolerance, Now: func() time.Time { return t0 }}
			err := v.Verify(h[HeaderID], h[HeaderTimestamp], h[HeaderSignature], body)
			d := t0.Sub(ts)
			switch {
			case id == "":
				if !errors.Is(err, ErrMissingHeaders) {
					t.Fatalf("Verify without an id = %v", err)
				}
				continue
			case d > tolerance:
				if !errors.Is(err, ErrTimestampTooOld) {
					t.Fatalf("Verify %v old = %v, want too old", d, err)
				}
				continue
			case d < -tolerance:
				if !errors.Is(err, ErrTimestampFuture) {
					t.Fatalf("Verify %v ahead = %v, want future", -d, err)
				}
				continue
			case err != nil:
				t.Fatalf("Verify(Sign(id %q, %d-byte body)) with %d secrets = %v", id, len(body), len(secrets), err)
			}
			if err := v.Verify(id+"x", h[HeaderTimestamp], h[HeaderSignature], body); !errors.Is(err, ErrNoMatchingSig) {
				t.Fatalf("Verify with another id = %v, want no matching signature", err)
			}
			if len(body) > 0 {
				changed := bytes.Clone(body)
				changed[int(flip)%len(changed)] ^= 1 << (flip % 8)
				if err := v.Verify(id, h[HeaderTimestamp], h[HeaderSignature], changed); !errors.Is(err, ErrNoMatchingSig) {
					t.Fatalf("Verify of a body one bit off = %v, want no matching signature", err)
				}
			}
		}
	})
}

// FuzzParseSecret: a configured secret either parses to a non-empty key (the base64 after
// "whsec_", or the raw bytes) or is refused as ErrInvalidSecret without quoting it.
func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{"whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), "whsec_", "whsec_!!",
		"whsec_YQ", "whsec_YQ==", "raw-secret", "", "whsec_whsec_YWJj"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseSecret(s)
		rest := strings.TrimPrefix(s, "whsec_")
		if err != nil {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("ParseSecret error %v is not ErrInvalidSecret", err)
			}
			if len(rest) >= 8 && strings.Contains(err.Error(), rest) {
				t.Fatalf("ParseSecret error %q quotes the secret", err)
			}
			return
		}
		if len(key) == 0 {
			t.Fatalf("ParseSecret(%q) = empty key", s)
		}
		// With or without the prefix, the key is the base64 (as the bridge's config reads it).
		want, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || !bytes.Equal(key, want) {
			t.Fatalf("ParseSecret(%q) = %x, want the base64 after an optional whsec_ (%v)", s, key, err)
		}
	})
}

// FuzzBuildParse: an event Build makes from any field values either parses back to the same
// values or is refused naming the field at fault (what the ACD simulator sends, the bridge
// reads alike).
func FuzzBuildParse(f *testing.F) {
	f.Add(uint8(0), "i1", "r1", "c1", "demo", "a1", "lead", "")
	f.Add(uint8(0), "i1", "", "c1", "demo", "a1", "transfer", "r0")
	f.Add(uint8(1), "i1", "r1", "", "", "a1", "", "timeout")
	f.Add(uint8(2), "i1", "r1", "", "", "a1", "", "alerting")
	f.Add(uint8(3), "", "", "", "", "a1", "", "ready")
	f.Add(uint8(0), "i1\n", "r1", "c1", "demo", "a1", "lead", "")
	f.Add(uint8(0), strings.Repeat("i", 129), "r1", "c1", "demo", "a1", "lead", "")
	f.Fuzz(func(t *testing.T, kind uint8, iid, rid, chat, site, agent, routeType, extra string) {
		for _, s := range []string{iid, rid, chat, site, agent, routeType, extra} {
			if !utf8.ValidString(s) {
				return // JSON would carry U+FFFD instead: not the same value by construction
			}
		}
		var typ string
		var data any
		switch kind % 4 {
		case 0:
			typ, data = TypeRouted, Routed{InteractionID: iid, RoutingID: rid, ChatID: chat, Site: site, QueueID: "q", AgentID: agent, RouteType: routeType, FromRoutingID: extra}
		case 1:
			typ, data = TypeRevoked, Revoked{InteractionID: iid, RoutingID: rid, AgentID: agent, Reason: extra}
		case 2:
			typ, data = TypeAbandoned, Abandoned{InteractionID: iid, RoutingID: rid, AgentID: agent, Stage: extra}
		default:
			typ, data = TypeAgentChanged, AgentStateChanged{AgentID: agent, State: extra}
		}
		body, err := Build(typ, t0, data)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Parse(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Field, "data.") {
				t.Fatalf("Parse(Build(%+v)) = %v, want a refusal naming a data field", data, err)
			}
			return
		}
		var got any
		switch {
		case ev.Routed != nil:
			got = *ev.Routed
		case ev.Revoked != nil:
			got = *ev.Revoked
		case ev.Abandoned != nil:
			got = *ev.Abandoned
		case ev.AgentChanged != nil:
			got = *ev.AgentChanged
		}
		if got != data || ev.Type != typ || !ev.Timestamp.Equal(t0) {
			t.Fatalf("Parse(Build(%+v)) = %+v (%s %v)", data, got, ev.Type, ev.Timestamp)
		}
	})
}
