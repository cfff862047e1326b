package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/config"
)

// The demo world: two external queues and three agents, the same in the mock CRM and the
// mock ACD, so a routed chat can be popped.
var demoQueues = []struct{ id, name string }{{"chat-sales", "Sales"}, {"chat-support", "Support"}}

type demoAgent struct{ acdID, crmAccount string }

var demoAgents = []demoAgent{{"agent-1", "acct-1"}, {"agent-2", "acct-2"}, {"agent-3", "acct-3"}}

func demoQueueIDs() []string {
	ids := make([]string, 0, len(demoQueues))
	for _, q := range demoQueues {
		ids = append(ids, q.id)
	}
	return ids
}

func seedCRM(srv *crmmock.Server, site string) error {
	for _, q := range demoQueues {
		if err := srv.CreateQueue(site, crmmock.Queue{ID: q.id, Name: q.name, External: true}); err != nil {
			return fmt.Errorf("seed crm queue %s: %w", q.id, err)
		}
	}
	for _, a := range demoAgents {
		if err := srv.CreateAgent(site, crmmock.Agent{AccountID: a.crmAccount, Queues: demoQueueIDs(), MaxSessions: 2, AllowDecline: true}); err != nil {
			return fmt.Errorf("seed crm agent %s: %w", a.crmAccount, err)
		}
	}
	return nil
}

func seedACD(srv *acdmock.Server, strategy string) error {
	for _, q := range demoQueues {
		if err := srv.AddQueue(acdmock.Queue{ID: q.id, Name: q.name, Strategy: strategy}); err != nil {
			return fmt.Errorf("seed acd queue %s: %w", q.id, err)
		}
	}
	for _, a := range demoAgents {
		if err := srv.AddAgent(acdmock.Agent{ID: a.acdID, CRMAccountID: a.crmAccount, Queues: demoQueueIDs(), Capacity: 2, Ready: true}); err != nil {
			return fmt.Errorf("seed acd agent %s: %w", a.acdID, err)
		}
	}
	return nil
}

// serveHandler serves h on ln until ctx ends.
func serveHandler(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

func runMockCRM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := config.Default().CRM.Sites[0]
	fs := flag.NewFlagSet("mock-crm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	sites := fs.String("sites", def.Name, "comma-separated CRM site names")
	user := fs.String("user", def.UserName, "API user name accepted by authenticate")
	password := fs.String("password", def.Password.Value(), "API password accepted by authenticate (demo default)")
	apiKey := fs.String("api-key", crmmock.DefaultAPIKey, "bearer key accepted by the generic webhook-CRM protocol (/crm/v1)")
	seed := fs.Bool("seed", false, "create the demo queues (chat-sales, chat-support) and agents (acct-1..3)")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	names := strings.Split(*sites, ",")
	srv := crmmock.New(crmmock.Options{Sites: names, Users: map[string]string{*user: *password}, APIKey: *apiKey})
	defer srv.Close()
	if *seed {
		for _, s := range names {
			if err := seedCRM(srv, s); err != nil {
				return err
			}
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mock CRM listening on http://%s (Oracle-style API /uq/v1/{site}/..., webhook-CRM API /crm/v1/sites/{site}/..., control /control/v1/...), sites %s\n", ln.Addr(), *sites)
	return serveHandler(ctx, ln, srv)
}

func runMockACD(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	defSecret := config.Default().ACD.WebhookSecrets[0].Value()
	if v := getenv("MBB_ACD_WEBHOOK_SECRETS"); v != "" {
		defSecret = strings.Split(v, ",")[0]
	}
	fs := flag.NewFlagSet("mock-acd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8082", "address to listen on")
	webhook := fs.String("webhook-url", "http://127.0.0.1:8080/v1/acd/events", "the bridge's webhook URL")
	site := fs.String("site", "demo", "CRM site put in routed events")
	seed := fs.Bool("seed", false, "create the demo queues and agents (agent-1..3, ready)")
	alerting := fs.Duration("alerting-timeout", 0, "revoke a routing the bridge has not accepted, requeued or completed within this long (0 = never)")
	strategy := fs.String("strategy", acdmock.StrategyLongestIdle, "routing strategy of the seeded queues: longest_idle or round_robin")
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if *strategy != acdmock.StrategyLongestIdle && *strategy != acdmock.StrategyRoundRobin {
		return &usageError{fmt.Sprintf("--strategy must be %s or %s", acdmock.StrategyLongestIdle, acdmock.StrategyRoundRobin)}
	}
	if *alerting < 0 {
		return &usageError{"--alerting-timeout must not be negative"}
	}
	secret, err := acdapi.ParseSecret(defSecret)
	if err != nil {
		return fmt.Errorf("webhook secret (MBB_ACD_WEBHOOK_SECRETS): %w", err)
	}
	srv := acdmock.New(acdmock.Options{WebhookURL: *webhook, WebhookSecret: secret, Site: *site, AlertingTimeout: *alerting})
	defer srv.Close()
	if *seed {
		if err := seedACD(srv, *strategy); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mock ACD listening on http://%s (API /acd/v1/..., control /control/v1/...), webhooks to %s\n", ln.Addr(), *webhook)
	return serveHandler(ctx, ln, srv)
}
