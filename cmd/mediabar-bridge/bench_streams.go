package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// `bench --streams N`: N agents log in to the media bar and each opens its event stream
// (GET /v1/mediabar/events); once all are open and idle, the process's memory is read again
// (the delta, divided by N, is what a stream costs the bridge); then events are pushed at
// --rate through the bridge's event publisher, round robin over the agents, and each one's
// delivery latency is taken from its publish time to its arrival on the stream.
//
// The client ends of the streams run in a child process (this binary, `bench
// --stream-client`), so that the bridge's process holds only its own end: its memory is the
// bridge's alone, and each process needs one descriptor per stream (19,000 streams fit a
// 20,000 limit). Where no child can be started (the test binary), the clients run in this
// process and their own cost, measured against a server that only holds streams open, is
// subtracted.

// idleWindow is how long the open, idle streams are watched for their background cost.
const idleWindow = 3 * time.Second

// benchEventType is the type of the pushed events, so the streams can tell them apart.
const benchEventType = "bench.ping"

// streamReport is `bench --streams --json`.
type streamReport struct {
	Mode    string `json:"mode"` // "streams"
	Redis   string `json:"redis"`
	CPUs    int    `json:"cpus"`
	LoadAvg string `json:"load_avg_1m,omitempty"` // at the start
	Streams int    `json:"streams"`
	// Client is where the streams' client ends ran: "process" or "in-process".
	Client string `json:"client"`
	Opened int    `json:"opened"`
	// Dropped streams ended before the run did (the server closed them).
	Dropped      int     `json:"dropped"`
	SetupSeconds float64 `json:"setup_seconds"`
	// What one stream costs the bridge: Go heap in use, goroutine stacks, and the process's
	// resident set (-1 where /proc/self/status is not available).
	HeapPerStreamBytes  float64 `json:"heap_per_stream_bytes"`
	StackPerStreamBytes float64 `json:"stack_per_stream_bytes"`
	RSSPerStreamBytes   float64 `json:"rss_per_stream_bytes"`
	// With every stream open and no event: the bridge's Redis round trips per second and
	// its share of one CPU (the resync reads, heartbeats, timers).
	IdleRedisPerSec float64 `json:"idle_redis_round_trips_per_sec"`
	IdleCPUPercent  float64 `json:"idle_cpu_percent"`
	// In-process clients only: their own cost per stream, already subtracted above.
	ClientPerStream *memPerStream `json:"client_per_stream,omitempty"`
	// Events pushed, at what rate, and how they arrived.
	RatePerSec      float64       `json:"rate_per_sec"`
	EventsSent      int           `json:"events_sent"`
	EventsDelivered int           `json:"events_delivered"`
	P50MS           float64       `json:"p50_ms"`
	P99MS           float64       `json:"p99_ms"`
	MaxMS           float64       `json:"max_ms"`
	Targets         []benchTarget `json:"targets"`
}

