package oracle_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

var _ bridge.CRM = (*oracle.Client)(nil)

// Every code the CRM can answer a pop with comes back verbatim, with a nil error.
func TestRouteChatReturnsEveryCodeVerbatim(t *testing.T) {
	offered := bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: 60 * time.Second}
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world) bridge.RouteRequest
		want  bridge.RouteResult
	}{
		{
			name:  "SUCCESS offered",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "A1", "Q1") },
			want:  offered,
		},
		{
			name:  "SUCCESS auto-accept",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "AUTO", "Q1") },
			want:  bridge.RouteResult{Code: "SUCCESS", EngagementState: "ACTIVE"},
		},
		{
			name:  "MISSING_PARAMETERS",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "A1", "") },
			want:  bridge.RouteResult{Code: "MISSING_PARAMETERS"},
		},
		{
			name:  "CHAT_ID_UNKNOWN",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop("404", "A1", "Q1") },
			want:  bridge.RouteResult{Code: "CHAT_ID_UNKNOWN"},
		},
		{
			name: "CHAT_ID_UNKNOWN for a chat concluded by the agent side",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				id := w.chat(t, "Q1")
				must(t, w.mock.Conclude(site, id, crmmock.EndQueueTimeout))
				return pop(id, "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "CHAT_ID_UNKNOWN"},
		},
		{
			name: "END_USER_ABANDONED_ENGAGEMENT",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				id := w.chat(t, "Q1")
				must(t, w.mock.Abandon(site, id))
				return pop(id, "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "END_USER_ABANDONED_ENGAGEMENT"},
		},
		{
			name:  "INVALID_DEST_QUEUE",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "A1", "Q2") },
			want:  bridge.RouteResult{Code: "INVALID_DEST_QUEUE"},
		},
		{
			name:  "AGENT_ID_UNKNOWN",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "ghost", "Q1") },
			want:  bridge.RouteResult{Code: "AGENT_ID_UNKNOWN"},
		},
		{
			name:  "INVALID_DEST_AGENT",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "A2", "Q1") },
			want:  bridge.RouteResult{Code: "INVALID_DEST_AGENT"},
		},
		{
			name:  "INVALID_AGENT_SESSION",
			setup: func(t *testing.T, w *world) bridge.RouteRequest { return pop(w.chat(t, "Q1"), "OUT", "Q1") },
			want:  bridge.RouteResult{Code: "INVALID_AGENT_SESSION"},
		},
		{
			name: "AGENT_ABSENT",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.SetPresence(site, "A1", crmmock.PresenceAbsent))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "AGENT_ABSENT"},
		},
		{
			name: "AGENT_DISCONNECTED",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.SetPresence(site, "A1", crmmock.PresenceDisconnected))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "AGENT_DISCONNECTED"},
		},
		{
			name: "AGENT_NOT_ACTIVE",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.SetStatus(site, "A1", crmmock.StatusOnBreak))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "AGENT_NOT_ACTIVE"},
		},
		{
			name: "COULD_NOT_RESERVE_ENGAGEMENT",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				id := w.chat(t, "Q1")
				wantRoute(t, w, pop(id, "BULK", "Q1"), "SUCCESS")
				return pop(id, "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "COULD_NOT_RESERVE_ENGAGEMENT"},
		},
		{
			name: "COULD_NOT_ASSIGN_ENGAGEMENT",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				wantRoute(t, w, pop(w.chat(t, "Q1"), "A1", "Q1"), "SUCCESS") // A1's only slot
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "COULD_NOT_ASSIGN_ENGAGEMENT"},
		},
		{
			name: "UNKNOWN_ERROR",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "UNKNOWN_ERROR", Count: 1}))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "UNKNOWN_ERROR"},
		},
		{
			name: "RNW_API_EXCEPTION",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "RNW_API_EXCEPTION", Count: 1}))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "RNW_API_EXCEPTION"},
		},
		{
			name: "a code the adapter has never heard of",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "BRAND_NEW_CODE", Count: 1}))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "BRAND_NEW_CODE"},
		},
		{
			name: "AUTHENTICATION_FAILED twice: re-authenticated once, then verbatim",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "AUTHENTICATION_FAILED", Count: 2}))
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "AUTHENTICATION_FAILED"},
		},
		{
			name: "AUTHENTICATION_FAILED from the login (wrong password)",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				cfg := w.cfg
				cfg.Sites = map[string]oracle.Site{site: {BaseURL: w.srv.URL, UserName: user, Password: "wrong"}}
				w.crm = w.newClient(t, cfg)
				return pop(w.chat(t, "Q1"), "A1", "Q1")
			},
			want: bridge.RouteResult{Code: "AUTHENTICATION_FAILED"},
		},
		{
			name: "UNKNOWN_SITE from the login",
			setup: func(t *testing.T, w *world) bridge.RouteRequest {
				cfg := w.cfg
				cfg.Sites = map[string]oracle.Site{"elsewhere": {BaseURL: w.srv.URL, UserName: user, Password: password}}
				w.crm = w.newClient(t, cfg)
				req := pop(w.chat(t, "Q1"), "A1", "Q1")
				req.Site = "elsewhere"
				return req
			},
			want: bridge.RouteResult{Code: "UNKNOWN_SITE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := tt.setup(t, w)
			got, err := w.crm.RouteChat(context.Background(), req)
			if err != nil {
				t.Fatalf("RouteChat(%+v) error = %v, want nil", req, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RouteChat(%+v) mismatch (-want +got):\n%s", req, diff)
			}
			if n := w.mock.RouteEvaluations(req.TransactionID); n > 1 {
				t.Errorf("RouteEvaluations(%s) = %d, want <= 1", req.TransactionID, n)
			}
		})
	}
}

// A second leg carries its routeType; a lead's request stays byte for byte what it was
// before route types existed, whether RouteType is empty or lead.
func TestRouteChatSendsRouteTypeForSecondLegsOnly(t *testing.T) {
	w := newWorld(t)
	chat := w.chat(t, "Q1")
	lead := pop(chat, "A1", "Q1")
	wantRoute(t, w, lead, "SUCCESS")
	must(t, w.mock.Respond(site, chat, crmmock.ActionAccept))
	explicitLead := pop(w.chat(t, "Q1"), "BULK", "Q1")
	explicitLead.RouteType = bridge.RouteLead
	wantRoute(t, w, explicitLead, "SUCCESS")
	conference := pop(chat, "BULK", "Q1")
	conference.RouteType = bridge.RouteConference
	got, err := w.crm.RouteChat(context.Background(), conference)
	want := bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: 60 * time.Second}
	if err != nil || !cmp.Equal(want, got) {
		t.Fatalf("RouteChat(conference) = %+v, %v, want %+v", got, err, want)
	}
	transfer := pop(chat, "BULK", "Q1")
	transfer.RouteType = bridge.RouteTransfer
	wantRoute(t, w, transfer, "COULD_NOT_RESERVE_ENGAGEMENT") // BULK is in the chat already

	body := func(r bridge.RouteRequest, routeType string) string {
		b := fmt.Sprintf(`{"chatId":%q,"agentAccountId":%q,"queueId":%q,"transactionId":%q`, r.ChatID, r.AgentAccountID, r.QueueID, r.TransactionID)
		if routeType != "" {
			b += fmt.Sprintf(`,"routeType":%q`, routeType)
		}
		return b + "}"
	}
	wantBodies := []string{body(lead, ""), body(explicitLead, ""), body(conference, "conference"), body(transfer, "transfer")}
	if diff := cmp.Diff(wantBodies, w.sentRoutes()); diff != "" {
		t.Errorf("chatRouted bodies (-want +got):\n%s", diff)
	}
}

