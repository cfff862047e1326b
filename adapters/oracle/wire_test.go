package oracle

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
			give: `{"resultCode":"SUCCESS","chatId":"7","agentAccountId":"A1","engagementState":"OFFERED","offerExpiresInSeconds":60}`,
			want: routeReply{ResultCode: "SUCCESS", ChatID: "7", AgentAccountID: "A1", EngagementState: "OFFERED", OfferExpiresInSeconds: 60},
		},
		{
			name: "business code, unknown fields ignored",
			give: ` {"resultCode":"AGENT_ABSENT","chatId":"7","extra":{"x":[1,2]}}`,
			want: routeReply{ResultCode: "AGENT_ABSENT", ChatID: "7"},
		},
		{name: "fractional seconds", give: `{"resultCode":"SUCCESS","offerExpiresInSeconds":1.5}`, want: routeReply{ResultCode: "SUCCESS", OfferExpiresInSeconds: 1.5}},
		{name: "empty", give: ``, wantErr: bridge.ErrMalformedReply},
		{name: "cut short", give: `{"resultCode":"SUCC`, wantErr: bridge.ErrMalformedReply},
		{name: "no resultCode", give: `{"chatId":"7"}`, wantErr: bridge.ErrMalformedReply},
		{name: "empty resultCode", give: `{"resultCode":""}`, wantErr: bridge.ErrMalformedReply},
		{name: "array", give: `[{"resultCode":"SUCCESS"}]`, wantErr: bridge.ErrMalformedReply},
		{name: "null", give: `null`, wantErr: bridge.ErrMalformedReply},
		{name: "html error page", give: `<html>502</html>`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric id", give: `{"resultCode":"SUCCESS","chatId":7}`, wantErr: bridge.ErrMalformedReply},
		{name: "negative seconds", give: `{"resultCode":"SUCCESS","offerExpiresInSeconds":-1}`, wantErr: bridge.ErrMalformedReply},
		{name: "huge seconds", give: `{"resultCode":"SUCCESS","offerExpiresInSeconds":1e300}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRouteReply([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeRouteReply(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeRouteReply(%q) mismatch (-want +got):\n%s", tt.give, diff)
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
			name: "timeout marker",
			give: `{"resultCode":"SUCCESS","timeout":true,"lastSeq":9,"events":[]}`,
			want: []bridge.CRMEvent{},
		},
		{
			name: "events",
			give: `{"resultCode":"SUCCESS","timeout":false,"lastSeq":11,"events":[
				{"seq":10,"type":"EngagementConcluded","chatId":"7","agentAccountId":"A1","endReason":"END_USER_CONCLUDED","at":"2030-01-02T03:04:05Z"},
				{"seq":11,"type":"AgentConnectionStateChanged","agentAccountId":"A1","presence":"ABSENT","missedIntervals":1,"secondsToDisconnect":240,"at":1893553445000}]}`,
			want: []bridge.CRMEvent{
				{Seq: 10, Type: bridge.CRMEngagementConcluded, ChatID: "7", AgentAccountID: "A1", EndReason: "END_USER_CONCLUDED", At: at},
				{Seq: 11, Type: bridge.CRMAgentConnectionStateChanged, AgentAccountID: "A1", Presence: "ABSENT", MissedIntervals: 1, SecondsToDisconnect: 240, At: at},
			},
		},
		{name: "no events field", give: `{"resultCode":"SUCCESS"}`, want: []bridge.CRMEvent{}},
		{name: "garbage", give: `{"resultCode":`, wantErr: bridge.ErrMalformedReply},
		{name: "events not a list", give: `{"resultCode":"SUCCESS","events":{}}`, wantErr: bridge.ErrMalformedReply},
		{name: "bad time", give: `{"resultCode":"SUCCESS","events":[{"seq":1,"type":"x","at":"yesterday"}]}`, wantErr: bridge.ErrMalformedReply},
		{name: "no resultCode", give: `{"events":[]}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := decodeEvents([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeEvents(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeEvents(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func FuzzDecodeRouteReply(f *testing.F) {
	for _, seed := range []string{
		`{"resultCode":"SUCCESS","chatId":"7","agentAccountId":"A1","engagementState":"OFFERED","offerExpiresInSeconds":60}`,
		`{"resultCode":"COULD_NOT_RESERVE_ENGAGEMENT"}`,
		`{"resultCode":"SUCC`,
		`{"offerExpiresInSeconds":1e308}`,
		``,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRouteReply(body)
		if err != nil {
			if !errors.Is(err, bridge.ErrMalformedReply) {
				t.Fatalf("decodeRouteReply(%q) error = %v, want ErrMalformedReply", body, err)
			}
			return
		}
		if r.ResultCode == "" {
			t.Fatalf("decodeRouteReply(%q) accepted a reply without resultCode", body)
		}
		if d := r.OfferExpiresInSeconds.duration(); d < 0 {
			t.Fatalf("decodeRouteReply(%q) offer expiry %v < 0", body, d)
		}
	})
}

func FuzzDecodeEvents(f *testing.F) {
	for _, seed := range []string{
		`{"resultCode":"SUCCESS","timeout":true,"lastSeq":9,"events":[]}`,
		`{"resultCode":"SUCCESS","lastSeq":2,"events":[{"seq":1,"type":"EngagementOffered","chatId":"1","agentAccountId":"A1","at":"2030-01-02T03:04:05Z"},{"seq":2,"type":"AgentConnectionStateChanged","presence":"ABSENT","missedIntervals":1,"secondsToDisconnect":240,"at":1}]}`,
		`{"resultCode":"AUTHENTICATION_FAILED","events":[]}`,
		`{"resultCode":"SUCCESS","events":[{"at":null,"secondsToDisconnect":null}]}`,
		`{"resultCode":"SUCCESS","events":[{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, events, err := decodeEvents(body)
		if err != nil {
			if !errors.Is(err, bridge.ErrMalformedReply) {
				t.Fatalf("decodeEvents(%q) error = %v, want ErrMalformedReply", body, err)
			}
			return
		}
		if r.ResultCode == "" || events == nil {
			t.Fatalf("decodeEvents(%q) = %+v, %v: accepted without resultCode or nil slice", body, r, events)
		}
		if r.Timeout && len(events) != 0 {
			t.Fatalf("decodeEvents(%q): timeout marker with %d events", body, len(events))
		}
	})
}

func TestDecodeEngagementReply(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    bridge.Engagement
		wantErr error
	}{
		{
			name: "no participants",
			give: `{"resultCode":"SUCCESS","chatId":"7","state":"ACTIVE","agentAccountId":"A1"}`,
			want: bridge.Engagement{Code: "SUCCESS", ChatID: "7", State: "ACTIVE", AgentAccountID: "A1"},
		},
		{
			name: "participants",
			give: `{"resultCode":"SUCCESS","chatId":"7","state":"ACTIVE","agentAccountId":"A1","participants":[
				{"agentAccountId":"B1","routeType":"consult","state":"ACTIVE"},
				{"agentAccountId":"C1","routeType":"transfer","state":"OFFERED","extra":[1]}]}`,
			want: bridge.Engagement{Code: "SUCCESS", ChatID: "7", State: "ACTIVE", AgentAccountID: "A1", Participants: []bridge.Participant{
				{AgentAccountID: "B1", RouteType: bridge.RouteConsult, State: "ACTIVE"},
				{AgentAccountID: "C1", RouteType: bridge.RouteTransfer, State: "OFFERED"},
			}},
		},
		{
			name: "concluded, a route type no one knows, verbatim",
			give: `{"resultCode":"SUCCESS","state":"CONCLUDED","participants":[{"agentAccountId":"B1","routeType":"barge","state":"CONCLUDED"}]}`,
			want: bridge.Engagement{Code: "SUCCESS", State: "CONCLUDED", Participants: []bridge.Participant{{AgentAccountID: "B1", RouteType: "barge", State: "CONCLUDED"}}},
		},
		{name: "empty list", give: `{"resultCode":"SUCCESS","participants":[]}`, want: bridge.Engagement{Code: "SUCCESS"}},
		{name: "null list", give: `{"resultCode":"SUCCESS","participants":null}`, want: bridge.Engagement{Code: "SUCCESS"}},
		{name: "participant without agent", give: `{"resultCode":"SUCCESS","participants":[{"routeType":"consult"}]}`, wantErr: bridge.ErrMalformedReply},
		{name: "null participant", give: `{"resultCode":"SUCCESS","participants":[null]}`, wantErr: bridge.ErrMalformedReply},
		{name: "participants not a list", give: `{"resultCode":"SUCCESS","participants":"B1"}`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric agent", give: `{"resultCode":"SUCCESS","participants":[{"agentAccountId":7}]}`, wantErr: bridge.ErrMalformedReply},
		{name: "no resultCode", give: `{"participants":[]}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decodeEngagementReply([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeEngagementReply(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, r.engagement()); diff != "" {
				t.Errorf("decodeEngagementReply(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func FuzzDecodeEngagementReply(f *testing.F) {
	for _, seed := range []string{
		`{"resultCode":"SUCCESS","chatId":"7","state":"ACTIVE","agentAccountId":"A1"}`,
		`{"resultCode":"SUCCESS","chatId":"7","state":"ACTIVE","agentAccountId":"A1","participants":[{"agentAccountId":"B1","routeType":"conference","state":"OFFERED"}]}`,
		`{"resultCode":"CHAT_ID_UNKNOWN","chatId":"404"}`,
		`{"resultCode":"SUCCESS","participants":[{"routeType":"transfer"}]}`,
		`{"resultCode":"SUCCESS","participants":[null,{}]}`,
		`{"resultCode":"SUCCESS","participants":{}}`,
		`{"participants":[`, ``, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeEngagementReply(body)
		if err != nil {
			if !errors.Is(err, bridge.ErrMalformedReply) {
				t.Fatalf("decodeEngagementReply(%q) error = %v, want ErrMalformedReply", body, err)
			}
			return
		}
		eng := r.engagement()
		if eng.Code == "" {
			t.Fatalf("decodeEngagementReply(%q) accepted a reply without resultCode", body)
		}
		if eng.Participants != nil && len(eng.Participants) == 0 {
			t.Fatalf("decodeEngagementReply(%q): empty non-nil participants", body)
		}
		for _, p := range eng.Participants {
			if p.AgentAccountID == "" {
				t.Fatalf("decodeEngagementReply(%q) accepted a participant without agent: %+v", body, eng.Participants)
			}
		}
	})
}

func TestDecodeRespondReply(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    respondReply
		wantErr error
	}{
		{
			name: "accepted",
			give: `{"resultCode":"SUCCESS","chatId":"7","agentAccountId":"A1","engagementState":"ACTIVE"}`,
			want: respondReply{ResultCode: "SUCCESS", ChatID: "7", AgentAccountID: "A1", EngagementState: "ACTIVE"},
		},
		{
			name: "business code, unknown fields ignored",
			give: `{"resultCode":"NO_PENDING_OFFER","chatId":"7","engagementState":"WAITING","extra":[1]}`,
			want: respondReply{ResultCode: "NO_PENDING_OFFER", ChatID: "7", EngagementState: "WAITING"},
		},
		{name: "a fault's bare code", give: `{"resultCode":"RNW_API_EXCEPTION"}`, want: respondReply{ResultCode: "RNW_API_EXCEPTION"}},
		{name: "empty", give: ``, wantErr: bridge.ErrMalformedReply},
		{name: "cut short", give: `{"resultCode":"SUCC`, wantErr: bridge.ErrMalformedReply},
		{name: "no resultCode", give: `{"chatId":"7","engagementState":"ACTIVE"}`, wantErr: bridge.ErrMalformedReply},
		{name: "empty resultCode", give: `{"resultCode":""}`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric resultCode", give: `{"resultCode":0}`, wantErr: bridge.ErrMalformedReply},
		{name: "the other protocol's result", give: `{"result":"SUCCESS"}`, wantErr: bridge.ErrMalformedReply},
		{name: "numeric id", give: `{"resultCode":"SUCCESS","chatId":7}`, wantErr: bridge.ErrMalformedReply},
		{name: "state not a string", give: `{"resultCode":"SUCCESS","engagementState":{"s":1}}`, wantErr: bridge.ErrMalformedReply},
		{name: "array", give: `[{"resultCode":"SUCCESS"}]`, wantErr: bridge.ErrMalformedReply},
		{name: "two objects", give: `{"resultCode":"SUCCESS"}{"resultCode":"SUCCESS"}`, wantErr: bridge.ErrMalformedReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRespondReply([]byte(tt.give))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("decodeRespondReply(%q) error = %v, want %v", tt.give, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeRespondReply(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func FuzzDecodeRespondReply(f *testing.F) {
	for _, seed := range []string{
		`{"resultCode":"SUCCESS","chatId":"7","agentAccountId":"A1","engagementState":"ACTIVE"}`,
		`{"resultCode":"DECLINE_NOT_ALLOWED","chatId":"7","agentAccountId":"A1","engagementState":"OFFERED"}`,
		`{"resultCode":"NO_PENDING_OFFER"}`, `{"resultCode":"SUCC`, `{"resultCode":null}`, `{"engagementState":1}`,
		``, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRespondReply(body)
		if err != nil {
			if !errors.Is(err, bridge.ErrMalformedReply) {
				t.Fatalf("decodeRespondReply(%q) error = %v, want ErrMalformedReply", body, err)
			}
			return
		}
		if r.ResultCode == "" {
			t.Fatalf("decodeRespondReply(%q) accepted a reply without resultCode", body)
		}
	})
}
