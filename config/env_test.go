package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnvOverrides(t *testing.T) {
	const twoSites = `
crm:
  sites:
    - name: demo
      base_url: http://127.0.0.1:8081
      user_name: bridge
      password: file-password
      queues: [{id: q, name: Q}]
    - name: eu-west.1
      base_url: https://eu.example.com
      user_name: bridge
      queues: [{id: q, name: Q}]
`
	tests := []struct {
		name string
		file string
		env  map[string]string
		want func(c *Config)
	}{
		{"none", "", nil, func(*Config) {}},
		{
			name: "globals",
			env: map[string]string{
				"REDIS_URL":                 "redis://redis:6379/1",
				"MBB_LISTEN":                ":18080",
				"MBB_OPS_LISTEN":            ":19090",
				"MBB_LOG_LEVEL":             "DEBUG",
				"MBB_REDIS_PASSWORD":        "redis-pw",
				"MBB_REDIS_KEY_PREFIX":      "mbb:test",
				"MBB_ACD_BASE_URL":          "https://acd.example.com",
				"MBB_ACD_WEBHOOK_SECRETS":   " whsec_MDEyMzQ1Njc4OWFiY2RlZg== , MDEyMzQ1Njc4OWFiY2RlZmdo ",
				"MBB_MEDIABAR_TOKEN_SECRET": "0123456789abcdef0123456789abcdef",
				"MBB_ADMIN_TOKEN":           "0123456789abcdef",
				"MBB_POP_WORKERS":           " 16 ",
				"MBB_POP_INLINE":            "0",
				"MBB_GC_MIN_HEAP_MIB":       "128",
			},
			want: func(c *Config) {
				c.Redis.URL = "redis://redis:6379/1"
				c.Listen, c.OpsListen, c.LogLevel = ":18080", ":19090", "debug"
				c.Redis.Password, c.Redis.KeyPrefix = "redis-pw", "mbb:test"
				c.ACD.BaseURL = "https://acd.example.com"
				c.ACD.WebhookSecrets = []Secret{"whsec_MDEyMzQ1Njc4OWFiY2RlZg==", "MDEyMzQ1Njc4OWFiY2RlZmdo"}
				c.Mediabar.TokenSecret = "0123456789abcdef0123456789abcdef"
				c.Admin.Token = "0123456789abcdef"
				c.Pop.Workers = 16
				c.Pop.Inline = 0
				c.Runtime.GCMinHeapMiB = 128
			},
		},
		{
			name: "REDIS_URL replaces addrs from the file",
			file: "redis:\n  addrs: [a:1]\n",
			env:  map[string]string{"REDIS_URL": "redis://b:2"},
			want: func(c *Config) { c.Redis.URL, c.Redis.Addrs = "redis://b:2", nil },
		},
		{
			name: "per site",
			file: twoSites,
			env: map[string]string{
				"MBB_CRM_DEMO_BASE_URL":      "http://crm-mock:8081",
				"MBB_CRM_EU_WEST_1_PASSWORD": "eu-password",
				"MBB_CRM_NOPE_PASSWORD":      "ignored: no such site",
			},
			want: func(c *Config) {
				c.CRM.Sites = []Site{
					{Name: "demo", BaseURL: "http://crm-mock:8081", UserName: "bridge", Password: "file-password",
						AppID: "mediabar-bridge", Queues: []Queue{{ID: "q", Name: "Q"}}},
					{Name: "eu-west.1", BaseURL: "https://eu.example.com", UserName: "bridge", Password: "eu-password",
						AppID: "mediabar-bridge", Queues: []Queue{{ID: "q", Name: "Q"}}},
				}
			},
		},
		{
			name: "empty value is unset",
			env:  map[string]string{"MBB_LISTEN": "", "MBB_POP_WORKERS": ""},
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.file), envFrom(tt.env))
			if err != nil {
				t.Fatalf("Parse error: %v", err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvBadValue(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"workers not a number", map[string]string{"MBB_POP_WORKERS": "abc"}, "MBB_POP_WORKERS"},
		{"inline not a number", map[string]string{"MBB_POP_INLINE": "1.5"}, "MBB_POP_INLINE"},
		{"gc floor with a unit", map[string]string{"MBB_GC_MIN_HEAP_MIB": "64MiB"}, "MBB_GC_MIN_HEAP_MIB"},
		{"webhook secrets only commas", map[string]string{"MBB_ACD_WEBHOOK_SECRETS": " , ,"}, "MBB_ACD_WEBHOOK_SECRETS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(nil, envFrom(tt.env))
			var ee *EnvError
			if !errors.As(err, &ee) || ee.Var != tt.wantVar {
				t.Fatalf("Parse with %v = %v, want an EnvError on %s", tt.env, err, tt.wantVar)
			}
			if !strings.Contains(err.Error(), tt.wantVar) {
				t.Errorf("Error() = %q, want it to name %s", err.Error(), tt.wantVar)
			}
		})
	}
}

