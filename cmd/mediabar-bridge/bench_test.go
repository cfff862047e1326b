package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// The bench's figures are not checked against its targets here (timing assertions do not
// belong in tests); only that a short run works end to end and reports sane figures.

func TestBenchPopsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pop bench for a few seconds; skipped with -short")
	}
	var out, errOut bytes.Buffer
	base := testEnv(t)
	// The bridge's settings come from the environment, as serve reads them.
	getenv := func(k string) string {
		switch k {
		case "MBB_POP_INLINE":
			return "4"
		case "MBB_GC_MIN_HEAP_MIB":
			return "32"
		}
		return base(k)
	}
	if err := run(context.Background(), []string{"bench", "--duration", "1s", "--json"}, getenv, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep popReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	if rep.Floor1 == nil || rep.Bridge1 == nil {
		t.Fatalf("no 1-connection runs in %s", out.String())
	}
	for _, r := range []loadResult{rep.Floor, rep.Bridge, *rep.Floor1, *rep.Bridge1} {
		if r.Pops <= 0 || r.PopsPerSec <= 0 || r.P50MS <= 0 || r.P99MS < r.P50MS || r.P999MS < r.P99MS {
			t.Errorf("run %s: figures not positive and ordered: %+v", r.Name, r)
		}
		if r.Errors != 0 || r.Failed != 0 {
			t.Errorf("run %s: %d errors, %d failed pops, want none", r.Name, r.Errors, r.Failed)
		}
		// A real Redis reports its CPU time; miniredis (no REDIS_URL) does not.
		if base("REDIS_URL") != "" && r.RedisCPUMSPerPop <= 0 {
			t.Errorf("run %s: Redis CPU per pop %v, want positive on a real server", r.Name, r.RedisCPUMSPerPop)
		}
	}
	if rep.PopInline != 4 || rep.GCMinHeapMiB != 32 {
		t.Errorf("inline pops %d, GC floor %d MiB: want MBB_POP_INLINE=4 and MBB_GC_MIN_HEAP_MIB=32 honored", rep.PopInline, rep.GCMinHeapMiB)
	}
	if rep.ThroughputRatio <= 0 || rep.P99DiffMS1Conn == nil || rep.FloorRedisRoundTrips != 5 {
		t.Errorf("ratio %v, p99 difference %v, floor round trips %d: want a ratio, a difference, 5", rep.ThroughputRatio, rep.P99DiffMS1Conn, rep.FloorRedisRoundTrips)
	}
	if len(rep.Targets) < 3 {
		t.Errorf("targets = %+v, want at least 3", rep.Targets)
	}
	for _, tg := range rep.Targets {
		if tg.Verdict != "PASS" && tg.Verdict != "MISS" {
			t.Errorf("target %q: verdict %q, want PASS or MISS", tg.Target, tg.Verdict)
		}
	}
}

func TestBenchStreamsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the stream bench; skipped with -short")
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--streams", "50", "--duration", "1s", "--json"}, testEnv(t), &out, &errOut); err != nil {
		t.Fatalf("bench --streams: %v\n%s", err, errOut.String())
	}
	var rep streamReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bench --streams --json printed %q: %v", out.String(), err)
	}
	if rep.Streams != 50 || rep.Opened != 50 || rep.Dropped != 0 {
		t.Errorf("streams %d, opened %d, dropped %d: want 50, 50, 0", rep.Streams, rep.Opened, rep.Dropped)
	}
	if rep.EventsSent <= 0 || rep.EventsDelivered <= 0 || rep.RatePerSec <= 0 || rep.P50MS <= 0 || rep.P99MS < rep.P50MS {
		t.Errorf("event figures not positive and ordered: %+v", rep)
	}
	if rep.HeapPerStreamBytes+rep.StackPerStreamBytes <= 0 {
		t.Errorf("memory per stream: heap %.0f + stacks %.0f bytes, want positive", rep.HeapPerStreamBytes, rep.StackPerStreamBytes)
	}
	if len(rep.Targets) != 3 {
		t.Errorf("targets = %+v, want 3", rep.Targets)
	}
}

