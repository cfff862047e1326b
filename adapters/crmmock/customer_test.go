package crmmock

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A polling customer who stops polling goes through the agents' absent logic (ABSENT at
// 120s, still ABSENT at 240s, lost at 360s after the last poll, with the defaults) and the
// chat then ends with PARTICIPANT_LEFT.
func TestCustomerLost(t *testing.T) {
	type stage struct {
		at           time.Duration // since the last poll
		wantState    string
		wantPresence string
		wantMissed   int
	}
	stages := []stage{
		{119 * time.Second, StateWaiting, PresenceActive, 0},
		{120 * time.Second, StateWaiting, PresenceAbsent, 1},
		{240 * time.Second, StateWaiting, PresenceAbsent, 2},
		{359 * time.Second, StateWaiting, PresenceAbsent, 2},
		{360 * time.Second, StateConcluded, "", 3},
	}
	chatState := func(h *harness, id string) ChatState {
		for _, c := range h.srv.Dump().Sites[0].Chats {
			if c.ChatID == id {
				return c
			}
		}
		h.t.Fatalf("chat %s not in the dump", id)
		return ChatState{}
	}

	// No agent is logged in (an agent that does not poll would go absent alongside).
	seedQueue := func(h *harness) { must(h.t, h.srv.CreateQueue("demo", Queue{ID: "sales", External: true})) }

	t.Run("step by step, waiting", func(t *testing.T) {
		h := newHarness(t, Options{})
		seedQueue(h)
		id, err := h.srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerName: "Ada", CustomerPolls: true})
		must(t, err)
		seq := h.lastSeq()
		var elapsed time.Duration
		for _, st := range stages {
			h.srv.Advance(st.at - elapsed)
			elapsed = st.at
			got := chatState(h, id)
			if got.State != st.wantState || got.CustomerPresence != st.wantPresence || got.CustomerMissedIntervals != st.wantMissed {
				t.Errorf("at %v: chat %s, customer %q missed %d; want %s, %q, %d",
					st.at, got.State, got.CustomerPresence, got.CustomerMissedIntervals, st.wantState, st.wantPresence, st.wantMissed)
			}
		}
		got := chatState(h, id)
		if got.EndReason != EndParticipantLeft || !got.EndedAt.Equal(t0.Add(360*time.Second)) {
			t.Errorf("lost chat ended %s at %v, want PARTICIPANT_LEFT at +360s", got.EndReason, got.EndedAt)
		}
		// The only event is the end: the feed has no customer presence events.
		want := []Event{{Type: EventEngagementConcluded, ChatID: id, EndReason: EndParticipantLeft}}
		if diff := cmp.Diff(want, h.eventsSince(seq)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if r := h.route(id, "a1", "sales", "late"); r.ResultCode != CodeEndUserAbandonedEngagement {
			t.Errorf("chatRouted for the lost customer's chat = %s, want END_USER_ABANDONED_ENGAGEMENT", r.ResultCode)
		}
		if err := h.srv.CustomerHeartbeat("demo", id); !errors.Is(err, ErrConflict) {
			t.Errorf("CustomerHeartbeat after the end = %v, want ErrConflict", err)
		}
	})

	t.Run("one big advance yields the same", func(t *testing.T) {
		h := newHarness(t, Options{})
		seedQueue(h)
		id, err := h.srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerPolls: true})
		must(t, err)
		h.srv.Advance(time.Hour)
		if got := chatState(h, id); got.State != StateConcluded || got.EndReason != EndParticipantLeft || !got.EndedAt.Equal(t0.Add(360*time.Second)) {
			t.Errorf("after one hour: %s %s at %v, want CONCLUDED PARTICIPANT_LEFT at +360s", got.State, got.EndReason, got.EndedAt)
		}
	})

	t.Run("a poll while absent restores the customer", func(t *testing.T) {
		h := newHarness(t, Options{})
		seedQueue(h)
		id, err := h.srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerPolls: true})
		must(t, err)
		h.srv.Advance(300 * time.Second) // ABSENT, second interval
		must(t, h.srv.CustomerHeartbeat("demo", id))
		if got := chatState(h, id); got.CustomerPresence != PresenceActive || got.CustomerMissedIntervals != 0 || !got.CustomerLastPoll.Equal(t0.Add(300*time.Second)) {
			t.Errorf("after the poll: %+v, want ACTIVE, 0 missed, polled at +300s", got)
		}
		h.srv.Advance(359 * time.Second) // the countdown restarted at the poll
		if got := chatState(h, id); got.State != StateWaiting {
			t.Errorf("359s after the poll the chat is %s, want still WAITING", got.State)
		}
		h.srv.Advance(time.Second)
		if got := chatState(h, id); got.State != StateConcluded {
			t.Errorf("360s after the poll the chat is %s, want CONCLUDED", got.State)
		}
	})

	t.Run("lost while offered frees the agent", func(t *testing.T) {
		h := newHarness(t, Options{OfferTimeout: time.Hour})
		h.seedBasic()
		id, err := h.srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerPolls: true})
		must(t, err)
		offer(h, id, "a1")
		seq := h.lastSeq()
		h.srv.Advance(200 * time.Second)
		must(t, h.srv.Heartbeat("demo", "a1")) // the agent stays connected; only the customer is gone
		h.srv.Advance(160 * time.Second)
		var got []Event
		for _, ev := range h.eventsSince(seq) {
			if ev.ChatID == id {
				got = append(got, ev)
			}
		}
		want := []Event{{Type: EventEngagementConcluded, ChatID: id, AgentAccountID: "a1", EndReason: EndParticipantLeft}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events of the chat (-want +got):\n%s", diff)
		}
		if got := h.session("a1").ActiveSessions; got != 0 {
			t.Errorf("a1 holds %d sessions, want 0", got)
		}
	})

	t.Run("customers who do not poll are never lost", func(t *testing.T) {
		h := newHarness(t, Options{})
		id := h.seedBasic()
		h.srv.Advance(1799 * time.Second)
		if got := chatState(h, id); got.State != StateWaiting || got.CustomerPresence != "" {
			t.Errorf("a non-polling chat after 1799s: %s, customer %q; want WAITING, no presence", got.State, got.CustomerPresence)
		}
		if err := h.srv.CustomerHeartbeat("demo", id); !errors.Is(err, ErrConflict) {
			t.Errorf("CustomerHeartbeat for a non-polling chat = %v, want ErrConflict", err)
		}
	})
}

