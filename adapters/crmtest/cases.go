package crmtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// A pop lands: offered to the agent, and every read agrees.
func testSuccess(t *testing.T, target Target) {
	w := newWorld(t, target)
	ctx := context.Background()
	chat := w.chat("Q1")
	seq := w.lastSeq()
	req := pop(chat, "A1", "Q1")

	got := w.route(req, "SUCCESS")
	want := bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered, OfferExpiresIn: time.Hour}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RouteChat mismatch (-want +got):\n%s", diff)
	}
	if n := w.mock.RouteEvaluations(req.TransactionID); n != 1 {
		t.Errorf("RouteEvaluations = %d, want 1", n)
	}

	eng, err := w.crm.Engagement(ctx, Site, chat)
	if err != nil {
		t.Fatalf("Engagement: %v", err)
	}
	wantEng := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementOffered, AgentAccountID: "A1"}
	if diff := cmp.Diff(wantEng, eng); diff != "" {
		t.Errorf("Engagement mismatch (-want +got):\n%s", diff)
	}

	sess, err := w.crm.AgentSession(ctx, Site, "A1")
	if err != nil {
		t.Fatalf("AgentSession: %v", err)
	}
	wantSess := bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "S1", Presence: "ACTIVE",
		StatusType: "AVAILABLE", StatusName: "Unrestricted", ActiveSessions: 1, MaxSessions: 1}
	if diff := cmp.Diff(wantSess, sess); diff != "" {
		t.Errorf("AgentSession mismatch (-want +got):\n%s", diff)
	}

	events, err := w.crm.PollEvents(ctx, Site, seq)
	if err != nil {
		t.Fatalf("PollEvents: %v", err)
	}
	wantEvents := []bridge.CRMEvent{{Seq: seq + 1, Type: bridge.CRMEngagementOffered, ChatID: chat, AgentAccountID: "A1", At: t0}}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("PollEvents(%d) mismatch (-want +got):\n%s", seq, diff)
	}
	w.wantBreakerClosed("after a healthy exchange")
}

