// Package sessions keeps all shared state of the bridge in Redis (go-redis v9, through a
// redis.UniversalClient so standalone, Sentinel and Cluster all work): agent legs and their
// indexes, leases with fencing tokens, agent sessions, timelines, webhook de-duplication,
// the per-agent event streams and the durable work queues. *Store implements the core's
// bridge.Store, bridge.WorkQueue and bridge.Events ports.
//
// Rules every key follows (see KeySpace for the layout):
//   - one versioned prefix ("mbb:v1" by default);
//   - every key has a TTL, except the work-queue streams: a queue must not lose work just
//     because nobody consumed it for a while, so its stream is bounded instead — acked items
//     are deleted (XACK+XDEL in one script), Enqueue refuses new items beyond QueueMaxLen and
//     idle consumers without pending items are removed from the group;
//   - lists and streams are capped;
//   - scripts touch the keys of one leg only (one hash slot); index updates are separate
//     commands after the atomic leg write, and are rewritten by the leg's later writes so a
//     lost index update heals itself (indexmemo.go: a pop's outcome, moments after this
//     replica wrote them all, rewrites only the open-legs entry);
//   - what follows a leg write (indexes, timeline entries, the agent's event) is sent as one
//     pipeline of single-slot commands and scripts (effects.go): a state change is two round
//     trips on a standalone server, and stays Cluster-safe.
package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Options tunes the store. Zero values take the defaults shown.
type Options struct {
	// Prefix is the key namespace, versioned so a layout change can live beside the old one.
	// Default "mbb:v1". Must not contain braces or spaces.
	Prefix string
	// LegTTL is how long a leg, its indexes, fence counter and timeline live after their last
	// write. Default 72h.
	LegTTL time.Duration
	// TimelineMax caps the entries kept per interaction (oldest dropped). Default 500.
	TimelineMax int64
	// StreamMaxLen caps each agent's event stream (approximately, XADD MAXLEN ~). Default 1000.
	StreamMaxLen int64
	// StreamTTL is how long an agent's event stream lives after its last event. Default 24h.
	StreamTTL time.Duration
	// ReclaimIdle: a work item whose consumer has not touched it for this long is handed to
	// another consumer. It is also the retry delay after a handler error. Default 5s.
	ReclaimIdle time.Duration
	// BlockFor is how long one XREADGROUP waits for new work. Default 2s.
	BlockFor time.Duration
	// QueueMaxLen bounds each work queue: Enqueue returns ErrQueueFull beyond it rather than
	// dropping work. Default 100000.
	QueueMaxLen int64
	// ConsumerTTL: consumers idle this long with nothing pending are removed from a queue's
	// consumer group, so replica restarts do not pile up consumer names. Default 1h.
	ConsumerTTL time.Duration
	// Combine: this many round trips in flight at once; beyond that, concurrent ones are
	// merged into one pipeline (combine.go). Default 4; negative: never merge.
	Combine int
	// Logger receives what the store handles itself rather than returning: Redis errors a
	// Consume loop backs off from, index writes that failed after a leg write. Default:
	// discarded.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "mbb:v1"
	}
	if o.LegTTL <= 0 {
		o.LegTTL = 72 * time.Hour
	}
	if o.TimelineMax <= 0 {
		o.TimelineMax = 500
	}
	if o.StreamMaxLen <= 0 {
		o.StreamMaxLen = 1000
	}
	if o.StreamTTL <= 0 {
		o.StreamTTL = 24 * time.Hour
	}
	if o.ReclaimIdle <= 0 {
		o.ReclaimIdle = 5 * time.Second
	}
	if o.BlockFor <= 0 {
		o.BlockFor = 2 * time.Second
	}
	if o.QueueMaxLen <= 0 {
		o.QueueMaxLen = 100000
	}
	if o.ConsumerTTL <= 0 {
		o.ConsumerTTL = time.Hour
	}
	if o.Combine == 0 {
		o.Combine = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Store is the Redis implementation of the core's Store, WorkQueue and Events ports. It is
// safe for concurrent use, and any number of replicas may share one Redis.
type Store struct {
	client redis.UniversalClient
	opts   Options
	keys   KeySpace
	comb   *combiner // nil: every round trip on its own
	memo   indexMemo // legs whose indexes this replica just wrote in full
}

var (
	_ bridge.Store     = (*Store)(nil)
	_ bridge.WorkQueue = (*Store)(nil)
	_ bridge.Events    = (*Store)(nil)
)

// New returns a store on client. It panics if opts.Prefix contains braces or spaces (a
// programming or configuration error that would break hash tags).
func New(client redis.UniversalClient, opts Options) *Store {
	opts = opts.withDefaults()
	s := &Store{client: client, opts: opts, keys: newKeySpace(opts.Prefix)}
	if opts.Combine > 0 {
		s.comb = &combiner{limit: opts.Combine, newPipe: s.newPipe, send: s.sendPipe}
	}
	return s
}

// roundTrip has queue add its commands to a pipeline and sends it, merged with concurrent
// round trips (combine.go); the commands then hold their results.
func (s *Store) roundTrip(ctx context.Context, queue func(p *pipe)) {
	if s.comb != nil {
		s.comb.do(ctx, queue)
		return
	}
	p := s.newPipe()
	queue(p)
	s.sendPipe(ctx, p)
}

func (s *Store) sendPipe(ctx context.Context, p *pipe) { _ = p.exec(ctx, s.client) }

// runScript runs sc as one round trip (merged with concurrent ones).
func (s *Store) runScript(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	var cmd *redis.Cmd
	s.roundTrip(ctx, func(p *pipe) { cmd = p.script(ctx, sc, keys, args...) })
	return cmd
}

// Keys exposes the key layout (tests, ops tooling).
func (s *Store) Keys() KeySpace { return s.keys }

// Ping checks Redis is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// ms is a duration in whole milliseconds, at least 1 (PX/PEXPIRE reject 0).
func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }
