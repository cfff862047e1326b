package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acd"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/gctune"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/metrics"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/ssehub"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/webhookcrm"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/config"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// app is one bridge replica, wired.
type app struct {
	cfg      config.Config
	log      *slog.Logger
	store    *sessions.Store
	crm      crmAdapter
	acd      *acd.Client
	svc      *bridge.Service
	api      *httpapi.API
	hub      *ssehub.Hub // wakes this replica's SSE streams: one Redis subscription
	consumer string
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// newApp wires a replica over an already-connected Redis client.
func newApp(cfg config.Config, rdb redis.UniversalClient, log *slog.Logger) (*app, error) {
	// Redis-backed state.
	store := sessions.New(rdb, sessions.Options{
		Prefix:       cfg.Redis.KeyPrefix,
		LegTTL:       time.Duration(cfg.Redis.LegTTL),
		StreamMaxLen: cfg.Redis.StreamMaxLen,
		StreamTTL:    time.Duration(cfg.Redis.StreamTTL),
		ReclaimIdle:  time.Duration(cfg.Redis.ReclaimIdle),
	})

	// Adapters.
	crm, err := newCRMAdapter(cfg, log.With("upstream", "crm"))
	if err != nil {
		return nil, fmt.Errorf("crm adapter: %w", err)
	}
	ac := cfg.ACD.Client
	acdClient, err := acd.New(acd.Config{
		BaseURL: cfg.ACD.BaseURL, CallTimeout: time.Duration(ac.CallTimeout), Retries: ac.Retries,
		BackoffMin: time.Duration(ac.BackoffMin), BackoffMax: time.Duration(ac.BackoffMax),
		BreakerFailures: ac.BreakerFailures, BreakerOpenFor: time.Duration(ac.BreakerOpenFor),
		BreakerHalfOpenMax: ac.BreakerHalfOpenMax,
	}, log.With("upstream", "acd"))
	if err != nil {
		return nil, fmt.Errorf("acd adapter: %w", err)
	}

	// Core.
	_, siteCatalogs, err := cfg.Catalogs()
	if err != nil {
		return nil, err
	}
	opts := bridge.Options{
		Sites:           map[string]bridge.SiteOptions{},
		PopBudget:       time.Duration(cfg.CRM.PopBudget),
		PopRetries:      cfg.CRM.Client.Retries,
		LeaseTTL:        time.Duration(cfg.Pop.LeaseTTL),
		SessionTTL:      time.Duration(cfg.Mediabar.SessionTTL),
		DedupeTTL:       time.Duration(cfg.ACD.DedupeTTL),
		DeadLetterAfter: time.Duration(cfg.ACD.DeadLetterAfter),
		DeclineNotReady: cfg.Mediabar.DeclineNextState != "ready",
		ReadyOnGreen:    cfg.ACD.ReadyOnGreen,
		ConsumerLockTTL: time.Duration(cfg.CRM.EventsLockTTL),
		IntakeEvery:     time.Duration(cfg.CRM.IntakeEvery),
		IntakeRemember:  time.Duration(cfg.CRM.IntakeRemember),

		ReconcileEvery:   time.Duration(cfg.Reconciler.Every),
		StuckAfter:       time.Duration(cfg.Reconciler.StuckAfter),
		OfferDeadline:    time.Duration(cfg.Reconciler.OfferDeadline),
		ActiveCheckEvery: time.Duration(cfg.Reconciler.ActiveCheckEvery),
		RequeueBudget:    cfg.Reconciler.RequeueBudget,

		InlinePops: cfg.Pop.Inline,
	}
	consumer := consumerName()
	opts.InlineConsumer = consumer + "-inline"
	for _, s := range cfg.CRM.Sites {
		so := bridge.SiteOptions{AutoAccept: s.AutoAccept, AllowDecline: s.AllowDecline,
			Queues: map[string]bridge.QueueOptions{}, Catalog: siteCatalogs[s.Name]}
		for _, q := range s.Queues {
			so.Queues[q.ID] = bridge.QueueOptions{Name: q.Name, DispositionRequired: q.DispositionRequired,
				Dispositions: q.Dispositions, DefaultDisposition: q.DefaultDisposition, WrapUpTimeout: time.Duration(q.WrapUpTimeout),
				Intake: q.Intake, EscalationQueue: q.EscalationQueue}
		}
		opts.Sites[s.Name] = so
	}
	m := metrics.New()
	svc, err := bridge.New(opts, bridge.Deps{CRM: crm, ACD: acdClient, Store: store, Work: store,
		Events: store, Logger: log, Observer: m, Intake: crm})
	if err != nil {
		return nil, err
	}

	// HTTP.
	keys, err := cfg.ACD.WebhookKeys()
	if err != nil {
		return nil, err
	}
	secrets := make([]acdapi.Secret, 0, len(keys))
	for _, k := range keys {
		secrets = append(secrets, acdapi.Secret(k))
	}
	a := &app{cfg: cfg, log: log, store: store, crm: crm, acd: acdClient, svc: svc, consumer: consumer}
	a.hub = ssehub.New(rdb, store.Keys().EventsChannel(), ssehub.Options{Logger: log})
	a.api = httpapi.New(httpapi.Options{
		WebhookSecrets: secrets, WebhookTolerance: time.Duration(cfg.ACD.WebhookTolerance),
		MaxBodyBytes: cfg.ACD.MaxBodyBytes, TokenSecret: []byte(cfg.Mediabar.TokenSecret.Value()),
		TokenTTL: time.Duration(cfg.Mediabar.TokenTTL), AdminToken: cfg.Admin.Token.Value(), Version: version,
		WebhookObserver: m.WebhookHandled, FrameAncestors: cfg.Mediabar.FrameAncestors,
	}, svc, httpapi.LiveEvents{Events: store, Wakeups: a.hub, Presence: store}, readiness{a}, m.Handler(), log)
	m.WatchState(a.stateSnapshot, a.hub.Clients)
	return a, nil
}

// stateSnapshot is what /metrics reads from the shared state at scrape time.
func (a *app) stateSnapshot(ctx context.Context) (metrics.Snapshot, error) {
	snap := metrics.Snapshot{Breakers: readiness{a}.Breakers()}
	// Overdue: past the shortest reconciler deadline (the reconciler defers each leg to its
	// own deadline, so this counts legs it should already have looked at, with some slack).
	overdue := time.Now().Add(-2 * min(time.Duration(a.cfg.Reconciler.StuckAfter), time.Duration(a.cfg.Reconciler.OfferDeadline)))
	st, err := a.store.Stats(ctx, []string{bridge.QueuePops, bridge.QueueACDOutbox, bridge.QueueACDDeadLetter}, overdue, 10000)
	if err != nil {
		return snap, err
	}
	snap.QueueDepth, snap.QueueOldestSeconds = st.QueueDepth, map[string]float64{}
	for q, age := range st.QueueOldest {
		snap.QueueOldestSeconds[q] = age.Seconds()
	}
	snap.InteractionsByState = map[string]int{}
	for state, n := range st.LegsByState {
		snap.InteractionsByState[string(state)] = n
	}
	snap.OpenInteractions, snap.StuckInteractions = st.OpenLegs, st.Overdue
	return snap, nil
}

// redisPoolSize is the Redis pool a replica of cfg needs: a connection per work-queue
// consumer for its blocking read (the pop workers and the outbox), on top of the default for
// requests. Every sessions.Connect of a replica should pass it as ConnectOptions.PoolSize.
func redisPoolSize(cfg config.Config) int { return sessions.PoolSizeFor(popWorkers(cfg) + 1) }

// startGCTuner floors the collector's heap goal as runtime.gc_min_heap_mib says (adapters/gctune);
// Stop gives the collector back its own GOGC.
func startGCTuner(cfg config.Config, log *slog.Logger) *gctune.Tuner {
	t := gctune.Start(uint64(cfg.Runtime.GCMinHeapMiB) << 20)
	if log != nil && t.MinHeap() > 0 {
		log.Info("garbage collector's heap goal floored", "min_heap_mib", t.MinHeap()>>20, "gogc_percent", t.Percent())
	}
	return t
}

// popWorkers is how many pop workers a replica runs.
func popWorkers(cfg config.Config) int { return max(1, cfg.Pop.Workers) }

// consumerName identifies this replica in the work queues' consumer groups.
func consumerName() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
}