func TestEnvValidationNamesTheVariable(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		env       map[string]string
		wantField string
		wantEnv   string
	}{
		{"log level", "", map[string]string{"MBB_LOG_LEVEL": "loud"}, "log_level", "MBB_LOG_LEVEL"},
		{"env wins over the file's line", "acd:\n  webhook_secrets: [whsec_MDEyMzQ1Njc4OWFiY2RlZg==]\n",
			map[string]string{"MBB_ACD_WEBHOOK_SECRETS": "short"}, "acd.webhook_secrets[0]", "MBB_ACD_WEBHOOK_SECRETS"},
		{"site base url", "", map[string]string{"MBB_CRM_DEMO_BASE_URL": "crm:8081"}, "crm.sites[0].base_url", "MBB_CRM_DEMO_BASE_URL"},
		{"workers zero", "", map[string]string{"MBB_POP_WORKERS": "0"}, "pop.workers", "MBB_POP_WORKERS"},
		{"inline negative", "", map[string]string{"MBB_POP_INLINE": "-1"}, "pop.inline", "MBB_POP_INLINE"},
		{"gc floor negative", "", map[string]string{"MBB_GC_MIN_HEAP_MIB": "-1"}, "runtime.gc_min_heap_mib", "MBB_GC_MIN_HEAP_MIB"},
		{"gc floor too large", "", map[string]string{"MBB_GC_MIN_HEAP_MIB": "1000000"}, "runtime.gc_min_heap_mib", "MBB_GC_MIN_HEAP_MIB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file), envFrom(tt.env))
			fe := findField(err, tt.wantField)
			if fe == nil || fe.Env != tt.wantEnv {
				t.Fatalf("Parse = %v, want %s error set by %s", err, tt.wantField, tt.wantEnv)
			}
			if fe.Line != 0 {
				t.Errorf("Line = %d, want 0 when the environment set the field", fe.Line)
			}
		})
	}
}

func TestEnvVars(t *testing.T) {
	vars := EnvVars()
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v.Name] {
			t.Errorf("EnvVars() lists %s twice", v.Name)
		}
		seen[v.Name] = true
		if v.Field == "" || v.Doc == "" {
			t.Errorf("EnvVars() %s has no field or doc", v.Name)
		}
	}
	for _, name := range []string{
		"REDIS_URL", "MBB_LISTEN", "MBB_OPS_LISTEN", "MBB_LOG_LEVEL", "MBB_REDIS_PASSWORD",
		"MBB_REDIS_KEY_PREFIX", "MBB_ACD_BASE_URL", "MBB_ACD_WEBHOOK_SECRETS",
		"MBB_MEDIABAR_TOKEN_SECRET", "MBB_ADMIN_TOKEN", "MBB_CRM_<SITE>_BASE_URL",
		"MBB_CRM_<SITE>_PASSWORD", "MBB_POP_WORKERS", "MBB_POP_INLINE", "MBB_GC_MIN_HEAP_MIB",
	} {
		if !seen[name] {
			t.Errorf("EnvVars() lacks %s", name)
		}
	}
	secret := map[string]bool{}
	for _, v := range vars {
		secret[v.Name] = v.Secret
	}
	for _, name := range []string{"MBB_REDIS_PASSWORD", "MBB_ACD_WEBHOOK_SECRETS", "MBB_MEDIABAR_TOKEN_SECRET", "MBB_ADMIN_TOKEN", "MBB_CRM_<SITE>_PASSWORD"} {
		if !secret[name] {
			t.Errorf("EnvVars() %s: Secret = false, want true", name)
		}
	}
}

func TestSiteEnvKey(t *testing.T) {
	tests := []struct{ give, want string }{
		{"demo", "DEMO"},
		{"eu-west.1", "EU_WEST_1"},
		{"Site_2", "SITE_2"},
		{"café", "CAF_"},
	}
	for _, tt := range tests {
		if got := siteEnvKey(tt.give); got != tt.want {
			t.Errorf("siteEnvKey(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}
