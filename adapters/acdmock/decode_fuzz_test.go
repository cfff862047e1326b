package acdmock

import (
	"errors"
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"chatId":"c1","site":"s","queueId":"q1","customerName":"Ann"}`,
		`{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`,
		`{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT","targetQueueId":"q2"}`,
		`{"fromAgentId":"a1","routeType":"transfer","targetQueueId":"q2"}`,
		`{"state":"ready","reason":""}`, `{"chatId":1}`, `{"x":1}`, `{} {}`, `[`, `null`, `"s"`,
		`{"agentId":"a\u0000"}`, `{"routingId":"r1","agentId":"a1"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		type target struct {
			v        any
			validate func() error
		}
		var c createRequest
		var rq requeueRequest
		var cp completeRequest
		var rt routeRequest
		var st stateRequest
		var ac acceptRequest
		targets := []target{{&c, c.validate}, {&rq, rq.validate}, {&cp, cp.validate}, {&rt, rt.validate}, {&st, st.validate}, {&ac, ac.validate}}
		for _, tg := range targets {
			err := decodeRequest(body, tg.v)
			if err == nil {
				err = tg.validate()
			}
			if err == nil {
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("decode(%q) error %T %v, want *Error", body, err, err)
			}
			if e.Field == "" || e.Reason == "" {
				t.Fatalf("decode(%q) = %+v, want a field and a reason", body, e)
			}
			if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("decode(%q) kind %v, want bad request or invalid", body, e.Kind)
			}
		}
	})
}

func FuzzAdvanceRequest(f *testing.F) {
	for _, seed := range []string{
		`{"duration":"90s"}`, `{"duration":"0s"}`, `{"duration":"-1s"}`, `{"duration":""}`, `{"duration":"9999999h"}`,
		`{"duration":"1h2m3.5s"}`, `{"dur":"1s"}`, `{"duration":90}`, ``, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeAdvance(body)
		if err == nil {
			if d < 0 || d > maxAdvance {
				t.Fatalf("decodeAdvance(%q) = %v, want 0..%v", body, d, maxAdvance)
			}
			again, err := decodeAdvance([]byte(`{"duration":"` + d.String() + `"}`))
			if err != nil || again != d {
				t.Fatalf("decodeAdvance(%q) = %v, but its String %q decodes to %v, %v", body, d, d.String(), again, err)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Field == "" || e.Reason == "" {
			t.Fatalf("decodeAdvance(%q) error %#v, want an *Error with a field and a reason", body, err)
		}
		if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("decodeAdvance(%q) kind %v, want bad request or invalid", body, e.Kind)
		}
	})
}
