package webhookcrm

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func TestDecodeRouteReply(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    routeReply
		wantErr error
	}{
		{
			name: "offered",
			give: `{"result":"SUCCESS","chat_id":"7","agent_id":"A1","engagement_state":"OFFERED","offer_expires_in_seconds":60}`,
			want: routeReply{Result: "SUCCESS", ChatID: "7", AgentID: "A1", EngagementState: "OFFERED", OfferExpiresInSeconds: 60},
		},
		{
			name: "business code, unknown fields ignored",
			give: ` {"result":"AGENT_ABSENT","chat_id":"7","extra":{"x":[1,2]}}`,
			want: routeReply{Result: "AGENT_ABSENT", ChatID: "7"},
		},
		{name: "fractional seconds", give: `{"result":"SUCCESS","offer_expires_in_seconds":1.5}`, want: routeReply{Result: "SUCCESS", OfferExpiresInSeconds: 1.5}},
		{name: "empty", give: ``, wantErr: bridge.ErrMalformedReply},
		{name: "cut short", give: `{"result":"SUCC`, wantErr: bridge.ErrMalformedReply},
		{name: "no result", give: `{"chat_id":"7"}`, wantErr: bridge.ErrMalformedReply},
		{name: "the other protocol's resultCode", give: `{"resultCode":"SUCCESS"}`, wantErr: bridge.ErrMalformedReply},
		{name: "empty result", give: `{"result":""}`, wantErr: bridge.ErrMalformedReply},
		{name: "array", give: `[{"result":"SUCCESS"}]`, wantErr: bridge.ErrMalformedReply},
		{name: "null", give: `null`, wantErr: bridge.ErrMalformedReply},
		{name: "html error page", give: `<html>502</html>`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric id", give: `{"result":"SUCCESS","chat_id":7}`, wantErr: bridge.ErrMalformedReply},
		{name: "negative seconds", give: `{"result":"SUCCESS","offer_expires_in_seconds":-1}`, wantErr: bridge.ErrMalformedReply},
		{name: "huge seconds", give: `{"result":"SUCCESS","offer_expires_in_seconds":1e300}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode[routeReply]([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decode(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decode(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestDecodeEvents(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		give    string
		want    []bridge.CRMEvent
		wantErr error
	}{
		{
			name: "events mapped to the core's names",
			give: `{"result":"SUCCESS","last_seq":2,"events":[
				{"seq":1,"type":"EngagementConcluded","chat_id":"7","agent_id":"A1","end_reason":"PARTICIPANT_LEFT","at":"2030-01-02T03:04:05Z"},
				{"seq":2,"type":"AgentConnectionStateChanged","agent_id":"A1","presence":"ABSENT","missed_intervals":1,"seconds_to_disconnect":239.6,"at":"2030-01-02T03:04:05Z"}]}`,
			want: []bridge.CRMEvent{
				{Seq: 1, Type: "EngagementConcluded", ChatID: "7", AgentAccountID: "A1", EndReason: "PARTICIPANT_LEFT", At: at},
				{Seq: 2, Type: "AgentConnectionStateChanged", AgentAccountID: "A1", Presence: "ABSENT", MissedIntervals: 1, SecondsToDisconnect: 240, At: at},
			},
		},
		{name: "timeout marker", give: `{"result":"SUCCESS","timeout":true,"last_seq":9,"events":[]}`, want: []bridge.CRMEvent{}},
		{name: "bad time", give: `{"result":"SUCCESS","events":[{"seq":1,"at":"yesterday"}]}`, wantErr: bridge.ErrMalformedReply},
		{name: "events not a list", give: `{"result":"SUCCESS","events":{}}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := decodeEvents([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeEvents error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeEvents mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeChat(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    bridge.Engagement
		wantErr error
	}{
		{
			name: "no participants",
			give: `{"result":"SUCCESS","chat_id":"7","state":"ACTIVE","agent_id":"A1"}`,
			want: bridge.Engagement{Code: "SUCCESS", ChatID: "7", State: "ACTIVE", AgentAccountID: "A1"},
		},
		{
			name: "participants",
			give: `{"result":"SUCCESS","chat_id":"7","state":"ACTIVE","agent_id":"A1","participants":[
				{"agent_id":"B1","route_type":"conference","state":"ACTIVE"},
				{"agent_id":"C1","route_type":"transfer","state":"OFFERED","extra":1}]}`,
			want: bridge.Engagement{Code: "SUCCESS", ChatID: "7", State: "ACTIVE", AgentAccountID: "A1", Participants: []bridge.Participant{
				{AgentAccountID: "B1", RouteType: bridge.RouteConference, State: "ACTIVE"},
				{AgentAccountID: "C1", RouteType: bridge.RouteTransfer, State: "OFFERED"},
			}},
		},
		{
			name: "a route type no one knows, verbatim",
			give: `{"result":"SUCCESS","participants":[{"agent_id":"B1","route_type":"barge","state":"ACTIVE"}]}`,
			want: bridge.Engagement{Code: "SUCCESS", Participants: []bridge.Participant{{AgentAccountID: "B1", RouteType: "barge", State: "ACTIVE"}}},
		},
		{name: "empty list", give: `{"result":"SUCCESS","participants":[]}`, want: bridge.Engagement{Code: "SUCCESS"}},
		{name: "participant without agent", give: `{"result":"SUCCESS","participants":[{"route_type":"consult"}]}`, wantErr: bridge.ErrMalformedReply},
		{name: "participants not a list", give: `{"result":"SUCCESS","participants":{"agent_id":"B1"}}`, wantErr: bridge.ErrMalformedReply},
		{name: "the other protocol's names", give: `{"result":"SUCCESS","participants":[{"agentAccountId":"B1"}]}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeChat([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeChat(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeChat(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestDecodeResponseReply(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    responseReply
		wantErr error
	}{
		{
			name: "declined",
			give: `{"result":"SUCCESS","chat_id":"7","agent_id":"A1","engagement_state":"WAITING"}`,
			want: responseReply{Result: "SUCCESS", ChatID: "7", AgentID: "A1", EngagementState: "WAITING"},
		},
		{
			name: "business code, unknown fields ignored",
			give: `{"result":"DECLINE_NOT_ALLOWED","engagement_state":"OFFERED","extra":{}}`,
			want: responseReply{Result: "DECLINE_NOT_ALLOWED", EngagementState: "OFFERED"},
		},
		{name: "empty", give: ``, wantErr: bridge.ErrMalformedReply},
		{name: "cut short", give: `{"result":"SUCC`, wantErr: bridge.ErrMalformedReply},
		{name: "no result", give: `{"chat_id":"7"}`, wantErr: bridge.ErrMalformedReply},
		{name: "the other protocol's resultCode", give: `{"resultCode":"SUCCESS"}`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric result", give: `{"result":1}`, wantErr: bridge.ErrMalformedReply},
		{name: "state not a string", give: `{"result":"SUCCESS","engagement_state":["ACTIVE"]}`, wantErr: bridge.ErrMalformedReply},
		{name: "null", give: `null`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode[responseReply]([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decode(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decode(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

// Every reply the CRM sends goes through decode: whatever the bytes, it never panics, and
// what it accepts carries a result and sane numbers.
func FuzzDecodeReplies(f *testing.F) {
	for _, seed := range []string{
		`{"result":"SUCCESS","chat_id":"7","agent_id":"A1","engagement_state":"OFFERED","offer_expires_in_seconds":60}`,
		`{"result":"SUCCESS","logged_in":true,"session_id":"S1","presence":"ABSENT","missed_intervals":1,"seconds_to_disconnect":240,"max_sessions":1}`,
		`{"result":"SUCCESS","timeout":true,"last_seq":9,"events":[]}`,
		`{"result":"SUCCESS","last_seq":1,"events":[{"seq":1,"type":"EngagementOffered","chat_id":"1","agent_id":"A1","at":"2030-01-02T03:04:05Z"}]}`,
		`{"result":"SUCCESS","events":[{"at":null,"seconds_to_disconnect":null}]}`,
		`{"result":"SUCCESS","chats":[{"chat_id":"7","queue_id":"q","customer_name":"Ann","waiting_seconds":12}]}`,
		`{"result":"SUCC`, `{"offer_expires_in_seconds":1e308}`, ``, `null`, `{"result":7}`,
		`{"result":"SUCCESS","chat_id":"7","state":"ACTIVE","agent_id":"A1","participants":[{"agent_id":"B1","route_type":"conference","state":"OFFERED"}]}`,
		`{"result":"SUCCESS","participants":[{"route_type":"transfer"}]}`, `{"result":"SUCCESS","participants":{}}`,
		`{"result":"SUCCESS","participants":null}`, `{"result":"SUCCESS","participants":[null]}`,
		`{"result":"SUCCESS","chat_id":"7","agent_id":"A1","engagement_state":"ACTIVE"}`,
		`{"result":"DECLINE_NOT_ALLOWED","engagement_state":"OFFERED"}`, `{"result":"NO_PENDING_OFFER","engagement_state":7}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(name, result string, err error) bool {
			t.Helper()
			if err != nil {
				if !errors.Is(err, bridge.ErrMalformedReply) {
					t.Fatalf("decode %s (%q) error = %v, want ErrMalformedReply", name, body, err)
				}
				return false
			}
			if result == "" {
				t.Fatalf("decode %s (%q) accepted a reply without result", name, body)
			}
			return true
		}
		resp, err := decode[responseReply](body)
		check("response", resp.Result, err)
		if r, err := decode[routeReply](body); check("route", r.Result, err) && r.OfferExpiresInSeconds.duration() < 0 {
			t.Fatalf("decode route (%q): offer expiry %v < 0", body, r.OfferExpiresInSeconds.duration())
		}
		if eng, err := decodeChat(body); check("chat", eng.Code, err) {
			for _, p := range eng.Participants {
				if p.AgentAccountID == "" {
					t.Fatalf("decodeChat(%q) accepted a participant without agent: %+v", body, eng.Participants)
				}
			}
		}
		if a, err := decode[agentReply](body); check("agent", a.Result, err) && a.SecondsToDisconnect.int() < 0 {
			t.Fatalf("decode agent (%q): seconds to disconnect %d < 0", body, a.SecondsToDisconnect.int())
		}
		if w, err := decode[waitingReply](body); check("waiting", w.Result, err) {
			for _, c := range w.Chats {
				if c.WaitingSeconds.duration() < 0 {
					t.Fatalf("decode waiting (%q): negative wait %v", body, c.WaitingSeconds.duration())
				}
			}
		}
		e, events, err := decodeEvents(body)
		if check("events", e.Result, err) {
			if events == nil || (e.Timeout && len(events) != 0) {
				t.Fatalf("decodeEvents(%q) = %+v, %v: nil slice, or a timeout marker with events", body, e, events)
			}
		}
	})
}
