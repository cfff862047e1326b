package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Routed is the ACD's "chat routed to agent" command.
type Routed struct {
	EventID       string
	InteractionID string
	RoutingID     string // "" → AgentID
	ChatID        string
	Site          string
	QueueID       string
	QueueName     string
	AgentID       string
	CRMAccountID  string // "" → the agent's media-bar session binding
	RouteType     RouteType
	// FromRoutingID names the leg that asked for a transfer, conference or consult.
	FromRoutingID string
	// DeliveryID, when set, is the webhook delivery's id: a new routing records it as seen
	// with its leg (RoutedOutcome.DeliveryRecorded), a round trip fewer than Delivered.
	DeliveryID string
}

// RoutedOutcome says what Routed did.
type RoutedOutcome struct {
	Key       LegKey
	Duplicate bool // the same routing was already recorded; nothing new happened
	// DeliveryRecorded: Routed.DeliveryID is a first delivery and Routed recorded it (a new
	// routing's webhook cannot have been seen before: it would have created the leg).
	DeliveryRecorded bool
}

// Routed records a routing durably and queues its pop; it returns as soon as both are stored
// so the ACD gets its answer fast. Exactly one pop is queued per routing, however many times
// the webhook is delivered and however many replicas receive it.
func (s *Service) Routed(ctx context.Context, r Routed) (RoutedOutcome, error) {
	site, ok := s.opts.Sites[r.Site]
	if !ok {
		return RoutedOutcome{}, fmt.Errorf("routed %s: site %q: %w", r.InteractionID, r.Site, ErrUnknownSite)
	}
	if r.RoutingID == "" {
		r.RoutingID = r.AgentID
	}
	if r.QueueName == "" {
		r.QueueName = site.Queues[r.QueueID].Name
	}
	now := s.clock.Now()
	in := &Interaction{
		InteractionID: r.InteractionID, RoutingID: r.RoutingID, ChatID: r.ChatID, Site: r.Site,
		QueueID: r.QueueID, QueueName: r.QueueName, AgentID: r.AgentID, CRMAccountID: r.CRMAccountID,
		RouteType: r.RouteType, FromRoutingID: r.FromRoutingID, State: StateRouted, RoutedAt: now, UpdatedAt: now,
	}
	key := in.Key()
	// The routing's timeline entry and the agent's event go with the leg's indexes, in one
	// round trip, before the pop is queued: the agent hears of the routed leg before any pop
	// step (the event used to race the pop worker's), and in any case only of a leg that is
	// stored and listed (AgentLegs), even if queueing its pop fails and the ACD retries.
	fx := LegEffects{Timeline: []TimelineEntry{s.entry(in, TimelineACDEvent,
		fmt.Sprintf("interaction.routed to agent %s (%s, queue %s, chat %s, event %s)", r.AgentID, r.RouteType, r.QueueID, r.ChatID, r.EventID), "", 0)}}
	s.tellAgent(&fx, in, 1)
	// The pop's work item goes last in the same round trip, once the leg is stored. With an
	// inline slot free, the creation also takes the pop's lease and the item is claimed for
	// this replica, which pops the chat itself once the ACD has its answer (inline.go).
	fx.Queue = &QueueItem{Queue: QueuePops, Payload: popPayload(key)}
	if r.DeliveryID != "" {
		fx.Delivery = &DeliveryMark{ID: r.DeliveryID, TTL: s.opts.DedupeTTL}
	}
	var created bool
	var fxErr, err error
	if s.inline.take() {
		created, fxErr, err = s.routedInline(ctx, key, in, fx)
	} else {
		created, fxErr, err = s.store.CreateLegWith(ctx, in, fx)
	}
	if err != nil {
		return RoutedOutcome{}, fmt.Errorf("record routing %s: %w", key, errors.Join(ErrStoreUnavailable, err))
	}
	if !created {
		return s.duplicateRouting(ctx, key, r.EventID)
	}
	if errors.Is(fxErr, ErrNotQueued) {
		// The ACD retries on the 503; duplicateRouting re-queues the pop then.
		return RoutedOutcome{}, fmt.Errorf("queue pop %s: %w", key, errors.Join(ErrStoreUnavailable, fxErr))
	}
	if fxErr != nil {
		s.log.Warn("routing stored; its timeline entries or agent event were not", "interaction_id", in.InteractionID,
			"routing_id", in.RoutingID, "agent_id", in.AgentID, "chat_id", in.ChatID, "err", fxErr)
	}
	if fxErr != nil && r.DeliveryID != "" {
		// The mark may have been lost with the rest of fx. Marking again is harmless (SET
		// NX); its answer is not the caller's to report: this delivery is a first one.
		_, _ = s.store.FirstDelivery(ctx, r.DeliveryID, s.opts.DedupeTTL)
	}
	return RoutedOutcome{Key: key, DeliveryRecorded: r.DeliveryID != ""}, nil
}

