package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The run's actors: the CRM feed recorder (the assignment history), the agents (media bar
// and CRM console) and the customers (closed loop: a new chat when one ends).

// crmRecorder long-polls the mock CRM's event feed directly (not through the faulty proxy)
// and keeps every event: the CRM's assignment history for the checker. It also tells
// customers when their chat ended.
type crmRecorder struct {
	url, site string
	hc        *http.Client

	mu        sync.Mutex
	events    []crmFeedEvent
	lastSeq   int64
	concluded map[string]chan struct{}
}

func newCRMRecorder(url, site string) *crmRecorder {
	return &crmRecorder{url: url, site: site, hc: &http.Client{Timeout: 10 * time.Second}, concluded: map[string]chan struct{}{}}
}

// run polls until ctx ends; done is closed once the recorder has caught up after ctx ended.
func (c *crmRecorder) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := c.pollOnce(ctx, 2); err != nil && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// pollOnce reads the events after the last one seen (waiting up to wait seconds).
func (c *crmRecorder) pollOnce(ctx context.Context, wait int) error {
	c.mu.Lock()
	after := c.lastSeq
	c.mu.Unlock()
	u := c.url + "/crm/v1/sites/" + c.site + "/events?after=" + strconv.FormatInt(after, 10) + "&wait=" + strconv.Itoa(wait)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+crmmock.DefaultAPIKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var page struct {
		Result string         `json:"result"`
		Events []crmFeedEvent `json:"events"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return fmt.Errorf("CRM feed: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range page.Events {
		if e.Seq <= c.lastSeq {
			continue
		}
		if e.Seq != c.lastSeq+1 && c.lastSeq != 0 {
			// The mock keeps the last 10,000 events per site; falling that far behind would
			// leave holes in the assignment history, which the report must say.
			c.events = append(c.events, crmFeedEvent{Seq: c.lastSeq + 1, Type: "GAP", At: e.At})
		}
		c.lastSeq = e.Seq
		c.events = append(c.events, e)
		if e.Type == crmmock.EventEngagementConcluded && e.ChatID != "" {
			c.doneLocked(e.ChatID)
		}
	}
	return nil
}

// doneLocked closes (creating it if needed) the chat's "concluded" channel.
func (c *crmRecorder) doneLocked(chatID string) {
	ch, ok := c.concluded[chatID]
	if !ok {
		ch = make(chan struct{})
		c.concluded[chatID] = ch
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// concludedCh is closed when the chat is concluded in the CRM.
func (c *crmRecorder) concludedCh(chatID string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.concluded[chatID]
	if !ok {
		ch = make(chan struct{})
		c.concluded[chatID] = ch
	}
	return ch
}

// drain reads whatever is left in the feed (after the run).
func (c *crmRecorder) drain(ctx context.Context) error {
	for range 100 {
		c.mu.Lock()
		before := c.lastSeq
		c.mu.Unlock()
		if err := c.pollOnce(ctx, 0); err != nil {
			return err
		}
		c.mu.Lock()
		after := c.lastSeq
		c.mu.Unlock()
		if after == before {
			return nil
		}
	}
	return nil
}

func (c *crmRecorder) snapshot() []crmFeedEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]crmFeedEvent(nil), c.events...)
}

// chaosAgent is one simulated agent: its CRM console (presence polls, ending chats) and its
// media bar (login, the interaction list, Accept, Complete), on whichever replica answers.
type chaosAgent struct {
	w              *chaosWorld
	name           string
	acdID, account string
	rng            *rand.Rand

	// presenceOff: the console stopped polling (nemesis); relogin: the session is gone and
	// the agent must log in again (set by the nemesis after a forced disconnect).
	presenceOff atomic.Bool
	relogin     atomic.Bool

	mu        sync.Mutex
	mb        *mediabarClient
	replica   int
	seen      map[string]bool // leg key + state already recorded as observed
	activeAt  map[bridge.LegKey]time.Time
	holdFor   map[bridge.LegKey]time.Duration
	lastTry   map[string]time.Time // leg key + action → last attempt
	notReady  int                  // consecutive checks that found the agent not ready in the ACD
	lastCheck time.Time
}

func (w *chaosWorld) newAgent(i int, seed uint64) (*chaosAgent, error) {
	a := &chaosAgent{w: w, name: "agent-" + strconv.Itoa(i), acdID: "chaos-agent-" + strconv.Itoa(i), account: "chaos-acct-" + strconv.Itoa(i),
		rng: rand.New(rand.NewPCG(seed, uint64(i))), replica: i, seen: map[string]bool{}, activeAt: map[bridge.LegKey]time.Time{},
		holdFor: map[bridge.LegKey]time.Duration{}, lastTry: map[string]time.Time{}}
	queues := make([]string, len(w.queues))
	for i, q := range w.queues {
		queues[i] = q.id
	}
	if err := w.crm.CreateAgent(w.site, crmmock.Agent{AccountID: a.account, Queues: queues, MaxSessions: w.o.capacity}); err != nil {
		return nil, err
	}
	if err := w.acd.AddAgent(acdmockAgent(a, queues, w.o.capacity)); err != nil {
		return nil, err
	}
	return a, nil
}

// login is the agent starting its shift again: CRM chat first (available status), then
// the media bar with that chat session, as SPEC 2.1 requires.
func (a *chaosAgent) login(ctx context.Context) error {
	p := a.w.hist.invoke(chaosOp{Process: a.name, F: fLogin, Agent: a.acdID})
	a.mu.Lock()
	old := a.mb
	a.mu.Unlock()
	if old != nil && old.token != "" {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = old.do(lctx, http.MethodPost, "/v1/mediabar/logout", nil, nil)
		cancel()
	}
	sessionID, err := a.w.crm.Login(a.w.site, a.account)
	if err != nil {
		p.fail("crm login: " + err.Error())
		return err
	}
	var lastErr error
	for try := range 2 * len(a.w.replicas) {
		mb := newMediabarClient(a.w.liveReplica(a.replica + try).url)
		mb.hc.Timeout = 3 * time.Second
		lctx, cancel := context.WithTimeout(ctx, 4*time.Second)
		lastErr = mb.login(lctx, httpapi.LoginRequest{AgentID: a.acdID, Site: a.w.site, CRMAccountID: a.account, CRMChatSessionID: sessionID})
		cancel()
		if lastErr == nil {
			a.mu.Lock()
			a.mb = mb
			a.mu.Unlock()
			a.relogin.Store(false)
			p.ok("crm session " + sessionID)
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.end(lastErr, "")
	return lastErr
}

// client returns the agent's media-bar client pointed at a live replica (the token works on
// any replica).
func (a *chaosAgent) client() *mediabarClient {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.w.liveReplica(a.replica)
	if a.mb.base != r.url {
		mb := newMediabarClient(r.url)
		mb.hc.Timeout = 3 * time.Second
		mb.token = a.mb.token
		a.mb = mb
	}
	return a.mb
}

// failedOver moves the agent to the next replica after a call failed without an answer.
func (a *chaosAgent) failedOver() {
	a.mu.Lock()
	a.replica++
	a.mu.Unlock()
}

// run is the agent's loop: poll presence, read the media bar, act on each leg.
func (a *chaosAgent) run(ctx context.Context) {
	tick := time.NewTicker(time.Duration(250+a.rng.IntN(100)) * time.Millisecond)
	defer tick.Stop()
	lastPoll := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if !a.presenceOff.Load() && now.Sub(lastPoll) > time.Second {
			lastPoll = now
			if err := a.w.crm.Heartbeat(a.w.site, a.account); errors.Is(err, crmmock.ErrConflict) {
				a.relogin.Store(true) // the CRM tore the session down: reload the console
			}
		}
		if a.relogin.Load() && !a.presenceOff.Load() {
			if err := a.login(ctx); err != nil {
				continue
			}
		}
		a.checkReady(ctx, now)
		a.work(ctx, now)
	}
}

// work reads the agent's interactions and acts like a person at the media bar would.
func (a *chaosAgent) work(ctx context.Context, now time.Time) {
	mb := a.client()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	sent := time.Now()
	legs, err := mb.interactions(cctx)
	if err != nil {
		var se *apiStatusError
		if errors.As(err, &se) && se.Status == http.StatusUnauthorized {
			a.relogin.Store(true)
		} else {
			a.failedOver()
		}
		return
	}
	for _, l := range legs {
		a.observe(l, sent)
		key := l.Key()
		switch l.State {
		case bridge.StateOffered:
			a.try(ctx, l, fAccept, func(ctx context.Context) error {
				_, err := mb.answerLeg(ctx, l.InteractionID, l.RoutingID, "accept")
				return err
			})
		case bridge.StateActive:
			a.mu.Lock()
			since, ok := a.activeAt[key]
			if !ok {
				since = now
				a.activeAt[key] = now
				a.holdFor[key] = time.Duration(200+a.rng.IntN(1300)) * time.Millisecond
			}
			hold := a.holdFor[key]
			a.mu.Unlock()
			if now.Sub(since) >= hold {
				a.try(ctx, l, fConclude, func(context.Context) error {
					err := a.w.crm.Conclude(a.w.site, l.ChatID, crmmock.EndAgentConcluded)
					if errors.Is(err, crmmock.ErrConflict) {
						return nil // concluded already (the customer left first)
					}
					return err
				})
			}
		case bridge.StateWrapUp, bridge.StateFailed, bridge.StateAbandoned:
			disposition := ""
			if l.State == bridge.StateWrapUp {
				disposition = a.w.dispositionOf(l.QueueID)
			}
			a.try(ctx, l, fComplete, func(ctx context.Context) error {
				_, err := mb.completeLeg(ctx, l.InteractionID, l.RoutingID, disposition)
				return err
			})
		}
	}
}

// observe records the first time the agent's media bar showed a leg in a state.
func (a *chaosAgent) observe(l *bridge.Interaction, at time.Time) {
	k := l.Key().String() + "|" + string(l.State)
	a.mu.Lock()
	seen := a.seen[k]
	a.seen[k] = true
	a.mu.Unlock()
	if !seen {
		a.w.hist.add(chaosOp{Time: at, Process: a.name, Type: opOK, F: fObserve, InteractionID: l.InteractionID,
			RoutingID: l.RoutingID, ChatID: l.ChatID, Agent: a.acdID, Value: string(l.State) + " " + l.Code})
	}
}

// try runs an action on a leg at most once a second (a person clicks again if nothing
// happened), recording it in the history.
func (a *chaosAgent) try(ctx context.Context, l *bridge.Interaction, f string, do func(context.Context) error) {
	k := l.Key().String() + "|" + f
	a.mu.Lock()
	if time.Since(a.lastTry[k]) < time.Second {
		a.mu.Unlock()
		return
	}
	a.lastTry[k] = time.Now()
	a.mu.Unlock()
	p := a.w.hist.invoke(chaosOp{Process: a.name, F: f, InteractionID: l.InteractionID, RoutingID: l.RoutingID, ChatID: l.ChatID, Agent: a.acdID})
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := do(cctx)
	p.end(err, "")
	var se *apiStatusError
	if err != nil && !errors.As(err, &se) {
		a.failedOver()
	}
}

// checkReady is the agent looking at its ACD desktop every few seconds: after a lost CRM
// session the bridge set it not ready (SPEC 2.2); once its channel is green again and it
// still shows not ready on two looks in a row, the agent makes itself ready, as a person
// would.
func (a *chaosAgent) checkReady(ctx context.Context, now time.Time) {
	if now.Sub(a.lastCheck) < 3*time.Second || a.presenceOff.Load() || a.relogin.Load() {
		return
	}
	a.lastCheck = now
	v, ok := a.w.acd.Agent(a.acdID)
	if !ok || v.Ready {
		a.notReady = 0
		return
	}
	a.notReady++
	if a.notReady < 3 {
		return
	}
	a.notReady = 0
	p := a.w.hist.invoke(chaosOp{Process: a.name, F: fSetReady, Agent: a.acdID, Value: "was not ready: " + v.Reason})
	p.end(a.w.acd.SetAgentReady(a.acdID, true, ""), "")
}

// dispositionOf is the disposition a queue requires ("" when none).
func (w *chaosWorld) dispositionOf(queueID string) string {
	for _, q := range w.queues {
		if q.id == queueID {
			return q.disposition
		}
	}
	return ""
}

// customers start chats, closed loop: at most concurrency chats open at once.
type customers struct {
	w                 *chaosWorld
	created, abandons atomic.Int64
}

// run starts o.chats chats and returns when every customer is done (served, gone, or given
// up after the deadline).
func (cs *customers) run(ctx context.Context, o chaosOptions, seed uint64, progress io.Writer) {
	rng := rand.New(rand.NewPCG(seed, 7))
	slots := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	lastReport := start
	for i := range o.chats {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		q := cs.w.queues[i%len(cs.w.queues)]
		abandonAfter := time.Duration(-1)
		if rng.IntN(100) < o.abandonPercent {
			abandonAfter = time.Duration(rng.IntN(4000)) * time.Millisecond
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			cs.one(ctx, i, q, abandonAfter, o.deadline)
		}()
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(progress, "chaos: %d/%d chats started (%s)\n", i+1, o.chats, time.Since(start).Round(time.Second))
		}
	}
	wg.Wait()
}

// one is one customer: a chat in the queue, maybe leaving early, waiting until the chat ends.
func (cs *customers) one(ctx context.Context, i int, q chaosQueue, abandonAfter, deadline time.Duration) {
	proc := "customer-" + strconv.Itoa(i)
	p := cs.w.hist.invoke(chaosOp{Process: proc, F: fCreateChat, Value: q.id})
	chatID, err := cs.w.crm.CreateChat(cs.w.site, q.id, "Chaos customer "+strconv.Itoa(i))
	if err != nil {
		p.fail(err.Error())
		return
	}
	cs.created.Add(1)
	p.op.ChatID = chatID
	p.ok(q.id)
	done := cs.w.recorder.concludedCh(chatID)
	if abandonAfter >= 0 {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-time.After(abandonAfter):
		}
		a := cs.w.hist.invoke(chaosOp{Process: proc, F: fAbandon, ChatID: chatID})
		err := cs.w.crm.Abandon(cs.w.site, chatID)
		if errors.Is(err, crmmock.ErrConflict) {
			a.fail(err.Error()) // already over
		} else {
			a.end(err, "")
			if err == nil {
				cs.abandons.Add(1)
			}
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-time.After(deadline):
		// The checker reports the chat (not concluded, or late); the loop goes on.
	}
}
