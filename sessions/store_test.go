package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// newStore returns a store on the test's Redis under its own prefix, and the raw client.
func newStore(t *testing.T, opts sessions.Options) (*sessions.Store, redis.UniversalClient) {
	t.Helper()
	client, prefix := sessionstest.Redis(t)
	opts.Prefix = prefix
	return sessions.New(client, opts), client
}

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func leg(iid, rid, agent, chat string, routedAt time.Time) *bridge.Interaction {
	return &bridge.Interaction{
		InteractionID: iid, RoutingID: rid, AgentID: agent, ChatID: chat, Site: "site1",
		QueueID: "q1", RouteType: bridge.RouteLead, State: bridge.StateRouted,
		RoutedAt: routedAt, UpdatedAt: routedAt,
	}
}

func keysOf(legs []*bridge.Interaction) []string {
	var out []string
	for _, l := range legs {
		out = append(out, l.Key().String())
	}
	return out
}

func TestCreateLeg(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})

	tests := []struct {
		name        string
		give        *bridge.Interaction
		wantCreated bool
		wantErr     bool
	}{
		{name: "new leg", give: leg("i1", "r1", "a1", "c1", t0), wantCreated: true},
		{name: "duplicate routing", give: leg("i1", "r1", "a2", "c9", t0.Add(time.Hour)), wantCreated: false},
		{name: "other routing of same interaction", give: leg("i1", "r2", "a1", "c1", t0), wantCreated: true},
		{name: "odd ids", give: leg("i{x}/ y", "r:1}", "a{1}", "c /1", t0), wantCreated: true},
		{name: "empty routing id", give: leg("i1", "", "a1", "c1", t0), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := *tt.give
			created, err := s.CreateLeg(ctx, &in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CreateLeg(%s) error = %v, want error %v", in.Key(), err, tt.wantErr)
			}
			if created != tt.wantCreated {
				t.Fatalf("CreateLeg(%s) created = %v, want %v", in.Key(), created, tt.wantCreated)
			}
			if !tt.wantCreated {
				return
			}
			if in.Version != 1 {
				t.Errorf("CreateLeg(%s) set Version %d, want 1", in.Key(), in.Version)
			}
			got, err := s.GetLeg(ctx, in.Key())
			if err != nil {
				t.Fatalf("GetLeg(%s) = %v", in.Key(), err)
			}
			if diff := cmp.Diff(&in, got); diff != "" {
				t.Errorf("GetLeg(%s) mismatch (-want +got):\n%s", in.Key(), diff)
			}
		})
	}

	// The duplicate did not overwrite the first leg.
	got, err := s.GetLeg(ctx, bridge.LegKey{InteractionID: "i1", RoutingID: "r1"})
	if err != nil || got.AgentID != "a1" {
		t.Errorf("GetLeg(i1/r1) = %+v, %v, want the first leg (agent a1)", got, err)
	}
	if _, err := s.GetLeg(ctx, bridge.LegKey{InteractionID: "nope", RoutingID: "r1"}); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("GetLeg(nope/r1) error = %v, want ErrNotFound", err)
	}
}