// repopAfter: a duplicate routing whose leg is still "routed" this long after it was recorded
// lost its pop item (the enqueue failed after the leg was stored, and the ACD retried). Pops
// start within milliseconds, so this never fires for a healthy leg; a surplus pop item is a
// no-op anyway (lease, state machine, stable transaction id).
const repopAfter = time.Second

// duplicateRouting absorbs a repeat of a recorded routing, and re-queues its pop when the
// first delivery stored the leg but could not queue the pop: without that the chat would
// stay "routed" forever.
func (s *Service) duplicateRouting(ctx context.Context, key LegKey, eventID string) (RoutedOutcome, error) {
	s.obs.Absorbed("duplicate_routing")
	in, err := s.store.GetLeg(ctx, key)
	if err != nil {
		return RoutedOutcome{}, fmt.Errorf("duplicate routing %s: %w", key, errors.Join(ErrStoreUnavailable, err))
	}
	if in.State == StateRouted && s.clock.Now().Sub(in.RoutedAt) >= repopAfter {
		s.timeline(ctx, in, TimelineDecision, "duplicate interaction.routed (event "+eventID+") found the pop not started: re-queued", "", 0)
		if err := s.queuePop(ctx, key); err != nil {
			return RoutedOutcome{}, err
		}
		return RoutedOutcome{Key: key, Duplicate: true}, nil
	}
	s.timeline(ctx, in, TimelineAbsorbed, "duplicate interaction.routed (event "+eventID+") absorbed", "", 0)
	return RoutedOutcome{Key: key, Duplicate: true}, nil
}

func popPayload(key LegKey) []byte {
	payload, _ := json.Marshal(key)
	return payload
}

func (s *Service) queuePop(ctx context.Context, key LegKey) error {
	if err := s.work.Enqueue(ctx, QueuePops, popPayload(key)); err != nil {
		return fmt.Errorf("queue pop %s: %w", key, errors.Join(ErrStoreUnavailable, err))
	}
	return nil
}

// RunPopWorkers consumes the pop queue until ctx ends. Items of a replica that died are
// reclaimed by the work queue and finished here.
func (s *Service) RunPopWorkers(ctx context.Context, consumer string) error {
	return s.work.Consume(ctx, QueuePops, consumer, func(ctx context.Context, item WorkItem) error {
		var key LegKey
		if err := json.Unmarshal(item.Payload, &key); err != nil || key.InteractionID == "" {
			s.log.Error("drop unreadable pop item", "item_id", item.ID, "err", err)
			return nil
		}
		// A pop in flight is finished even when the replica is shutting down (bounded by the
		// lease): stopping consumption must not cut a CRM call in half.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.LeaseTTL)
		defer cancel()
		return s.Pop(pctx, key)
	})
}

// Pop pops one routed leg into the agent's CRM console and applies the catalog's decision.
// It is safe to run concurrently and repeatedly for the same leg: a lease with a fencing
// token keeps one replica at a time, the state machine makes a finished pop a no-op, and the
// CRM transaction id is stable per attempt so a takeover replays the CRM's first answer
// instead of routing twice. A returned error leaves the work item to be retried.
func (s *Service) Pop(ctx context.Context, key LegKey) error {
	// The lease and the leg in one round trip; the pop then works from the leg it holds (and
	// from each version it writes) instead of re-reading it before every write.
	in, fence, ok, err := s.store.LeaseLeg(ctx, key, s.opts.LeaseTTL)
	if err != nil {
		return fmt.Errorf("pop %s: lease: %w", key, err)
	}
	if !ok {
		return fmt.Errorf("pop %s: %w", key, errLeaseHeldElsewhere)
	}
	return s.popLeased(ctx, key, in, fence, nil)
}

