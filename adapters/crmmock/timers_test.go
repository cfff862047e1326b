package crmmock

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The schedule (timers.go) against the oracle: the full scan of the world that found the
// next timer before the schedule existed, kept here unchanged (split in two: the loop over
// the world, scanTimersLocked, and the choice of the earliest, scanNextTimerLocked). After every operation of a
// random walk through the real HTTP API and control plane, and before every pick
// fireTimersLocked makes, the schedule must hold exactly the timers the scan sees, with
// the same due times, and pick what the scan picks at every due time.

// scanNextTimerLocked is the former nextTimerLocked: it finds the earliest timer due at or
// before now by looking at every site, agent and chat. Ties go to the first in site, agent,
// chat creation order (in a chat: the customer, the participants in routing order, the
// chat's own).
func (s *Server) scanNextTimerLocked(now time.Time) (timer, bool) {
	var best timer
	found := false
	consider := func(t timer) {
		if t.due.After(now) || (found && !t.due.Before(best.due)) {
			return
		}
		best, found = t, true
	}
	s.scanTimersLocked(consider)
	return best, found
}

// scanTimersLocked calls yield for every running timer, in the scan's order.
func (s *Server) scanTimersLocked(yield func(timer)) {
	for _, name := range s.w.sortedSiteNames() {
		st := s.w.sites[name]
		for _, id := range st.agentOrder {
			a := st.agents[id]
			if a.loggedIn {
				due := a.lastPoll.Add(time.Duration(a.missed+1) * s.opts.AbsentInterval)
				yield(timer{kind: timerPresence, due: due, site: st, agent: a})
			}
		}
		for _, id := range st.chatOrder {
			c := st.chats[id]
			if c.customerPolls && c.state != StateConcluded {
				due := c.customerLastPoll.Add(time.Duration(c.customerMissed+1) * s.opts.AbsentInterval)
				yield(timer{kind: timerCustomer, due: due, site: st, chat: c})
			}
			for _, p := range c.participants {
				if p.state == StateOffered {
					yield(timer{kind: timerParticipantOffer, due: p.offerExpires, site: st, chat: c, participant: p})
				}
			}
			switch c.state {
			case StateOffered:
				yield(timer{kind: timerOffer, due: c.offerExpires, site: st, chat: c})
			case StateWaiting:
				due := c.createdAt.Add(s.opts.QueueTimeout)
				if due.Before(c.waitingSince) {
					due = c.waitingSince
				}
				yield(timer{kind: timerQueue, due: due, site: st, chat: c})
			}
		}
	}
}

// slotOf is the slot a timer the scan found should be scheduled in.
func slotOf(t timer) *timerSlot {
	switch t.kind {
	case timerPresence:
		return &t.agent.presenceTimer
	case timerCustomer:
		return &t.chat.customerTimer
	case timerParticipantOffer:
		return &t.participant.offerTimer
	default:
		return &t.chat.timer
	}
}

func sameTimer(a, b timer) bool {
	return a.kind == b.kind && a.due.Equal(b.due) && a.site == b.site && a.agent == b.agent &&
		a.chat == b.chat && a.participant == b.participant
}

func (t timer) String() string {
	who := ""
	switch {
	case t.participant != nil:
		who = "chat " + t.chat.id + " participant " + t.participant.agentID
	case t.chat != nil:
		who = "chat " + t.chat.id
	case t.agent != nil:
		who = "agent " + t.agent.AccountID
	}
	site := ""
	if t.site != nil {
		site = t.site.name
	}
	return timerKindNames[t.kind] + " " + site + " " + who
}

var timerKindNames = map[timerKind]string{
	timerPresence:         "presence",
	timerOffer:            "offer",
	timerParticipantOffer: "participant offer",
	timerQueue:            "queue",
	timerCustomer:         "customer",
}