func runStreamBench(ctx context.Context, o benchOptions, getenv func(string) string, stdout, stderr io.Writer) error {
	n := o.streams.n
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	exe, childOK := streamClientExecutable()
	need := uint64(n + 256) // this process's end of each stream, Redis and HTTP pools, listeners
	if !childOK {
		need += uint64(n) // and the client ends too
	}
	if limit, err := raiseOpenFiles(need); err != nil {
		return fmt.Errorf("%d streams need about %d open files here, the limit is %d: %w (raise it: ulimit -n %d)", n, need, limit, err, need)
	}
	setupStart := time.Now()
	env, err := startBenchEnv(ctx, getenv, nil)
	if err != nil {
		return err
	}
	defer env.close()
	rep := streamReport{Mode: "streams", Redis: env.redisDesc, CPUs: runtime.GOMAXPROCS(0), LoadAvg: loadAverage(), Streams: n, Client: "process"}

	say("%d agents: CRM chat login", n)
	agents := benchAgents(n)
	if err := env.seedCRM(agents); err != nil {
		return err
	}
	b, err := env.startBridge(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = b.stop() }()
	say("%d agents: media-bar login", n)
	tokens, err := loginAgents(ctx, b.url, env.site, agents)
	if err != nil {
		return err
	}

	var clients streamClients
	if childOK {
		clients = &childClients{exe: exe, stderr: stderr}
	} else {
		rep.Client = "in-process"
		say("measuring the bench's own end of a stream (%d streams to a server that only holds them)", min(n, calibrationStreams))
		own, err := measureClientSide(ctx, min(n, calibrationStreams))
		if err != nil {
			return fmt.Errorf("client-side calibration: %w", err)
		}
		rep.ClientPerStream = &own
		clients = &inProcessClients{set: newStreamSet(n)}
	}
	defer clients.close()

	heap0, stack0, rss0 := memNow()
	say("opening %d event streams (clients: %s)", n, rep.Client)
	if err := clients.open(ctx, strings.TrimPrefix(b.url, "http://"), tokens); err != nil {
		return err
	}
	rep.SetupSeconds = time.Since(setupStart).Seconds()
	time.Sleep(time.Second) // let every stream settle into its idle wait
	heap1, stack1, rss1 := memNow()
	m := memDelta(n, heap0, stack0, rss0, heap1, stack1, rss1)
	if own := rep.ClientPerStream; own != nil {
		m.Heap, m.Stack = m.Heap-own.Heap, m.Stack-own.Stack
		if m.RSS >= 0 && own.RSS >= 0 {
			m.RSS -= own.RSS
		}
	}
	rep.HeapPerStreamBytes, rep.StackPerStreamBytes, rep.RSSPerStreamBytes = m.Heap, m.Stack, m.RSS

	trips0, _ := env.trips.snapshot()
	cpu0, idleStart := processCPU(), time.Now()
	time.Sleep(idleWindow)
	trips1, _ := env.trips.snapshot()
	idle := time.Since(idleStart)
	rep.IdleRedisPerSec = finite(float64(trips1-trips0) / idle.Seconds())
	rep.IdleCPUPercent = finite(100 * float64(processCPU()-cpu0) / float64(idle))

	say("pushing %.0f events/s for %s", o.rate, o.duration)
	sent, elapsed := pushEvents(ctx, b, agents, o.rate, o.duration)
	rep.EventsSent = sent
	rep.RatePerSec = finite(float64(sent) / elapsed.Seconds())
	res, err := clients.finish(ctx, sent)
	if err != nil {
		return err
	}
	lat := res.latencies()
	rep.Opened, rep.Dropped, rep.EventsDelivered = res.Opened, res.Dropped, len(lat)
	rep.P50MS, rep.P99MS = percentileMS(lat, 0.50), percentileMS(lat, 0.99)
	if len(lat) > 0 {
		rep.MaxMS = percentileMS(lat, 1)
	}
	rep.judge()
	if o.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// perStream is the bridge's memory per stream as judged: RSS where known, else heap and
// stacks.
func (r *streamReport) perStream() (float64, string) {
	if r.RSSPerStreamBytes >= 0 {
		return r.RSSPerStreamBytes, "RSS"
	}
	return r.HeapPerStreamBytes + r.StackPerStreamBytes, "heap+stacks"
}

func (r *streamReport) judge() {
	perStream, what := r.perStream()
	open := benchTarget{Target: fmt.Sprintf("%d streams open, none dropped", targetStreams),
		Got: fmt.Sprintf("%d of %d open, %d dropped", r.Opened, r.Streams, r.Dropped)}
	if r.Streams < targetStreams {
		open.Verdict = "SKIP"
		open.Got += fmt.Sprintf(" (run --streams %d)", targetStreams)
	} else {
		open.Verdict = verdict(r.Opened >= targetStreams && r.Dropped == 0)
	}
	lost := r.EventsSent - r.EventsDelivered
	r.Targets = []benchTarget{
		open,
		{Target: fmt.Sprintf("<= %d KB per stream", targetStreamBytes>>10),
			Got: fmt.Sprintf("%.1f KB (%s, bridge side) at %d streams", perStream/1024, what, r.Streams), Verdict: verdict(perStream <= targetStreamBytes)},
		{Target: fmt.Sprintf("delivery p99 < %.0f ms at %.0f events/s, none lost", targetDeliveryP99MS, targetEventRate),
			Got:     fmt.Sprintf("p99 %.1f ms at %.0f events/s, %d lost", r.P99MS, r.RatePerSec, lost),
			Verdict: verdict(r.P99MS < targetDeliveryP99MS && r.RatePerSec >= 0.95*targetEventRate && lost == 0)},
	}
}

func (r *streamReport) print(w io.Writer) {
	kb := func(b float64) string {
		if b < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f KB", b/1024)
	}
	client := "a child process (the bridge's process holds only its own end)"
	if r.ClientPerStream != nil {
		client = fmt.Sprintf("this process; their own heap %s, stacks %s, RSS %s per stream subtracted", kb(r.ClientPerStream.Heap), kb(r.ClientPerStream.Stack), kb(r.ClientPerStream.RSS))
	}
	fmt.Fprintf(w, `mediabar-bridge bench --streams: media-bar event streams on one in-process replica
  redis       %s
  cpus        %d (GOMAXPROCS), load average %s at the start
  streams     %d requested, %d open, %d dropped (setup %.1fs: logins and opening)
  clients     %s
  per stream  heap %s, goroutine stacks %s, RSS %s (bridge side)
  idle        %.0f Redis round trips/s, %.0f%% of one CPU (all streams open, no events, %s)
  events      %d pushed at %.0f/s through the event publisher, %d delivered
  delivery    p50 %.2f ms, p99 %.2f ms, max %.2f ms (publish to arrival on the stream)
`, r.Redis, r.CPUs, r.LoadAvg, r.Streams, r.Opened, r.Dropped, r.SetupSeconds, client,
		kb(r.HeapPerStreamBytes), kb(r.StackPerStreamBytes), kb(r.RSSPerStreamBytes),
		r.IdleRedisPerSec, r.IdleCPUPercent, idleWindow, r.EventsSent, r.RatePerSec, r.EventsDelivered, r.P50MS, r.P99MS, r.MaxMS)
	printTargets(w, r.Targets)
}

// loginAgents logs every agent in to the media bar (they are logged in to CRM chat) and
// returns their tokens.
func loginAgents(ctx context.Context, base, site string, agents []benchAgent) ([]string, error) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer hc.CloseIdleConnections()
	tokens := make([]string, len(agents))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(agents) || ctx.Err() != nil {
					return
				}
				a := agents[i]
				body, _ := json.Marshal(httpapi.LoginRequest{AgentID: a.acdID, Site: site, CRMAccountID: a.account, CRMChatSessionID: a.sessionID})
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/mediabar/login", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					errs <- fmt.Errorf("login %s: %w", a.acdID, err)
					return
				}
				var lr httpapi.LoginResponse
				err = json.NewDecoder(resp.Body).Decode(&lr)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil || lr.Token == "" {
					errs <- fmt.Errorf("login %s: HTTP %d, %v", a.acdID, resp.StatusCode, err)
					return
				}
				tokens[i] = lr.Token
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return tokens, ctx.Err()
}

