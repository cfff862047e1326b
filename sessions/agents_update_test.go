package sessions_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

func TestUpdateAgentSession(t *testing.T) {
	ctx := t.Context()
	s, rdb := newStore(t, sessions.Options{})
	put := bridge.AgentSession{AgentID: "a1", Site: "site1", CRMAccountID: "acct-1", Channel: bridge.Channel{Green: true}}
	if err := s.PutAgentSession(ctx, put, time.Hour); err != nil {
		t.Fatal(err)
	}

	// Concurrent read-modify-writes: none is lost.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := s.UpdateAgentSession(ctx, "a1", func(as *bridge.AgentSession) (bool, error) {
				as.Channel.SecondsToDisconnect++
				return true, nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetAgentSession(ctx, "a1")
	if err != nil || got.Channel.SecondsToDisconnect != 20 || got.CRMAccountID != "acct-1" {
		t.Fatalf("after 20 concurrent updates: %+v, %v; want the counter at 20 and the rest kept", got, err)
	}
	if ttl := rdb.PTTL(ctx, s.Keys().AgentSession("a1")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL after updates = %v, want the Put's hour kept", ttl)
	}

	// mutate may decline to write, or fail; neither writes.
	boom := errors.New("boom")
	if _, err := s.UpdateAgentSession(ctx, "a1", func(as *bridge.AgentSession) (bool, error) {
		as.Channel.Green = false
		return false, boom
	}); !errors.Is(err, boom) {
		t.Errorf("mutate error = %v, want it returned", err)
	}
	if got, _ := s.GetAgentSession(ctx, "a1"); !got.Channel.Green {
		t.Error("a failed mutate was written")
	}

	// A deleted session (logout) is not brought back.
	if err := s.DeleteAgentSession(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAgentSession(ctx, "a1", func(*bridge.AgentSession) (bool, error) { return true, nil }); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("update of a deleted session = %v, want ErrNotFound", err)
	}
	if _, err := s.GetAgentSession(ctx, "a1"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("the update brought the session back: %v", err)
	}
}
