// Package config holds the bridge's configuration: the types, the built-in defaults, Load
// (one YAML file, then environment overrides, then Validate) and validation errors that name
// the field at fault. Nothing else in the program reads the environment: cmd passes getenv
// in.
//
// Secrets are of type Secret and print as "[redacted]" however the config is printed or
// marshalled. Durations are Go duration strings ("10s") in YAML and JSON.
//
// Default() carries dev-only secrets so that `mediabar-bridge demo` runs with no file at
// all. Load keeps them when neither the file nor the environment replaces them; serve must
// call DemoSecrets and refuse to start while any remain, unless the operator explicitly
// allows it. See example.yaml for every field, and EnvVars for the environment overrides.
package config

import (
	"log/slog"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Config is the whole configuration. YAML keys are snake_case, as in the tags.
type Config struct {
	// Listen is the public address: ACD webhooks, media bar, admin API.
	Listen string `yaml:"listen" json:"listen"`
	// OpsListen is the operators' address: /livez /readyz /metrics /version.
	OpsListen string `yaml:"ops_listen" json:"ops_listen"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level" json:"log_level"`
	Redis    Redis  `yaml:"redis" json:"redis"`
	ACD      ACD    `yaml:"acd" json:"acd"`
	CRM      CRM    `yaml:"crm" json:"crm"`
	Pop      Pop    `yaml:"pop" json:"pop"`
	// Reconciler resolves legs stuck past their deadline (one replica at a time).
	Reconciler Reconciler `yaml:"reconciler" json:"reconciler"`
	Mediabar   Mediabar   `yaml:"mediabar" json:"mediabar"`
	Admin      Admin      `yaml:"admin" json:"admin"`
	Catalog    Catalog    `yaml:"catalog" json:"catalog"`
	Runtime    Runtime    `yaml:"runtime" json:"runtime"`
}

// Runtime tunes the Go runtime of a replica.
type Runtime struct {
	// GCMinHeapMiB floors the garbage collector's heap goal (MiB; 0 = Go's own GOGC alone):
	// while the live heap is small the collector runs far less often, which keeps the slowest
	// pops fast, for at most this much more memory. Capped at half of GOMEMLIMIT when set.
	GCMinHeapMiB int `yaml:"gc_min_heap_mib" json:"gc_min_heap_mib"`
}

// Redis is where all shared state lives. Either URL (standalone) or Addrs (Sentinel when
// MasterName is set, Cluster when several addresses are given without it), not both.
// Username, Password and DB apply to Addrs; with URL they override what the URL carries
// when set.
type Redis struct {
	URL        string   `yaml:"url" json:"url"`
	Addrs      []string `yaml:"addrs" json:"addrs"`
	MasterName string   `yaml:"master_name" json:"master_name"`
	Username   string   `yaml:"username" json:"username"`
	Password   Secret   `yaml:"password" json:"password"`
	DB         int      `yaml:"db" json:"db"`
	// KeyPrefix namespaces and versions every key ("mbb:v1").
	KeyPrefix string `yaml:"key_prefix" json:"key_prefix"`
	// LegTTL is how long an interaction leg's records live after their last write.
	LegTTL Duration `yaml:"leg_ttl" json:"leg_ttl"`
	// StreamMaxLen caps each event stream (approximate trim).
	StreamMaxLen int64 `yaml:"stream_max_len" json:"stream_max_len"`
	// StreamTTL expires an idle event stream.
	StreamTTL Duration `yaml:"stream_ttl" json:"stream_ttl"`
	// ReclaimIdle: pending work idle this long is taken over by another replica.
	ReclaimIdle Duration `yaml:"reclaim_idle" json:"reclaim_idle"`
}

// ACD is the router: its webhooks in, its API out.
type ACD struct {
	BaseURL string `yaml:"base_url" json:"base_url"`
	// WebhookSecrets verify webhook signatures: one, or two while rotating. Standard
	// Webhooks form: optional "whsec_" prefix, then base64 of at least 16 bytes.
	WebhookSecrets []Secret `yaml:"webhook_secrets" json:"webhook_secrets"`
	// WebhookTolerance is the replay window around a webhook's timestamp.
	WebhookTolerance Duration `yaml:"webhook_tolerance" json:"webhook_tolerance"`
	// DedupeTTL remembers webhook ids; it must exceed the ACD's retry horizon.
	DedupeTTL Duration `yaml:"dedupe_ttl" json:"dedupe_ttl"`
	// MaxBodyBytes caps a webhook body.
	MaxBodyBytes int64  `yaml:"max_body_bytes" json:"max_body_bytes"`
	Client       Client `yaml:"client" json:"client"`
	// ReadyOnGreen sets the agent ready in the ACD again when the CRM side turns green.
	ReadyOnGreen bool `yaml:"ready_on_green" json:"ready_on_green"`
	// NotReadyReason is sent with "not ready" when the CRM side turns red.
	NotReadyReason string `yaml:"not_ready_reason" json:"not_ready_reason"`
	// DeadLetterAfter: an ACD call still failing after this long is dead-lettered (kept,
	// counted and alerted on), no longer retried.
	DeadLetterAfter Duration `yaml:"dead_letter_after" json:"dead_letter_after"`
}

// Client is the resilient HTTP client policy for one upstream.
type Client struct {
	// CallTimeout bounds one attempt.
	CallTimeout Duration `yaml:"call_timeout" json:"call_timeout"`
	// Retries after the first attempt, for idempotent calls and transient failures only.
	Retries    int      `yaml:"retries" json:"retries"`
	BackoffMin Duration `yaml:"backoff_min" json:"backoff_min"`
	BackoffMax Duration `yaml:"backoff_max" json:"backoff_max"`
	// BreakerFailures consecutive failures open the breaker.
	BreakerFailures uint32 `yaml:"breaker_failures" json:"breaker_failures"`
	// BreakerOpenFor is how long it stays open before letting probes through.
	BreakerOpenFor Duration `yaml:"breaker_open_for" json:"breaker_open_for"`
	// BreakerHalfOpenMax probes are let through while half open.
	BreakerHalfOpenMax uint32 `yaml:"breaker_half_open_max" json:"breaker_half_open_max"`
}

// CRM is the CRM chat server: the client policy shared by all sites, and the sites.
type CRM struct {
	// Adapter is the CRM's wire protocol: "oracle" (the Oracle B2C Service style JSON
	// routing API, with user_name/password sessions) or "webhook" (the generic webhook CRM
	// protocol, with a bearer api_key).
	Adapter string `yaml:"adapter" json:"adapter"`
	Client  Client `yaml:"client" json:"client"`
	// PopBudget bounds a whole pop, retries included.
	PopBudget Duration `yaml:"pop_budget" json:"pop_budget"`
	// AuthTokenRefresh: re-authenticate this long before the CRM session token expires.
	AuthTokenRefresh Duration `yaml:"auth_token_refresh" json:"auth_token_refresh"`
	// PollWait is the long-poll wait asked of the CRM's event feed (the CRM caps it at 30s);
	// the poll call's own timeout is PollWait plus Client.CallTimeout.
	PollWait Duration `yaml:"poll_wait" json:"poll_wait"`
	// EventsLockTTL: one replica consumes a site's events, holding a lock renewed every third
	// of this; if that replica dies another takes over within it.
	EventsLockTTL Duration `yaml:"events_lock_ttl" json:"events_lock_ttl"`
	// IntakeEvery is how often the intake queues (queues with intake: true) are polled.
	IntakeEvery Duration `yaml:"intake_every" json:"intake_every"`
	// IntakeRemember is how long a chat handed to the ACD is remembered so that it is never
	// created twice; keep it above the CRM's wait-queue timeout (1800 s by default).
	IntakeRemember Duration `yaml:"intake_remember" json:"intake_remember"`
	Sites          []Site   `yaml:"sites" json:"sites"`
}

// Site is one CRM site (interface).
type Site struct {
	// Name is the CRM site name, as sent in the CRM's URLs.
	Name     string `yaml:"name" json:"name"`
	BaseURL  string `yaml:"base_url" json:"base_url"`
	UserName string `yaml:"user_name" json:"user_name"`
	Password Secret `yaml:"password" json:"password"`
	AppID    string `yaml:"app_id" json:"app_id"`
	// APIKey is the bearer key of the webhook adapter (user_name, password and app_id are
	// the oracle adapter's).
	APIKey Secret `yaml:"api_key" json:"api_key"`
	// AutoAccept: a popped chat is active at once, no Accept button.
	AutoAccept bool `yaml:"auto_accept" json:"auto_accept"`
	// AllowDecline shows Decline on an offer.
	AllowDecline bool    `yaml:"allow_decline" json:"allow_decline"`
	Queues       []Queue `yaml:"queues" json:"queues"`
	// Overrides change catalog rows for this site only, on top of Catalog.Overrides.
	Overrides map[string]bridgeerr.Override `yaml:"overrides" json:"overrides,omitempty"`
}

// Queue is one external CRM chat queue the bridge routes for.
type Queue struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// DispositionRequired: Complete is refused until a disposition is chosen.
	DispositionRequired bool     `yaml:"disposition_required" json:"disposition_required"`
	Dispositions        []string `yaml:"dispositions" json:"dispositions"`
	// DefaultDisposition is offered as the default (not preselected: the agent chooses) and
	// used by the wrap-up timeout.
	DefaultDisposition string `yaml:"default_disposition" json:"default_disposition"`
	// WrapUpTimeout completes an interaction left in wrap-up this long; 0 = off.
	WrapUpTimeout Duration `yaml:"wrap_up_timeout" json:"wrap_up_timeout"`
	// Intake: the bridge creates ACD interactions for new chats waiting in this queue.
	Intake bool `yaml:"intake" json:"intake"`
	// EscalationQueue is another queue of the site that gets an interaction that keeps
	// bouncing (reconciler.requeue_budget spent, or the same agent turned it down twice);
	// empty: it stays in this queue and operators are alerted.
	EscalationQueue string `yaml:"escalation_queue" json:"escalation_queue"`
}

