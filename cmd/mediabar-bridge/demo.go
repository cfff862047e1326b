package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/config"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// world is a whole running system in one process: Redis, mock CRM, mock ACD and a bridge,
// all talking real HTTP on loopback. The demo and the scenarios run on it.
type world struct {
	cfg       config.Config
	crm       *crmmock.Server
	acd       *acdmock.Server
	app       *app
	rdb       redis.UniversalClient
	redisDesc string
	bridgeURL string
	opsURL    string
	crmURL    string
	acdURL    string
	site      string
	stop      func()
	done      chan error
}

type worldOptions struct {
	listen, opsListen, crmListen, acdListen string
	getenv                                  func(string) string
	logger                                  *slog.Logger
	crmClock                                *crmmock.Clock
	keyPrefix                               string
	// dropKeys deletes every key under keyPrefix when the world stops (scenarios, tests).
	dropKeys bool
	tweak    func(*config.Config)
}

// listenOrAny listens on addr, or on a free loopback port when addr is taken.
func listenOrAny(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// startWorld starts everything; stop it with w.stop() and wait on w.done.
func startWorld(ctx context.Context, o worldOptions) (*world, error) {
	w := &world{cfg: config.Default(), done: make(chan error, 1)}
	w.site = w.cfg.CRM.Sites[0].Name
	var closers []func()
	fail := func(err error) (*world, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		return nil, err
	}

	// Redis: a real server when REDIS_URL is set, else an in-process one.
	if url := o.getenv("REDIS_URL"); url != "" {
		rdb, err := sessions.Connect(ctx, sessions.ConnectOptions{URL: url, PoolSize: redisPoolSize(w.cfg)})
		if err != nil {
			return fail(fmt.Errorf("REDIS_URL: %w", err))
		}
		w.rdb, w.redisDesc = rdb, url
	} else {
		mr, err := miniredis.Run()
		if err != nil {
			return fail(fmt.Errorf("in-process redis: %w", err))
		}
		closers = append(closers, mr.Close)
		w.rdb = redis.NewClient(&redis.Options{Addr: mr.Addr(), PoolSize: redisPoolSize(w.cfg)})
		w.redisDesc = "in-process (miniredis) at " + mr.Addr() + "; set REDIS_URL to use a real server"
	}
	closers = append(closers, func() {
		if o.dropKeys && o.keyPrefix != "" {
			dropPrefix(w.rdb, o.keyPrefix)
		}
		w.rdb.Close()
	})

	// Listeners first, so each component knows the others' addresses.
	lns := make([]net.Listener, 4)
	for i, addr := range []string{o.listen, o.opsListen, o.crmListen, o.acdListen} {
		ln, err := listenOrAny(addr)
		if err != nil {
			return fail(err)
		}
		lns[i] = ln
		closers = append(closers, func() { ln.Close() })
	}
	w.bridgeURL = "http://" + lns[0].Addr().String()
	w.opsURL = "http://" + lns[1].Addr().String()
	w.crmURL = "http://" + lns[2].Addr().String()
	w.acdURL = "http://" + lns[3].Addr().String()

	w.cfg.CRM.Sites[0].BaseURL = w.crmURL
	w.cfg.ACD.BaseURL = w.acdURL
	if o.keyPrefix != "" {
		w.cfg.Redis.KeyPrefix = o.keyPrefix
	}
	if o.tweak != nil {
		o.tweak(&w.cfg)
	}
	if err := w.cfg.Validate(); err != nil {
		return fail(err)
	}

	// Mocks.
	site := w.cfg.CRM.Sites[0]
	w.crm = crmmock.New(crmmock.Options{Sites: []string{site.Name}, Users: map[string]string{site.UserName: site.Password.Value()},
		APIKey: site.APIKey.Value(), Clock: o.crmClock})
	closers = append(closers, w.crm.Close)
	secret, err := acdapi.ParseSecret(w.cfg.ACD.WebhookSecrets[0].Value())
	if err != nil {
		return fail(err)
	}
	w.acd = acdmock.New(acdmock.Options{WebhookURL: w.bridgeURL + "/v1/acd/events", WebhookSecret: secret, Site: site.Name})
	closers = append(closers, w.acd.Close)
	if err := seedCRM(w.crm, site.Name); err != nil {
		return fail(err)
	}
	if err := seedACD(w.acd, acdmock.StrategyLongestIdle); err != nil {
		return fail(err)
	}

	// The bridge.
	a, err := newApp(w.cfg, w.rdb, o.logger)
	if err != nil {
		return fail(err)
	}
	w.app = a
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = serveHandler(runCtx, lns[2], w.crm) }()
	go func() { defer wg.Done(); _ = serveHandler(runCtx, lns[3], w.acd) }()
	go func() {
		err := a.serve(runCtx, lns[0], lns[1])
		wg.Wait()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		w.done <- err
	}()
	w.stop = cancel
	return w, nil
}

