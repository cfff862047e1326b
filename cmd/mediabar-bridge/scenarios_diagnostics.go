package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func diagnosticsScenarios() []scenario {
	return []scenario{
		{name: "status/diagnostics-name-each-red-reason", run: scenarioDiagnostics},
	}
}

// Each thing that keeps chats from an agent shows on the media bar's diagnostics, in words,
// and goes away when it is fixed: no live event stream, the CRM status, the ACD's ready
// flag, capacity.
func scenarioDiagnostics(ctx context.Context, h *harness) error {
	// Ready in the ACD, with a skill nothing waits in: chats requeued by earlier scenarios
	// must not fill its one slot before the capacity step does.
	a, err := h.newAgent(ctx, agentSetup{maxSessions: 1, acdQueues: []string{directQueue}})
	if err != nil {
		return err
	}
	// newAgent leaves the agent not ready in the ACD: make it ready, and wait for the ACD's
	// agent.state_changed to reach the bridge.
	if err := h.acd.SetAgentReady(a.acdID, true, ""); err != nil {
		return err
	}
	// No media bar stream open yet: that is a reason too.
	if err := waitReasons(ctx, a, "no event stream", "no live event stream"); err != nil {
		return err
	}
	closeStream, err := a.mb.openStream(ctx)
	if err != nil {
		return err
	}
	defer closeStream()
	if err := waitReasons(ctx, a, "a ready, green agent with its stream open"); err != nil {
		return err
	}
	steps := []struct {
		what, want string
		cause, fix func() error
	}{
		{"CRM status On Break", `"On Break"`,
			func() error { return h.crm.SetStatus(h.site, a.account, "On Break") },
			func() error { return h.crm.SetStatus(h.site, a.account, "Unrestricted") }},
		{"ACD not ready", "not ready (lunch)",
			func() error { return h.acd.SetAgentReady(a.acdID, false, "lunch") },
			func() error { return h.acd.SetAgentReady(a.acdID, true, "") }},
	}
	for i, s := range steps {
		if err := s.cause(); err != nil {
			return err
		}
		if err := waitReasons(ctx, a, s.what, s.want); err != nil {
			return err
		}
		// Diagnostics read the CRM live, so the reason shows before the bridge has applied
		// the CRM's status event. The channel is the bridge's own view: wait for it, so
		// that the ACD calls the event brings are queued before the outbox is checked.
		crmStep := i == 0
		if crmStep {
			if _, err := waitChannel(ctx, a, s.what+" (channel red)", func(c bridge.Channel) bool { return !c.Green }); err != nil {
				return err
			}
		}
		if err := s.fix(); err != nil {
			return err
		}
		if err := waitReasons(ctx, a, s.what+" fixed"); err != nil {
			return err
		}
		if crmStep {
			if _, err := waitChannel(ctx, a, s.what+" fixed (channel green)", func(c bridge.Channel) bool { return c.Green }); err != nil {
				return err
			}
		}
		// The bridge's own ACD calls for the turn (not ready on red, ready on green) are
		// made before the next step, so they cannot land in the middle of it.
		if err := h.waitOutboxDrained(ctx); err != nil {
			return err
		}
		if err := waitReasons(ctx, a, s.what+" settled"); err != nil {
			return err
		}
	}
	// All slots in use: one active chat with max sessions 1.
	if err := h.acd.SetAgentReady(a.acdID, false, "scenario"); err != nil { // only explicit routings
		return err
	}
	if _, err := h.activeChat(ctx, a); err != nil {
		return err
	}
	return waitReasons(ctx, a, "capacity", "(1 of 1)", "not ready (scenario)")
}

// waitReasons waits until every wanted fragment is in some reason (none wanted: no reason at
// all). A cause may bring more than one reason (a red CRM status also turns the channel red
// and the agent not ready in the ACD).
func waitReasons(ctx context.Context, a *scAgent, what string, want ...string) error {
	var last []string
	for {
		d, err := a.mb.diagnostics(ctx)
		if err == nil {
			last = d.Reasons
			if matchReasons(d.Reasons, want) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("diagnostics for %s: reasons %q, want %q among them (last error %v)", what, last, want, err)
		case <-time.After(30 * time.Millisecond):
		}
	}
}

func matchReasons(got, want []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
