package sessions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// A work queue is a Redis stream with one consumer group. An item is XADDed, read by one
// consumer (XREADGROUP ">"), and stays in the group's pending list until its handler returns
// nil; then it is acked and deleted in one script. While a handler runs, its consumer keeps
// the item's idle time at zero (XCLAIM JUSTID, only while it still owns it). An item whose
// consumer died, or whose handler failed, goes idle; after ReclaimIdle any consumer's
// XAUTOCLAIM takes it over, which also increments its delivery count. Delivery is therefore
// at least once: handlers must be idempotent (the core's leases and fences make them so).

// ErrQueueFull: Enqueue refused an item because the queue holds QueueMaxLen items.
var ErrQueueFull = errors.New("work queue full")

// group is the one consumer group of every queue stream.
const group = "workers"

const (
	// readBatch is 1: a consumer runs its items one after another, so an item read in a batch
	// would wait behind the others while the replica's other consumers sit idle. Reading one
	// at a time lets every free consumer take the next item; the read of the next item rides
	// in the previous item's ack (ackAndPrefetch), so under load this costs no round trip.
	readBatch   = 1
	claimBatch  = 16
	ackTimeout  = 5 * time.Second
	backoffMin  = 50 * time.Millisecond
	backoffMax  = 2 * time.Second
	janitorMin  = 10 * time.Millisecond
	claimMinGap = 10 * time.Millisecond
)

// enqueueScript: KEYS stream; ARGV payload, group, max length. Returns the item id, or nil
// when the queue is full. Creating the group at id 0 right after the XADD means no item is
// ever skipped, however the stream came to exist. It is created when the stream was empty
// (or did not exist): a stream that holds items got its group when its first one was added,
// or from a consumer (ensureGroup). Trying it on every add cost Redis an error reply (~2.5
// µs) per item.
var enqueueScript = redis.NewScript(`
local n = redis.call('XLEN', KEYS[1])
if n >= tonumber(ARGV[3]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'payload', ARGV[1])
if n == 0 then redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[2], '0') end
return id
`)

// claimScript: KEYS claimed stream; ARGV payload, group, consumer, max length. Adds the item
// to the queue's claimed stream and reads it for consumer (XREADGROUP ">") in the same step,
// so it is pending for that consumer from the start and no other consumer ever reads it: they
// only reclaim from this stream, as from the queue's own, once an item has been idle for
// ReclaimIdle (its consumer died or failed). Returns the item id, or nil when the stream is
// full. Every item of the stream is read as it is added, so ">" hands out the new one; should
// older unread ones be there all the same, they are read along with it and so become pending,
// to be reclaimed, never stranded. The group is created as enqueueScript does, when the
// stream was empty; should it be missing all the same (deleted by hand), the read creates it
// rather than leave the new item unread, where no consumer would ever look. A read that
// fails otherwise takes the new item back out before the script returns its error, for the
// same reason (the caller gets ErrNotQueued, as for a full stream).
var claimScript = redis.NewScript(`
local n = redis.call('XLEN', KEYS[1])
if n >= tonumber(ARGV[4]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'payload', ARGV[1])
if n == 0 then redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[2], '0') end
while true do
  local r = redis.pcall('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', 100, 'STREAMS', KEYS[1], '>')
  if type(r) == 'table' and r.err then
    if string.sub(r.err, 1, 7) ~= 'NOGROUP' then
      redis.call('XDEL', KEYS[1], id)
      return r
    end
    redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[2], '0')
    r = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', 100, 'STREAMS', KEYS[1], '>')
  end
  if not r then
    redis.call('XDEL', KEYS[1], id)
    return false
  end
  local msgs = r[1][2]
  if msgs[#msgs][1] == id then return id end
end
`)

// ackScript: KEYS stream; ARGV group, id. Acks and deletes in one step, so no acked entry
// is ever left behind in the stream.
var ackScript = redis.NewScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
`)

// touchScript: KEYS stream; ARGV group, consumer, id. Resets the item's idle time if
// consumer still owns it (JUSTID leaves the delivery count alone). 1 if touched.
var touchScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
`)