// scheduleMismatchLocked reports the first way the schedule disagrees with the scan, or
// nil: a running timer not scheduled or scheduled at another time, a slot scheduled with no
// timer running, a broken heap, or another pick than the scan's at now, at any due time or
// just before it.
func scheduleMismatchLocked(s *Server, now time.Time) error {
	h := s.w.timers
	var all []timer
	s.scanTimersLocked(func(t timer) { all = append(all, t) })
	for _, t := range all {
		slot := slotOf(t)
		switch {
		case slot.index < 0 || slot.index >= len(h) || h[slot.index] != slot:
			return fmt.Errorf("timer %v due %s is not scheduled", t, t.due.Format(time.TimeOnly))
		case !slot.due.Equal(t.due):
			return fmt.Errorf("timer %v due %s is scheduled at %s", t, t.due.Format(time.TimeOnly), slot.due.Format(time.TimeOnly))
		}
	}
	if len(h) != len(all) {
		for _, slot := range h {
			if _, ok := s.timerOfLocked(slot); !ok {
				return fmt.Errorf("slot %+v is scheduled with no timer running", *slot)
			}
		}
		return fmt.Errorf("%d slots scheduled, want the %d timers running", len(h), len(all))
	}
	for i := range h {
		if h[i].index != i {
			return fmt.Errorf("heap[%d].index = %d", i, h[i].index)
		}
		if parent := (i - 1) / 2; i > 0 && h.Less(i, parent) {
			return fmt.Errorf("heap[%d] sorts before its parent", i)
		}
	}
	probes := []time.Time{now}
	for _, t := range all {
		probes = append(probes, t.due, t.due.Add(-time.Nanosecond))
	}
	for _, at := range probes {
		got, gotOK := s.nextTimerLocked(at)
		want, wantOK := s.scanNextTimerLocked(at)
		if gotOK != wantOK || (gotOK && !sameTimer(got, want)) {
			return fmt.Errorf("nextTimerLocked(%s) = %v at %s, %t; the scan finds %v at %s, %t",
				at.Format(time.TimeOnly), got, got.due.Format(time.TimeOnly), gotOK, want, want.due.Format(time.TimeOnly), wantOK)
		}
	}
	return nil
}

// checkEveryPick makes s check its schedule and its agents' chat index (agentchats_test.go)
// against their scans before every pick of fireTimersLocked, and report the first mismatch
// as an error of t. then, if set, runs after each check. It runs in whatever goroutine
// fires the timers (an HTTP handler's, a control method's caller's), under s.mu.
func checkEveryPick(t testing.TB, s *Server, then func(now time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	failed := false
	s.beforeNextTimer = func(now time.Time) {
		if failed {
			return
		}
		if err := cmp.Or(scheduleMismatchLocked(s, now), indexMismatchLocked(s)); err != nil {
			failed = true
			t.Errorf("before a pick at %s: %v", now.Format(time.TimeOnly), err)
			return
		}
		if then != nil {
			then(now)
		}
	}
}

func TestScheduleMatchesScanOnRandomWalks(t *testing.T) {
	var (
		mu    sync.Mutex
		total walkStats
	)
	t.Run("walks", func(t *testing.T) {
		for seed := range uint64(12) {
			realTime := seed >= 10
			name := strconv.FormatUint(seed, 10)
			if realTime {
				name += "/real-time"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newTimerWalk(t, seed, realTime)
				for step := range 1000 {
					op := w.step()
					w.check(fmt.Sprintf("after step %d (%s)", step, op))
				}
				w.h.srv.mu.Lock() // the ticker of a real-time walk may still be firing
				stats := w.stats
				w.h.srv.mu.Unlock()
				mu.Lock()
				defer mu.Unlock()
				total.add(stats)
			})
		}
	})
	// A walk proves little unless it fired every kind of timer, ties included.
	for k := timerPresence; k <= timerCustomer; k++ {
		if total.fired[k] == 0 {
			t.Errorf("the walks fired no %s timer", timerKindNames[k])
		}
	}
	if total.ties == 0 {
		t.Error("the walks fired no timer due at the same time as another")
	}
	// Nor, for the agents' chat index, unless agents held several chats and hit capacity.
	if total.busiest < 2 {
		t.Errorf("no agent of the walks was in more than %d chat(s) at once", total.busiest)
	}
	if total.full == 0 {
		t.Error("no route of the walks found its agent at capacity")
	}
	t.Logf("%d picks checked, %d of them among timers due at the same time; fired %v; an agent in up to %d chats; %d routes to an agent at capacity",
		total.picks, total.ties, total.fired, total.busiest, total.full)
}

