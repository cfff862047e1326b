package sessions_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// endLeg stores a leg and moves it to a terminal state that ended at endedAt.
func endLeg(t *testing.T, s *sessions.Store, iid string, endedAt time.Time) {
	t.Helper()
	ctx := t.Context()
	l := leg(iid, "r1", "a1", "chat-"+iid, endedAt.Add(-time.Minute))
	if _, err := s.CreateLeg(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.State, l.UpdatedAt = bridge.StateCompleted, endedAt
	if err := s.UpdateLeg(ctx, l, 0); err != nil {
		t.Fatal(err)
	}
}

// allOutcomes pages through [since, until) with the given page size.
func allOutcomes(t *testing.T, s *sessions.Store, since, until time.Time, page int) []string {
	t.Helper()
	var got []string
	cursor := ""
	for range 100 {
		legs, next, err := s.Outcomes(t.Context(), since, until, cursor, page)
		if err != nil {
			t.Fatalf("Outcomes(cursor %q) = %v", cursor, err)
		}
		for _, l := range legs {
			got = append(got, l.InteractionID)
		}
		if next == "" {
			return got
		}
		cursor = next
	}
	t.Fatal("Outcomes never reached the last page")
	return nil
}

func TestOutcomesPagesEveryEndedLegOnce(t *testing.T) {
	s, _ := newStore(t, sessions.Options{LegTTL: time.Hour})
	ctx := t.Context()
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	// Five legs end in the same millisecond: pages must neither skip nor repeat them.
	var want []string
	for i := range 9 {
		at := base.Add(time.Duration(i) * time.Second)
		if i >= 2 && i < 7 {
			at = base.Add(2 * time.Second)
		}
		id := fmt.Sprintf("i%d", i)
		endLeg(t, s, id, at)
		want = append(want, id)
	}
	// A leg still in progress is not an outcome.
	if _, err := s.CreateLeg(ctx, leg("open", "r1", "a1", "chat-open", base)); err != nil {
		t.Fatal(err)
	}

	for _, page := range []int{1, 2, 3, 4, 100} {
		got := allOutcomes(t, s, base, time.Now(), page)
		slices.Sort(got) // same-millisecond legs come in member order
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: got %v, want %v", page, got, want)
		}
	}

	// The range is [since, until).
	got := allOutcomes(t, s, base.Add(time.Second), base.Add(7*time.Second), 2)
	slices.Sort(got)
	if want := []string{"i1", "i2", "i3", "i4", "i5", "i6"}; !slices.Equal(got, want) {
		t.Errorf("[+1s, +7s) = %v, want %v", got, want)
	}
	if got := allOutcomes(t, s, time.Now(), time.Now().Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("future range = %v, want none", got)
	}
}

func TestOutcomesSkipsExpiredLegsAndRefusesBadCursors(t *testing.T) {
	s, rdb := newStore(t, sessions.Options{LegTTL: time.Hour})
	ctx := t.Context()
	base := time.Now().Add(-time.Minute)
	endLeg(t, s, "kept", base)
	endLeg(t, s, "gone", base.Add(time.Second))
	if err := rdb.Del(ctx, s.Keys().Leg(bridge.LegKey{InteractionID: "gone", RoutingID: "r1"})).Err(); err != nil {
		t.Fatal(err)
	}
	if got := allOutcomes(t, s, base.Add(-time.Second), time.Now(), 10); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("outcomes = %v, want only the leg still stored", got)
	}
	for _, cursor := range []string{"x", "12", "12:x", "-1:-1", "1:2"} {
		if _, _, err := s.Outcomes(ctx, base, time.Now(), cursor, 10); err == nil {
			t.Errorf("cursor %q accepted", cursor)
		}
	}
}

// The chaos run's case: a leg's ending write is stored, but its index effects are lost (Redis
// restarted between the two). The leg is still indexed as open; the reconciler's read of
// open legs writes the lost effects, so the leg leaves the open index and enters the outcome
// export, exactly once.
func TestOpenLegsHealsAnEndedLegWhoseIndexWasLost(t *testing.T) {
	s, rdb := newStore(t, sessions.Options{})
	ctx := t.Context()
	now := time.Now()
	l := leg("i1", "r1", "a1", "c1", now.Add(-time.Minute))
	if _, err := s.CreateLeg(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.State, l.UpdatedAt = bridge.StateCompleted, now.Add(-30*time.Second)
	if err := s.UpdateLeg(ctx, l, 0); err != nil {
		t.Fatal(err)
	}
	// Undo the ending write's effects, as if they never reached Redis.
	member := "i1/r1"
	if err := rdb.ZAdd(ctx, s.Keys().OpenLegs(), redis.Z{Score: float64(now.Add(-time.Minute).UnixMilli()), Member: member}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZRem(ctx, s.Keys().Outcomes(), member).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Outcomes(ctx, now.Add(-time.Hour), now.Add(time.Hour), "", 10); len(got) != 0 {
		t.Fatalf("setup: outcome export already has %d legs", len(got))
	}

	open, err := s.OpenLegs(ctx, now, 10)
	if err != nil || len(open) != 0 {
		t.Fatalf("OpenLegs = %v, %v; want no open leg (it ended)", open, err)
	}
	got, _, err := s.Outcomes(ctx, now.Add(-time.Hour), now.Add(time.Hour), "", 10)
	if err != nil || len(got) != 1 || got[0].RoutingID != "r1" {
		t.Fatalf("outcome export after the heal = %v, %v; want the ended leg once", got, err)
	}
	if n := rdb.ZCard(ctx, s.Keys().OpenLegs()).Val(); n != 0 {
		t.Errorf("open-legs index still has %d members", n)
	}
}
