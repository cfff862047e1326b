package config

import (
	_ "embed"
	"time"
)

// Dev-only secrets. Default() uses them so that `mediabar-bridge demo` runs with no config
// at all; they are public (they are in this file), so serve refuses to start while any of
// them is still in use (see DemoSecrets).
const (
	// base64 of "DEMO-ONLY acd webhook key, not a secret" (39 bytes).
	demoWebhookSecret  Secret = "whsec_REVNTy1PTkxZIGFjZCB3ZWJob29rIGtleSwgbm90IGEgc2VjcmV0"
	demoTokenSecret    Secret = "DEMO-ONLY-mediabar-token-secret-do-not-use-in-production"
	demoAdminToken     Secret = "DEMO-ONLY-admin-token"
	demoCRMPassword    Secret = "DEMO-ONLY-crm-password"
	defaultSiteAppID          = "mediabar-bridge"
	minWebhookKeyBytes        = 16
	minTokenSecretLen         = 32
	minAdminTokenLen          = 16
)

// Default returns the built-in configuration: production-sane numbers, plus a "demo" site
// for the mock CRM and the dev-only secrets above. It validates as is.
func Default() Config {
	return Config{
		Listen:    ":8080",
		OpsListen: ":9090",
		LogLevel:  "info",
		Redis: Redis{
			URL:          "redis://127.0.0.1:6379/0",
			KeyPrefix:    "mbb:v1",
			LegTTL:       Duration(72 * time.Hour),
			StreamMaxLen: 1000,
			StreamTTL:    Duration(24 * time.Hour),
			ReclaimIdle:  Duration(5 * time.Second),
		},
		ACD: ACD{
			BaseURL:          "http://127.0.0.1:8082",
			WebhookSecrets:   []Secret{demoWebhookSecret},
			WebhookTolerance: Duration(5 * time.Minute),
			DedupeTTL:        Duration(72 * time.Hour),
			MaxBodyBytes:     64 << 10,
			Client:           defaultClient(),
			ReadyOnGreen:     true,
			NotReadyReason:   "crm_red",
			DeadLetterAfter:  Duration(24 * time.Hour),
		},
		CRM: CRM{
			Client:           defaultClient(),
			PopBudget:        Duration(5 * time.Second),
			AuthTokenRefresh: Duration(60 * time.Second),
			PollWait:         Duration(25 * time.Second),
			EventsLockTTL:    Duration(10 * time.Second),
			Adapter:          AdapterOracle,
			IntakeEvery:      Duration(2 * time.Second),
			IntakeRemember:   Duration(24 * time.Hour),
			Sites:            []Site{demoSite()},
		},
		Reconciler: Reconciler{
			Every:            Duration(10 * time.Second),
			StuckAfter:       Duration(30 * time.Second),
			OfferDeadline:    Duration(90 * time.Second),
			ActiveCheckEvery: Duration(15 * time.Minute),
			RequeueBudget:    5,
		},
		Runtime: Runtime{GCMinHeapMiB: 64},
		Pop: Pop{
			Workers:  16,
			Inline:   64,
			LeaseTTL: Duration(15 * time.Second),
		},
		Mediabar: Mediabar{
			TokenSecret:      demoTokenSecret,
			TokenTTL:         Duration(8 * time.Hour),
			SessionTTL:       Duration(12 * time.Hour),
			DeclineNextState: "not_ready",
			// The bridge's own pages and Oracle B2C Service's Browser UI consoles.
			FrameAncestors: []string{"'self'", "https://*.custhelp.com"},
		},
		Admin:   Admin{Token: demoAdminToken},
		Catalog: Catalog{Language: "en"},
	}
}

func defaultClient() Client {
	return Client{
		CallTimeout:        Duration(2 * time.Second),
		Retries:            2,
		BackoffMin:         Duration(50 * time.Millisecond),
		BackoffMax:         Duration(time.Second),
		BreakerFailures:    5,
		BreakerOpenFor:     Duration(10 * time.Second),
		BreakerHalfOpenMax: 1,
	}
}

// newSite is the starting point of every site listed in a config file: the per-site
// defaults, and no credentials.
func newSite() Site {
	return Site{AppID: defaultSiteAppID}
}

// demoSite is the mock CRM's site, as `mediabar-bridge mock-crm` seeds it.
func demoSite() Site {
	s := newSite()
	s.Name = "demo"
	s.BaseURL = "http://127.0.0.1:8081"
	s.UserName = "bridge"
	s.Password = demoCRMPassword
	s.AllowDecline = true
	s.Queues = []Queue{
		{
			ID:                  "chat-sales",
			Name:                "Sales",
			DispositionRequired: true,
			Dispositions:        []string{"Resolved", "Follow-up", "No answer"},
			DefaultDisposition:  "Resolved",
			Intake:              true,
		},
		{
			ID:     "chat-support",
			Name:   "Support",
			Intake: true,
		},
	}
	return s
}

// DemoSecrets lists the fields (as Validate names them) that still hold a dev-only secret
// from Default(). serve must refuse to start while it is non-empty, unless explicitly told
// otherwise; demo runs on them.
func (c Config) DemoSecrets() []string {
	var fields []string
	for i, s := range c.ACD.WebhookSecrets {
		if s == demoWebhookSecret {
			fields = append(fields, indexed("acd.webhook_secrets", i))
		}
	}
	for i, s := range c.CRM.Sites {
		if s.Password == demoCRMPassword {
			fields = append(fields, indexed("crm.sites", i)+".password")
		}
	}
	if c.Mediabar.TokenSecret == demoTokenSecret {
		fields = append(fields, "mediabar.token_secret")
	}
	if c.Admin.Token == demoAdminToken {
		fields = append(fields, "admin.token")
	}
	return fields
}

// UsesDemoSecrets reports whether any secret is still a dev-only default.
func (c Config) UsesDemoSecrets() bool { return len(c.DemoSecrets()) > 0 }

//go:embed example.yaml
var sampleYAML []byte

// SampleYAML returns example.yaml: every field, commented, with its default. The binary can
// print it for operators.
func SampleYAML() []byte { return append([]byte(nil), sampleYAML...) }
