package crmmock

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Second legs: transfer, conference and consult routes into a chat another agent has.

// routeAs routes chatID to agentID with a route type and wants nothing in particular.
func (h *harness) routeAs(chatID, agentID, routeType, txn string) chatRoutedResponse {
	h.t.Helper()
	var resp chatRoutedResponse
	body := chatRoutedRequest{ChatID: chatID, AgentAccountID: agentID, QueueID: "sales", TransactionID: txn, RouteType: routeType}
	if status := h.do(http.MethodPost, "/uq/v1/demo/chatRouted", h.token, body, &resp); status != http.StatusOK {
		h.t.Fatalf("chatRouted(%+v) status = %d, want 200", body, status)
	}
	return resp
}

// legOffer routes a second leg and fails the test unless it is offered.
func legOffer(h *harness, chatID, agentID, routeType string) {
	h.t.Helper()
	if got := h.routeAs(chatID, agentID, routeType, ""); got.ResultCode != CodeSuccess || got.EngagementState != StateOffered {
		h.t.Fatalf("route %s(%s → %s) = %+v, want SUCCESS, OFFERED", routeType, chatID, agentID, got)
	}
}

// seedActive creates queue sales (external) and agents, all logged in:
//
//	a1  sales, 2 sessions         (owner of the returned chat)
//	a2  sales, 1 session, may decline
//	a3  sales, 1 session
//	a4  sales, 1 session, auto-accept
//
// and returns a chat ACTIVE with a1.
func (h *harness) seedActive() string {
	h.t.Helper()
	s := h.srv
	must(h.t, s.CreateQueue("demo", Queue{ID: "sales", Name: "Sales", External: true}))
	for _, a := range []Agent{
		{AccountID: "a1", Queues: []string{"sales"}, MaxSessions: 2},
		{AccountID: "a2", Queues: []string{"sales"}, MaxSessions: 1, AllowDecline: true},
		{AccountID: "a3", Queues: []string{"sales"}, MaxSessions: 1},
		{AccountID: "a4", Queues: []string{"sales"}, MaxSessions: 1, AutoAccept: true},
	} {
		must(h.t, s.CreateAgent("demo", a))
		if _, err := s.Login("demo", a.AccountID); err != nil {
			h.t.Fatal(err)
		}
	}
	id, err := s.CreateChat("demo", "sales", "Ada")
	must(h.t, err)
	offer(h, id, "a1")
	must(h.t, s.Respond("demo", id, ActionAccept))
	return id
}

// sessions is each agent's activeSessions, as the session call reports it.
func (h *harness) sessions(agents ...string) map[string]int {
	h.t.Helper()
	out := make(map[string]int, len(agents))
	for _, a := range agents {
		out[a] = h.session(a).ActiveSessions
	}
	return out
}

func TestTransferAccepted(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	cc := NewControlClient(h.ts.URL, h.ts.Client())
	seq := h.lastSeq()

	got := h.routeAs(chatID, "a2", RouteTransfer, "tx-t")
	want := chatRoutedResponse{ResultCode: CodeSuccess, ChatID: chatID, AgentAccountID: "a2", EngagementState: StateOffered, OfferExpiresInSeconds: 60}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transfer answer (-want +got):\n%s", diff)
	}
	wantEng := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a1",
		Participants: []participantElement{{AgentAccountID: "a2", RouteType: RouteTransfer, State: StateOffered}}}
	if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
		t.Errorf("engagement while offered (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"a1": 1, "a2": 1}, h.sessions("a1", "a2")); diff != "" {
		t.Errorf("activeSessions while offered (-want +got):\n%s", diff)
	}

	must(t, cc.RespondWith(context.Background(), "demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))

	wantEng = engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a2"}
	if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
		t.Errorf("engagement after the accept (-want +got):\n%s", diff)
	}
	wantEvents := []Event{
		{Type: EventEngagementOffered, ChatID: chatID, AgentAccountID: "a2"},
		{Type: EventEngagementAccepted, ChatID: chatID, AgentAccountID: "a2"}, // nothing for a1
	}
	if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"a1": 0, "a2": 1}, h.sessions("a1", "a2")); diff != "" {
		t.Errorf("activeSessions after the accept: the slot moved (-want +got):\n%s", diff)
	}
	// The new owner concludes; a1 was no longer in the chat and hears nothing.
	seq = h.lastSeq()
	must(t, h.srv.Conclude("demo", chatID, EndAgentConcluded))
	wantEvents = []Event{{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndAgentConcluded}}
	if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
		t.Errorf("events of the conclusion (-want +got):\n%s", diff)
	}
}