// FuzzScheduleMatchesScan is the random walk with the fuzzer choosing the seed and length.
func FuzzScheduleMatchesScan(f *testing.F) {
	f.Add(uint64(100), uint16(50))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint16) {
		w := newTimerWalk(t, seed, false)
		for step := range int(steps % 300) {
			op := w.step()
			w.check(fmt.Sprintf("after step %d (%s)", step, op))
		}
	})
}

// timerWalk drives a mock through random operations over HTTP (routing API, generic facade
// and control plane), with timeouts short and steps of time chosen so that timers often
// fall due together.
type timerWalk struct {
	t      *testing.T
	h      *harness
	rng    *rand.Rand
	sites  []string
	tokens map[string]string
	chats  map[string][]string // site -> chat ids
	agents map[string][]string // site -> agent ids
	stats  walkStats
}

// walkStats counts what the walks fired, and how far they pushed the agents' capacity.
type walkStats struct {
	picks   int               // picks checked
	ties    int               // picks among two or more timers due at that same time
	fired   map[timerKind]int // timers fired, by kind
	busiest int               // the most chats one agent was in after a step
	full    int               // chatRouted answers COULD_NOT_ASSIGN_ENGAGEMENT (agent at capacity)
}

func (s *walkStats) add(o walkStats) {
	s.picks += o.picks
	s.ties += o.ties
	s.busiest = max(s.busiest, o.busiest)
	s.full += o.full
	if s.fired == nil {
		s.fired = map[timerKind]int{}
	}
	for k, n := range o.fired {
		s.fired[k] += n
	}
}

// walkSteps are the steps of time a walk takes, mostly small ones (walkStep): the agents and
// customers it polls stay present, and chats live long enough to be routed.
var walkSteps = struct{ small, big []time.Duration }{
	small: []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second},
	big: []time.Duration{
		15 * time.Second, 29 * time.Second, 30 * time.Second, 31 * time.Second, 59 * time.Second,
		60 * time.Second, 61 * time.Second, 90 * time.Second, 120 * time.Second, 300 * time.Second,
	},
}

func (w *timerWalk) walkStep() time.Duration {
	if w.rng.IntN(5) > 0 {
		return walkSteps.small[w.rng.IntN(len(walkSteps.small))]
	}
	return walkSteps.big[w.rng.IntN(len(walkSteps.big))]
}

// newTimerWalk starts a walk on a manual clock or, with realTime, on a clock that follows
// real time (due times then carry monotonic readings) with the background ticker firing
// timers between steps too.
func newTimerWalk(t *testing.T, seed uint64, realTime bool) *timerWalk {
	rng := rand.New(rand.NewPCG(seed, 0x7e57))
	pick := func(ds ...time.Duration) time.Duration { return ds[rng.IntN(len(ds))] }
	opts := Options{
		Sites:            []string{"other", "demo"},
		TokenTTL:         1_000_000 * time.Hour,
		AbsentInterval:   pick(30*time.Second, 60*time.Second),
		AbsentRetryCount: 1 + rng.IntN(2),
		OfferTimeout:     pick(30*time.Second, 60*time.Second),
		QueueTimeout:     pick(60*time.Second, 120*time.Second, 300*time.Second, 600*time.Second),
	}
	if realTime {
		opts.Clock = NewClock(time.Now)
		opts.TickInterval = time.Millisecond
	}
	w := &timerWalk{
		t:      t,
		h:      newHarness(t, opts),
		rng:    rng,
		sites:  []string{"demo", "other"},
		tokens: map[string]string{},
		stats:  walkStats{fired: map[timerKind]int{}},
	}
	for _, site := range w.sites {
		w.tokens[site] = w.h.authenticate(site)
	}
	srv := w.h.srv
	checkEveryPick(t, srv, func(now time.Time) {
		next, ok := srv.scanNextTimerLocked(now)
		if !ok {
			return
		}
		w.stats.picks++
		w.stats.fired[next.kind]++
		due := 0
		srv.scanTimersLocked(func(t timer) {
			if t.due.Equal(next.due) {
				due++
			}
		})
		if due > 1 {
			w.stats.ties++
		}
	})
	w.setUp()
	return w
}

