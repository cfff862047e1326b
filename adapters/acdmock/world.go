package acdmock

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// maxFirings bounds the timers one evaluation fires, so that a huge Advance over a tiny
// AlertingTimeout cannot hold the lock for ever; the rest fire on the next evaluation.
const maxFirings = 10_000

// world is the simulated ACD: queues, agents, interactions and their routings. It is plain
// data guarded by Server.mu; operations record the webhook events they cause in events, which
// the server turns into deliveries after the operation (never sending while locked).
type world struct {
	now             func() time.Time // the simulated clock
	at              time.Time        // while a timer fires: its due time, "now" for what it causes
	alertingTimeout time.Duration
	defaultSite     string

	queues       map[string]*queueState
	agents       map[string]*agentState
	interactions map[string]*interaction
	routings     map[string]*routing
	offers       map[string]*routing // routings whose alerting timer runs
	waiting      []waitEntry         // FIFO across queues

	seq          uint64 // orders idleness; a counter, not the clock, so ties never happen
	nInteraction int
	nRouting     int
	nAgent       int

	events []event
}

type queueState struct {
	Queue
	lastRR int // round robin: joined of the agent the queue routed to last
}

type agentState struct {
	Agent
	reason   string
	load     int
	idleSeq  uint64 // when the agent last took or finished work or became ready
	capacity int
	joined   int // order of AddAgent (round robin)
}

type interaction struct {
	id, chatID, site, queueID, customerName string
	terminal                                string // "", StateCompleted or StateAbandoned
	abandonStage                            string
	avoid                                   string // agent who last gave it back
	routings                                []*routing
	createdAt                               time.Time
}

type routing struct {
	RoutingView
	interactionID string
	seq           int  // creation order: breaks ties between timers due at the same time
	released      bool // the agent's share of capacity was given back
}

func (r *routing) open() bool {
	return r.State == StateRouting || r.State == StateAlerting || r.State == StateConnected
}

// offered: routed to the agent, not yet answered.
func (r *routing) offered() bool { return r.State == StateRouting || r.State == StateAlerting }

type waitEntry struct {
	interactionID, queueID, routeType string
	exclude                           string // hard exclusion: the agent routing it on
	fromRoutingID                     string // the leg that asked for a transfer, conference or consult
}

type event struct {
	typ                               string
	data                              any
	interactionID, routingID, agentID string
	at                                time.Time
}

func newWorld(now func() time.Time, defaultSite string, alertingTimeout time.Duration) *world {
	return &world{
		now:             now,
		alertingTimeout: alertingTimeout,
		defaultSite:     defaultSite,
		queues:          map[string]*queueState{},
		agents:          map[string]*agentState{},
		interactions:    map[string]*interaction{},
		routings:        map[string]*routing{},
		offers:          map[string]*routing{},
	}
}

func (w *world) next() uint64 { w.seq++; return w.seq }

// clock is the time of what happens now: the due time of a firing timer, else the clock.
func (w *world) clock() time.Time {
	if !w.at.IsZero() {
		return w.at
	}
	return w.now()
}

func (w *world) addQueue(q Queue) error {
	if err := required(field{"id", q.ID}); err != nil {
		return err
	}
	if _, ok := w.queues[q.ID]; ok {
		return fail(ErrConflict, "id", fmt.Sprintf("queue %q already exists", q.ID))
	}
	q.Strategy = cmp.Or(q.Strategy, StrategyLongestIdle)
	if q.Strategy != StrategyLongestIdle && q.Strategy != StrategyRoundRobin {
		return fail(ErrInvalid, "strategy", fmt.Sprintf("%q is not one of longest_idle, round_robin", q.Strategy))
	}
	w.queues[q.ID] = &queueState{Queue: q}
	return nil
}

