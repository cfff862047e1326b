package sessions_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// indexed says which of in's indexes hold it: agent, interaction, chat, open, outcome.
func indexed(t *testing.T, c redis.UniversalClient, k sessions.KeySpace, in *bridge.Interaction) (agent, interaction, chat, open, outcome bool) {
	t.Helper()
	ctx := t.Context()
	member := in.InteractionID + "/" + in.RoutingID // plain ids need no escaping
	is := func(err error) bool {
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		return err == nil
	}
	agent, err := c.SIsMember(ctx, k.AgentLegs(in.AgentID), member).Result()
	if err != nil {
		t.Fatal(err)
	}
	interaction = is(c.ZScore(ctx, k.InteractionLegs(in.InteractionID), in.RoutingID).Err())
	chat = is(c.ZScore(ctx, k.Chat(in.Site, in.ChatID), member).Err())
	open = is(c.ZScore(ctx, k.OpenLegs(), member).Err())
	outcome = is(c.ZScore(ctx, k.Outcomes(), member).Err())
	return agent, interaction, chat, open, outcome
}

// loseIndexes deletes in's agent, interaction and chat indexes, as a Redis failover that kept
// the leg but lost the pipeline after it would.
func loseIndexes(t *testing.T, c redis.UniversalClient, k sessions.KeySpace, in *bridge.Interaction) {
	t.Helper()
	if err := c.Del(t.Context(), k.AgentLegs(in.AgentID), k.InteractionLegs(in.InteractionID), k.Chat(in.Site, in.ChatID)).Err(); err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, s *sessions.Store, in *bridge.Interaction, state bridge.State, at time.Time) {
	t.Helper()
	in.State, in.UpdatedAt = state, at
	if _, err := s.UpdateLegWith(t.Context(), in, 0, bridge.LegEffects{}); err != nil {
		t.Fatalf("update %s to %s: %v", in.Key(), state, err)
	}
}

// A pop's outcome, written by the replica that has just indexed the leg, rewrites only the
// open-legs entry; the write after it heals whatever was lost meanwhile.
func TestOutcomeRightAfterTheCreationRewritesOnlyTheOpenLegsEntry(t *testing.T) {
	ctx := t.Context()
	s, c := newStore(t, sessions.Options{})
	k := s.Keys()
	in := leg("i1", "r1", "a1", "c1", t0)
	if created, _, err := s.CreateLegWith(ctx, in, bridge.LegEffects{}); err != nil || !created {
		t.Fatalf("create: created %v, err %v", created, err)
	}
	if a, i, ch, o, _ := indexed(t, c, k, in); !a || !i || !ch || !o {
		t.Fatalf("after the creation: agent %v interaction %v chat %v open %v, want all", a, i, ch, o)
	}
	loseIndexes(t, c, k, in)

	offeredAt := t0.Add(3 * time.Second)
	update(t, s, in, bridge.StateOffered, offeredAt)
	a, i, ch, o, _ := indexed(t, c, k, in)
	if a || i || ch {
		t.Errorf("the outcome rewrote agent %v interaction %v chat %v: want none (written moments ago)", a, i, ch)
	}
	score, err := c.ZScore(ctx, k.OpenLegs(), "i1/r1").Result()
	if !o || err != nil || int64(score) != offeredAt.UnixMilli() {
		t.Errorf("open-legs score = %v (%v), want the outcome's time %d", score, err, offeredAt.UnixMilli())
	}
	if ttl := c.PTTL(ctx, k.OpenLegs()).Val(); ttl <= 0 {
		t.Errorf("open-legs TTL = %v, want one", ttl)
	}

	update(t, s, in, bridge.StateActive, t0.Add(5*time.Second))
	if a, i, ch, o, _ := indexed(t, c, k, in); !a || !i || !ch || !o {
		t.Errorf("the next write did not heal: agent %v interaction %v chat %v open %v", a, i, ch, o)
	}
}

// Whatever else follows a creation rewrites every index: another replica's write, a write
// that moved the leg to another agent, a terminal write, a write after the memo went stale.
func TestWritesTheMemoDoesNotCoverRewriteEveryIndex(t *testing.T) {
	tests := []struct {
		name         string
		otherReplica bool
		agent        string // the leg's agent after the write
		state        bridge.State
		want         func(a, i, ch, o, out bool) bool
	}{
		{
			name: "another replica", otherReplica: true, agent: "a1", state: bridge.StateOffered,
			want: func(a, i, ch, o, out bool) bool { return a && i && ch && o && !out },
		},
		{
			name: "another agent", agent: "a2", state: bridge.StateOffered,
			want: func(a, i, ch, o, out bool) bool { return a && i && ch && o && !out },
		},
		{
			name: "terminal", agent: "a1", state: bridge.StateRequeued,
			want: func(a, i, ch, o, out bool) bool { return !a && i && ch && !o && out },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newStore(t, sessions.Options{})
			k := s.Keys()
			now := time.Now() // the outcome index keeps only what ended within LegTTL
			in := leg("i1", "r1", "a1", "c1", now)
			if _, _, err := s.CreateLegWith(t.Context(), in, bridge.LegEffects{}); err != nil {
				t.Fatal(err)
			}
			loseIndexes(t, c, k, in)
			writer := s
			if tt.otherReplica {
				writer = sessions.New(c, sessions.Options{Prefix: k.Prefix()})
			}
			in.AgentID = tt.agent
			update(t, writer, in, tt.state, now.Add(time.Second))
			a, i, ch, o, out := indexed(t, c, k, in)
			if !tt.want(a, i, ch, o, out) {
				t.Errorf("after the write: agent %v interaction %v chat %v open %v outcome %v", a, i, ch, o, out)
			}
		})
	}
}
