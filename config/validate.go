package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// FieldError is one problem with one field. Field is the YAML path
// ("crm.sites[0].queues[1].default_disposition"). Load fills Line when the field came from
// the file, or Env when an environment variable set it.
type FieldError struct {
	Field  string
	Reason string
	Line   int    // line in the config file, 0 when unknown
	Env    string // environment variable that set the field, "" when none
}

func (e *FieldError) Error() string {
	msg := "config: " + e.Field + ": " + e.Reason
	switch {
	case e.Env != "":
		msg += " (set by " + e.Env + ")"
	case e.Line > 0:
		msg += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return msg
}

// siteNamePattern keeps site names safe in CRM URLs and environment variable names.
var siteNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// languagePattern is a BCP 47 shape check ("en", "pt-BR"), not a registry lookup.
var languagePattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

// Validate checks the whole config and returns every problem found, joined
// (errors.Join), each a *FieldError. It returns nil when the config is usable.
// maxGCMinHeapMiB bounds runtime.gc_min_heap_mib (64 GiB): a larger floor is a typo.
const maxGCMinHeapMiB = 64 << 10

func (c Config) Validate() error {
	v := &validator{}
	v.listen("listen", c.Listen)
	v.listen("ops_listen", c.OpsListen)
	if samePort(c.Listen, c.OpsListen) {
		v.add("ops_listen", "must differ from listen (%q)", c.Listen)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.add("log_level", "must be one of debug, info, warn, error, got %q", c.LogLevel)
	}
	v.redis(c.Redis)
	v.acd(c.ACD)
	v.crm(c.CRM)
	v.positive("reconciler.every", c.Reconciler.Every)
	v.positive("reconciler.stuck_after", c.Reconciler.StuckAfter)
	v.positive("reconciler.offer_deadline", c.Reconciler.OfferDeadline)
	v.positive("reconciler.active_check_every", c.Reconciler.ActiveCheckEvery)
	v.positiveInt("reconciler.requeue_budget", int64(c.Reconciler.RequeueBudget))
	if c.Reconciler.StuckAfter > 0 && c.Pop.LeaseTTL > 0 && c.Reconciler.StuckAfter <= c.Pop.LeaseTTL {
		v.add("reconciler.stuck_after", "must exceed pop.lease_ttl (%s), or a pop still in flight would be queued again", c.Pop.LeaseTTL)
	}
	v.positiveInt("pop.workers", int64(c.Pop.Workers))
	if c.Pop.Inline < 0 {
		v.add("pop.inline", "must be 0 (off) or more, got %d", c.Pop.Inline)
	}
	v.positive("pop.lease_ttl", c.Pop.LeaseTTL)
	if c.Runtime.GCMinHeapMiB < 0 || c.Runtime.GCMinHeapMiB > maxGCMinHeapMiB {
		v.add("runtime.gc_min_heap_mib", "must be 0 (off) to %d, got %d", maxGCMinHeapMiB, c.Runtime.GCMinHeapMiB)
	}
	if c.Pop.LeaseTTL > 0 && c.CRM.PopBudget > 0 && c.Pop.LeaseTTL <= c.CRM.PopBudget {
		v.add("pop.lease_ttl", "must exceed crm.pop_budget (%s), or a second replica could take over a pop in flight", c.CRM.PopBudget)
	}
	if c.ACD.DeadLetterAfter > 0 && c.Redis.LegTTL > 0 && c.ACD.DeadLetterAfter >= c.Redis.LegTTL {
		v.add("acd.dead_letter_after", "must be less than redis.leg_ttl (%s), or a leg expires while its ACD call is pending", c.Redis.LegTTL)
	}
	v.mediabar(c.Mediabar)
	switch n := len(c.Admin.Token.Value()); {
	case n == 0:
		v.add("admin.token", "is required")
	case n < minAdminTokenLen:
		v.add("admin.token", "must be at least %d bytes, got %d", minAdminTokenLen, n)
	}
	if !languagePattern.MatchString(c.Catalog.Language) {
		v.add("catalog.language", "must be a language tag such as \"en\", got %q", c.Catalog.Language)
	}
	v.catalogs(c)
	return errors.Join(v.errs...)
}

type validator struct {
	errs []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (v *validator) listen(field, addr string) {
	if addr == "" {
		v.add(field, "is required (host:port, e.g. \":8080\")")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(field, "must be host:port (e.g. \":8080\"), got %q", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(field, "port must be a number 0-65535, got %q", port)
	}
}

// samePort reports whether two listen addresses would collide (same port on the same or an
// unspecified host). Port 0 picks a free port, so it never collides.
func samePort(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

func (v *validator) positive(field string, d Duration) {
	if d <= 0 {
		v.add(field, "must be a positive duration, got %s", d)
	}
}

func (v *validator) positiveInt(field string, n int64) {
	if n <= 0 {
		v.add(field, "must be positive, got %d", n)
	}
}

func (v *validator) httpURL(field, raw string) {
	if raw == "" {
		v.add(field, "is required (absolute http or https URL)")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, "must be an absolute http or https URL, got %q", raw)
	}
}

func (v *validator) redis(r Redis) {
	switch {
	case r.URL != "" && len(r.Addrs) > 0:
		v.add("redis.url", "set url or addrs, not both")
	case r.URL != "":
		u, err := url.Parse(r.URL)
		switch {
		case err != nil:
			v.add("redis.url", "must be a redis://, rediss:// or unix:// URL")
		case u.Scheme == "redis" || u.Scheme == "rediss":
			if u.Host == "" {
				v.add("redis.url", "must name a host (redis://host:port/db)")
			}
		case u.Scheme == "unix":
			if u.Path == "" {
				v.add("redis.url", "must name a socket path (unix:///path/to/redis.sock)")
			}
		default:
			v.add("redis.url", "must be a redis://, rediss:// or unix:// URL, got scheme %q", u.Scheme)
		}
	case len(r.Addrs) > 0:
		for i, a := range r.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				v.add(indexed("redis.addrs", i), "must be host:port, got %q", a)
			}
		}
	default:
		v.add("redis.url", "set redis.url or redis.addrs")
	}
	if r.DB < 0 {
		v.add("redis.db", "must not be negative, got %d", r.DB)
	}
	if r.KeyPrefix == "" {
		v.add("redis.key_prefix", "is required (e.g. \"mbb:v1\")")
	}
	v.positive("redis.leg_ttl", r.LegTTL)
	v.positiveInt("redis.stream_max_len", r.StreamMaxLen)
	v.positive("redis.stream_ttl", r.StreamTTL)
	v.positive("redis.reclaim_idle", r.ReclaimIdle)
}

func (v *validator) acd(a ACD) {
	v.httpURL("acd.base_url", a.BaseURL)
	switch n := len(a.WebhookSecrets); {
	case n == 0:
		v.add("acd.webhook_secrets", "at least one secret is required")
	case n > 2:
		v.add("acd.webhook_secrets", "at most two secrets (current and next, while rotating), got %d", n)
	}
	for i, s := range a.WebhookSecrets {
		if _, err := webhookKey(s); err != nil {
			v.add(indexed("acd.webhook_secrets", i), "%s", err.Error())
		}
	}
	v.positive("acd.webhook_tolerance", a.WebhookTolerance)
	v.positive("acd.dedupe_ttl", a.DedupeTTL)
	if a.DedupeTTL > 0 && a.DedupeTTL <= a.WebhookTolerance {
		v.add("acd.dedupe_ttl", "must exceed acd.webhook_tolerance (%s), or a replay inside the window is accepted twice", a.WebhookTolerance)
	}
	v.positiveInt("acd.max_body_bytes", a.MaxBodyBytes)
	v.client("acd.client", a.Client)
	if a.NotReadyReason == "" {
		v.add("acd.not_ready_reason", "is required (e.g. \"crm_red\")")
	}
	v.positive("acd.dead_letter_after", a.DeadLetterAfter)
}

func (v *validator) client(prefix string, c Client) {
	v.positive(prefix+".call_timeout", c.CallTimeout)
	if c.Retries < 0 {
		v.add(prefix+".retries", "must not be negative, got %d", c.Retries)
	}
	v.positive(prefix+".backoff_min", c.BackoffMin)
	v.positive(prefix+".backoff_max", c.BackoffMax)
	if c.BackoffMin > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffMin {
		v.add(prefix+".backoff_max", "must be at least backoff_min (%s), got %s", c.BackoffMin, c.BackoffMax)
	}
	v.positiveInt(prefix+".breaker_failures", int64(c.BreakerFailures))
	v.positive(prefix+".breaker_open_for", c.BreakerOpenFor)
	v.positiveInt(prefix+".breaker_half_open_max", int64(c.BreakerHalfOpenMax))
}

// CRM adapters.
const (
	AdapterOracle  = "oracle"
	AdapterWebhook = "webhook"
)

// minIntakeRemember is the CRM's default wait-queue timeout (USER_WAIT_QUEUE_TIMEOUT).
const minIntakeRemember = 30 * time.Minute

func (v *validator) crm(c CRM) {
	if c.Adapter != AdapterOracle && c.Adapter != AdapterWebhook {
		v.add("crm.adapter", "must be %q or %q, got %q", AdapterOracle, AdapterWebhook, c.Adapter)
	}
	v.client("crm.client", c.Client)
	v.positive("crm.pop_budget", c.PopBudget)
	if c.PopBudget > 0 && c.Client.CallTimeout > 0 && c.PopBudget < c.Client.CallTimeout {
		v.add("crm.pop_budget", "must be at least crm.client.call_timeout (%s), or no attempt can finish", c.Client.CallTimeout)
	}
	v.positive("crm.auth_token_refresh", c.AuthTokenRefresh)
	v.positive("crm.poll_wait", c.PollWait)
	v.positive("crm.events_lock_ttl", c.EventsLockTTL)
	v.positive("crm.intake_every", c.IntakeEvery)
	v.positive("crm.intake_remember", c.IntakeRemember)
	if c.IntakeRemember > 0 && time.Duration(c.IntakeRemember) < minIntakeRemember {
		v.add("crm.intake_remember", "must be at least %s: a chat can wait that long in the CRM (its default wait-queue timeout), and intake must not forget it meanwhile", minIntakeRemember)
	}
	if len(c.Sites) == 0 {
		v.add("crm.sites", "at least one site is required")
	}
	names := map[string]int{}
	envKeys := map[string]int{}
	for i, s := range c.Sites {
		p := indexed("crm.sites", i)
		if s.Name != "" {
			if j, dup := names[s.Name]; dup {
				v.add(p+".name", "duplicate site name %q (also crm.sites[%d])", s.Name, j)
			} else if j, dup := envKeys[siteEnvKey(s.Name)]; dup {
				v.add(p+".name", "site name %q maps to the same environment variables (MBB_CRM_%s_*) as crm.sites[%d]", s.Name, siteEnvKey(s.Name), j)
			}
			names[s.Name] = i
			envKeys[siteEnvKey(s.Name)] = i
		}
		v.site(p, s, c.Adapter)
	}
}

func (v *validator) site(p string, s Site, adapter string) {
	switch {
	case s.Name == "":
		v.add(p+".name", "is required")
	case !siteNamePattern.MatchString(s.Name):
		v.add(p+".name", "must be letters, digits, '_', '-' or '.', got %q", s.Name)
	}
	v.httpURL(p+".base_url", s.BaseURL)
	switch adapter {
	case AdapterOracle:
		if s.UserName == "" {
			v.add(p+".user_name", "is required with crm.adapter %s", adapter)
		}
		if !s.Password.IsSet() {
			v.add(p+".password", "is required with crm.adapter %s", adapter)
		}
		if s.AppID == "" {
			v.add(p+".app_id", "is required with crm.adapter %s", adapter)
		}
	case AdapterWebhook:
		if !s.APIKey.IsSet() {
			v.add(p+".api_key", "is required with crm.adapter %s", adapter)
		}
	}
	if len(s.Queues) == 0 {
		v.add(p+".queues", "at least one queue is required")
	}
	ids := map[string]int{}
	for i, q := range s.Queues {
		qp := indexed(p+".queues", i)
		if q.ID != "" {
			if j, dup := ids[q.ID]; dup {
				v.add(qp+".id", "duplicate queue id %q (also %s)", q.ID, indexed(p+".queues", j))
			}
			ids[q.ID] = i
		}
		v.queue(qp, q)
	}
	for i, q := range s.Queues {
		switch _, known := ids[q.EscalationQueue]; {
		case q.EscalationQueue == "":
		case q.EscalationQueue == q.ID:
			v.add(indexed(p+".queues", i)+".escalation_queue", "must be another queue, not %q itself", q.ID)
		case !known:
			v.add(indexed(p+".queues", i)+".escalation_queue", "%q is not a queue of this site (the bridge pops escalated chats from it like any other)", q.EscalationQueue)
		}
	}
}

func (v *validator) queue(p string, q Queue) {
	if q.ID == "" {
		v.add(p+".id", "is required")
	}
	if q.Name == "" {
		v.add(p+".name", "is required")
	}
	seen := map[string]int{}
	for i, d := range q.Dispositions {
		dp := indexed(p+".dispositions", i)
		if strings.TrimSpace(d) == "" {
			v.add(dp, "must not be empty")
			continue
		}
		if j, dup := seen[d]; dup {
			v.add(dp, "duplicate disposition %q (also dispositions[%d])", d, j)
		}
		seen[d] = i
	}
	if q.DispositionRequired && len(q.Dispositions) == 0 {
		v.add(p+".dispositions", "must not be empty when disposition_required is true")
	}
	if q.DefaultDisposition != "" {
		if _, ok := seen[q.DefaultDisposition]; !ok {
			v.add(p+".default_disposition", "%q is not in dispositions %q", q.DefaultDisposition, q.Dispositions)
		}
	}
	if q.WrapUpTimeout < 0 {
		v.add(p+".wrap_up_timeout", "must not be negative (0 = off), got %s", q.WrapUpTimeout)
	}
	if q.WrapUpTimeout > 0 && q.DispositionRequired && q.DefaultDisposition == "" {
		v.add(p+".default_disposition", "is required when wrap_up_timeout is set and disposition_required is true: the timeout completes with it")
	}
}

func (v *validator) mediabar(m Mediabar) {
	switch n := len(m.TokenSecret.Value()); {
	case n == 0:
		v.add("mediabar.token_secret", "is required")
	case n < minTokenSecretLen:
		v.add("mediabar.token_secret", "must be at least %d bytes, got %d", minTokenSecretLen, n)
	}
	v.positive("mediabar.token_ttl", m.TokenTTL)
	v.positive("mediabar.session_ttl", m.SessionTTL)
	if m.TokenTTL > 0 && m.SessionTTL > 0 && m.TokenTTL > m.SessionTTL {
		v.add("mediabar.token_ttl", "must not exceed mediabar.session_ttl (%s)", m.SessionTTL)
	}
	switch m.DeclineNextState {
	case "not_ready", "ready":
	default:
		v.add("mediabar.decline_next_state", "must be not_ready or ready, got %q", m.DeclineNextState)
	}
	if len(m.FrameAncestors) == 0 {
		v.add("mediabar.frame_ancestors", "must list at least one source ('self' allows only the bridge's own pages, 'none' no frame at all)")
	}
	for i, src := range m.FrameAncestors {
		if reason := frameAncestorProblem(src); reason != "" {
			v.add(indexed("mediabar.frame_ancestors", i), "%q: %s", src, reason)
		}
	}
}

// frameAncestorProblem checks one CSP frame-ancestors source: a keyword, a scheme
// ("https:"), "*", or a host source (scheme://host[:port], host may start with "*."). It goes
// into a response header verbatim, so anything else (spaces, ';', ',', quotes, control
// characters, a path) is refused rather than allowed to rewrite the policy.
func frameAncestorProblem(src string) string {
	switch src {
	case "'self'", "'none'", "*", "https:", "http:":
		return ""
	case "":
		return "empty"
	}
	// CSP allows any port as ":*"; url.Parse does not.
	u, err := url.Parse(strings.TrimSuffix(src, ":*"))
	switch {
	case strings.ContainsAny(src, " \t;,'\"\\") || strings.IndexFunc(src, func(r rune) bool { return r < 0x21 || r == 0x7f }) >= 0:
		return "not a CSP source: no spaces, quotes, ';' or ','"
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return "want 'self', 'none', *, https: or an origin such as https://crm.example.com"
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "an origin only: no path, query or credentials"
	}
	host := strings.TrimPrefix(u.Hostname(), "*.")
	if host == "" || strings.Contains(host, "*") {
		return "a wildcard may only start the host (*.example.com)"
	}
	return ""
}

// catalogs applies the overrides the way the program will, so that a bad override fails at
// start with the code and field named. A site's overrides are checked on top of the global
// ones (or the defaults, when the global ones are already wrong).
func (v *validator) catalogs(c Config) {
	base := bridgeerr.Default()
	global, err := base.WithOverrides(c.Catalog.Overrides)
	if err != nil {
		v.override("catalog.overrides", err)
		global = base
	}
	for i, s := range c.CRM.Sites {
		if _, err := global.WithOverrides(s.Overrides); err != nil {
			v.override(indexed("crm.sites", i)+".overrides", err)
		}
	}
}

func (v *validator) override(prefix string, err error) {
	var oe *bridgeerr.OverrideError
	if !errors.As(err, &oe) {
		v.add(prefix, "%s", err.Error())
		return
	}
	field := prefix + "." + oe.Code
	if oe.Field != "code" {
		field += "." + oe.Field
	}
	v.add(field, "%s", oe.Reason)
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
