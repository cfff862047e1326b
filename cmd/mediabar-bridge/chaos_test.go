package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// goodEvidence is one chat served cleanly: created, routed (i1/r1) to acct-1, offered,
// shown on the agent's media bar, accepted, concluded, completed; the ACD applied the accept
// and the complete once; the export has its one row; every key has a TTL but the queue.
func goodEvidence() chaosEvidence {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	leg := func() *bridge.Interaction {
		return &bridge.Interaction{InteractionID: "i1", RoutingID: "r1", ChatID: "c1", Site: "demo", QueueID: "q", AgentID: "a1",
			CRMAccountID: "acct-1", RouteType: bridge.RouteLead, State: bridge.StateCompleted, Code: "SUCCESS",
			Descriptor: &bridgeerr.Descriptor{Role: "RoutedTo", Result: "Completed"}, RoutedAt: t0, UpdatedAt: t0.Add(2 * time.Second)}
	}
	return chaosEvidence{
		Deadline: time.Minute,
		Ops: []chaosOp{
			{Index: 0, Time: t0.Add(-time.Second), Process: "customer-0", Type: opInvoke, F: fCreateChat},
			{Index: 1, Time: t0.Add(-time.Second), Process: "customer-0", Type: opOK, F: fCreateChat, ChatID: "c1"},
			{Index: 2, Time: t0.Add(200 * time.Millisecond), Process: "agent-1", Type: opOK, F: fObserve, InteractionID: "i1", RoutingID: "r1", ChatID: "c1", Value: "offered"},
		},
		CRMEvents: []crmFeedEvent{
			{Seq: 1, Type: crmmock.EventEngagementOffered, ChatID: "c1", Agent: "acct-1", At: t0.Add(100 * time.Millisecond)},
			{Seq: 2, Type: crmmock.EventEngagementAccepted, ChatID: "c1", Agent: "acct-1", At: t0.Add(300 * time.Millisecond)},
			{Seq: 3, Type: crmmock.EventEngagementConcluded, ChatID: "c1", Agent: "acct-1", EndReason: crmmock.EndAgentConcluded, At: t0.Add(time.Second)},
		},
		CRMChats: []crmmock.ChatState{{ChatID: "c1", State: crmmock.StateConcluded, AgentAccountID: "acct-1"}},
		ACDCalls: []acdmock.Call{
			{Kind: acdmock.KindCreate, ChatID: "c1", InteractionID: "i1", IdempotencyKey: "intake/demo/c1", Applied: true},
			{Kind: acdmock.KindAccept, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "accept:i1/r1", Applied: true},
			{Kind: acdmock.KindComplete, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "complete:i1/r1", Applied: true},
			{Kind: acdmock.KindComplete, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "complete:i1/r1", Applied: false}, // a replay
		},
		ACDInteractions: []acdmock.InteractionView{{ID: "i1", ChatID: "c1", State: acdmock.StateCompleted,
			Routings: []acdmock.RoutingView{{RoutingID: "r1", AgentID: "a1", State: acdmock.StateCompleted}}}},
		Legs:     []*bridge.Interaction{leg()},
		Outcomes: []httpapi.OutcomeRow{{InteractionID: "i1", RoutingID: "r1", Role: "RoutedTo", Result: "Completed"}},
		Keys: []keyTTL{
			{Key: "mbb-chaos-x:v1:leg:{i1/r1}", TTL: time.Hour},
			{Key: "mbb-chaos-x:v1:queue:pops", TTL: -1},
		},
		NoTTL: []noTTLRule{{Prefix: "mbb-chaos-x:v1:queue:", Why: "work queues"}},
	}
}

func TestChaosCheckerPassesACleanHistory(t *testing.T) {
	if got := checkChaos(goodEvidence()); len(got) != 0 {
		t.Fatalf("checkChaos(clean history) = %+v, want no violation", got)
	}
}

