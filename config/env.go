package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Environment overrides, applied after the file and before Validate. An empty value counts
// as unset. Secrets are best passed this way (Kubernetes Secrets → env).
//
//	Variable                    Field                      Notes
//	REDIS_URL                   redis.url                  also clears redis.addrs
//	MBB_LISTEN                  listen
//	MBB_OPS_LISTEN              ops_listen
//	MBB_LOG_LEVEL               log_level                  debug|info|warn|error
//	MBB_REDIS_PASSWORD          redis.password             secret
//	MBB_REDIS_KEY_PREFIX        redis.key_prefix
//	MBB_ACD_BASE_URL            acd.base_url
//	MBB_ACD_WEBHOOK_SECRETS     acd.webhook_secrets        secret; comma-separated, 1 or 2
//	MBB_MEDIABAR_TOKEN_SECRET   mediabar.token_secret      secret
//	MBB_ADMIN_TOKEN             admin.token                secret
//	MBB_POP_WORKERS             pop.workers                integer
//	MBB_CRM_<SITE>_BASE_URL     crm.sites[].base_url       per configured site
//	MBB_CRM_<SITE>_PASSWORD     crm.sites[].password       secret; per configured site
//	MBB_CRM_<SITE>_API_KEY      crm.sites[].api_key        secret; per configured site
//
// <SITE> is the site name upper-cased with every character other than A-Z and 0-9 replaced
// by "_" (site "eu-west.1" → MBB_CRM_EU_WEST_1_PASSWORD). Only sites present in the config
// are looked up; an env var cannot add a site.

// EnvVar documents one environment override.
type EnvVar struct {
	Name   string // e.g. "MBB_POP_WORKERS"; per-site names contain "<SITE>"
	Field  string // the config field it sets, as Validate names it
	Secret bool   // its value is never printed
	Doc    string
}

// EnvError is an environment variable whose value cannot be used as is.
type EnvError struct {
	Var    string
	Reason string
}

func (e *EnvError) Error() string { return "config: env " + e.Var + ": " + e.Reason }

// envOverride is one global override: its documentation and how it applies.
type envOverride struct {
	EnvVar
	apply func(c *Config, value string) error
}

var envOverrides = []envOverride{
	{EnvVar{"REDIS_URL", "redis.url", false, "Redis URL (redis://, rediss:// or unix://); replaces redis.addrs"},
		func(c *Config, v string) error { c.Redis.URL, c.Redis.Addrs = v, nil; return nil }},
	{EnvVar{"MBB_LISTEN", "listen", false, "public listen address (webhooks, media bar, admin)"},
		func(c *Config, v string) error { c.Listen = v; return nil }},
	{EnvVar{"MBB_OPS_LISTEN", "ops_listen", false, "ops listen address (/livez /readyz /metrics /version)"},
		func(c *Config, v string) error { c.OpsListen = v; return nil }},
	{EnvVar{"MBB_LOG_LEVEL", "log_level", false, "debug, info, warn or error"},
		func(c *Config, v string) error { c.LogLevel = strings.ToLower(v); return nil }},
	{EnvVar{"MBB_REDIS_PASSWORD", "redis.password", true, "Redis password"},
		func(c *Config, v string) error { c.Redis.Password = Secret(v); return nil }},
	{EnvVar{"MBB_REDIS_KEY_PREFIX", "redis.key_prefix", false, "namespace and version of every Redis key"},
		func(c *Config, v string) error { c.Redis.KeyPrefix = v; return nil }},
	{EnvVar{"MBB_ACD_BASE_URL", "acd.base_url", false, "ACD API base URL"},
		func(c *Config, v string) error { c.ACD.BaseURL = v; return nil }},
	{EnvVar{"MBB_ACD_WEBHOOK_SECRETS", "acd.webhook_secrets", true, "ACD webhook secrets, comma-separated (two while rotating)"},
		applyWebhookSecrets},
	{EnvVar{"MBB_MEDIABAR_TOKEN_SECRET", "mediabar.token_secret", true, "signing secret for agent tokens, at least 32 bytes"},
		func(c *Config, v string) error { c.Mediabar.TokenSecret = Secret(v); return nil }},
	{EnvVar{"MBB_ADMIN_TOKEN", "admin.token", true, "bearer token for the admin API, at least 16 bytes"},
		func(c *Config, v string) error { c.Admin.Token = Secret(v); return nil }},
	{EnvVar{"MBB_POP_WORKERS", "pop.workers", false, "number of pop workers per replica"},
		intEnv(func(c *Config, n int) { c.Pop.Workers = n })},
	{EnvVar{"MBB_POP_INLINE", "pop.inline", false, "inline pops per replica (0 = off)"},
		intEnv(func(c *Config, n int) { c.Pop.Inline = n })},
	{EnvVar{"MBB_GC_MIN_HEAP_MIB", "runtime.gc_min_heap_mib", false, "floor of the garbage collector's heap goal, MiB (0 = off)"},
		intEnv(func(c *Config, n int) { c.Runtime.GCMinHeapMiB = n })},
}

