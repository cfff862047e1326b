package crmmock

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The respond operation: the bridge answering an offer for the agent, on both facades.

// respondPath is the routing API's respond path for chatID on site demo.
func respondPath(chatID string) string {
	return "/uq/v1/demo/engagements/" + url.PathEscape(chatID) + "/respond"
}

// respond answers an offer over the routing API and wants HTTP 200.
func (h *harness) respond(chatID, agentID, action, txn string) respondResponse {
	h.t.Helper()
	var resp respondResponse
	body := respondRequest{AgentAccountID: agentID, Action: action, TransactionID: txn}
	if status := h.do(http.MethodPost, respondPath(chatID), h.token, body, &resp); status != http.StatusOK {
		h.t.Fatalf("respond(%s, %+v) status = %d, want 200", chatID, body, status)
	}
	return resp
}

// genericResponseCall answers an offer over the generic facade under key.
func genericResponseCall(chatID, agent, action, key string) genericCall {
	data, _ := json.Marshal(genericResponseRequest{AgentID: agent, Action: action})
	return genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/chats/" + url.PathEscape(chatID) + "/responses", key: key, body: string(data)}
}

// eventTypes lists the types of the events after seq.
func (h *harness) eventTypes(seq int64) []string {
	h.t.Helper()
	var out []string
	for _, ev := range h.eventsSince(seq) {
		out = append(out, ev.Type+" "+ev.AgentAccountID)
	}
	return out
}

