package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
)

// nemesis injects one fault at a time while the chats run: a quiet gap, a fault of a kind
// drawn from the enabled ones, held for a few seconds, then healed. Every fault is in the
// history (invoke when it starts, ok when it is healed) and counted by kind.
type nemesis struct {
	w      *chaosWorld
	kinds  []string
	mu     sync.Mutex
	counts map[string]int
	// restartFailures: a replica or Redis that did not come back (the run goes on with the
	// others; the report says so).
	restartFailures []string
}

func newNemesis(w *chaosWorld) *nemesis {
	return &nemesis{w: w, kinds: w.o.faults, counts: map[string]int{}}
}

// crmAPIOps are the CRM operations the bridge calls besides the event long poll, which the
// run's own feed recorder shares with the bridge and which the TCP proxy breaks instead.
var crmAPIOps = []string{crmmock.OpAuthenticate, crmmock.OpChatRouted, crmmock.OpRespond, crmmock.OpAgentSession,
	crmmock.OpWaiting, crmmock.OpEngagement}

func (n *nemesis) run(ctx context.Context, seed uint64) {
	if len(n.kinds) == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	// The kinds in a seeded order, cycled: a short run still meets as many kinds as it has
	// time for, none twice before the others.
	order := slices.Clone(n.kinds)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(500+rng.IntN(1000)) * time.Millisecond):
		}
		kind := order[i%len(order)]
		hold := time.Duration(1000+rng.IntN(3000)) * time.Millisecond
		n.inject(ctx, kind, hold, rng)
	}
}

// inject applies one fault for hold and heals it.
func (n *nemesis) inject(ctx context.Context, kind string, hold time.Duration, rng *rand.Rand) {
	w := n.w
	detail := ""
	var heal func()
	switch kind {
	case faultCRM5xx:
		for _, op := range crmAPIOps {
			_ = w.crm.InjectFault(crmmock.Fault{Op: op, HTTPStatus: 503, Percent: 50})
		}
		heal = w.crm.ClearFaults
	case faultCRMOutage:
		for _, op := range crmAPIOps {
			_ = w.crm.InjectFault(crmmock.Fault{Op: op, HTTPStatus: 503})
		}
		detail = fmt.Sprintf("%d connections reset", w.proxy.ResetAll())
		w.proxy.SetResetPercent(100) // the long polls fail too
		heal = func() { w.proxy.SetResetPercent(0); w.crm.ClearFaults() }
	case faultCRMHang:
		for _, op := range []string{crmmock.OpChatRouted, crmmock.OpRespond, crmmock.OpAgentSession} {
			_ = w.crm.InjectFault(crmmock.Fault{Op: op, Hang: true, Percent: 30})
		}
		heal = w.crm.ClearFaults
	case faultCRMSlow:
		delay := 300 + rng.IntN(1200)
		detail = fmt.Sprintf("%dms", delay)
		for _, op := range crmAPIOps {
			_ = w.crm.InjectFault(crmmock.Fault{Op: op, DelayMS: delay, Percent: 50})
		}
		heal = w.crm.ClearFaults
	case faultCRMLostAnswer:
		for _, op := range []string{crmmock.OpChatRouted, crmmock.OpRespond} {
			_ = w.crm.InjectFault(crmmock.Fault{Op: op, LoseAnswer: true, Percent: 30})
		}
		heal = w.crm.ClearFaults
	case faultTCPReset:
		detail = fmt.Sprintf("%d connections reset", w.proxy.ResetAll())
		w.proxy.SetResetPercent(30)
		heal = func() { w.proxy.SetResetPercent(0) }
	case faultACDOutage:
		w.acd.SetDown(true)
		heal = func() { w.acd.SetDown(false) }
	case faultWebhookDup:
		w.relay.duplicate.Store(true)
		heal = func() { w.relay.duplicate.Store(false) }
	case faultWebhookOrder:
		w.relay.reorder.Store(true)
		heal = func() { w.relay.reorder.Store(false) }
	case faultPresence:
		a := w.agents[rng.IntN(len(w.agents))]
		disconnect := rng.IntN(100) < 30
		a.presenceOff.Store(true)
		if disconnect {
			// The CRM tears the session down and requeues the agent's chats itself; the agent
			// reloads its console and logs in again once the fault heals.
			detail = a.acdID + " disconnected"
			_ = w.crm.SetPresence(w.site, a.account, crmmock.PresenceDisconnected)
			a.relogin.Store(true)
		} else {
			detail = a.acdID + " absent"
			_ = w.crm.SetPresence(w.site, a.account, crmmock.PresenceAbsent)
		}
		heal = func() { a.presenceOff.Store(false) }
	case faultReplicaKill:
		r := w.replicas[rng.IntN(len(w.replicas))]
		if n.liveReplicas() < 2 {
			return // keep one replica serving
		}
		detail = "replica " + r.name
		r.kill()
		heal = func() {
			if err := r.start(context.WithoutCancel(ctx), 30*time.Second); err != nil {
				n.noteRestartFailure("replica " + r.name + ": " + err.Error())
			}
		}
	case faultRedisRestart:
		if w.redis == nil {
			return
		}
		w.redis.kill()
		hold = time.Duration(300+rng.IntN(1200)) * time.Millisecond
		heal = func() {
			if err := w.redis.start(context.WithoutCancel(ctx)); err != nil {
				n.noteRestartFailure("redis: " + err.Error())
			}
		}
	default:
		return
	}
	p := w.hist.invoke(chaosOp{Process: "nemesis", F: fFault, Value: kind + " " + detail})
	n.mu.Lock()
	n.counts[kind]++
	n.mu.Unlock()
	select {
	case <-time.After(hold):
	case <-ctx.Done():
	}
	heal()
	p.ok(kind + " healed after " + hold.Round(time.Millisecond).String())
}

func (n *nemesis) liveReplicas() int {
	k := 0
	for _, r := range n.w.replicas {
		if r.alive() {
			k++
		}
	}
	return k
}

func (n *nemesis) noteRestartFailure(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.restartFailures = append(n.restartFailures, s)
}

// healAll ends every fault (after the run's nemesis loop stopped) and restarts whatever is down.
func (n *nemesis) healAll(ctx context.Context) {
	w := n.w
	w.crm.ClearFaults()
	w.proxy.SetResetPercent(0)
	w.acd.SetDown(false)
	w.relay.duplicate.Store(false)
	w.relay.reorder.Store(false)
	for _, a := range w.agents {
		a.presenceOff.Store(false)
	}
	for _, r := range w.replicas {
		if !r.alive() {
			if err := r.start(ctx, 30*time.Second); err != nil {
				n.noteRestartFailure("replica " + r.name + ": " + err.Error())
			}
		}
	}
}

func (n *nemesis) faultCounts() map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for k, v := range n.counts {
		out[k] = v
	}
	return out
}

func (n *nemesis) failures() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.restartFailures)
}