func TestTransferAutoAccepted(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	seq := h.lastSeq()

	got := h.routeAs(chatID, "a4", RouteTransfer, "")
	if got.ResultCode != CodeSuccess || got.EngagementState != StateActive || got.OfferExpiresInSeconds != 0 {
		t.Errorf("transfer to an auto-accept agent = %+v, want SUCCESS, ACTIVE", got)
	}
	wantEvents := []Event{
		{Type: EventEngagementOffered, ChatID: chatID, AgentAccountID: "a4"},
		{Type: EventEngagementAccepted, ChatID: chatID, AgentAccountID: "a4"},
	}
	if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if eng := h.engagement(chatID); eng.AgentAccountID != "a4" || eng.State != StateActive || eng.Participants != nil {
		t.Errorf("engagement = %+v, want ACTIVE with a4, no participants", eng)
	}
}

// A transfer the target declines or lets time out leaves the chat with its owner, ACTIVE: it
// does not go back to the queue.
func TestTransferNotTaken(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		act       func(h *harness, chatID string)
		wantEvent string
	}{
		{
			name:   "declined",
			target: "a2",
			act: func(h *harness, chatID string) {
				must(h.t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionDecline, AgentAccountID: "a2"}))
			},
			wantEvent: EventEngagementDeclined,
		},
		{
			name:   "timed out",
			target: "a3",
			act: func(h *harness, chatID string) {
				h.srv.Advance(59 * time.Second)
				if p := h.engagement(chatID).Participants; len(p) != 1 || p[0].State != StateOffered {
					h.t.Fatalf("participants after 59s = %+v, want a3 still OFFERED", p)
				}
				h.srv.Advance(time.Second)
			},
			wantEvent: EventEngagementTimeout,
		},
		{
			name:   "ignored, then timed out",
			target: "a3",
			act: func(h *harness, chatID string) {
				must(h.t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionIgnore, AgentAccountID: "a3"}))
				h.srv.Advance(60 * time.Second)
			},
			wantEvent: EventEngagementTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedActive()
			legOffer(h, chatID, tt.target, RouteTransfer)
			seq := h.lastSeq()

			tt.act(h, chatID)

			want := []Event{{Type: tt.wantEvent, ChatID: chatID, AgentAccountID: tt.target}}
			if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			wantEng := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a1"}
			if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
				t.Errorf("engagement (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"a1": 1, tt.target: 0}, h.sessions("a1", tt.target)); diff != "" {
				t.Errorf("activeSessions (-want +got):\n%s", diff)
			}
			// The target is out of the chat: it can be asked again.
			legOffer(h, chatID, tt.target, RouteTransfer)
		})
	}

	t.Run("decline not allowed by the target's profile", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedActive()
		legOffer(h, chatID, "a3", RouteTransfer)
		err := h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionDecline, AgentAccountID: "a3"})
		if !errors.Is(err, ErrDeclineNotAllowed) || !errors.Is(err, ErrConflict) {
			t.Errorf("RespondWith(decline by a3) = %v, want ErrDeclineNotAllowed", err)
		}
		if p := h.engagement(chatID).Participants; len(p) != 1 || p[0].State != StateOffered {
			t.Errorf("participants = %+v, want a3 still OFFERED", p)
		}
	})
}

