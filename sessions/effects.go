package sessions

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// What follows a leg write — its indexes, the interaction's timeline entries, the agent's
// event (XADD + wake-up PUBLISH) — goes to Redis as ONE pipeline, sent only once the leg's
// compare-and-set script said yes. Those keys live in other hash slots than the leg (the
// indexes are shared, the timeline is per interaction, the stream per agent), so they cannot
// join the leg's script without breaking Cluster; a pipeline keeps every command single-slot
// (go-redis splits it per node on Cluster) and still costs one round trip on a standalone
// server, where the state change used to cost five or six.

// timelineScript: KEYS timeline; ARGV max entries, ttl ms, entry json... Appends, trims and
// refreshes the TTL in one step (as AppendTimeline's MULTI does), so a timeline never exists
// without its TTL, and can be queued in a pipeline beside other keys' commands.
var timelineScript = redis.NewScript(`
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[1]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// pipe is a pipeline that can also queue scripts. Scripts are queued as EVALSHA; one the
// server has not cached (restart, failover, SCRIPT FLUSH) is refused without being run, and
// exec runs it again on its own (EVALSHA, then EVAL), so no pipeline depends on what the
// server happens to remember.
type pipe struct {
	redis.Pipeliner
	scripts []queuedScript
}

type queuedScript struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

func (s *Store) newPipe() *pipe { return &pipe{Pipeliner: s.client.Pipeline()} }

// script queues sc; the returned command holds its result after exec.
func (p *pipe) script(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd := sc.EvalSha(ctx, p.Pipeliner, keys, args...)
	p.scripts = append(p.scripts, queuedScript{script: sc, keys: keys, args: args, cmd: cmd})
	return cmd
}

// exec sends the pipeline, reruns the scripts the server did not know, and returns the
// first error other than redis.Nil (a missing key is an answer, not a failure).
func (p *pipe) exec(ctx context.Context, client redis.UniversalClient) error {
	cmds, _ := p.Exec(ctx)
	for _, q := range p.scripts {
		if redis.HasErrorPrefix(q.cmd.Err(), "NOSCRIPT") {
			r := q.script.Run(ctx, client, q.keys, q.args...)
			q.cmd.SetVal(r.Val())
			q.cmd.SetErr(r.Err())
		}
	}
	return firstErr(cmds)
}

// firstErr is the first error among cmds other than redis.Nil.
func firstErr[C redis.Cmder](cmds []C) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

// queuedEffects are the commands queueEffects queued.
type queuedEffects struct {
	bestEffort []*redis.Cmd // timeline and event
	queued     *redis.Cmd   // fx.Queue's enqueue, or nil
	queue      string       // fx.Queue's queue
	ack        *redis.Cmd   // fx.Ack's ack, or nil
}

// acked sets item.Acked once the ack queued for it succeeded. A failed ack is not an error
// of the effects: the item's holder acks it itself (Store.Hold), as without fx.Ack.
func (q queuedEffects) acked(item *bridge.AckItem) {
	if q.ack != nil && item != nil {
		item.Acked = q.ack.Err() == nil
	}
}

// claimed sets item.ClaimedID once the item was added and claimed for item.Claim.
func (q queuedEffects) claimed(item *bridge.QueueItem) {
	if q.queued == nil || item == nil || item.Claim == "" {
		return
	}
	if id, err := q.queued.Text(); err == nil {
		item.ClaimedID = id
	}
}

// err is the effects' failure after exec: an enqueue failure wraps bridge.ErrNotQueued.
func (q queuedEffects) err() error {
	err := firstErr(q.bestEffort)
	if q.queued != nil {
		qerr := q.queued.Err()
		if errors.Is(qerr, redis.Nil) { // the script's false: the queue is full
			qerr = ErrQueueFull
		}
		if qerr != nil {
			err = errors.Join(err, fmt.Errorf("%w to %s: %w", bridge.ErrNotQueued, q.queue, qerr))
		}
	}
	return err
}

// queueEffects queues fx: the timeline entries on interactionID's timeline, then the event on
// its agent's stream, then fx.Delivery's mark, then fx.Queue's item. fx.Session is the caller's (it needs the leg).
func (s *Store) queueEffects(ctx context.Context, p *pipe, interactionID string, fx bridge.LegEffects) (queuedEffects, error) {
	// Everything is encoded before anything is queued: fx goes out whole or not at all.
	var timeline []any
	if len(fx.Timeline) > 0 {
		timeline = make([]any, 0, 2+len(fx.Timeline))
		timeline = append(timeline, s.opts.TimelineMax, ms(s.opts.LegTTL))
		for _, e := range fx.Timeline {
			data, err := e.AppendJSON(make([]byte, 0, 256)) // an entry is a couple of hundred bytes
			if err != nil {
				return queuedEffects{}, fmt.Errorf("timeline entry: %w", err)
			}
			timeline = append(timeline, data)
		}
	}
	var event, agentJSON []byte
	if fx.Event != nil {
		var err error
		if event, agentJSON, err = encodeEvent(fx.Event.AgentID, *fx.Event); err != nil {
			return queuedEffects{}, err
		}
	}
	var q queuedEffects
	if timeline != nil {
		q.bestEffort = append(q.bestEffort, p.script(ctx, timelineScript, []string{s.keys.Timeline(interactionID)}, timeline...))
	}
	if fx.Event != nil {
		q.bestEffort = append(q.bestEffort, p.script(ctx, publishScript, []string{s.keys.Events(fx.Event.AgentID)},
			s.opts.StreamMaxLen, ms(s.opts.StreamTTL), event, s.keys.EventsChannel(), agentJSON))
	}
	if fx.Delivery != nil {
		q.bestEffort = append(q.bestEffort, p.Do(ctx, "set", s.keys.Delivery(fx.Delivery.ID), "1", "px", ms(s.dedupeTTL(fx.Delivery.TTL)), "nx"))
	}
	if fx.Queue != nil {
		// Last, so that a worker never reads the item before the leg's event is out (on
		// Cluster the stream may live on another node, where this order is not kept; the
		// media bar orders a leg's events by version anyway).
		q.queue = fx.Queue.Queue
		if fx.Queue.Claim != "" {
			q.queued = p.script(ctx, claimScript, []string{s.keys.ClaimedQueue(fx.Queue.Queue)}, fx.Queue.Payload, group, fx.Queue.Claim, s.opts.QueueMaxLen)
		} else {
			q.queued = p.script(ctx, enqueueScript, []string{s.keys.Queue(fx.Queue.Queue)}, fx.Queue.Payload, group, s.opts.QueueMaxLen)
		}
	}
	if fx.Ack != nil && fx.Ack.ID != "" {
		// After the rest: an item acked is an item no replica redoes, so it goes only with
		// what its handler wrote.
		q.ack = p.script(ctx, ackScript, []string{s.keys.ClaimedQueue(fx.Ack.Queue)}, group, fx.Ack.ID)
	}
	return q, nil
}

// RecordEffects writes fx with no leg write — timeline entries and an event — in one round
// trip. fx.ReleaseLease must be false: there is no write to release the lease with; so must
// fx.Session, which names no agent here.
func (s *Store) RecordEffects(ctx context.Context, interactionID string, fx bridge.LegEffects) error {
	if fx.ReleaseLease || fx.Session != nil {
		return fmt.Errorf("record effects of %s: ReleaseLease and Session need a leg write", interactionID)
	}
	if fx.Event != nil && fx.Event.AgentID == "" {
		return fmt.Errorf("record effects of %s: event without an agent", interactionID)
	}
	if len(fx.Timeline) == 0 && fx.Event == nil && fx.Queue == nil && fx.Ack == nil {
		return nil
	}
	if fx.Prior != nil {
		fx.Prior()
	}
	var q queuedEffects
	var err error
	s.roundTrip(ctx, func(p *pipe) { q, err = s.queueEffects(ctx, p, interactionID, fx) })
	if err != nil {
		return fmt.Errorf("record effects of %s: %w", interactionID, err)
	}
	q.claimed(fx.Queue)
	q.acked(fx.Ack)
	if err := q.err(); err != nil {
		return fmt.Errorf("record effects of %s: %w", interactionID, err)
	}
	return nil
}

// afterWrite sends, in one pipeline, the indexes of a leg just written, then fx, then the
// read of fx.Session. An index failure is logged, as indexAfterWrite does (the next write of
// the leg rewrites them); a failure of fx is returned, for the caller to report as it would
// a failed AppendTimeline or Publish (or, for fx.Queue, a failed Enqueue).
func (s *Store) afterWrite(ctx context.Context, in *bridge.Interaction, created bool, fx bridge.LegEffects) error {
	if fx.Prior != nil {
		fx.Prior()
	}
	var index queuedIndex
	var q queuedEffects
	var err error
	var session *redis.StringCmd
	s.roundTrip(ctx, func(p *pipe) {
		index = s.queueIndex(ctx, p, in, created)
		q, err = s.queueEffects(ctx, p, in.InteractionID, fx) // on error nothing of fx is queued
		if fx.Session != nil {
			session = p.Get(ctx, s.keys.AgentSession(in.AgentID))
		}
	})
	index.written(s, in, nil)
	if ierr := index.err(); ierr != nil {
		s.logIndexFailure(ctx, in, ierr)
	}
	if session != nil {
		fx.Session.Session, fx.Session.Err = decodeAgentSession(in.AgentID, session)
	}
	q.claimed(fx.Queue)
	q.acked(fx.Ack)
	if err != nil {
		if fx.Queue != nil {
			err = errors.Join(err, fmt.Errorf("%w to %s: effects not encoded", bridge.ErrNotQueued, fx.Queue.Queue))
		}
		return err
	}
	return q.err()
}