// Every code the CRM can answer a pop with comes back verbatim with a nil error, and none of
// them is a breaker failure: the codes the mock evaluates are set up for real; the rest come
// from an injected resultCode.
func testCodesVerbatim(t *testing.T, target Target) {
	injected := func(code string) func(w *world) bridge.RouteRequest {
		return func(w *world) bridge.RouteRequest {
			w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: code}))
			return pop(w.chat("Q1"), "A1", "Q1")
		}
	}
	tests := []struct {
		name  string
		setup func(w *world) bridge.RouteRequest
		want  string
	}{
		{name: "MISSING_PARAMETERS", want: "MISSING_PARAMETERS",
			setup: func(w *world) bridge.RouteRequest { return pop(w.chat("Q1"), "A1", "") }},
		{name: "CHAT_ID_UNKNOWN", want: "CHAT_ID_UNKNOWN",
			setup: func(w *world) bridge.RouteRequest { return pop("404", "A1", "Q1") }},
		{name: "CHAT_ID_UNKNOWN, chat ended by the CRM", want: "CHAT_ID_UNKNOWN",
			setup: func(w *world) bridge.RouteRequest {
				id := w.chat("Q1")
				w.must(w.mock.Conclude(Site, id, crmmock.EndQueueTimeout))
				return pop(id, "A1", "Q1")
			}},
		{name: "END_USER_ABANDONED_ENGAGEMENT", want: "END_USER_ABANDONED_ENGAGEMENT",
			setup: func(w *world) bridge.RouteRequest {
				id := w.chat("Q1")
				w.must(w.mock.Abandon(Site, id))
				return pop(id, "A1", "Q1")
			}},
		{name: "END_USER_ABANDONED_ENGAGEMENT, customer lost", want: "END_USER_ABANDONED_ENGAGEMENT",
			setup: func(w *world) bridge.RouteRequest {
				id, err := w.mock.CreateChatWith(Site, crmmock.NewChat{QueueID: "Q1", CustomerPolls: true})
				w.must(err)
				w.mock.Advance(time.Hour) // no customer poll: lost (PARTICIPANT_LEFT)
				return pop(id, "A1", "Q1")
			}},
		{name: "INVALID_DEST_QUEUE", want: "INVALID_DEST_QUEUE",
			setup: func(w *world) bridge.RouteRequest { return pop(w.chat("Q1"), "A1", "Q2") }},
		{name: "AGENT_ID_UNKNOWN", want: "AGENT_ID_UNKNOWN",
			setup: func(w *world) bridge.RouteRequest { return pop(w.chat("Q1"), "ghost", "Q1") }},
		{name: "INVALID_DEST_AGENT", want: "INVALID_DEST_AGENT",
			setup: func(w *world) bridge.RouteRequest { return pop(w.chat("Q1"), "A2", "Q1") }},
		{name: "INVALID_AGENT_SESSION", want: "INVALID_AGENT_SESSION",
			setup: func(w *world) bridge.RouteRequest { return pop(w.chat("Q1"), "OUT", "Q1") }},
		{name: "AGENT_ABSENT", want: "AGENT_ABSENT",
			setup: func(w *world) bridge.RouteRequest {
				w.must(w.mock.SetPresence(Site, "A1", crmmock.PresenceAbsent))
				return pop(w.chat("Q1"), "A1", "Q1")
			}},
		{name: "AGENT_DISCONNECTED", want: "AGENT_DISCONNECTED",
			setup: func(w *world) bridge.RouteRequest {
				w.must(w.mock.SetPresence(Site, "A1", crmmock.PresenceDisconnected))
				return pop(w.chat("Q1"), "A1", "Q1")
			}},
		{name: "AGENT_NOT_ACTIVE", want: "AGENT_NOT_ACTIVE",
			setup: func(w *world) bridge.RouteRequest {
				w.must(w.mock.SetStatus(Site, "A1", crmmock.StatusOnBreak))
				return pop(w.chat("Q1"), "A1", "Q1")
			}},
		{name: "COULD_NOT_RESERVE_ENGAGEMENT", want: "COULD_NOT_RESERVE_ENGAGEMENT",
			setup: func(w *world) bridge.RouteRequest {
				id := w.chat("Q1")
				w.route(pop(id, "BULK", "Q1"), "SUCCESS") // another agent has it
				return pop(id, "A1", "Q1")
			}},
		{name: "COULD_NOT_ASSIGN_ENGAGEMENT", want: "COULD_NOT_ASSIGN_ENGAGEMENT",
			setup: func(w *world) bridge.RouteRequest {
				w.route(pop(w.chat("Q1"), "A1", "Q1"), "SUCCESS") // A1's only slot
				return pop(w.chat("Q1"), "A1", "Q1")
			}},
		{name: "UNKNOWN_ERROR", want: "UNKNOWN_ERROR", setup: injected("UNKNOWN_ERROR")},
		{name: "RNW_API_EXCEPTION", want: "RNW_API_EXCEPTION", setup: injected("RNW_API_EXCEPTION")},
		{name: "AUTHENTICATION_FAILED", want: "AUTHENTICATION_FAILED", setup: injected("AUTHENTICATION_FAILED")},
		{name: "MISSING_SITE_NAME", want: "MISSING_SITE_NAME", setup: injected("MISSING_SITE_NAME")},
		{name: "UNKNOWN_SITE", want: "UNKNOWN_SITE", setup: injected("UNKNOWN_SITE")},
		{name: "a code no catalog knows", want: "BRAND_NEW_CODE", setup: injected("BRAND_NEW_CODE")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, target)
			req := tt.setup(w)
			got, err := w.crm.RouteChat(context.Background(), req)
			if err != nil {
				t.Fatalf("RouteChat(%+v) error = %v, want nil: the CRM answered", req, err)
			}
			if got.Code != tt.want {
				t.Errorf("RouteChat(%+v) code = %q, want %q verbatim", req, got.Code, tt.want)
			}
			if n := w.mock.RouteEvaluations(req.TransactionID); n > 1 {
				t.Errorf("RouteEvaluations = %d, want at most 1", n)
			}
			w.wantBreakerClosed("after a business answer")
		})
	}
}

