package sessions_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// Concurrent round trips are merged, every request gets its own results, none is lost, and
// the combiner ends with no pipeline in flight and nothing waiting.
func TestCombinedRoundTripsKeepTheirOwnResults(t *testing.T) {
	client, prefix := sessionstest.Redis(t)
	s := sessions.New(client, sessions.Options{Prefix: prefix, Combine: 2})
	var mu sync.Mutex
	var pipelines, commands int
	s.ObservePipelinesForTest(func(n int) {
		mu.Lock()
		pipelines++
		commands += n
		mu.Unlock()
	})
	ctx := context.Background()
	const goroutines, each = 50, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("%s:combine:%d:%d", prefix, g, i)
				var set *redis.StatusCmd
				var get *redis.StringCmd
				s.RoundTripForTest(ctx, func(p redis.Pipeliner) {
					set = p.Set(ctx, key, key, time.Minute)
					get = p.Get(ctx, key)
				})
				if set.Err() != nil || get.Val() != key {
					errs <- fmt.Errorf("request %d/%d: set %v, get %q %v", g, i, set.Err(), get.Val(), get.Err())
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		running, waiting := s.CombinerStateForTest()
		t.Fatalf("round trips still waiting after 20s (%d pipelines in flight, %d waiting): a request or a slot was lost", running, waiting)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if commands != 2*goroutines*each {
		t.Errorf("%d commands sent, want %d", commands, 2*goroutines*each)
	}
	if pipelines >= goroutines*each {
		t.Errorf("%d pipelines for %d concurrent round trips: nothing was merged", pipelines, goroutines*each)
	}
	t.Logf("%d round trips in %d pipelines", goroutines*each, pipelines)
	if running, waiting := s.CombinerStateForTest(); running != 0 || waiting != 0 {
		t.Errorf("after all returned: %d pipelines in flight, %d waiting; want 0, 0", running, waiting)
	}
}
