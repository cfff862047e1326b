package crmmock

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// TestChatRoutedCheckOrder walks the real server's check order. Where a case can, its
// setup also breaks a later check, to prove the earlier one decides.
func TestChatRoutedCheckOrder(t *testing.T) {
	type request struct {
		path  string
		token string // "" = the harness's token; "-" = none
		body  chatRoutedRequest
	}
	tests := []struct {
		name  string
		setup func(h *harness, chatID string) // may change the request
		give  func(h *harness, chatID string) request
		want  string
	}{
		{
			name: "no token",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1//chatRouted", token: "-", body: chatRoutedRequest{}}
			},
			want: CodeAuthenticationFailed,
		},
		{
			name: "unknown token",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/nosuch/chatRouted", token: "bogus", body: chatRoutedRequest{ChatID: c}}
			},
			want: CodeAuthenticationFailed,
		},
		{
			name:  "expired token",
			setup: func(h *harness, c string) { h.srv.Advance(time.Hour) },
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1//chatRouted", body: chatRoutedRequest{ChatID: c}}
			},
			want: CodeAuthenticationFailed,
		},
		{
			name: "empty site in path",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1//chatRouted", body: chatRoutedRequest{}}
			},
			want: CodeMissingSiteName,
		},
		{
			name: "no site segment, no body site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/chatRouted", body: chatRoutedRequest{ChatID: c}}
			},
			want: CodeMissingSiteName,
		},
		{
			name: "unknown site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/nosuch/chatRouted", body: chatRoutedRequest{}}
			},
			want: CodeUnknownSite,
		},
		{
			name: "token of another site",
			give: func(h *harness, c string) request {
				return request{path: "/uq/v1/other/chatRouted", body: chatRoutedRequest{ChatID: c, AgentAccountID: "a1", QueueID: "sales"}}
			},
			want: CodeAuthenticationFailed,
		},
		{
			name: "chatId missing",
			give: func(h *harness, c string) request { return demoRoute("", "nosuch", "sales") },
			want: CodeMissingParameters,
		},
		{
			name: "agentAccountId missing",
			give: func(h *harness, c string) request { return demoRoute("nosuch", "", "sales") },
			want: CodeMissingParameters,
		},
		{
			name: "queueId missing",
			give: func(h *harness, c string) request { return demoRoute("nosuch", "a1", "") },
			want: CodeMissingParameters,
		},
		{
			name: "chat unknown",
			give: func(h *harness, c string) request { return demoRoute("nosuch", "nosuch", "nosuch") },
			want: CodeChatIDUnknown,
		},
		{
			name:  "chat abandoned by the customer",
			setup: func(h *harness, c string) { must(h.t, h.srv.Abandon("demo", c)) },
			give:  func(h *harness, c string) request { return demoRoute(c, "nosuch", "nosuch") },
			want:  CodeEndUserAbandonedEngagement,
		},
		{
			name:  "chat concluded by the customer",
			setup: func(h *harness, c string) { must(h.t, h.srv.Conclude("demo", c, EndEndUserConcluded)) },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want:  CodeEndUserAbandonedEngagement,
		},
		{
			name:  "chat concluded by the agent",
			setup: func(h *harness, c string) { must(h.t, h.srv.Conclude("demo", c, EndAgentConcluded)) },
			give:  func(h *harness, c string) request { return demoRoute(c, "nosuch", "nosuch") },
			want:  CodeChatIDUnknown,
		},
		{
			name:  "chat ended by queue timeout",
			setup: func(h *harness, c string) { h.srv.Advance(1800 * time.Second); h.token = h.authenticate("demo") },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want:  CodeChatIDUnknown,
		},
		{
			name: "queue unknown",
			give: func(h *harness, c string) request { return demoRoute(c, "nosuch", "nosuch") },
			want: CodeInvalidDestQueue,
		},
		{
			name: "queue not external",
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "internal") },
			want: CodeInvalidDestQueue,
		},
		{
			name: "agent unknown",
			give: func(h *harness, c string) request { return demoRoute(c, "nosuch", "sales") },
			want: CodeAgentIDUnknown,
		},
		{
			name:  "queue not in the agent's profile",
			setup: func(h *harness, c string) { must(h.t, h.srv.Logout("demo", "a1")) },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "other") },
			want:  CodeInvalidDestAgent,
		},
		{
			name: "agent never logged in",
			setup: func(h *harness, c string) {
				must(h.t, h.srv.CreateAgent("demo", Agent{AccountID: "a3", Queues: []string{"sales"}}))
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a3", "sales") },
			want: CodeInvalidAgentSession,
		},
		{
			name:  "agent logged out",
			setup: func(h *harness, c string) { must(h.t, h.srv.Logout("demo", "a1")) },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want:  CodeInvalidAgentSession,
		},
		{
			name: "agent absent",
			setup: func(h *harness, c string) {
				must(h.t, h.srv.SetStatus("demo", "a1", StatusOnBreak))
				must(h.t, h.srv.SetPresence("demo", "a1", PresenceAbsent))
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeAgentAbsent,
		},
		{
			name: "agent absent by missed polls",
			setup: func(h *harness, c string) {
				h.srv.Advance(120 * time.Second)
				must(h.t, h.srv.Heartbeat("demo", "a2")) // a2 stays present
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeAgentAbsent,
		},
		{
			name:  "agent disconnected",
			setup: func(h *harness, c string) { must(h.t, h.srv.SetPresence("demo", "a1", PresenceDisconnected)) },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want:  CodeAgentDisconnected,
		},
		{
			name: "agent status unavailable",
			setup: func(h *harness, c string) {
				must(h.t, h.srv.SetStatus("demo", "a1", StatusInMeeting))
				offer(h, c, "a2")
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeAgentNotActive,
		},
		{
			name: "agent in a site's own unavailable status",
			setup: func(h *harness, c string) {
				must(h.t, h.srv.AddStatus("demo", "Training", false))
				must(h.t, h.srv.SetStatus("demo", "a1", "Training"))
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeAgentNotActive,
		},
		{
			name: "chat offered to another agent",
			setup: func(h *harness, c string) {
				offer(h, c, "a2")
				other, err := h.srv.CreateChat("demo", "sales", "Bob")
				must(h.t, err)
				offer(h, other, "a1") // a1 at capacity too: reserve is checked first
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeCouldNotReserveEngagement,
		},
		{
			name: "chat active with another agent",
			setup: func(h *harness, c string) {
				offer(h, c, "a2")
				must(h.t, h.srv.Respond("demo", c, ActionAccept))
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeCouldNotReserveEngagement,
		},
		{
			name:  "chat already offered to the same agent",
			setup: func(h *harness, c string) { offer(h, c, "a1") },
			give:  func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want:  CodeCouldNotReserveEngagement,
		},
		{
			name: "agent at max sessions",
			setup: func(h *harness, c string) {
				other, err := h.srv.CreateChat("demo", "sales", "Bob")
				must(h.t, err)
				offer(h, other, "a1")
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeCouldNotAssignEngagement,
		},
		{
			name: "success",
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeSuccess,
		},
		{
			name: "success in a site's own available status",
			setup: func(h *harness, c string) {
				must(h.t, h.srv.AddStatus("demo", "Chat Only", true))
				must(h.t, h.srv.SetStatus("demo", "a1", "Chat Only"))
			},
			give: func(h *harness, c string) request { return demoRoute(c, "a1", "sales") },
			want: CodeSuccess,
		},
		{
			name: "success with the site in the body",
			give: func(h *harness, c string) request {
				r := demoRoute(c, "a1", "sales")
				r.path, r.body.Site = "/uq/v1/chatRouted", "demo"
				return r
			},
			want: CodeSuccess,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedBasic()
			if tt.setup != nil {
				tt.setup(h, chatID)
			}
			req := tt.give(h, chatID)
			token := req.token
			switch token {
			case "":
				token = h.token
			case "-":
				token = ""
			}
			var got chatRoutedResponse
			if status := h.do(http.MethodPost, req.path, token, req.body, &got); status != http.StatusOK {
				t.Fatalf("status = %d, want 200", status)
			}
			if got.ResultCode != tt.want {
				t.Errorf("chatRouted(%+v) = %s, want %s", req.body, got.ResultCode, tt.want)
			}
		})
	}
}

func demoRoute(chatID, agentID, queueID string) struct {
	path  string
	token string
	body  chatRoutedRequest
} {
	return struct {
		path  string
		token string
		body  chatRoutedRequest
	}{path: "/uq/v1/demo/chatRouted", body: chatRoutedRequest{ChatID: chatID, AgentAccountID: agentID, QueueID: queueID}}
}

// offer routes chatID to agentID and fails the test unless it is offered.
func offer(h *harness, chatID, agentID string) {
	h.t.Helper()
	if got := h.route(chatID, agentID, "sales", ""); got.ResultCode != CodeSuccess {
		h.t.Fatalf("route(%s → %s) = %s, want SUCCESS", chatID, agentID, got.ResultCode)
	}
}

func TestChatRoutedSuccessAnswer(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	seq := h.lastSeq()

	got := h.route(chatID, "a1", "sales", "tx-1")

	want := chatRoutedResponse{ResultCode: CodeSuccess, ChatID: chatID, AgentAccountID: "a1", EngagementState: StateOffered, OfferExpiresInSeconds: 60}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chatRouted answer (-want +got):\n%s", diff)
	}
	wantEng := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateOffered, AgentAccountID: "a1"}
	if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
		t.Errorf("engagement (-want +got):\n%s", diff)
	}
	wantEvents := []Event{{Type: EventEngagementOffered, ChatID: chatID, AgentAccountID: "a1"}}
	if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if s := h.session("a1"); s.ActiveSessions != 1 {
		t.Errorf("activeSessions = %d, want 1 (an offer holds a slot)", s.ActiveSessions)
	}
}

func TestChatRoutedReplay(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()

	first := h.route(chatID, "a1", "sales", "tx-1")
	if first.ResultCode != CodeSuccess {
		t.Fatalf("first route = %s, want SUCCESS", first.ResultCode)
	}
	// The world moves on; a replay still gets the first answer, even with another body.
	must(t, h.srv.Respond("demo", chatID, ActionAccept))
	for _, body := range []chatRoutedRequest{
		{ChatID: chatID, AgentAccountID: "a1", QueueID: "sales", TransactionID: "tx-1"},
		{ChatID: "other", AgentAccountID: "a2", QueueID: "internal", TransactionID: "tx-1"},
	} {
		var got chatRoutedResponse
		h.do(http.MethodPost, "/uq/v1/demo/chatRouted", h.token, body, &got)
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("replay of %+v (-first +got):\n%s", body, diff)
		}
	}
	if got := h.route(chatID, "a2", "sales", "tx-2"); got.ResultCode != CodeCouldNotReserveEngagement {
		t.Errorf("new transaction = %s, want COULD_NOT_RESERVE_ENGAGEMENT", got.ResultCode)
	}
	if got := h.srv.RouteEvaluations("tx-1"); got != 1 {
		t.Errorf("RouteEvaluations(tx-1) = %d, want 1", got)
	}
	if got := h.srv.Calls(OpChatRouted); got != 4 {
		t.Errorf("Calls(chatRouted) = %d, want 4", got)
	}

	t.Run("a failure is remembered too", func(t *testing.T) {
		other, err := h.srv.CreateChat("demo", "sales", "Bob")
		must(t, err)
		must(t, h.srv.Logout("demo", "a2"))
		if got := h.route(other, "a2", "sales", "tx-3"); got.ResultCode != CodeInvalidAgentSession {
			t.Fatalf("route = %s, want INVALID_AGENT_SESSION", got.ResultCode)
		}
		if _, err := h.srv.Login("demo", "a2"); err != nil {
			t.Fatal(err)
		}
		if got := h.route(other, "a2", "sales", "tx-3"); got.ResultCode != CodeInvalidAgentSession {
			t.Errorf("replay = %s, want the first answer INVALID_AGENT_SESSION", got.ResultCode)
		}
		if got := h.srv.RouteEvaluations("tx-3"); got != 1 {
			t.Errorf("RouteEvaluations(tx-3) = %d, want 1", got)
		}
	})

	t.Run("unauthenticated and faulted requests are not remembered", func(t *testing.T) {
		other, err := h.srv.CreateChat("demo", "sales", "Cy")
		must(t, err)
		body := chatRoutedRequest{ChatID: other, AgentAccountID: "a2", QueueID: "sales", TransactionID: "tx-4"}
		var got chatRoutedResponse
		h.do(http.MethodPost, "/uq/v1/demo/chatRouted", "bogus", body, &got)
		if got.ResultCode != CodeAuthenticationFailed {
			t.Fatalf("bad token = %s, want AUTHENTICATION_FAILED", got.ResultCode)
		}
		must(t, h.srv.InjectFault(Fault{Op: OpChatRouted, ResultCode: CodeUnknownError, Count: 1}))
		if got := h.route(other, "a2", "sales", "tx-4"); got.ResultCode != CodeUnknownError {
			t.Fatalf("faulted = %s, want UNKNOWN_ERROR", got.ResultCode)
		}
		if got := h.route(other, "a2", "sales", "tx-4"); got.ResultCode != CodeSuccess {
			t.Errorf("retry = %s, want SUCCESS", got.ResultCode)
		}
		// The unauthenticated try was evaluated (and refused); the faulted one never was.
		if got := h.srv.RouteEvaluations("tx-4"); got != 2 {
			t.Errorf("RouteEvaluations(tx-4) = %d, want 2", got)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name string
		path string
		give authenticateRequest
		want string
	}{
		{"success", "/uq/v1/demo/authenticate", authenticateRequest{UserName: "bridge", Password: "bridge", AppID: "x"}, CodeSuccess},
		{"site in body", "/uq/v1/authenticate", authenticateRequest{Site: "demo", UserName: "bridge", Password: "bridge"}, CodeSuccess},
		{"empty site", "/uq/v1//authenticate", authenticateRequest{UserName: "bridge", Password: "bridge"}, CodeMissingSiteName},
		{"unknown site", "/uq/v1/nosuch/authenticate", authenticateRequest{UserName: "bridge", Password: "bridge"}, CodeUnknownSite},
		{"missing password", "/uq/v1/demo/authenticate", authenticateRequest{UserName: "bridge"}, CodeMissingParameters},
		{"wrong password", "/uq/v1/demo/authenticate", authenticateRequest{UserName: "bridge", Password: "nope"}, CodeAuthenticationFailed},
		{"unknown user", "/uq/v1/demo/authenticate", authenticateRequest{UserName: "eve", Password: "bridge"}, CodeAuthenticationFailed},
	}
	h := newHarness(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got authenticateResponse
			h.do(http.MethodPost, tt.path, "", tt.give, &got)
			if got.ResultCode != tt.want {
				t.Errorf("authenticate(%+v) = %s, want %s", tt.give, got.ResultCode, tt.want)
			}
			if (got.SessionToken != "") != (tt.want == CodeSuccess) || (tt.want == CodeSuccess && got.ExpiresInSeconds != 3600) {
				t.Errorf("authenticate(%+v) token %q expires %d", tt.give, got.SessionToken, got.ExpiresInSeconds)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, Options{TokenTTL: 10 * time.Minute})
	h.seedBasic()
	code := func() string {
		var resp waitingResponse
		h.do(http.MethodGet, "/uq/v1/demo/queues/sales/engagements?state=WAITING", h.token, nil, &resp)
		return resp.ResultCode
	}
	if got := code(); got != CodeSuccess {
		t.Fatalf("call with a fresh token = %s, want SUCCESS", got)
	}
	h.srv.Advance(10*time.Minute - time.Second)
	if got := code(); got != CodeSuccess {
		t.Fatalf("call 1s before expiry = %s, want SUCCESS", got)
	}
	h.srv.Advance(time.Second)
	if got := code(); got != CodeAuthenticationFailed {
		t.Errorf("call with an expired token = %s, want AUTHENTICATION_FAILED", got)
	}
	h.token = h.authenticate("demo")
	if got := code(); got != CodeSuccess {
		t.Errorf("call after re-authenticate = %s, want SUCCESS", got)
	}
}

func TestMalformedRequestJSON(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		path, body string
		wantField  string
	}{
		{"/uq/v1/demo/chatRouted", `{"chatId":`, ""},
		{"/uq/v1/demo/chatRouted", `{"chatId": 1001}`, "chatId"},
		{"/uq/v1/demo/chatRouted", ``, ""},
		{"/uq/v1/demo/chatRouted", `{} {}`, ""},
		{"/uq/v1/demo/authenticate", `[1,2]`, ""},
		{"/uq/v1/demo/events/poll", `{"afterSeq": "x"}`, "afterSeq"},
		{"/uq/v1/demo/events/poll", `{"afterSeq": 0, "waitSeconds": -1}`, "waitSeconds"},
	}
	for _, tt := range tests {
		status, body := h.raw(http.MethodPost, tt.path, h.token, tt.body)
		if status != http.StatusBadRequest {
			t.Errorf("POST %s %q = %d %s, want 400", tt.path, tt.body, status, body)
			continue
		}
		var got errorBodyJSON
		if err := jsonUnmarshal(body, &got); err != nil || got.Field != tt.wantField {
			t.Errorf("POST %s %q body = %s, want field %q", tt.path, tt.body, body, tt.wantField)
		}
	}
}

// TestCodesAreInTheCatalog keeps the mock's vocabulary and the bridge's catalog in step.
func TestCodesAreInTheCatalog(t *testing.T) {
	cat := bridgeerr.Default()
	for _, code := range []string{
		CodeSuccess, CodeUnknownError, CodeRNWAPIException, CodeAuthenticationFailed,
		CodeMissingSiteName, CodeUnknownSite, CodeMissingParameters, CodeChatIDUnknown,
		CodeEndUserAbandonedEngagement, CodeInvalidDestQueue, CodeAgentIDUnknown,
		CodeInvalidDestAgent, CodeInvalidAgentSession, CodeAgentAbsent, CodeAgentDisconnected,
		CodeAgentNotActive, CodeCouldNotReserveEngagement, CodeCouldNotAssignEngagement,
	} {
		if !cat.Known(code) {
			t.Errorf("catalog Known(%q) = false, want true", code)
		}
	}
}
