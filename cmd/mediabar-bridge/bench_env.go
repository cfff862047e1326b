package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/config"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// benchEnv is what every bench run stands on: Redis, the mock CRM and the mock ACD on
// loopback, and the bridge's configuration. The bridge itself is started and stopped per
// phase (startBridge), so that the floor runs with no bridge working beside it.
type benchEnv struct {
	cfg       config.Config
	rdb       redis.UniversalClient
	redisDesc string
	crm       *crmmock.Server
	crmURL    string
	acdURL    string
	site      string
	queue     string
	secret    acdapi.Secret
	closers   []func()
	// newClient connects another client to the same Redis (for the bench's own reads, so
	// that trips counts the bridge's and the floor's round trips only), with a pool of
	// poolSize connections.
	newClient func(poolSize int) (redis.UniversalClient, error)
	trips     roundTrips
	// info reads the Redis server's own CPU time (INFO cpu), outside trips.
	info redis.UniversalClient
	// gcMinHeap is the collector's heap-goal floor in force (runtime.gc_min_heap_mib), for
	// the whole process: the floor and the bridge run under the same one.
	gcMinHeap uint64
}

// benchQueue is the queue every bench chat waits in: no disposition, no intake.
const benchQueue = "chat-support"

// startBenchEnv connects Redis as the demo does (REDIS_URL, else an in-process miniredis)
// and starts the mocks. The bridge's config is the defaults with the environment's MBB_*
// overrides (MBB_POP_INLINE, MBB_GC_MIN_HEAP_MIB, ...), as serve would read them without a
// file; tweak adjusts it (before validation).
func startBenchEnv(ctx context.Context, getenv func(string) string, tweak func(*config.Config)) (*benchEnv, error) {
	cfg, err := config.Parse(nil, getenv)
	if err != nil {
		return nil, fmt.Errorf("bench config from the environment: %w", err)
	}
	e := &benchEnv{cfg: cfg, queue: benchQueue}
	e.site = e.cfg.CRM.Sites[0].Name
	fail := func(err error) (*benchEnv, error) { e.close(); return nil, err }

	if url := getenv("REDIS_URL"); url != "" {
		e.newClient = func(poolSize int) (redis.UniversalClient, error) {
			return sessions.Connect(ctx, sessions.ConnectOptions{URL: url, PoolSize: poolSize})
		}
		e.redisDesc = url
	} else {
		mr, err := miniredis.Run()
		if err != nil {
			return fail(fmt.Errorf("in-process redis: %w", err))
		}
		e.closers = append(e.closers, mr.Close)
		e.newClient = func(poolSize int) (redis.UniversalClient, error) {
			return redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: poolSize}), nil
		}
		e.redisDesc = "in-process miniredis (set REDIS_URL for a real server; figures on miniredis say little)"
	}
	site := e.cfg.CRM.Sites[0]
	// Agents never miss a presence poll during a bench: no channel turns red by itself.
	e.crm = crmmock.New(crmmock.Options{Sites: []string{site.Name}, Users: map[string]string{site.UserName: site.Password.Value()},
		AbsentInterval: 24 * time.Hour})
	e.closers = append(e.closers, e.crm.Close)
	crmURL, err := e.serve(ctx, e.crm)
	if err != nil {
		return fail(err)
	}
	e.crmURL = crmURL
	// The bench delivers the webhooks itself; the ACD only answers the bridge's calls.
	acd := acdmock.New(acdmock.Options{Site: site.Name})
	e.closers = append(e.closers, acd.Close)
	if e.acdURL, err = e.serve(ctx, acd); err != nil {
		return fail(err)
	}

	e.cfg.CRM.Sites[0].BaseURL = e.crmURL
	e.cfg.ACD.BaseURL = e.acdURL
	e.cfg.ACD.ReadyOnGreen = false
	for i := range e.cfg.CRM.Sites[0].Queues {
		e.cfg.CRM.Sites[0].Queues[i].Intake = false // only the bench's webhooks route chats
	}
	if tweak != nil {
		tweak(&e.cfg)
	}
	if err := e.cfg.Validate(); err != nil {
		return fail(err)
	}
	// Connected once the config is final: the pool is sized for its pop workers.
	rdb, err := e.newClient(redisPoolSize(e.cfg))
	if err != nil {
		return fail(fmt.Errorf("redis (%s): %w", e.redisDesc, err))
	}
	e.rdb = rdb
	rdb.AddHook(&e.trips)
	if e.info, err = e.newClient(1); err != nil {
		rdb.Close()
		return fail(fmt.Errorf("redis (%s): %w", e.redisDesc, err))
	}
	e.closers = append(e.closers, func() { e.info.Close() })
	// A fresh prefix per run, deleted at the end: a bench on a shared Redis leaves nothing.
	e.cfg.Redis.KeyPrefix = "mbb-bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":v1"
	prefix := e.cfg.Redis.KeyPrefix
	e.closers = append(e.closers, func() { unlinkPrefix(rdb, prefix); rdb.Close() })
	secret, err := acdapi.ParseSecret(e.cfg.ACD.WebhookSecrets[0].Value())
	if err != nil {
		return fail(err)
	}
	e.secret = secret
	tuner := startGCTuner(e.cfg, nil)
	e.gcMinHeap = tuner.MinHeap()
	e.closers = append(e.closers, tuner.Stop)
	return e, nil
}