func wantRoute(t *testing.T, w *world, req bridge.RouteRequest, code string) {
	t.Helper()
	got, err := w.crm.RouteChat(context.Background(), req)
	if err != nil || got.Code != code {
		t.Fatalf("RouteChat(%+v) = %+v, %v, want %s", req, got, err, code)
	}
}

func TestRouteChatAuthenticationFailedReauthenticatesOnce(t *testing.T) {
	w := newWorld(t)
	// The first answer refuses the session; the login is repeated once and the pop succeeds.
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "AUTHENTICATION_FAILED", Count: 1}))
	req := pop(w.chat(t, "Q1"), "A1", "Q1")
	got, err := w.crm.RouteChat(context.Background(), req)
	if err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat = %+v, %v, want SUCCESS", got, err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 2 {
		t.Errorf("Calls(authenticate) = %d, want 2", n)
	}
	if n := w.mock.Calls(crmmock.OpChatRouted); n != 2 {
		t.Errorf("Calls(chatRouted) = %d, want 2", n)
	}

	// Refused twice: one more login, no more, and the code verbatim.
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "AUTHENTICATION_FAILED", Count: 5}))
	got, err = w.crm.RouteChat(context.Background(), pop(w.chat(t, "Q1"), "BULK", "Q1"))
	if err != nil || got.Code != "AUTHENTICATION_FAILED" {
		t.Fatalf("RouteChat = %+v, %v, want AUTHENTICATION_FAILED", got, err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 3 {
		t.Errorf("Calls(authenticate) = %d, want 3", n)
	}
}

// 5xx and 429 are retried (same transactionId) and the pop succeeds.
func TestRouteChatRetriesServerErrors(t *testing.T) {
	tests := []struct {
		give  int // HTTP status
		count int
	}{
		{give: http.StatusServiceUnavailable, count: 2},
		{give: http.StatusInternalServerError, count: 2},
		{give: http.StatusBadGateway, count: 1},
		{give: http.StatusTooManyRequests, count: 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d x%d", tt.give, tt.count), func(t *testing.T) {
			w := newWorld(t)
			must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: tt.give, Count: tt.count}))
			req := pop(w.chat(t, "Q1"), "A1", "Q1")
			got, err := w.crm.RouteChat(context.Background(), req)
			if err != nil || got.Code != "SUCCESS" {
				t.Fatalf("RouteChat = %+v, %v, want SUCCESS", got, err)
			}
			if n := w.mock.Calls(crmmock.OpChatRouted); n != tt.count+1 {
				t.Errorf("Calls(chatRouted) = %d, want %d", n, tt.count+1)
			}
			if n := w.mock.RouteEvaluations(req.TransactionID); n != 1 {
				t.Errorf("RouteEvaluations = %d, want 1", n)
			}
		})
	}
}

