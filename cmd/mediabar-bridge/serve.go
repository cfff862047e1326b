package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/mediabar-bridge/mediabar-bridge/config"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("MBB_CONFIG"), "YAML config file (env MBB_CONFIG); empty = defaults + environment")
	allowDemo := fs.Bool("allow-demo-secrets", false, "start even though dev-only demo secrets are in use (never in production)")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if demo := cfg.DemoSecrets(); len(demo) > 0 && !*allowDemo {
		return fmt.Errorf("refusing to start: %s still hold the public demo secrets; set real ones (see README, Configuration) or pass --allow-demo-secrets for a test setup", strings.Join(demo, ", "))
	}
	log := newLogger(stderr, cfg.SlogLevel())
	defer startGCTuner(cfg, log).Stop()
	rdb, err := sessions.Connect(ctx, redisOptions(cfg))
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer rdb.Close()
	a, err := newApp(cfg, rdb, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	opsLn, err := net.Listen("tcp", cfg.OpsListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("ops listen: %w", err)
	}
	return a.serve(ctx, ln, opsLn)
}

func redisOptions(cfg config.Config) sessions.ConnectOptions {
	return sessions.ConnectOptions{URL: cfg.Redis.URL, Addrs: cfg.Redis.Addrs, MasterName: cfg.Redis.MasterName,
		Username: cfg.Redis.Username, Password: cfg.Redis.Password.Value(), DB: cfg.Redis.DB,
		PoolSize: redisPoolSize(cfg)}
}