func (w *world) addAgent(a Agent) error {
	if err := required(field{"id", a.ID}); err != nil {
		return err
	}
	if err := optionalIDs(field{"crmAccountId", a.CRMAccountID}); err != nil {
		return err
	}
	if _, ok := w.agents[a.ID]; ok {
		return fail(ErrConflict, "id", fmt.Sprintf("agent %q already exists", a.ID))
	}
	if a.Capacity < 0 {
		return fail(ErrInvalid, "capacity", "must not be negative")
	}
	for i, q := range a.Queues {
		if _, ok := w.queues[q]; !ok {
			return fail(ErrNotFound, fmt.Sprintf("queues[%d]", i), fmt.Sprintf("no queue %q (add queues first)", q))
		}
	}
	a.Queues = slices.Clone(a.Queues)
	w.nAgent++
	st := &agentState{Agent: a, capacity: max(a.Capacity, 1), idleSeq: w.next(), joined: w.nAgent}
	w.agents[a.ID] = st
	w.dispatch()
	return nil
}

func (w *world) setReady(id string, ready bool, reason string) error {
	if err := optionalIDs(field{"reason", reason}); err != nil {
		return err
	}
	a, ok := w.agents[id]
	if !ok {
		return fail(ErrNotFound, "id", fmt.Sprintf("no agent %q", id))
	}
	changed := a.Ready != ready || a.reason != reason
	a.Ready, a.reason = ready, reason
	if !changed {
		return nil
	}
	state := "not_ready"
	if ready {
		state = "ready"
		a.idleSeq = w.next()
	}
	w.emit(event{typ: acdapi.TypeAgentChanged, agentID: id,
		data: acdapi.AgentStateChanged{AgentID: id, State: state, Reason: reason}})
	w.dispatch()
	return nil
}

func (w *world) create(req createRequest) (string, error) {
	if err := req.validate(); err != nil {
		return "", err
	}
	site := cmp.Or(req.Site, w.defaultSite)
	if site == "" {
		return "", fail(ErrBadRequest, "site", "required (no default site configured)")
	}
	if _, ok := w.queues[req.QueueID]; !ok {
		return "", fail(ErrNotFound, "queueId", fmt.Sprintf("no queue %q", req.QueueID))
	}
	w.nInteraction++
	in := &interaction{
		id: "i" + strconv.Itoa(w.nInteraction), chatID: req.ChatID, site: site,
		queueID: req.QueueID, customerName: req.CustomerName, createdAt: w.clock(),
	}
	w.interactions[in.id] = in
	w.waiting = append(w.waiting, waitEntry{interactionID: in.id, queueID: in.queueID, routeType: RouteLead})
	w.dispatch()
	return in.id, nil
}

// dispatch routes every waiting interaction it can, oldest first.
func (w *world) dispatch() {
	for i := 0; i < len(w.waiting); {
		e := w.waiting[i]
		a := w.pickAgent(e)
		if a == nil {
			i++
			continue
		}
		w.waiting = slices.Delete(w.waiting, i, i+1)
		if q := w.queues[e.queueID]; q.Strategy == StrategyRoundRobin {
			q.lastRR = a.joined
		}
		w.assign(w.interactions[e.interactionID], a, e.queueID, e.routeType, e.fromRoutingID)
	}
}

// pickAgent chooses, by the queue's strategy, a ready agent of the queue with spare capacity
// who does not already have the interaction; the agent who last gave this interaction back
// (requeue, revoke, alerting timeout) only when nobody else can take it now.
func (w *world) pickAgent(e waitEntry) *agentState {
	in := w.interactions[e.interactionID]
	var cands []*agentState
	for _, a := range w.agents {
		if !a.Ready || a.load >= a.capacity || a.ID == e.exclude || !slices.Contains(a.Queues, e.queueID) || in.openRoutingOf(a.ID) != nil {
			continue
		}
		cands = append(cands, a)
	}
	if others := slices.DeleteFunc(slices.Clone(cands), func(a *agentState) bool { return a.ID == in.avoid }); len(others) > 0 {
		cands = others
	}
	if len(cands) == 0 {
		return nil
	}
	if q := w.queues[e.queueID]; q.Strategy == StrategyRoundRobin {
		slices.SortFunc(cands, func(x, y *agentState) int { return cmp.Compare(x.joined, y.joined) })
		for _, a := range cands {
			if a.joined > q.lastRR {
				return a
			}
		}
		return cands[0] // wrap around
	}
	slices.SortFunc(cands, func(x, y *agentState) int {
		return cmp.Or(cmp.Compare(x.load, y.load), cmp.Compare(x.idleSeq, y.idleSeq), cmp.Compare(x.ID, y.ID))
	})
	return cands[0]
}

