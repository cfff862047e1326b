package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

func TestValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	yes := func() *bool { b := true; return &b }
	tests := []struct {
		name      string
		give      func(c *Config)
		wantField string
	}{
		{"listen empty", func(c *Config) { c.Listen = "" }, "listen"},
		{"listen no port", func(c *Config) { c.Listen = "localhost" }, "listen"},
		{"listen bad port", func(c *Config) { c.Listen = ":http" }, "listen"},
		{"ops listen port range", func(c *Config) { c.OpsListen = ":70000" }, "ops_listen"},
		{"ops listen collides", func(c *Config) { c.OpsListen = "127.0.0.1:8080" }, "ops_listen"},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, "log_level"},
		{"redis url unparseable", func(c *Config) { c.Redis.URL = "redis://[::1" }, "redis.url"},
		{"redis url scheme", func(c *Config) { c.Redis.URL = "http://x:6379" }, "redis.url"},
		{"redis url no host", func(c *Config) { c.Redis.URL = "redis:///0" }, "redis.url"},
		{"redis neither", func(c *Config) { c.Redis.URL = "" }, "redis.url"},
		{"redis both", func(c *Config) { c.Redis.Addrs = []string{"a:1"} }, "redis.url"},
		{"redis addr", func(c *Config) { c.Redis.URL = ""; c.Redis.Addrs = []string{"a:1", "b"} }, "redis.addrs[1]"},
		{"redis db", func(c *Config) { c.Redis.DB = -1 }, "redis.db"},
		{"redis key prefix", func(c *Config) { c.Redis.KeyPrefix = "" }, "redis.key_prefix"},
		{"redis leg ttl", func(c *Config) { c.Redis.LegTTL = 0 }, "redis.leg_ttl"},
		{"redis stream max len", func(c *Config) { c.Redis.StreamMaxLen = 0 }, "redis.stream_max_len"},
		{"redis stream ttl", func(c *Config) { c.Redis.StreamTTL = -1 }, "redis.stream_ttl"},
		{"redis reclaim idle", func(c *Config) { c.Redis.ReclaimIdle = 0 }, "redis.reclaim_idle"},
		{"acd base url relative", func(c *Config) { c.ACD.BaseURL = "/acd" }, "acd.base_url"},
		{"acd base url scheme", func(c *Config) { c.ACD.BaseURL = "ftp://acd" }, "acd.base_url"},
		{"webhook secrets none", func(c *Config) { c.ACD.WebhookSecrets = nil }, "acd.webhook_secrets"},
		{"webhook secrets three", func(c *Config) {
			s := c.ACD.WebhookSecrets[0]
			c.ACD.WebhookSecrets = []Secret{s, s, s}
		}, "acd.webhook_secrets"},
		{"webhook secret not base64", func(c *Config) { c.ACD.WebhookSecrets = []Secret{"whsec_not base64!!"} }, "acd.webhook_secrets[0]"},
		{"webhook secret short", func(c *Config) { c.ACD.WebhookSecrets = []Secret{"c2hvcnQ="} }, "acd.webhook_secrets[0]"},
		{"webhook secret empty after prefix", func(c *Config) { c.ACD.WebhookSecrets = []Secret{"whsec_"} }, "acd.webhook_secrets[0]"},
		{"webhook tolerance", func(c *Config) { c.ACD.WebhookTolerance = 0 }, "acd.webhook_tolerance"},
		{"dedupe ttl vs tolerance", func(c *Config) { c.ACD.DedupeTTL = Duration(time.Minute) }, "acd.dedupe_ttl"},
		{"max body", func(c *Config) { c.ACD.MaxBodyBytes = 0 }, "acd.max_body_bytes"},
		{"not ready reason", func(c *Config) { c.ACD.NotReadyReason = "" }, "acd.not_ready_reason"},
		{"dead letter after", func(c *Config) { c.ACD.DeadLetterAfter = 0 }, "acd.dead_letter_after"},
		{"dead letter vs leg ttl", func(c *Config) { c.ACD.DeadLetterAfter = c.Redis.LegTTL }, "acd.dead_letter_after"},
		{"client call timeout", func(c *Config) { c.ACD.Client.CallTimeout = 0 }, "acd.client.call_timeout"},
		{"client retries", func(c *Config) { c.CRM.Client.Retries = -1 }, "crm.client.retries"},
		{"client backoff min", func(c *Config) { c.CRM.Client.BackoffMin = 0 }, "crm.client.backoff_min"},
		{"client backoff order", func(c *Config) { c.CRM.Client.BackoffMax = Duration(time.Millisecond) }, "crm.client.backoff_max"},
		{"client breaker failures", func(c *Config) { c.CRM.Client.BreakerFailures = 0 }, "crm.client.breaker_failures"},
		{"client breaker open for", func(c *Config) { c.ACD.Client.BreakerOpenFor = 0 }, "acd.client.breaker_open_for"},
		{"client half open", func(c *Config) { c.ACD.Client.BreakerHalfOpenMax = 0 }, "acd.client.breaker_half_open_max"},
		{"pop budget", func(c *Config) { c.CRM.PopBudget = 0 }, "crm.pop_budget"},
		{"pop budget vs call timeout", func(c *Config) { c.CRM.PopBudget = Duration(time.Second) }, "crm.pop_budget"},
		{"auth token refresh", func(c *Config) { c.CRM.AuthTokenRefresh = 0 }, "crm.auth_token_refresh"},
		{"poll wait", func(c *Config) { c.CRM.PollWait = 0 }, "crm.poll_wait"},
		{"events lock ttl", func(c *Config) { c.CRM.EventsLockTTL = 0 }, "crm.events_lock_ttl"},
		{"intake every", func(c *Config) { c.CRM.IntakeEvery = 0 }, "crm.intake_every"},
		{"unknown adapter", func(c *Config) { c.CRM.Adapter = "soap" }, "crm.adapter"},
		{"webhook adapter without an api key", func(c *Config) { c.CRM.Adapter = AdapterWebhook }, "crm.sites[0].api_key"},
		{"reconciler every", func(c *Config) { c.Reconciler.Every = 0 }, "reconciler.every"},
		{"stuck after within the lease", func(c *Config) { c.Reconciler.StuckAfter = c.Pop.LeaseTTL }, "reconciler.stuck_after"},
		{"offer deadline", func(c *Config) { c.Reconciler.OfferDeadline = -1 }, "reconciler.offer_deadline"},
		{"active check", func(c *Config) { c.Reconciler.ActiveCheckEvery = 0 }, "reconciler.active_check_every"},
		{"intake remember", func(c *Config) { c.CRM.IntakeRemember = -1 }, "crm.intake_remember"},
		{"intake remember shorter than the CRM's queue wait", func(c *Config) { c.CRM.IntakeRemember = Duration(10 * time.Minute) }, "crm.intake_remember"},
		{"no sites", func(c *Config) { c.CRM.Sites = nil }, "crm.sites"},
		{"duplicate site", func(c *Config) { c.CRM.Sites = append(c.CRM.Sites, c.CRM.Sites[0]) }, "crm.sites[1].name"},
		{"site env key collision", func(c *Config) {
			s := c.CRM.Sites[0]
			s.Name = "DEMO"
			c.CRM.Sites = append(c.CRM.Sites, s)
		}, "crm.sites[1].name"},
		{"site name empty", func(c *Config) { c.CRM.Sites[0].Name = "" }, "crm.sites[0].name"},
		{"site name chars", func(c *Config) { c.CRM.Sites[0].Name = "a/b" }, "crm.sites[0].name"},
		{"site base url", func(c *Config) { c.CRM.Sites[0].BaseURL = "127.0.0.1:8081" }, "crm.sites[0].base_url"},
		{"site user", func(c *Config) { c.CRM.Sites[0].UserName = "" }, "crm.sites[0].user_name"},
		{"site password", func(c *Config) { c.CRM.Sites[0].Password = "" }, "crm.sites[0].password"},
		{"site app id", func(c *Config) { c.CRM.Sites[0].AppID = "" }, "crm.sites[0].app_id"},
		{"site no queues", func(c *Config) { c.CRM.Sites[0].Queues = nil }, "crm.sites[0].queues"},
		{"queue id empty", func(c *Config) { c.CRM.Sites[0].Queues[1].ID = "" }, "crm.sites[0].queues[1].id"},
		{"queue id duplicate", func(c *Config) { c.CRM.Sites[0].Queues[1].ID = "chat-sales" }, "crm.sites[0].queues[1].id"},
		{"queue name", func(c *Config) { c.CRM.Sites[0].Queues[0].Name = "" }, "crm.sites[0].queues[0].name"},
		{"default disposition not listed", func(c *Config) { c.CRM.Sites[0].Queues[0].DefaultDisposition = "Done" }, "crm.sites[0].queues[0].default_disposition"},
		{"default disposition without list", func(c *Config) { c.CRM.Sites[0].Queues[1].DefaultDisposition = "Done" }, "crm.sites[0].queues[1].default_disposition"},
		{"required without list", func(c *Config) { c.CRM.Sites[0].Queues[1].DispositionRequired = true }, "crm.sites[0].queues[1].dispositions"},
		{"disposition empty", func(c *Config) { c.CRM.Sites[0].Queues[0].Dispositions[1] = " " }, "crm.sites[0].queues[0].dispositions[1]"},
		{"disposition duplicate", func(c *Config) { c.CRM.Sites[0].Queues[0].Dispositions[2] = "Resolved" }, "crm.sites[0].queues[0].dispositions[2]"},
		{"wrap-up negative", func(c *Config) { c.CRM.Sites[0].Queues[1].WrapUpTimeout = -1 }, "crm.sites[0].queues[1].wrap_up_timeout"},
		{"escalation to itself", func(c *Config) { c.CRM.Sites[0].Queues[0].EscalationQueue = c.CRM.Sites[0].Queues[0].ID }, "crm.sites[0].queues[0].escalation_queue"},
		{"escalation to an unknown queue", func(c *Config) { c.CRM.Sites[0].Queues[1].EscalationQueue = "chat-nowhere" }, "crm.sites[0].queues[1].escalation_queue"},
		{"requeue budget zero", func(c *Config) { c.Reconciler.RequeueBudget = 0 }, "reconciler.requeue_budget"},
		{"wrap-up needs default disposition", func(c *Config) {
			q := &c.CRM.Sites[0].Queues[0]
			q.DefaultDisposition, q.WrapUpTimeout = "", Duration(time.Minute)
		}, "crm.sites[0].queues[0].default_disposition"},
		{"pop workers", func(c *Config) { c.Pop.Workers = 0 }, "pop.workers"},
		{"lease ttl", func(c *Config) { c.Pop.LeaseTTL = 0 }, "pop.lease_ttl"},
		{"lease ttl vs pop budget", func(c *Config) { c.Pop.LeaseTTL = c.CRM.PopBudget }, "pop.lease_ttl"},
		{"token secret missing", func(c *Config) { c.Mediabar.TokenSecret = "" }, "mediabar.token_secret"},
		{"token secret short", func(c *Config) { c.Mediabar.TokenSecret = "0123456789abcdef0123456789abcde" }, "mediabar.token_secret"},
		{"token ttl", func(c *Config) { c.Mediabar.TokenTTL = 0 }, "mediabar.token_ttl"},
		{"session ttl", func(c *Config) { c.Mediabar.SessionTTL = 0 }, "mediabar.session_ttl"},
		{"token outlives session", func(c *Config) { c.Mediabar.TokenTTL = Duration(13 * time.Hour) }, "mediabar.token_ttl"},
		{"decline next state", func(c *Config) { c.Mediabar.DeclineNextState = "away" }, "mediabar.decline_next_state"},
		{"no frame ancestors", func(c *Config) { c.Mediabar.FrameAncestors = nil }, "mediabar.frame_ancestors"},
		{"frame ancestor injects a directive", func(c *Config) { c.Mediabar.FrameAncestors = []string{"https://crm.example.com; script-src *"} }, "mediabar.frame_ancestors[0]"},
		{"frame ancestor with a path", func(c *Config) { c.Mediabar.FrameAncestors = []string{"'self'", "https://crm.example.com/console"} }, "mediabar.frame_ancestors[1]"},
		{"frame ancestor not an origin", func(c *Config) { c.Mediabar.FrameAncestors = []string{"crm.example.com"} }, "mediabar.frame_ancestors[0]"},
		{"frame ancestor unquoted keyword", func(c *Config) { c.Mediabar.FrameAncestors = []string{"self"} }, "mediabar.frame_ancestors[0]"},
		{"frame ancestor wildcard mid-host", func(c *Config) { c.Mediabar.FrameAncestors = []string{"https://crm.*.com"} }, "mediabar.frame_ancestors[0]"},
		{"frame ancestor newline", func(c *Config) { c.Mediabar.FrameAncestors = []string{"https://a.example.com\r\nX-Evil: 1"} }, "mediabar.frame_ancestors[0]"},
		{"admin token missing", func(c *Config) { c.Admin.Token = "" }, "admin.token"},
		{"admin token short", func(c *Config) { c.Admin.Token = "short" }, "admin.token"},
		{"catalog language", func(c *Config) { c.Catalog.Language = "English" }, "catalog.language"},
		{"catalog override unknown code", func(c *Config) {
			c.Catalog.Overrides = map[string]bridgeerr.Override{"NOPE": {Message: str("x")}}
		}, "catalog.overrides.NOPE"},
		{"catalog override empty message", func(c *Config) {
			c.Catalog.Overrides = map[string]bridgeerr.Override{"AGENT_ABSENT": {Message: str(" ")}}
		}, "catalog.overrides.AGENT_ABSENT.message"},
		{"catalog override success requeue", func(c *Config) {
			c.Catalog.Overrides = map[string]bridgeerr.Override{"SUCCESS": {Requeue: yes()}}
		}, "catalog.overrides.SUCCESS.requeue"},
		{"site override channel", func(c *Config) {
			ch := bridgeerr.Channel("purple")
			c.CRM.Sites[0].Overrides = map[string]bridgeerr.Override{"AGENT_ABSENT": {Channel: &ch}}
		}, "crm.sites[0].overrides.AGENT_ABSENT.channel"},
		{"site override descriptor", func(c *Config) {
			c.CRM.Sites[0].Overrides = map[string]bridgeerr.Override{"AGENT_ABSENT": {Descriptor: &bridgeerr.Descriptor{Role: "RoutedTo"}}}
		}, "crm.sites[0].overrides.AGENT_ABSENT.descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.give(&c)
			err := c.Validate()
			if findField(err, tt.wantField) == nil {
				t.Fatalf("Validate() = %v, want a FieldError on %s", err, tt.wantField)
			}
			for _, fe := range fieldErrors(err) {
				if !strings.HasPrefix(fe.Error(), "config: "+fe.Field+": ") {
					t.Errorf("Error() = %q, want it to start with the field", fe.Error())
				}
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = ""
	c.Pop.Workers = 0
	c.CRM.Sites[0].Queues[0].DefaultDisposition = "Done"
	err := c.Validate()
	var got []string
	for _, fe := range fieldErrors(err) {
		got = append(got, fe.Field)
	}
	want := []string{"listen", "crm.sites[0].queues[0].default_disposition", "pop.workers"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Validate() fields = %q, want %q", got, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("errors.As(Validate(), *FieldError) = false")
	}
}

func TestValidateAcceptsValidVariants(t *testing.T) {
	tests := []struct {
		name string
		give func(c *Config)
	}{
		{"two webhook secrets, one without prefix", func(c *Config) {
			c.ACD.WebhookSecrets = append(c.ACD.WebhookSecrets, "MDEyMzQ1Njc4OWFiY2RlZg==")
		}},
		{"redis sentinel", func(c *Config) {
			c.Redis.URL, c.Redis.Addrs, c.Redis.MasterName = "", []string{"s1:26379", "s2:26379"}, "mymaster"
		}},
		{"redis tls url", func(c *Config) { c.Redis.URL = "rediss://user:pw@redis.example.com:6380/2" }},
		{"redis unix socket", func(c *Config) { c.Redis.URL = "unix:///run/redis.sock" }},
		{"same port on different hosts", func(c *Config) { c.Listen, c.OpsListen = "10.0.0.1:8080", "127.0.0.1:8080" }},
		{"random ports", func(c *Config) { c.Listen, c.OpsListen = ":0", ":0" }},
		{"wrap-up with default disposition", func(c *Config) { c.CRM.Sites[0].Queues[0].WrapUpTimeout = Duration(time.Minute) }},
		{"decline ready", func(c *Config) { c.Mediabar.DeclineNextState = "ready" }},
		{"frame ancestors of every kind", func(c *Config) {
			c.Mediabar.FrameAncestors = []string{"'self'", "https://crm.example.com", "https://*.custhelp.com", "http://localhost:*", "https://crm.example.com:8443", "https:"}
		}},
		{"frame anywhere", func(c *Config) { c.Mediabar.FrameAncestors = []string{"*"} }},
		{"escalation to another queue", func(c *Config) { c.CRM.Sites[0].Queues[0].EscalationQueue = c.CRM.Sites[0].Queues[1].ID }},
		{"language region", func(c *Config) { c.Catalog.Language = "pt-BR" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.give(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

// The webhook adapter needs an API key and none of the oracle adapter's credentials.
func TestWebhookAdapterSiteCredentials(t *testing.T) {
	c := Default()
	c.CRM.Adapter = AdapterWebhook
	c.CRM.Sites[0].UserName, c.CRM.Sites[0].Password, c.CRM.Sites[0].AppID = "", "", ""
	c.CRM.Sites[0].APIKey = "a-webhook-crm-key"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
}