// After chatRouted gets no answer, the adapter reads the engagement before anything else and
// replays with the same transactionId only if the pop did not land: the CRM never evaluates
// one pop twice.
func TestRouteChatResolvesUnknownOutcomes(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, w *world)
		agent      string
		want       bridge.RouteResult
		wantRoutes int // chatRouted requests the CRM received
	}{
		{
			name: "dropped connection",
			setup: func(t *testing.T, w *world) {
				inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Count: 1})
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: time.Minute},
			wantRoutes: 2,
		},
		{
			name: "hang until the attempt times out",
			setup: func(t *testing.T, w *world) {
				inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true, Count: 1})
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: time.Minute},
			wantRoutes: 2,
		},
		{
			name: "answer slower than the attempt timeout",
			setup: func(t *testing.T, w *world) {
				inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, DelayMS: 600, Count: 1})
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: time.Minute},
			wantRoutes: 2,
		},
		{
			name: "5xx, then a drop, then success",
			setup: func(t *testing.T, w *world) {
				inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: 503, Count: 1})
				inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Count: 1})
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED", OfferExpiresIn: time.Minute},
			wantRoutes: 3,
		},
		{
			name:  "evaluated but the answer was lost: offered to this agent, no replay",
			setup: func(t *testing.T, w *world) { w.loseRouteAnswers.Store(1) },
			agent: "A1",
			// The engagement read does not carry the offer's expiry.
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED"},
			wantRoutes: 1,
		},
		{
			name:       "evaluated, answer lost, auto-accept",
			setup:      func(t *testing.T, w *world) { w.loseRouteAnswers.Store(1) },
			agent:      "AUTO",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "ACTIVE"},
			wantRoutes: 1,
		},
		{
			name: "evaluated as a rejection, answer lost: the replay returns the first answer",
			setup: func(t *testing.T, w *world) {
				must(t, w.mock.SetStatus(site, "A1", crmmock.StatusOnBreak))
				w.loseRouteAnswers.Store(1)
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "AGENT_NOT_ACTIVE"},
			wantRoutes: 2,
		},
		{
			name: "answer lost and the engagement read dropped once",
			setup: func(t *testing.T, w *world) {
				w.loseRouteAnswers.Store(1)
				inject(t, w, crmmock.Fault{Op: crmmock.OpEngagement, Drop: true, Count: 1})
			},
			agent:      "A1",
			want:       bridge.RouteResult{Code: "SUCCESS", EngagementState: "OFFERED"},
			wantRoutes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := pop(w.chat(t, "Q1"), tt.agent, "Q1")
			tt.setup(t, w)
			got, err := w.crm.RouteChat(context.Background(), req)
			if err != nil {
				t.Fatalf("RouteChat error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RouteChat mismatch (-want +got):\n%s", diff)
			}
			if n := w.mock.RouteEvaluations(req.TransactionID); n != 1 {
				t.Errorf("RouteEvaluations = %d, want 1", n)
			}
			if n := w.mock.Calls(crmmock.OpChatRouted); n != tt.wantRoutes {
				t.Errorf("Calls(chatRouted) = %d, want %d", n, tt.wantRoutes)
			}
		})
	}
}

func inject(t *testing.T, w *world, f crmmock.Fault) {
	t.Helper()
	must(t, w.mock.InjectFault(f))
}

// Under random drops, hangs, 5xx and lost answers, no pop is ever evaluated twice, and a
// SUCCESS always means the chat is really with the agent.
func TestRouteChatNeverEvaluatesTwiceUnderChaos(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) {
		c.CallTimeout = 100 * time.Millisecond
		c.BreakerFailures = 1000 // this test is about idempotency, not the breaker
	})
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Percent: 25})
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true, Percent: 15})
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: 503, Percent: 25})
	inject(t, w, crmmock.Fault{Op: crmmock.OpEngagement, Drop: true, Percent: 20})
	var successes, failures int
	for i := range 30 {
		if i%4 == 0 {
			w.loseRouteAnswers.Store(1)
		}
		req := pop(w.chat(t, "Q1"), "BULK", "Q1")
		got, err := w.crm.RouteChat(context.Background(), req)
		if n := w.mock.RouteEvaluations(req.TransactionID); n > 1 {
			t.Fatalf("pop %d: RouteEvaluations = %d, want <= 1", i, n)
		}
		switch {
		case err != nil:
			if !errors.Is(err, bridge.ErrUnavailable) {
				t.Fatalf("pop %d: error = %v, want ErrUnavailable", i, err)
			}
			failures++
		case got.Code != "SUCCESS":
			t.Fatalf("pop %d: code = %s, want SUCCESS", i, got.Code)
		default:
			st := chatState(t, w, req.ChatID)
			if st.State != crmmock.StateOffered || st.AgentAccountID != "BULK" {
				t.Fatalf("pop %d: SUCCESS but the CRM has the chat %s with %q", i, st.State, st.AgentAccountID)
			}
			successes++
		}
	}
	t.Logf("%d pops landed, %d gave up; chatRouted sent %d times, engagement read %d times",
		successes, failures, w.mock.Calls(crmmock.OpChatRouted), w.mock.Calls(crmmock.OpEngagement))
	if successes == 0 {
		t.Error("no pop landed: the chaos is too strong to prove anything")
	}
}

