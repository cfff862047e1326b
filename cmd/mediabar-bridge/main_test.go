package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/config"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// testEnv is the environment the program sees: REDIS_URL pointing at a real server when one
// answers (required when REDIS_REQUIRED=1), else unset so the program uses its in-process one.
func testEnv(t *testing.T) func(string) string {
	t.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rdb, err := sessions.Connect(ctx, sessions.ConnectOptions{URL: url})
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("REDIS_REQUIRED=1 but Redis at %s is unreachable: %v", url, err)
		}
		t.Logf("Redis unreachable (%v): the program falls back to in-process Redis", err)
		url = ""
	} else {
		rdb.Close()
	}
	return func(k string) string {
		if k == "REDIS_URL" {
			return url
		}
		return ""
	}
}

func TestScenariosPassEndToEnd(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"scenarios", "--json"}, testEnv(t), &out, &errOut)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err != nil {
		t.Errorf("scenarios: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	codes := map[string]bool{}
	for _, l := range lines[:len(lines)-1] {
		var r scenarioResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not a JSON result line: %q", l)
		}
		if !r.Passed {
			t.Errorf("scenario %s failed: %s", r.Name, r.Detail)
		}
		if c, ok := strings.CutPrefix(r.Name, "code/"); ok {
			codes[c] = true
		}
	}
	for _, e := range bridgeerr.Default().Entries() {
		if e.Source == bridgeerr.SourceCRM && !codes[string(e.Code)] {
			t.Errorf("no scenario for CRM code %s", e.Code)
		}
	}
	if want := fmt.Sprintf("%d passed, 0 failed", len(lines)-1); lines[len(lines)-1] != want {
		t.Errorf("last line = %q, want %q", lines[len(lines)-1], want)
	}
}

// TestScenarioChecksCanFail proves the per-code check rejects a wrong outcome.
func TestScenarioChecksCanFail(t *testing.T) {
	h, err := newHarness(context.Background(), testEnv(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	c := codeCase{code: bridgeerr.AgentAbsent}
	wrong := []*bridge.Interaction{
		{State: bridge.StateFailed, Code: string(bridgeerr.ChatIDUnknown)},
		{State: bridge.StateOffered, Code: string(bridgeerr.AgentAbsent)},
		{State: bridge.StateFailed, Code: string(bridgeerr.AgentAbsent), Message: "something else"},
	}
	for _, in := range wrong {
		if err := c.check(context.Background(), h, &scAgent{}, routed{}, in); err == nil {
			t.Errorf("check(%+v) = nil, want a failure", in)
		}
	}
}

// The demo on each CRM adapter: customers start chats in the mock CRM, intake hands them to
// the mock ACD, which routes them; the bridge pops them and agents complete them.
func TestDemoRunsChatsThroughToComplete(t *testing.T) {
	for _, adapter := range []string{config.AdapterOracle, config.AdapterWebhook} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			testDemo(t, adapter)
		})
	}
}

func testDemo(t *testing.T, adapter string) {
	var out, errOut bytes.Buffer
	args := []string{"demo", "--for", "15s", "--chat-every", "400ms", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
		"--crm-listen", "127.0.0.1:0", "--acd-listen", "127.0.0.1:0", "--crm-adapter", adapter}
	if err := run(context.Background(), args, testEnv(t), &out, &errOut); err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	m := regexp.MustCompile(`demo stopped: (\d+) chats created, (\d+) offered, (\d+) accepted, (\d+) completed, (\d+) failed pops`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out.String())
	}
	completed, _ := strconv.Atoi(m[4])
	failed, _ := strconv.Atoi(m[5])
	if completed == 0 || failed != 0 {
		t.Errorf("demo summary %q: want some completed chats and no failed pops", m[0])
	}
	for _, want := range []string{"bridge (ACD webhooks, media-bar API)", "mock CRM", "mock ACD", "agent-1", "CRM protocol                          " + adapter + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestCatalogJSONIsTheEffectiveCatalog(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"catalog", "--json"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	var rows []bridgeerr.Entry
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(bridgeerr.Default().Entries()) {
		t.Errorf("catalog printed %d rows, want %d", len(rows), len(bridgeerr.Default().Entries()))
	}
	// With an override from a config file.
	dir := t.TempDir()
	cfg := dir + "/c.yaml"
	if err := os.WriteFile(cfg, []byte("catalog:\n  overrides:\n    AGENT_NOT_ACTIVE:\n      requeue: false\n      message: \"Status bitte ändern ({code})\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"catalog", "--json", "--config", cfg}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	rows = nil
	_ = json.Unmarshal(out.Bytes(), &rows)
	for _, r := range rows {
		if r.Code == bridgeerr.AgentNotActive && (r.Requeue || !strings.HasPrefix(r.Message, "Status bitte")) {
			t.Errorf("override not in the printed catalog: %+v", r)
		}
	}
}

func TestCommandErrors(t *testing.T) {
	var out bytes.Buffer
	var ue *usageError
	if err := run(context.Background(), []string{"fly"}, func(string) string { return "" }, &out, &out); !errors.As(err, &ue) {
		t.Errorf("unknown command = %v, want a usage error", err)
	}
	if err := run(context.Background(), nil, func(string) string { return "" }, &out, &out); !errors.As(err, &ue) {
		t.Errorf("no command = %v, want a usage error", err)
	}
	err := run(context.Background(), []string{"serve"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "demo secrets") {
		t.Errorf("serve on demo secrets = %v, want a refusal naming them", err)
	}
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	_ = os.WriteFile(bad, []byte("pop:\n  workers: many\n"), 0o600)
	err = run(context.Background(), []string{"serve", "--config", bad}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "pop.workers") {
		t.Errorf("serve with a wrongly typed field = %v, want an error naming pop.workers", err)
	}
}