// The reads report the CRM's codes verbatim too.
func testReadsVerbatim(t *testing.T, target Target) {
	w := newWorld(t, target)
	ctx := context.Background()
	if got, err := w.crm.Engagement(ctx, Site, "404"); err != nil || got.Code != "CHAT_ID_UNKNOWN" {
		t.Errorf("Engagement(unknown chat) = %+v, %v, want CHAT_ID_UNKNOWN", got, err)
	}
	if got, err := w.crm.AgentSession(ctx, Site, "ghost"); err != nil || got.Code != "AGENT_ID_UNKNOWN" {
		t.Errorf("AgentSession(unknown agent) = %+v, %v, want AGENT_ID_UNKNOWN", got, err)
	}
	want := bridge.CRMAgentSession{Code: "INVALID_AGENT_SESSION", MaxSessions: 1}
	if got, err := w.crm.AgentSession(ctx, Site, "OUT"); err != nil || !cmp.Equal(want, got) {
		t.Errorf("AgentSession(never logged in) = %+v, %v, want %+v", got, err, want)
	}
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpEngagement, ResultCode: "RNW_API_EXCEPTION", Count: 1}))
	if got, err := w.crm.Engagement(ctx, Site, "404"); err != nil || got.Code != "RNW_API_EXCEPTION" {
		t.Errorf("Engagement with an injected code = %+v, %v, want RNW_API_EXCEPTION", got, err)
	}
	w.wantBreakerClosed("after business answers")
}

// 5xx answers mean the CRM did not act: retried within the call, and the pop evaluated once.
func testServerErrorsRetried(t *testing.T, target Target) {
	w := newWorld(t, target)
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: 503, Count: 2}))
	req := pop(w.chat("Q1"), "A1", "Q1")
	got := w.route(req, "SUCCESS")
	if got.EngagementState != bridge.EngagementOffered {
		t.Errorf("RouteChat state = %q, want OFFERED", got.EngagementState)
	}
	if n := w.mock.Calls(crmmock.OpChatRouted); n != 3 {
		t.Errorf("route requests = %d, want 3 (two 503s, then the answer)", n)
	}
	if n, all := w.mock.RouteEvaluations(req.TransactionID), w.evaluations(); n != 1 || all != 1 {
		t.Errorf("RouteEvaluations = %d (%d under any key), want 1", n, all)
	}
	w.wantBreakerClosed("after 2 failures and a success")
}

// A 4xx is the CRM refusing the request: ErrRejected, sent once, not a breaker failure.
func testClientErrorsRejected(t *testing.T, target Target) {
	w := newWorld(t, target)
	for _, status := range []int{400, 404, 409} {
		w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, HTTPStatus: status, Count: 1}))
		before := w.mock.Calls(crmmock.OpChatRouted)
		got, err := w.crm.RouteChat(context.Background(), pop(w.chat("Q1"), "A1", "Q1"))
		if !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) || got.Code != "" {
			t.Errorf("RouteChat with HTTP %d = %+v, %v, want ErrRejected only", status, got, err)
		}
		if n := w.mock.Calls(crmmock.OpChatRouted) - before; n != 1 {
			t.Errorf("HTTP %d: route sent %d times, want 1", status, n)
		}
	}
	for range w.timings.BreakerFailures {
		w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpEngagement, HTTPStatus: 404, Count: 1}))
		_, _ = w.crm.Engagement(context.Background(), Site, "1")
	}
	w.wantBreakerClosed("after 4xx answers")
	w.route(pop(w.chat("Q1"), "A1", "Q1"), "SUCCESS")
}