func TestParseRedisCPU(t *testing.T) {
	for _, c := range []struct {
		name string
		info string
		want time.Duration
		ok   bool
	}{
		{"redis 7", "# CPU\r\nused_cpu_sys:38.637772\r\nused_cpu_user:46.853667\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n",
			85491439 * time.Microsecond, true},
		{"one field missing", "# CPU\r\nused_cpu_sys:1.5\r\n", 0, false},
		{"not a number", "used_cpu_sys:x\r\nused_cpu_user:1\r\n", 0, false},
		{"negative", "used_cpu_sys:-1\r\nused_cpu_user:1\r\n", 0, false},
		{"empty (miniredis)", "", 0, false},
	} {
		got, ok := parseRedisCPU(c.info)
		if ok != c.ok || (ok && (got-c.want).Abs() > time.Microsecond) {
			t.Errorf("%s: parseRedisCPU = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParseRedisCPU: whatever a server answers to INFO cpu, the parse never panics and
// never yields a negative time.
func FuzzParseRedisCPU(f *testing.F) {
	f.Add("# CPU\r\nused_cpu_sys:38.6\r\nused_cpu_user:46.8\r\n")
	f.Add("used_cpu_sys:NaN\r\nused_cpu_user:Inf\r\n")
	f.Add("used_cpu_sys:1e400\nused_cpu_user:1\n")
	f.Fuzz(func(t *testing.T, info string) {
		if d, ok := parseRedisCPU(info); ok && d < 0 {
			t.Fatalf("parseRedisCPU(%q) = %v, want no negative time", info, d)
		}
		if d, ok := parseRedisCPU(info); !ok && d != 0 {
			t.Fatalf("parseRedisCPU(%q) = %v, false; want 0 when it fails", info, d)
		}
	})
}

func TestBenchArgs(t *testing.T) {
	tests := []struct {
		give        []string
		wantStreams int
		wantSet     bool
		wantJSON    bool
		wantErr     bool
	}{
		{give: nil},
		{give: []string{"--json"}, wantJSON: true},
		{give: []string{"--streams"}, wantStreams: defaultStreams, wantSet: true},
		{give: []string{"--streams", "50", "--duration", "1s", "--json"}, wantStreams: 50, wantSet: true, wantJSON: true},
		{give: []string{"--streams=7", "--json"}, wantStreams: 7, wantSet: true, wantJSON: true},
		{give: []string{"--json", "--streams", "19000"}, wantStreams: 19000, wantSet: true, wantJSON: true},
		{give: []string{"--streams=none"}, wantErr: true},
		{give: []string{"--json", "12"}, wantErr: true},
		{give: []string{"--streams", "3", "4"}, wantErr: true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var s streamsFlag
		js := fs.Bool("json", false, "")
		fs.Duration("duration", 0, "")
		fs.Var(&s, "streams", "")
		err := parseBenchArgs(fs, &s, tt.give)
		var ue *usageError
		if tt.wantErr {
			if !errors.As(err, &ue) {
				t.Errorf("parseBenchArgs(%q) = %v, want a usage error", tt.give, err)
			}
			continue
		}
		if err != nil || s.n != tt.wantStreams || s.set != tt.wantSet || *js != tt.wantJSON {
			t.Errorf("parseBenchArgs(%q) = streams %d set %v json %v err %v, want %d %v %v", tt.give, s.n, s.set, *js, err, tt.wantStreams, tt.wantSet, tt.wantJSON)
		}
	}
}

// The tracker's direct read of an event agrees with decoding it, whatever the leg holds.
func TestLegOfEvent(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, in := range []bridge.Interaction{
		{InteractionID: "bench-1", RoutingID: "r1", State: bridge.StateOffered, QueueName: `Support ","state":"x`},
		{InteractionID: `odd "id"\`, RoutingID: "r1", State: bridge.StateFailed},
		{InteractionID: "bench-2", RoutingID: "r1", State: bridge.StatePopping, Descriptor: &bridgeerr.Descriptor{}},
	} {
		data, err := json.Marshal(bridge.Event{Type: bridge.EventInteractionUpdated, AgentID: "a1", Interaction: &in, At: at})
		if err != nil {
			t.Fatal(err)
		}
		iid, state, ok := legOfEvent(string(data))
		if !ok || iid != in.InteractionID || state != in.State {
			t.Errorf("legOfEvent(%s) = %q, %q, %v; want %q, %q", data, iid, state, ok, in.InteractionID, in.State)
		}
	}
	if _, _, ok := legOfEvent(`{"type":"channel.updated","agent_id":"a1"}`); ok {
		t.Error("an event without an interaction was read as one")
	}
}