// popLeased is Pop once the lease is held under fence: in is the leg as read with the lease
// (nil if there is none), the pop's own copy. The lease is released on the way out. inline,
// for an inline pop (nil for a worker's), holds the writes that go with the leg's creation,
// which an inline pop does not wait for before its CRM call: they are waited for before the
// pop's first write, so that the timeline and the agent's events keep their order.
func (s *Service) popLeased(ctx context.Context, key LegKey, in *Interaction, fence int64, inline *inlineRun) error {
	var err error
	created := func() {}
	if inline != nil {
		created = inline.wait
	}
	lease := &popLease{fence: fence, inline: inline}
	defer func() {
		if lease.released {
			return // the pop's last write released it
		}
		// Release with a fresh context: the pop's own may be done.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = s.store.ReleaseLease(rctx, key, fence)
	}()

	if in == nil {
		s.log.Warn("pop for a leg that no longer exists", "interaction_id", key.InteractionID, "routing_id", key.RoutingID)
		return nil
	}
	if in.State != StateRouted && in.State != StatePopping {
		return nil // popped, revoked or abandoned meanwhile
	}
	site := s.opts.Sites[in.Site]
	if in.CRMAccountID == "" {
		sess, err := s.store.GetAgentSession(ctx, in.AgentID)
		switch {
		case errors.Is(err, ErrNotFound):
			return s.finishPop(ctx, in, lease, site, string(bridgeerr.AgentNotLoggedIn), RouteResult{}, 0, nil, created)
		case err != nil:
			return fmt.Errorf("pop %s: agent session: %w", key, err)
		}
		in.CRMAccountID = sess.CRMAccountID
	}

	// Takeover of a pop in flight reuses its attempt number (same transaction id); a fresh
	// pop starts attempt 1.
	attempt := in.PopAttempts
	if in.State == StateRouted || attempt == 0 {
		attempt = 1
	}
	// A takeover cannot know whether the owner it replaces sent the route before it died: if
	// it did, the CRM may offer the chat yet. So the takeover's attempt is uncertain from the
	// start: a breaker or an error status now settles nothing, only the CRM's answer to the
	// same transaction id does (the 3-replica chaos run requeued a chat the CRM then offered).
	// A leg still routed under a later fence was leased before: its first pop may have sent
	// its call (a first call goes out with no write before it, see below).
	tookOver := (in.State == StatePopping && in.PopAttempts > 0) || (in.State == StateRouted && fence > 1)
	account := in.CRMAccountID
	// pending are timeline entries not written yet: they go with the pop's next write.
	var pending []TimelineEntry
	started := created
	if in.State == StateRouted && !tookOver {
		// The first call of a fresh pop goes out with no write before it: the lease's fence
		// (stored, incremented by every lease) already records that a pop began, which is
		// all a takeover needs, and the leg goes from routed to its outcome in one write.
		// The "popping" write it saves was a compare-and-set and a pipeline per pop, the
		// largest single cost on the bridge's pop path (bench). in is the pop's own copy
		// (read with the lease).
		in.PopAttempts = attempt
		in.CRMAccountID = account
		pending = []TimelineEntry{s.entry(in, TimelineDecision, fmt.Sprintf("pop_start: routed, sending chatRouted attempt %d (lease fence %d)", attempt, fence), "", 0)}
	} else {
		// The start's indexes, timeline entries and "popping" event are written while the
		// CRM call is in flight (they need not precede it, only what follows it): started
		// waits for them, and is called before the pop writes anything else.
		var applied bool
		created()
		in, applied, err = s.applyTrigger(ctx, key, TriggerPopStart, change{cur: in, fence: fence, background: &started, mutate: func(l *Interaction) {
			l.PopAttempts = attempt
			l.CRMAccountID = account
			if tookOver {
				l.PopUncertain = true
			}
		}})
		defer started() // also on the way out: no write of the pop outlives it
		if err != nil {
			return fmt.Errorf("pop %s: start: %w", key, err)
		}
		if !applied {
			return nil
		}
	}

	for {
		start := s.clock.Now()
		res, code, callErr := s.routeOnce(ctx, in, attempt)
		latency := s.clock.Now().Sub(start)
		if callErr != nil {
			started()
		}
		if errors.Is(callErr, errPopUncertain) {
			tx := transactionID(key, attempt)
			if _, _, err := s.applyTrigger(ctx, key, TriggerPopStart, change{cur: in, fence: fence, before: pending, mutate: func(l *Interaction) { l.PopUncertain = true }}); err != nil {
				return fmt.Errorf("pop %s: uncertain: %w", key, err)
			}
			s.timeline(ctx, in, TimelineCRMCall, fmt.Sprintf("chatRouted (transaction %s) got no answer and may have been applied: the pop stays open and replays it until the CRM answers", tx), "", latency)
			s.log.Warn("pop outcome unknown; will replay the same transaction", "interaction_id", in.InteractionID, "chat_id", in.ChatID, "transaction_id", tx)
			return fmt.Errorf("pop %s: %w", key, callErr) // the work item comes back; so does the reconciler
		}
		if callErr != nil {
			// The caller went away (shutdown): leave the item for another replica, which will
			// replay the same transaction id.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			s.appendTimeline(wctx, in.InteractionID, pending...)
			cancel()
			return fmt.Errorf("pop %s: %w", key, callErr)
		}
		answered := append(pending, s.entry(in, TimelineCRMCall, fmt.Sprintf("chatRouted chat %s to account %s (transaction %s) answered %s", in.ChatID, in.CRMAccountID, transactionID(key, attempt), code), code, latency))
		pending = nil
		entry := site.Catalog.Lookup(code)
		if entry.Retry && attempt <= s.opts.PopRetries {
			started()
			s.appendTimeline(ctx, in.InteractionID, answered...)
			attempt++
			next := attempt
			var applied bool
			in, applied, err = s.transitionFrom(ctx, in, TriggerPopStart, fence, func(l *Interaction) { l.PopAttempts = next })
			if err != nil {
				return fmt.Errorf("pop %s: retry: %w", key, err)
			}
			if !applied {
				return nil
			}
			s.timeline(ctx, in, TimelineDecision, fmt.Sprintf("%s is transient: retry %d of %d", code, attempt-1, s.opts.PopRetries), code, 0)
			continue
		}
		return s.finishPop(ctx, in, lease, site, code, res, latency, answered, started)
	}
}