// setUp gives each site its queues and agents (what Reset clears).
func (w *timerWalk) setUp() {
	w.chats = map[string][]string{}
	w.agents = map[string][]string{}
	for _, site := range w.sites {
		for _, q := range []Queue{{ID: "q1", External: true}, {ID: "q2", External: true}, {ID: "qi"}} {
			w.control(http.MethodPost, "/sites/"+site+"/queues", q)
		}
		w.control(http.MethodPost, "/sites/"+site+"/statuses", statusRequest{Name: "Lunch"})
		for _, a := range []Agent{
			{AccountID: "a1", Queues: []string{"q1", "q2"}, MaxSessions: 3, AllowDecline: true},
			{AccountID: "a2", Queues: []string{"q1"}, MaxSessions: 1, AutoAccept: true},
			{AccountID: "a3", Queues: []string{"q1", "q2", "qi"}, MaxSessions: 3},
			{AccountID: "a4", Queues: []string{"q1", "q2"}, MaxSessions: 2, AllowDecline: true},
		} {
			w.createAgent(site, a)
		}
	}
}

func (w *timerWalk) createAgent(site string, a Agent) {
	w.control(http.MethodPost, "/sites/"+site+"/agents", a)
	w.agents[site] = append(w.agents[site], a.AccountID)
}

func (w *timerWalk) check(where string) {
	srv := w.h.srv
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if err := cmp.Or(scheduleMismatchLocked(srv, srv.clock.Now()), indexMismatchLocked(srv)); err != nil {
		w.t.Fatalf("%s: %v", where, err)
	}
	for _, st := range srv.w.sites {
		for _, a := range st.agents {
			w.stats.busiest = max(w.stats.busiest, len(a.chats))
		}
	}
}

func (w *timerWalk) oneOf(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return xs[w.rng.IntN(len(xs))]
}

// recent picks one of xs, mostly among the last few (the chats still alive).
func (w *timerWalk) recent(xs []string) string {
	if n := len(xs); n > 4 && w.rng.IntN(5) > 0 {
		return w.oneOf(xs[n-4:])
	}
	return w.oneOf(xs)
}