func TestControlClientCustomer(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	cc := NewControlClient(h.ts.URL, h.ts.Client())
	must(t, cc.CreateQueue(ctx, "demo", Queue{ID: "sales", External: true}))
	id, err := cc.CreateChatWith(ctx, "demo", NewChat{QueueID: "sales", CustomerName: "Ada", CustomerPolls: true})
	must(t, err)
	must(t, cc.Advance(ctx, 200*time.Second))
	must(t, cc.CustomerHeartbeat(ctx, "demo", id))
	must(t, cc.Advance(ctx, 200*time.Second))
	st, err := cc.Dump(ctx)
	must(t, err)
	got := st.Sites[0].Chats[0]
	want := ChatState{ChatID: id, QueueID: "sales", CustomerName: "Ada", State: StateWaiting, CreatedAt: t0,
		CustomerPolls: true, CustomerPresence: PresenceAbsent, CustomerMissedIntervals: 1, CustomerLastPoll: t0.Add(200 * time.Second)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chat after a customer poll (-want +got):\n%s", diff)
	}
	if err := cc.CustomerHeartbeat(ctx, "demo", "404"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CustomerHeartbeat(unknown chat) = %v, want ErrNotFound", err)
	}
	plain, err := cc.CreateChat(ctx, "demo", "sales", "Bob")
	must(t, err)
	var ce *ControlError
	if err := cc.CustomerHeartbeat(ctx, "demo", plain); !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Field != "chatId" {
		t.Errorf("CustomerHeartbeat(non-polling chat) = %v, want a conflict naming chatId", err)
	}
}