// assign routes the interaction to the agent: a new routing, interaction.routed, and the
// alerting timer when AlertingTimeout is on.
func (w *world) assign(in *interaction, a *agentState, queueID, routeType, fromRoutingID string) *routing {
	w.nRouting++
	r := &routing{interactionID: in.id, seq: w.nRouting, RoutingView: RoutingView{
		RoutingID: "r" + strconv.Itoa(w.nRouting), AgentID: a.ID, QueueID: queueID,
		RouteType: routeType, FromRoutingID: fromRoutingID, State: StateRouting, RoutedAt: w.clock(),
	}}
	in.routings = append(in.routings, r)
	w.routings[r.RoutingID] = r
	a.load++
	a.idleSeq = w.next()
	if w.alertingTimeout > 0 {
		r.AlertingUntil = r.RoutedAt.Add(w.alertingTimeout)
		w.offers[r.RoutingID] = r
	}
	var queueName string
	if q, ok := w.queues[queueID]; ok {
		queueName = q.Name
	}
	w.emit(event{typ: acdapi.TypeRouted, interactionID: in.id, routingID: r.RoutingID, agentID: a.ID,
		data: acdapi.Routed{
			InteractionID: in.id, RoutingID: r.RoutingID, ChatID: in.chatID, Site: in.site,
			QueueID: queueID, QueueName: queueName, AgentID: a.ID, CRMAccountID: a.CRMAccountID,
			RouteType: routeType, FromRoutingID: fromRoutingID,
		}})
	return r
}

// stopTimer ends a routing's alerting timer, if it runs.
func (w *world) stopTimer(r *routing) {
	delete(w.offers, r.RoutingID)
	r.AlertingUntil = time.Time{}
}

// connect marks a routing answered: the agent has the chat, the alerting timer stops.
func (w *world) connect(r *routing) {
	r.State = StateConnected
	w.stopTimer(r)
}

// release gives the routing's share of its agent's capacity back, once.
func (w *world) release(r *routing) {
	if r.released {
		return
	}
	r.released = true
	if a, ok := w.agents[r.AgentID]; ok && a.load > 0 {
		a.load--
		a.idleSeq = w.next()
	}
}

// end closes a routing and frees its agent's capacity. A conference or consult still waiting
// in a queue for an agent needs the agent who asked for it, so it is dropped with that leg;
// a waiting transfer stays (a blind transfer).
func (w *world) end(r *routing, state, reason string) {
	r.State, r.Reason, r.EndedAt = state, reason, w.clock()
	w.stopTimer(r)
	w.release(r)
	w.waiting = slices.DeleteFunc(w.waiting, func(e waitEntry) bool {
		return e.fromRoutingID == r.RoutingID && e.routeType != RouteTransfer
	})
}

func (w *world) emit(e event) {
	e.at = w.clock()
	w.events = append(w.events, e)
}

func (w *world) interaction(id string) (*interaction, error) {
	in, ok := w.interactions[id]
	if !ok {
		return nil, fail(ErrNotFound, "id", fmt.Sprintf("no interaction %q", id))
	}
	return in, nil
}

func (in *interaction) openRoutingOf(agentID string) *routing {
	for _, r := range slices.Backward(in.routings) {
		if r.AgentID == agentID && r.open() {
			return r
		}
	}
	return nil
}

func (in *interaction) newestOpen() *routing {
	for _, r := range slices.Backward(in.routings) {
		if r.open() {
			return r
		}
	}
	return nil
}

func (in *interaction) newestOffered() *routing {
	for _, r := range slices.Backward(in.routings) {
		if r.offered() {
			return r
		}
	}
	return nil
}

// withCustomer reports whether an open leg faces the customer: any but a consult, which the
// customer does not see.
func (in *interaction) withCustomer() bool {
	return slices.ContainsFunc(in.routings, func(r *routing) bool { return r.open() && r.RouteType != RouteConsult })
}