func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "bridge address (a free port is used if taken)")
	opsListen := fs.String("ops-listen", "127.0.0.1:9090", "ops address")
	crmListen := fs.String("crm-listen", "127.0.0.1:8081", "mock CRM address")
	acdListen := fs.String("acd-listen", "127.0.0.1:8082", "mock ACD address")
	every := fs.Duration("chat-every", 3*time.Second, "a new customer chat this often (0 = none)")
	runFor := fs.Duration("for", 0, "stop after this long (0 = until interrupted)")
	logLevel := fs.String("log-level", "warn", "bridge log level (logs go to stderr)")
	crmAdapter := fs.String("crm-adapter", config.AdapterOracle, "CRM protocol the bridge speaks to the mock CRM: oracle or webhook")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &usageError{"--log-level: " + err.Error()}
	}
	if *runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *runFor)
		defer cancel()
	}
	// A demo's state is its own: a fresh key prefix, deleted when it stops, so a demo on a
	// shared Redis (REDIS_URL) neither reads nor leaves anything behind.
	w, err := startWorld(ctx, worldOptions{listen: *listen, opsListen: *opsListen, crmListen: *crmListen,
		acdListen: *acdListen, getenv: getenv, logger: newLogger(stderr, level),
		keyPrefix: "mbb-demo-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":v1", dropKeys: true,
		tweak: func(c *config.Config) {
			// New chats reach an agent within a second, not the production default of 2s.
			c.CRM.IntakeEvery = config.Duration(500 * time.Millisecond)
			c.CRM.Adapter = *crmAdapter
			if *crmAdapter == config.AdapterWebhook {
				c.CRM.Sites[0].APIKey = "DEMO-ONLY-webhook-crm-key" // the mock CRM is given the same
			}
		}})
	if err != nil {
		return err
	}
	defer w.stop()

	sim, err := newSimulator(ctx, w)
	if err != nil {
		w.stop()
		<-w.done
		return err
	}
	fmt.Fprintf(stdout, `mediabar-bridge demo is running (Ctrl-C to stop)
  media bar (reference UI, open it)     %s/mediabar/
  bridge (ACD webhooks, media-bar API)  %s
  ops (/livez /readyz /metrics)         %s
  mock CRM (API + /control/v1)          %s
  mock ACD (API + /control/v1)          %s
  redis                                 %s
  CRM protocol                          %s
agents logged in (CRM chat + media bar):
`, w.bridgeURL, w.bridgeURL, w.opsURL, w.crmURL, w.acdURL, w.redisDesc, w.cfg.CRM.Adapter)
	for _, ag := range sim.agents {
		fmt.Fprintf(stdout, "  %s (CRM account %s): curl -H 'Authorization: Bearer %s' %s/v1/mediabar/me\n", ag.acdID, ag.crmAccount, ag.token, w.bridgeURL)
	}
	for _, ag := range sim.agents {
		if ag.human {
			fmt.Fprintf(stdout, "%s is yours: open its media bar, already logged in (accept, decline, complete, transfer; its customers end a chat after %s):\n  %s\n",
				ag.acdID, humanCustomerPatience, mediabarLink(w, ag))
		}
	}
	fmt.Fprintf(stdout, "a customer chat arrives every %s; the other agents are simulated: they accept, chat, and complete with a disposition\n", *every)

	simDone := make(chan struct{})
	go func() { sim.run(ctx, *every); close(simDone) }()
	<-ctx.Done()
	<-simDone
	w.stop()
	err = <-w.done
	st := sim.stats()
	fmt.Fprintf(stdout, "demo stopped: %d chats created, %d offered, %d accepted, %d completed, %d failed pops\n",
		st.created, st.offered, st.accepted, st.completed, st.failed)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// mediabarLink opens the reference media bar logged in as the agent: the token rides in the
// fragment (never sent to a server, and the page drops it from the address bar), and the
// query prefills the login form for when the agent logs in again.
func mediabarLink(w *world, a *simAgent) string {
	q := url.Values{"agent": {a.acdID}, "account": {a.crmAccount}, "session": {a.sessionID}, "site": {w.site}}
	return w.bridgeURL + "/mediabar/?" + q.Encode() + "#token=" + url.QueryEscape(a.token)
}

// dropPrefix deletes every key under prefix (best effort; keys expire anyway).
func dropPrefix(rdb redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