// intEnv parses an integer variable (surrounding spaces allowed) and sets it.
func intEnv(set func(*Config, int)) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", v)
		}
		set(c, n)
		return nil
	}
}

// Per-site overrides, for every site in the config.
var siteEnvOverrides = []struct {
	suffix string
	field  string
	secret bool
	doc    string
	apply  func(s *Site, value string)
}{
	{"BASE_URL", "base_url", false, "the site's CRM base URL", func(s *Site, v string) { s.BaseURL = v }},
	{"PASSWORD", "password", true, "the site's CRM API password", func(s *Site, v string) { s.Password = Secret(v) }},
	{"API_KEY", "api_key", true, "the site's webhook CRM API key", func(s *Site, v string) { s.APIKey = Secret(v) }},
}

// EnvVars lists every environment override, in the order they apply, for documentation.
func EnvVars() []EnvVar {
	out := make([]EnvVar, 0, len(envOverrides)+len(siteEnvOverrides))
	for _, o := range envOverrides {
		out = append(out, o.EnvVar)
	}
	for _, o := range siteEnvOverrides {
		out = append(out, EnvVar{
			Name:   "MBB_CRM_<SITE>_" + o.suffix,
			Field:  "crm.sites[]." + o.field,
			Secret: o.secret,
			Doc:    o.doc + "; <SITE> is the site name upper-cased, other characters than A-Z 0-9 as _",
		})
	}
	return out
}

// siteEnvKey turns a site name into the <SITE> part of its variables.
func siteEnvKey(name string) string {
	return strings.Map(func(r rune) rune {
		r = unicode.ToUpper(r)
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, name)
}

func applyWebhookSecrets(c *Config, v string) error {
	var secrets []Secret
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			secrets = append(secrets, Secret(part))
		}
	}
	if len(secrets) == 0 {
		return fmt.Errorf("no secret in the value (want 1 or 2, comma-separated)")
	}
	c.ACD.WebhookSecrets = secrets
	return nil
}

// applyEnv applies the overrides and returns the problems (each an *EnvError) and which
// field each variable set, so that validation errors can name the variable.
func applyEnv(c *Config, getenv func(string) string) (setBy map[string]string, errs []error) {
	setBy = map[string]string{}
	if getenv == nil {
		return setBy, nil
	}
	for _, o := range envOverrides {
		v := getenv(o.Name)
		if v == "" {
			continue
		}
		if err := o.apply(c, v); err != nil {
			errs = append(errs, &EnvError{Var: o.Name, Reason: err.Error()})
			continue
		}
		setBy[o.Field] = o.Name
	}
	for i := range c.CRM.Sites {
		s := &c.CRM.Sites[i]
		for _, o := range siteEnvOverrides {
			name := "MBB_CRM_" + siteEnvKey(s.Name) + "_" + o.suffix
			v := getenv(name)
			if v == "" {
				continue
			}
			o.apply(s, v)
			setBy[indexed("crm.sites", i)+"."+o.field] = name
		}
	}
	return setBy, errs
}