func (w *world) isWaiting(id string) bool {
	return slices.ContainsFunc(w.waiting, func(e waitEntry) bool { return e.interactionID == id })
}

func (w *world) unqueue(id string) {
	w.waiting = slices.DeleteFunc(w.waiting, func(e waitEntry) bool { return e.interactionID == id })
}

// backToQueue queues the interaction again when no leg faces the customer any more and it
// is not already waiting (a blind transfer, say); queued reports whether it did.
func (w *world) backToQueue(in *interaction, queueID string) (queued bool) {
	if in.withCustomer() || w.isWaiting(in.id) {
		return false
	}
	w.waiting = append(w.waiting, waitEntry{interactionID: in.id, queueID: queueID, routeType: RouteLead})
	return true
}

// routingOf finds the routing a requeue/complete/route/accept call names: by routingId when
// given, else the agent's newest routing of the interaction.
func (in *interaction) routingOf(routingID, agentID, agentField string) (*routing, error) {
	if routingID != "" {
		for _, r := range in.routings {
			if r.RoutingID == routingID {
				if r.AgentID != agentID {
					return nil, fail(ErrInvalid, agentField, fmt.Sprintf("routing %s belongs to agent %q, not %q", routingID, r.AgentID, agentID))
				}
				return r, nil
			}
		}
		return nil, fail(ErrNotFound, "routingId", fmt.Sprintf("interaction %s has no routing %q", in.id, routingID))
	}
	if r := in.openRoutingOf(agentID); r != nil {
		return r, nil
	}
	for _, r := range slices.Backward(in.routings) {
		if r.AgentID == agentID {
			return r, nil
		}
	}
	return nil, fail(ErrNotFound, agentField, fmt.Sprintf("agent %q has no routing of interaction %s", agentID, in.id))
}

func (w *world) requeue(id string, req requeueRequest) (statusResponse, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, err
	}
	in, err := w.interaction(id)
	if err != nil {
		return statusResponse{}, err
	}
	r, err := in.routingOf(req.RoutingID, req.AgentID, "agentId")
	if err != nil {
		return statusResponse{}, err
	}
	if _, ok := w.queues[req.TargetQueueID]; req.TargetQueueID != "" && !ok {
		return statusResponse{}, fail(ErrNotFound, "targetQueueId", fmt.Sprintf("no queue %q", req.TargetQueueID))
	}
	switch {
	case in.terminal == StateCompleted:
		return statusResponse{}, fail(ErrConflict, "", fmt.Sprintf("interaction %s is already completed", id))
	case in.terminal == StateAbandoned:
		return statusResponse{}, fail(ErrConflict, "", fmt.Sprintf("the customer abandoned interaction %s; it cannot be requeued", id))
	case !r.open():
		return statusResponse{}, fail(ErrConflict, "routingId", fmt.Sprintf("routing %s already ended (%s)", r.RoutingID, r.State))
	}
	w.end(r, StateRequeued, req.ReasonCode)
	in.avoid = r.AgentID
	resp := statusResponse{Status: "requeued", RoutingID: r.RoutingID}
	// An escalation changes the interaction's queue only when it goes back to wait: while
	// another leg faces the customer nothing is requeued, escalated or not.
	if w.backToQueue(in, cmp.Or(req.TargetQueueID, r.QueueID)) && req.TargetQueueID != "" {
		in.queueID, r.EscalatedTo, resp.EscalatedTo = req.TargetQueueID, req.TargetQueueID, req.TargetQueueID
	}
	w.dispatch()
	return resp, nil
}

func (w *world) complete(id string, req completeRequest) (statusResponse, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, err
	}
	in, err := w.interaction(id)
	if err != nil {
		return statusResponse{}, err
	}
	r, err := in.routingOf(req.RoutingID, req.AgentID, "agentId")
	if err != nil {
		return statusResponse{}, err
	}
	switch {
	case in.terminal == StateCompleted:
		return statusResponse{}, fail(ErrConflict, "", fmt.Sprintf("interaction %s is already completed", id))
	case !r.open():
		return statusResponse{}, fail(ErrConflict, "routingId", fmt.Sprintf("routing %s already ended (%s)", r.RoutingID, r.State))
	}
	w.end(r, StateCompleted, "")
	r.Disposition = req.Disposition
	if in.terminal == "" && in.newestOpen() == nil && !w.isWaiting(id) {
		in.terminal = StateCompleted
	}
	w.dispatch()
	return statusResponse{Status: "completed", RoutingID: r.RoutingID}, nil
}

