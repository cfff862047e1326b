package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// reconcileFixture is a fixture on a manual clock.
func reconcileFixture(t *testing.T) (*fixture, *bridgetest.Clock) {
	t.Helper()
	clock := bridgetest.NewClock(time.Now())
	f := newFixtureWith(t, nil, clock, 0)
	f.crm.RouteChatFn = answer("SUCCESS")
	f.login(t, "a1")
	return f, clock
}

// reconcile runs one pass and checks how many legs it acted on.
func (f *fixture) reconcile(t *testing.T, want int) {
	t.Helper()
	n, err := f.svc.ReconcileOnce(t.Context())
	if err != nil || n != want {
		t.Fatalf("ReconcileOnce() = %d, %v; want %d", n, err, want)
	}
}

func (f *fixture) leg(t *testing.T, key bridge.LegKey) *bridge.Interaction {
	t.Helper()
	in, err := f.store.GetLeg(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// A pop whose work item was lost (its replica died before the queue had it) is queued again
// once it has been stuck for StuckAfter, and then pops normally.
func TestReconcilerRequeuesALostPop(t *testing.T) {
	f, clock := reconcileFixture(t)
	ctx := t.Context()
	out, err := f.svc.Routed(ctx, routedCmd("i1", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	items, _ := f.work.Items(ctx, bridge.QueuePops, "", 10)
	for _, it := range items { // the pop item is lost
		_ = f.work.Remove(ctx, bridge.QueuePops, it.ID)
	}
	f.reconcile(t, 0) // not stuck yet
	clock.Advance(31 * time.Second)
	f.reconcile(t, 1)
	if n, _ := f.work.Depth(ctx, bridge.QueuePops); n != 1 {
		t.Fatalf("pop queue depth = %d, want the pop queued again", n)
	}
	f.reconcile(t, 0) // deferred: not queued twice in a row
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if in := f.leg(t, out.Key); in.State != bridge.StateOffered {
		t.Fatalf("after the re-queued pop the leg is %s", in.State)
	}
}

// An offer with no CRM answer past the deadline is settled by reading the chat in the CRM.
func TestReconcilerSettlesAnOfferFromTheCRM(t *testing.T) {
	tests := []struct {
		name      string
		crm       bridge.Engagement
		wantState bridge.State
		wantCode  string
		requeue   bool
	}{
		{"accepted in the CRM", bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementActive, AgentAccountID: "acct-a1"}, bridge.StateActive, "SUCCESS", false},
		{"back in the queue", bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementWaiting}, bridge.StateRequeued, string(bridgeerr.OfferTimeout), true},
		{"with another agent", bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementOffered, AgentAccountID: "acct-zz"}, bridge.StateRequeued, string(bridgeerr.OfferTimeout), true},
		{"customer left", bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementConcluded, EndReason: "ENDED_USER_CANCEL"}, bridge.StateAbandoned, string(bridgeerr.CustomerAbandoned), false},
		{"chat unknown to the CRM", bridge.Engagement{Code: "CHAT_ID_UNKNOWN"}, bridge.StateAbandoned, string(bridgeerr.CustomerAbandoned), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, clock := reconcileFixture(t)
			in := f.route(t, "i1", "a1")
			if in.State != bridge.StateOffered {
				t.Fatalf("leg = %s, want offered", in.State)
			}
			f.crm.EngagementFn = func(context.Context, string, string) (bridge.Engagement, error) { return tt.crm, nil }
			clock.Advance(89 * time.Second)
			f.reconcile(t, 0)
			clock.Advance(2 * time.Second)
			f.reconcile(t, 1)
			got := f.leg(t, in.Key())
			if got.State != tt.wantState || got.Code != tt.wantCode || got.Requeued != tt.requeue {
				t.Fatalf("leg = %s %q requeued=%v, want %s %q requeued=%v", got.State, got.Code, got.Requeued, tt.wantState, tt.wantCode, tt.requeue)
			}
			// A requeue comes with a not-ready; an accept found in the CRM is told to the ACD.
			accepted := tt.wantState == bridge.StateActive
			requeues, accepts := 0, 0
			for _, c := range f.drainOutbox(t, len(f.acd.Calls())+2*countIf(tt.requeue)+countIf(accepted)) {
				switch c.Kind {
				case bridge.ACDRequeue:
					requeues++
				case bridge.ACDAccept:
					accepts++
				}
			}
			if requeues != countIf(tt.requeue) || accepts != countIf(accepted) {
				t.Errorf("ACD requeues = %d, accepts = %d; want %d, %d", requeues, accepts, countIf(tt.requeue), countIf(accepted))
			}
		})
	}
}