// Each case breaks one invariant of the clean history; the checker must report that kind.
func TestChaosCheckerFindsEachViolation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(ev *chaosEvidence)
		want   string
	}{
		{"chat never concluded in the CRM", func(ev *chaosEvidence) {
			ev.CRMChats[0].State = crmmock.StateWaiting
		}, vNotTerminal},
		{"ACD interaction still routed", func(ev *chaosEvidence) {
			ev.ACDInteractions[0].State = acdmock.StateAlerting
			ev.ACDInteractions[0].Routings[0].State = acdmock.StateAlerting
		}, vNotTerminal},
		{"bridge leg stuck popping", func(ev *chaosEvidence) {
			ev.Legs[0].State = bridge.StatePopping
		}, vNotTerminal},
		{"leg ended after the deadline", func(ev *chaosEvidence) {
			ev.Legs[0].UpdatedAt = ev.Legs[0].RoutedAt.Add(2 * time.Minute)
		}, vLate},
		{"complete never applied at the ACD", func(ev *chaosEvidence) {
			ev.ACDCalls = ev.ACDCalls[:2]
		}, vUnacknowledged},
		{"requeue decided but never applied", func(ev *chaosEvidence) {
			ev.Legs[0].Requeued = true
			ev.Legs[0].Descriptor = &bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"}
			ev.ACDCalls = ev.ACDCalls[:2]
		}, vUnacknowledged},
		{"leg both requeued and completed", func(ev *chaosEvidence) {
			ev.ACDCalls = append(ev.ACDCalls, acdmock.Call{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "requeue:i1/r1", Applied: true})
		}, vTwoOutcomes},
		{"CRM offered the chat to a second agent", func(ev *chaosEvidence) {
			ev.CRMEvents = append(ev.CRMEvents[:1], crmFeedEvent{Seq: 9, Type: crmmock.EventEngagementOffered, ChatID: "c1", Agent: "acct-2", At: ev.CRMEvents[0].At.Add(time.Millisecond)})
		}, vDoubleAssignment},
		{"chat worked to completion by two agents", func(ev *chaosEvidence) {
			second := *ev.Legs[0]
			second.RoutingID, second.AgentID, second.CRMAccountID = "r2", "a2", "acct-2"
			ev.Legs = append(ev.Legs, &second)
			ev.ACDInteractions[0].Routings = append(ev.ACDInteractions[0].Routings, acdmock.RoutingView{RoutingID: "r2", AgentID: "a2", State: acdmock.StateCompleted})
			ev.ACDCalls = append(ev.ACDCalls, acdmock.Call{Kind: acdmock.KindComplete, InteractionID: "i1", RoutingID: "r2", IdempotencyKey: "complete:i1/r2", Applied: true})
			ev.Outcomes = append(ev.Outcomes, httpapi.OutcomeRow{InteractionID: "i1", RoutingID: "r2", Role: "RoutedTo", Result: "Completed"})
		}, vDoubleAssignment},
		{"assigned in the CRM, agent never told, not requeued", func(ev *chaosEvidence) {
			ev.Ops = ev.Ops[:2] // no observation
		}, vOrphan},
		{"assigned in the CRM to an agent the bridge has no leg for", func(ev *chaosEvidence) {
			ev.CRMEvents = []crmFeedEvent{{Seq: 1, Type: crmmock.EventEngagementOffered, ChatID: "c1", Agent: "acct-9", At: ev.CRMEvents[0].At}}
		}, vOrphan},
		{"ACD applied the same requeue twice", func(ev *chaosEvidence) {
			ev.Legs[0].Requeued = true
			ev.ACDCalls = append(ev.ACDCalls[:2],
				acdmock.Call{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "requeue:i1/r1", Applied: true},
				acdmock.Call{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "requeue-again:i1/r1", Applied: true})
		}, vDuplicateACDCall},
		{"ACD created two interactions for one chat", func(ev *chaosEvidence) {
			ev.ACDCalls = append(ev.ACDCalls, acdmock.Call{Kind: acdmock.KindCreate, ChatID: "c1", InteractionID: "i2", IdempotencyKey: "intake/demo/c1#2", Applied: true})
		}, vDuplicateACDCall},
		{"leg missing from the outcome export", func(ev *chaosEvidence) {
			ev.Outcomes = nil
		}, vDescriptor},
		{"leg exported twice", func(ev *chaosEvidence) {
			ev.Outcomes = append(ev.Outcomes, ev.Outcomes[0])
		}, vDescriptor},
		{"leg exported without a descriptor", func(ev *chaosEvidence) {
			ev.Outcomes[0].Role, ev.Outcomes[0].Result = "", ""
		}, vDescriptor},
		{"key without a TTL", func(ev *chaosEvidence) {
			ev.Keys = append(ev.Keys, keyTTL{Key: "mbb-chaos-x:v1:agent-legs:a1", TTL: -1})
		}, vNoTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := goodEvidence()
			tt.mutate(&ev)
			got := checkChaos(ev)
			found := false
			for _, v := range got {
				found = found || v.Kind == tt.want
			}
			if !found {
				t.Errorf("checkChaos = %+v, want a %q violation", got, tt.want)
			}
		})
	}
}

// A leg requeued and given back is not an orphan even if its agent never saw it: the CRM
// took the chat back and the ACD applied the requeue.
func TestChaosCheckerRequeuedUnseenLegIsNoOrphan(t *testing.T) {
	ev := goodEvidence()
	ev.Ops = ev.Ops[:2]
	ev.Legs[0].State, ev.Legs[0].Requeued = bridge.StateRequeued, true
	ev.Legs[0].Descriptor = &bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"}
	ev.CRMEvents = append(ev.CRMEvents[:1], crmFeedEvent{Seq: 2, Type: crmmock.EventEngagementTimeout, ChatID: "c1", Agent: "acct-1", At: ev.CRMEvents[0].At.Add(time.Second)})
	ev.ACDCalls = []acdmock.Call{
		{Kind: acdmock.KindCreate, ChatID: "c1", InteractionID: "i1", Applied: true},
		{Kind: acdmock.KindRequeue, InteractionID: "i1", RoutingID: "r1", IdempotencyKey: "requeue:i1/r1", Applied: true},
	}
	ev.ACDInteractions[0].Routings[0].State = acdmock.StateRequeued
	if got := checkChaos(ev); len(got) != 0 {
		t.Fatalf("checkChaos = %+v, want no violation", got)
	}
}

// TestChaos runs the chaos command end to end with a few chats: real replicas (the binary
// built here), the mocks, every fault, the checker. It skips with -short.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("TestChaos runs bridge processes under faults; skipped with -short")
	}
	o := chaosOptions{chats: 100, replicas: 2, agents: 6, capacity: 3, concurrency: 18, seed: 7, deadline: 2 * time.Minute,
		faults: allFaults, abandonPercent: 3, bin: buildBridgeBinary(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	rep, err := chaosRun(ctx, o, os.Getenv, progress)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.writeText(&out)
	t.Log(out.String())
	if rep.Counts.ChatsCreated != o.chats {
		t.Errorf("%d chats created, want %d", rep.Counts.ChatsCreated, o.chats)
	}
	if len(rep.Violations) > 0 {
		t.Errorf("%d invariant violations (see the report above)", len(rep.Violations))
	}
}
