package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Distinctive secret values, so that any leak shows up in a substring search.
const (
	leakRedis   = "LEAK-redis-password"
	leakToken   = "LEAK-mediabar-token-secret-0123456789"
	leakAdmin   = "LEAK-admin-token-0123"
	leakSite    = "LEAK-site-password"
	leakWebhook = "LEAK-webhook-key-0123456789"
)

func leakyConfig() Config {
	c := Default()
	c.Redis.Password = leakRedis
	c.Mediabar.TokenSecret = leakToken
	c.Admin.Token = leakAdmin
	c.CRM.Sites[0].Password = leakSite
	c.ACD.WebhookSecrets = []Secret{Secret("whsec_" + base64.StdEncoding.EncodeToString([]byte(leakWebhook)))}
	return c
}

func assertNoLeak(t *testing.T, what, out string) {
	t.Helper()
	c := leakyConfig()
	for _, s := range []string{leakRedis, leakToken, leakAdmin, leakSite, c.ACD.WebhookSecrets[0].Value(), "LEAK"} {
		if strings.Contains(out, s) {
			t.Errorf("%s contains secret %q:\n%s", what, s, out)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := leakyConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("leakyConfig().Validate() = %v", err)
	}

	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "json.Marshal", string(js))
	if !strings.Contains(string(js), `"token_secret":"[redacted]"`) {
		t.Errorf("json.Marshal = %s, want token_secret [redacted]", js)
	}

	ys, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "yaml.Marshal", string(ys))

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		assertNoLeak(t, "fmt "+verb+" of Config", fmt.Sprintf(verb, c))
		assertNoLeak(t, "fmt "+verb+" of *Config", fmt.Sprintf(verb, &c))
		assertNoLeak(t, "fmt "+verb+" of Secret", fmt.Sprintf(verb, c.Admin.Token))
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c, "token", c.Admin.Token)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c, "token", c.Admin.Token)
	assertNoLeak(t, "slog", buf.String())
}

func TestSecretsNotInErrors(t *testing.T) {
	file := fmt.Sprintf(`
acd:
  webhook_secrets: ["%s"]
mediabar:
  token_secret: "%s"
admin:
  token: [%s]
crm:
  sites:
    - name: a
      password: {x: "%s"}
`, leakWebhook, "LEAK-short", leakAdmin, leakSite)
	_, err := Parse([]byte(file), nil)
	if err == nil {
		t.Fatal("Parse = nil error, want errors")
	}
	assertNoLeak(t, "Parse error", err.Error())

	_, err = Parse(nil, envFrom(map[string]string{
		"MBB_ACD_WEBHOOK_SECRETS":   leakWebhook + "," + leakWebhook + "," + leakWebhook,
		"MBB_MEDIABAR_TOKEN_SECRET": "LEAK-short",
		"MBB_ADMIN_TOKEN":           "LEAK",
	}))
	if err == nil {
		t.Fatal("Parse = nil error, want errors")
	}
	assertNoLeak(t, "Parse error", err.Error())
}

func TestSecretValue(t *testing.T) {
	tests := []struct {
		give       Secret
		wantString string
	}{
		{"", ""},
		{"x", "[redacted]"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.wantString {
			t.Errorf("Secret(%q).String() = %q, want %q", tt.give.Value(), got, tt.wantString)
		}
		if got := fmt.Sprint(tt.give); got != tt.wantString {
			t.Errorf("fmt.Sprint(Secret(%q)) = %q, want %q", tt.give.Value(), got, tt.wantString)
		}
	}
	if got := Secret("abc").Value(); got != "abc" {
		t.Errorf("Value() = %q, want abc", got)
	}
}