// Pop is the pop worker pool.
type Pop struct {
	// Workers is how many pops a replica runs at once: each worker holds one pop, CRM call
	// included, so at a ~100 ms CRM answer a replica pops about Workers × 10 chats a second.
	Workers int `yaml:"workers" json:"workers"`
	// Inline is how many pops a replica may run at once in the wake of the webhook that
	// routed them, on top of its workers: the replica that records a routing pops it itself,
	// without a worker's wake-up and a lease round trip (0 = every pop goes to the workers).
	// Inline pops are the cheaper path, so the default (64) leaves the workers the overflow
	// and the takeovers only: at a ~100 ms CRM answer it carries ~640 pops a second per
	// replica, more than 2 cores pop, and it still bounds a burst of webhooks.
	Inline int `yaml:"inline" json:"inline"`
	// LeaseTTL is how long a replica owns a pop; it must exceed CRM.PopBudget so that no
	// other replica takes over a pop still in flight.
	LeaseTTL Duration `yaml:"lease_ttl" json:"lease_ttl"`
}

// Reconciler finds legs that sat in a non-terminal state past their deadline and resolves
// them from the CRM's state.
type Reconciler struct {
	// Every is how often it looks.
	Every Duration `yaml:"every" json:"every"`
	// StuckAfter: a leg still routed or popping this long has lost its pop and is queued
	// again. It must exceed pop.lease_ttl.
	StuckAfter Duration `yaml:"stuck_after" json:"stuck_after"`
	// OfferDeadline: an offer with no CRM answer this long is checked against the CRM (whose
	// own offer timeout is 60s).
	OfferDeadline Duration `yaml:"offer_deadline" json:"offer_deadline"`
	// ActiveCheckEvery: how often an active chat is checked against the CRM, in case its end
	// was missed.
	ActiveCheckEvery Duration `yaml:"active_check_every" json:"active_check_every"`
	// RequeueBudget is how many times one interaction may be requeued to its queue; the
	// requeue that reaches it goes to the queue's escalation_queue instead. The same agent
	// turning a chat down twice escalates it at once.
	RequeueBudget int `yaml:"requeue_budget" json:"requeue_budget"`
}

