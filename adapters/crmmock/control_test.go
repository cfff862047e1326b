package crmmock

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestControlClientRoundTrip drives a mock only through ControlClient and the routing API,
// as a customer with a standalone mock would.
func TestControlClientRoundTrip(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	cc := NewControlClient(h.ts.URL+"/", h.ts.Client())

	must(t, cc.CreateQueue(ctx, "demo", Queue{ID: "sales", Name: "Sales", External: true}))
	must(t, cc.AddStatus(ctx, "demo", "Chat Only", true))
	must(t, cc.CreateAgent(ctx, "demo", Agent{AccountID: "agent 1/x", Queues: []string{"sales"}, MaxSessions: 2, AllowDecline: true}))
	sessionID, err := cc.Login(ctx, "demo", "agent 1/x")
	must(t, err)
	must(t, cc.SetStatus(ctx, "demo", "agent 1/x", "Chat Only"))
	must(t, cc.Heartbeat(ctx, "demo", "agent 1/x"))
	chatID, err := cc.CreateChat(ctx, "demo", "sales", "Ada")
	must(t, err)

	if got := h.route(chatID, "agent 1/x", "sales", "tx-1"); got.ResultCode != CodeSuccess {
		t.Fatalf("chatRouted = %s, want SUCCESS", got.ResultCode)
	}
	h.route(chatID, "agent 1/x", "sales", "tx-1") // replay
	must(t, cc.Respond(ctx, "demo", chatID, ActionAccept))
	must(t, cc.Advance(ctx, 30*time.Second))

	st, err := cc.Dump(ctx)
	must(t, err)
	want := State{
		Now:    t0.Add(30 * time.Second),
		Faults: []Fault{},
		Calls:  map[string]int{OpAuthenticate: 1, OpChatRouted: 2},
		RouteEvaluations: map[string]int{
			"tx-1": 1,
		},
		RespondEvaluations: map[string]int{},
		Sites: []SiteState{
			{
				Name:    "demo",
				LastSeq: 5, // connection, status, status, offered, accepted
				Queues:  []Queue{{ID: "sales", Name: "Sales", External: true}},
				Statuses: []StatusState{
					{StatusUnrestricted, true}, {StatusInMeeting, false}, {StatusOnBreak, false}, {"Chat Only", true},
				},
				Agents: []AgentState{{
					Agent:      Agent{AccountID: "agent 1/x", Queues: []string{"sales"}, MaxSessions: 2, AllowDecline: true},
					LoggedIn:   true,
					SessionID:  sessionID,
					Presence:   PresenceActive,
					StatusType: StatusTypeAvailable, StatusName: "Chat Only",
					ActiveSessions: 1,
					LastPoll:       t0,
				}},
				Chats: []ChatState{{ChatID: chatID, QueueID: "sales", CustomerName: "Ada", State: StateActive, AgentAccountID: "agent 1/x", CreatedAt: t0}},
			},
			{Name: "other", Queues: []Queue{}, Agents: []AgentState{}, Chats: []ChatState{},
				Statuses: []StatusState{{StatusUnrestricted, true}, {StatusInMeeting, false}, {StatusOnBreak, false}}},
		},
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	if n, err := cc.Calls(ctx, OpChatRouted); err != nil || n != 2 {
		t.Errorf("Calls(chatRouted) = %d, %v, want 2", n, err)
	}
	if n, err := cc.RouteEvaluations(ctx, "tx-1"); err != nil || n != 1 {
		t.Errorf("RouteEvaluations(tx-1) = %d, %v, want 1", n, err)
	}

	must(t, cc.InjectFault(ctx, Fault{Op: OpEngagement, ResultCode: CodeUnknownError}))
	if got := h.engagement(chatID).ResultCode; got != CodeUnknownError {
		t.Errorf("engagement with fault = %s, want UNKNOWN_ERROR", got)
	}
	must(t, cc.ClearFaults(ctx))
	must(t, cc.SetPresence(ctx, "demo", "agent 1/x", PresenceAbsent))
	if got := h.session("agent 1/x").Presence; got != PresenceAbsent {
		t.Errorf("presence = %s, want ABSENT", got)
	}
	must(t, cc.Conclude(ctx, "demo", chatID, EndAgentConcluded))
	if err := cc.Abandon(ctx, "demo", chatID); !errors.Is(err, ErrConflict) {
		t.Errorf("Abandon of a concluded chat = %v, want ErrConflict", err)
	}
	must(t, cc.Logout(ctx, "demo", "agent 1/x"))
	must(t, cc.Reset(ctx))
	st, err = cc.Dump(ctx)
	must(t, err)
	if n := len(st.Sites[0].Agents) + len(st.Sites[0].Chats) + len(st.Sites[0].Queues); n != 0 {
		t.Errorf("after Reset the site holds %d things, want none", n)
	}
	if st.Sites[0].LastSeq == 0 {
		t.Errorf("after Reset lastSeq = 0, want the numbering kept")
	}
	if got := h.session("nosuch").ResultCode; got != CodeAgentIDUnknown {
		t.Errorf("token after Reset: session = %s, want AGENT_ID_UNKNOWN (token still valid)", got)
	}
}

func TestControlClientErrors(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	cc := NewControlClient(h.ts.URL, nil)
	must(t, cc.CreateQueue(ctx, "demo", Queue{ID: "sales", External: true}))
	must(t, cc.CreateAgent(ctx, "demo", Agent{AccountID: "a1", Queues: []string{"sales"}}))
	_, err := cc.Login(ctx, "demo", "a1")
	must(t, err)
	chatID, err := cc.CreateChat(ctx, "demo", "sales", "Ada")
	must(t, err)
	offer(h, chatID, "a1")

	tests := []struct {
		name      string
		call      func() error
		wantErr   []error
		wantField string
	}{
		{"unknown site", func() error { return cc.CreateQueue(ctx, "nosuch", Queue{ID: "q"}) }, []error{ErrNotFound}, "site"},
		{"duplicate queue", func() error { return cc.CreateQueue(ctx, "demo", Queue{ID: "sales"}) }, []error{ErrConflict}, "id"},
		{"agent with unknown queue", func() error {
			return cc.CreateAgent(ctx, "demo", Agent{AccountID: "a2", Queues: []string{"sales", "x"}})
		}, []error{ErrNotFound}, "queues[1]"},
		{"unknown status", func() error { return cc.SetStatus(ctx, "demo", "a1", "Lunch") }, []error{ErrNotFound}, "statusName"},
		{"bad presence", func() error { return cc.SetPresence(ctx, "demo", "a1", "AWAY") }, []error{ErrInvalidInput}, "presence"},
		{"decline not allowed", func() error { return cc.Respond(ctx, "demo", chatID, ActionDecline) }, []error{ErrConflict, ErrDeclineNotAllowed}, "action"},
		{"bad end reason", func() error { return cc.Conclude(ctx, "demo", chatID, "BORED") }, []error{ErrInvalidInput}, "reason"},
		{"empty agent id", func() error { return cc.Heartbeat(ctx, "demo", "") }, []error{ErrInvalidInput}, "accountId"},
		{"bad fault", func() error { return cc.InjectFault(ctx, Fault{Op: "nosuch", Drop: true}) }, []error{ErrInvalidInput}, "op"},
		{"advance by nothing", func() error { return cc.Advance(ctx, 0) }, []error{ErrInvalidInput}, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
			var ce *ControlError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Errorf("err = %#v, want a ControlError on field %q", err, tt.wantField)
			}
		})
	}
}