func TestConferenceAndConsult(t *testing.T) {
	for _, rt := range []string{RouteConference, RouteConsult} {
		t.Run(rt, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedActive()
			cc := NewControlClient(h.ts.URL, h.ts.Client())
			ctx := context.Background()
			seq := h.lastSeq()

			legOffer(h, chatID, "a2", rt)
			must(t, cc.RespondWith(ctx, "demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
			wantEng := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a1",
				Participants: []participantElement{{AgentAccountID: "a2", RouteType: rt, State: StateActive}}}
			if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
				t.Errorf("engagement with both active (-want +got):\n%s", diff)
			}

			// The guest leaves alone; the chat stays with its owner.
			must(t, cc.ConcludeWith(ctx, "demo", chatID, Conclusion{AgentAccountID: "a2"}))
			wantEvents := []Event{
				{Type: EventEngagementOffered, ChatID: chatID, AgentAccountID: "a2"},
				{Type: EventEngagementAccepted, ChatID: chatID, AgentAccountID: "a2"},
				{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndAgentConcluded},
			}
			if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
				t.Errorf("events up to the guest leaving (-want +got):\n%s", diff)
			}
			wantEng = engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateActive, AgentAccountID: "a1"}
			if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
				t.Errorf("engagement after the guest left (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"a1": 1, "a2": 0}, h.sessions("a1", "a2")); diff != "" {
				t.Errorf("activeSessions after the guest left (-want +got):\n%s", diff)
			}

			// A guest again, and one still offered: the owner concluding ends all three, one
			// event each, owner first.
			legOffer(h, chatID, "a2", rt)
			must(t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
			legOffer(h, chatID, "a3", rt)
			seq = h.lastSeq()
			must(t, cc.ConcludeWith(ctx, "demo", chatID, Conclusion{Reason: EndAgentConcluded, AgentAccountID: "a1"}))
			wantEvents = []Event{
				{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a1", EndReason: EndAgentConcluded},
				{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndAgentConcluded},
				{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a3", EndReason: EndAgentConcluded},
			}
			if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
				t.Errorf("events of the owner concluding (-want +got):\n%s", diff)
			}
			wantEng = engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateConcluded, EndReason: EndAgentConcluded, AgentAccountID: "a1",
				Participants: []participantElement{
					{AgentAccountID: "a2", RouteType: rt, State: StateConcluded},
					{AgentAccountID: "a3", RouteType: rt, State: StateConcluded},
				}}
			if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
				t.Errorf("engagement after the conclusion (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string]int{"a1": 0, "a2": 0, "a3": 0}, h.sessions("a1", "a2", "a3")); diff != "" {
				t.Errorf("activeSessions after the conclusion (-want +got):\n%s", diff)
			}
			seq = h.lastSeq()
			h.srv.Advance(time.Hour) // a3's offer timer went with the chat
			for _, ev := range h.eventsSince(seq) {
				if ev.ChatID != "" {
					t.Errorf("event for the concluded chat an hour later: %+v", ev)
				}
			}
		})
	}
}

