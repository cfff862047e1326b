package sessions

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Named locks elect one worker across replicas for jobs that must run once (the CRM event
// consumer of a site). They reuse the lease scripts: each acquisition gets a larger fence,
// and the holder's writes (the cursor) are refused once another replica has taken over.

// cursorTTL keeps a cursor that is no longer written (a removed site) from living forever.
const cursorTTL = 30 * 24 * time.Hour

// renewLeaseScript: KEYS lease; ARGV fence, ttl ms. Extends the lease only for its holder.
var renewLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// setCursorScript: KEYS lock, cursor; ARGV fence, value, ttl ms. Writes only for the holder.
var setCursorScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`)

// AcquireLock takes the named lock for ttl; ok is false while another holder has it.
func (s *Store) AcquireLock(ctx context.Context, name string, ttl time.Duration) (int64, bool, error) {
	if ttl <= 0 {
		return 0, false, fmt.Errorf("acquire lock %s: ttl %v must be positive", name, ttl)
	}
	fence, err := acquireLeaseScript.Run(ctx, s.client, []string{s.keys.Lock(name), s.keys.LockFence(name)},
		ms(ttl), ms(cursorTTL)).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("acquire lock %s: %w", name, err)
	}
	return fence, fence > 0, nil
}

// RenewLock extends the lock for its holder; false when it was lost (expired or taken over).
func (s *Store) RenewLock(ctx context.Context, name string, fence int64, ttl time.Duration) (bool, error) {
	n, err := renewLeaseScript.Run(ctx, s.client, []string{s.keys.Lock(name)}, strconv.FormatInt(fence, 10), ms(ttl)).Int64()
	if err != nil {
		return false, fmt.Errorf("renew lock %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLock releases the lock if fence still holds it.
func (s *Store) ReleaseLock(ctx context.Context, name string, fence int64) error {
	if err := releaseLeaseScript.Run(ctx, s.client, []string{s.keys.Lock(name)}, strconv.FormatInt(fence, 10)).Err(); err != nil {
		return fmt.Errorf("release lock %s: %w", name, err)
	}
	return nil
}

// Cursor returns the named cursor (0 when none was stored).
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	v, err := s.client.Get(ctx, s.keys.Cursor(name)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor stores the cursor if fence still holds the lock of the same name; otherwise it
// returns bridge.ErrFenced and writes nothing.
func (s *Store) SetCursor(ctx context.Context, name string, fence, value int64) error {
	n, err := setCursorScript.Run(ctx, s.client, []string{s.keys.Lock(name), s.keys.Cursor(name)},
		strconv.FormatInt(fence, 10), strconv.FormatInt(value, 10), ms(cursorTTL)).Int64()
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("set cursor %s: %w", name, bridge.ErrFenced)
	}
	return nil
}