// TestControlBadInput sends raw bad input to the control plane: always a 4xx naming the
// field, never a 5xx.
func TestControlBadInput(t *testing.T) {
	h := newHarness(t, Options{})
	must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	tests := []struct {
		method, path, body string
		wantStatus         int
		wantField          string
	}{
		{"POST", "/control/v1/sites/demo/queues", `{"id": "q", "extrnal": true}`, 400, "extrnal"},
		{"POST", "/control/v1/sites/demo/queues", `{"id": 7}`, 400, "id"},
		{"POST", "/control/v1/sites/demo/queues", ``, 400, ""},
		{"POST", "/control/v1/sites/demo/queues", `{"name": "no id"}`, 400, "id"},
		{"POST", "/control/v1/sites/demo/agents", `{"accountId": "a", "maxSessions": "two"}`, 400, "maxSessions"},
		{"POST", "/control/v1/sites/demo/agents", `{"accountId": "a", "maxSessions": -1}`, 400, "maxSessions"},
		{"POST", "/control/v1/sites/nosuch/agents", `{"accountId": "a"}`, 404, "site"},
		{"POST", "/control/v1/sites//chats", `{"queueId": "sales"}`, 400, "site"},
		{"POST", "/control/v1/sites/demo/chats", `{"queueId": ""}`, 400, "queueId"},
		{"POST", "/control/v1/sites/demo/chats", `{"queueId": "nosuch"}`, 404, "queueId"},
		{"POST", "/control/v1/sites/demo/chats/nosuch/respond", `{"action": "accept"}`, 404, "chatId"},
		{"POST", "/control/v1/sites/demo/chats/nosuch/respond", `{"action": "maybe"}`, 400, "action"},
		{"POST", "/control/v1/sites/demo/statuses", `{"name": "Unrestricted", "available": true}`, 409, "name"},
		{"POST", "/control/v1/clock/advance", `{"duration": "soon"}`, 400, "duration"},
		{"POST", "/control/v1/clock/advance", `{"duration": "-5s"}`, 400, "duration"},
		{"POST", "/control/v1/faults", `{"op": "chatRouted", "httpStatus": 1000}`, 400, "httpStatus"},
		{"POST", "/control/v1/faults", `{"op": "chatRouted", "hang": "yes"}`, 400, "hang"},
		{"PUT", "/control/v1/sites/demo/agents/nosuch/presence", `{"presence": "ACTIVE"}`, 404, "accountId"},
		{"GET", "/control/v1/nosuch", ``, 404, ""},
	}
	for _, tt := range tests {
		status, body := h.raw(tt.method, tt.path, "", tt.body)
		var got errorBodyJSON
		if err := jsonUnmarshal(body, &got); err != nil {
			t.Errorf("%s %s %s: body %q is not JSON", tt.method, tt.path, tt.body, body)
			continue
		}
		if status != tt.wantStatus || got.Field != tt.wantField || got.Error == "" {
			t.Errorf("%s %s %s = %d %s, want %d with field %q", tt.method, tt.path, tt.body, status, body, tt.wantStatus, tt.wantField)
		}
	}
}

