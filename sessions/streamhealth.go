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

// Stream health: every open SSE stream is reported in one hash per agent, field = the
// stream's connection id, value = "<unix ms> <last delivered event id>". The hash's TTL is
// refreshed by every report, and each field is judged by its own time, so a stream whose
// replica was SIGKILLed drops out after ttl while the agent's other streams stay counted.
// The HSET and PEXPIRE of one report are pipelined, not transactional: a report whose
// PEXPIRE was lost is still judged by its time, and the next report sets the TTL again.

// StreamPresence is the hash of the agent's open streams' reports.
func (k KeySpace) StreamPresence(agentID string) string {
	return k.prefix + ":stream-presence:" + esc(agentID)
}

// ReportStreams records that each stream is open and has delivered up to its LastEventID, in
// one pipelined round trip however many streams (a replica reports all of its streams each
// heartbeat). ttl is how long a report counts: a few heartbeats.
func (s *Store) ReportStreams(ctx context.Context, reports []bridge.StreamReport, ttl time.Duration) error {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range reports {
			key := s.keys.StreamPresence(r.AgentID)
			p.HSet(ctx, key, r.ConnID, now+" "+r.LastEventID)
			p.PExpire(ctx, key, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("report %d streams: %w", len(reports), err)
	}
	return nil
}

// StreamsClosed removes the reports of streams that ended cleanly (one round trip).
func (s *Store) StreamsClosed(ctx context.Context, closed []bridge.StreamReport) error {
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range closed {
			p.HDel(ctx, s.keys.StreamPresence(r.AgentID), r.ConnID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d closed streams: %w", len(closed), err)
	}
	return nil
}

// StreamHealth reads the agent's stream reports (those younger than ttl count) and the
// newest event in its stream, in one round trip.
func (s *Store) StreamHealth(ctx context.Context, agentID string, ttl time.Duration) (bridge.StreamHealth, error) {
	var reports *redis.MapStringStringCmd
	var latest *redis.XMessageSliceCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		reports = p.HGetAll(ctx, s.keys.StreamPresence(agentID))
		latest = p.XRevRangeN(ctx, s.keys.Events(agentID), "+", "-", 1)
		return nil
	})
	if err != nil && err != redis.Nil {
		return bridge.StreamHealth{}, fmt.Errorf("stream health of %s: %w", agentID, err)
	}
	var h bridge.StreamHealth
	if msgs, _ := latest.Result(); len(msgs) > 0 {
		h.LatestEventID = msgs[0].ID
	}
	cutoff := time.Now().Add(-ttl).UnixMilli()
	var newest int64
	for _, v := range reports.Val() {
		msText, lastID, _ := strings.Cut(v, " ")
		ms, err := strconv.ParseInt(msText, 10, 64)
		if err != nil || ms < cutoff {
			continue // a report too old to count, or not ours
		}
		h.Streams++
		newest = max(newest, ms)
		if streamIDAfter(lastID, h.LastEventID) {
			h.LastEventID = lastID // the stream furthest along
		}
	}
	if h.Streams > 0 {
		h.Connected = true
		at := time.UnixMilli(newest).UTC()
		h.LastSeenAt = &at
	}
	return h, nil
}

// streamIDAfter reports whether stream id a (<ms>-<seq>) is after b; "" is before any id.
func streamIDAfter(a, b string) bool {
	parse := func(id string) (uint64, uint64) {
		msText, seqText, _ := strings.Cut(id, "-")
		ms, _ := strconv.ParseUint(msText, 10, 64)
		seq, _ := strconv.ParseUint(seqText, 10, 64)
		return ms, seq
	}
	if a == "" {
		return false
	}
	if b == "" {
		return true
	}
	am, as := parse(a)
	bm, bs := parse(b)
	return am > bm || (am == bm && as > bs)
}
