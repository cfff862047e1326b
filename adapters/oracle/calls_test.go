package oracle_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func TestAgentSession(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world)
		give  string
		want  bridge.CRMAgentSession
	}{
		{
			name: "logged in and available",
			give: "A1",
			want: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "S1", Presence: "ACTIVE",
				StatusType: "AVAILABLE", StatusName: "Unrestricted", MaxSessions: 1},
		},
		{
			name:  "absent, counting down to disconnect",
			setup: func(t *testing.T, w *world) { must(t, w.mock.SetPresence(site, "A1", crmmock.PresenceAbsent)) },
			give:  "A1",
			want: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "S1", Presence: "ABSENT",
				MissedIntervals: 1, SecondsToDisconnect: 240, StatusType: "AVAILABLE", StatusName: "Unrestricted", MaxSessions: 1},
		},
		{
			name:  "on break",
			setup: func(t *testing.T, w *world) { must(t, w.mock.SetStatus(site, "A1", crmmock.StatusOnBreak)) },
			give:  "A1",
			want: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "S1", Presence: "ACTIVE",
				StatusType: "UNAVAILABLE", StatusName: "On Break", MaxSessions: 1},
		},
		{
			name:  "holding an offered chat",
			setup: func(t *testing.T, w *world) { wantRoute(t, w, pop(w.chat(t, "Q1"), "A1", "Q1"), "SUCCESS") },
			give:  "A1",
			want: bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, SessionID: "S1", Presence: "ACTIVE",
				StatusType: "AVAILABLE", StatusName: "Unrestricted", ActiveSessions: 1, MaxSessions: 1},
		},
		{
			name: "never logged in",
			give: "OUT",
			want: bridge.CRMAgentSession{Code: "INVALID_AGENT_SESSION", MaxSessions: 1},
		},
		{
			name: "unknown account",
			give: "ghost",
			want: bridge.CRMAgentSession{Code: "AGENT_ID_UNKNOWN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.setup != nil {
				tt.setup(t, w)
			}
			got, err := w.crm.AgentSession(context.Background(), site, tt.give)
			if err != nil {
				t.Fatalf("AgentSession(%q) error = %v", tt.give, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AgentSession(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestEngagement(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world, chatID string)
		give  string // chat id; "" means the chat created for the case
		want  bridge.Engagement
	}{
		{
			name: "waiting",
			want: bridge.Engagement{Code: "SUCCESS", State: "WAITING"},
		},
		{
			name:  "offered",
			setup: func(t *testing.T, w *world, id string) { wantRoute(t, w, pop(id, "A1", "Q1"), "SUCCESS") },
			want:  bridge.Engagement{Code: "SUCCESS", State: "OFFERED", AgentAccountID: "A1"},
		},
		{
			name: "accepted",
			setup: func(t *testing.T, w *world, id string) {
				wantRoute(t, w, pop(id, "A1", "Q1"), "SUCCESS")
				must(t, w.mock.Respond(site, id, "accept"))
			},
			want: bridge.Engagement{Code: "SUCCESS", State: "ACTIVE", AgentAccountID: "A1"},
		},
		{
			name: "a conference guest offered",
			setup: func(t *testing.T, w *world, id string) {
				wantRoute(t, w, pop(id, "A1", "Q1"), "SUCCESS")
				must(t, w.mock.Respond(site, id, "accept"))
				guest := pop(id, "BULK", "Q1")
				guest.RouteType = bridge.RouteConference
				wantRoute(t, w, guest, "SUCCESS")
			},
			want: bridge.Engagement{Code: "SUCCESS", State: "ACTIVE", AgentAccountID: "A1",
				Participants: []bridge.Participant{{AgentAccountID: "BULK", RouteType: bridge.RouteConference, State: "OFFERED"}}},
		},
		{
			name: "a transfer auto-accepted: the target owns the chat",
			setup: func(t *testing.T, w *world, id string) {
				wantRoute(t, w, pop(id, "A1", "Q1"), "SUCCESS")
				must(t, w.mock.Respond(site, id, "accept"))
				transfer := pop(id, "AUTO", "Q1")
				transfer.RouteType = bridge.RouteTransfer
				wantRoute(t, w, transfer, "SUCCESS")
			},
			want: bridge.Engagement{Code: "SUCCESS", State: "ACTIVE", AgentAccountID: "AUTO"},
		},
		{
			name: "concluded with a consult guest",
			setup: func(t *testing.T, w *world, id string) {
				wantRoute(t, w, pop(id, "AUTO", "Q1"), "SUCCESS")
				guest := pop(id, "BULK", "Q1")
				guest.RouteType = bridge.RouteConsult
				wantRoute(t, w, guest, "SUCCESS")
				must(t, w.mock.RespondWith(site, id, crmmock.OfferReply{Action: crmmock.ActionAccept, AgentAccountID: "BULK"}))
				must(t, w.mock.Conclude(site, id, crmmock.EndAgentConcluded))
			},
			want: bridge.Engagement{Code: "SUCCESS", State: "CONCLUDED", EndReason: "AGENT_CONCLUDED", AgentAccountID: "AUTO",
				Participants: []bridge.Participant{{AgentAccountID: "BULK", RouteType: bridge.RouteConsult, State: "CONCLUDED"}}},
		},
		{
			name: "concluded by the customer",
			setup: func(t *testing.T, w *world, id string) {
				wantRoute(t, w, pop(id, "AUTO", "Q1"), "SUCCESS")
				must(t, w.mock.Conclude(site, id, crmmock.EndEndUserConcluded))
			},
			want: bridge.Engagement{Code: "SUCCESS", State: "CONCLUDED", EndReason: "END_USER_CONCLUDED", AgentAccountID: "AUTO"},
		},
		{
			name: "unknown chat",
			give: "404",
			want: bridge.Engagement{Code: "CHAT_ID_UNKNOWN", ChatID: "404"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			id := w.chat(t, "Q1")
			if tt.setup != nil {
				tt.setup(t, w, id)
			}
			give, want := tt.give, tt.want
			if give == "" {
				give, want.ChatID = id, id
			}
			got, err := w.crm.Engagement(context.Background(), site, give)
			if err != nil {
				t.Fatalf("Engagement(%q) error = %v", give, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Engagement(%q) mismatch (-want +got):\n%s", give, diff)
			}
		})
	}
}

func TestPollEvents(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// The seed's logins are events too: start after them.
	seed, err := w.crm.PollEvents(ctx, site, 0)
	if err != nil || len(seed) == 0 {
		t.Fatalf("PollEvents(0) = %d events, %v; want the seed's login events", len(seed), err)
	}
	after := seed[len(seed)-1].Seq

	id := w.chat(t, "Q1")
	wantRoute(t, w, pop(id, "A1", "Q1"), "SUCCESS")
	must(t, w.mock.Respond(site, id, "accept"))
	w.mock.Advance(2 * time.Minute) // the agent stops polling: ABSENT
	must(t, w.mock.SetStatus(site, "A1", crmmock.StatusInMeeting))
	must(t, w.mock.Conclude(site, id, crmmock.EndAgentConcluded))

	got, err := w.crm.PollEvents(ctx, site, after)
	if err != nil {
		t.Fatalf("PollEvents(%d) error = %v", after, err)
	}
	later := t0.Add(2 * time.Minute)
	want := []bridge.CRMEvent{
		{Type: bridge.CRMEngagementOffered, ChatID: id, AgentAccountID: "A1", At: t0},
		{Type: bridge.CRMEngagementAccepted, ChatID: id, AgentAccountID: "A1", At: t0},
	}
	// Every other agent of the seed went absent at the same moment; keep A1's and the chat's.
	var mine []bridge.CRMEvent
	for i, e := range got {
		if e.Seq <= after || (i > 0 && e.Seq <= got[i-1].Seq) {
			t.Fatalf("event %d has seq %d: want increasing seqs after %d", i, e.Seq, after)
		}
		if e.AgentAccountID == "A1" || e.ChatID == id {
			e.Seq = 0
			mine = append(mine, e)
		}
	}
	want = append(want,
		bridge.CRMEvent{Type: bridge.CRMAgentConnectionStateChanged, AgentAccountID: "A1", Presence: "ABSENT", MissedIntervals: 1, SecondsToDisconnect: 240, At: later},
		bridge.CRMEvent{Type: bridge.CRMAgentStatusChanged, AgentAccountID: "A1", StatusType: "UNAVAILABLE", StatusName: "In Meeting", At: later},
		bridge.CRMEvent{Type: bridge.CRMEngagementConcluded, ChatID: id, AgentAccountID: "A1", EndReason: "AGENT_CONCLUDED", At: later},
	)
	if diff := cmp.Diff(want, mine); diff != "" {
		t.Errorf("PollEvents(%d) mismatch (-want +got):\n%s", after, diff)
	}

	// Nothing new: the CRM's timeout marker is an empty slice and no error.
	last := got[len(got)-1].Seq
	start := time.Now()
	empty, err := w.crm.PollEvents(ctx, site, last)
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("PollEvents(%d) = %v, %v; want an empty slice and no error", last, empty, err)
	}
	if elapsed := time.Since(start); elapsed < w.cfg.PollWait/2 {
		t.Errorf("PollEvents answered in %v: want the long-poll to wait about PollWait (%v)", elapsed, w.cfg.PollWait)
	}
}

// A long-poll may last PollWait; it must not be cut by CallTimeout.
func TestPollEventsWaitsLongerThanCallTimeout(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) {
		c.CallTimeout = 100 * time.Millisecond
		c.PollWait = 600 * time.Millisecond
	})
	ctx := context.Background()
	seed, err := w.crm.PollEvents(ctx, site, 0)
	if err != nil {
		t.Fatal(err)
	}
	after := seed[len(seed)-1].Seq
	time.AfterFunc(300*time.Millisecond, func() { _, _ = w.mock.CreateChat(site, "Q1", "Dan"); _ = w.mock.Logout(site, "A2") })
	got, err := w.crm.PollEvents(ctx, site, after)
	if err != nil {
		t.Fatalf("PollEvents error = %v, want the event that came after 300ms", err)
	}
	if len(got) == 0 || got[0].Type != bridge.CRMAgentLoggedOff {
		t.Fatalf("PollEvents = %+v, want AgentLoggedOff", got)
	}
}

func TestWaitingChats(t *testing.T) {
	w := newWorld(t)
	first := w.chat(t, "Q1")
	w.mock.Advance(30 * time.Second)
	second := w.chat(t, "Q1")
	w.chat(t, "Q3")
	w.mock.Advance(10 * time.Second)

	got, err := w.crm.WaitingChats(context.Background(), site, "Q1")
	if err != nil {
		t.Fatalf("WaitingChats(Q1) error = %v", err)
	}
	want := []bridge.WaitingChat{
		{ChatID: first, QueueID: "Q1", CustomerName: "Carol", Waiting: 40 * time.Second},
		{ChatID: second, QueueID: "Q1", CustomerName: "Carol", Waiting: 10 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WaitingChats(Q1) mismatch (-want +got):\n%s", diff)
	}

	_, err = w.crm.WaitingChats(context.Background(), site, "nope")
	var ce *oracle.CodeError
	if !errors.As(err, &ce) || ce.Code != "INVALID_DEST_QUEUE" || !errors.Is(err, bridge.ErrRejected) {
		t.Errorf("WaitingChats(nope) error = %v, want CodeError INVALID_DEST_QUEUE wrapping ErrRejected", err)
	}
}

// Calls without a place for a result code report it as a *CodeError.
func TestCodeErrors(t *testing.T) {
	tests := []struct {
		give    string
		wantErr error
	}{
		{give: "AUTHENTICATION_FAILED", wantErr: bridge.ErrRejected},
		{give: "UNKNOWN_SITE", wantErr: bridge.ErrRejected},
		{give: "UNKNOWN_ERROR", wantErr: bridge.ErrUnavailable},
		{give: "RNW_API_EXCEPTION", wantErr: bridge.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			w := newWorld(t)
			inject(t, w, crmmock.Fault{Op: crmmock.OpPoll, ResultCode: tt.give, Count: 2})
			_, err := w.crm.PollEvents(context.Background(), site, 0)
			var ce *oracle.CodeError
			if !errors.As(err, &ce) || ce.Code != tt.give || !errors.Is(err, tt.wantErr) {
				t.Errorf("PollEvents with %s: error = %v, want CodeError %s wrapping %v", tt.give, err, tt.give, tt.wantErr)
			}
		})
	}
}