// crmAdapter is what the bridge needs of a CRM adapter: the core's ports, and its breakers
// for /readyz. Both adapters (oracle, webhookcrm) provide it.
type crmAdapter interface {
	bridge.CRM
	bridge.ChatLister
	BreakerStates() map[string]string
	Close()
}

// newCRMAdapter builds the adapter crm.adapter names, with the shared client policy.
func newCRMAdapter(cfg config.Config, log *slog.Logger) (crmAdapter, error) {
	cc := cfg.CRM.Client
	switch cfg.CRM.Adapter {
	case config.AdapterWebhook:
		sites := map[string]webhookcrm.Site{}
		for _, s := range cfg.CRM.Sites {
			sites[s.Name] = webhookcrm.Site{BaseURL: s.BaseURL, APIKey: s.APIKey.Value()}
		}
		return webhookcrm.New(webhookcrm.Config{
			Sites: sites, CallTimeout: time.Duration(cc.CallTimeout), PopBudget: time.Duration(cfg.CRM.PopBudget),
			Retries: cc.Retries, BackoffMin: time.Duration(cc.BackoffMin), BackoffMax: time.Duration(cc.BackoffMax),
			BreakerFailures: cc.BreakerFailures, BreakerOpenFor: time.Duration(cc.BreakerOpenFor),
			BreakerHalfOpenMax: cc.BreakerHalfOpenMax, PollWait: time.Duration(cfg.CRM.PollWait),
		}, log)
	default:
		sites := map[string]oracle.Site{}
		for _, s := range cfg.CRM.Sites {
			sites[s.Name] = oracle.Site{BaseURL: s.BaseURL, UserName: s.UserName, Password: s.Password.Value(), AppID: s.AppID}
		}
		return oracle.New(oracle.Config{
			Sites: sites, CallTimeout: time.Duration(cc.CallTimeout), PopBudget: time.Duration(cfg.CRM.PopBudget),
			Retries: cc.Retries, BackoffMin: time.Duration(cc.BackoffMin), BackoffMax: time.Duration(cc.BackoffMax),
			BreakerFailures: cc.BreakerFailures, BreakerOpenFor: time.Duration(cc.BreakerOpenFor),
			BreakerHalfOpenMax: cc.BreakerHalfOpenMax, TokenRefresh: time.Duration(cfg.CRM.AuthTokenRefresh),
			PollWait: time.Duration(cfg.CRM.PollWait),
		}, log)
	}
}