// serve serves h on a free loopback port until the env closes.
func (e *benchEnv) serve(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = serveHandler(sctx, ln, h); close(done) }()
	e.closers = append(e.closers, func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), nil
}

func (e *benchEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// benchAgent is one agent, in the mock CRM (and logged in to CRM chat).
type benchAgent struct{ acdID, account, sessionID string }

// seedCRM empties the mock CRM and creates the bench queue and agents, logged in to CRM chat
// and able to take any number of chats. Resetting between rounds keeps the mock fast: it
// looks at every chat it holds on every request.
func (e *benchEnv) seedCRM(agents []benchAgent) error {
	e.crm.Reset()
	if err := e.crm.CreateQueue(e.site, crmmock.Queue{ID: e.queue, Name: "Support", External: true}); err != nil {
		return err
	}
	for i := range agents {
		a := &agents[i]
		if err := e.crm.CreateAgent(e.site, crmmock.Agent{AccountID: a.account, Queues: []string{e.queue}, MaxSessions: 1 << 30}); err != nil {
			return fmt.Errorf("seed crm agent %s: %w", a.account, err)
		}
		sid, err := e.crm.Login(e.site, a.account)
		if err != nil {
			return fmt.Errorf("crm login %s: %w", a.account, err)
		}
		a.sessionID = sid
	}
	return nil
}

func benchAgents(n int) []benchAgent {
	out := make([]benchAgent, n)
	for i := range out {
		out[i] = benchAgent{acdID: "bench-agent-" + strconv.Itoa(i+1), account: "bench-acct-" + strconv.Itoa(i+1)}
	}
	return out
}

// benchBridge is one in-process bridge replica, serving on loopback.
type benchBridge struct {
	app  *app
	url  string
	stop func() error
}

func (e *benchEnv) startBridge(ctx context.Context) (*benchBridge, error) {
	a, err := newApp(e.cfg, e.rdb, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	opsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- a.serve(rctx, ln, opsLn) }()
	b := &benchBridge{app: a, url: "http://" + ln.Addr().String()}
	b.stop = func() error {
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	}
	// Ready when it answers.
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get("http://" + opsLn.Addr().String() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) {
			_ = b.stop()
			return nil, fmt.Errorf("bridge not ready within 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unlinkPrefix deletes every key under prefix, a pipelined batch at a time: a bench leaves
// tens of thousands of keys, too many for one round trip each.
func unlinkPrefix(rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() {
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Unlink(ctx, k)
			}
			return nil
		})
		batch = batch[:0]
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
}

// redisCPU is the Redis server's CPU time so far (user + system, all its threads), and false
// where INFO does not report it (miniredis). Redis shares the machine's cores with the
// bridge, so its work per pop is part of what a pop costs.
func (e *benchEnv) redisCPU(ctx context.Context) (time.Duration, bool) {
	info, err := e.info.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, false
	}
	return parseRedisCPU(info)
}

// parseRedisCPU reads used_cpu_sys and used_cpu_user (seconds) from an INFO cpu answer.
func parseRedisCPU(info string) (time.Duration, bool) {
	var total float64
	found := 0
	for line := range strings.Lines(info) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "used_cpu_sys" && name != "used_cpu_user") {
			continue
		}
		secs, err := strconv.ParseFloat(value, 64)
		// A year of CPU bounds it: NaN, Inf or 1e400 is no CPU time, and would overflow.
		if err != nil || !(secs >= 0 && secs < 365*24*3600) {
			return 0, false
		}
		total += secs
		found++
	}
	if found != 2 {
		return 0, false
	}
	return time.Duration(total * float64(time.Second)), true
}

// roundTrips counts the commands a Redis client sends and the round trips they take (a
// pipeline or transaction is one).
type roundTrips struct{ trips, cmds atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.trips.Add(1)
		r.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func (r *roundTrips) snapshot() (trips, cmds int64) { return r.trips.Load(), r.cmds.Load() }
