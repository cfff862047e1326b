package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// getDiagnostics reads the agent's diagnostics from a replica.
func getDiagnostics(t *testing.T, baseURL, token string) bridge.Diagnostics {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/v1/mediabar/diagnostics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d bridge.Diagnostics
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET diagnostics = %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Stream == nil {
		t.Fatal("diagnostics carry no stream health")
	}
	return d
}

// waitStream polls diagnostics on a replica until cond holds for the stream health.
func waitStream(t *testing.T, baseURL, token, what string, cond func(bridge.StreamHealth) bool) bridge.Diagnostics {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := getDiagnostics(t, baseURL, token)
		if cond(*d.Stream) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: stream health %+v", what, *d.Stream)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasStreamReason(d bridge.Diagnostics) bool {
	for _, r := range d.Reasons {
		if strings.Contains(r, "no live event stream") {
			return true
		}
	}
	return false
}

// Diagnostics say whether the agent's media bar has a live stream, whichever replica holds
// it: none, one on replica A seen from replica B, two (A and B), and none again once both
// close. The stream's last delivered event id follows what it sent.
func TestDiagnosticsReportStreamHealthAcrossReplicas(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	const beat = 100 * time.Millisecond
	a := newSSEReplica(t, rdb, prefix, sseReplicaOptions{heartbeat: beat})
	b := newSSEReplica(t, rdb, prefix, sseReplicaOptions{heartbeat: beat})
	tok := sseLogin(t, a.url, "a1")

	d := getDiagnostics(t, b.url, tok)
	if d.Stream.Connected || d.Stream.Streams != 0 || !hasStreamReason(d) {
		t.Fatalf("before any stream: %+v reasons %q, want not connected with a reason", *d.Stream, d.Reasons)
	}

	onA := openSSE(t, a.url, tok, "")
	d = waitStream(t, b.url, tok, "stream on A seen from B", func(h bridge.StreamHealth) bool { return h.Connected && h.Streams == 1 })
	if hasStreamReason(d) || d.Stream.LastSeenAt == nil {
		t.Fatalf("connected stream: %+v reasons %q", *d.Stream, d.Reasons)
	}

	id, err := a.store.Publish(context.Background(), "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	if err != nil {
		t.Fatal(err)
	}
	for { // login published events of its own first
		f, ok := onA.next(5 * time.Second)
		if !ok {
			t.Fatalf("stream on A never got event %s", id)
		}
		if f.id == id {
			break
		}
	}
	waitStream(t, b.url, tok, "delivered id reported", func(h bridge.StreamHealth) bool {
		return h.LastEventID == id && h.LatestEventID == id
	})

	onB := openSSE(t, b.url, tok, id)
	waitStream(t, a.url, tok, "two streams", func(h bridge.StreamHealth) bool { return h.Streams == 2 })

	onA.cancel()
	waitStream(t, a.url, tok, "A's stream closed", func(h bridge.StreamHealth) bool { return h.Streams == 1 })
	onB.cancel()
	d = waitStream(t, a.url, tok, "all closed", func(h bridge.StreamHealth) bool { return !h.Connected && h.Streams == 0 })
	if !hasStreamReason(d) {
		t.Fatalf("no stream, reasons %q: want the stream reason", d.Reasons)
	}
}