// pushEvents publishes events at rate for d, round robin over the agents, through the
// bridge's event publisher (the Events port every flow publishes with). It returns how many
// it published and over how long.
func pushEvents(ctx context.Context, b *benchBridge, agents []benchAgent, rate float64, d time.Duration) (int, time.Duration) {
	work := make(chan int, 1024)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				a := agents[i%len(agents)]
				ev := bridge.Event{Type: benchEventType, AgentID: a.acdID, Message: strconv.Itoa(i), At: time.Now()}
				if _, err := b.app.store.Publish(ctx, a.acdID, ev); err == nil {
					sent.Add(1)
				}
			}
		})
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	queued := 0
	for now := start; now.Sub(start) < d && ctx.Err() == nil; now = <-tick.C {
		for due := int(now.Sub(start).Seconds() * rate); queued < due; queued++ {
			work <- queued
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	close(work)
	wg.Wait()
	return int(sent.Load()), elapsed
}

// memPerStream is memory per stream in bytes: Go heap in use, goroutine stacks, RSS (-1 when
// unknown).
type memPerStream struct {
	Heap  float64 `json:"heap_bytes"`
	Stack float64 `json:"stack_bytes"`
	RSS   float64 `json:"rss_bytes"`
}

func memDelta(n int, heap0, stack0, rss0, heap1, stack1, rss1 uint64) memPerStream {
	m := memPerStream{
		Heap:  finite(float64(int64(heap1)-int64(heap0)) / float64(n)),
		Stack: finite(float64(int64(stack1)-int64(stack0)) / float64(n)),
		RSS:   -1,
	}
	if rss0 > 0 && rss1 > 0 {
		m.RSS = finite(float64(int64(rss1)-int64(rss0)) / float64(n))
	}
	return m
}

// memNow returns the Go heap in use, the goroutine stacks in use and the resident set size
// (0 where /proc is not available), after a full collection.
func memNow() (heap, stack, rss uint64) {
	debug.FreeOSMemory() // collects, and returns freed pages so the RSS does not count them
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.StackInuse, rssBytes()
}

func rssBytes() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
