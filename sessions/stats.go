package sessions

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Stats is a point-in-time view of the shared state, for the metrics scrape. It is the same
// for every replica (it is read from Redis), so dashboards should take max, not sum, across
// replicas.
type Stats struct {
	// QueueDepth is the number of items waiting or in flight per work queue.
	QueueDepth map[string]int64
	// QueueOldest is the age of each queue's oldest item (0 when empty).
	QueueOldest map[string]time.Duration
	// OpenLegs counts legs not yet in a terminal state.
	OpenLegs int64
	// Overdue counts open legs whose reconciler deadline is before the time asked about.
	Overdue int64
	// LegsByState counts open legs by state, over at most the sample asked for (the oldest).
	LegsByState map[bridge.State]int
}

// Stats reads the queues' depth and oldest item, and the open legs: how many, how many are
// overdue (due for the reconciler before overdueBefore), and by state over the first sample
// legs. One pipelined round trip, plus one for the sampled legs.
func (s *Store) Stats(ctx context.Context, queues []string, overdueBefore time.Time, sample int) (Stats, error) {
	st := Stats{QueueDepth: map[string]int64{}, QueueOldest: map[string]time.Duration{}, LegsByState: map[bridge.State]int{}}
	// Each queue is its own stream and its claimed items' (in flight from the start).
	lens := make([]*redis.IntCmd, 2*len(queues))
	firsts := make([]*redis.XMessageSliceCmd, 2*len(queues))
	var open, overdue *redis.IntCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range queues {
			for j, key := range []string{s.keys.Queue(q), s.keys.ClaimedQueue(q)} {
				lens[2*i+j] = p.XLen(ctx, key)
				firsts[2*i+j] = p.XRangeN(ctx, key, "-", "+", 1)
			}
		}
		open = p.ZCard(ctx, s.keys.OpenLegs())
		overdue = p.ZCount(ctx, s.keys.OpenLegs(), "-inf", strconv.FormatInt(overdueBefore.UnixMilli(), 10))
		return nil
	})
	if err != nil && err != redis.Nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	now := time.Now()
	for i, q := range queues {
		for j := 2 * i; j < 2*i+2; j++ {
			st.QueueDepth[q] += lens[j].Val()
			if msgs := firsts[j].Val(); len(msgs) > 0 {
				if ms, ok := streamIDMillis(msgs[0].ID); ok {
					st.QueueOldest[q] = max(st.QueueOldest[q], now.Sub(time.UnixMilli(ms)))
				}
			}
		}
	}
	st.OpenLegs, st.Overdue = open.Val(), overdue.Val()
	if sample > 0 && st.OpenLegs > 0 {
		legs, err := s.OpenLegs(ctx, now.Add(100*365*24*time.Hour), sample)
		if err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
		for _, l := range legs {
			st.LegsByState[l.State]++
		}
	}
	return st, nil
}

// streamIDMillis is the time part of a Redis stream id ("<ms>-<seq>").
func streamIDMillis(id string) (int64, bool) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	return n, err == nil
}