// routeOnce makes one CRM route attempt and turns a missing answer into a bridge code.
// It returns an error only when the caller's context ended.
func (s *Service) routeOnce(ctx context.Context, in *Interaction, attempt int) (RouteResult, string, error) {
	// A backstop only: the adapter enforces PopBudget itself (and resolves a lost answer
	// within it); the core's deadline must not cut that resolution short.
	cctx, cancel := context.WithTimeout(ctx, s.opts.PopBudget+time.Second)
	defer cancel()
	res, err := s.crm.RouteChat(cctx, RouteRequest{
		Site: in.Site, ChatID: in.ChatID, AgentAccountID: in.CRMAccountID, QueueID: in.QueueID,
		TransactionID: transactionID(in.Key(), attempt), RouteType: in.RouteType,
	})
	switch {
	case err == nil && res.Code == "":
		return res, string(bridgeerr.MalformedCRMReply), nil
	case err == nil:
		return res, res.Code, nil
	case ctx.Err() != nil:
		return res, "", ctx.Err()
	case errors.Is(err, ErrOutcomeUnknown), in.PopUncertain && errors.Is(err, ErrUnavailable):
		// A route that may have been applied is settled only by the CRM's answer to the same
		// transaction id; a breaker or an error status now says nothing about it.
		return res, "", errPopUncertain
	case errors.Is(err, ErrMalformedReply):
		s.log.Warn("malformed CRM reply", "interaction_id", in.InteractionID, "chat_id", in.ChatID, "err", err)
		return res, string(bridgeerr.MalformedCRMReply), nil
	default:
		s.log.Warn("CRM unreachable", "interaction_id", in.InteractionID, "chat_id", in.ChatID, "err", err)
		return res, string(bridgeerr.CRMUnreachable), nil
	}
}

// errPopUncertain: the pop's route may have been applied and its answer is not known yet.
var errPopUncertain = errors.New("route outcome unknown")

// transactionID is the CRM idempotency key of one route attempt.
func transactionID(key LegKey, attempt int) string {
	return key.String() + "#" + strconv.Itoa(attempt)
}

// popLease is a pop's hold on its leg's lease.
type popLease struct {
	fence    int64
	released bool       // by the pop's last write
	inline   *inlineRun // an inline pop's, whose item the last write may ack (nil: a worker's)
}

// ackWithOutcome is the work item the pop's outcome acks in its own round trip: an inline
// pop's claimed item, when nothing the pop does after the outcome can fail (and so need the
// item redone). nil otherwise: the item is acked once the pop returned nil, as a worker's is.
// Only a transfer does more that can fail after its outcome (transferredAway). The item's id
// is set once the creation's writes are done (finishPop); none is acked while it is "" (the
// item was not queued).
func (l *popLease) ackWithOutcome(leg *Interaction) *AckItem {
	if l.inline == nil || leg.RouteType == RouteTransfer {
		return nil
	}
	return &AckItem{Queue: QueuePops}
}

// finishPop stores the pop's outcome and applies the catalog's decision: the agent is told
// (message and verbatim code), the chat is requeued or not, the channel may turn red and the
// agent may be set not ready in the ACD. leg is the leg as the pop last read or wrote it: the
// outcome is compare-and-set on it (re-read on a conflict). The outcome's write also releases
// the lease: nothing after it needs the lease, and it saves the pop a round trip.
//
// answered are the timeline entries of the pop not written yet, ending with the CRM's
// answer. On the way to an offer they are written with the outcome, a round trip fewer; a
// failure first writes them on their own, since the failure's decisions (escalation) follow
// them on the timeline.
//
// prior waits for the pop's earlier writes still in flight (an inline pop's creation): it is
// called before finishPop writes anything. An offer is the exception: its outcome's
// compare-and-set goes first, since it touches only the leg, and the outcome's effects
// (timeline, event, indexes) wait for prior, so they still follow the creation's. At one
// connection that overlaps a round trip that used to be waited for in turn (bench: the
// creation's pipeline outlasted the CRM's answer).
func (s *Service) finishPop(ctx context.Context, leg *Interaction, lease *popLease, site SiteOptions, code string, res RouteResult, latency time.Duration, answered []TimelineEntry, prior func()) error {
	key := leg.Key()
	entry := site.Catalog.Lookup(code)
	trigger := TriggerPopFailed
	if entry.Success() {
		trigger = TriggerPopOffered
		if res.EngagementState == EngagementActive {
			trigger = TriggerPopActive
		}
	}
	sessionAfter := entry.Success() && !strings.Contains(entry.Message, "{agent_session_id}")
	if trigger != TriggerPopOffered || !sessionAfter {
		prior() // a failure's timeline and outbox writes, an auto-accept's outbox call, come before its outcome
	}
	before := answered
	if !entry.Success() && before != nil {
		s.appendTimeline(ctx, leg.InteractionID, before...)
		before = nil
	}
	// One read of the agent's session serves the message, the not-ready decision and the
	// channel; none is worth a second round trip on the pop path. A failure needs it before
	// the outcome (the not-ready call goes first); an offer whose message does not name the
	// session needs it only for the channel, after the outcome: it is read with the outcome's
	// effects, in their round trip.
	var sess AgentSession
	var sessErr error
	if !sessionAfter {
		sess, sessErr = s.store.GetAgentSession(ctx, leg.AgentID)
	}
	// The ACD calls go into the durable outbox before the outcome is stored: if storing fails
	// the pop is retried, replays the CRM's answer and enqueues the same calls again, which the
	// idempotency keys make harmless. The other order could lose a requeue.
	if trigger == TriggerPopActive { // auto-accept: the agent has the chat already
		if err := s.enqueueACD(ctx, acceptCall(leg)); err != nil {
			s.appendTimeline(ctx, leg.InteractionID, before...)
			return fmt.Errorf("pop %s: %w", key, err)
		}
	}
	escalated := false
	if !entry.Success() {
		if entry.Requeue {
			call, err := s.requeueCallFor(ctx, leg, code)
			escalated = call.TargetQueueID != ""
			if err != nil {
				return fmt.Errorf("pop %s: %w", key, err)
			}
			if err := s.enqueueACD(ctx, call); err != nil {
				return fmt.Errorf("pop %s: %w", key, err)
			}
		}
		// Not ready once per turn to red: if the channel is already red, whoever turned it
		// (a CRM agent event, an earlier pop) has told the ACD. Unknown counts as green:
		// telling the ACD once too often is harmless, never telling it is not.
		if entry.ACDNotReady && (sessErr != nil || sess.Channel.Green) {
			if err := s.enqueueACD(ctx, agentStateCall(leg.AgentID, false, "notready:"+key.String(), code)); err != nil {
				return fmt.Errorf("pop %s: %w", key, err)
			}
		}
	}
	// An offer's session read rides on the outcome's write.
	var after *SessionRead
	if sessionAfter && entry.Channel == bridgeerr.ChannelGreen {
		after = &SessionRead{}
	}
	ack := lease.ackWithOutcome(leg)
	// prior is idempotent (a closed channel, a sync.OnceFunc or nothing), and so is this.
	written := prior
	prior = func() {
		written()
		if ack != nil {
			ack.ID = lease.inline.claimedID // known once the creation is written
		}
	}
	in, applied, err := s.applyTrigger(ctx, key, trigger, change{cur: leg, fence: lease.fence, release: true, before: before, session: after, ack: ack, prior: prior, mutate: func(l *Interaction) {
		l.PopUncertain = false
		// A first pop's attempt and account are written only now (see Pop); a re-read
		// after a conflict must not lose them.
		l.PopAttempts = max(l.PopAttempts, leg.PopAttempts)
		if l.CRMAccountID == "" {
			l.CRMAccountID = leg.CRMAccountID
		}
		l.Code = code
		l.Message = s.render(l, entry, sess.CRMChatSessionID)
		if !entry.Success() {
			l.Requeued = entry.Requeue
			d := legDescriptor(l.RouteType, entry.Descriptor)
			l.Descriptor = &d
		}
	}})
	prior() // before anything else is written, whatever the outcome's write did
	if err != nil {
		return fmt.Errorf("pop %s: finish: %w", key, err)
	}
	lease.released = applied
	if ack != nil && ack.Acked {
		lease.inline.acked = true
	}
	if in.State == StateActive && in.RouteType == RouteTransfer {
		// Also on a replay (not applied): a first try may have stored the outcome and died
		// before this; closing the transferring agent's leg is idempotent.
		if err := s.transferredAway(ctx, in); err != nil {
			return fmt.Errorf("pop %s: transfer: %w", key, err)
		}
	}
	if !applied {
		return nil
	}
	s.obs.PopFinished(code, entry.Requeue && !entry.Success(), latency)
	if entry.Requeue && !entry.Success() {
		s.obs.Requeued(code, escalated)
	}
	logAttrs := []any{"interaction_id", in.InteractionID, "routing_id", in.RoutingID, "agent_id", in.AgentID, "chat_id", in.ChatID, "code", code}
	if entry.OpsAlert {
		s.log.Error("pop failed; operator action needed", append(logAttrs, "meaning", entry.Meaning)...)
	} else {
		s.log.Info("pop finished", logAttrs...)
	}
	if after != nil {
		sess, sessErr = after.Session, after.Err
	}
	switch {
	case entry.Channel != bridgeerr.ChannelGreen:
		s.setChannel(ctx, in.AgentID, Channel{Green: false, Reason: code, Message: in.Message, Banner: entry.Channel == bridgeerr.ChannelBanner})
	case sessErr == nil && !sess.Channel.Green && sess.Channel.Reason == string(bridgeerr.CRMUnreachable):
		// The CRM answered: a channel red only because it could not be reached turns green.
		s.setChannel(ctx, in.AgentID, Channel{Green: true})
	}
	return nil
}
