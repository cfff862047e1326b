package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/config"
)

// Hostile input (issue 7): a config file with values of the wrong type is refused by Load
// with an error naming the field and its line, and nothing of the file is used.
func TestLoadWrongTypesNameTheFieldAndLine(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantField  string
		wantLine   int
		wantReason string
	}{
		{"string for an int", "listen: \":8080\"\npop:\n  workers: many\n", "pop.workers", 3, "must be an integer"},
		{"float for an int", "pop:\n  workers: 1.5\n", "pop.workers", 2, "must be an integer"},
		{"int overflow", "pop:\n  workers: 99999999999999999999999\n", "pop.workers", 2, "must be an integer"},
		{"list for a map", "catalog:\n  overrides: [SUCCESS, AGENT_ABSENT]\n", "catalog.overrides", 2, "must be a mapping, got a list"},
		{"map for a list", "crm:\n  sites: {demo: 1}\n", "crm.sites", 2, "must be a list, got a mapping"},
		{"scalar for a list", "acd:\n  webhook_secrets: whsec_abc\n", "acd.webhook_secrets", 2, "must be a list"},
		{"list for a string", "redis:\n  url: [a, b]\n", "redis.url", 2, "must be a string, got a list"},
		{"unknown key", "listen: \":8080\"\nlisten_port: 80\n", "listen_port", 2, "unknown field"},
		{"unknown nested key", "acd:\n  client:\n    timeout: 2s\n", "acd.client.timeout", 3, "unknown field"},
		{"duration ten", "pop:\n  lease_ttl: ten\n", "pop.lease_ttl", 2, `must be a duration such as "10s"`},
		{"duration without unit", "acd:\n  webhook_tolerance: 300\n", "acd.webhook_tolerance", 2, "must be a duration"},
		{"duration as a map", "crm:\n  pop_budget: {s: 1}\n", "crm.pop_budget", 2, "must be a duration"},
		{"bool as a word", "acd:\n  ready_on_green: sometimes\n", "acd.ready_on_green", 2, "must be true or false"},
		{"negative for unsigned", "acd:\n  client:\n    breaker_failures: -3\n", "acd.client.breaker_failures", 3, "must be a non-negative integer"},
		{"catalog override field of the wrong type", "catalog:\n  overrides:\n    SUCCESS:\n      message: [a]\n", "catalog.overrides.SUCCESS.message", 4, "must be a string"},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "c"+strconv.Itoa(i)+".yaml")
			if err := os.WriteFile(path, []byte(tt.give), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path, func(string) string { return "" })
			var fe *config.FieldError
			if !findFieldError(err, tt.wantField, &fe) {
				t.Fatalf("Load(%q) = %v, want a FieldError on %s", tt.give, err, tt.wantField)
			}
			if fe.Line != tt.wantLine || !strings.Contains(fe.Reason, tt.wantReason) {
				t.Errorf("Load(%q) = %v (line %d), want line %d and %q", tt.give, fe, fe.Line, tt.wantLine, tt.wantReason)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantField) || !strings.Contains(msg, "line "+strconv.Itoa(tt.wantLine)) {
				t.Errorf("Load error %q does not name the field and the line", msg)
			}
			if c.Listen != "" || len(c.CRM.Sites) != 0 {
				t.Errorf("Load returned a config with a refused file: %+v", c)
			}
		})
	}
}

// An environment value of the wrong type is refused naming the variable.
func TestLoadWrongTypeInTheEnvironment(t *testing.T) {
	_, err := config.Load("", func(k string) string {
		if k == "MBB_POP_WORKERS" {
			return "ten"
		}
		return ""
	})
	var ee *config.EnvError
	if !errors.As(err, &ee) || ee.Var != "MBB_POP_WORKERS" || !strings.Contains(err.Error(), "MBB_POP_WORKERS") {
		t.Errorf("Load with MBB_POP_WORKERS=ten = %v, want an EnvError naming the variable", err)
	}
}

// A config file that is not a config file at all (a directory, binary bytes, YAML with
// a tab) is refused with an error, not a panic.
func TestLoadNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "binary.yaml")
	if err := os.WriteFile(binary, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe}, 0o600); err != nil {
		t.Fatal(err)
	}
	tab := filepath.Join(dir, "tab.yaml")
	if err := os.WriteFile(tab, []byte("pop:\n\tworkers: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, binary, tab, filepath.Join(dir, "missing.yaml")} {
		if _, err := config.Load(path, func(string) string { return "" }); err == nil {
			t.Errorf("Load(%s) succeeded", path)
		}
	}
}

func findFieldError(err error, field string, out **config.FieldError) bool {
	var walk func(error) bool
	walk = func(e error) bool {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				if walk(x) {
					return true
				}
			}
			return false
		}
		var fe *config.FieldError
		if errors.As(e, &fe) && fe.Field == field {
			*out = fe
			return true
		}
		return false
	}
	return err != nil && walk(err)
}