// step makes one random operation and says which.
func (w *timerWalk) step() string {
	site := w.sites[w.rng.IntN(len(w.sites))]
	look := w.peek(site)
	chat := w.recent(w.chats[site])
	if live := slices.Concat(look.chats[StateWaiting], look.chats[StateOffered], look.chats[StateActive]); len(live) > 0 && w.rng.IntN(3) > 0 {
		chat = w.oneOf(live)
	}
	agent := w.oneOf(w.agents[site])
	if len(look.loggedIn) > 0 && w.rng.IntN(3) > 0 {
		agent = w.oneOf(look.loggedIn)
	}
	// Most routes and answers go where they can succeed.
	routeType := w.oneOf([]string{"", RouteLead})
	if len(look.chats[StateActive]) > 0 && w.rng.IntN(2) == 0 {
		routeType = w.oneOf([]string{RouteTransfer, RouteConference, RouteConsult})
	}
	routeChat, routeAgent := chat, agent
	want := look.chats[StateWaiting]
	if routeType != "" && routeType != RouteLead {
		want = look.chats[StateActive]
	}
	if len(want) > 0 && w.rng.IntN(4) > 0 {
		routeChat = w.oneOf(want)
	}
	queue := w.oneOf([]string{"q1", "q1", "q1", "q2", "q2", "qi"})
	routeQueue := queue
	if len(look.available) > 0 && w.rng.IntN(4) > 0 {
		routeAgent = w.oneOf(look.available)
		routeQueue = w.oneOf(slices.DeleteFunc(slices.Clone(look.queues[routeAgent]), func(q string) bool { return q == "qi" }))
	}
	answerChat, answerAgent := chat, agent
	if len(look.offers) > 0 && w.rng.IntN(4) > 0 {
		o := look.offers[w.rng.IntN(len(look.offers))]
		answerChat, answerAgent = o[0], o[1]
	}
	agentPath := "/sites/" + site + "/agents/" + agent
	chatPath := "/sites/" + site + "/chats/" + chat
	switch n := w.rng.IntN(1000); {
	case n < 100:
		d := w.walkStep()
		w.control(http.MethodPost, "/clock/advance", advanceRequest{Duration: d.String()})
		return "advance " + d.String()
	case n < 130:
		d := w.walkStep()
		w.h.srv.Clock().Advance(d) // the timers fire on the next request
		return "clock advance " + d.String()
	case n < 190:
		if out := slices.DeleteFunc(slices.Clone(w.agents[site]), func(a string) bool { return slices.Contains(look.loggedIn, a) }); len(out) > 0 && w.rng.IntN(4) > 0 {
			agent = w.oneOf(out)
		}
		w.control(http.MethodPost, "/sites/"+site+"/agents/"+agent+"/login", nil)
		return "login " + agent
	case n < 205:
		w.control(http.MethodPost, agentPath+"/logout", nil)
		return "logout " + agent
	case n < 230:
		w.control(http.MethodPost, agentPath+"/heartbeat", nil)
		return "heartbeat " + agent
	case n < 315:
		for _, a := range look.loggedIn {
			w.control(http.MethodPost, "/sites/"+site+"/agents/"+a+"/heartbeat", nil)
		}
		return "heartbeat every agent"
	case n < 335:
		p := w.oneOf([]string{PresenceActive, PresenceAbsent, PresenceAbsent, PresenceDisconnected})
		w.control(http.MethodPut, agentPath+"/presence", setPresenceRequest{Presence: p})
		return "presence " + agent + " " + p
	case n < 350:
		st := w.oneOf([]string{StatusUnrestricted, "Lunch"})
		w.control(http.MethodPut, agentPath+"/status", setStatusRequest{StatusName: st})
		return "status " + agent + " " + st
	case n < 430:
		polls := w.rng.IntN(2) == 0
		var resp createChatResponse
		if w.control(http.MethodPost, "/sites/"+site+"/chats", NewChat{QueueID: queue, CustomerName: "c", CustomerPolls: polls}, &resp) {
			w.chats[site] = append(w.chats[site], resp.ChatID)
		}
		return fmt.Sprintf("create chat in %s (customer polls %t)", queue, polls)
	case n < 450:
		w.control(http.MethodPost, chatPath+"/customer-heartbeat", nil)
		return "customer heartbeat " + chat
	case n < 490:
		for _, c := range slices.Concat(look.chats[StateWaiting], look.chats[StateOffered], look.chats[StateActive]) {
			w.control(http.MethodPost, "/sites/"+site+"/chats/"+c+"/customer-heartbeat", nil)
		}
		return "customer heartbeat every chat"
	case n < 670:
		txn := strconv.Itoa(w.rng.IntN(1000))
		var resp chatRoutedResponse
		w.h.do(http.MethodPost, "/uq/v1/"+site+"/chatRouted", w.tokens[site], chatRoutedRequest{
			ChatID: routeChat, AgentAccountID: routeAgent, QueueID: routeQueue, TransactionID: txn, RouteType: routeType,
		}, &resp)
		if resp.ResultCode == CodeCouldNotAssignEngagement {
			w.h.srv.mu.Lock() // the ticker of a real-time walk counts under the lock too
			w.stats.full++
			w.h.srv.mu.Unlock()
		}
		return fmt.Sprintf("chatRouted %s %s %s %q: %s", routeChat, routeAgent, routeQueue, routeType, resp.ResultCode)
	case n < 720:
		body := genericRouteRequest{ChatID: routeChat, AgentID: routeAgent, QueueID: routeQueue, RouteType: routeType}
		w.generic(http.MethodPost, "/crm/v1/sites/"+site+"/routes", strconv.Itoa(w.rng.IntN(1000)), body)
		return fmt.Sprintf("generic route %s %s %s %q", routeChat, routeAgent, routeQueue, routeType)
	case n < 770:
		action := w.oneOf([]string{ActionAccept, ActionAccept, ActionDecline})
		var resp respondResponse
		w.h.do(http.MethodPost, "/uq/v1/"+site+"/engagements/"+url.PathEscape(answerChat)+"/respond", w.tokens[site], respondRequest{
			AgentAccountID: answerAgent, Action: action, TransactionID: strconv.Itoa(w.rng.IntN(1000)),
		}, &resp)
		return fmt.Sprintf("respond %s %s %s: %s", answerChat, answerAgent, action, resp.ResultCode)
	case n < 790:
		action := w.oneOf([]string{ActionAccept, ActionDecline})
		w.generic(http.MethodPost, "/crm/v1/sites/"+site+"/chats/"+url.PathEscape(answerChat)+"/responses", strconv.Itoa(w.rng.IntN(1000)),
			genericResponseRequest{AgentID: answerAgent, Action: action})
		return fmt.Sprintf("generic response %s %s %s", answerChat, answerAgent, action)
	case n < 850:
		reply := OfferReply{Action: w.oneOf([]string{ActionAccept, ActionDecline, ActionIgnore, ActionIgnore})}
		if w.rng.IntN(3) > 0 {
			reply.AgentAccountID = answerAgent
		}
		w.control(http.MethodPost, "/sites/"+site+"/chats/"+answerChat+"/respond", reply)
		return fmt.Sprintf("control respond %s %+v", answerChat, reply)
	case n < 880:
		c := Conclusion{Reason: w.oneOf([]string{"", EndAgentConcluded, EndEndedUserCancel})}
		if c.Reason == "" || w.rng.IntN(3) == 0 {
			c.AgentAccountID = agent
		}
		w.control(http.MethodPost, chatPath+"/conclude", c)
		return fmt.Sprintf("conclude %s %+v", chat, c)
	case n < 890:
		w.control(http.MethodPost, chatPath+"/abandon", nil)
		return "abandon " + chat
	case n < 950:
		switch w.rng.IntN(5) {
		case 0:
			w.h.do(http.MethodGet, "/uq/v1/"+site+"/engagements/"+url.PathEscape(chat), w.tokens[site], nil, nil)
		case 1:
			w.h.do(http.MethodGet, "/uq/v1/"+site+"/agents/"+agent+"/session", w.tokens[site], nil, nil)
		case 2:
			w.h.do(http.MethodGet, "/uq/v1/"+site+"/queues/"+queue+"/engagements", w.tokens[site], nil, nil)
		case 3:
			zero := 0.0
			w.h.do(http.MethodPost, "/uq/v1/"+site+"/events/poll", w.tokens[site], pollRequest{AfterSeq: 1 << 60, WaitSeconds: &zero}, nil)
		case 4:
			w.h.do(http.MethodGet, "/control/v1/state", "", nil, nil)
		}
		return "read"
	case n < 995:
		id := "x" + strconv.Itoa(len(w.agents[site]))
		w.createAgent(site, Agent{AccountID: id, Queues: []string{"q1", "q2"}, MaxSessions: 1 + w.rng.IntN(2), AutoAccept: w.rng.IntN(2) == 0})
		return "create agent " + id
	default:
		w.control(http.MethodPost, "/reset", nil)
		w.setUp()
		return "reset"
	}
}