// A CRM that never answers the pop costs at most the pop budget, ends in ErrUnavailable,
// and never gets the pop evaluated twice.
func testHangEndsInBudget(t *testing.T, target Target) {
	w := newWorld(t, target)
	w.warmUp()
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, Hang: true}))
	req := pop(w.chat("Q1"), "A1", "Q1")

	done := make(chan error, 1)
	go func() {
		_, err := w.crm.RouteChat(context.Background(), req) // no deadline of the caller's
		done <- err
	}()
	// A generous bound: the adapter's own budget must end the call, not this test.
	var err error
	select {
	case err = <-done:
	case <-time.After(w.timings.PopBudget + 5*time.Second):
		t.Fatalf("RouteChat against a hanging CRM did not return within %v", w.timings.PopBudget+5*time.Second)
	}
	if !errors.Is(err, bridge.ErrUnavailable) || errors.Is(err, context.Canceled) {
		t.Errorf("RouteChat against a hanging CRM = %v, want ErrUnavailable", err)
	}
	if n := w.evaluations(); n > 1 {
		t.Errorf("route evaluations = %d, want at most 1", n)
	}
	if st := w.chatState(req.ChatID); st.State != crmmock.StateWaiting {
		t.Errorf("chat is %s with %q, want still WAITING", st.State, st.AgentAccountID)
	}
}

// The CRM routes the chat but its answer is lost: the adapter finds out what happened, and
// the pop is evaluated exactly once.
func testLostAnswerResolved(t *testing.T, target Target) {
	tests := []struct {
		name  string
		setup func(w *world)
		want  bridge.RouteResult
	}{
		{
			name: "routed",
			want: bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered},
		},
		{
			name:  "refused",
			setup: func(w *world) { w.must(w.mock.SetStatus(Site, "A1", crmmock.StatusOnBreak)) },
			want:  bridge.RouteResult{Code: "AGENT_NOT_ACTIVE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, target)
			if tt.setup != nil {
				tt.setup(w)
			}
			w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, LoseAnswer: true, Count: 1}))
			req := pop(w.chat("Q1"), "A1", "Q1")
			got, err := w.crm.RouteChat(context.Background(), req)
			if err != nil {
				t.Fatalf("RouteChat after a lost answer = %v, want the real outcome", err)
			}
			// The offer's expiry is known only from a replayed answer, not from a read.
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(bridge.RouteResult{}, "OfferExpiresIn")); diff != "" {
				t.Errorf("RouteChat mismatch (-want +got):\n%s", diff)
			}
			if n, all := w.mock.RouteEvaluations(req.TransactionID), w.evaluations(); n != 1 || all != 1 {
				t.Errorf("RouteEvaluations = %d (%d under any key), want exactly 1", n, all)
			}
			st := w.chatState(req.ChatID)
			if offered := st.State == crmmock.StateOffered && st.AgentAccountID == "A1"; offered != (tt.want.Code == "SUCCESS") {
				t.Errorf("chat is %s with %q after %s", st.State, st.AgentAccountID, tt.want.Code)
			}
		})
	}
}