// accept: the bridge reports the agent took the offer (KindAccept).
func (w *world) accept(id string, req acceptRequest) (statusResponse, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, err
	}
	in, err := w.interaction(id)
	if err != nil {
		return statusResponse{}, err
	}
	r, err := in.routingOf(req.RoutingID, req.AgentID, "agentId")
	if err != nil {
		return statusResponse{}, err
	}
	if err := w.answer(in, r); err != nil {
		return statusResponse{}, err
	}
	return statusResponse{Status: "accepted", RoutingID: r.RoutingID}, nil
}

// controlAccept marks a routing answered (by id, or the newest offer) for a test rig.
func (w *world) controlAccept(id, routingID string) error {
	if err := optionalIDs(field{"routingId", routingID}); err != nil {
		return err
	}
	in, err := w.interaction(id)
	if err != nil {
		return err
	}
	if routingID == "" {
		if err := in.closed(); err != nil {
			return err
		}
		r := in.newestOffered()
		if r == nil {
			return fail(ErrConflict, "routingId", fmt.Sprintf("interaction %s is not being offered to an agent", id))
		}
		return w.answer(in, r)
	}
	i := slices.IndexFunc(in.routings, func(r *routing) bool { return r.RoutingID == routingID })
	if i < 0 {
		return fail(ErrNotFound, "routingId", fmt.Sprintf("interaction %s has no routing %q", id, routingID))
	}
	return w.answer(in, in.routings[i])
}

// answer: the agent has the chat. Answering a connected routing again changes nothing.
func (w *world) answer(in *interaction, r *routing) error {
	if err := in.closed(); err != nil {
		return err
	}
	if !r.open() {
		return fail(ErrConflict, "routingId", fmt.Sprintf("routing %s already ended (%s)", r.RoutingID, r.State))
	}
	w.connect(r)
	return nil
}

// closed refuses an answer for an interaction that is over.
func (in *interaction) closed() error {
	switch in.terminal {
	case StateCompleted:
		return fail(ErrConflict, "", fmt.Sprintf("interaction %s is already completed", in.id))
	case StateAbandoned:
		return fail(ErrConflict, "", fmt.Sprintf("the customer abandoned interaction %s", in.id))
	}
	return nil
}

// route is a transfer, conference or consult from an agent's leg to an agent or a queue. The
// asking leg becomes connected and stays open: the bridge completes it (after a transfer
// target accepted, or when the first agent is done). It also returns the asking leg's
// routing id, once found, for the call record.
func (w *world) route(id string, req routeRequest) (statusResponse, string, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, "", err
	}
	in, err := w.interaction(id)
	if err != nil {
		return statusResponse{}, "", err
	}
	if in.terminal != "" {
		return statusResponse{}, "", fail(ErrConflict, "", fmt.Sprintf("interaction %s is %s", id, in.terminal))
	}
	from, err := in.routingOf(req.RoutingID, req.FromAgentID, "fromAgentId")
	if err != nil {
		return statusResponse{}, "", err
	}
	if !from.open() {
		return statusResponse{}, "", fail(ErrConflict, "routingId", fmt.Sprintf("routing %s already ended (%s)", from.RoutingID, from.State))
	}
	if req.TargetQueueID != "" {
		if _, ok := w.queues[req.TargetQueueID]; !ok {
			return statusResponse{}, "", fail(ErrNotFound, "targetQueueId", fmt.Sprintf("no queue %q", req.TargetQueueID))
		}
		w.connect(from)
		before := len(in.routings)
		w.waiting = append(w.waiting, waitEntry{interactionID: id, queueID: req.TargetQueueID, routeType: req.RouteType,
			exclude: req.FromAgentID, fromRoutingID: from.RoutingID})
		w.dispatch()
		if len(in.routings) > before {
			return statusResponse{Status: "routed", RoutingID: in.routings[len(in.routings)-1].RoutingID}, from.RoutingID, nil
		}
		return statusResponse{Status: "queued"}, from.RoutingID, nil
	}
	a, ok := w.agents[req.TargetAgentID]
	switch {
	case !ok:
		return statusResponse{}, "", fail(ErrNotFound, "targetAgentId", fmt.Sprintf("no agent %q", req.TargetAgentID))
	case a.ID == req.FromAgentID:
		return statusResponse{}, "", fail(ErrInvalid, "targetAgentId", "the target is the agent routing it")
	case in.openRoutingOf(a.ID) != nil:
		return statusResponse{}, "", fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q already has interaction %s", a.ID, id))
	case !a.Ready:
		return statusResponse{}, "", fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q is not ready", a.ID))
	case a.load >= a.capacity:
		return statusResponse{}, "", fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q has no free capacity", a.ID))
	}
	w.connect(from)
	r := w.assign(in, a, from.QueueID, req.RouteType, from.RoutingID)
	return statusResponse{Status: "routed", RoutingID: r.RoutingID}, from.RoutingID, nil
}