// TestConcurrentPops races many pops of one chat to many agents: exactly one wins.
func TestConcurrentPops(t *testing.T) {
	h := newHarness(t, Options{})
	must(t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	const agents = 20
	for i := range agents {
		id := "a" + strconv.Itoa(i)
		must(t, h.srv.CreateAgent("demo", Agent{AccountID: id, Queues: []string{"sales"}}))
		if _, err := h.srv.Login("demo", id); err != nil {
			t.Fatal(err)
		}
	}
	chatID, err := h.srv.CreateChat("demo", "sales", "Ada")
	must(t, err)

	codes := make([]string, agents)
	var wg sync.WaitGroup
	for i := range agents {
		wg.Go(func() {
			var resp chatRoutedResponse
			h.do(http.MethodPost, "/uq/v1/demo/chatRouted", h.token,
				chatRoutedRequest{ChatID: chatID, AgentAccountID: "a" + strconv.Itoa(i), QueueID: "sales", TransactionID: "tx-" + strconv.Itoa(i)}, &resp)
			codes[i] = resp.ResultCode
		})
	}
	wg.Add(1)
	go func() { defer wg.Done(); h.srv.Advance(time.Second); _ = h.srv.Dump() }()
	wg.Wait()

	count := map[string]int{}
	for _, c := range codes {
		count[c]++
	}
	want := map[string]int{CodeSuccess: 1, CodeCouldNotReserveEngagement: agents - 1}
	if diff := cmp.Diff(want, count, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}
