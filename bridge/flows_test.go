package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// routeLeg records routing rid of interaction iid to agent and pops it synchronously.
func (f *fixture) routeLeg(t *testing.T, iid, rid, agent string, rt bridge.RouteType, from string) *bridge.Interaction {
	t.Helper()
	ctx := context.Background()
	r := routedCmd(iid, agent)
	r.EventID, r.RoutingID, r.RouteType, r.FromRoutingID = "evt-"+iid+"-"+rid, rid, rt, from
	out, err := f.svc.Routed(ctx, r)
	if err != nil {
		t.Fatalf("Routed(%s/%s) = %v", iid, rid, err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatalf("Pop(%s) = %v", out.Key, err)
	}
	return f.leg(t, out.Key)
}

// crmEvent applies a CRM chat event about agent's CRM account.
func (f *fixture) crmEvent(t *testing.T, typ, chat, agent string) {
	t.Helper()
	if err := f.svc.HandleCRMEvent(context.Background(), "demo", bridge.CRMEvent{Type: typ, ChatID: chat, AgentAccountID: "acct-" + agent}); err != nil {
		t.Fatalf("HandleCRMEvent(%s %s %s) = %v", typ, chat, agent, err)
	}
}

func descriptorOf(in *bridge.Interaction) string {
	if in.Descriptor == nil {
		return "<none>"
	}
	return in.Descriptor.String()
}

// A chat that keeps bouncing goes to the queue's escalation queue: at once when the same agent
// turns it down a second time, and in any case when the requeue budget is spent.
func TestRequeueEscalation(t *testing.T) {
	t.Run("same agent declines again", func(t *testing.T) {
		f := newFixture(t, nil)
		for _, a := range []string{"a1", "a2"} {
			f.login(t, a)
		}
		for i, a := range []string{"a1", "a2", "a1"} {
			rid := "r" + string(rune('1'+i))
			f.routeLeg(t, "i1", rid, a, bridge.RouteLead, "")
			f.crmEvent(t, bridge.CRMEngagementDeclined, "chat-i1", a)
		}
		var targets []string
		for _, c := range f.drainOutbox(t, 6) { // 3 requeues, each with a not-ready
			if c.Kind == bridge.ACDRequeue {
				targets = append(targets, c.RoutingID+"→"+c.TargetQueueID)
			}
		}
		if want := "r1→ r2→ r3→support"; strings.Join(targets, " ") != want {
			t.Errorf("requeues = %q, want %q", strings.Join(targets, " "), want)
		}
		tl, err := f.svc.Timeline(context.Background(), "i1")
		if err != nil {
			t.Fatal(err)
		}
		escalations := 0
		for _, e := range tl {
			if e.Code == string(bridgeerr.RequeueEscalated) {
				escalations++
			}
		}
		if escalations != 1 {
			t.Errorf("timeline has %d escalation decisions, want 1", escalations)
		}
	})
	t.Run("budget spent", func(t *testing.T) {
		f := newFixture(t, nil)
		f.crm.RouteChatFn = answer(string(bridgeerr.CouldNotAssignEngagement)) // requeue, agent stays green
		agents := []string{"a1", "a2", "a3", "a4", "a5"}
		for i, a := range agents {
			f.login(t, a)
			f.routeLeg(t, "i1", "r"+string(rune('1'+i)), a, bridge.RouteLead, "")
		}
		var targets []string
		for _, c := range f.drainOutbox(t, 5) {
			targets = append(targets, c.TargetQueueID)
		}
		if want := ",,,,support"; strings.Join(targets, ",") != want {
			t.Errorf("requeue targets = %q, want %q (the 5th requeue reaches the budget of 5)", strings.Join(targets, ","), want)
		}
	})
}

// A transfer: the agent asks, the ACD routes a transfer leg; when its agent accepts, the
// first agent is out of the chat and wraps up. Each leg ends with the SPEC's descriptor.
func TestTransferAcceptedMovesTheFirstAgentToWrapUp(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	f.login(t, "a2")
	first := f.routeLeg(t, "i1", "r1", "a1", bridge.RouteLead, "")
	f.crmEvent(t, bridge.CRMEngagementAccepted, "chat-i1", "a1")
	if _, err := f.svc.Transfer(ctx, "a1", "i1", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a2"}); err != nil {
		t.Fatalf("Transfer() = %v", err)
	}
	second := f.routeLeg(t, "i1", "r2", "a2", bridge.RouteTransfer, "r1")
	if got := f.crm.Routes(); len(got) != 2 || got[1].RouteType != bridge.RouteTransfer || got[1].AgentAccountID != "acct-a2" {
		t.Fatalf("CRM route requests = %+v, want the second one a transfer to acct-a2", got)
	}
	f.crmEvent(t, bridge.CRMEngagementAccepted, "chat-i1", "a2")
	if got := f.leg(t, second.Key()); got.State != bridge.StateActive {
		t.Fatalf("transfer leg = %s, want active", got.State)
	}
	got := f.leg(t, first.Key())
	if got.State != bridge.StateWrapUp || got.Code != string(bridgeerr.Transferred) {
		t.Fatalf("first leg = %s %s, want wrapup %s", got.State, got.Code, bridgeerr.Transferred)
	}
	if _, err := f.svc.Complete(ctx, "a1", "i1", "Resolved"); err != nil {
		t.Fatal(err)
	}
	f.crmEvent(t, bridge.CRMEngagementConcluded, "chat-i1", "a2")
	if _, err := f.svc.Complete(ctx, "a2", "i1", "Resolved"); err != nil {
		t.Fatal(err)
	}
	if d := descriptorOf(f.leg(t, first.Key())); d != "RoutedTo / Transferred" {
		t.Errorf("first leg descriptor = %s", d)
	}
	if d := descriptorOf(f.leg(t, second.Key())); d != "ReceivedTransfer / Completed" {
		t.Errorf("transfer leg descriptor = %s", d)
	}
	calls := f.drainOutbox(t, 5) // accept r1, route, accept r2, complete r1, complete r2, and nothing else
	route := callOf(calls, bridge.ACDRoute)
	if route.RouteType != bridge.RouteTransfer || route.TargetAgentID != "a2" || route.RoutingID != "r1" {
		t.Errorf("route call = %+v", route)
	}
}

// A conference or consult target that does not take the chat ends only its own leg, as
// Abandoned [Revoked]; the first agent keeps the chat, and nothing escalates.
func TestSecondLegThatIsNotTakenLeavesTheFirstAgentInTheChat(t *testing.T) {
	for _, rt := range []bridge.RouteType{bridge.RouteConference, bridge.RouteConsult, bridge.RouteTransfer} {
		t.Run(string(rt), func(t *testing.T) {
			f := newFixture(t, nil)
			f.login(t, "a1")
			f.login(t, "a2")
			first := f.routeLeg(t, "i1", "r1", "a1", bridge.RouteLead, "")
			f.crmEvent(t, bridge.CRMEngagementAccepted, "chat-i1", "a1")
			second := f.routeLeg(t, "i1", "r2", "a2", rt, "r1")
			f.crmEvent(t, bridge.CRMEngagementDeclined, "chat-i1", "a2")
			if got := f.leg(t, first.Key()); got.State != bridge.StateActive {
				t.Errorf("first leg = %s, want still active", got.State)
			}
			got := f.leg(t, second.Key())
			if want := rt.Role() + " / Abandoned [Revoked]"; got.State != bridge.StateRequeued || descriptorOf(got) != want {
				t.Errorf("second leg = %s %s, want requeued %s", got.State, descriptorOf(got), want)
			}
			requeue := callOf(f.drainOutbox(t, 3), bridge.ACDRequeue) // accept r1, requeue r2, not-ready a2
			if requeue.RoutingID != "r2" || requeue.TargetQueueID != "" {
				t.Errorf("requeue = %+v, want r2 ended at the ACD, no escalation", requeue)
			}
		})
	}
}

// An abandon about a leg the bridge never saw is recorded as a leg of its own, once, and a
// late interaction.routed for it is a duplicate, never a pop.
func TestAbandonBeforeTheBridgeSawTheLeg(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	for range 2 {
		if _, err := f.svc.Abandon(ctx, "i9", "", "", "queued"); err != nil {
			t.Fatalf("Abandon(queued) = %v", err)
		}
	}
	legs, err := f.store.InteractionLegs(ctx, "i9")
	if err != nil || len(legs) != 1 || descriptorOf(legs[0]) != "Received / CustomerAbandoned [AbandonedWhileQueued]" || legs[0].State != bridge.StateCompleted {
		t.Fatalf("legs of i9 = %+v (%v), want one completed Received / CustomerAbandoned [AbandonedWhileQueued]", legs, err)
	}

	if _, err := f.svc.Abandon(ctx, "i8", "r1", "a1", "routing"); err != nil {
		t.Fatalf("Abandon(routing) = %v", err)
	}
	r := routedCmd("i8", "a1")
	out, err := f.svc.Routed(ctx, r)
	if err != nil || !out.Duplicate {
		t.Fatalf("late Routed() = %+v, %v; want a duplicate", out, err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if n := len(f.crm.Routes()); n != 0 {
		t.Errorf("CRM saw %d route requests, want 0", n)
	}
	if d := descriptorOf(f.leg(t, out.Key)); d != "Puller / CustomerAbandoned" {
		t.Errorf("descriptor = %s", d)
	}
	if legs, _ := f.svc.Interactions(ctx, "a1"); len(legs) != 0 {
		t.Errorf("agent a1 has %d open legs, want 0: the agent never had the chat", len(legs))
	}
}

func TestTransferRequestIsCheckedBeforeAnythingChanges(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	f.routeLeg(t, "i1", "r1", "a1", bridge.RouteLead, "") // offered, not active yet
	tests := []struct {
		name  string
		agent string
		req   bridge.TransferRequest
		field string
		want  error
	}{
		{"lead is no transfer", "a1", bridge.TransferRequest{RouteType: bridge.RouteLead, TargetAgentID: "a2"}, "type", nil},
		{"no target", "a1", bridge.TransferRequest{RouteType: bridge.RouteTransfer}, "targetAgentId", nil},
		{"two targets", "a1", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a2", TargetQueueID: "q"}, "targetAgentId", nil},
		{"to oneself", "a1", bridge.TransferRequest{RouteType: bridge.RouteConference, TargetAgentID: "a1"}, "targetAgentId", nil},
		{"consult a queue", "a1", bridge.TransferRequest{RouteType: bridge.RouteConsult, TargetQueueID: "support"}, "targetQueueId", nil},
		{"control characters", "a1", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a2\r\nx"}, "targetAgentId", nil},
		{"not active", "a1", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a2"}, "", bridge.ErrNotTransferable},
		{"another agent's chat", "a2", bridge.TransferRequest{RouteType: bridge.RouteTransfer, TargetAgentID: "a3"}, "", bridge.ErrForbidden},
	}
	for _, tt := range tests {
		_, err := f.svc.Transfer(ctx, tt.agent, "i1", tt.req)
		var re *bridge.RequestError
		switch {
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: Transfer() = %v, want %v", tt.name, err, tt.want)
		case tt.want == nil && (!errors.As(err, &re) || re.Field != tt.field):
			t.Errorf("%s: Transfer() = %v, want a RequestError on %s", tt.name, err, tt.field)
		}
	}
	f.drainOutbox(t, 0) // nothing reached the ACD
}

// The media bar's Accept and Decline answer in the CRM; the CRM's answer decides.
func TestAcceptAndDeclineFromTheMediaBar(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	first := f.routeLeg(t, "i1", "r1", "a1", bridge.RouteLead, "")
	in, err := f.svc.Accept(ctx, "a1", "i1")
	if err != nil || in.State != bridge.StateActive {
		t.Fatalf("Accept() = %+v, %v; want active", in, err)
	}
	if got := f.crm.OfferResponses(); len(got) != 1 || !got[0].Accept || got[0].AgentAccountID != "acct-a1" || got[0].TransactionID != "accept:i1/r1" {
		t.Errorf("CRM offer responses = %+v", got)
	}
	if _, err := f.svc.Accept(ctx, "a1", "i1"); !errors.Is(err, bridge.ErrNotOffered) {
		t.Errorf("second Accept() = %v, want ErrNotOffered", err)
	}
	if _, err := f.svc.Decline(ctx, "a1", "i1"); !errors.Is(err, bridge.ErrNotOffered) {
		t.Errorf("Decline() of an active chat = %v, want ErrNotOffered", err)
	}
	if callOf(f.drainOutbox(t, 1), bridge.ACDAccept).RoutingID != first.RoutingID {
		t.Errorf("the ACD was not told of the accept")
	}

	f.routeLeg(t, "i2", "r1", "a1", bridge.RouteLead, "")
	if _, err := f.svc.Decline(ctx, "a1", "i2"); !errors.Is(err, bridge.ErrDeclineNotAllowed) {
		t.Errorf("Decline() where the site does not allow it = %v", err)
	}
	f.crm.RespondOfferFn = func(context.Context, bridge.OfferResponse) (string, error) { return "NO_PENDING_OFFER", nil }
	if _, err := f.svc.Accept(ctx, "a1", "i2"); !errors.Is(err, bridge.ErrNotOffered) {
		t.Errorf("Accept() the CRM has no offer for = %v, want ErrNotOffered", err)
	}
	f.crm.RespondOfferFn = func(context.Context, bridge.OfferResponse) (string, error) {
		return "", fmt.Errorf("%w: connection refused", bridge.ErrUnavailable)
	}
	if _, err := f.svc.Accept(ctx, "a1", "i2"); !errors.Is(err, bridge.ErrCRMUnavailable) {
		t.Errorf("Accept() with the CRM down = %v, want ErrCRMUnavailable", err)
	}
	f.crm.RespondOfferFn = func(context.Context, bridge.OfferResponse) (string, error) { return "AGENT_ID_UNKNOWN", nil }
	var refused *bridge.CRMRefusedError
	if _, err := f.svc.Accept(ctx, "a1", "i2"); !errors.As(err, &refused) || refused.Code != "AGENT_ID_UNKNOWN" {
		t.Errorf("Accept() refused by the CRM = %v, want the verbatim code", err)
	}
	if got := f.leg(t, bridge.LegKey{InteractionID: "i2", RoutingID: "r1"}); got.State != bridge.StateOffered {
		t.Errorf("after refused answers the leg is %s, want still offered", got.State)
	}
}

// ACD agent-state webhooks can arrive out of order: a report older than the one recorded is
// ignored, a newer one applies, and the time shown is the ACD's.
func TestACDAgentStateKeepsTheNewestReport(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		ready  bool
		reason string
		at     time.Time
		want   string // the reason shown after the step; "" = ready
	}{
		{false, "lunch", t0.Add(2 * time.Second), "not ready (lunch)"},
		{true, "", t0.Add(time.Second), "not ready (lunch)"}, // older: delivered late
		{true, "", t0.Add(3 * time.Second), ""},
	}
	for i, st := range steps {
		if err := f.svc.ACDAgentState(ctx, "a1", st.ready, st.reason, st.at); err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Diagnose(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, r := range d.Reasons {
			if strings.Contains(r, "not ready") {
				got = r
			}
		}
		if (st.want == "") != (got == "") || !strings.Contains(got, st.want) {
			t.Fatalf("step %d: ACD reason %q (ACD %+v), want %q", i, got, d.ACD, st.want)
		}
	}
	if d, _ := f.svc.Diagnose(ctx, "a1"); d.ACD == nil || !d.ACD.At.Equal(t0.Add(3*time.Second)) {
		t.Errorf("ACD state %+v, want ready as of the ACD's last timestamp", d.ACD)
	}
}

// Diagnostics name every obstacle between the agent and a new chat, from each side.
func TestDiagnoseNamesEveryObstacle(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	d, err := f.svc.Diagnose(ctx, "a1")
	if err != nil || len(d.Reasons) != 0 || d.CRM == nil || d.ACD != nil {
		t.Fatalf("healthy agent: %+v, %v; want no reasons, the CRM's view, no ACD report yet", d, err)
	}
	if err := f.svc.ACDAgentState(ctx, "a1", false, "break", time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.crm.AgentSessionFn = func(context.Context, string, string) (bridge.CRMAgentSession, error) {
		return bridge.CRMAgentSession{Code: "SUCCESS", LoggedIn: true, Presence: "ABSENT", SecondsToDisconnect: 90,
			StatusType: "UNAVAILABLE", StatusName: "On Break", ActiveSessions: 2, MaxSessions: 2}, nil
	}
	d, err = f.svc.Diagnose(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"not ready (break)", "ABSENT (90 s to disconnect)", `"On Break"`, "(2 of 2)"}
	if len(d.Reasons) != len(want) {
		t.Fatalf("reasons = %q, want %d", d.Reasons, len(want))
	}
	for i, w := range want {
		if !strings.Contains(d.Reasons[i], w) {
			t.Errorf("reason %d = %q, want it to contain %q", i, d.Reasons[i], w)
		}
	}
	f.crm.AgentSessionFn = func(context.Context, string, string) (bridge.CRMAgentSession, error) {
		return bridge.CRMAgentSession{}, fmt.Errorf("%w: timeout", bridge.ErrUnavailable)
	}
	if d, err = f.svc.Diagnose(ctx, "a1"); err != nil || d.CRMError == "" || d.CRM != nil {
		t.Errorf("CRM down: %+v, %v; want diagnostics with the CRM error", d, err)
	}
	if err := f.svc.ACDAgentState(ctx, "nobody", true, "", time.Time{}); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("ACD state for an agent not logged in = %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Diagnose(ctx, "nobody"); !errors.Is(err, bridge.ErrNotLoggedIn) {
		t.Errorf("Diagnose(not logged in) = %v", err)
	}
}

// A route whose answer was lost may have been applied: the pop is neither failed nor
// requeued until the CRM answers the same transaction id, whatever fails meanwhile.
func TestPopWithAnUnknownOutcomeWaitsForTheCRMsAnswer(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	answers := []error{
		fmt.Errorf("%w: %w: read timeout", bridge.ErrUnavailable, bridge.ErrOutcomeUnknown),
		fmt.Errorf("%w: %w", bridge.ErrUnavailable, bridge.ErrBreakerOpen), // says nothing about the first try
		nil,
	}
	f.crm.RouteChatFn = func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		err := answers[0]
		answers = answers[1:]
		if err != nil {
			return bridge.RouteResult{}, err
		}
		return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
	}
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := f.svc.Pop(ctx, out.Key); err == nil {
			t.Fatalf("pop %d with no answer returned nil; the work item must come back", i+1)
		}
		if got := f.leg(t, out.Key); got.State != bridge.StatePopping || !got.PopUncertain || got.Requeued {
			t.Fatalf("after pop %d: %s uncertain=%v requeued=%v, want popping, uncertain, not requeued", i+1, got.State, got.PopUncertain, got.Requeued)
		}
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	got := f.leg(t, out.Key)
	if got.State != bridge.StateOffered || got.PopUncertain {
		t.Errorf("after the CRM answered: %s uncertain=%v, want offered", got.State, got.PopUncertain)
	}
	routes := f.crm.Routes()
	for _, r := range routes {
		if r.TransactionID != routes[0].TransactionID {
			t.Errorf("transaction ids %q and %q: the replay must reuse the first", routes[0].TransactionID, r.TransactionID)
		}
	}
	f.drainOutbox(t, 0) // no requeue, no not-ready
}

// With no escalation queue, a requeue past the budget is held in the outbox (1 s, then 2 s,
// ...) instead of handing the chat straight back: the chaos run saw a chat nobody could take
// (the CRM breaker open) loop between the ACD and the bridge 50 times a second.
func TestBouncingWithoutEscalationQueueIsHeld(t *testing.T) {
	f := newFixture(t, nil)
	f.crm.RouteChatFn = answer(string(bridgeerr.CouldNotAssignEngagement)) // requeue
	ctx := context.Background()
	for i := range 6 {
		a, rid := "a"+string(rune('1'+i)), "r"+string(rune('1'+i))
		f.login(t, a)
		r := routedCmd("i1", a)
		r.EventID, r.RoutingID, r.QueueID = "evt-"+rid, rid, "support" // support has no escalation queue
		out, err := f.svc.Routed(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Pop(ctx, out.Key); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.svc.RunOutbox(runCtx, "test-outbox"); close(done) }()
	defer func() { stop(); <-done }()
	start := time.Now()
	arrived := map[string]time.Duration{} // routing id -> when its requeue reached the ACD
	for len(arrived) < 6 && time.Since(start) < 10*time.Second {
		for _, c := range f.acd.Calls() {
			if _, seen := arrived[c.RoutingID]; !seen && c.Kind == bridge.ACDRequeue {
				arrived[c.RoutingID] = time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(arrived) != 6 {
		t.Fatalf("requeues reached the ACD for %v, want all 6", arrived)
	}
	for _, rid := range []string{"r1", "r2", "r3", "r4"} {
		if arrived[rid] > 500*time.Millisecond {
			t.Errorf("requeue %s within the budget took %v, want at once", rid, arrived[rid])
		}
	}
	// Held from when the pop decided (just before start): at least ~1 s and ~2 s.
	if arrived["r5"] < 800*time.Millisecond || arrived["r6"] < 1800*time.Millisecond {
		t.Errorf("requeues past the budget arrived after %v (r5) and %v (r6), want held about 1 s and 2 s", arrived["r5"], arrived["r6"])
	}
	for _, c := range f.acd.Calls() {
		if c.Kind == bridge.ACDRequeue && c.TargetQueueID != "" {
			t.Errorf("requeue %s went to %q, want its own queue (there is no escalation queue)", c.RoutingID, c.TargetQueueID)
		}
	}
}

// The 3-replica chaos run's case: a replica dies in the middle of its pop's CRM call (the
// route may have reached the CRM); another replica takes the pop over while the CRM breaker
// is open. The takeover must not read "breaker open" as "not routed" and requeue: the dead
// owner's route may land (it did, and the chat was offered while the ACD had it back). The
// leg stays popping and uncertain until the CRM answers the same transaction id.
func TestPopTakeoverWithTheBreakerOpenStaysUncertain(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.login(t, "a1")
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	// The first owner: its CRM call is in flight when its process dies (its context ends).
	ownerCtx, die := context.WithCancel(ctx)
	f.crm.RouteChatFn = func(ctx context.Context, _ bridge.RouteRequest) (bridge.RouteResult, error) {
		die()
		<-ctx.Done()
		return bridge.RouteResult{}, ctx.Err()
	}
	if err := f.svc.Pop(ownerCtx, out.Key); err == nil {
		t.Fatal("the dying owner's pop returned nil")
	}
	// A first call goes out with no write before it: the leg is still routed, and only the
	// lease's fence says a pop began.
	if got := f.leg(t, out.Key); got.State != bridge.StateRouted || got.Requeued {
		t.Fatalf("after the owner died: %s requeued=%v, want routed", got.State, got.Requeued)
	}

	answers := []error{fmt.Errorf("%w: %w", bridge.ErrUnavailable, bridge.ErrBreakerOpen), nil}
	f.crm.RouteChatFn = func(context.Context, bridge.RouteRequest) (bridge.RouteResult, error) {
		err := answers[0]
		answers = answers[1:]
		if err != nil {
			return bridge.RouteResult{}, err
		}
		return bridge.RouteResult{Code: "SUCCESS", EngagementState: bridge.EngagementOffered}, nil
	}
	if err := f.svc.Pop(ctx, out.Key); err == nil {
		t.Fatal("the takeover with the breaker open returned nil; the work item must come back")
	}
	if got := f.leg(t, out.Key); got.State != bridge.StatePopping || !got.PopUncertain || got.Requeued {
		t.Fatalf("after the takeover met the open breaker: %s uncertain=%v requeued=%v, want popping, uncertain, not requeued", got.State, got.PopUncertain, got.Requeued)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if got := f.leg(t, out.Key); got.State != bridge.StateOffered || got.PopUncertain {
		t.Fatalf("after the CRM answered: %s uncertain=%v, want offered", got.State, got.PopUncertain)
	}
	routes := f.crm.Routes()
	for _, r := range routes {
		if r.TransactionID != routes[0].TransactionID {
			t.Errorf("transaction ids %q and %q: a takeover must replay the owner's", routes[0].TransactionID, r.TransactionID)
		}
	}
	f.drainOutbox(t, 0) // no requeue
}