// TestRespondCheckOrder walks respond's checks in order; a failure changes nothing.
func TestRespondCheckOrder(t *testing.T) {
	type request struct {
		path  string
		token string // "" = the harness's token; "-" = none
		body  respondRequest
	}
	give := func(chatID, agent, action string) func(h *harness, c string) request {
		return func(h *harness, c string) request {
			if chatID == "" {
				chatID = c
			}
			return request{path: respondPath(chatID), body: respondRequest{AgentAccountID: agent, Action: action}}
		}
	}
	tests := []struct {
		name      string
		offerTo   string // the agent offered the chat; "" = a1 (decline not allowed)
		setup     func(h *harness, chatID string)
		give      func(h *harness, chatID string) request
		want      string
		wantState string   // the answer's engagementState
		wantAfter string   // the chat's state afterwards
		wantEvent []string // events emitted by the call
	}{
		{
			name: "no token",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1//engagements/x/respond", token: "-"}
			},
			want: CodeAuthenticationFailed, wantAfter: StateOffered,
		},
		{
			name: "empty site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1//engagements/" + c + "/respond", body: respondRequest{AgentAccountID: "a1", Action: ActionAccept}}
			},
			want: CodeMissingSiteName, wantAfter: StateOffered,
		},
		{
			name: "unknown site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/nosuch/engagements/" + c + "/respond", body: respondRequest{AgentAccountID: "a1", Action: ActionAccept}}
			},
			want: CodeUnknownSite, wantAfter: StateOffered,
		},
		{
			name: "token of another site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/other/engagements/" + c + "/respond", body: respondRequest{AgentAccountID: "a1", Action: ActionAccept}}
			},
			want: CodeAuthenticationFailed, wantAfter: StateOffered,
		},
		{
			name: "chatId missing",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/demo/engagements//respond", body: respondRequest{AgentAccountID: "a1", Action: ActionAccept}}
			},
			want: CodeMissingParameters, wantAfter: StateOffered,
		},
		{name: "agentAccountId missing", give: give("nosuch", "", ActionAccept), want: CodeMissingParameters, wantAfter: StateOffered},
		{name: "action missing", give: give("nosuch", "a1", ""), want: CodeMissingParameters, wantAfter: StateOffered},
		{name: "chat unknown", give: give("nosuch", "nosuch", ActionDecline), want: CodeChatIDUnknown, wantAfter: StateOffered},
		{
			name:  "chat abandoned by the customer",
			setup: func(h *harness, c string) { must(h.t, h.srv.Abandon("demo", c)) },
			give:  give("", "nosuch", ActionAccept),
			want:  CodeEndUserAbandonedEngagement, wantAfter: StateConcluded,
		},
		{
			name:  "chat concluded by the agent",
			setup: func(h *harness, c string) { must(h.t, h.srv.Conclude("demo", c, EndAgentConcluded)) },
			give:  give("", "a1", ActionAccept),
			want:  CodeChatIDUnknown, wantAfter: StateConcluded,
		},
		{name: "agent unknown", give: give("", "nosuch", ActionDecline), want: CodeAgentIDUnknown, wantAfter: StateOffered},
		{
			name: "another agent's offer",
			give: give("", "a2", ActionAccept),
			want: CodeNoPendingOffer, wantState: StateOffered, wantAfter: StateOffered,
		},
		{
			name:  "already accepted",
			setup: func(h *harness, c string) { must(h.t, h.srv.Respond("demo", c, ActionAccept)) },
			give:  give("", "a1", ActionDecline),
			want:  CodeNoPendingOffer, wantState: StateActive, wantAfter: StateActive,
		},
		{
			name:  "offer timed out",
			setup: func(h *harness, c string) { h.srv.Advance(time.Minute) },
			give:  give("", "a1", ActionAccept),
			want:  CodeNoPendingOffer, wantState: StateWaiting, wantAfter: StateWaiting,
		},
		{
			name: "decline not allowed by the profile",
			give: give("", "a1", ActionDecline),
			want: CodeDeclineNotAllowed, wantState: StateOffered, wantAfter: StateOffered,
		},
		{
			name: "accept",
			give: give("", "a1", ActionAccept),
			want: CodeSuccess, wantState: StateActive, wantAfter: StateActive,
			wantEvent: []string{EventEngagementAccepted + " a1"},
		},
		{
			name: "accept just before the offer times out",
			setup: func(h *harness, c string) {
				h.srv.Advance(59 * time.Second)
				h.token = h.authenticate("demo")
			},
			give: give("", "a1", ActionAccept),
			want: CodeSuccess, wantState: StateActive, wantAfter: StateActive,
			wantEvent: []string{EventEngagementAccepted + " a1"},
		},
		{
			name:    "decline allowed",
			offerTo: "a3",
			give:    give("", "a3", ActionDecline),
			want:    CodeSuccess, wantState: StateWaiting, wantAfter: StateWaiting,
			wantEvent: []string{EventEngagementDeclined + " a3"},
		},
		{
			name:    "accept where decline is allowed",
			offerTo: "a3",
			give:    give("", "a3", ActionAccept),
			want:    CodeSuccess, wantState: StateActive, wantAfter: StateActive,
			wantEvent: []string{EventEngagementAccepted + " a3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedBasic()
			must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a3", Queues: []string{"sales"}, AllowDecline: true}))
			if _, err := h.srv.Login("demo", "a3"); err != nil {
				t.Fatal(err)
			}
			offerTo := tt.offerTo
			if offerTo == "" {
				offerTo = "a1"
			}
			offer(h, chatID, offerTo)
			if tt.setup != nil {
				tt.setup(h, chatID)
			}
			seq := h.lastSeq()
			req := tt.give(h, chatID)
			token := req.token
			switch token {
			case "":
				token = h.token
			case "-":
				token = ""
			}
			var got respondResponse
			if status := h.do(http.MethodPost, req.path, token, req.body, &got); status != http.StatusOK {
				t.Fatalf("POST %s status = %d, want 200", req.path, status)
			}
			if got.ResultCode != tt.want || got.EngagementState != tt.wantState {
				t.Errorf("respond(%s %+v) = %s, %q, want %s, %q", req.path, req.body, got.ResultCode, got.EngagementState, tt.want, tt.wantState)
			}
			if got := h.engagement(chatID).State; got != tt.wantAfter {
				t.Errorf("chat %s is %s afterwards, want %s", chatID, got, tt.wantAfter)
			}
			if diff := cmp.Diff(tt.wantEvent, h.eventTypes(seq)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRespondAnswer(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")
	var got map[string]any
	h.do(http.MethodPost, respondPath(chatID), h.token, respondRequest{AgentAccountID: "a1", Action: ActionAccept, TransactionID: "r-1"}, &got)
	want := map[string]any{"resultCode": "SUCCESS", "chatId": chatID, "agentAccountId": "a1", "engagementState": "ACTIVE"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("respond answer (-want +got):\n%s", diff)
	}
	if n := h.session("a1").ActiveSessions; n != 1 {
		t.Errorf("activeSessions = %d, want 1", n)
	}
}

// A transfer, conference or consult target answers its own offer with its agentAccountId,
// exactly as the control plane's respond does for it.
func TestRespondSecondLegs(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive() // ACTIVE with a1
	seq := h.lastSeq()

	legOffer(h, chatID, "a3", RouteConference)
	if got := h.respond(chatID, "a3", ActionDecline, ""); got.ResultCode != CodeDeclineNotAllowed || got.EngagementState != StateActive {
		t.Errorf("a3 declines = %+v, want DECLINE_NOT_ALLOWED, ACTIVE", got)
	}
	if got := h.respond(chatID, "a3", ActionAccept, ""); got.ResultCode != CodeSuccess || got.EngagementState != StateActive {
		t.Errorf("a3 accepts = %+v, want SUCCESS, ACTIVE", got)
	}
	if got := h.respond(chatID, "a3", ActionAccept, ""); got.ResultCode != CodeNoPendingOffer {
		t.Errorf("a3 accepts again = %+v, want NO_PENDING_OFFER", got)
	}
	if got := h.respond(chatID, "a1", ActionAccept, ""); got.ResultCode != CodeNoPendingOffer {
		t.Errorf("the owner accepts = %+v, want NO_PENDING_OFFER", got)
	}

	legOffer(h, chatID, "a2", RouteTransfer)
	if got := h.respond(chatID, "a2", ActionDecline, ""); got.ResultCode != CodeSuccess || got.EngagementState != StateActive {
		t.Errorf("a2 declines the transfer = %+v, want SUCCESS, chat still ACTIVE", got)
	}
	legOffer(h, chatID, "a2", RouteTransfer)
	if got := h.respond(chatID, "a2", ActionAccept, ""); got.ResultCode != CodeSuccess || got.EngagementState != StateActive {
		t.Errorf("a2 accepts the transfer = %+v, want SUCCESS, ACTIVE", got)
	}
	eng := h.engagement(chatID)
	want := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a2",
		Participants: []participantElement{{AgentAccountID: "a3", RouteType: RouteConference, State: StateActive}}}
	if diff := cmp.Diff(want, eng); diff != "" {
		t.Errorf("engagement (-want +got):\n%s", diff)
	}
	wantEvents := []string{
		EventEngagementOffered + " a3", EventEngagementAccepted + " a3",
		EventEngagementOffered + " a2", EventEngagementDeclined + " a2",
		EventEngagementOffered + " a2", EventEngagementAccepted + " a2",
	}
	if diff := cmp.Diff(wantEvents, h.eventTypes(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// A transactionId makes respond idempotent: the first answer of an admitted request is
// replayed, whatever has happened since, and never applied twice; the key space is shared
// with the generic facade's Idempotency-Key, not with chatRouted's.
func TestRespondReplay(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")
	seq := h.lastSeq()

	first := h.respond(chatID, "a1", ActionAccept, "r-1")
	if first.ResultCode != CodeSuccess {
		t.Fatalf("first respond = %+v, want SUCCESS", first)
	}
	for _, again := range []respondResponse{
		h.respond(chatID, "a1", ActionAccept, "r-1"),
		h.respond("other", "a2", ActionDecline, "r-1"),
		decodeAnswerAs(t, h.generic(genericResponseCall(chatID, "a1", ActionAccept, "r-1"))),
	} {
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("replay (-first +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff([]string{EventEngagementAccepted + " a1"}, h.eventTypes(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := h.respond(chatID, "a1", ActionAccept, "r-2"); got.ResultCode != CodeNoPendingOffer {
		t.Errorf("new transaction = %+v, want NO_PENDING_OFFER", got)
	}
	if n := h.srv.RespondEvaluations("r-1"); n != 1 {
		t.Errorf("RespondEvaluations(r-1) = %d, want 1", n)
	}
	if n := h.srv.Calls(OpRespond); n != 5 {
		t.Errorf("Calls(respond) = %d, want 5", n)
	}
	if n := h.srv.RouteEvaluations("r-1"); n != 0 {
		t.Errorf("RouteEvaluations(r-1) = %d, want 0: respond keys are not route keys", n)
	}

	t.Run("a refusal is remembered too", func(t *testing.T) {
		other, err := h.srv.CreateChat("demo", "sales", "Bob")
		must(t, err)
		offer(h, other, "a2")
		if got := h.respond(other, "a2", ActionDecline, "r-3"); got.ResultCode != CodeDeclineNotAllowed {
			t.Fatalf("decline = %+v, want DECLINE_NOT_ALLOWED", got)
		}
		if got := h.respond(other, "a2", ActionAccept, "r-3"); got.ResultCode != CodeDeclineNotAllowed {
			t.Errorf("replay with another action = %+v, want the first answer DECLINE_NOT_ALLOWED", got)
		}
		if st := h.engagement(other).State; st != StateOffered {
			t.Errorf("chat is %s, want still OFFERED", st)
		}
	})

	t.Run("unauthenticated and faulted requests are not remembered", func(t *testing.T) {
		must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a3", Queues: []string{"sales"}}))
		_, err := h.srv.Login("demo", "a3")
		must(t, err)
		other, err := h.srv.CreateChat("demo", "sales", "Cy")
		must(t, err)
		offer(h, other, "a3")
		var got respondResponse
		h.do(http.MethodPost, respondPath(other), "bogus", respondRequest{AgentAccountID: "a3", Action: ActionAccept, TransactionID: "r-4"}, &got)
		if got.ResultCode != CodeAuthenticationFailed {
			t.Fatalf("bad token = %+v, want AUTHENTICATION_FAILED", got)
		}
		must(t, h.srv.InjectFault(Fault{Op: OpRespond, ResultCode: CodeRNWAPIException, Count: 1}))
		if got := h.respond(other, "a3", ActionAccept, "r-4"); got.ResultCode != CodeRNWAPIException {
			t.Fatalf("faulted = %+v, want RNW_API_EXCEPTION", got)
		}
		if got := h.respond(other, "a3", ActionAccept, "r-4"); got.ResultCode != CodeSuccess {
			t.Errorf("retry = %+v, want SUCCESS", got)
		}
		// The unauthenticated try was evaluated (and refused); the faulted one never was.
		if n := h.srv.RespondEvaluations("r-4"); n != 2 {
			t.Errorf("RespondEvaluations(r-4) = %d, want 2", n)
		}
	})
}

// decodeAnswerAs decodes a generic 200 response answer into the routing API's shape.
func decodeAnswerAs(t *testing.T, a genericAnswer) respondResponse {
	t.Helper()
	r := decodeAnswer[genericResponseResponse](t, a)
	return respondResponse{ResultCode: r.Result, ChatID: r.ChatID, AgentAccountID: r.AgentID, EngagementState: r.EngagementState}
}

func TestGenericResponse(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a3", Queues: []string{"sales"}, AllowDecline: true}))
	_, err := h.srv.Login("demo", "a3")
	must(t, err)
	offer(h, chatID, "a3")

	got := decodeAnswer[map[string]any](t, h.generic(genericResponseCall(chatID, "a3", ActionDecline, "g-1")))
	want := map[string]any{"result": "SUCCESS", "chat_id": chatID, "agent_id": "a3", "engagement_state": "WAITING"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response answer (-want +got):\n%s", diff)
	}
	if got := decodeAnswerAs(t, h.generic(genericResponseCall(chatID, "a3", ActionAccept, "g-2"))); got.ResultCode != CodeNoPendingOffer {
		t.Errorf("accept after the decline = %+v, want NO_PENDING_OFFER", got)
	}
	if got := decodeAnswerAs(t, h.generic(genericResponseCall(chatID, "", ActionAccept, "g-3"))); got.ResultCode != CodeMissingParameters {
		t.Errorf("no agent_id = %+v, want MISSING_PARAMETERS", got)
	}
	unknownSite := genericResponseCall(chatID, "a3", ActionAccept, "g-4")
	unknownSite.path = "/crm/v1/sites/nosuch/chats/" + chatID + "/responses"
	if got := decodeAnswerAs(t, h.generic(unknownSite)); got.ResultCode != CodeUnknownSite {
		t.Errorf("unknown site = %+v, want UNKNOWN_SITE", got)
	}
	// The same verdicts as the routing API, by the same rules.
	offer(h, chatID, "a1")
	if got := decodeAnswerAs(t, h.generic(genericResponseCall(chatID, "a1", ActionDecline, "g-5"))); got.ResultCode != CodeDeclineNotAllowed || got.EngagementState != StateOffered {
		t.Errorf("decline not allowed = %+v, want DECLINE_NOT_ALLOWED, OFFERED", got)
	}
	if got := h.generic(genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/chats/" + chatID + "/responses", auth: "Bearer nope", key: "g-6", body: `{"agent_id":"a1","action":"accept"}`}); got.status != http.StatusUnauthorized {
		t.Errorf("wrong key = %d %s, want 401", got.status, got.body)
	}
	if n := h.srv.RespondEvaluations("g-6"); n != 0 {
		t.Errorf("RespondEvaluations(g-6) = %d, want 0: an unauthorized call is not evaluated", n)
	}
}

func TestRespondBadRequests(t *testing.T) {
	response := func(key, body string) genericCall {
		return genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/chats/1001/responses", key: key, body: body}
	}
	tests := []struct {
		name      string
		give      genericCall
		wantField string
	}{
		{name: "no Idempotency-Key", give: response("", `{"agent_id":"a1","action":"accept"}`), wantField: HeaderIdempotencyKey},
		{name: "Idempotency-Key with a space", give: response("a b", `{"agent_id":"a1","action":"accept"}`), wantField: HeaderIdempotencyKey},
		{name: "empty body", give: response("k", ``)},
		{name: "cut short", give: response("k", `{"agent_id":"a1`)},
		{name: "numeric agent", give: response("k", `{"agent_id":1,"action":"accept"}`), wantField: "agent_id"},
		{name: "the other facade's names", give: response("k", `{"agentAccountId":"a1","action":"accept"}`), wantField: "agentAccountId"},
		{name: "ignore is not a call", give: response("k", `{"agent_id":"a1","action":"ignore"}`), wantField: "action"},
		{name: "unknown action", give: response("k", `{"agent_id":"a1","action":"Accept"}`), wantField: "action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedBasic()
			offer(h, chatID, "a1")
			got := h.generic(tt.give)
			if got.err != nil || got.status != http.StatusBadRequest {
				t.Fatalf("answer = %d %s %v, want 400", got.status, got.body, got.err)
			}
			var body apiErrorBody
			if err := json.Unmarshal(got.body, &body); err != nil || body.Error != "invalid_request" || body.Reason == "" || body.Field != tt.wantField {
				t.Errorf("400 body = %s, want invalid_request with field %q and a reason", got.body, tt.wantField)
			}
			if n := h.srv.RespondEvaluations("k"); n != 0 {
				t.Errorf("RespondEvaluations(k) = %d, want 0: a bad request is not evaluated", n)
			}
			if st := h.engagement(chatID).State; st != StateOffered {
				t.Errorf("chat is %s, want still OFFERED", st)
			}
		})
	}

	t.Run("routing API", func(t *testing.T) {
		h := newHarness(t, Options{})
		for _, tt := range []struct{ body, wantField string }{
			{`{"agentAccountId":"a1","action":"ignore"}`, "action"},
			{`{"agentAccountId":"a1","action":true}`, "action"},
			{`{"agentAccountId":7}`, "agentAccountId"},
			{`{"agentAccountId":"a1"`, ""},
			{``, ""},
		} {
			status, body := h.raw(http.MethodPost, respondPath("1001"), h.token, tt.body)
			var got errorBodyJSON
			if status != http.StatusBadRequest || jsonUnmarshal(body, &got) != nil || got.Field != tt.wantField {
				t.Errorf("respond %q = %d %s, want 400 naming field %q", tt.body, status, body, tt.wantField)
			}
		}
	})
}

// Faults name the respond op like any other: they hit both facades, are counted, and a lost
// answer is evaluated once and replayed.
func TestRespondFaults(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")

	must(t, h.srv.InjectFault(Fault{Op: OpRespond, HTTPStatus: http.StatusServiceUnavailable, Count: 1}))
	must(t, h.srv.InjectFault(Fault{Op: OpRespond, ResultCode: CodeUnknownError, Count: 1}))
	got := h.generic(genericResponseCall(chatID, "a1", ActionAccept, "k"))
	if got.err != nil || got.status != http.StatusServiceUnavailable {
		t.Errorf("generic response with a 503 fault = %d %s %v, want 503", got.status, got.body, got.err)
	}
	if r := h.respond(chatID, "a1", ActionAccept, "k"); r.ResultCode != CodeUnknownError {
		t.Errorf("routing API with a code fault = %+v, want UNKNOWN_ERROR", r)
	}
	if st := h.engagement(chatID).State; st != StateOffered || h.srv.RespondEvaluations("k") != 0 {
		t.Errorf("after faulted calls the chat is %s, evaluated %d times, want OFFERED and none", st, h.srv.RespondEvaluations("k"))
	}

	must(t, h.srv.InjectFault(Fault{Op: OpRespond, LoseAnswer: true, Count: 1}))
	if got := h.generic(genericResponseCall(chatID, "a1", ActionAccept, "k")); got.err == nil {
		t.Fatalf("lost answer = %d %s, want a transport error", got.status, got.body)
	}
	if st := h.engagement(chatID).State; st != StateActive {
		t.Errorf("after the lost answer the chat is %s, want ACTIVE", st)
	}
	if r := h.respond(chatID, "a1", ActionAccept, "k"); r.ResultCode != CodeSuccess {
		t.Errorf("replay = %+v, want SUCCESS", r)
	}
	if n := h.srv.RespondEvaluations("k"); n != 1 {
		t.Errorf("RespondEvaluations(k) = %d, want 1", n)
	}
	if n := h.srv.Calls(OpRespond); n != 4 {
		t.Errorf("Calls(respond) = %d, want 4", n)
	}
	if err := h.srv.InjectFault(Fault{Op: OpRespond, Drop: true}); err != nil {
		t.Errorf("InjectFault(respond) = %v, want the op known", err)
	}
}

func TestControlClientRespondEvaluations(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")
	h.respond(chatID, "a1", ActionAccept, "r-1")
	h.respond(chatID, "a1", ActionAccept, "r-1")
	cc := NewControlClient(h.ts.URL, h.ts.Client())
	if n, err := cc.RespondEvaluations(t.Context(), "r-1"); err != nil || n != 1 {
		t.Errorf("RespondEvaluations(r-1) = %d, %v, want 1", n, err)
	}
	if n, err := cc.Calls(t.Context(), OpRespond); err != nil || n != 2 {
		t.Errorf("Calls(respond) = %d, %v, want 2", n, err)
	}
}
