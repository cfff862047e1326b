package crmtest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The bridge answering an offer for the agent (bridge.CRM.RespondOffer: the media bar's
// Accept and Decline). The outcome is the CRM's code, verbatim; the change itself comes back
// as a CRM event.

// testAcceptOffer: an accepted offer makes the chat ACTIVE with the agent, and a replay under
// the same transaction id answers SUCCESS again without accepting twice.
func testAcceptOffer(t *testing.T, target Target) {
	w := newWorld(t, target)
	ctx := context.Background()
	chat := w.chat("Q1")
	w.route(pop(chat, "A1", "Q1"), "SUCCESS")
	seq := w.lastSeq()

	req := offerResponse(chat, "A1", true)
	w.respond(req, "SUCCESS")
	want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementActive, AgentAccountID: "A1"}
	if diff := cmp.Diff(want, w.engagement(chat)); diff != "" {
		t.Errorf("Engagement after accept (-want +got):\n%s", diff)
	}

	w.respond(req, "SUCCESS") // a replay: the first answer
	events, err := w.crm.PollEvents(ctx, Site, seq)
	wantEvents := []bridge.CRMEvent{{Seq: seq + 1, Type: bridge.CRMEngagementAccepted, ChatID: chat, AgentAccountID: "A1", At: t0}}
	if err != nil || !cmp.Equal(wantEvents, events) {
		t.Errorf("PollEvents(%d) = %+v, %v, want exactly one EngagementAccepted %+v", seq, events, err, wantEvents)
	}
	if n := w.mock.RespondEvaluations(req.TransactionID); n != 1 {
		t.Errorf("RespondEvaluations = %d, want 1: the replay is not applied again", n)
	}
	if n := w.mock.Calls(crmmock.OpRespond); n != 2 {
		t.Errorf("respond requests = %d, want 2", n)
	}
	w.wantBreakerClosed("after offer responses")
}

// testDeclineOffer: a decline the agent's profile allows puts the chat back to WAITING; one
// it does not allow is the CRM's DECLINE_NOT_ALLOWED, verbatim and without an error, and
// changes nothing: the offer is still there to accept.
func testDeclineOffer(t *testing.T, target Target) {
	t.Run("allowed", func(t *testing.T) {
		w := newWorld(t, target)
		chat := w.chat("Q1")
		w.route(pop(chat, "A1", "Q1"), "SUCCESS") // A1 may decline
		seq := w.lastSeq()
		w.respond(offerResponse(chat, "A1", false), "SUCCESS")
		want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementWaiting}
		if diff := cmp.Diff(want, w.engagement(chat)); diff != "" {
			t.Errorf("Engagement after decline (-want +got):\n%s", diff)
		}
		events, err := w.crm.PollEvents(context.Background(), Site, seq)
		wantEvents := []bridge.CRMEvent{{Seq: seq + 1, Type: bridge.CRMEngagementDeclined, ChatID: chat, AgentAccountID: "A1", At: t0}}
		if err != nil || !cmp.Equal(wantEvents, events) {
			t.Errorf("PollEvents(%d) = %+v, %v, want %+v", seq, events, err, wantEvents)
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		w := newWorld(t, target)
		chat := w.chat("Q3")
		w.route(pop(chat, "A2", "Q3"), "SUCCESS") // A2 may not decline
		seq := w.lastSeq()
		w.respond(offerResponse(chat, "A2", false), "DECLINE_NOT_ALLOWED")
		want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementOffered, AgentAccountID: "A2"}
		if diff := cmp.Diff(want, w.engagement(chat)); diff != "" {
			t.Errorf("Engagement after a refused decline (-want +got):\n%s", diff)
		}
		if got := w.lastSeq(); got != seq {
			t.Errorf("the refused decline emitted %d events, want none", got-seq)
		}
		w.respond(offerResponse(chat, "A2", true), "SUCCESS")
		w.wantBreakerClosed("after a business answer")
	})
}

// testNoPendingOffer: an answer to an offer that is not pending for the agent (the chat is
// already ACTIVE with it, someone else's, or still WAITING) is the CRM's NO_PENDING_OFFER,
// verbatim and without an error, and changes nothing.
func testNoPendingOffer(t *testing.T, target Target) {
	w := newWorld(t, target)
	chat, waiting := w.chat("Q1"), w.chat("Q1")
	w.route(pop(chat, "A1", "Q1"), "SUCCESS")
	w.respond(offerResponse(chat, "A1", true), "SUCCESS")
	seq := w.lastSeq()

	for _, req := range []bridge.OfferResponse{
		offerResponse(chat, "A1", true),       // active already
		offerResponse(chat, "A1", false),      // active already, decline allowed
		offerResponse(chat, "BULK", true),     // someone else's chat
		offerResponse(waiting, "A1", true),    // offered to nobody
		offerResponse(waiting, "BULK", false), // offered to nobody
	} {
		w.respond(req, "NO_PENDING_OFFER")
	}
	want := bridge.Engagement{Code: "SUCCESS", ChatID: chat, State: bridge.EngagementActive, AgentAccountID: "A1"}
	if diff := cmp.Diff(want, w.engagement(chat)); diff != "" {
		t.Errorf("Engagement (-want +got):\n%s", diff)
	}
	if got := w.lastSeq(); got != seq {
		t.Errorf("answers without a pending offer emitted %d events, want none", got-seq)
	}
	w.wantBreakerClosed("after business answers")
}

// testRespondRetried: an offer response that fails on the way (a 5xx, an answer lost after
// the CRM applied it) is retried within the call under the same transaction id, and the CRM
// applies it exactly once.
func testRespondRetried(t *testing.T, target Target) {
	w := newWorld(t, target)
	chat := w.chat("Q1")
	w.route(pop(chat, "A1", "Q1"), "SUCCESS")
	seq := w.lastSeq()
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, HTTPStatus: 503, Count: 1}))
	w.must(w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, LoseAnswer: true, Count: 1}))

	req := offerResponse(chat, "A1", true)
	w.respond(req, "SUCCESS")
	if n, all := w.mock.RespondEvaluations(req.TransactionID), w.respondEvaluations(); n != 1 || all != 1 {
		t.Errorf("RespondEvaluations = %d (%d under any key), want exactly 1", n, all)
	}
	if n := w.mock.Calls(crmmock.OpRespond); n < 3 {
		t.Errorf("respond requests = %d, want at least 3 (503, lost answer, replay)", n)
	}
	if got := w.engagement(chat); got.State != bridge.EngagementActive || got.AgentAccountID != "A1" {
		t.Errorf("chat is %s with %q, want ACTIVE with A1", got.State, got.AgentAccountID)
	}
	if got := w.lastSeq(); got != seq+1 {
		t.Errorf("events after the answer = %d, want 1 (one EngagementAccepted)", got-seq)
	}
	w.wantBreakerClosed("after failures and a success")
}