func (w *world) agentState(id string, req stateRequest) (statusResponse, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, err
	}
	if err := w.setReady(id, req.State == "ready", req.Reason); err != nil {
		return statusResponse{}, err
	}
	return statusResponse{Status: req.State}, nil
}

// routeTo forces a routing to one agent, whatever its state or capacity.
func (w *world) routeTo(id, agentID, routeType string) (string, error) {
	routeType = cmp.Or(routeType, RouteLead)
	switch routeType {
	case RouteLead, RouteTransfer, RouteConference, RouteConsult:
	default:
		return "", fail(ErrInvalid, "routeType", fmt.Sprintf("%q is not one of lead, transfer, conference, consult", routeType))
	}
	in, err := w.interaction(id)
	if err != nil {
		return "", err
	}
	if in.terminal != "" {
		return "", fail(ErrConflict, "id", fmt.Sprintf("interaction %s is %s", id, in.terminal))
	}
	a, ok := w.agents[agentID]
	if !ok {
		return "", fail(ErrNotFound, "agentId", fmt.Sprintf("no agent %q", agentID))
	}
	if in.openRoutingOf(agentID) != nil {
		return "", fail(ErrConflict, "agentId", fmt.Sprintf("agent %q already has interaction %s", agentID, id))
	}
	w.unqueue(id)
	return w.assign(in, a, in.queueID, routeType, "").RoutingID, nil
}

// revoke takes the newest open routing back and routes the interaction again.
func (w *world) revoke(id string) error {
	in, err := w.interaction(id)
	if err != nil {
		return err
	}
	r := in.newestOpen()
	if r == nil || in.terminal != "" {
		return fail(ErrConflict, "id", fmt.Sprintf("interaction %s has no open routing to revoke", id))
	}
	w.takeBack(in, r, ReasonRevoked)
	return nil
}

// takeBack ends a routing as revoked (interaction.revoked) and, when no other leg faces the
// customer, routes the interaction again, to another agent when one is available.
func (w *world) takeBack(in *interaction, r *routing, reason string) {
	w.end(r, StateRevoked, reason)
	in.avoid = r.AgentID
	w.emit(event{typ: acdapi.TypeRevoked, interactionID: in.id, routingID: r.RoutingID, agentID: r.AgentID,
		data: acdapi.Revoked{InteractionID: in.id, RoutingID: r.RoutingID, AgentID: r.AgentID, Reason: reason}})
	w.backToQueue(in, r.QueueID)
	w.dispatch()
}

