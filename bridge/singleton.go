package bridge

import (
	"context"
	"time"
)

// runSingleton runs job on exactly one replica at a time until ctx ends. The holder keeps a
// named lock, renewed every ttl/3; losing it (the store fenced this replica, or renewals
// failed for a whole ttl) cancels job's context. The others stand by and take over within
// ttl when the holder dies. job gets the lock's fencing token so that the state it writes
// (a cursor) can be refused once another replica holds the lock.
func (s *Service) runSingleton(ctx context.Context, name string, ttl time.Duration, job func(ctx context.Context, fence int64)) {
	for ctx.Err() == nil {
		fence, ok, err := s.store.AcquireLock(ctx, name, ttl)
		if err == nil && ok {
			s.log.Info("singleton job active", "job", name, "fence", fence)
			s.holdLock(ctx, name, fence, ttl, job)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = s.store.ReleaseLock(rctx, name, fence)
			cancel()
			continue
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("singleton job lock", "job", name, "err", err)
		}
		select { // standby
		case <-ctx.Done():
		case <-time.After(ttl / 3):
		}
	}
}

// holdLock runs job while renewing the lock; it returns when job returns or the lock is lost.
func (s *Service) holdLock(ctx context.Context, name string, fence int64, ttl time.Duration, job func(ctx context.Context, fence int64)) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := s.store.RenewLock(ctx, name, fence, ttl); err != nil || !ok {
					if ctx.Err() == nil {
						s.log.Warn("singleton job lost its lock", "job", name, "err", err)
					}
					cancel()
					return
				}
			}
		}
	}()
	job(ctx, fence)
}