type readiness struct{ a *app }

func (r readiness) Ping(ctx context.Context) error { return r.a.store.Ping(ctx) }
func (r readiness) Breakers() map[string]string {
	out := map[string]string{"acd": r.a.acd.BreakerState()}
	for host, st := range r.a.crm.BreakerStates() {
		out["crm:"+host] = st
	}
	return out
}

// serve runs the HTTP servers and the background workers until ctx ends, then shuts down:
// stop taking requests, let in-flight pops finish (bounded), stop the workers.
func (a *app) serve(ctx context.Context, ln, opsLn net.Listener) error {
	srv := &http.Server{Handler: a.api.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	srv.RegisterOnShutdown(a.hub.Close) // SSE streams end with a reconnect hint instead of holding Shutdown
	ops := &http.Server{Handler: a.api.OpsHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	spawn := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(workCtx); err != nil && workCtx.Err() == nil {
				a.log.Error("worker stopped", "worker", name, "err", err)
			}
		}()
	}
	for i := range popWorkers(a.cfg) {
		name := a.consumer + "-pop-" + strconv.Itoa(i)
		spawn(name, func(ctx context.Context) error { return a.svc.RunPopWorkers(ctx, name) })
	}
	spawn("outbox", func(ctx context.Context) error { return a.svc.RunOutbox(ctx, a.consumer+"-outbox") })
	for _, s := range a.cfg.CRM.Sites {
		site := s.Name
		spawn("crm-events-"+site, func(ctx context.Context) error { return a.svc.RunCRMEvents(ctx, site) })
	}
	spawn("reconciler", a.svc.RunReconciler)
	spawn("sse-hub", a.hub.Run)
	for _, site := range a.svc.IntakeSites() {
		spawn("intake-"+site, func(ctx context.Context) error { return a.svc.RunIntake(ctx, site) })
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- ops.Serve(opsLn) }()
	a.log.Info("bridge listening", "listen", ln.Addr().String(), "ops_listen", opsLn.Addr().String(), "version", version)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	// No webhook comes in any more: the pops they started here finish before the rest stops.
	if err := a.svc.DrainInlinePops(sctx); err != nil {
		a.log.Warn("inline pops did not finish in time; their work items will be reclaimed by another replica")
	}
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		a.log.Warn("workers did not stop in time; their work items will be reclaimed by another replica")
	}
	_ = ops.Shutdown(sctx)
	a.crm.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
