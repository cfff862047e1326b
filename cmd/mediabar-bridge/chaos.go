package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/faultproxy"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// `mediabar-bridge chaos` runs customer chats through real bridge replicas (this binary,
// re-executed as `serve`), the mock CRM and the mock ACD, injects faults meanwhile, records a
// history of every operation and checks the invariants over it afterwards (chaos_check.go).
// The parts: chaos_world.go (Redis, mocks, proxy, replicas), chaos_relay.go (the ACD's
// webhooks to the replicas, duplicated and reordered on demand), chaos_actors.go (customers,
// agents, the CRM feed recorder), chaos_nemesis.go (the faults), chaos_report.go (evidence,
// counts, printing).

// Fault kinds (--faults).
const (
	faultCRM5xx        = "crm-5xx"         // a burst of HTTP 503 on half the CRM calls
	faultCRMOutage     = "crm-outage"      // every CRM call answers 503, long polls are cut
	faultCRMHang       = "crm-hang"        // CRM calls hang until the bridge gives up
	faultCRMSlow       = "crm-slow"        // CRM calls answer late
	faultCRMLostAnswer = "crm-lost-answer" // the CRM routes the chat but the answer is lost
	faultTCPReset      = "tcp-reset"       // the network resets bridge↔CRM connections
	faultACDOutage     = "acd-outage"      // every ACD call answers 503
	faultWebhookDup    = "webhook-dup"     // every webhook delivered three times
	faultWebhookOrder  = "webhook-reorder" // webhooks held back and overtaken
	faultPresence      = "presence-loss"   // an agent's CRM console stops polling (absent, or disconnected)
	faultReplicaKill   = "replica-kill"    // SIGKILL a replica, restart it
	faultRedisRestart  = "redis-restart"   // SIGKILL the Redis server (AOF on), restart it
)

var allFaults = []string{faultCRM5xx, faultCRMOutage, faultCRMHang, faultCRMSlow, faultCRMLostAnswer, faultTCPReset,
	faultACDOutage, faultWebhookDup, faultWebhookOrder, faultPresence, faultReplicaKill, faultRedisRestart}

// chaosOptions are the command's flags.
type chaosOptions struct {
	chats, replicas, agents, capacity, concurrency int
	seed                                           uint64
	json                                           bool
	deadline                                       time.Duration
	faults                                         []string
	abandonPercent                                 int
	// bin is the binary the replicas run (default: this one).
	bin string
}

func parseChaosFlags(args []string, stderr io.Writer) (chaosOptions, error) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := chaosOptions{}
	fs.IntVar(&o.chats, "chats", 10000, "customer chats to run")
	fs.IntVar(&o.replicas, "replicas", 2, "bridge replicas (serve processes), at least 2")
	fs.IntVar(&o.agents, "agents", 20, "simulated agents")
	fs.IntVar(&o.capacity, "capacity", 3, "chats each agent takes at once (ACD capacity and CRM max sessions)")
	fs.IntVar(&o.concurrency, "concurrency", 0, "customer chats open at once (0: agents × capacity)")
	seed := fs.Int64("seed", 0, "random seed for the fault schedule and the actors (0: from the clock); printed, so a run can be repeated")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.DurationVar(&o.deadline, "deadline", 2*time.Minute, "longest a routed chat may take to reach its terminal outcome; also how long the run waits for the system to settle after the last chat")
	faults := fs.String("faults", strings.Join(allFaults, ","), "faults to inject (comma-separated; \"none\" for none): "+strings.Join(allFaults, ", "))
	fs.IntVar(&o.abandonPercent, "abandon-percent", 3, "share of customers who leave before being served")
	if err := fs.Parse(args); err != nil {
		return o, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return o, &usageError{"chaos takes no arguments: " + strings.Join(fs.Args(), " ")}
	}
	switch {
	case o.chats < 1:
		return o, &usageError{"--chats must be at least 1"}
	case o.replicas < 2:
		return o, &usageError{"--replicas must be at least 2 (the run kills replicas and checks another takes over)"}
	case o.agents < 1 || o.capacity < 1:
		return o, &usageError{"--agents and --capacity must be at least 1"}
	case o.deadline < 10*time.Second:
		return o, &usageError{"--deadline must be at least 10s"}
	case o.abandonPercent < 0 || o.abandonPercent > 100:
		return o, &usageError{"--abandon-percent must be between 0 and 100"}
	}
	if o.concurrency <= 0 {
		o.concurrency = o.agents * o.capacity
	}
	o.seed = uint64(*seed)
	if *seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	if *faults != "none" && *faults != "" {
		for _, f := range strings.Split(*faults, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(allFaults, f) {
				return o, &usageError{fmt.Sprintf("--faults: unknown fault %q (known: %s)", f, strings.Join(allFaults, ", "))}
			}
			if !slices.Contains(o.faults, f) {
				o.faults = append(o.faults, f)
			}
		}
	}
	return o, nil
}

