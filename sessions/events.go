package sessions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// publishScript: KEYS stream; ARGV maxlen, ttl ms, event json, channel, agent id as a JSON
// string. Appends, refreshes the TTL and announces the new id on the channel, atomically.
// PUBLISH takes no key, so the script stays single-slot on Cluster.
var publishScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'event', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[4], '{"agent_id":' .. ARGV[5] .. ',"id":"' .. id .. '"}')
return id
`)

// Notification is what Publish announces on the events channel (KeySpace.EventsChannel), one
// per appended event: {"agent_id": "...", "id": "<stream id>"}. It is a wake-up hint for the
// replicas' SSE hubs (adapters/ssehub), not the data: the stream is the source of truth, and a
// reader that missed a notification loses nothing as long as it reads from its last id.
type Notification struct {
	AgentID string `json:"agent_id"`
	ID      string `json:"id"`
}

// Publish appends ev to the agent's stream (capped at about StreamMaxLen, TTL StreamTTL) and
// announces it on the events channel (one channel per key prefix, whatever the agent), in one
// script: nothing is announced that was not appended. The stream id is the event's ID: Read
// sets it.
func (s *Store) Publish(ctx context.Context, agentID string, ev bridge.Event) (string, error) {
	data, agentJSON, err := encodeEvent(agentID, ev)
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", agentID, err)
	}
	id, err := publishScript.Run(ctx, s.client, []string{s.keys.Events(agentID)},
		s.opts.StreamMaxLen, ms(s.opts.StreamTTL), data, s.keys.EventsChannel(), agentJSON).Text()
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", agentID, err)
	}
	return id, nil
}

// encodeEvent is the stream entry of ev for agentID's stream (the stream assigns the id) and
// the agent id as a JSON string, for the notification.
func encodeEvent(agentID string, ev bridge.Event) (data, agentJSON []byte, err error) {
	ev.ID = "" // the stream assigns it
	if ev.AgentID == "" {
		ev.AgentID = agentID
	}
	size := 256 // the event's own fields
	if ev.Interaction != nil {
		size += legJSONCap
	}
	if data, err = ev.AppendJSON(make([]byte, 0, size)); err != nil {
		return nil, nil, err
	}
	return data, bridge.AppendJSONString(nil, agentID), nil
}

// Read returns up to count events after afterID, exclusive, oldest first; "" or "0" reads
// from the start, and a count that is not positive reads all that are kept (about
// StreamMaxLen). Events trimmed off the stream are gone: a reader whose afterID is older than
// the oldest entry gets the oldest ones still kept.
func (s *Store) Read(ctx context.Context, agentID, afterID string, count int) ([]bridge.Event, error) {
	start := "-"
	if afterID != "" && afterID != "0" {
		start = "(" + afterID
	}
	var cmd *redis.XMessageSliceCmd
	if count > 0 {
		cmd = s.client.XRangeN(ctx, s.keys.Events(agentID), start, "+", int64(count))
	} else {
		cmd = s.client.XRange(ctx, s.keys.Events(agentID), start, "+")
	}
	msgs, err := cmd.Result()
	if err != nil {
		return nil, fmt.Errorf("read events of %s after %q: %w", agentID, afterID, err)
	}
	out := make([]bridge.Event, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["event"].(string)
		var ev bridge.Event
		if err := json.Unmarshal([]byte(raw), &ev); err != nil {
			return nil, fmt.Errorf("decode event %s of %s: %w", m.ID, agentID, err)
		}
		ev.ID = m.ID
		out = append(out, ev)
	}
	return out, nil
}