func TestMalformedReplies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		op   string
		call func(w *world) error
	}{
		{crmmock.OpAuthenticate, func(w *world) error { _, err := w.crm.Engagement(ctx, site, "1"); return err }},
		{crmmock.OpEngagement, func(w *world) error { _, err := w.crm.Engagement(ctx, site, "1"); return err }},
		{crmmock.OpAgentSession, func(w *world) error { _, err := w.crm.AgentSession(ctx, site, "A1"); return err }},
		{crmmock.OpPoll, func(w *world) error { _, err := w.crm.PollEvents(ctx, site, 0); return err }},
		{crmmock.OpWaiting, func(w *world) error { _, err := w.crm.WaitingChats(ctx, site, "Q1"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			w := newWorld(t)
			inject(t, w, crmmock.Fault{Op: tt.op, Malformed: true, Count: 1})
			if err := tt.call(w); !errors.Is(err, bridge.ErrMalformedReply) {
				t.Errorf("%s answering garbage: error = %v, want ErrMalformedReply", tt.op, err)
			}
		})
	}
}

// The CRM's token expires on the CRM's clock: the adapter logs in again by itself.
func TestTokenExpiryReauthenticatesTransparently(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	wantRoute(t, w, pop(w.chat(t, "Q1"), "A1", "Q1"), "SUCCESS")
	waiting := w.chat(t, "Q1")
	w.mock.Advance(tokenTTL + time.Second)

	got, err := w.crm.Engagement(ctx, site, waiting)
	if err != nil || got.Code != "SUCCESS" || got.State != "WAITING" {
		t.Fatalf("Engagement after token expiry = %+v, %v, want SUCCESS WAITING", got, err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 2 {
		t.Errorf("Calls(authenticate) = %d, want 2", n)
	}
	if n := w.mock.Calls(crmmock.OpEngagement); n != 2 {
		t.Errorf("Calls(engagement) = %d, want 2 (refused, then repeated)", n)
	}
	// The new token is kept.
	if _, err := w.crm.AgentSession(ctx, site, "A1"); err != nil {
		t.Fatal(err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 2 {
		t.Errorf("Calls(authenticate) = %d, want still 2", n)
	}
}

func TestConcurrentCallsLogInOnce(t *testing.T) {
	w := newWorld(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := w.crm.Engagement(context.Background(), site, "1"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 1 {
		t.Errorf("Calls(authenticate) = %d, want 1", n)
	}
}

func TestLoginRefused(t *testing.T) {
	w := newWorld(t)
	cfg := w.cfg
	cfg.Sites = map[string]oracle.Site{site: {BaseURL: w.srv.URL, UserName: user, Password: "wrong"}}
	crm := w.newClient(t, cfg)
	ctx := context.Background()

	if got, err := crm.AgentSession(ctx, site, "A1"); err != nil || got.Code != "AUTHENTICATION_FAILED" {
		t.Errorf("AgentSession = %+v, %v, want AUTHENTICATION_FAILED", got, err)
	}
	if got, err := crm.Engagement(ctx, site, "1"); err != nil || got.Code != "AUTHENTICATION_FAILED" {
		t.Errorf("Engagement = %+v, %v, want AUTHENTICATION_FAILED", got, err)
	}
	var ce *oracle.CodeError
	if _, err := crm.PollEvents(ctx, site, 0); !errors.As(err, &ce) || ce.Code != "AUTHENTICATION_FAILED" {
		t.Errorf("PollEvents error = %v, want CodeError AUTHENTICATION_FAILED", err)
	}
	if n := w.mock.Calls(crmmock.OpAgentSession) + w.mock.Calls(crmmock.OpEngagement) + w.mock.Calls(crmmock.OpPoll); n != 0 {
		t.Errorf("%d calls sent without a session, want 0", n)
	}
}

// Neither the password nor a session token ever reaches the log.
func TestSecretsNeverLogged(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, ResultCode: "AUTHENTICATION_FAILED", Count: 1})
	inject(t, w, crmmock.Fault{Op: crmmock.OpChatRouted, Drop: true, Count: 1})
	wantRoute(t, w, pop(w.chat(t, "Q1"), "A1", "Q1"), "SUCCESS")
	w.mock.Advance(tokenTTL + time.Second)
	if _, err := w.crm.AgentSession(ctx, site, "A1"); err != nil {
		t.Fatal(err)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, "crm session authenticated") {
		t.Fatalf("logs have no login line; the test proves nothing:\n%s", logs)
	}
	if strings.Contains(logs, password) {
		t.Errorf("the password is in the logs:\n%s", logs)
	}
	if tok := regexp.MustCompile(`[0-9a-f]{48}`).FindString(logs); tok != "" {
		t.Errorf("a session token %s is in the logs:\n%s", tok, logs)
	}
	if s := (oracle.Site{Password: password}).String(); strings.Contains(s, password) {
		t.Errorf("Site.String() = %q shows the password", s)
	}
}

func TestNew(t *testing.T) {
	good := testConfig("http://crm.example:8080")
	tests := []struct {
		name    string
		mutate  func(*oracle.Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*oracle.Config) {}},
		{name: "zero numbers take defaults", mutate: func(c *oracle.Config) { *c = oracle.Config{Sites: c.Sites} }},
		{name: "no sites", mutate: func(c *oracle.Config) { c.Sites = nil }, wantErr: "sites"},
		{name: "bad url", mutate: func(c *oracle.Config) { c.Sites = map[string]oracle.Site{"demo": {BaseURL: "crm:8080", UserName: "u"}} }, wantErr: "sites.demo.base_url"},
		{name: "no user", mutate: func(c *oracle.Config) { c.Sites = map[string]oracle.Site{"demo": {BaseURL: "http://crm"}} }, wantErr: "sites.demo.user_name"},
		{name: "backoff upside down", mutate: func(c *oracle.Config) { c.BackoffMin, c.BackoffMax = time.Second, time.Millisecond }, wantErr: "backoff_min"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			c, err := oracle.New(cfg, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() error = %v", err)
				}
				if diff := cmp.Diff(map[string]string{"crm.example:8080": "closed"}, c.BreakerStates()); diff != "" {
					t.Errorf("BreakerStates() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}