// A failing CRM opens the breaker; then calls fail at once without reaching it, and after
// BreakerOpenFor a healthy CRM closes it again.
func testOpenBreaker(t *testing.T, target Target) {
	w := newWorld(t, target)
	ctx := context.Background()
	w.warmUp()
	w.must(w.mock.InjectFault(crmmock.Fault{Op: "*", HTTPStatus: 503}))
	for i := 0; w.breaker() != "open"; i++ {
		if i == 50 {
			t.Fatalf("the breaker never opened: %v", w.crm.(BreakerReporter).BreakerStates())
		}
		if _, err := w.crm.Engagement(ctx, Site, "1"); !errors.Is(err, bridge.ErrUnavailable) {
			t.Fatalf("Engagement against a failing CRM = %v, want ErrUnavailable", err)
		}
	}

	before := w.calls()
	chat := w.chat("Q1")
	got, err := w.crm.RouteChat(ctx, pop(chat, "A1", "Q1"))
	if !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) || got.Code != "" {
		t.Errorf("RouteChat with the breaker open = %+v, %v, want ErrBreakerOpen and ErrUnavailable", got, err)
	}
	for name, call := range map[string]func() error{
		"Engagement":   func() error { _, err := w.crm.Engagement(ctx, Site, chat); return err },
		"AgentSession": func() error { _, err := w.crm.AgentSession(ctx, Site, "A1"); return err },
		"PollEvents":   func() error { _, err := w.crm.PollEvents(ctx, Site, 0); return err },
		"RespondOffer": func() error { _, err := w.crm.RespondOffer(ctx, offerResponse(chat, "A1", true)); return err },
	} {
		if err := call(); !errors.Is(err, bridge.ErrBreakerOpen) || !errors.Is(err, bridge.ErrUnavailable) {
			t.Errorf("%s with the breaker open = %v, want ErrBreakerOpen and ErrUnavailable", name, err)
		}
	}
	if n := w.calls() - before; n != 0 {
		t.Errorf("the CRM received %d requests while the breaker was open, want none", n)
	}

	w.mock.ClearFaults()
	time.Sleep(w.timings.BreakerOpenFor + 50*time.Millisecond)
	w.route(pop(chat, "A1", "Q1"), "SUCCESS")
	w.wantBreakerClosed("after a good probe")
}

