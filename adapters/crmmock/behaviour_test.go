package crmmock

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPresenceStages walks an agent that stops polling through the four stages: active,
// absent (1st interval), absent (2nd interval), disconnected — with the server requeueing
// the agent's chats itself at the end.
func TestPresenceStages(t *testing.T) {
	type stage struct {
		at          time.Duration // since login
		wantSession agentSessionResponse
		wantRoute   string
	}
	stages := []stage{
		{119 * time.Second, agentSessionResponse{ResultCode: CodeSuccess, LoggedIn: true, SessionID: "S1", Presence: PresenceActive, StatusType: StatusTypeAvailable, StatusName: StatusUnrestricted, ActiveSessions: 2, MaxSessions: 3}, CodeSuccess},
		{120 * time.Second, agentSessionResponse{ResultCode: CodeSuccess, LoggedIn: true, SessionID: "S1", Presence: PresenceAbsent, MissedIntervals: 1, SecondsToDisconnect: 240, StatusType: StatusTypeAvailable, StatusName: StatusUnrestricted, ActiveSessions: 2, MaxSessions: 3}, CodeAgentAbsent},
		{240 * time.Second, agentSessionResponse{ResultCode: CodeSuccess, LoggedIn: true, SessionID: "S1", Presence: PresenceAbsent, MissedIntervals: 2, SecondsToDisconnect: 120, StatusType: StatusTypeAvailable, StatusName: StatusUnrestricted, ActiveSessions: 2, MaxSessions: 3}, CodeAgentAbsent},
		{359 * time.Second, agentSessionResponse{ResultCode: CodeSuccess, LoggedIn: true, SessionID: "S1", Presence: PresenceAbsent, MissedIntervals: 2, SecondsToDisconnect: 1, StatusType: StatusTypeAvailable, StatusName: StatusUnrestricted, ActiveSessions: 2, MaxSessions: 3}, CodeAgentAbsent},
		{360 * time.Second, agentSessionResponse{ResultCode: CodeInvalidAgentSession, SessionID: "S1", Presence: PresenceDisconnected, MaxSessions: 3}, CodeAgentDisconnected},
	}
	wantEvents := func(offered, active string) []Event {
		return []Event{
			{Type: EventAgentConnectionStateChanged, AgentAccountID: "a1", Presence: PresenceAbsent, MissedIntervals: 1, SecondsToDisconnect: 240},
			{Type: EventAgentConnectionStateChanged, AgentAccountID: "a1", Presence: PresenceAbsent, MissedIntervals: 2, SecondsToDisconnect: 120},
			{Type: EventAgentConnectionStateChanged, AgentAccountID: "a1", Presence: PresenceDisconnected, MissedIntervals: 3},
			{Type: EventEngagementRequeued, ChatID: active, AgentAccountID: "a1", Cause: CauseAgentDisconnected},
			{Type: EventEngagementRequeued, ChatID: offered, AgentAccountID: "a1", Cause: CauseAgentDisconnected},
			{Type: EventAgentLoggedOff, AgentAccountID: "a1", Cause: CauseAgentDisconnected},
		}
	}
	// setup: a1 (max 3) holds one ACTIVE and one OFFERED chat; a third chat waits.
	setup := func(t *testing.T) (h *harness, active, offered, waiting string, seq int64) {
		h = newHarness(t, Options{OfferTimeout: time.Hour})
		must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
		must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales"}, MaxSessions: 3}))
		if _, err := h.srv.Login("demo", "a1"); err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 3)
		for i := range ids {
			id, err := h.srv.CreateChat("demo", "sales", "customer")
			must(t, err)
			ids[i] = id
		}
		offer(h, ids[0], "a1")
		must(t, h.srv.Respond("demo", ids[0], ActionAccept))
		offer(h, ids[1], "a1")
		return h, ids[0], ids[1], ids[2], h.lastSeq()
	}

	t.Run("step by step", func(t *testing.T) {
		h, active, offered, waiting, seq := setup(t)
		var elapsed time.Duration
		for _, st := range stages {
			h.srv.Advance(st.at - elapsed)
			elapsed = st.at
			if diff := cmp.Diff(st.wantSession, h.session("a1")); diff != "" {
				t.Errorf("session at %v (-want +got):\n%s", st.at, diff)
			}
			if st.wantRoute == CodeSuccess {
				continue // routing would change the capacity the later stages expect
			}
			if got := h.route(waiting, "a1", "sales", ""); got.ResultCode != st.wantRoute {
				t.Errorf("chatRouted at %v = %s, want %s", st.at, got.ResultCode, st.wantRoute)
			}
		}
		if diff := cmp.Diff(wantEvents(offered, active), h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		for _, id := range []string{active, offered} {
			if got := h.engagement(id); got.State != StateWaiting || got.AgentAccountID != "" {
				t.Errorf("engagement %s after disconnect = %+v, want WAITING with no agent", id, got)
			}
		}
		// Login starts a new session; the chats can be routed again.
		if _, err := h.srv.Login("demo", "a1"); err != nil {
			t.Fatal(err)
		}
		if got := h.route(offered, "a1", "sales", ""); got.ResultCode != CodeSuccess {
			t.Errorf("chatRouted after re-login = %s, want SUCCESS", got.ResultCode)
		}
	})

	t.Run("one jump gives the same events at their own times", func(t *testing.T) {
		h, active, offered, _, seq := setup(t)
		h.srv.Advance(400 * time.Second)
		evs := h.poll(seq).Events
		wantAt := []time.Duration{120 * time.Second, 240 * time.Second, 360 * time.Second, 360 * time.Second, 360 * time.Second, 360 * time.Second}
		var gotAt []time.Duration
		for _, ev := range evs {
			gotAt = append(gotAt, ev.At.Sub(t0))
		}
		if diff := cmp.Diff(wantAt, gotAt); diff != "" {
			t.Errorf("event times since login (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantEvents(offered, active), h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})

	t.Run("a poll while absent restores active", func(t *testing.T) {
		h, _, _, _, _ := setup(t)
		h.srv.Advance(250 * time.Second)
		seq := h.lastSeq()
		must(t, h.srv.Heartbeat("demo", "a1"))
		want := []Event{{Type: EventAgentConnectionStateChanged, AgentAccountID: "a1", Presence: PresenceActive}}
		if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if got := h.session("a1"); got.Presence != PresenceActive || got.MissedIntervals != 0 {
			t.Errorf("session after heartbeat = %+v, want ACTIVE, 0 missed", got)
		}
		h.srv.Advance(119 * time.Second)
		if got := h.session("a1").Presence; got != PresenceActive {
			t.Errorf("presence 119s after heartbeat = %s, want ACTIVE", got)
		}
	})

	t.Run("heartbeat after disconnect is refused", func(t *testing.T) {
		h, _, _, _, _ := setup(t)
		h.srv.Advance(time.Hour)
		if err := h.srv.Heartbeat("demo", "a1"); !errors.Is(err, ErrConflict) {
			t.Errorf("Heartbeat after disconnect = %v, want ErrConflict", err)
		}
	})
}

func TestOfferTimeout(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")
	seq := h.lastSeq()

	h.srv.Advance(59 * time.Second)
	if got := h.engagement(chatID).State; got != StateOffered {
		t.Fatalf("state after 59s = %s, want OFFERED", got)
	}
	h.srv.Advance(time.Second)
	if got := h.engagement(chatID); got.State != StateWaiting || got.AgentAccountID != "" {
		t.Errorf("engagement after 60s = %+v, want WAITING, no agent", got)
	}
	want := []Event{{Type: EventEngagementTimeout, ChatID: chatID, AgentAccountID: "a1"}}
	if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	must(t, h.srv.Heartbeat("demo", "a2"))
	if got := h.route(chatID, "a2", "sales", ""); got.ResultCode != CodeSuccess {
		t.Errorf("route after timeout = %s, want SUCCESS", got.ResultCode)
	}
}

func TestQueueTimeout(t *testing.T) {
	h := newHarness(t, Options{QueueTimeout: 30 * time.Minute})
	chatID := h.seedBasic()
	seq := h.lastSeq()

	h.srv.Advance(30*time.Minute - time.Second)
	var waiting waitingResponse
	h.do(http.MethodGet, "/uq/v1/demo/queues/sales/engagements?state=WAITING", h.token, nil, &waiting)
	want := waitingResponse{ResultCode: CodeSuccess, Engagements: []waitingElement{{ChatID: chatID, QueueID: "sales", CustomerName: "Ada", WaitingSeconds: 1799}}}
	if diff := cmp.Diff(want, waiting); diff != "" {
		t.Errorf("waiting list (-want +got):\n%s", diff)
	}

	h.srv.Advance(time.Second)
	if got := h.engagement(chatID); got.State != StateConcluded || got.EndReason != EndQueueTimeout {
		t.Errorf("engagement = %+v, want CONCLUDED QUEUE_TIMEOUT", got)
	}
	var events []Event
	for _, ev := range h.eventsSince(seq) {
		if ev.ChatID == chatID {
			events = append(events, ev)
		}
	}
	wantEvents := []Event{{Type: EventEngagementConcluded, ChatID: chatID, EndReason: EndQueueTimeout}}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	h.do(http.MethodGet, "/uq/v1/demo/queues/sales/engagements?state=WAITING", h.token, nil, &waiting)
	if len(waiting.Engagements) != 0 {
		t.Errorf("waiting list after timeout = %+v, want empty", waiting.Engagements)
	}
}

func TestRespond(t *testing.T) {
	tests := []struct {
		name         string
		allowDecline bool
		action       string
		wantErr      []error
		wantState    string
		wantEvents   []string
	}{
		{"accept", false, ActionAccept, nil, StateActive, []string{EventEngagementAccepted}},
		{"decline allowed", true, ActionDecline, nil, StateWaiting, []string{EventEngagementDeclined}},
		{"decline not allowed", false, ActionDecline, []error{ErrDeclineNotAllowed, ErrConflict}, StateOffered, nil},
		{"ignore", false, ActionIgnore, nil, StateOffered, nil},
		{"unknown action", true, "snooze", []error{ErrInvalidInput}, StateOffered, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
			must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales"}, AllowDecline: tt.allowDecline}))
			if _, err := h.srv.Login("demo", "a1"); err != nil {
				t.Fatal(err)
			}
			chatID, err := h.srv.CreateChat("demo", "sales", "Ada")
			must(t, err)
			offer(h, chatID, "a1")
			seq := h.lastSeq()

			err = h.srv.Respond("demo", chatID, tt.action)

			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("Respond(%q) = %v, want %v", tt.action, err, want)
				}
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("Respond(%q) = %v, want nil", tt.action, err)
			}
			if got := h.engagement(chatID).State; got != tt.wantState {
				t.Errorf("state = %s, want %s", got, tt.wantState)
			}
			var gotEvents []string
			for _, ev := range h.eventsSince(seq) {
				gotEvents = append(gotEvents, ev.Type)
			}
			if diff := cmp.Diff(tt.wantEvents, gotEvents); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAutoAccept(t *testing.T) {
	h := newHarness(t, Options{})
	must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales"}, AutoAccept: true}))
	if _, err := h.srv.Login("demo", "a1"); err != nil {
		t.Fatal(err)
	}
	chatID, err := h.srv.CreateChat("demo", "sales", "Ada")
	must(t, err)
	seq := h.lastSeq()

	got := h.route(chatID, "a1", "sales", "tx")

	want := chatRoutedResponse{ResultCode: CodeSuccess, ChatID: chatID, AgentAccountID: "a1", EngagementState: StateActive}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chatRouted (-want +got):\n%s", diff)
	}
	wantEvents := []Event{
		{Type: EventEngagementOffered, ChatID: chatID, AgentAccountID: "a1"},
		{Type: EventEngagementAccepted, ChatID: chatID, AgentAccountID: "a1"},
	}
	if diff := cmp.Diff(wantEvents, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	must(t, h.srv.Heartbeat("demo", "a1"))
	h.srv.Advance(61 * time.Second)
	if got := h.engagement(chatID).State; got != StateActive {
		t.Errorf("state 61s later = %s, want ACTIVE (no offer timeout)", got)
	}
}

func TestCapacity(t *testing.T) {
	h := newHarness(t, Options{})
	must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales"}, MaxSessions: 2}))
	if _, err := h.srv.Login("demo", "a1"); err != nil {
		t.Fatal(err)
	}
	var chats []string
	for range 3 {
		id, err := h.srv.CreateChat("demo", "sales", "c")
		must(t, err)
		chats = append(chats, id)
	}
	offer(h, chats[0], "a1")
	must(t, h.srv.Respond("demo", chats[0], ActionAccept)) // ACTIVE holds a slot
	offer(h, chats[1], "a1")                               // OFFERED holds one too
	if got := h.route(chats[2], "a1", "sales", ""); got.ResultCode != CodeCouldNotAssignEngagement {
		t.Errorf("third chat = %s, want COULD_NOT_ASSIGN_ENGAGEMENT", got.ResultCode)
	}
	if s := h.session("a1"); s.ActiveSessions != 2 || s.MaxSessions != 2 {
		t.Errorf("session sessions = %d/%d, want 2/2", s.ActiveSessions, s.MaxSessions)
	}
	must(t, h.srv.Conclude("demo", chats[0], EndAgentConcluded))
	if got := h.route(chats[2], "a1", "sales", ""); got.ResultCode != CodeSuccess {
		t.Errorf("third chat after one ended = %s, want SUCCESS", got.ResultCode)
	}
}

func TestLogoutRequeues(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	offer(h, chatID, "a1")
	seq := h.lastSeq()
	must(t, h.srv.Logout("demo", "a1"))
	want := []Event{
		{Type: EventEngagementRequeued, ChatID: chatID, AgentAccountID: "a1", Cause: CauseAgentLoggedOff},
		{Type: EventAgentLoggedOff, AgentAccountID: "a1", Cause: CauseAgentLoggedOff},
	}
	if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantSession := agentSessionResponse{ResultCode: CodeInvalidAgentSession, MaxSessions: 1}
	if diff := cmp.Diff(wantSession, h.session("a1")); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
}

func TestReadCalls(t *testing.T) {
	h := newHarness(t, Options{})
	h.seedBasic()
	tests := []struct {
		path string
		want string
	}{
		{"/uq/v1/demo/engagements/nosuch", CodeChatIDUnknown},
		{"/uq/v1//engagements/1001", CodeMissingSiteName},
		{"/uq/v1/nosuch/engagements/1001", CodeUnknownSite},
		{"/uq/v1/demo/agents/nosuch/session", CodeAgentIDUnknown},
		{"/uq/v1/demo/agents/a1/session", CodeSuccess},
		{"/uq/v1/demo/queues/nosuch/engagements?state=WAITING", CodeInvalidDestQueue},
		{"/uq/v1/demo/queues/sales/engagements?state=BOGUS", CodeMissingParameters},
		{"/uq/v1/demo/queues/sales/engagements", CodeSuccess},
	}
	for _, tt := range tests {
		var got struct {
			ResultCode string `json:"resultCode"`
		}
		if status := h.do(http.MethodGet, tt.path, h.token, nil, &got); status != http.StatusOK || got.ResultCode != tt.want {
			t.Errorf("GET %s = %d %s, want 200 %s", tt.path, status, got.ResultCode, tt.want)
		}
	}
}