// Mediabar is the agent-facing API.
type Mediabar struct {
	// TokenSecret signs agent tokens; at least 32 bytes.
	TokenSecret Secret   `yaml:"token_secret" json:"token_secret"`
	TokenTTL    Duration `yaml:"token_ttl" json:"token_ttl"`
	SessionTTL  Duration `yaml:"session_ttl" json:"session_ttl"`
	// DeclineNextState is the agent's ACD state after a decline: not_ready or ready.
	DeclineNextState string `yaml:"decline_next_state" json:"decline_next_state"`
	// FrameAncestors lists who may embed the reference media bar (/mediabar/) in a frame:
	// CSP frame-ancestors sources such as 'self', https://crm.example.com or
	// https://*.custhelp.com. Add the CRM console's origin; "*" lets any site frame it
	// (and click on it), so keep it off the public internet.
	FrameAncestors []string `yaml:"frame_ancestors" json:"frame_ancestors"`
}

// Admin is the admin API (timelines, outcome export).
type Admin struct {
	// Token is the bearer token for the admin routes; at least 16 bytes.
	Token Secret `yaml:"token" json:"token"`
}

// Catalog adjusts the result-code catalog for this deployment.
type Catalog struct {
	// Language of the built-in messages; overrides supply other wording.
	Language  string                        `yaml:"language" json:"language"`
	Overrides map[string]bridgeerr.Override `yaml:"overrides" json:"overrides,omitempty"`
}

