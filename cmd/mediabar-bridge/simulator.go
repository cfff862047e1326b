package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// simulator plays customers and agents for the demo: customers start chats in the mock CRM,
// the bridge's intake hands them to the mock ACD, which routes them, and agents (through the media-bar API and the CRM console
// controls) accept, chat, and complete with a disposition. The last demo agent is left to a
// person at the reference media bar: only its customers are simulated (they end the chat).
type simulator struct {
	w      *world
	agents []*simAgent
	mu     sync.Mutex
	st     simStats
	seen   map[string]bridge.State
}

type simAgent struct {
	demoAgent
	token     string
	sessionID string // CRM chat session, for the media bar's login form
	mb        *mediabarClient
	// human: a person answers this agent's offers and completes its chats in the reference
	// media bar; the simulator keeps only its CRM console alive and plays its customers.
	human bool
}

// humanCustomerPatience is how long a customer of the human's agent chats before ending the
// chat (so the person sees wrap-up and Complete without a CRM console to end it from).
const humanCustomerPatience = 20 * time.Second

type simStats struct{ created, offered, accepted, completed, failed int }

// newSimulator logs every demo agent in to CRM chat and then to the media bar.
func newSimulator(ctx context.Context, w *world) (*simulator, error) {
	s := &simulator{w: w, seen: map[string]bridge.State{}}
	for i, a := range demoAgents {
		sessionID, err := w.crm.Login(w.site, a.crmAccount)
		if err != nil {
			return nil, fmt.Errorf("crm login %s: %w", a.crmAccount, err)
		}
		mb := newMediabarClient(w.bridgeURL)
		if err := mb.login(ctx, httpapi.LoginRequest{AgentID: a.acdID, Site: w.site, CRMAccountID: a.crmAccount, CRMChatSessionID: sessionID}); err != nil {
			return nil, fmt.Errorf("media-bar login %s: %w", a.acdID, err)
		}
		s.agents = append(s.agents, &simAgent{demoAgent: a, token: mb.token, sessionID: sessionID, mb: mb,
			human: i == len(demoAgents)-1})
	}
	return s, nil
}

func (s *simulator) stats() simStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *simulator) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastChat time.Time
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if every > 0 && now.Sub(lastChat) >= every {
				lastChat = now
				q := demoQueues[n%len(demoQueues)]
				n++
				s.newChat(q.id, fmt.Sprintf("Customer %d", n))
			}
			for _, a := range s.agents {
				_ = s.w.crm.Heartbeat(s.w.site, a.crmAccount)
				s.work(ctx, a, now)
			}
		}
	}
}

// newChat is a customer starting a chat in the CRM queue. Nothing else: the bridge's intake
// sees it waiting and has the ACD create the interaction, which the ACD then routes.
func (s *simulator) newChat(queueID, customer string) {
	if _, err := s.w.crm.CreateChat(s.w.site, queueID, customer); err != nil {
		return
	}
	s.mu.Lock()
	s.st.created++
	s.mu.Unlock()
}

// work is one agent's reaction to its interactions: accept offers after a second, end chats
// after a few seconds, complete wrap-ups with the queue's first disposition. For the human's
// agent it is only the customer ending an active chat after a while.
func (s *simulator) work(ctx context.Context, a *simAgent, now time.Time) {
	legs, err := a.mb.interactions(ctx)
	if err != nil {
		return
	}
	for _, in := range legs {
		age := now.Sub(in.UpdatedAt)
		s.count(in)
		if a.human {
			if in.State == bridge.StateActive && age > humanCustomerPatience {
				_ = s.w.crm.Conclude(s.w.site, in.ChatID, "END_USER_CONCLUDED")
			}
			continue
		}
		switch in.State {
		case bridge.StateOffered:
			if age > time.Second {
				_ = s.w.crm.Respond(s.w.site, in.ChatID, "accept")
			}
		case bridge.StateActive:
			if age > 3*time.Second {
				_ = s.w.crm.Conclude(s.w.site, in.ChatID, "AGENT_CONCLUDED")
			}
		case bridge.StateWrapUp, bridge.StateFailed, bridge.StateAbandoned:
			if age > time.Second {
				disposition := ""
				if q, ok := s.w.cfg.Site(in.Site); ok {
					if qq, ok := q.Queue(in.QueueID); ok && len(qq.Dispositions) > 0 {
						disposition = qq.Dispositions[0]
					}
				}
				if in.State != bridge.StateWrapUp {
					disposition = ""
				}
				if done, err := a.mb.complete(ctx, in.InteractionID, disposition); err == nil {
					s.count(done)
				}
			}
		}
	}
}

// count tallies each leg's first visit to a state.
func (s *simulator) count(in *bridge.Interaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := in.Key().String()
	if s.seen[k+string(in.State)] != "" {
		return
	}
	s.seen[k+string(in.State)] = in.State
	switch in.State {
	case bridge.StateOffered:
		s.st.offered++
	case bridge.StateActive:
		s.st.accepted++
	case bridge.StateCompleted:
		s.st.completed++
		// The leg is done: forget it, so a demo left running does not grow.
		for _, st := range []bridge.State{bridge.StateOffered, bridge.StateActive, bridge.StateFailed, bridge.StateCompleted} {
			delete(s.seen, k+string(st))
		}
	case bridge.StateFailed:
		s.st.failed++
	}
}