// errViolations makes the command exit non-zero when the checker found anything.
var errViolations = errors.New("chaos: invariants violated")

func runChaos(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parseChaosFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.bin == "" {
		if o.bin, err = os.Executable(); err != nil {
			return fmt.Errorf("chaos: find this binary to run the replicas: %w", err)
		}
	}
	rep, err := chaosRun(ctx, o, getenv, stderr)
	if err != nil {
		return err
	}
	if o.json {
		err = rep.writeJSON(stdout)
	} else {
		rep.writeText(stdout)
	}
	if err != nil {
		return err
	}
	if len(rep.Violations) > 0 {
		return errViolations
	}
	return nil
}

// chaosRun sets the world up, runs the chats under faults, settles, gathers the evidence and
// checks it. Progress goes to progress (stderr); the report is returned.
func chaosRun(ctx context.Context, o chaosOptions, getenv func(string) string, progress io.Writer) (*chaosReport, error) {
	w, err := startChaosWorld(ctx, o, getenv, progress)
	if err != nil {
		return nil, err
	}
	defer w.close()

	rng := mrand.New(mrand.NewPCG(o.seed, 0x6d6262))
	start := time.Now()
	fmt.Fprintf(progress, "chaos: %d chats, %d replicas, %d agents × %d, seed %d, faults %s; redis %s\n",
		o.chats, o.replicas, o.agents, o.capacity, o.seed, strings.Join(o.faults, ",")+orNone(o.faults), w.redisDesc)

	if err := w.startActors(ctx, rng); err != nil {
		return nil, err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	nemesisDone := make(chan struct{})
	nemesisSeed, customerSeed := rng.Uint64(), rng.Uint64()
	go func() { defer close(nemesisDone); w.nemesis.run(runCtx, nemesisSeed) }()
	w.customers.run(ctx, o, customerSeed, progress)
	stopRun()
	<-nemesisDone
	w.nemesis.healAll(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	load := time.Since(start)
	fmt.Fprintf(progress, "chaos: all %d chats started in %s; faults healed, waiting for the system to settle (at most %s)\n", o.chats, load.Round(time.Second), o.deadline)
	settled := w.settle(ctx, o.deadline)
	w.stopActors()

	ev, err := w.gatherEvidence(ctx, o)
	if err != nil {
		return nil, err
	}
	rep := w.report(o, ev, start, load, settled)
	rep.Violations = checkChaos(ev)
	w.explain(ctx, rep, ev)
	return rep, nil
}

func orNone(fs []string) string {
	if len(fs) == 0 {
		return "none"
	}
	return ""
}

// chaosWorld is everything a run starts.
type chaosWorld struct {
	o         chaosOptions
	runID     string
	prefix    string
	site      string
	queues    []chaosQueue
	redis     *redisServer // nil: the run uses REDIS_URL and cannot restart it
	redisURL  string
	redisDesc string
	rdb       redis.UniversalClient
	store     *sessions.Store

	crm      *crmmock.Server
	crmSrv   *http.Server
	crmURL   string // direct (the run's own calls)
	proxy    *faultproxy.Proxy
	acd      *acdmock.Server
	acdSrv   *http.Server
	acdURL   string
	relay    *webhookRelay
	replicas []*replica
	secret   acdapi.Secret
	admin    string
	hist     *history
	logDir   string

	recorder  *crmRecorder
	agents    []*chaosAgent
	customers *customers
	nemesis   *nemesis
	actorsWG  sync.WaitGroup
	stopAll   context.CancelFunc

	closers []func()
}

// chaosQueue is one queue the run's chats go to.
type chaosQueue struct {
	id, name    string
	disposition string // required disposition ("" when none is required)
}

const (
	chaosSite     = "demo"
	chaosCRMUser  = "bridge"
	chaosSupport  = "chat-support"
	chaosSales    = "chat-sales"
	chaosResolved = "Resolved"
)

func startChaosWorld(ctx context.Context, o chaosOptions, getenv func(string) string, progress io.Writer) (_ *chaosWorld, err error) {
	w := &chaosWorld{o: o, runID: newRunID(), site: chaosSite, hist: &history{},
		queues: []chaosQueue{{id: chaosSupport, name: "Support"}, {id: chaosSales, name: "Sales", disposition: chaosResolved}}}
	w.prefix = "mbb-chaos-" + w.runID + ":v1"
	defer func() {
		if err != nil {
			w.close()
		}
	}()

	// Redis: our own redis-server (restartable, AOF on) when one is installed, else REDIS_URL.
	if path, lerr := execLookPath("redis-server"); lerr == nil {
		w.redis, err = startRedisServer(ctx, path)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, w.redis.stop)
		w.redisURL = w.redis.url()
		w.redisDesc = "own redis-server at " + w.redis.addr + " (appendonly, appendfsync always; restarted by the redis-restart fault)"
	} else {
		w.redisURL = getenv("REDIS_URL")
		if w.redisURL == "" {
			w.redisURL = "redis://127.0.0.1:6379/0"
		}
		w.redisDesc = w.redisURL + " (redis-server not on PATH: the redis-restart fault is skipped)"
		w.o.faults = slices.DeleteFunc(slices.Clone(w.o.faults), func(f string) bool { return f == faultRedisRestart })
	}
	w.rdb, err = sessions.Connect(ctx, sessions.ConnectOptions{URL: w.redisURL})
	if err != nil {
		return nil, fmt.Errorf("chaos: redis: %w", err)
	}
	w.closers = append(w.closers, func() { dropPrefix(w.rdb, w.prefix); w.rdb.Close() })
	w.store = sessions.New(w.rdb, sessions.Options{Prefix: w.prefix})

	// Secrets of this run only.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	w.secret = key
	webhookSecret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	crmPassword := "chaos-" + newRunID()
	w.admin = "chaos-admin-" + newRunID() + newRunID()

	// The mock CRM, short timers so offers time out and absent agents disconnect within
	// seconds, and a proxy in front of it for the bridges (TCP resets).
	w.crm = crmmock.New(crmmock.Options{Sites: []string{w.site}, Users: map[string]string{chaosCRMUser: crmPassword},
		OfferTimeout: 20 * time.Second, AbsentInterval: 3 * time.Second, AbsentRetryCount: 2})
	w.closers = append(w.closers, w.crm.Close)
	if w.crmSrv, w.crmURL, err = serveLoopback(w.crm); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { w.crmSrv.Close() })
	if w.proxy, err = faultproxy.New(strings.TrimPrefix(w.crmURL, "http://")); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { w.proxy.Close() })
	for _, q := range w.queues {
		if err := w.crm.CreateQueue(w.site, crmmock.Queue{ID: q.id, Name: q.name, External: true}); err != nil {
			return nil, err
		}
	}

	// The webhook relay, then the ACD that sends to it. The ACD retries a failed delivery
	// for about three minutes, longer than any fault lasts.
	w.relay, err = newWebhookRelay(w.hist, w.secret)
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.relay.close)
	w.acd = acdmock.New(acdmock.Options{WebhookURL: w.relay.url + "/v1/acd/events", WebhookSecret: w.secret, Site: w.site,
		WebhookRetries: 40, WebhookBackoff: 200 * time.Millisecond})
	w.closers = append(w.closers, w.acd.Close)
	if w.acdSrv, w.acdURL, err = serveLoopback(w.acd); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { w.acdSrv.Close() })
	for _, q := range w.queues {
		if err := w.acd.AddQueue(acdmock.Queue{ID: q.id, Name: q.name}); err != nil {
			return nil, err
		}
	}

	// The replicas.
	// The config and the replicas' logs stay in this directory after the run (the report
	// names it), to read when a violation needs explaining.
	dir, err := os.MkdirTemp("", "mbb-chaos-")
	if err != nil {
		return nil, err
	}
	w.logDir = dir
	cfgPath := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(chaosBridgeConfig(w.site, chaosCRMUser)), 0o600); err != nil {
		return nil, err
	}
	env := clusterEnv(cfgPath, clusterSettings{Site: w.site, Password: crmPassword, RedisURL: w.redisURL, KeyPrefix: w.prefix,
		ACDURL: w.acdURL, CRMURL: "http://" + w.proxy.Addr(), WebhookSecret: webhookSecret, AdminToken: w.admin})
	names := make([]string, o.replicas)
	for i := range names {
		names[i] = string(rune('A' + i%26))
	}
	fmt.Fprintf(progress, "chaos: starting %d replicas of %s\n", o.replicas, o.bin)
	w.replicas, err = startReplicas(ctx, o.bin, names, func(string) []string { return env }, dir)
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() {
		for _, r := range w.replicas {
			r.kill()
		}
	})
	w.relay.setReplicas(w.replicas)
	return w, nil
}

