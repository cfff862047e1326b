package acdmock

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// world is the simulated ACD: queues, agents, interactions and their routings. It is plain
// data guarded by Server.mu; operations record the webhook events they cause in events, which
// the server turns into deliveries after the operation (never sending while locked).
type world struct {
	now         func() time.Time
	defaultSite string

	queues       map[string]*Queue
	agents       map[string]*agentState
	interactions map[string]*interaction
	routings     map[string]*routing
	waiting      []waitEntry // FIFO across queues

	seq          uint64 // orders idleness; a counter, not the clock, so ties never happen
	nInteraction int
	nRouting     int

	events []event
}

type agentState struct {
	Agent
	reason   string
	load     int
	idleSeq  uint64 // when the agent last took or finished work or became ready
	capacity int
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
}

func (r *routing) open() bool {
	return r.State == StateRouting || r.State == StateAlerting || r.State == StateConnected
}

type waitEntry struct {
	interactionID, queueID, routeType string
	exclude                           string // hard exclusion: the agent routing it on
}

type event struct {
	typ                               string
	data                              any
	interactionID, routingID, agentID string
}

func newWorld(now func() time.Time, defaultSite string) *world {
	return &world{
		now:          now,
		defaultSite:  defaultSite,
		queues:       map[string]*Queue{},
		agents:       map[string]*agentState{},
		interactions: map[string]*interaction{},
		routings:     map[string]*routing{},
	}
}

func (w *world) next() uint64 { w.seq++; return w.seq }

func (w *world) addQueue(q Queue) error {
	if err := required(field{"id", q.ID}); err != nil {
		return err
	}
	if _, ok := w.queues[q.ID]; ok {
		return fail(ErrConflict, "id", fmt.Sprintf("queue %q already exists", q.ID))
	}
	w.queues[q.ID] = &q
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
	st := &agentState{Agent: a, capacity: max(a.Capacity, 1), idleSeq: w.next()}
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
		queueID: req.QueueID, customerName: req.CustomerName, createdAt: w.now(),
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
		w.assign(w.interactions[e.interactionID], a, e.queueID, e.routeType)
	}
}

// pickAgent chooses a ready agent of the queue with spare capacity: idle agents first, longest
// idle first, then the least loaded; the agent who last gave this interaction back only when
// nobody else can take it.
func (w *world) pickAgent(e waitEntry) *agentState {
	in := w.interactions[e.interactionID]
	var cands []*agentState
	for _, a := range w.agents {
		if !a.Ready || a.load >= a.capacity || a.ID == e.exclude || !slices.Contains(a.Queues, e.queueID) || in.openRoutingOf(a.ID) != nil {
			continue
		}
		cands = append(cands, a)
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(x, y *agentState) int {
		return cmp.Or(cmp.Compare(x.load, y.load), cmp.Compare(x.idleSeq, y.idleSeq), cmp.Compare(x.ID, y.ID))
	})
	for _, a := range cands {
		if a.ID != in.avoid {
			return a
		}
	}
	return cands[0]
}

func (w *world) assign(in *interaction, a *agentState, queueID, routeType string) *routing {
	w.nRouting++
	r := &routing{interactionID: in.id, RoutingView: RoutingView{
		RoutingID: "r" + strconv.Itoa(w.nRouting), AgentID: a.ID, QueueID: queueID,
		RouteType: routeType, State: StateRouting, RoutedAt: w.now(),
	}}
	in.routings = append(in.routings, r)
	w.routings[r.RoutingID] = r
	a.load++
	a.idleSeq = w.next()
	var queueName string
	if q, ok := w.queues[queueID]; ok {
		queueName = q.Name
	}
	w.emit(event{typ: acdapi.TypeRouted, interactionID: in.id, routingID: r.RoutingID, agentID: a.ID,
		data: acdapi.Routed{
			InteractionID: in.id, RoutingID: r.RoutingID, ChatID: in.chatID, Site: in.site,
			QueueID: queueID, QueueName: queueName, AgentID: a.ID, CRMAccountID: a.CRMAccountID,
			RouteType: routeType,
		}})
	return r
}

// end closes a routing and frees its agent's capacity.
func (w *world) end(r *routing, state, reason string) {
	r.State, r.Reason, r.EndedAt = state, reason, w.now()
	if a, ok := w.agents[r.AgentID]; ok && a.load > 0 {
		a.load--
		a.idleSeq = w.next()
	}
}

func (w *world) emit(e event) { w.events = append(w.events, e) }

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

func (w *world) isWaiting(id string) bool {
	return slices.ContainsFunc(w.waiting, func(e waitEntry) bool { return e.interactionID == id })
}

func (w *world) unqueue(id string) {
	w.waiting = slices.DeleteFunc(w.waiting, func(e waitEntry) bool { return e.interactionID == id })
}