func TestCreateLegConcurrent(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	var created atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			ok, err := s.CreateLeg(ctx, leg("i1", "r1", fmt.Sprintf("a%d", i), "c1", t0))
			if err != nil {
				t.Errorf("CreateLeg #%d = %v", i, err)
			}
			if ok {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if n := created.Load(); n != 1 {
		t.Errorf("concurrent CreateLeg created %d legs, want 1", n)
	}
	legs, err := s.InteractionLegs(ctx, "i1")
	if err != nil || len(legs) != 1 {
		t.Errorf("InteractionLegs(i1) = %v, %v, want one leg", keysOf(legs), err)
	}
}

func TestUpdateLeg(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		giveKey     bridge.LegKey
		giveVersion int64
		wantErr     error
		wantVersion int64
	}{
		{name: "current version", giveKey: in.Key(), giveVersion: 1, wantVersion: 2},
		{name: "stale version", giveKey: in.Key(), giveVersion: 1, wantErr: bridge.ErrConflict},
		{name: "version from the future", giveKey: in.Key(), giveVersion: 7, wantErr: bridge.ErrConflict},
		{name: "next version", giveKey: in.Key(), giveVersion: 2, wantVersion: 3},
		{name: "missing leg", giveKey: bridge.LegKey{InteractionID: "i1", RoutingID: "zz"}, giveVersion: 1, wantErr: bridge.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := *in
			up.InteractionID, up.RoutingID = tt.giveKey.InteractionID, tt.giveKey.RoutingID
			up.Version = tt.giveVersion
			up.State = bridge.StatePopping
			up.PopAttempts = int(tt.giveVersion)
			err := s.UpdateLeg(ctx, &up, 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("UpdateLeg(version %d) = %v, want %v", tt.giveVersion, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if up.Version != tt.giveVersion {
					t.Errorf("failed UpdateLeg changed Version to %d", up.Version)
				}
				return
			}
			if up.Version != tt.wantVersion {
				t.Errorf("UpdateLeg Version = %d, want %d", up.Version, tt.wantVersion)
			}
			got, err := s.GetLeg(ctx, in.Key())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&up, got); diff != "" {
				t.Errorf("GetLeg after UpdateLeg mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeaseAndFencing(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	key := in.Key()
	const ttl = 150 * time.Millisecond

	fenceA, ok, err := s.AcquireLease(ctx, key, ttl)
	if err != nil || !ok || fenceA != 1 {
		t.Fatalf("AcquireLease(A) = %d, %v, %v, want 1, true, nil", fenceA, ok, err)
	}
	if f, ok, err := s.AcquireLease(ctx, key, ttl); err != nil || ok || f != 0 {
		t.Fatalf("AcquireLease while held = %d, %v, %v, want 0, false, nil", f, ok, err)
	}
	// A writes while it holds the lease.
	a := *in
	a.State = bridge.StatePopping
	if err := s.UpdateLeg(ctx, &a, fenceA); err != nil {
		t.Fatalf("UpdateLeg(A, fence %d) = %v", fenceA, err)
	}

	time.Sleep(ttl + 100*time.Millisecond) // A's lease expires (A stalled)
	fenceB, ok, err := s.AcquireLease(ctx, key, time.Minute)
	if err != nil || !ok || fenceB <= fenceA {
		t.Fatalf("AcquireLease(B) = %d, %v, %v, want a fence > %d", fenceB, ok, err, fenceA)
	}

	// A wakes up and writes with its old fence: refused even though its version is current.
	a.State = bridge.StateOffered
	if err := s.UpdateLeg(ctx, &a, fenceA); !errors.Is(err, bridge.ErrFenced) {
		t.Fatalf("UpdateLeg(A, stale fence %d) = %v, want ErrFenced", fenceA, err)
	}
	// A's release does not free B's lease.
	if err := s.ReleaseLease(ctx, key, fenceA); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.AcquireLease(ctx, key, ttl); ok {
		t.Fatalf("AcquireLease after stale ReleaseLease succeeded; B's lease was dropped")
	}
	b := a
	b.State = bridge.StateFailed
	if err := s.UpdateLeg(ctx, &b, fenceB); err != nil {
		t.Fatalf("UpdateLeg(B, fence %d) = %v", fenceB, err)
	}
	// B releases; the next holder gets a fresh fence.
	if err := s.ReleaseLease(ctx, key, fenceB); err != nil {
		t.Fatal(err)
	}
	fenceC, ok, err := s.AcquireLease(ctx, key, ttl)
	if err != nil || !ok || fenceC <= fenceB {
		t.Fatalf("AcquireLease after release = %d, %v, %v, want a fence > %d", fenceC, ok, err, fenceB)
	}
	if _, _, err := s.AcquireLease(ctx, key, 0); err == nil {
		t.Errorf("AcquireLease(ttl 0) succeeded, want an error")
	}
}

func TestAgentLegs(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	legs := []*bridge.Interaction{
		leg("i1", "r1", "a1", "c1", t0.Add(2*time.Minute)),
		leg("i2", "r1", "a1", "c2", t0),
		leg("i3", "r1", "a1", "c3", t0.Add(time.Minute)),
		leg("i4", "r1", "a2", "c4", t0),
	}
	for _, l := range legs {
		if _, err := s.CreateLeg(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AgentLegs(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"i2/r1", "i3/r1", "i1/r1"}, keysOf(got)); diff != "" {
		t.Errorf("AgentLegs(a1) mismatch (-want +got):\n%s", diff)
	}

	// Each terminal state drops the leg; non-terminal ones (failed awaiting Complete) stay.
	steps := []struct {
		give  *bridge.Interaction
		state bridge.State
		want  []string
	}{
		{give: legs[2], state: bridge.StateFailed, want: []string{"i2/r1", "i3/r1", "i1/r1"}},
		{give: legs[2], state: bridge.StateCompleted, want: []string{"i2/r1", "i1/r1"}},
		{give: legs[1], state: bridge.StateRequeued, want: []string{"i1/r1"}},
		{give: legs[0], state: bridge.StateRevoked, want: nil},
	}
	for _, st := range steps {
		st.give.State = st.state
		if err := s.UpdateLeg(ctx, st.give, 0); err != nil {
			t.Fatal(err)
		}
		got, err := s.AgentLegs(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st.want, keysOf(got)); diff != "" {
			t.Errorf("AgentLegs(a1) after %s → %s mismatch (-want +got):\n%s", st.give.Key(), st.state, diff)
		}
	}
	if n, _ := client.SCard(ctx, s.Keys().AgentLegs("a1")).Result(); n != 0 {
		t.Errorf("agent index of a1 holds %d members, want 0", n)
	}
	if got, _ := s.AgentLegs(ctx, "a2"); len(got) != 1 {
		t.Errorf("AgentLegs(a2) = %v, want i4/r1", keysOf(got))
	}
}

func TestInteractionAndChatLegs(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	// Created out of order: requeued to another agent, then a transfer.
	for _, l := range []*bridge.Interaction{
		leg("i1", "r3", "a3", "c1", t0.Add(2*time.Minute)),
		leg("i1", "r1", "a1", "c1", t0),
		leg("i1", "r2", "a2", "c1", t0.Add(time.Minute)),
		leg("i2", "r1", "a1", "c2", t0.Add(time.Hour)),
	} {
		if _, err := s.CreateLeg(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.InteractionLegs(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"i1/r1", "i1/r2", "i1/r3"}, keysOf(got)); diff != "" {
		t.Errorf("InteractionLegs(i1) mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.InteractionLegs(ctx, "none"); err != nil || len(got) != 0 {
		t.Errorf("InteractionLegs(none) = %v, %v, want empty", keysOf(got), err)
	}

	tests := []struct {
		site, chat string
		want       string
		wantErr    error
	}{
		{site: "site1", chat: "c1", want: "i1/r3"},
		{site: "site1", chat: "c2", want: "i2/r1"},
		{site: "site2", chat: "c1", wantErr: bridge.ErrNotFound},
		{site: "site1", chat: "c9", wantErr: bridge.ErrNotFound},
	}
	for _, tt := range tests {
		got, err := s.ChatLeg(ctx, tt.site, tt.chat)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ChatLeg(%q, %q) error = %v, want %v", tt.site, tt.chat, err, tt.wantErr)
			continue
		}
		if err == nil && got.Key().String() != tt.want {
			t.Errorf("ChatLeg(%q, %q) = %s, want %s", tt.site, tt.chat, got.Key(), tt.want)
		}
	}

	// The newest leg expired before the index: the next newest answers, and the interaction
	// list skips it.
	if err := client.Del(ctx, s.Keys().Leg(bridge.LegKey{InteractionID: "i1", RoutingID: "r3"})).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChatLeg(ctx, "site1", "c1"); err != nil || got.Key().String() != "i1/r2" {
		t.Errorf("ChatLeg(site1, c1) after newest expired = %v, %v, want i1/r2", got, err)
	}
	got, _ = s.InteractionLegs(ctx, "i1")
	if diff := cmp.Diff([]string{"i1/r1", "i1/r2"}, keysOf(got)); diff != "" {
		t.Errorf("InteractionLegs(i1) after expiry mismatch (-want +got):\n%s", diff)
	}
}

func TestOddIDsRoundTrip(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	in := leg("i{1}/x y", "r}/{2", "agent {7}", "chat/1 {a}", t0)
	in.Site = "site {b}/c"
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() ([]*bridge.Interaction, error){
		"AgentLegs":       func() ([]*bridge.Interaction, error) { return s.AgentLegs(ctx, in.AgentID) },
		"InteractionLegs": func() ([]*bridge.Interaction, error) { return s.InteractionLegs(ctx, in.InteractionID) },
		"ChatLeg": func() ([]*bridge.Interaction, error) {
			l, err := s.ChatLeg(ctx, in.Site, in.ChatID)
			return []*bridge.Interaction{l}, err
		},
	} {
		got, err := get()
		if err != nil {
			t.Errorf("%s = %v", name, err)
			continue
		}
		if diff := cmp.Diff([]*bridge.Interaction{in}, got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestFirstDelivery(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{})
	tests := []struct {
		give string
		want bool
	}{
		{give: "ev1", want: true},
		{give: "ev1", want: false},
		{give: "ev2", want: true},
	}
	for _, tt := range tests {
		got, err := s.FirstDelivery(ctx, tt.give, time.Minute)
		if err != nil || got != tt.want {
			t.Errorf("FirstDelivery(%q) = %v, %v, want %v", tt.give, got, err, tt.want)
		}
	}
	for id, want := range map[string]bool{"ev1": true, "ev2": true, "ev3": false} {
		if got, err := s.Remembered(ctx, id); got != want || err != nil {
			t.Errorf("Remembered(%q) = %v, %v, want %v", id, got, err, want)
		}
	}
}

func TestAgentSession(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{})
	if _, err := s.GetAgentSession(ctx, "a1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("GetAgentSession(a1) before Put = %v, want ErrNotFound", err)
	}
	give := bridge.AgentSession{
		AgentID: "a1", Site: "site1", CRMAccountID: "acc1", CRMChatSessionID: "sess1",
		Channel: bridge.Channel{Green: true}, LoggedInAt: t0, LastSeenAt: t0,
	}
	if err := s.PutAgentSession(ctx, give, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAgentSession(ctx, give, time.Hour); err != nil { // refreshes the TTL
		t.Fatal(err)
	}
	if ttl, _ := client.PTTL(ctx, s.Keys().AgentSession("a1")).Result(); ttl < time.Minute {
		t.Errorf("agent session TTL after second Put = %v, want about 1h", ttl)
	}
	got, err := s.GetAgentSession(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(give, got); diff != "" {
		t.Errorf("GetAgentSession(a1) mismatch (-want +got):\n%s", diff)
	}
	if err := s.DeleteAgentSession(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAgentSession(ctx, "a1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("GetAgentSession(a1) after Delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteAgentSession(ctx, "a1"); err != nil {
		t.Errorf("DeleteAgentSession(a1) twice = %v, want nil", err)
	}
}

func TestTimelineCap(t *testing.T) {
	ctx := t.Context()
	s, _ := newStore(t, sessions.Options{TimelineMax: 5})
	var want []bridge.TimelineEntry
	for i := range 8 {
		e := bridge.TimelineEntry{At: t0.Add(time.Duration(i) * time.Second), Kind: bridge.TimelineDecision, Detail: fmt.Sprint(i)}
		if err := s.AppendTimeline(ctx, "i1", e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	got, err := s.Timeline(ctx, "i1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[3:], got); diff != "" {
		t.Errorf("Timeline(i1) mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.Timeline(ctx, "none"); err != nil || len(got) != 0 {
		t.Errorf("Timeline(none) = %v, %v, want empty", got, err)
	}
}

func TestKeysHaveTTL(t *testing.T) {
	ctx := t.Context()
	s, client := newStore(t, sessions.Options{ReclaimIdle: 100 * time.Millisecond, BlockFor: 50 * time.Millisecond})

	// Touch every kind of key.
	in := leg("i1", "r1", "a1", "c1", t0)
	if _, err := s.CreateLeg(ctx, in); err != nil {
		t.Fatal(err)
	}
	fence, _, _ := s.AcquireLease(ctx, in.Key(), time.Minute)
	in.State = bridge.StatePopping
	if err := s.UpdateLeg(ctx, in, fence); err != nil {
		t.Fatal(err)
	}
	steps := []error{
		s.PutAgentSession(ctx, bridge.AgentSession{AgentID: "a1"}, time.Hour),
		s.AppendTimeline(ctx, "i1", bridge.TimelineEntry{Kind: bridge.TimelineACDEvent}),
		s.Enqueue(ctx, "pops", []byte("x")),
		s.Enqueue(ctx, "pops", []byte("y")),
	}
	_, err := s.FirstDelivery(ctx, "ev1", time.Hour)
	steps = append(steps, err)
	_, err = s.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	var handled atomic.Int32
	go func() {
		_ = s.Consume(cctx, "pops", "c1", func(context.Context, bridge.WorkItem) error {
			if handled.Add(1) == 1 {
				return errors.New("fail once")
			}
			return nil
		})
	}()
	waitFor(t, 5*time.Second, "queue drained", func() bool { d, _ := s.Depth(ctx, "pops"); return d == 0 })
	cancel()

	var keys []string
	iter := client.Scan(ctx, 0, s.Keys().Prefix()+":*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(keys) < 10 {
		t.Errorf("found %d keys under the prefix, want every kind (>= 10): %v", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(k, s.Keys().QueuePrefix()) {
			if typ, _ := client.Type(ctx, k).Result(); typ != "stream" {
				t.Errorf("queue key %s is a %s, want a stream", k, typ)
			}
			continue // documented: bounded by ack+delete and QueueMaxLen, no TTL
		}
		if ttl <= 0 {
			t.Errorf("key %s has TTL %v, want > 0", k, ttl)
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAgentByAccount(t *testing.T) {
	s, _ := newStore(t, sessions.Options{})
	ctx := context.Background()
	if _, err := s.AgentByAccount(ctx, "demo", "acct-1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("AgentByAccount(before login) = %v, want ErrNotFound", err)
	}
	a1 := bridge.AgentSession{AgentID: "a1", Site: "demo", CRMAccountID: "acct-1"}
	if err := s.PutAgentSession(ctx, a1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AgentByAccount(ctx, "demo", "acct-1"); err != nil || got != "a1" {
		t.Fatalf("AgentByAccount() = %q, %v; want a1", got, err)
	}
	if _, err := s.AgentByAccount(ctx, "other-site", "acct-1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("AgentByAccount(other site) = %v, want ErrNotFound", err)
	}
	// The account moves to agent a2; a1's logout must not unbind it.
	if err := s.PutAgentSession(ctx, bridge.AgentSession{AgentID: "a2", Site: "demo", CRMAccountID: "acct-1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAgentSession(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AgentByAccount(ctx, "demo", "acct-1"); err != nil || got != "a2" {
		t.Errorf("after a1 logs out, AgentByAccount() = %q, %v; want a2", got, err)
	}
	if err := s.DeleteAgentSession(ctx, "a2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AgentByAccount(ctx, "demo", "acct-1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("after a2 logs out, AgentByAccount() = %v, want ErrNotFound", err)
	}
}

func TestNamedLockAndFencedCursor(t *testing.T) {
	s, _ := newStore(t, sessions.Options{})
	ctx := context.Background()
	const name = "crm-events/demo"
	if c, err := s.Cursor(ctx, name); err != nil || c != 0 {
		t.Fatalf("Cursor(new) = %d, %v; want 0", c, err)
	}
	fa, ok, err := s.AcquireLock(ctx, name, 200*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("AcquireLock(A) = %v, %v", ok, err)
	}
	if _, ok, _ := s.AcquireLock(ctx, name, time.Second); ok {
		t.Fatal("AcquireLock(B) succeeded while A holds the lock")
	}
	if err := s.SetCursor(ctx, name, fa, 7); err != nil {
		t.Fatalf("SetCursor(A) = %v", err)
	}
	if ok, err := s.RenewLock(ctx, name, fa, 200*time.Millisecond); err != nil || !ok {
		t.Fatalf("RenewLock(A) = %v, %v", ok, err)
	}
	time.Sleep(300 * time.Millisecond) // A stops renewing (it died)
	fb, ok, err := s.AcquireLock(ctx, name, time.Second)
	if err != nil || !ok || fb <= fa {
		t.Fatalf("AcquireLock(B) after expiry = fence %d ok %v err %v; want a fence above %d", fb, ok, err, fa)
	}
	if ok, _ := s.RenewLock(ctx, name, fa, time.Second); ok {
		t.Error("stale holder A renewed B's lock")
	}
	if err := s.SetCursor(ctx, name, fa, 3); !errors.Is(err, bridge.ErrFenced) {
		t.Errorf("SetCursor(stale A) = %v, want ErrFenced", err)
	}
	if err := s.ReleaseLock(ctx, name, fa); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(ctx, name); c != 7 {
		t.Errorf("Cursor() = %d, want 7 (the stale write must not land)", c)
	}
	if _, ok, _ := s.AcquireLock(ctx, name, time.Second); ok {
		t.Error("stale A's release freed B's lock")
	}
}
