package sessions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// PutAgentSession stores the session for ttl (LegTTL when ttl is not positive); every Put
// refreshes the TTL.
func (s *Store) PutAgentSession(ctx context.Context, as bridge.AgentSession, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = s.opts.LegTTL
	}
	data, err := json.Marshal(as)
	if err != nil {
		return fmt.Errorf("put agent session %s: %w", as.AgentID, err)
	}
	// Two keys, written separately (they hash to different slots in a Cluster): the session,
	// and the account index the CRM's agent events are resolved through.
	if err := s.client.Set(ctx, s.keys.AgentSession(as.AgentID), data, ttl).Err(); err != nil {
		return fmt.Errorf("put agent session %s: %w", as.AgentID, err)
	}
	if as.Site != "" && as.CRMAccountID != "" {
		if err := s.client.Set(ctx, s.keys.AgentAccount(as.Site, as.CRMAccountID), as.AgentID, ttl).Err(); err != nil {
			return fmt.Errorf("put agent account index %s: %w", as.AgentID, err)
		}
	}
	return nil
}

// maxSessionUpdateAttempts bounds UpdateAgentSession's optimistic retries.
const maxSessionUpdateAttempts = 16

// UpdateAgentSession changes a stored session without losing a concurrent change and
// without bringing back a session that was deleted (a logout): it reads the session under
// WATCH, lets mutate change it, and writes it back (keeping its TTL) only if nobody wrote
// or deleted it meanwhile; otherwise it reads again and calls mutate again. mutate reports
// whether to write at all. The error wraps bridge.ErrNotFound when there is no session, and
// mutate's own error is returned as it is.
func (s *Store) UpdateAgentSession(ctx context.Context, agentID string, mutate func(*bridge.AgentSession) (bool, error)) (bridge.AgentSession, error) {
	key := s.keys.AgentSession(agentID)
	for attempt := range maxSessionUpdateAttempts {
		if attempt > 0 {
			// Back off a random bit, growing, so writers that keep colliding spread out
			// instead of retrying in lockstep.
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
		}
		var out bridge.AgentSession
		var mutateErr error
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			data, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return bridge.ErrNotFound
			}
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &out); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			write, err := mutate(&out)
			if err != nil || !write {
				mutateErr = err
				return nil
			}
			next, err := json.Marshal(out)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.SetArgs(ctx, key, next, redis.SetArgs{KeepTTL: true})
				return nil
			})
			return err
		}, key)
		switch {
		case errors.Is(err, redis.TxFailedErr):
			continue // written or deleted meanwhile: read again
		case err != nil:
			return bridge.AgentSession{}, fmt.Errorf("update agent session %s: %w", agentID, err)
		case mutateErr != nil:
			return bridge.AgentSession{}, mutateErr
		}
		return out, nil
	}
	return bridge.AgentSession{}, fmt.Errorf("update agent session %s: %w", agentID, bridge.ErrConflict)
}

// AgentByAccount returns the ACD agent id logged in with a site's CRM account, or an error
// wrapping bridge.ErrNotFound.
func (s *Store) AgentByAccount(ctx context.Context, site, accountID string) (string, error) {
	id, err := s.client.Get(ctx, s.keys.AgentAccount(site, accountID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("agent for account %s/%s: %w", site, accountID, bridge.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("agent for account %s/%s: %w", site, accountID, err)
	}
	return id, nil
}

// GetAgentSession returns an error wrapping bridge.ErrNotFound when there is no session.
func (s *Store) GetAgentSession(ctx context.Context, agentID string) (bridge.AgentSession, error) {
	return decodeAgentSession(agentID, s.client.Get(ctx, s.keys.AgentSession(agentID)))
}

// decodeAgentSession is the answer to a GET of agentID's session key (sent on its own or in
// a pipeline).
func decodeAgentSession(agentID string, get *redis.StringCmd) (bridge.AgentSession, error) {
	data, err := get.Bytes()
	if errors.Is(err, redis.Nil) {
		return bridge.AgentSession{}, fmt.Errorf("get agent session %s: %w", agentID, bridge.ErrNotFound)
	}
	if err != nil {
		return bridge.AgentSession{}, fmt.Errorf("get agent session %s: %w", agentID, err)
	}
	var as bridge.AgentSession
	if err := json.Unmarshal(data, &as); err != nil {
		return bridge.AgentSession{}, fmt.Errorf("decode agent session %s: %w", agentID, err)
	}
	return as, nil
}

// DeleteAgentSession removes the session; deleting an absent one is not an error.
func (s *Store) DeleteAgentSession(ctx context.Context, agentID string) error {
	if as, err := s.GetAgentSession(ctx, agentID); err == nil && as.Site != "" && as.CRMAccountID != "" {
		// Only the index entry that still points at this agent: the account may have been
		// bound to another agent since.
		k := s.keys.AgentAccount(as.Site, as.CRMAccountID)
		if cur, err := s.client.Get(ctx, k).Result(); err == nil && cur == agentID {
			s.client.Del(ctx, k)
		}
	}
	if err := s.client.Del(ctx, s.keys.AgentSession(agentID)).Err(); err != nil {
		return fmt.Errorf("delete agent session %s: %w", agentID, err)
	}
	return nil
}

// AppendTimeline appends e to the interaction's list, keeps the newest TimelineMax entries and
// refreshes the TTL, in one MULTI on one key.
func (s *Store) AppendTimeline(ctx context.Context, interactionID string, e bridge.TimelineEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("append timeline %s: %w", interactionID, err)
	}
	k := s.keys.Timeline(interactionID)
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, k, data)
		p.LTrim(ctx, k, -s.opts.TimelineMax, -1)
		p.PExpire(ctx, k, s.opts.LegTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("append timeline %s: %w", interactionID, err)
	}
	return nil
}

// Timeline returns the interaction's entries, oldest first (empty when there are none).
func (s *Store) Timeline(ctx context.Context, interactionID string) ([]bridge.TimelineEntry, error) {
	raw, err := s.client.LRange(ctx, s.keys.Timeline(interactionID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("timeline %s: %w", interactionID, err)
	}
	out := make([]bridge.TimelineEntry, 0, len(raw))
	for _, r := range raw {
		var e bridge.TimelineEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode timeline %s: %w", interactionID, err)
		}
		out = append(out, e)
	}
	return out, nil
}