// The customer ending the chat (abandon, customer lost) concludes every agent in it too.
func TestCustomerEndsChatWithSecondLegs(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	legOffer(h, chatID, "a2", RouteConsult)
	must(t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
	legOffer(h, chatID, "a3", RouteTransfer)
	seq := h.lastSeq()

	must(t, h.srv.Abandon("demo", chatID))

	want := []Event{
		{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a1", EndReason: EndEndedUserCancel},
		{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndEndedUserCancel},
		{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a3", EndReason: EndEndedUserCancel},
	}
	if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := h.routeAs(chatID, "a4", RouteConference, ""); got.ResultCode != CodeEndUserAbandonedEngagement {
		t.Errorf("conference into an abandoned chat = %s, want END_USER_ABANDONED_ENGAGEMENT", got.ResultCode)
	}
}

// The chat-state step for second legs, in the documented check order.
func TestSecondLegChatState(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness) (chatID string)
		agent string
		rt    string
		want  string
	}{
		{
			name: "into a waiting chat",
			setup: func(h *harness) string {
				h.seedActive()
				id, err := h.srv.CreateChat("demo", "sales", "Bob")
				must(h.t, err)
				return id
			},
			agent: "a2", rt: RouteTransfer, want: CodeCouldNotReserveEngagement,
		},
		{
			name: "into an offered chat",
			setup: func(h *harness) string {
				h.seedActive()
				id, err := h.srv.CreateChat("demo", "sales", "Bob")
				must(h.t, err)
				offer(h, id, "a1")
				return id
			},
			agent: "a2", rt: RouteConference, want: CodeCouldNotReserveEngagement,
		},
		{
			name:  "to the owner",
			setup: func(h *harness) string { return h.seedActive() },
			agent: "a1", rt: RouteTransfer, want: CodeCouldNotReserveEngagement,
		},
		{
			name: "to an agent already offered in the chat",
			setup: func(h *harness) string {
				id := h.seedActive()
				legOffer(h, id, "a2", RouteConference)
				return id
			},
			agent: "a2", rt: RouteTransfer, want: CodeCouldNotReserveEngagement,
		},
		{
			name: "to an agent already active in the chat",
			setup: func(h *harness) string {
				id := h.seedActive()
				legOffer(h, id, "a2", RouteConsult)
				must(h.t, h.srv.RespondWith("demo", id, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
				return id
			},
			agent: "a2", rt: RouteConsult, want: CodeCouldNotReserveEngagement,
		},
		{
			name: "to an agent in the chat but unavailable: status decides first",
			setup: func(h *harness) string {
				id := h.seedActive()
				legOffer(h, id, "a2", RouteConference)
				must(h.t, h.srv.SetStatus("demo", "a2", StatusOnBreak))
				return id
			},
			agent: "a2", rt: RouteConference, want: CodeAgentNotActive,
		},
		{
			name: "into a concluded chat",
			setup: func(h *harness) string {
				id := h.seedActive()
				must(h.t, h.srv.Conclude("demo", id, EndAgentConcluded))
				return id
			},
			agent: "a2", rt: RouteTransfer, want: CodeChatIDUnknown,
		},
		{
			name:  "target never logged in",
			setup: func(h *harness) string { id := h.seedActive(); must(h.t, h.srv.Logout("demo", "a2")); return id },
			agent: "a2", rt: RouteTransfer, want: CodeInvalidAgentSession,
		},
		{
			name:  "unknown target",
			setup: func(h *harness) string { return h.seedActive() },
			agent: "ghost", rt: RouteConsult, want: CodeAgentIDUnknown,
		},
		{
			name:  "a lead into an active chat",
			setup: func(h *harness) string { return h.seedActive() },
			agent: "a2", rt: RouteLead, want: CodeCouldNotReserveEngagement,
		},
		{
			name: "the owner away: the leg still joins",
			setup: func(h *harness) string {
				id := h.seedActive()
				must(h.t, h.srv.SetStatus("demo", "a1", StatusOnBreak))
				return id
			},
			agent: "a2", rt: RouteConference, want: CodeSuccess,
		},
		{
			name:  "transfer",
			setup: func(h *harness) string { return h.seedActive() },
			agent: "a2", rt: RouteTransfer, want: CodeSuccess,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := tt.setup(h)
			if got := h.routeAs(chatID, tt.agent, tt.rt, ""); got.ResultCode != tt.want {
				t.Errorf("route %s(%s → %s) = %s, want %s", tt.rt, chatID, tt.agent, got.ResultCode, tt.want)
			}
		})
	}
}

// Participations hold capacity slots like owned chats, OFFERED or ACTIVE.
func TestSecondLegCapacity(t *testing.T) {
	h := newHarness(t, Options{})
	first := h.seedActive()
	second, err := h.srv.CreateChat("demo", "sales", "Bob")
	must(t, err)
	offer(h, second, "a1") // a1: two chats, full

	other, err := h.srv.CreateChat("demo", "sales", "Cy")
	must(t, err)
	offer(h, other, "a3")
	must(t, h.srv.Respond("demo", other, ActionAccept))
	if got := h.routeAs(other, "a1", RouteConference, ""); got.ResultCode != CodeCouldNotAssignEngagement {
		t.Errorf("conference to a full owner elsewhere = %s, want COULD_NOT_ASSIGN_ENGAGEMENT", got.ResultCode)
	}

	legOffer(h, first, "a2", RouteConsult) // a2's only slot, while offered
	if s := h.session("a2"); s.ActiveSessions != 1 || s.MaxSessions != 1 {
		t.Errorf("a2 session = %d of %d, want 1 of 1", s.ActiveSessions, s.MaxSessions)
	}
	lead, err := h.srv.CreateChat("demo", "sales", "Dee")
	must(t, err)
	if got := h.route(lead, "a2", "sales", ""); got.ResultCode != CodeCouldNotAssignEngagement {
		t.Errorf("lead to a2 while its consult is offered = %s, want COULD_NOT_ASSIGN_ENGAGEMENT", got.ResultCode)
	}
	must(t, h.srv.RespondWith("demo", first, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
	if got := h.route(lead, "a2", "sales", ""); got.ResultCode != CodeCouldNotAssignEngagement {
		t.Errorf("lead to a2 while its consult is active = %s, want COULD_NOT_ASSIGN_ENGAGEMENT", got.ResultCode)
	}
	if got := h.srv.Dump().Sites[0].Agents[1]; got.AccountID != "a2" || got.ActiveSessions != 1 {
		t.Errorf("state dump agent = %s with %d sessions, want a2 with 1", got.AccountID, got.ActiveSessions)
	}
	must(t, h.srv.ConcludeWith("demo", first, Conclusion{AgentAccountID: "a2"}))
	if got := h.route(lead, "a2", "sales", ""); got.ResultCode != CodeSuccess {
		t.Errorf("lead to a2 after its consult ended = %s, want SUCCESS", got.ResultCode)
	}
}

func TestSecondLegReplay(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()

	first := h.routeAs(chatID, "a2", RouteConference, "tx-c")
	if first.ResultCode != CodeSuccess {
		t.Fatalf("conference = %s, want SUCCESS", first.ResultCode)
	}
	must(t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
	// The world moved on (a2 is in the chat now): a replay still gets the first answer, and
	// adds nothing.
	seq := h.lastSeq()
	for _, rt := range []string{RouteConference, RouteTransfer, ""} {
		if got := h.routeAs(chatID, "a2", rt, "tx-c"); !cmp.Equal(first, got) {
			t.Errorf("replay as %q = %+v, want the first answer %+v", rt, got, first)
		}
	}
	if evs := h.eventsSince(seq); len(evs) != 0 {
		t.Errorf("a replay emitted %+v", evs)
	}
	if n := h.srv.RouteEvaluations("tx-c"); n != 1 {
		t.Errorf("RouteEvaluations(tx-c) = %d, want 1", n)
	}
	if p := h.engagement(chatID).Participants; len(p) != 1 {
		t.Errorf("participants = %+v, want only a2", p)
	}
	if got := h.routeAs(chatID, "a2", RouteConference, "tx-d"); got.ResultCode != CodeCouldNotReserveEngagement {
		t.Errorf("a new transaction = %s, want COULD_NOT_RESERVE_ENGAGEMENT", got.ResultCode)
	}
}

// An agent whose session ends leaves the chats it is a participant of (PARTICIPANT_LEFT);
// the chats it owns are requeued as before, and their participants leave with them.
func TestSecondLegSessionEnds(t *testing.T) {
	t.Run("participant logs out", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedActive()
		legOffer(h, chatID, "a2", RouteConference)
		must(t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
		seq := h.lastSeq()
		must(t, h.srv.Logout("demo", "a2"))
		want := []Event{
			{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndParticipantLeft},
			{Type: EventAgentLoggedOff, AgentAccountID: "a2", Cause: CauseAgentLoggedOff},
		}
		if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if eng := h.engagement(chatID); eng.State != StateActive || eng.AgentAccountID != "a1" || eng.Participants != nil {
			t.Errorf("engagement = %+v, want ACTIVE with a1 alone", eng)
		}
	})
	t.Run("offered participant disconnected", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedActive()
		legOffer(h, chatID, "a3", RouteTransfer)
		seq := h.lastSeq()
		must(t, h.srv.SetPresence("demo", "a3", PresenceDisconnected))
		want := []Event{
			{Type: EventAgentConnectionStateChanged, AgentAccountID: "a3", Presence: PresenceDisconnected, MissedIntervals: 3},
			{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a3", EndReason: EndParticipantLeft},
			{Type: EventAgentLoggedOff, AgentAccountID: "a3", Cause: CauseAgentDisconnected},
		}
		if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if eng := h.engagement(chatID); eng.State != StateActive || eng.AgentAccountID != "a1" || eng.Participants != nil {
			t.Errorf("engagement = %+v, want ACTIVE with a1 alone", eng)
		}
	})
	t.Run("owner logs out", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedActive()
		legOffer(h, chatID, "a2", RouteConsult)
		must(t, h.srv.RespondWith("demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a2"}))
		seq := h.lastSeq()
		must(t, h.srv.Logout("demo", "a1"))
		want := []Event{
			{Type: EventEngagementRequeued, ChatID: chatID, AgentAccountID: "a1", Cause: CauseAgentLoggedOff},
			{Type: EventEngagementConcluded, ChatID: chatID, AgentAccountID: "a2", EndReason: EndParticipantLeft},
			{Type: EventAgentLoggedOff, AgentAccountID: "a1", Cause: CauseAgentLoggedOff},
		}
		if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		wantEng := engagementResponse{ResultCode: CodeSuccess, ChatID: chatID, State: StateWaiting}
		if diff := cmp.Diff(wantEng, h.engagement(chatID)); diff != "" {
			t.Errorf("engagement (-want +got):\n%s", diff)
		}
		if n := h.session("a2").ActiveSessions; n != 0 {
			t.Errorf("a2 activeSessions = %d, want 0", n)
		}
	})
}

// The control calls a second leg adds refuse what does not fit, over HTTP.
func TestSecondLegControlErrors(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	legOffer(h, chatID, "a2", RouteConference)
	legOffer(h, chatID, "a3", RouteTransfer)
	waiting, err := h.srv.CreateChat("demo", "sales", "Bob")
	must(t, err)
	ctx := context.Background()
	cc := NewControlClient(h.ts.URL, h.ts.Client())

	tests := []struct {
		name      string
		call      func() error
		wantErr   error
		wantField string
	}{
		{"respond as an unknown agent", func() error {
			return cc.RespondWith(ctx, "demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "ghost"})
		}, ErrNotFound, "agentAccountId"},
		{"respond as an agent not in the chat", func() error {
			return cc.RespondWith(ctx, "demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a4"})
		}, ErrConflict, "agentAccountId"},
		{"respond as the owner of an active chat", func() error {
			return cc.RespondWith(ctx, "demo", chatID, OfferReply{Action: ActionAccept, AgentAccountID: "a1"})
		}, ErrConflict, "chatId"},
		{"respond as an agent in a waiting chat", func() error {
			return cc.RespondWith(ctx, "demo", waiting, OfferReply{Action: ActionAccept, AgentAccountID: "a2"})
		}, ErrConflict, "agentAccountId"},
		{"an offered guest cannot leave alone", func() error {
			return cc.ConcludeWith(ctx, "demo", chatID, Conclusion{AgentAccountID: "a2"})
		}, ErrConflict, "agentAccountId"},
		{"a transfer target cannot leave alone", func() error {
			return cc.ConcludeWith(ctx, "demo", chatID, Conclusion{AgentAccountID: "a3"})
		}, ErrConflict, "agentAccountId"},
		{"a guest leaves with a bad reason", func() error {
			return cc.ConcludeWith(ctx, "demo", chatID, Conclusion{AgentAccountID: "a2", Reason: "BORED"})
		}, ErrInvalidInput, "reason"},
		{"the whole chat needs a reason", func() error {
			return cc.ConcludeWith(ctx, "demo", chatID, Conclusion{})
		}, ErrInvalidInput, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ce *ControlError
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Errorf("err = %v, want %v on field %q", err, tt.wantErr, tt.wantField)
			}
		})
	}
	// Nothing changed.
	want := []participantElement{
		{AgentAccountID: "a2", RouteType: RouteConference, State: StateOffered},
		{AgentAccountID: "a3", RouteType: RouteTransfer, State: StateOffered},
	}
	if diff := cmp.Diff(want, h.engagement(chatID).Participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	status, body := h.raw(http.MethodPost, "/control/v1/sites/demo/chats/"+chatID+"/respond", "", `{"action":"accept","agentId":"a2"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"agentId"`) {
		t.Errorf("respond with a misspelt field = %d %s, want 400 naming it", status, body)
	}
}

// The state dump shows the participants with their offer timers.
func TestSecondLegDump(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	h.srv.Advance(10 * time.Second)
	must(t, h.srv.Heartbeat("demo", "a2"))
	legOffer(h, chatID, "a2", RouteConsult)

	st, err := NewControlClient(h.ts.URL, h.ts.Client()).Dump(context.Background())
	must(t, err)
	var got []ParticipantState
	for _, c := range st.Sites[0].Chats {
		if c.ChatID == chatID {
			got = c.Participants
		}
	}
	want := []ParticipantState{{AgentAccountID: "a2", RouteType: RouteConsult, QueueID: "sales", State: StateOffered, OfferExpiresAt: t0.Add(70 * time.Second)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dumped participants (-want +got):\n%s", diff)
	}
}

// The routing API's wire: routeType in, participants out; an unknown route type is a 400.
func TestSecondLegWire(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()

	status, body := h.raw(http.MethodPost, "/uq/v1/demo/chatRouted", h.token,
		`{"chatId":"`+chatID+`","agentAccountId":"a2","queueId":"sales","transactionId":"w1","routeType":"conference"}`)
	if status != http.StatusOK || !strings.Contains(body, `"resultCode":"SUCCESS"`) {
		t.Fatalf("conference = %d %s, want SUCCESS", status, body)
	}
	_, body = h.raw(http.MethodGet, "/uq/v1/demo/engagements/"+chatID, h.token, "")
	if want := `"participants":[{"agentAccountId":"a2","routeType":"conference","state":"OFFERED"}]`; !strings.Contains(body, want) {
		t.Errorf("engagement = %s, want it to contain %s", body, want)
	}
	_, body = h.raw(http.MethodGet, "/uq/v1/demo/engagements/"+chatID, "", "")
	if strings.Contains(body, "participants") {
		t.Errorf("engagement refused by the gate = %s, want no participants", body)
	}

	for _, give := range []string{
		`{"chatId":"` + chatID + `","agentAccountId":"a3","queueId":"sales","transactionId":"w2","routeType":"Transfer"}`,
		`{"chatId":"` + chatID + `","agentAccountId":"a3","queueId":"sales","transactionId":"w2","routeType":"barge"}`,
		`{"chatId":"` + chatID + `","agentAccountId":"a3","queueId":"sales","transactionId":"w2","routeType":7}`,
	} {
		status, body := h.raw(http.MethodPost, "/uq/v1/demo/chatRouted", h.token, give)
		var got errorBodyJSON
		if err := json.Unmarshal([]byte(body), &got); err != nil || status != http.StatusBadRequest || got.Field != "routeType" || got.Error == "" {
			t.Errorf("chatRouted(%s) = %d %s, want 400 naming routeType", give, status, body)
		}
	}
	if n := h.srv.RouteEvaluations("w2"); n != 0 {
		t.Errorf("RouteEvaluations(w2) = %d, want 0: a bad request is not evaluated", n)
	}
	if got := h.routeAs(chatID, "a3", RouteLead, ""); got.ResultCode != CodeCouldNotReserveEngagement {
		t.Errorf("an explicit lead into an active chat = %s, want COULD_NOT_RESERVE_ENGAGEMENT", got.ResultCode)
	}
}

// The generic facade: route_type in, participants (snake_case) out; the same rules.
func TestGenericSecondLeg(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedActive()
	route := func(agent, routeType, key string) genericCall {
		data, _ := json.Marshal(genericRouteRequest{ChatID: chatID, AgentID: agent, QueueID: "sales", RouteType: routeType})
		return genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/routes", key: key, body: string(data)}
	}

	got := decodeAnswer[genericRouteResponse](t, h.generic(route("a2", RouteTransfer, "g1")))
	want := genericRouteResponse{Result: CodeSuccess, ChatID: chatID, AgentID: "a2", EngagementState: StateOffered, OfferExpiresInSeconds: 60}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transfer (-want +got):\n%s", diff)
	}
	if got := decodeAnswer[genericRouteResponse](t, h.generic(route("a2", RouteConference, "g2"))); got.Result != CodeCouldNotReserveEngagement {
		t.Errorf("conference to the transfer target = %s, want COULD_NOT_RESERVE_ENGAGEMENT", got.Result)
	}
	// The Idempotency-Key replays across facades and route types alike.
	if got := h.routeAs(chatID, "a2", RouteTransfer, "g1"); got.ResultCode != CodeSuccess || got.EngagementState != StateOffered {
		t.Errorf("replay of g1 on the routing API = %+v, want the first answer", got)
	}

	answer := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/chats/" + chatID})
	chat := decodeAnswer[genericChatResponse](t, answer)
	wantChat := genericChatResponse{Result: CodeSuccess, ChatID: chatID, State: StateActive, AgentID: "a1",
		Participants: []genericParticipant{{AgentID: "a2", RouteType: RouteTransfer, State: StateOffered}}}
	if diff := cmp.Diff(wantChat, chat); diff != "" {
		t.Errorf("chat (-want +got):\n%s", diff)
	}
	if w := `"participants":[{"agent_id":"a2","route_type":"transfer","state":"OFFERED"}]`; !strings.Contains(string(answer.body), w) {
		t.Errorf("chat = %s, want it to contain %s", answer.body, w)
	}

	for _, body := range []string{`{"chat_id":"1","route_type":"barge"}`, `{"chat_id":"1","route_type":false}`, `{"chat_id":"1","routeType":"transfer"}`} {
		answer := h.generic(genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/routes", key: "g3", body: body})
		var got apiErrorBody
		wantField := "route_type"
		if strings.Contains(body, "routeType") {
			wantField = "routeType" // the other facade's name: an unknown field
		}
		if err := json.Unmarshal(answer.body, &got); err != nil || answer.status != http.StatusBadRequest || got.Error != "invalid_request" || got.Field != wantField {
			t.Errorf("route %s = %d %s, want 400 naming %s", body, answer.status, answer.body, wantField)
		}
	}
}