// Site returns the site with that name.
func (c Config) Site(name string) (Site, bool) {
	for _, s := range c.CRM.Sites {
		if s.Name == name {
			return s, true
		}
	}
	return Site{}, false
}

// Queue returns the site's queue with that id.
func (s Site) Queue(id string) (Queue, bool) {
	for _, q := range s.Queues {
		if q.ID == id {
			return q, true
		}
	}
	return Queue{}, false
}

// SlogLevel is LogLevel as a slog.Level (info when unrecognised; Validate refuses those).
func (c Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// WebhookKeys decodes WebhookSecrets into HMAC keys (see Validate for the format).
func (a ACD) WebhookKeys() ([][]byte, error) {
	keys := make([][]byte, 0, len(a.WebhookSecrets))
	for i, s := range a.WebhookSecrets {
		k, err := webhookKey(s)
		if err != nil {
			return nil, &FieldError{Field: indexed("acd.webhook_secrets", i), Reason: err.Error()}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Catalogs builds the effective catalogs: the default rows with Catalog.Overrides applied,
// and per site that catalog with the site's Overrides applied on top. Validate reports the
// same errors as *FieldError; here they come back as the *bridgeerr.OverrideError.
func (c Config) Catalogs() (*bridgeerr.Catalog, map[string]*bridgeerr.Catalog, error) {
	global, err := bridgeerr.Default().WithOverrides(c.Catalog.Overrides)
	if err != nil {
		return nil, nil, err
	}
	sites := make(map[string]*bridgeerr.Catalog, len(c.CRM.Sites))
	for _, s := range c.CRM.Sites {
		cat, err := global.WithOverrides(s.Overrides)
		if err != nil {
			return nil, nil, err
		}
		sites[s.Name] = cat
	}
	return global, sites, nil
}