func countIf(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An offer the CRM still shows is left alone and looked at again later, not every pass; a
// CRM that cannot be reached leaves the leg as it is.
func TestReconcilerLeavesWhatIsRightAndRetriesWhatItCannotRead(t *testing.T) {
	f, clock := reconcileFixture(t)
	in := f.route(t, "i1", "a1")
	reads := 0
	var crmErr error
	f.crm.EngagementFn = func(context.Context, string, string) (bridge.Engagement, error) {
		reads++
		return bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementOffered, AgentAccountID: "acct-a1"}, crmErr
	}
	clock.Advance(91 * time.Second)
	f.reconcile(t, 0)
	f.reconcile(t, 0)
	if reads != 1 {
		t.Fatalf("CRM read %d times in two passes, want 1 (deferred after the first)", reads)
	}
	// A CRM answer that says nothing about the chat is not acted on either.
	answer := bridge.Engagement{Code: "UNKNOWN_ERROR"}
	f.crm.EngagementFn = func(context.Context, string, string) (bridge.Engagement, error) { reads++; return answer, crmErr }
	clock.Advance(91 * time.Second)
	if n, err := f.svc.ReconcileOnce(t.Context()); n != 0 || err == nil {
		t.Fatalf("ReconcileOnce with the CRM answering UNKNOWN_ERROR = %d, %v; want 0 and an error", n, err)
	}
	if got := f.leg(t, in.Key()); got.State != bridge.StateOffered {
		t.Fatalf("leg after UNKNOWN_ERROR = %s, want still offered", got.State)
	}
	crmErr = bridge.ErrUnavailable
	clock.Advance(91 * time.Second)
	if _, err := f.svc.ReconcileOnce(t.Context()); !errors.Is(err, bridge.ErrUnavailable) {
		t.Fatalf("ReconcileOnce with the CRM down = %v", err)
	}
	if got := f.leg(t, in.Key()); got.State != bridge.StateOffered {
		t.Fatalf("leg = %s, want still offered", got.State)
	}
}

// An active chat whose end was missed goes to wrap-up; a wrap-up left open past the queue's
// wrap-up timeout is completed with the default disposition.
func TestReconcilerEndsAMissedChatAndTimesOutWrapUp(t *testing.T) {
	f, clock := reconcileFixture(t)
	ctx := t.Context()
	cmd := routedCmd("i1", "a1")
	cmd.QueueID = "support"
	out, err := f.svc.Routed(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.HandleCRMEvent(ctx, "demo", bridge.CRMEvent{Seq: 1, Type: bridge.CRMEngagementAccepted, ChatID: cmd.ChatID, AgentAccountID: "acct-a1"}); err != nil {
		t.Fatal(err)
	}
	f.crm.EngagementFn = func(context.Context, string, string) (bridge.Engagement, error) {
		return bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementConcluded, EndReason: "END_USER_CONCLUDED"}, nil
	}
	clock.Advance(14 * time.Minute)
	f.reconcile(t, 0)
	clock.Advance(2 * time.Minute)
	f.reconcile(t, 1)
	if got := f.leg(t, out.Key); got.State != bridge.StateWrapUp {
		t.Fatalf("leg = %s, want wrapup", got.State)
	}
	clock.Advance(119 * time.Second)
	f.reconcile(t, 0)
	clock.Advance(2 * time.Second)
	f.reconcile(t, 1)
	got := f.leg(t, out.Key)
	if got.State != bridge.StateCompleted || got.Disposition != "Resolved" {
		t.Fatalf("leg = %s %q, want completed with the default disposition", got.State, got.Disposition)
	}
	calls := f.drainOutbox(t, 2) // the accept when the chat went active, then the complete
	if c := callOf(calls, bridge.ACDComplete); c.Disposition != "Resolved" || callOf(calls, bridge.ACDAccept).Kind == "" {
		t.Errorf("ACD calls = %+v, want an accept and a complete with Resolved", calls)
	}
}

// The wrap-up timeout completes the leg that timed out, even when the same agent holds a
// newer leg of the same interaction (the chat came back to them).
func TestReconcilerCompletesTheTimedOutLegNotTheNewest(t *testing.T) {
	f, clock := reconcileFixture(t)
	ctx := t.Context()
	first := routedCmd("i1", "a1")
	first.QueueID = "support"
	out, err := f.svc.Routed(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pop(ctx, out.Key); err != nil {
		t.Fatal(err)
	}
	for seq, typ := range []string{bridge.CRMEngagementAccepted, bridge.CRMEngagementConcluded} {
		if err := f.svc.HandleCRMEvent(ctx, "demo", bridge.CRMEvent{Seq: int64(seq + 1), Type: typ, ChatID: first.ChatID, AgentAccountID: "acct-a1", EndReason: "END_USER_CONCLUDED"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.leg(t, out.Key); got.State != bridge.StateWrapUp {
		t.Fatalf("first leg = %s, want wrapup", got.State)
	}
	clock.Advance(time.Second)
	second := first
	second.EventID, second.RoutingID = "evt-i1-r2", "r2"
	out2, err := f.svc.Routed(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Pop(ctx, out2.Key); err != nil {
		t.Fatal(err)
	}
	f.crm.EngagementFn = func(context.Context, string, string) (bridge.Engagement, error) {
		return bridge.Engagement{Code: "SUCCESS", State: bridge.EngagementOffered, AgentAccountID: "acct-a1"}, nil
	}
	clock.Advance(2*time.Minute + time.Second)
	f.reconcile(t, 1)
	if got := f.leg(t, out.Key); got.State != bridge.StateCompleted || got.Disposition != "Resolved" {
		t.Errorf("timed-out leg = %s %q, want completed with Resolved", got.State, got.Disposition)
	}
	if got := f.leg(t, out2.Key); got.State != bridge.StateOffered {
		t.Errorf("newer leg = %s, want still offered", got.State)
	}
}
