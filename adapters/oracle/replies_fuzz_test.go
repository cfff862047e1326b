package oracle

import (
	"errors"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// FuzzDecodeSessionReplies: the replies not covered by the route, engagement and events
// targets (authenticate, agent session, waiting chats) go through decode too. Whatever the
// bytes: ErrMalformedReply or a reply with a resultCode and seconds that are sane durations.
func FuzzDecodeSessionReplies(f *testing.F) {
	for _, seed := range []string{
		`{"resultCode":"SUCCESS","sessionToken":"T1","expiresInSeconds":3600}`,
		`{"resultCode":"AUTHENTICATION_FAILED"}`,
		`{"resultCode":"SUCCESS","loggedIn":true,"sessionId":"S1","presence":"ABSENT","missedIntervals":1,"secondsToDisconnect":240,"statusType":"AVAILABLE","statusName":"Unrestricted","activeSessions":1,"maxSessions":3}`,
		`{"resultCode":"SUCCESS","engagements":[{"chatId":"7","queueId":"q","customerName":"Ann","waitingSeconds":12.5}]}`,
		`{"resultCode":"SUCCESS","engagements":[null,{"waitingSeconds":-1}]}`,
		`{"resultCode":"SUCCESS","expiresInSeconds":1e10}`, `{"resultCode":"SUCCESS","secondsToDisconnect":"240"}`,
		`{"resultCode":"SUCCESS","missedIntervals":1e100}`, `{"resultCode":""}`, `{"resultCode":7}`, ` {"resultCode":"X"} `,
		`{"resultCode":"SUCCESS"}{"resultCode":"SUCCESS"}`, ``, `null`, `[]`, `{`,
	} {
		f.Add([]byte(seed))
	}
	const maxSeconds = time.Duration(maxWireSeconds) * time.Second
	f.Fuzz(func(t *testing.T, body []byte) {
		ok := func(name, code string, err error) bool {
			t.Helper()
			if err != nil {
				if !errors.Is(err, bridge.ErrMalformedReply) {
					t.Fatalf("decode %s (%q) error = %v, want ErrMalformedReply", name, body, err)
				}
				return false
			}
			if code == "" {
				t.Fatalf("decode %s (%q) accepted a reply without resultCode", name, body)
			}
			return true
		}
		sane := func(name string, s wireSeconds) {
			t.Helper()
			if d := s.duration(); d < 0 || d > maxSeconds || s.int() < 0 {
				t.Fatalf("decode %s (%q): seconds %v out of range", name, body, float64(s))
			}
		}
		if a, err := decode[authenticateReply](body); ok("authenticate", a.ResultCode, err) {
			sane("authenticate", a.ExpiresInSeconds)
		}
		if s, err := decode[agentSessionReply](body); ok("agent session", s.ResultCode, err) {
			sane("agent session", s.SecondsToDisconnect)
		}
		if w, err := decode[waitingReply](body); ok("waiting", w.ResultCode, err) {
			for _, e := range w.Engagements {
				sane("waiting", e.WaitingSeconds)
			}
		}
	})
}