// walkLook is what a walk sees of a site before a step, to aim it.
type walkLook struct {
	chats     map[string][]string // state -> chat ids
	loggedIn  []string
	available []string            // logged in, ACTIVE and in an available status
	queues    map[string][]string // agent -> its profile's queues
	offers    [][2]string         // pending offers: chat id, agent
}

// peek looks at the site without firing timers.
func (w *timerWalk) peek(site string) walkLook {
	srv := w.h.srv
	srv.mu.Lock()
	defer srv.mu.Unlock()
	st := srv.w.sites[site]
	look := walkLook{chats: map[string][]string{}, queues: map[string][]string{}}
	for _, id := range st.agentOrder {
		a := st.agents[id]
		look.queues[id] = a.Queues
		if a.loggedIn {
			look.loggedIn = append(look.loggedIn, id)
		}
		if a.presence() == PresenceActive && st.statuses[a.statusName] {
			look.available = append(look.available, id)
		}
	}
	for _, id := range st.chatOrder {
		c := st.chats[id]
		look.chats[c.state] = append(look.chats[c.state], id)
		if c.state == StateOffered {
			look.offers = append(look.offers, [2]string{id, c.agentID})
		}
		for _, p := range c.participants {
			if p.state == StateOffered {
				look.offers = append(look.offers, [2]string{id, p.agentID})
			}
		}
	}
	return look
}