// dropConsumerScript: KEYS stream; ARGV group, consumer. Deletes the consumer only if it has
// nothing pending (deleting one with pending items would orphan them).
var dropConsumerScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`)

// Enqueue adds payload to the queue. It returns an error wrapping ErrQueueFull rather than
// grow the queue past QueueMaxLen.
func (s *Store) Enqueue(ctx context.Context, queue string, payload []byte) error {
	err := enqueueScript.Run(ctx, s.client, []string{s.keys.Queue(queue)}, payload, group, s.opts.QueueMaxLen).Err()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("enqueue to %s: %d items: %w", queue, s.opts.QueueMaxLen, ErrQueueFull)
	}
	if err != nil {
		return fmt.Errorf("enqueue to %s: %w", queue, err)
	}
	return nil
}

// Depth is the number of items waiting or in flight, claimed ones included (acked items are
// deleted).
func (s *Store) Depth(ctx context.Context, queue string) (int64, error) {
	var own, claimed *redis.IntCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		own = p.XLen(ctx, s.keys.Queue(queue))
		claimed = p.XLen(ctx, s.keys.ClaimedQueue(queue))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("depth of %s: %w", queue, err)
	}
	return own.Val() + claimed.Val(), nil
}

// Consume calls handle for the queue's items, one at a time, until ctx ends; then it returns
// nil. consumer names this consumer in the group and must be unique among live consumers
// (e.g. the pod name). A nil from handle acks and deletes the item; an error leaves it
// pending, to be redelivered (Deliveries+1) after ReclaimIdle. Redis errors are logged and
// retried with backoff.
func (s *Store) Consume(ctx context.Context, queue, consumer string, handle func(context.Context, bridge.WorkItem) error) error {
	if consumer == "" {
		return fmt.Errorf("consume %s: empty consumer name", queue)
	}
	c := s.newConsumerLoop(queue, consumer, handle)
	return c.run(ctx)
}

func (s *Store) newConsumerLoop(queue, consumer string, handle func(context.Context, bridge.WorkItem) error) *consumerLoop {
	key := s.keys.Queue(queue)
	return &consumerLoop{
		s: s, queue: queue, key: key, consumer: consumer, handle: handle,
		claimEvery:   max(s.opts.ReclaimIdle/2, claimMinGap),
		janitorEvery: max(s.opts.ConsumerTTL/2, janitorMin),
		reclaimFrom:  []*reclaimCursor{{key: key, at: "0-0"}, {key: s.keys.ClaimedQueue(queue), at: "0-0"}},
	}
}

type consumerLoop struct {
	s                        *Store
	queue, key, consumer     string
	handle                   func(context.Context, bridge.WorkItem) error
	claimEvery, janitorEvery time.Duration

	groupReady bool
	next       *redis.XMessage // read with the last ack, delivered by the next step
	// reclaimFrom are the streams idle items are reclaimed from: the queue's own, and its
	// claimed items' (read by nobody, only reclaimed).
	reclaimFrom []*reclaimCursor
	nextClaim   time.Time // zero: claim at once, picking up what a dead consumer left
	nextJanitor time.Time
	backoff     time.Duration
}

// reclaimCursor is where XAUTOCLAIM's scan of one stream has got to.
type reclaimCursor struct {
	key, at string
}

func (c *consumerLoop) run(ctx context.Context) error {
	c.nextJanitor = time.Now().Add(c.janitorEvery)
	for ctx.Err() == nil {
		if err := c.step(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			c.fail(ctx, err)
			continue
		}
		c.backoff = 0
	}
	return nil
}

// step does one unit of work: ensure the group, reclaim idle items when due, drop idle
// consumers when due, or read new items.
func (c *consumerLoop) step(ctx context.Context) error {
	if !c.groupReady {
		if err := c.ensureGroup(ctx); err != nil {
			return err
		}
		c.groupReady = true
	}
	now := time.Now()
	if !now.Before(c.nextClaim) {
		return c.reclaim(ctx, now)
	}
	if !now.Before(c.nextJanitor) {
		c.nextJanitor = now.Add(c.janitorEvery)
		return c.dropIdleConsumers(ctx)
	}
	if m := c.next; m != nil {
		c.next = nil
		c.deliver(ctx, c.key, *m, 1)
		return nil
	}
	block := max(min(c.s.opts.BlockFor, time.Until(c.nextClaim)), time.Millisecond) // BLOCK 0 = forever
	streams, err := c.s.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: group, Consumer: c.consumer, Streams: []string{c.key, ">"}, Count: readBatch, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil // nothing new within block
	}
	if err != nil {
		return c.readErr("read", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			if ctx.Err() != nil {
				return nil // the rest stay pending and are reclaimed by another consumer
			}
			c.deliver(ctx, c.key, m, 1)
		}
	}
	return nil
}

// reclaim takes over items idle for ReclaimIdle (including this consumer's own failed ones),
// from the queue's stream and its claimed items' alike, in one round trip, and delivers them
// with their delivery count.
func (c *consumerLoop) reclaim(ctx context.Context, now time.Time) error {
	cmds := make([]*redis.XAutoClaimCmd, len(c.reclaimFrom))
	_, err := c.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, rc := range c.reclaimFrom {
			cmds[i] = p.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: rc.key, Group: group, Consumer: c.consumer,
				MinIdle: c.s.opts.ReclaimIdle, Start: rc.at, Count: claimBatch,
			})
		}
		return nil
	})
	if err != nil {
		return c.readErr("reclaim", err)
	}
	// Keep scanning promptly while a cursor has not wrapped; otherwise wait a while.
	wrapped := true
	type claimed struct {
		key  string
		msgs []redis.XMessage
	}
	var found []claimed
	for i, rc := range c.reclaimFrom {
		msgs, next, _ := cmds[i].Result()
		rc.at = next
		if next == "0-0" || next == "" {
			rc.at = "0-0"
		} else {
			wrapped = false
		}
		if len(msgs) > 0 {
			found = append(found, claimed{rc.key, msgs})
		}
	}
	if wrapped {
		c.nextClaim = now.Add(c.claimEvery)
	}
	for _, f := range found {
		counts := c.deliveryCounts(ctx, f.key, f.msgs)
		for i, m := range f.msgs {
			if ctx.Err() != nil {
				return nil
			}
			c.deliver(ctx, f.key, m, counts[i])
		}
	}
	return nil
}

// deliveryCounts reads each claimed item's delivery count from key's pending list; if that
// read fails the item is at least on its second delivery.
func (c *consumerLoop) deliveryCounts(ctx context.Context, key string, msgs []redis.XMessage) []int64 {
	cmds := make([]*redis.XPendingExtCmd, len(msgs))
	_, _ = c.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msgs {
			cmds[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{
				Stream: key, Group: group, Start: m.ID, End: m.ID, Count: 1,
			})
		}
		return nil
	})
	counts := make([]int64, len(msgs))
	for i, cmd := range cmds {
		counts[i] = 2
		if p, err := cmd.Result(); err == nil && len(p) == 1 && p[0].RetryCount > 0 {
			counts[i] = p[0].RetryCount
		}
	}
	return counts
}

// deliver runs the handler for an item of stream key, keeping the item's idle time at zero
// while it runs, and acks the item when the handler succeeds.
func (c *consumerLoop) deliver(ctx context.Context, key string, m redis.XMessage, deliveries int64) {
	payload, _ := m.Values["payload"].(string)
	item := bridge.WorkItem{ID: m.ID, Payload: []byte(payload), Deliveries: deliveries}
	if c.runItem(ctx, key, item) {
		c.ackAndPrefetch(ctx, key, m.ID)
	}
}

// runItem runs the handler for item of stream key, keeping the item's idle time at zero
// while it runs; true when the handler succeeded (the item is to be acked). On false the item
// stays pending and is reclaimed (retried) after ReclaimIdle.
func (c *consumerLoop) runItem(ctx context.Context, key string, item bridge.WorkItem) bool {
	hctx, cancel := context.WithCancel(ctx)
	stopKeepAlive := c.s.keepAlive(hctx, key, c.consumer, item.ID)
	err := c.handle(hctx, item)
	cancel()
	stopKeepAlive()
	return err == nil
}

// Hold keeps an item an enqueue claimed for consumer (bridge.QueueItem.Claim) alive, as
// Consume does for the item it runs, until release is called: release(true) acks and deletes
// it; release(false) leaves it pending, for any consumer of the queue to reclaim once idle for
// ReclaimIdle. release returns once the keep-alive has stopped and the ack is done.
func (s *Store) Hold(ctx context.Context, queue, consumer, id string) (release func(ack bool)) {
	key := s.keys.ClaimedQueue(queue)
	hctx, cancel := context.WithCancel(ctx)
	stopKeepAlive := s.keepAlive(hctx, key, consumer, id)
	return func(ack bool) {
		cancel()
		stopKeepAlive()
		if !ack {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer cancel()
		var cmd *redis.Cmd
		s.roundTrip(actx, func(p *pipe) { cmd = p.script(actx, ackScript, []string{key}, group, id) })
		s.notAcked(ctx, queue, consumer, id, cmd.Err())
	}
}

// ackAndPrefetch acks and deletes a handled item and, in the same round trip, reads the next
// new item without blocking (kept in c.next for the next step), so a busy consumer pays one
// round trip per item for both. Nothing is read once ctx has ended.
func (c *consumerLoop) ackAndPrefetch(ctx context.Context, key, id string) {
	// The handler is done even if ctx just ended: ack regardless, within a bound.
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer acancel()
	var ack *redis.Cmd
	var read *redis.XStreamSliceCmd
	prefetch := ctx.Err() == nil
	c.s.roundTrip(actx, func(p *pipe) {
		ack = p.script(actx, ackScript, []string{key}, group, id)
		if prefetch {
			read = p.XReadGroup(actx, &redis.XReadGroupArgs{
				Group: group, Consumer: c.consumer, Streams: []string{c.key, ">"}, Count: readBatch, Block: -1, // -1: no BLOCK
			})
		}
	})
	c.s.notAcked(ctx, c.queue, c.consumer, id, ack.Err())
	if read == nil {
		return
	}
	streams, err := read.Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			_ = c.readErr("prefetch", err) // the next step's blocking read retries and reports
		}
		return
	}
	for _, st := range streams {
		if len(st.Messages) > 0 {
			c.next = &st.Messages[0]
		}
	}
}

// notAcked logs an ack that failed (err not nil): the item will be redelivered.
func (s *Store) notAcked(ctx context.Context, queue, consumer, id string, err error) {
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "work item handled but not acked; it will be redelivered",
			"queue", queue, "consumer", consumer, "item_id", id, "error", err.Error())
	}
}

// keepAlive touches the item every third of ReclaimIdle until stopped, so a long handler is
// not mistaken for a dead one. It is a timer, not a goroutine: most handlers end long before
// the first touch, and a goroutine and a ticker per item were measurable on the pop path.
// stop returns once no touch is running or will start.
func (s *Store) keepAlive(ctx context.Context, key, consumer, id string) (stop func()) {
	every := max(s.opts.ReclaimIdle/3, time.Millisecond)
	var mu sync.Mutex // held by a running touch; stop waits for it
	stopped := false
	var t *time.Timer
	mu.Lock() // the first touch must see t assigned
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		// A failed touch is harmless unless it keeps failing for ReclaimIdle, in which case
		// the item is redelivered elsewhere: at least once, as promised.
		_ = touchScript.Run(ctx, s.client, []string{key}, group, consumer, id).Err()
		t.Reset(every)
	})
	return func() {
		t.Stop()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

// dropIdleConsumers removes consumers idle for ConsumerTTL with nothing pending, from the
// queue's stream and its claimed items' (each replica's inline consumer lives there).
func (c *consumerLoop) dropIdleConsumers(ctx context.Context) error {
	for _, rc := range c.reclaimFrom {
		consumers, err := c.s.client.XInfoConsumers(ctx, rc.key, group).Result()
		if err != nil {
			return c.readErr("list consumers", err)
		}
		for _, x := range consumers {
			if x.Name == c.consumer || x.Pending > 0 || x.Idle < c.s.opts.ConsumerTTL {
				continue
			}
			if err := dropConsumerScript.Run(ctx, c.s.client, []string{rc.key}, group, x.Name).Err(); err != nil {
				return fmt.Errorf("drop consumer %s: %w", x.Name, err)
			}
		}
	}
	return nil
}

// ensureGroup creates the group on both streams (and the streams, if need be), so that
// reclaiming from a queue whose items were never claimed finds a group to read.
func (c *consumerLoop) ensureGroup(ctx context.Context) error {
	for _, rc := range c.reclaimFrom {
		err := c.s.client.XGroupCreateMkStream(ctx, rc.key, group, "0").Err()
		if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("create group: %w", err)
		}
	}
	return nil
}

// readErr notes a vanished group (the stream was deleted) so the next step recreates it.
func (c *consumerLoop) readErr(op string, err error) error {
	if strings.HasPrefix(err.Error(), "NOGROUP") {
		c.groupReady = false
	}
	return fmt.Errorf("%s: %w", op, err)
}

// fail logs err and sleeps a growing backoff (or until ctx ends).
func (c *consumerLoop) fail(ctx context.Context, err error) {
	c.backoff = min(max(c.backoff*2, backoffMin), backoffMax)
	c.s.opts.Logger.WarnContext(ctx, "work queue error; backing off",
		"queue", c.queue, "consumer", c.consumer, "backoff", c.backoff.String(), "error", err.Error())
	t := time.NewTimer(c.backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
