package sessions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// legJSONCap is the buffer a leg is encoded into (bridge.Interaction.AppendJSON): a leg's
// JSON is up to about 1 KB, so it is mostly written without growing the buffer.
const legJSONCap = 1024

// indexCap bounds the legs remembered per interaction and per chat (newest kept). Real
// interactions have a handful; the cap only stops a runaway from growing a key.
const indexCap = 1000

// createLegScript: KEYS leg, fence, lease; ARGV json, ttl ms, lease ttl ms (0: no lease).
// Returns {1, fence} if created (fence 0 without a lease), {0} if the leg exists. Taking the
// lease in the creating step (as leaseLegScript would) lets the replica that records a
// routing pop it at once, without a lease round trip; a duplicate takes nothing.
var createLegScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
redis.call('HSET', KEYS[1], 'ver', 1, 'json', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if tonumber(ARGV[3]) <= 0 then return {1, 0} end
local f = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], math.max(tonumber(ARGV[2]), tonumber(ARGV[3])))
redis.call('SET', KEYS[3], f, 'PX', ARGV[3])
return {1, f}
`)

// updateLegScript: KEYS leg, fence, lease; ARGV expected version, json, ttl ms, fence (0 =
// none), release (1 = also release fence's lease). Returns the new version, or -1 not found,
// -2 fenced, -3 version conflict. Releasing in the same script lets a holder's last write end
// its lease without another round trip, and only if the write itself was accepted.
var updateLegScript = redis.NewScript(`
local ver = redis.call('HGET', KEYS[1], 'ver')
if not ver then return -1 end
local fence = tonumber(ARGV[4])
if fence > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') ~= fence then return -2 end
if tonumber(ver) ~= tonumber(ARGV[1]) then return -3 end
local nv = tonumber(ver) + 1
redis.call('HSET', KEYS[1], 'ver', nv, 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
if ARGV[5] == '1' and fence > 0 and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return nv
`)

// CreateLeg stores in at Version 1 unless the leg exists, then indexes it. A duplicate
// re-indexes the stored leg, so a create whose index writes were lost heals when the
// webhook is redelivered.
//
// The leg write is what the port promises: once it succeeded, a failed index write is
// logged (Options.Logger) rather than returned, because a caller seeing an error would treat
// the leg as not recorded. The indexes are rewritten by the leg's later writes (indexMemo
// says which one may write only its open-legs entry).
func (s *Store) CreateLeg(ctx context.Context, in *bridge.Interaction) (bool, error) {
	created, _, err := s.createLeg(ctx, in, 0)
	if err != nil || !created {
		return created, err
	}
	s.indexAfterWrite(ctx, in, true)
	return true, nil
}

// CreateLegWith is CreateLeg that also writes fx once the leg is created, in the same round
// trip as its indexes (two round trips in all); a duplicate writes nothing of fx. fxErr says
// fx could not be written although the leg was created. With fx.Lease the creation also takes
// the leg's lease (fx.Lease.Fence, in the same script); a duplicate takes none.
func (s *Store) CreateLegWith(ctx context.Context, in *bridge.Interaction, fx bridge.LegEffects) (created bool, fxErr, err error) {
	if created, err = s.createLegFor(ctx, in, fx); err != nil || !created {
		return created, nil, err
	}
	return true, s.afterWrite(ctx, in, true, fx), nil
}

// CreateLegThen is CreateLegWith that returns as soon as the leg is created (and its lease
// taken, with fx.Lease) and leaves the indexes and fx to finish, so that a caller can overlap
// that round trip with its next step (an inline pop, with its CRM call, on another
// goroutine). finish writes them on the caller's goroutine and returns fxErr
// (fx.Queue.ClaimedID is set by then); the first call writes, later ones return its answer.
// The caller must call it before it writes anything else about the leg. A duplicate writes
// nothing and gets a nil finish.
//
// finish used to be a goroutine the caller waited on: one goroutine start and one channel
// per routing, for a write the caller's goroutine is free to make itself (bench profile).
func (s *Store) CreateLegThen(ctx context.Context, in *bridge.Interaction, fx bridge.LegEffects) (created bool, finish func() error, err error) {
	if created, err = s.createLegFor(ctx, in, fx); err != nil || !created {
		return created, nil, err
	}
	written := *in // the caller may change in meanwhile
	return true, sync.OnceValue(func() error { return s.afterWrite(ctx, &written, true, fx) }), nil
}

// createLegFor is createLeg for CreateLegWith and CreateLegThen: it checks the effects a
// creation may bring, and takes fx.Lease (setting its Fence) with a new leg.
func (s *Store) createLegFor(ctx context.Context, in *bridge.Interaction, fx bridge.LegEffects) (bool, error) {
	if fx.ReleaseLease {
		return false, fmt.Errorf("create leg %s: a new leg has no lease to release", in.Key())
	}
	var leaseTTL time.Duration
	if fx.Lease != nil {
		if fx.Lease.TTL <= 0 {
			return false, fmt.Errorf("create leg %s: lease ttl %v must be positive", in.Key(), fx.Lease.TTL)
		}
		leaseTTL = fx.Lease.TTL
	}
	created, fence, err := s.createLeg(ctx, in, leaseTTL)
	if created && fx.Lease != nil {
		fx.Lease.Fence = fence
	}
	return created, err
}

// createLeg is CreateLeg up to (not including) the indexes of a new leg; with leaseTTL > 0 a
// new leg's lease is taken too (fence).
func (s *Store) createLeg(ctx context.Context, in *bridge.Interaction, leaseTTL time.Duration) (created bool, fence int64, err error) {
	key := in.Key()
	if key.InteractionID == "" || key.RoutingID == "" {
		return false, 0, fmt.Errorf("create leg %q: empty interaction or routing id", key)
	}
	rec := *in
	rec.Version = 1
	data, err := rec.AppendJSON(make([]byte, 0, legJSONCap))
	if err != nil {
		return false, 0, fmt.Errorf("create leg %s: %w", key, err)
	}
	leaseMS := int64(0)
	if leaseTTL > 0 {
		leaseMS = ms(leaseTTL)
	}
	res, err := s.runScript(ctx, createLegScript, []string{s.keys.Leg(key), s.keys.Fence(key), s.keys.Lease(key)},
		data, ms(s.opts.LegTTL), leaseMS).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("create leg %s: %w", key, err)
	}
	if len(res) == 0 || res[0] == 0 {
		stored, err := s.GetLeg(ctx, key)
		if err != nil {
			return false, 0, fmt.Errorf("create leg %s: duplicate: %w", key, err)
		}
		if err := s.index(ctx, stored, true); err != nil {
			return false, 0, fmt.Errorf("create leg %s: duplicate: %w", key, err)
		}
		return false, 0, nil
	}
	in.Version = 1
	if len(res) > 1 {
		fence = res[1]
	}
	return true, fence, nil
}

// GetLeg returns the stored leg, or an error wrapping bridge.ErrNotFound.
func (s *Store) GetLeg(ctx context.Context, key bridge.LegKey) (*bridge.Interaction, error) {
	data, err := s.client.HGet(ctx, s.keys.Leg(key), "json").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("get leg %s: %w", key, bridge.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get leg %s: %w", key, err)
	}
	return decodeLeg(key, data)
}

// UpdateLeg compare-and-sets in on its Version (and, with fence > 0, on the leg's current
// fence), refreshes the TTLs and rewrites the indexes. On success in.Version is the new
// version. Errors wrap bridge.ErrNotFound, bridge.ErrFenced or bridge.ErrConflict; fencing is
// checked first, since a fenced writer must stop rather than re-read and retry. As in
// CreateLeg, an index failure after the write is logged, not returned.
func (s *Store) UpdateLeg(ctx context.Context, in *bridge.Interaction, fence int64) error {
	if err := s.updateLeg(ctx, in, fence, false); err != nil {
		return err
	}
	s.indexAfterWrite(ctx, in, false)
	return nil
}

// UpdateLegWith is UpdateLeg that also writes fx once the write succeeded, in the same round
// trip as the indexes: a state change costs two round trips (the compare-and-set script, then
// one pipeline), whatever it brings along. With fx.ReleaseLease the script also releases
// fence's lease. err is UpdateLeg's (nothing was written); fxErr says fx could not be written
// although the leg was.
func (s *Store) UpdateLegWith(ctx context.Context, in *bridge.Interaction, fence int64, fx bridge.LegEffects) (fxErr, err error) {
	if err := s.updateLeg(ctx, in, fence, fx.ReleaseLease); err != nil {
		return nil, err
	}
	return s.afterWrite(ctx, in, false, fx), nil
}

// UpdateLegThen is UpdateLegWith that returns as soon as the compare-and-set is done and
// writes the indexes and fx in the background, so a caller can overlap that round trip with
// its next step (a pop, with its CRM call). wait returns fxErr once they are written; it may
// be called any number of times, and the caller must call it before it writes anything else
// about the leg, so that timeline entries and events keep their order.
func (s *Store) UpdateLegThen(ctx context.Context, in *bridge.Interaction, fence int64, fx bridge.LegEffects) (wait func() error, err error) {
	if err := s.updateLeg(ctx, in, fence, fx.ReleaseLease); err != nil {
		return nil, err
	}
	written := *in // the caller may change in meanwhile
	done := make(chan error, 1)
	go func() { done <- s.afterWrite(ctx, &written, false, fx) }()
	return sync.OnceValue(func() error { return <-done }), nil
}

// updateLeg is UpdateLeg's compare-and-set, without the indexes.
func (s *Store) updateLeg(ctx context.Context, in *bridge.Interaction, fence int64, release bool) error {
	key := in.Key()
	rec := *in
	rec.Version = in.Version + 1
	data, err := rec.AppendJSON(make([]byte, 0, legJSONCap))
	if err != nil {
		return fmt.Errorf("update leg %s: %w", key, err)
	}
	rel := "0"
	if release {
		rel = "1"
	}
	v, err := s.runScript(ctx, updateLegScript, []string{s.keys.Leg(key), s.keys.Fence(key), s.keys.Lease(key)},
		in.Version, data, ms(s.opts.LegTTL), fence, rel).Int64()
	if err != nil {
		return fmt.Errorf("update leg %s: %w", key, err)
	}
	switch v {
	case -1:
		return fmt.Errorf("update leg %s: %w", key, bridge.ErrNotFound)
	case -2:
		return fmt.Errorf("update leg %s with fence %d: %w", key, fence, bridge.ErrFenced)
	case -3:
		return fmt.Errorf("update leg %s at version %d: %w", key, in.Version, bridge.ErrConflict)
	}
	in.Version = v
	return nil
}

// indexAfterWrite indexes a leg that is already written; see CreateLeg for why a failure is
// logged and not returned.
func (s *Store) indexAfterWrite(ctx context.Context, in *bridge.Interaction, created bool) {
	if err := s.index(ctx, in, created); err != nil {
		s.logIndexFailure(ctx, in, err)
	}
}

func (s *Store) logIndexFailure(ctx context.Context, in *bridge.Interaction, err error) {
	s.opts.Logger.WarnContext(ctx, "leg written but not indexed; next write re-indexes it",
		"interaction_id", in.InteractionID, "routing_id", in.RoutingID,
		"agent_id", in.AgentID, "chat_id", in.ChatID, "error", err.Error())
}

// index writes the leg into the agent, interaction and chat indexes and refreshes their TTLs.
// Every command is idempotent, so rewriting the indexes on each write is safe. A terminal
// leg leaves the agent index and enters the outcome index (by the time it ended), which keeps
// what the legs themselves keep: entries older than LegTTL are trimmed.
func (s *Store) index(ctx context.Context, in *bridge.Interaction, trim bool) error {
	p := s.newPipe()
	qi := s.queueIndex(ctx, p, in, trim)
	err := p.exec(ctx, s.client)
	qi.written(s, in, err)
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// queuedIndex is what queueIndex queued.
type queuedIndex struct {
	cmds []redis.Cmder
	full bool // every index of the leg, not only its open-legs entry (indexMemo)
}

// err is the first error among the index commands after exec.
func (q queuedIndex) err() error { return firstErr(q.cmds) }

// written records, once the pipeline was sent (err: its own failure), whether the leg's
// indexes are now all written, for the memo to spare the next write a full rewrite.
func (q queuedIndex) written(s *Store, in *bridge.Interaction, err error) {
	if err == nil {
		err = q.err()
	}
	switch {
	case err != nil:
		s.memo.forget(in)
	case q.full && !in.State.Terminal():
		s.memo.remember(in, time.Now())
	}
}

// queueIndex queues index's commands and returns them. trim caps the interaction and chat
// indexes (indexCap); only a new leg adds to them, so an update of a leg leaves the trims out
// (two commands of ten). An update that heals a lost entry may leave an index one above the
// cap until the next new leg trims it. An update of a leg whose indexes this replica wrote
// moments ago (indexMemo) queues only its open-legs entry (two commands of eight).
func (s *Store) queueIndex(ctx context.Context, p redis.Pipeliner, in *bridge.Interaction, trim bool) queuedIndex {
	member := legMember(in.Key())
	score := float64(in.RoutedAt.UnixMicro())
	ttl := s.opts.LegTTL
	var cmds []redis.Cmder
	add := func(c redis.Cmder) { cmds = append(cmds, c) }
	if !trim && s.memo.take(in, time.Now()) {
		add(p.ZAdd(ctx, s.keys.OpenLegs(), redis.Z{Score: float64(in.UpdatedAt.UnixMilli()), Member: member}))
		add(p.PExpire(ctx, s.keys.OpenLegs(), ttl))
		return queuedIndex{cmds: cmds}
	}
	if in.AgentID != "" {
		k := s.keys.AgentLegs(in.AgentID)
		if in.State.Terminal() {
			add(p.SRem(ctx, k, member))
		} else {
			add(p.SAdd(ctx, k, member))
			add(p.PExpire(ctx, k, ttl))
		}
	}
	if in.State.Terminal() {
		add(p.ZRem(ctx, s.keys.OpenLegs(), member))
	} else {
		add(p.ZAdd(ctx, s.keys.OpenLegs(), redis.Z{Score: float64(in.UpdatedAt.UnixMilli()), Member: member}))
		add(p.PExpire(ctx, s.keys.OpenLegs(), ttl))
	}
	if in.State.Terminal() {
		k := s.keys.Outcomes()
		add(p.ZAdd(ctx, k, redis.Z{Score: float64(in.UpdatedAt.UnixMilli()), Member: member}))
		add(p.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(time.Now().Add(-ttl-outcomeTrimMargin).UnixMilli(), 10)))
		add(p.PExpire(ctx, k, ttl+outcomeTrimMargin))
	}
	k := s.keys.InteractionLegs(in.InteractionID)
	add(p.ZAdd(ctx, k, redis.Z{Score: score, Member: esc(in.RoutingID)}))
	if trim {
		add(p.ZRemRangeByRank(ctx, k, 0, -indexCap-1))
	}
	add(p.PExpire(ctx, k, ttl))
	if in.ChatID != "" {
		k := s.keys.Chat(in.Site, in.ChatID)
		add(p.ZAdd(ctx, k, redis.Z{Score: score, Member: member}))
		if trim {
			add(p.ZRemRangeByRank(ctx, k, 0, -indexCap-1))
		}
		add(p.PExpire(ctx, k, ttl))
	}
	return queuedIndex{cmds: cmds, full: true}
}

// OpenLegs returns up to limit legs that are not terminal and are due for the reconciler at
// or before due (last written then, or deferred to then), most overdue first. Index entries
// whose leg has expired are dropped as they are found; a leg that ended but is still indexed
// as open gets its lost index effects written (outcome export included).
func (s *Store) OpenLegs(ctx context.Context, due time.Time, limit int) ([]*bridge.Interaction, error) {
	members, err := s.client.ZRangeByScore(ctx, s.keys.OpenLegs(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(due.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("open legs: %w", err)
	}
	keys := make([]bridge.LegKey, 0, len(members))
	for _, m := range members {
		key, err := parseLegMember(m)
		if err != nil {
			return nil, fmt.Errorf("open legs: %w", err)
		}
		keys = append(keys, key)
	}
	legs, err := s.getLegs(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("open legs: %w", err)
	}
	out := make([]*bridge.Interaction, 0, len(legs))
	var stale []any
	for i, l := range legs {
		switch {
		case l == nil:
			stale = append(stale, members[i])
		case l.State.Terminal():
			// Ended, yet still indexed as open: the write that ended it was stored, but its
			// index effects were lost (Redis restarted or failed between the two). Write them
			// now, so the leg leaves the open and agent indexes and enters the outcome export;
			// they are idempotent. A failure leaves it here for the next pass.
			_ = s.index(ctx, l, false)
		default:
			out = append(out, l)
		}
	}
	if len(stale) > 0 {
		_ = s.client.ZRem(ctx, s.keys.OpenLegs(), stale...).Err() // best effort: found again next time
	}
	return out, nil
}

// DeferLeg makes an open leg due for the reconciler at until (unless it is written before:
// a write makes it due at the write's time). A leg no longer open is left alone.
func (s *Store) DeferLeg(ctx context.Context, key bridge.LegKey, until time.Time) error {
	err := s.client.ZAddXX(ctx, s.keys.OpenLegs(), redis.Z{Score: float64(until.UnixMilli()), Member: legMember(key)}).Err()
	if err != nil {
		return fmt.Errorf("defer leg %s: %w", key, err)
	}
	return nil
}

// outcomeTrimMargin keeps outcome index entries this long past LegTTL (their legs are gone
// by then), so that an export reading near the retention line is not disturbed by the trim.
const outcomeTrimMargin = time.Hour

// Outcomes returns terminal legs that ended in [since, until), oldest first, up to limit
// index entries after cursor ("" to start). next is the cursor of the following page, "" at
// the end. The cursor is keyset ("<ms>:<n>": n entries of score ms already read), so legs
// ending while an export pages through, and the trim of old entries, never shift the pages.
// Legs whose record has expired are left out, so a page may hold fewer than limit legs.
func (s *Store) Outcomes(ctx context.Context, since, until time.Time, cursor string, limit int) ([]*bridge.Interaction, string, error) {
	from, skip := since.UnixMilli(), int64(0)
	if cursor != "" {
		ms, n, ok := strings.Cut(cursor, ":")
		f, err1 := strconv.ParseInt(ms, 10, 64)
		k, err2 := strconv.ParseInt(n, 10, 64)
		if !ok || err1 != nil || err2 != nil || k < 0 || f < from {
			return nil, "", fmt.Errorf("outcomes: bad cursor %q", cursor)
		}
		from, skip = f, k
	}
	zs, err := s.client.ZRangeByScoreWithScores(ctx, s.keys.Outcomes(), &redis.ZRangeBy{
		Min: strconv.FormatInt(from, 10), Max: "(" + strconv.FormatInt(until.UnixMilli(), 10),
		Offset: skip, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("outcomes: %w", err)
	}
	keys := make([]bridge.LegKey, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		key, err := parseLegMember(m)
		if err != nil {
			return nil, "", fmt.Errorf("outcomes: %w", err)
		}
		keys = append(keys, key)
	}
	legs, err := s.getLegs(ctx, keys)
	if err != nil {
		return nil, "", fmt.Errorf("outcomes: %w", err)
	}
	out := make([]*bridge.Interaction, 0, len(legs))
	for _, l := range legs {
		if l != nil && l.State.Terminal() {
			out = append(out, l)
		}
	}
	if len(zs) < limit {
		return out, "", nil
	}
	last := int64(zs[len(zs)-1].Score)
	n := int64(0)
	for _, z := range zs {
		if int64(z.Score) == last {
			n++
		}
	}
	if last == from {
		n += skip
	}
	return out, strconv.FormatInt(last, 10) + ":" + strconv.FormatInt(n, 10), nil
}

// AgentLegs lists the agent's non-terminal legs, oldest first. Index entries whose leg has
// expired, became terminal or moved to another agent are dropped as they are found.
func (s *Store) AgentLegs(ctx context.Context, agentID string) ([]*bridge.Interaction, error) {
	setKey := s.keys.AgentLegs(agentID)
	members, err := s.client.SMembers(ctx, setKey).Result()
	if err != nil {
		return nil, fmt.Errorf("agent legs %s: %w", agentID, err)
	}
	keys := make([]bridge.LegKey, 0, len(members))
	for _, m := range members {
		key, err := parseLegMember(m)
		if err != nil {
			return nil, fmt.Errorf("agent legs %s: %w", agentID, err)
		}
		keys = append(keys, key)
	}
	legs, err := s.getLegs(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("agent legs %s: %w", agentID, err)
	}
	var out []*bridge.Interaction
	var stale []any
	for i, leg := range legs {
		if leg == nil || leg.State.Terminal() || leg.AgentID != agentID {
			stale = append(stale, members[i])
			continue
		}
		out = append(out, leg)
	}
	if len(stale) > 0 {
		// Best effort: a failure only leaves entries the next read skips again.
		_ = s.client.SRem(ctx, setKey, stale...).Err()
	}
	sortLegs(out)
	return out, nil
}

// InteractionLegs lists every stored leg of the interaction, oldest (RoutedAt) first.
func (s *Store) InteractionLegs(ctx context.Context, interactionID string) ([]*bridge.Interaction, error) {
	zKey := s.keys.InteractionLegs(interactionID)
	members, err := s.client.ZRange(ctx, zKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("interaction legs %s: %w", interactionID, err)
	}
	keys := make([]bridge.LegKey, 0, len(members))
	for _, m := range members {
		key, err := parseLegMember(esc(interactionID) + "/" + m)
		if err != nil {
			return nil, fmt.Errorf("interaction legs %s: %w", interactionID, err)
		}
		keys = append(keys, key)
	}
	legs, err := s.getLegs(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("interaction legs %s: %w", interactionID, err)
	}
	var out []*bridge.Interaction
	var stale []any
	for i, leg := range legs {
		if leg == nil {
			stale = append(stale, members[i])
			continue
		}
		out = append(out, leg)
	}
	if len(stale) > 0 {
		_ = s.client.ZRem(ctx, zKey, stale...).Err()
	}
	return out, nil
}

// ChatLeg returns the newest (RoutedAt) stored leg of the CRM chat.
func (s *Store) ChatLeg(ctx context.Context, site, chatID string) (*bridge.Interaction, error) {
	// A few candidates, in case the newest leg expired before the index did.
	members, err := s.client.ZRevRange(ctx, s.keys.Chat(site, chatID), 0, 4).Result()
	if err != nil {
		return nil, fmt.Errorf("chat leg %s/%s: %w", site, chatID, err)
	}
	for _, m := range members {
		key, err := parseLegMember(m)
		if err != nil {
			return nil, fmt.Errorf("chat leg %s/%s: %w", site, chatID, err)
		}
		leg, err := s.GetLeg(ctx, key)
		if errors.Is(err, bridge.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("chat leg %s/%s: %w", site, chatID, err)
		}
		return leg, nil
	}
	return nil, fmt.Errorf("chat leg %s/%s: %w", site, chatID, bridge.ErrNotFound)
}

// getLegs reads legs in one pipeline; a missing leg is nil.
func (s *Store) getLegs(ctx context.Context, keys []bridge.LegKey) ([]*bridge.Interaction, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.HGet(ctx, s.keys.Leg(key), "json")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	legs := make([]*bridge.Interaction, len(keys))
	for i, cmd := range cmds {
		data, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if legs[i], err = decodeLeg(keys[i], data); err != nil {
			return nil, err
		}
	}
	return legs, nil
}

func decodeLeg(key bridge.LegKey, data []byte) (*bridge.Interaction, error) {
	var in bridge.Interaction
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("decode leg %s: %w", key, err)
	}
	return &in, nil
}

func sortLegs(legs []*bridge.Interaction) {
	slices.SortFunc(legs, func(a, b *bridge.Interaction) int {
		if c := a.RoutedAt.Compare(b.RoutedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key().String(), b.Key().String())
	})
}
