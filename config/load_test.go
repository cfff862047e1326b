package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantField string
		wantLine  int
	}{
		{"unknown top-level field", "listen: \":8080\"\nlisten_addr: x\n", "listen_addr", 2},
		{"unknown nested field", "crm:\n  sites:\n    - name: a\n      base_url: http://x\n      passwd: y\n", "crm.sites[0].passwd", 5},
		{"wrong type in flow mapping", `pop: {workers: "many"}`, "pop.workers", 1},
		{"wrong type int for duration", "pop:\n  lease_ttl: 10\n", "pop.lease_ttl", 2},
		{"bad duration", "crm:\n  pop_budget: fast\n", "crm.pop_budget", 2},
		{"list for string", "listen: [a, b]\n", "listen", 1},
		{"mapping for list", "acd:\n  webhook_secrets: {a: b}\n", "acd.webhook_secrets", 2},
		{"scalar for struct", "redis: localhost\n", "redis", 1},
		{"negative uint", "acd:\n  client:\n    breaker_failures: -1\n", "acd.client.breaker_failures", 3},
		{"bool", "acd:\n  ready_on_green: maybe\n", "acd.ready_on_green", 2},
		{"duplicate key", "listen: a\nlisten: b\n", "listen", 2},
		{"unknown override field", "catalog:\n  overrides:\n    SUCCESS:\n      msg: hi\n", "catalog.overrides.SUCCESS.msg", 4},
		{"override wrong type", "catalog:\n  overrides:\n    SUCCESS:\n      requeue: often\n", "catalog.overrides.SUCCESS.requeue", 4},
		{"anchor holder at top level", "x-client: &c {retries: 1}\n", "x-client", 1},
		{"merge of a scalar", "pop:\n  <<: 3\n", "pop", 2},
		{"top level not a mapping", "- a\n- b\n", "(top level)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give), nil)
			fe := findField(err, tt.wantField)
			if fe == nil {
				t.Fatalf("Parse(%q) = %v, want a FieldError on %s", tt.give, err, tt.wantField)
			}
			if fe.Line != tt.wantLine {
				t.Errorf("Parse(%q) line = %d, want %d (%v)", tt.give, fe.Line, tt.wantLine, fe)
			}
			if !strings.HasPrefix(fe.Error(), "config: "+tt.wantField+": ") {
				t.Errorf("Error() = %q, want it to start with the field", fe.Error())
			}
		})
	}
}

func TestParseWrongTypeMessage(t *testing.T) {
	_, err := Parse([]byte(`pop: {workers: "many"}`), nil)
	want := `config: pop.workers: must be an integer, got "many" (line 1)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}

func TestParseSuggestsField(t *testing.T) {
	_, err := Parse([]byte("crm:\n  sites:\n    - userName: x\n"), nil)
	fe := findField(err, "crm.sites[0].userName")
	if fe == nil || !strings.Contains(fe.Reason, `"user_name"`) {
		t.Errorf("Parse(userName) = %v, want a suggestion of user_name", err)
	}
}

func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"broken yaml", "listen: [\n"},
		{"tab indentation", "pop:\n\tworkers: 2\n"},
		{"two documents", "listen: \":1\"\n---\nlisten: \":2\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give), nil)
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q) = %v, want ErrSyntax", tt.give, err)
			}
		})
	}
}

func TestParseOverlay(t *testing.T) {
	tests := []struct {
		name string
		give string
		want func(*Config)
	}{
		{"empty file", "", func(*Config) {}},
		{"comments only", "# nothing\n", func(*Config) {}},
		{"null keeps default", "listen:\nredis: ~\n", func(*Config) {}},
		{
			name: "scalar and nested",
			give: "log_level: debug\npop:\n  workers: 8\nacd:\n  client:\n    retries: 0\n",
			want: func(c *Config) { c.LogLevel = "debug"; c.Pop.Workers = 8; c.ACD.Client.Retries = 0 },
		},
		{
			name: "list replaces, new site starts from site defaults",
			give: `
crm:
  sites:
    - name: eu-west.1
      base_url: https://crm.example.com
      user_name: api
      password: s3cret-pw
      queues:
        - {id: q1, name: Q1, wrap_up_timeout: 2m}
`,
			want: func(c *Config) {
				c.CRM.Sites = []Site{{
					Name: "eu-west.1", BaseURL: "https://crm.example.com", UserName: "api",
					Password: "s3cret-pw", AppID: "mediabar-bridge",
					Queues: []Queue{{ID: "q1", Name: "Q1", WrapUpTimeout: Duration(2 * time.Minute)}},
				}}
			},
		},
		{
			name: "redis addrs in the file drop the default url",
			give: "redis:\n  addrs: [a:26379, b:26379]\n  master_name: mymaster\n",
			want: func(c *Config) {
				c.Redis.URL = ""
				c.Redis.Addrs = []string{"a:26379", "b:26379"}
				c.Redis.MasterName = "mymaster"
			},
		},
		{
			name: "aliases and merge keys inside known fields",
			give: `
acd:
  client: &client
    call_timeout: 1s
    retries: 1
crm:
  client:
    <<: *client
    retries: 3
  pop_budget: 4s
`,
			want: func(c *Config) {
				c.ACD.Client.CallTimeout = Duration(time.Second)
				c.ACD.Client.Retries = 1
				c.CRM.Client.CallTimeout = Duration(time.Second)
				c.CRM.Client.Retries = 3
				c.CRM.PopBudget = Duration(4 * time.Second)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.give), nil)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.give, err)
			}
			want := Default()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

func TestParseCatalogOverride(t *testing.T) {
	give := "catalog:\n  overrides:\n    AGENT_ABSENT:\n      requeue: false\n      channel: banner\n      descriptor: {role: RoutedTo, result: Redirected}\n"
	got, err := Parse([]byte(give), nil)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", give, err)
	}
	requeue, channel := false, bridgeerr.ChannelBanner
	want := map[string]bridgeerr.Override{"AGENT_ABSENT": {
		Requeue: &requeue, Channel: &channel,
		Descriptor: &bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected"},
	}}
	if diff := cmp.Diff(want, got.Catalog.Overrides); diff != "" {
		t.Errorf("Catalog.Overrides mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("pop:\n  workers: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load(%s) error: %v", path, err)
	}
	if c.Pop.Workers != 2 {
		t.Errorf("Pop.Workers = %d, want 2", c.Pop.Workers)
	}
}

func TestValidationErrorsCarryTheFileLine(t *testing.T) {
	give := "pop:\n  workers: 2\n  lease_ttl: 1s\n"
	_, err := Parse([]byte(give), nil)
	fe := findField(err, "pop.lease_ttl")
	if fe == nil || fe.Line != 3 {
		t.Errorf("Parse(%q) = %v, want pop.lease_ttl error at line 3", give, err)
	}
}

func TestAliasBomb(t *testing.T) {
	// Ten levels of merge keys, each merging the previous level ten times: 10^10 nodes
	// if expanded naively.
	var b strings.Builder
	b.WriteString("catalog:\n  overrides:\n    L0: &l0 {message: x}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "    L%d: &l%d {<<: [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]}\n")
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Errorf("Parse(merge bomb) = %v, want a document too large error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Parse(merge bomb) took %s", d)
	}
}