// fireDue takes back, in due order, every offer whose alerting timer expired by now. Each
// fires at its own due time, so one big Advance yields what living through it would.
func (w *world) fireDue(now time.Time) {
	defer func() { w.at = time.Time{} }()
	for range maxFirings {
		var due *routing
		for _, r := range w.offers {
			if !r.AlertingUntil.After(now) && (due == nil || r.AlertingUntil.Before(due.AlertingUntil) ||
				(r.AlertingUntil.Equal(due.AlertingUntil) && r.seq < due.seq)) {
				due = r
			}
		}
		if due == nil {
			return
		}
		w.at = due.AlertingUntil
		w.takeBack(w.interactions[due.interactionID], due, ReasonAlertingTimeout)
	}
}

// abandon: the customer left at stage queued, routing or alerting. The offers are withdrawn
// at once (their agents' capacity is free again) but stay open until the agent completes
// them; a leg the agent already has (connected) is the CRM's business: the chat ends there.
func (w *world) abandon(id, stage string) error {
	in, err := w.interaction(id)
	if err != nil {
		return err
	}
	if in.terminal != "" {
		return fail(ErrConflict, "id", fmt.Sprintf("interaction %s is already %s", id, in.terminal))
	}
	r, c := in.newestOffered(), in.newestOpen()
	if stage == "" {
		switch {
		case r != nil && r.State == StateRouting:
			stage = acdapi.StageRouting
		case r != nil:
			stage = acdapi.StageAlerting
		case c != nil:
			return fail(ErrConflict, "stage", fmt.Sprintf("agent %q already has interaction %s (routing %s connected): the customer leaving ends the chat, it is not an abandon", c.AgentID, id, c.RoutingID))
		default:
			stage = acdapi.StageQueued
		}
	}
	data := acdapi.Abandoned{InteractionID: id, Stage: stage}
	switch stage {
	case acdapi.StageQueued:
		if r != nil {
			return fail(ErrConflict, "stage", fmt.Sprintf("interaction %s is being offered to agent %q (routing %s): the stage is routing or alerting", id, r.AgentID, r.RoutingID))
		}
	case acdapi.StageRouting, acdapi.StageAlerting:
		if r == nil {
			return fail(ErrConflict, "stage", fmt.Sprintf("interaction %s is not being offered to an agent", id))
		}
		data.RoutingID, data.AgentID = r.RoutingID, r.AgentID
	default:
		return fail(ErrInvalid, "stage", fmt.Sprintf("%q is not one of queued, routing, alerting", stage))
	}
	w.unqueue(id)
	for _, o := range in.routings {
		if o.offered() {
			w.stopTimer(o)
			w.release(o)
		}
	}
	in.terminal, in.abandonStage = StateAbandoned, stage
	w.emit(event{typ: acdapi.TypeAbandoned, interactionID: id, routingID: data.RoutingID, agentID: data.AgentID, data: data})
	w.dispatch() // the freed capacity may take waiting work
	return nil
}

// delivered marks a routing alerting once the bridge acknowledged interaction.routed.
func (w *world) delivered(routingID string) {
	if r, ok := w.routings[routingID]; ok && r.State == StateRouting {
		r.State = StateAlerting
	}
}

func (w *world) view(id string) (InteractionView, bool) {
	in, ok := w.interactions[id]
	if !ok {
		return InteractionView{}, false
	}
	v := InteractionView{
		ID: in.id, ChatID: in.chatID, Site: in.site, QueueID: in.queueID, CustomerName: in.customerName,
		AbandonStage: in.abandonStage, CreatedAt: in.createdAt, Routings: make([]RoutingView, 0, len(in.routings)),
	}
	for _, r := range in.routings {
		v.Routings = append(v.Routings, r.RoutingView)
	}
	r := in.newestOpen()
	if r != nil {
		v.AgentID, v.RoutingID = r.AgentID, r.RoutingID
	}
	switch {
	case in.terminal != "":
		v.State = in.terminal
	case r != nil:
		v.State = r.State
	default:
		v.State = StateQueued
	}
	return v, true
}

func (w *world) agentView(id string) (AgentView, bool) {
	a, ok := w.agents[id]
	if !ok {
		return AgentView{}, false
	}
	return AgentView{ID: a.ID, CRMAccountID: a.CRMAccountID, Queues: slices.Clone(a.Queues), Capacity: a.capacity,
		Ready: a.Ready, Reason: a.reason, Load: a.load}, true
}
