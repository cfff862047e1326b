package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is the shared state read at scrape time: work queues, open interactions and the
// upstream breakers. Queue and interaction figures come from Redis and are the same on every
// replica (aggregate with max, not sum); breakers are per replica.
type Snapshot struct {
	QueueDepth         map[string]int64
	QueueOldestSeconds map[string]float64
	// InteractionsByState counts open legs by state (over a bounded sample of the oldest).
	InteractionsByState map[string]int
	OpenInteractions    int64
	// StuckInteractions: open legs past their reconciler deadline.
	StuckInteractions int64
	// Breakers maps an upstream to closed, half-open or open.
	Breakers map[string]string
}

// SnapshotFunc reads a Snapshot.
type SnapshotFunc func(ctx context.Context) (Snapshot, error)

// stateCollector reads the snapshot once per scrape (at most once per cacheFor, however many
// Prometheus servers scrape) with a deadline, so a slow Redis cannot hang /metrics.
type stateCollector struct {
	read     SnapshotFunc
	timeout  time.Duration
	cacheFor time.Duration

	mu    sync.Mutex
	at    time.Time
	last  Snapshot
	lastE error

	depth, oldest, byState, open, stuck, breaker, up *prometheus.Desc
	sseClients                                       func() int
	sseDesc                                          *prometheus.Desc
}

// WatchState registers gauges read from the shared state at scrape time, and, when
// sseClients is not nil, the number of SSE clients connected to this replica.
func (m *Metrics) WatchState(read SnapshotFunc, sseClients func() int) {
	c := &stateCollector{
		read: read, timeout: 2 * time.Second, cacheFor: 2 * time.Second, sseClients: sseClients,
		depth:   prometheus.NewDesc("mbb_queue_depth", "Items waiting or in flight per work queue (pops, acd-outbox, acd-dead-letters, ...).", []string{"queue"}, nil),
		oldest:  prometheus.NewDesc("mbb_queue_oldest_seconds", "Age of the oldest item per work queue (0 when empty).", []string{"queue"}, nil),
		byState: prometheus.NewDesc("mbb_interactions", "Open interaction legs by state (over a sample of at most 10,000, oldest first).", []string{"state"}, nil),
		open:    prometheus.NewDesc("mbb_interactions_open", "Interaction legs not in a terminal state.", nil, nil),
		stuck:   prometheus.NewDesc("mbb_interactions_stuck", "Open legs past their reconciler deadline.", nil, nil),
		breaker: prometheus.NewDesc("mbb_breaker_state", "Circuit breaker per upstream host: 1 for its current state.", []string{"upstream", "state"}, nil),
		up:      prometheus.NewDesc("mbb_state_read_up", "1 when the scrape could read the shared state from Redis.", nil, nil),
		sseDesc: prometheus.NewDesc("mbb_sse_clients", "Media-bar event streams connected to this replica.", nil, nil),
	}
	m.reg.MustRegister(c)
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.byState, c.open, c.stuck, c.breaker, c.up, c.sseDesc} {
		ch <- d
	}
}

func (c *stateCollector) snapshot() (Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < c.cacheFor {
		return c.last, c.lastE
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	c.last, c.lastE = c.read(ctx)
	c.at = time.Now()
	return c.last, c.lastE
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.sseClients != nil {
		ch <- prometheus.MustNewConstMetric(c.sseDesc, prometheus.GaugeValue, float64(c.sseClients()))
	}
	s, err := c.snapshot()
	for upstream, state := range s.Breakers {
		for _, st := range []string{"closed", "half-open", "open"} {
			v := 0.0
			if st == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, v, upstream, st)
		}
	}
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for q, n := range s.QueueDepth {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), q)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, s.QueueOldestSeconds[q], q)
	}
	for st, n := range s.InteractionsByState {
		ch <- prometheus.MustNewConstMetric(c.byState, prometheus.GaugeValue, float64(n), st)
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.OpenInteractions))
	ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, float64(s.StuckInteractions))
}
