package acdmock

import (
	"errors"
	"testing"
)

func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"chatId":"c1","site":"s","queueId":"q1","customerName":"Ann"}`,
		`{"routingId":"r1","agentId":"a1","reasonCode":"AGENT_ABSENT"}`,
		`{"fromAgentId":"a1","routeType":"transfer","targetQueueId":"q2"}`,
		`{"state":"ready","reason":""}`, `{"chatId":1}`, `{"x":1}`, `{} {}`, `[`, `null`, `"s"`,
		`{"agentId":"a\u0000"}`,
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
		targets := []target{{&c, c.validate}, {&rq, rq.validate}, {&cp, cp.validate}, {&rt, rt.validate}, {&st, st.validate}}
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