// control calls the control plane; out (optional) receives a 2xx answer. It reports
// whether the call succeeded: the walk makes many calls the mock refuses, on purpose.
func (w *timerWalk) control(method, path string, in any, out ...any) bool {
	w.t.Helper()
	var resp json.RawMessage
	status := w.h.do(method, "/control/v1"+path, "", in, &resp)
	if status/100 != 2 {
		return false
	}
	for _, o := range out {
		if err := json.Unmarshal(resp, o); err != nil {
			w.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return true
}

// generic calls the generic facade with the API key and an Idempotency-Key.
func (w *timerWalk) generic(method, path, key string, in any) {
	w.t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		w.t.Fatal(err)
	}
	req, err := http.NewRequest(method, w.h.ts.URL+path, bytes.NewReader(data))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.h.ts.Client().Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		w.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("%s %s = %d, want 200", method, path, resp.StatusCode)
	}
}

// TestScheduleTieOrder pins the tie order on one instant where every kind of timer falls
// due at once, on two sites (demo, the harness's, has none): sites by name, then in a site agents in creation order before
// chats in creation order, and in a chat the customer, then the participants in routing
// order, then the chat's own.
func TestScheduleTieOrder(t *testing.T) {
	h := newHarness(t, Options{
		Sites:          []string{"zulu", "demo", "alpha"},
		AbsentInterval: 60 * time.Second, AbsentRetryCount: 5,
		OfferTimeout: 60 * time.Second, QueueTimeout: 60 * time.Second,
	})
	s := h.srv
	var order []string
	checkEveryPick(t, s, func(now time.Time) {
		if next, ok := s.nextTimerLocked(now); ok {
			order = append(order, next.String())
		}
	})
	for _, site := range []string{"zulu", "alpha"} {
		must(t, s.CreateQueue(site, Queue{ID: "q", External: true}))
		for _, a := range []string{"b", "a", "c", "d"} {
			must(t, s.CreateAgent(site, Agent{AccountID: a, Queues: []string{"q"}, MaxSessions: 2, AutoAccept: a == "b"}))
			if _, err := s.Login(site, a); err != nil {
				t.Fatal(err)
			}
		}
		// The first chat waits (queue timeout) with a polling customer; the second has a
		// polling customer, owner b (auto-accept) and conference offers to c, then d; the
		// third is offered to d.
		var ids []string
		for _, nc := range []NewChat{{QueueID: "q", CustomerPolls: true}, {QueueID: "q", CustomerPolls: true}, {QueueID: "q"}} {
			id, err := s.CreateChatWith(site, nc)
			must(t, err)
			ids = append(ids, id)
		}
		token := s.authenticateForTest(t, site)
		s.mu.Lock()
		now := s.clock.Now()
		for _, r := range []chatRoutedRequest{
			{ChatID: ids[1], AgentAccountID: "b", QueueID: "q"},
			{ChatID: ids[1], AgentAccountID: "c", QueueID: "q", RouteType: RouteConference},
			{ChatID: ids[1], AgentAccountID: "d", QueueID: "q", RouteType: RouteConference},
			{ChatID: ids[2], AgentAccountID: "d", QueueID: "q"},
		} {
			if resp := s.chatRoutedLocked(token, site, r, now); resp.ResultCode != CodeSuccess {
				t.Fatalf("chatRouted(%+v) = %s, want SUCCESS", r, resp.ResultCode)
			}
		}
		s.mu.Unlock()
	}
	s.Advance(60 * time.Second)
	var want []string
	for _, site := range []struct{ name, c1, c2, c3 string }{{"alpha", "1004", "1005", "1006"}, {"zulu", "1001", "1002", "1003"}} {
		want = append(want,
			"presence "+site.name+" agent b",
			"presence "+site.name+" agent a",
			"presence "+site.name+" agent c",
			"presence "+site.name+" agent d",
			"customer "+site.name+" chat "+site.c1,
			"queue "+site.name+" chat "+site.c1,
			"customer "+site.name+" chat "+site.c2,
			"participant offer "+site.name+" chat "+site.c2+" participant c",
			"participant offer "+site.name+" chat "+site.c2+" participant d",
			"offer "+site.name+" chat "+site.c3,
			"queue "+site.name+" chat "+site.c3, // requeued by its offer timeout, due at once
		)
	}
	if !slices.Equal(order, want) {
		t.Errorf("fired\n%q\nwant\n%q", order, want)
	}
}