// chaosBridgeConfig is the replicas' config file: short timers, so that work of a killed
// replica, an expired lease or a stuck leg moves on within seconds, and breakers that probe
// again after a second; two intake queues, one of them with a required disposition.
func chaosBridgeConfig(site, user string) string {
	return `log_level: warn
redis:
  reclaim_idle: 1s
acd:
  ready_on_green: true
  client:
    call_timeout: 1s
    backoff_max: 200ms
    breaker_open_for: 1s
crm:
  pop_budget: 3s
  poll_wait: 2s
  events_lock_ttl: 3s
  intake_every: 300ms
  client:
    call_timeout: 1s
    backoff_max: 200ms
    breaker_open_for: 1s
  sites:
    - name: ` + site + `
      user_name: ` + user + `
      queues:
        - id: ` + chaosSupport + `
          name: Support
          intake: true
        - id: ` + chaosSales + `
          name: Sales
          intake: true
          disposition_required: true
          dispositions: [` + chaosResolved + `, Follow-up]
          default_disposition: ` + chaosResolved + `
pop:
  lease_ttl: 5s
reconciler:
  every: 1s
  stuck_after: 8s
  offer_deadline: 40s
`
}

// close stops everything the world started, in reverse order.
func (w *chaosWorld) close() {
	if w.stopAll != nil {
		w.stopAll()
		w.actorsWG.Wait()
	}
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

// liveReplica returns a running replica, starting the search at i (so callers spread out).
func (w *chaosWorld) liveReplica(i int) *replica {
	for k := range w.replicas {
		if r := w.replicas[(i+k)%len(w.replicas)]; r.alive() {
			return r
		}
	}
	return w.replicas[i%len(w.replicas)]
}

// serveLoopback serves h on a free loopback port.
func serveLoopback(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	// The mock CRM's drop and lost-answer faults hijack connections on purpose; the server's
	// complaints about that are noise, not news.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String(), nil
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