// The caller giving up is not the CRM failing: ctx.Err() comes back, more often than it
// takes to open the breaker, and the breaker stays closed.
func testCancellation(t *testing.T, target Target) {
	w := newWorld(t, target)
	w.warmUp()
	w.must(w.mock.InjectFault(crmmock.Fault{Op: "*", Hang: true}))
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"RouteChat", func(ctx context.Context) error {
			_, err := w.crm.RouteChat(ctx, pop("1", "A1", "Q1"))
			return err
		}},
		{"Engagement", func(ctx context.Context) error { _, err := w.crm.Engagement(ctx, Site, "1"); return err }},
		{"AgentSession", func(ctx context.Context) error { _, err := w.crm.AgentSession(ctx, Site, "A1"); return err }},
		{"PollEvents", func(ctx context.Context) error { _, err := w.crm.PollEvents(ctx, Site, w.lastSeq()); return err }},
		{"RespondOffer", func(ctx context.Context) error {
			_, err := w.crm.RespondOffer(ctx, offerResponse("1", "A1", true))
			return err
		}},
	}
	for round := range int(w.timings.BreakerFailures) + 2 {
		for _, c := range calls {
			ctx, cancel := context.WithCancel(context.Background())
			stop := time.AfterFunc(20*time.Millisecond, cancel)
			err := c.call(ctx)
			stop.Stop()
			cancel()
			if !errors.Is(err, context.Canceled) || errors.Is(err, bridge.ErrUnavailable) {
				t.Fatalf("round %d: %s cancelled by the caller = %v, want context.Canceled and not ErrUnavailable", round, c.name, err)
			}
			w.wantBreakerClosed(c.name + " cancelled by the caller")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.crm.RouteChat(ctx, pop(w.chat("Q1"), "A1", "Q1")); !errors.Is(err, context.Canceled) {
		t.Errorf("RouteChat cancelled before the call = %v, want context.Canceled", err)
	}

	w.mock.ClearFaults()
	w.route(pop(w.chat("Q1"), "A1", "Q1"), "SUCCESS")
	w.wantBreakerClosed("afterwards")
}

// A 200 that cannot be read is ErrMalformedReply, not a code, for every call.
func testMalformedReply(t *testing.T, target Target) {
	ctx := context.Background()
	tests := []struct {
		op   string
		call func(w *world) (string, error) // the code, if any, and the error
	}{
		{crmmock.OpChatRouted, func(w *world) (string, error) {
			r, err := w.crm.RouteChat(ctx, pop(w.chat("Q1"), "A1", "Q1"))
			return r.Code, err
		}},
		{crmmock.OpEngagement, func(w *world) (string, error) {
			r, err := w.crm.Engagement(ctx, Site, "1")
			return r.Code, err
		}},
		{crmmock.OpAgentSession, func(w *world) (string, error) {
			r, err := w.crm.AgentSession(ctx, Site, "A1")
			return r.Code, err
		}},
		{crmmock.OpPoll, func(w *world) (string, error) {
			_, err := w.crm.PollEvents(ctx, Site, 0)
			return "", err
		}},
		{crmmock.OpRespond, func(w *world) (string, error) {
			return w.crm.RespondOffer(ctx, offerResponse("1", "A1", true))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			w := newWorld(t, target)
			w.warmUp()
			w.must(w.mock.InjectFault(crmmock.Fault{Op: tt.op, Malformed: true, Count: 1}))
			code, err := tt.call(w)
			if !errors.Is(err, bridge.ErrMalformedReply) || errors.Is(err, bridge.ErrUnavailable) || code != "" {
				t.Errorf("%s with a malformed reply = %q, %v, want ErrMalformedReply and no code", tt.op, code, err)
			}
		})
	}
}

// An empty long-poll is the CRM's timeout marker: an empty slice and a nil error.
func testPollTimeoutMarker(t *testing.T, target Target) {
	w := newWorld(t, target)
	events, err := w.crm.PollEvents(context.Background(), Site, w.lastSeq())
	if err != nil || events == nil || len(events) != 0 {
		t.Errorf("PollEvents with nothing new = %v (nil: %v), %v, want an empty slice and nil", events, events == nil, err)
	}
}

// A site the adapter has no endpoint for is refused before the wire.
func testUnconfiguredSite(t *testing.T, target Target) {
	w := newWorld(t, target)
	req := pop("1", "A1", "Q1")
	req.Site = "nowhere"
	if _, err := w.crm.RouteChat(context.Background(), req); !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) {
		t.Errorf("RouteChat for an unconfigured site = %v, want ErrRejected", err)
	}
	answer := offerResponse("1", "A1", true)
	answer.Site = "nowhere"
	if code, err := w.crm.RespondOffer(context.Background(), answer); !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) || code != "" {
		t.Errorf("RespondOffer for an unconfigured site = %q, %v, want ErrRejected", code, err)
	}
	if n := w.calls(); n != 0 {
		t.Errorf("the CRM received %d requests, want none", n)
	}
}

// testWaitingChats: intake sees exactly the chats still waiting in a queue, oldest first;
// a chat offered to an agent is no longer waiting. Adapters that cannot list waiting chats
// (no bridge.ChatLister) skip it, and intake stays off with them.
func testWaitingChats(t *testing.T, target Target) {
	w := newWorld(t, target)
	lister, ok := w.crm.(bridge.ChatLister)
	if !ok {
		t.Skipf("%T does not list waiting chats (bridge.ChatLister): intake is not available with it", w.crm)
	}
	ctx := context.Background()
	first, second, offered := w.chat("Q1"), w.chat("Q1"), w.chat("Q1")
	w.chat("Q3") // another queue
	w.route(pop(offered, "A1", "Q1"), "SUCCESS")
	got, err := lister.WaitingChats(ctx, Site, "Q1")
	if err != nil {
		t.Fatalf("WaitingChats = %v", err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ChatID)
		if c.QueueID != "Q1" || c.CustomerName != "Carol" || c.Waiting < 0 {
			t.Errorf("waiting chat = %+v", c)
		}
	}
	if want := []string{first, second}; !cmp.Equal(ids, want) {
		t.Errorf("waiting chats = %v, want %v (the offered one and the other queue's left out)", ids, want)
	}
	if _, err := lister.WaitingChats(ctx, "elsewhere", "Q1"); !errors.Is(err, bridge.ErrRejected) {
		t.Errorf("WaitingChats for an unconfigured site = %v, want ErrRejected", err)
	}
}

