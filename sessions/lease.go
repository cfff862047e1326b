package sessions

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// acquireLeaseScript: KEYS lease, fence; ARGV lease ttl ms, fence ttl ms. Returns the new
// fence, or 0 while the lease is held.
var acquireLeaseScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], f, 'PX', ARGV[1])
return f
`)

// releaseLeaseScript: KEYS lease; ARGV fence. Deletes the lease only if fence still holds it.
var releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// leaseLegScript: KEYS lease, fence, leg; ARGV lease ttl ms, fence ttl ms. acquireLeaseScript
// that also reads the leg once the lease is taken: {fence, json or nil}, or {0} while the
// lease is held. A pop needs both before anything else, and all three keys share the leg's
// hash tag, so one script saves the pop a round trip.
var leaseLegScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local f = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], f, 'PX', ARGV[1])
return {f, redis.call('HGET', KEYS[3], 'json')}
`)

// LeaseLeg is AcquireLease and then GetLeg, in one round trip. leg is nil when ok is false,
// and also when there is no such leg (the lease is taken all the same: release it). With an
// error no lease is held.
func (s *Store) LeaseLeg(ctx context.Context, key bridge.LegKey, ttl time.Duration) (*bridge.Interaction, int64, bool, error) {
	if ttl <= 0 {
		return nil, 0, false, fmt.Errorf("lease leg %s: ttl %v must be positive", key, ttl)
	}
	res, err := s.runScript(ctx, leaseLegScript, []string{s.keys.Lease(key), s.keys.Fence(key), s.keys.Leg(key)},
		ms(ttl), ms(max(ttl, s.opts.LegTTL))).Slice()
	if err != nil {
		return nil, 0, false, fmt.Errorf("lease leg %s: %w", key, err)
	}
	fence, _ := res[0].(int64)
	if fence <= 0 {
		return nil, 0, false, nil
	}
	var data string
	if len(res) == 2 {
		data, _ = res[1].(string)
	}
	if data == "" { // HGET answered nil: no such leg
		return nil, fence, true, nil
	}
	leg, err := decodeLeg(key, []byte(data))
	if err != nil {
		// An error returns no lease to hold: give it back rather than leave it to expire.
		_ = s.ReleaseLease(ctx, key, fence)
		return nil, 0, false, fmt.Errorf("lease leg %s: %w", key, err)
	}
	return leg, fence, true, nil
}

// AcquireLease takes the leg's lease for ttl. Each acquisition increments the leg's fence
// counter (which lives LegTTL, refreshed by leg writes), so a later holder's fence is always
// greater and UpdateLeg can refuse a stale holder's writes.
func (s *Store) AcquireLease(ctx context.Context, key bridge.LegKey, ttl time.Duration) (int64, bool, error) {
	if ttl <= 0 {
		return 0, false, fmt.Errorf("acquire lease %s: ttl %v must be positive", key, ttl)
	}
	fence, err := acquireLeaseScript.Run(ctx, s.client, []string{s.keys.Lease(key), s.keys.Fence(key)},
		ms(ttl), ms(max(ttl, s.opts.LegTTL))).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("acquire lease %s: %w", key, err)
	}
	return fence, fence > 0, nil
}

// ReleaseLease releases the lease if fence still holds it; otherwise it does nothing.
func (s *Store) ReleaseLease(ctx context.Context, key bridge.LegKey, fence int64) error {
	err := releaseLeaseScript.Run(ctx, s.client, []string{s.keys.Lease(key)}, strconv.FormatInt(fence, 10)).Err()
	if err != nil {
		return fmt.Errorf("release lease %s: %w", key, err)
	}
	return nil
}

// Remembered is EXISTS on the key FirstDelivery sets.
func (s *Store) Remembered(ctx context.Context, id string) (bool, error) {
	n, err := s.client.Exists(ctx, s.keys.Delivery(id)).Result()
	if err != nil {
		return false, fmt.Errorf("remembered %s: %w", id, err)
	}
	return n == 1, nil
}

// dedupeTTL is how long a delivery id is remembered: ttl, or LegTTL when it is not positive.
func (s *Store) dedupeTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return s.opts.LegTTL
	}
	return ttl
}

// FirstDelivery is SET NX with ttl (LegTTL when ttl is not positive): true the first time.
func (s *Store) FirstDelivery(ctx context.Context, eventID string, ttl time.Duration) (bool, error) {
	ok, err := s.client.SetNX(ctx, s.keys.Delivery(eventID), "1", s.dedupeTTL(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("first delivery %s: %w", eventID, err)
	}
	return ok, nil
}
