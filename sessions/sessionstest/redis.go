// Package sessionstest gives tests a Redis client and a key prefix of their own.
package sessionstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// DefaultURL is used when REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// Redis connects to REDIS_URL (default DefaultURL) and returns the client and a unique key
// prefix for this test. When that server is unreachable the test fails if REDIS_REQUIRED=1
// (set it in CI), and otherwise falls back to an in-process miniredis, saying so in the test
// log. At cleanup every key under the prefix is deleted and the client closed.
//
// The miniredis fallback is driven forward in real time so TTLs expire, but it is not Redis:
// the real server is what the suite is meant to run against.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = DefaultURL
	}
	prefix := "mbbtest:" + randomHex(t, 8)

	client, err := connect(url)
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("sessionstest: REDIS_REQUIRED=1 but Redis (REDIS_URL or %s) is unreachable: %v", DefaultURL, err)
		}
		t.Logf("sessionstest: Redis unreachable (%v); falling back to in-process miniredis (set REDIS_REQUIRED=1 to fail instead)", err)
		client = miniRedis(t)
	}
	t.Cleanup(func() {
		deletePrefix(t, client, prefix)
		_ = client.Close()
	})
	return client, prefix
}

// unreachable remembers URLs whose server did not answer, so a package's tests do not each
// wait for the same failed dial.
var unreachable sync.Map // url → error

func connect(url string) (redis.UniversalClient, error) {
	if err, ok := unreachable.Load(url); ok {
		return nil, err.(error)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", err)
	}
	// A plain TCP probe first: fast, and keeps go-redis's dial retries out of the test log.
	conn, err := net.DialTimeout("tcp", opts.Addr, 500*time.Millisecond)
	if err != nil {
		unreachable.Store(url, err)
		return nil, err
	}
	_ = conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return sessions.Connect(ctx, sessions.ConnectOptions{URL: url})
}

// miniRedis starts a miniredis whose clock follows the wall clock, so TTLs expire.
func miniRedis(t testing.TB) redis.UniversalClient {
	t.Helper()
	mr := miniredis.RunT(t)
	const tick = 5 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				mr.FastForward(tick)
			}
		}
	})
	// Registered after RunT's cleanup, so it runs before the server closes.
	t.Cleanup(func() { close(stop); wg.Wait() })
	return redis.NewClient(&redis.Options{Addr: mr.Addr()})
}

func deletePrefix(t testing.TB, client redis.UniversalClient, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+":*", 500).Iterator()
	var batch []string
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// One DEL per key: on Cluster a multi-key DEL across slots is refused.
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Del(ctx, k)
			}
			return nil
		})
		if err != nil {
			t.Errorf("sessionstest: delete keys under %s: %v", prefix, err)
		}
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	if err := iter.Err(); err != nil {
		t.Errorf("sessionstest: scan keys under %s: %v", prefix, err)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("sessionstest: random prefix: %v", err)
	}
	return hex.EncodeToString(b)
}