// testSecondLeg: a conference leg joins a chat another agent has (the CRM checks the chat
// is ACTIVE, not WAITING), Engagement shows the guest beside the owner, and a second leg to
// an agent already in the chat is refused with the CRM's code. A lead request into the
// active chat is refused too: the route type reached the CRM.
func testSecondLeg(t *testing.T, target Target) {
	w := newWorld(t, target)
	ctx := context.Background()
	chat := w.chat("Q1")
	w.route(pop(chat, "A1", "Q1"), "SUCCESS")
	w.must(w.mock.Respond(Site, chat, crmmock.ActionAccept))
	seq := w.lastSeq()

	conference := pop(chat, "BULK", "Q1")
	conference.RouteType = bridge.RouteConference
	got := w.route(conference, "SUCCESS")
	if got.EngagementState != bridge.EngagementOffered {
		t.Errorf("RouteChat(conference) state = %q, want OFFERED", got.EngagementState)
	}
	if n := w.mock.RouteEvaluations(conference.TransactionID); n != 1 {
		t.Errorf("RouteEvaluations = %d, want 1", n)
	}
	eng, err := w.crm.Engagement(ctx, Site, chat)
	if err != nil {
		t.Fatalf("Engagement: %v", err)
	}
	want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementActive, AgentAccountID: "A1",
		Participants: []bridge.Participant{{AgentAccountID: "BULK", RouteType: bridge.RouteConference, State: bridge.EngagementOffered}}}
	if diff := cmp.Diff(want, eng); diff != "" {
		t.Errorf("Engagement mismatch (-want +got):\n%s", diff)
	}
	if p, ok := eng.Participant("BULK"); !ok || p.State != bridge.EngagementOffered {
		t.Errorf("Engagement.Participant(BULK) = %+v, %v, want OFFERED", p, ok)
	}
	events, err := w.crm.PollEvents(ctx, Site, seq)
	wantEvents := []bridge.CRMEvent{{Seq: seq + 1, Type: bridge.CRMEngagementOffered, ChatID: chat, AgentAccountID: "BULK", At: t0}}
	if err != nil || !cmp.Equal(wantEvents, events) {
		t.Errorf("PollEvents(%d) = %+v, %v, want %+v", seq, events, err, wantEvents)
	}

	for _, agent := range []string{"BULK", "A1"} { // the guest, the owner
		transfer := pop(chat, agent, "Q1")
		transfer.RouteType = bridge.RouteTransfer
		w.route(transfer, "COULD_NOT_RESERVE_ENGAGEMENT")
	}
	lead := pop(chat, "BULK", "Q1")
	w.route(lead, "COULD_NOT_RESERVE_ENGAGEMENT")

	// A second leg whose answer is lost is settled like a pop: evaluated once.
	if _, err := w.mock.Login(Site, "OUT"); err != nil {
		t.Fatalf("Login(OUT): %v", err)
	}
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, LoseAnswer: true, Count: 1}))
	consult := pop(chat, "OUT", "Q1")
	consult.RouteType = bridge.RouteConsult
	if got, err := w.crm.RouteChat(ctx, consult); err != nil || got.Code != "SUCCESS" {
		t.Errorf("RouteChat(consult) after a lost answer = %+v, %v, want SUCCESS", got, err)
	}
	if n := w.mock.RouteEvaluations(consult.TransactionID); n != 1 {
		t.Errorf("RouteEvaluations(consult) = %d, want exactly 1", n)
	}
	if p, ok := w.chatParticipant(chat, "OUT"); !ok || p.RouteType != crmmock.RouteConsult || p.State != crmmock.StateOffered {
		t.Errorf("OUT in the chat = %+v, %v, want an OFFERED consult", p, ok)
	}
	w.wantBreakerClosed("after second legs")
}