func chatState(t *testing.T, w *world, chatID string) crmmock.ChatState {
	t.Helper()
	for _, s := range w.mock.Dump().Sites {
		for _, c := range s.Chats {
			if c.ChatID == chatID {
				return c
			}
		}
	}
	t.Fatalf("chat %s not in the mock", chatID)
	return crmmock.ChatState{}
}

// A CRM that hangs costs at most PopBudget, and the error says it was a deadline.
func TestRouteChatHangStaysWithinBudget(t *testing.T) {
	const budget = 600 * time.Millisecond
	w := newWorld(t, func(c *oracle.Config) { c.PopBudget = budget })
	// Log in first so the budget is all the pop's.
	if _, err := w.crm.Engagement(context.Background(), site, "1"); err != nil {
		t.Fatal(err)
	}
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true})
	req := pop(w.chat(t, "Q1"), "A1", "Q1")
	start := time.Now()
	_, err := w.crm.RouteChat(context.Background(), req)
	elapsed := time.Since(start)
	if !errors.Is(err, bridge.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, bridge.ErrOutcomeUnknown) {
		t.Fatalf("RouteChat error = %v, want ErrUnavailable, DeadlineExceeded and ErrOutcomeUnknown (the hung route may yet be applied)", err)
	}
	if errors.Is(err, bridge.ErrBreakerOpen) {
		t.Errorf("RouteChat error = %v, want no ErrBreakerOpen", err)
	}
	if elapsed < budget-50*time.Millisecond || elapsed > budget+400*time.Millisecond {
		t.Errorf("RouteChat took %v, want about the budget %v", elapsed, budget)
	}
	if n := w.mock.RouteEvaluations(req.TransactionID); n != 0 {
		t.Errorf("RouteEvaluations = %d, want 0", n)
	}
	// Each timed-out attempt was followed by an engagement read before the next one.
	if r, e := w.mock.Calls(crmmock.OpChatRouted), w.mock.Calls(crmmock.OpEngagement)-1; e < r-1 {
		t.Errorf("chatRouted sent %d times after only %d engagement reads", r, e)
	}
}

// A CRM that answers an error status every time did not apply the route: the failure is
// a plain one (requeue is safe), not an unknown outcome.
func TestRouteChatErrorStatusIsNotAnUnknownOutcome(t *testing.T) {
	w := newWorld(t)
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: http.StatusServiceUnavailable})
	_, err := w.crm.RouteChat(context.Background(), pop(w.chat(t, "Q1"), "A1", "Q1"))
	if !errors.Is(err, bridge.ErrUnavailable) || errors.Is(err, bridge.ErrOutcomeUnknown) {
		t.Fatalf("RouteChat error = %v, want ErrUnavailable and not ErrOutcomeUnknown", err)
	}
}

func TestRouteChatMalformedReply(t *testing.T) {
	w := newWorld(t)
	// Every answer is malformed (no Count): on a loaded machine an attempt may time out
	// first, and the lost-answer resolution's replay must not get a clean answer.
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Malformed: true})
	_, err := w.crm.RouteChat(context.Background(), pop(w.chat(t, "Q1"), "A1", "Q1"))
	if !errors.Is(err, bridge.ErrMalformedReply) || errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("RouteChat error = %v, want ErrMalformedReply only", err)
	}
}

func TestRouteChatUnconfiguredSite(t *testing.T) {
	w := newWorld(t)
	req := pop("1", "A1", "Q1")
	req.Site = "nowhere"
	_, err := w.crm.RouteChat(context.Background(), req)
	if !errors.Is(err, oracle.ErrSiteNotConfigured) || !errors.Is(err, bridge.ErrRejected) {
		t.Fatalf("RouteChat error = %v, want ErrSiteNotConfigured and ErrRejected", err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 0 {
		t.Errorf("Calls(authenticate) = %d, want 0", n)
	}
}