// routingOf finds the routing a requeue/complete/route call names: by routingId when given,
// else the agent's newest routing of the interaction.
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
	if in.newestOpen() == nil && !w.isWaiting(id) {
		w.waiting = append(w.waiting, waitEntry{interactionID: id, queueID: r.QueueID, routeType: RouteLead})
	}
	w.dispatch()
	return statusResponse{Status: "requeued", RoutingID: r.RoutingID}, nil
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

func (w *world) route(id string, req routeRequest) (statusResponse, error) {
	if err := req.validate(); err != nil {
		return statusResponse{}, err
	}
	in, err := w.interaction(id)
	if err != nil {
		return statusResponse{}, err
	}
	if in.terminal != "" {
		return statusResponse{}, fail(ErrConflict, "", fmt.Sprintf("interaction %s is %s", id, in.terminal))
	}
	from, err := in.routingOf(req.RoutingID, req.FromAgentID, "fromAgentId")
	if err != nil {
		return statusResponse{}, err
	}
	if !from.open() {
		return statusResponse{}, fail(ErrConflict, "routingId", fmt.Sprintf("routing %s already ended (%s)", from.RoutingID, from.State))
	}
	if req.TargetQueueID != "" {
		if _, ok := w.queues[req.TargetQueueID]; !ok {
			return statusResponse{}, fail(ErrNotFound, "targetQueueId", fmt.Sprintf("no queue %q", req.TargetQueueID))
		}
		from.State = StateConnected
		before := len(in.routings)
		w.waiting = append(w.waiting, waitEntry{interactionID: id, queueID: req.TargetQueueID, routeType: req.RouteType, exclude: req.FromAgentID})
		w.dispatch()
		if len(in.routings) > before {
			return statusResponse{Status: "routed", RoutingID: in.routings[len(in.routings)-1].RoutingID}, nil
		}
		return statusResponse{Status: "queued"}, nil
	}
	a, ok := w.agents[req.TargetAgentID]
	switch {
	case !ok:
		return statusResponse{}, fail(ErrNotFound, "targetAgentId", fmt.Sprintf("no agent %q", req.TargetAgentID))
	case a.ID == req.FromAgentID:
		return statusResponse{}, fail(ErrInvalid, "targetAgentId", "the target is the agent routing it")
	case in.openRoutingOf(a.ID) != nil:
		return statusResponse{}, fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q already has interaction %s", a.ID, id))
	case !a.Ready:
		return statusResponse{}, fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q is not ready", a.ID))
	case a.load >= a.capacity:
		return statusResponse{}, fail(ErrConflict, "targetAgentId", fmt.Sprintf("agent %q has no free capacity", a.ID))
	}
	from.State = StateConnected
	r := w.assign(in, a, from.QueueID, req.RouteType)
	return statusResponse{Status: "routed", RoutingID: r.RoutingID}, nil
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
	return w.assign(in, a, in.queueID, routeType).RoutingID, nil
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
	w.end(r, StateRevoked, "revoked")
	in.avoid = r.AgentID
	w.emit(event{typ: acdapi.TypeRevoked, interactionID: id, routingID: r.RoutingID, agentID: r.AgentID,
		data: acdapi.Revoked{InteractionID: id, RoutingID: r.RoutingID, AgentID: r.AgentID, Reason: "revoked"}})
	if in.newestOpen() == nil && !w.isWaiting(id) {
		w.waiting = append(w.waiting, waitEntry{interactionID: id, queueID: r.QueueID, routeType: RouteLead})
	}
	w.dispatch()
	return nil
}

// abandon: the customer left. Open routings stay open: the agent still completes them.
func (w *world) abandon(id, stage string) error {
	in, err := w.interaction(id)
	if err != nil {
		return err
	}
	if in.terminal != "" {
		return fail(ErrConflict, "id", fmt.Sprintf("interaction %s is already %s", id, in.terminal))
	}
	r := in.newestOpen()
	if stage == "" {
		switch {
		case r == nil:
			stage = acdapi.StageQueued
		case r.State == StateRouting:
			stage = acdapi.StageRouting
		default:
			stage = acdapi.StageAlerting
		}
	}
	data := acdapi.Abandoned{InteractionID: id, Stage: stage}
	switch stage {
	case acdapi.StageQueued:
	case acdapi.StageRouting, acdapi.StageAlerting:
		if r == nil {
			return fail(ErrConflict, "stage", fmt.Sprintf("interaction %s is not being offered to an agent", id))
		}
		data.RoutingID, data.AgentID = r.RoutingID, r.AgentID
	default:
		return fail(ErrInvalid, "stage", fmt.Sprintf("%q is not one of queued, routing, alerting", stage))
	}
	w.unqueue(id)
	in.terminal, in.abandonStage = StateAbandoned, stage
	w.emit(event{typ: acdapi.TypeAbandoned, interactionID: id, routingID: data.RoutingID, agentID: data.AgentID, data: data})
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
