package httpapi_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// BenchmarkSSEIdleStreamMemory opens idle event streams (one agent each) on one replica and
// reports the heap and goroutine stack they hold, per stream. The clients are bare TCP
// connections in the same process, so their few hundred bytes each are counted too.
//
//	go test -run '^$' -bench SSEIdleStreamMemory -benchtime 1x ./adapters/httpapi/
func BenchmarkSSEIdleStreamMemory(b *testing.B) {
	const streams = 2000
	rdb, prefix := sessionstest.Redis(b)
	r := newSSEReplica(b, rdb, prefix, sseReplicaOptions{})
	tokens := make([]string, streams)
	for i := range tokens {
		tokens[i] = sseLogin(b, r.url, fmt.Sprintf("agent-%05d", i))
	}
	addr := strings.TrimPrefix(r.url, "http://")

	before, bs := memInUse()
	goroutines := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, streams)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	buf := make([]byte, 4096)
	for _, tok := range tokens {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /v1/mediabar/events HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer %s\r\n\r\n", tok)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
			b.Fatalf("stream %d: %q %v", len(conns), buf[:n], err)
		}
	}
	for r.hub.Clients() < streams {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // each handler settles in its wait
	after, as := memInUse()
	b.Logf("heap %d stack %d per stream", (int64(as.HeapInuse)-int64(bs.HeapInuse))/streams, (int64(as.StackInuse)-int64(bs.StackInuse))/streams)
	perStream := float64(after-before) / streams
	b.ReportMetric(perStream, "B/stream")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/streams, "goroutines/stream")
	b.Logf("%d idle streams: %.0f bytes each (heap in use + goroutine stacks), %d goroutines more",
		streams, perStream, runtime.NumGoroutine()-goroutines)
}

func memInUse() (uint64, runtime.MemStats) {
	for range 6 { // each collection may halve an oversized goroutine stack: reach the steady state
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, m
}
