package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// prodEnv supplies every secret the way a deployment does, for the demo site.
var prodEnv = map[string]string{
	"MBB_ACD_WEBHOOK_SECRETS":   "whsec_cHJvZHVjdGlvbi13ZWJob29rLWtleS0xMjM0NTY=",
	"MBB_MEDIABAR_TOKEN_SECRET": "production-token-secret-0123456789abcdef",
	"MBB_ADMIN_TOKEN":           "production-admin-token",
	"MBB_CRM_DEMO_PASSWORD":     "production-crm-password",
}

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// fieldErrors flattens a joined error into its *FieldErrors.
func fieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func findField(err error, field string) *FieldError {
	for _, fe := range fieldErrors(err) {
		if fe.Field == field {
			return fe
		}
	}
	return nil
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
}

func TestDefaultDemo(t *testing.T) {
	c := Default()
	want := []string{"acd.webhook_secrets[0]", "crm.sites[0].password", "mediabar.token_secret", "admin.token"}
	if diff := cmp.Diff(want, c.DemoSecrets()); diff != "" {
		t.Errorf("Default().DemoSecrets() mismatch (-want +got):\n%s", diff)
	}
	if !c.UsesDemoSecrets() {
		t.Errorf("Default().UsesDemoSecrets() = false, want true")
	}
	site, ok := c.Site("demo")
	if !ok {
		t.Fatalf(`Site("demo") not found`)
	}
	sales, ok := site.Queue("chat-sales")
	if !ok {
		t.Fatalf(`Queue("chat-sales") not found`)
	}
	wantSales := Queue{ID: "chat-sales", Name: "Sales", DispositionRequired: true,
		Dispositions: []string{"Resolved", "Follow-up", "No answer"}, DefaultDisposition: "Resolved", Intake: true}
	if diff := cmp.Diff(wantSales, sales); diff != "" {
		t.Errorf("chat-sales mismatch (-want +got):\n%s", diff)
	}
	support, _ := site.Queue("chat-support")
	if support.DispositionRequired || support.WrapUpTimeout != 0 {
		t.Errorf("chat-support = %+v, want not required, no wrap-up timeout", support)
	}
	if _, ok := c.Site("nope"); ok {
		t.Errorf(`Site("nope") found, want not found`)
	}
	if _, ok := site.Queue("nope"); ok {
		t.Errorf(`Queue("nope") found, want not found`)
	}
}

func TestLoadNoFile(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatalf(`Load("", nil) error: %v`, err)
	}
	if diff := cmp.Diff(Default(), c); diff != "" {
		t.Errorf(`Load("", nil) differs from Default() (-want +got):\n%s`, diff)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load("example.yaml", envFrom(prodEnv))
	if err != nil {
		t.Fatalf("Load(example.yaml) error: %v", err)
	}
	if got := c.DemoSecrets(); len(got) != 0 {
		t.Errorf("DemoSecrets() = %q, want none with every secret in the environment", got)
	}
	// The example documents the defaults: apart from what it adds, it is Default().
	want := Default()
	want.ACD.WebhookSecrets = []Secret{Secret(prodEnv["MBB_ACD_WEBHOOK_SECRETS"])}
	want.Mediabar.TokenSecret = Secret(prodEnv["MBB_MEDIABAR_TOKEN_SECRET"])
	want.Admin.Token = Secret(prodEnv["MBB_ADMIN_TOKEN"])
	want.CRM.Sites[0].Password = Secret(prodEnv["MBB_CRM_DEMO_PASSWORD"])
	want.Redis.Addrs = []string{}
	want.CRM.Sites[0].Queues[1].Dispositions = []string{}
	want.CRM.Sites[0].Overrides = c.CRM.Sites[0].Overrides
	want.Catalog.Overrides = c.Catalog.Overrides
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("example.yaml differs from the defaults (-want +got):\n%s", diff)
	}
	if len(c.Catalog.Overrides) != 1 || len(c.CRM.Sites[0].Overrides) != 1 {
		t.Errorf("overrides = %v / %v, want one each", c.Catalog.Overrides, c.CRM.Sites[0].Overrides)
	}
	global, sites, err := c.Catalogs()
	if err != nil {
		t.Fatalf("Catalogs() error: %v", err)
	}
	if got := global.Lookup("AGENT_NOT_ACTIVE").Message; got != *c.Catalog.Overrides["AGENT_NOT_ACTIVE"].Message {
		t.Errorf("global AGENT_NOT_ACTIVE message = %q, want the override", got)
	}
	if got, want := sites["demo"].Lookup("COULD_NOT_ASSIGN_ENGAGEMENT").Message, *c.CRM.Sites[0].Overrides["COULD_NOT_ASSIGN_ENGAGEMENT"].Message; got != want {
		t.Errorf("demo COULD_NOT_ASSIGN_ENGAGEMENT message = %q, want %q", got, want)
	}
	if got := sites["demo"].Lookup("AGENT_NOT_ACTIVE").Message; got != *c.Catalog.Overrides["AGENT_NOT_ACTIVE"].Message {
		t.Errorf("site catalog lost the global override: %q", got)
	}
}

func TestExampleWithoutSecretsNamesThem(t *testing.T) {
	_, err := Load("example.yaml", nil)
	fe := findField(err, "crm.sites[0].password")
	if fe == nil {
		t.Fatalf("Load(example.yaml) without env = %v, want crm.sites[0].password error", err)
	}
	if fe.Line == 0 {
		t.Errorf("password error has no line: %v", fe)
	}
}

func TestSampleYAMLIsExample(t *testing.T) {
	file, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(SampleYAML(), file) {
		t.Errorf("SampleYAML() differs from example.yaml")
	}
}

func TestWebhookKeys(t *testing.T) {
	c := Default()
	keys, err := c.ACD.WebhookKeys()
	if err != nil {
		t.Fatalf("WebhookKeys() error: %v", err)
	}
	if got, want := string(keys[0]), "DEMO-ONLY acd webhook key, not a secret"; got != want {
		t.Errorf("WebhookKeys()[0] = %q, want %q", got, want)
	}
	c.ACD.WebhookSecrets = append(c.ACD.WebhookSecrets, "whsec_c2hvcnQ=")
	_, err = c.ACD.WebhookKeys()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "acd.webhook_secrets[1]" {
		t.Errorf("WebhookKeys() with a short key = %v, want FieldError on acd.webhook_secrets[1]", err)
	}
}

func TestSlogLevel(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"debug", "DEBUG"}, {"info", "INFO"}, {"warn", "WARN"}, {"error", "ERROR"},
	}
	for _, tt := range tests {
		if got := (Config{LogLevel: tt.give}).SlogLevel().String(); got != tt.want {
			t.Errorf("SlogLevel(%q) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestDurationRoundTrip(t *testing.T) {
	d := Duration(90 * time.Second)
	b, err := d.MarshalText()
	if err != nil || string(b) != "1m30s" {
		t.Fatalf("MarshalText = %q, %v, want 1m30s", b, err)
	}
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d {
		t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, back, err, d)
	}
	if err := back.UnmarshalText([]byte("10")); err == nil {
		t.Errorf(`UnmarshalText("10") = nil error, want an error (no unit)`)
	}
}
