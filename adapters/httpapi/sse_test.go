package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/ssehub"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// sseReplica is one bridge replica's HTTP surface with its own hub, over a shared Redis.
type sseReplica struct {
	url   string
	hub   *ssehub.Hub
	store *sessions.Store
	srv   *httptest.Server
}

// sseReplicaOptions vary a replica: its live-events settings, its HTTP options, and whether
// its hub runs (a hub that never runs hears no announcement: streams live on re-reads).
type sseReplicaOptions struct {
	live      httpapi.LiveEvents
	heartbeat time.Duration
	noHub     bool
	server    func(*http.Server) // adjusts the server before it starts
}

func newSSEReplica(t testing.TB, rdb redis.UniversalClient, prefix string, o sseReplicaOptions) *sseReplica {
	t.Helper()
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default()}},
		PopBudget: time.Second}, bridge.Deps{CRM: &bridgetest.CRM{}, ACD: &bridgetest.ACD{}, Store: store, Work: store, Events: store})
	if err != nil {
		t.Fatal(err)
	}
	hub := ssehub.New(rdb, store.Keys().EventsChannel(), ssehub.Options{BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	live := o.live
	live.Events, live.Wakeups, live.Presence = store, hub, store
	api := httpapi.New(httpapi.Options{TokenSecret: []byte("token-secret-0123456789-0123456789"),
		AdminToken: "admin-token-0123456789", SSEHeartbeat: o.heartbeat}, svc, live, nil, nil, nil)
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Config.RegisterOnShutdown(hub.Close)
	if o.server != nil {
		o.server(srv.Config)
	}
	srv.Start()

	// Cleanups run last first: close the hub (streams end), then the server, then stop Run.
	runCtx, stopRun := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if !o.noHub {
		wg.Go(func() { _ = hub.Run(runCtx) })
	}
	t.Cleanup(func() { stopRun(); wg.Wait() })
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close)
	if !o.noHub {
		deadline := time.Now().Add(5 * time.Second)
		for !hub.Stats().Subscribed {
			if time.Now().After(deadline) {
				t.Fatal("hub not subscribed within 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return &sseReplica{url: srv.URL, hub: hub, store: store, srv: srv}
}

func sseLogin(t testing.TB, baseURL, agent string) string {
	t.Helper()
	body, _ := json.Marshal(httpapi.LoginRequest{AgentID: agent, Site: "demo", CRMAccountID: "acct-" + agent, CRMChatSessionID: "sess-acct-" + agent})
	resp, err := http.Post(baseURL+"/v1/mediabar/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lr httpapi.LoginResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s = %d %v", agent, resp.StatusCode, err)
	}
	return lr.Token
}

// sseFrame is one dispatched server-sent event, or one comment line.
type sseFrame struct {
	id, event, data, retry string
	comment                string
	at                     time.Time // when the client had it
}

// sseConn is an open stream, parsed into frames by a goroutine that ends with the connection.
type sseConn struct {
	frames <-chan sseFrame // closed when the stream ends
	cancel context.CancelFunc
}

// openSSE opens the agent's stream after lastID ("" for none). Only complete frames (ended by
// a blank line) are dispatched, as a browser's EventSource does.
func openSSE(t *testing.T, baseURL, token, lastID string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/mediabar/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		t.Fatalf("GET /v1/mediabar/events = %d, want 200", resp.StatusCode)
	}
	frames := make(chan sseFrame, 10000)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(frames)
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		var f sseFrame
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a partial frame at the cut is dropped, as EventSource does
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if f.id != "" || f.event != "" || f.data != "" || f.retry != "" {
					f.at = time.Now()
					frames <- f
				}
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				frames <- sseFrame{comment: strings.TrimSpace(line[1:]), at: time.Now()}
			default:
				k, v, _ := strings.Cut(line, ":")
				v = strings.TrimPrefix(v, " ")
				switch k {
				case "id":
					f.id = v
				case "event":
					f.event = v
				case "data":
					f.data = v
				case "retry":
					f.retry = v
				}
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &sseConn{frames: frames, cancel: cancel}
}

// next returns the next event frame (skipping comments and retry-only frames), or false when
// the stream ended or nothing came within d.
func (c *sseConn) next(d time.Duration) (sseFrame, bool) {
	timeout := time.After(d)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return sseFrame{}, false
			}
			if f.event == "" {
				continue
			}
			return f, true
		case <-timeout:
			return sseFrame{}, false
		}
	}
}

func streamIDs(t *testing.T, store *sessions.Store, agent string) []string {
	t.Helper()
	evs, err := store.Read(context.Background(), agent, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(evs))
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

// The acceptance test: a client reads part of its stream from replica A, A cuts the
// connection mid-stream, the client reconnects to replica B with Last-Event-ID while a third
// party keeps publishing, and it receives every event of its stream exactly once, in order.
func TestSSEReconnectToAnotherReplicaGetsEveryEventOnceInOrder(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	// A re-read interval far beyond the test: delivery has to come from wake-ups.
	slowResync := sseReplicaOptions{live: httpapi.LiveEvents{Resync: time.Hour}}
	a := newSSEReplica(t, rdb, prefix, slowResync)
	b := newSSEReplica(t, rdb, prefix, slowResync)
	publisher := sessions.New(rdb, sessions.Options{Prefix: prefix}) // a third process, say
	tok := sseLogin(t, a.url, "a1")

	// The publisher goes on until the client has read from replica B for a while, so the cut
	// and the reconnect happen while events keep coming.
	var published atomic.Int64
	pubCtx, stopPublishing := context.WithCancel(context.Background())
	defer stopPublishing()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 800 && pubCtx.Err() == nil; i++ { // within the stream's cap (1000)
			for _, agent := range []string{"a1", "a2"} { // a2's events must not reach a1
				if _, err := publisher.Publish(context.Background(), agent, bridge.Event{
					Type: bridge.EventInteractionUpdated, Message: fmt.Sprintf("%s-%04d", agent, i), At: time.Now()}); err != nil {
					t.Error(err)
					return
				}
			}
			published.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	})
	defer wg.Wait()

	var got []sseFrame
	first := openSSE(t, a.url, tok, "")
	for len(got) < 100 {
		f, ok := first.next(5 * time.Second)
		if !ok {
			t.Fatalf("replica A: stream ended or stalled after %d events", len(got))
		}
		got = append(got, f)
	}
	a.srv.CloseClientConnections() // replica A drops the connection mid-stream
	for f := range first.frames {  // whatever was complete before the cut counts, as in a browser
		if f.event != "" {
			got = append(got, f)
		}
	}
	fromA, atCut := len(got), published.Load()

	second := openSSE(t, b.url, tok, got[len(got)-1].id)
	for len(got) < fromA+100 {
		f, ok := second.next(5 * time.Second)
		if !ok {
			t.Fatalf("replica B: stream ended or stalled after %d events", len(got)-fromA)
		}
		got = append(got, f)
	}
	stopPublishing()
	wg.Wait()
	n := int(published.Load())
	if n <= int(atCut) {
		t.Fatalf("nothing published after the cut (%d events before it): not a mid-stream cut", atCut)
	}
	want := streamIDs(t, publisher, "a1")
	for len(got) < len(want) {
		f, ok := second.next(5 * time.Second)
		if !ok {
			t.Fatalf("replica B: stream ended or stalled at %d of %d events", len(got), len(want))
		}
		got = append(got, f)
	}
	if f, ok := second.next(200 * time.Millisecond); ok {
		t.Errorf("replica B sent %s (%s) beyond the stream's %d events", f.id, f.data, len(want))
	}

	gotIDs := make([]string, 0, len(got))
	var messages []string
	for _, f := range got {
		gotIDs = append(gotIDs, f.id)
		var ev bridge.Event
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatalf("event %s: data %q: %v", f.id, f.data, err)
		}
		if ev.ID != f.id || ev.AgentID != "a1" || f.event != ev.Type {
			t.Errorf("frame id %s event %s carries event %s of %s type %s", f.id, f.event, ev.ID, ev.AgentID, ev.Type)
		}
		if ev.Type == bridge.EventInteractionUpdated {
			messages = append(messages, ev.Message)
		}
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("received ids differ from the stream's:\n got %d ids %v\nwant %d ids %v", len(gotIDs), gotIDs, len(want), want)
	}
	wantMessages := make([]string, n)
	for i := range n {
		wantMessages[i] = fmt.Sprintf("a1-%04d", i)
	}
	if !slices.Equal(messages, wantMessages) {
		t.Errorf("published events received = %v, want a1-0000..a1-%04d once each in order", messages, n-1)
	}
	t.Logf("cut after %d of %d events published; %d events received from A, %d from B", atCut, n, fromA, len(got)-fromA)
}

// A client that never reads its socket fills its buffers and blocks its own handler; a fast
// client of another agent on the same replica still gets each event promptly meanwhile, and
// the stuck client is dropped after the write timeout.
func TestSSESlowClientDoesNotDelayOthers(t *testing.T) {
	const writeTimeout = 5 * time.Second
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{live: httpapi.LiveEvents{Resync: time.Hour, WriteTimeout: writeTimeout}})
	slowTok, fastTok := sseLogin(t, r.url, "slow"), sseLogin(t, r.url, "fast")

	// The slow client: sends its request, never reads a byte.
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(conn, "GET /v1/mediabar/events HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer %s\r\n\r\n", slowTok)
	fast := openSSE(t, r.url, fastTok, "")
	for r.hub.Clients() < 2 {
		time.Sleep(5 * time.Millisecond)
	}

	// 8 MB for the slow client: more than the socket buffers on both sides can hold, so its
	// handler ends up blocked in a write. It is stuck once its wake-ups stay pending: each of
	// a few probes, 200ms apart, finds the previous one not taken (the hub coalesces it).
	ctx := context.Background()
	big := strings.Repeat("x", 16<<10)
	for range 512 {
		if _, err := r.store.Publish(ctx, "slow", bridge.Event{Type: bridge.EventInteractionUpdated, Message: big}); err != nil {
			t.Fatal(err)
		}
	}
	pendingProbes, stuckAt := 0, time.Time{}
	for deadline := time.Now().Add(20 * time.Second); pendingProbes < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("slow client's handler never got stuck (hub stats %+v)", r.hub.Stats())
		}
		before := r.hub.Stats().Coalesced
		if _, err := r.store.Publish(ctx, "slow", bridge.Event{Type: bridge.EventChannelUpdated}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if r.hub.Stats().Coalesced > before {
			if pendingProbes == 0 {
				stuckAt = time.Now().Add(-200 * time.Millisecond)
			}
			pendingProbes++
		} else {
			pendingProbes = 0
		}
	}

	// Events for the fast client while the slow one stays stuck (until the write timeout drops
	// it): only deliveries made while it was still connected count.
	var delays []time.Duration
	for i := 0; i < 30 && r.hub.Clients() == 2; i++ {
		if _, err := r.store.Publish(ctx, "fast", bridge.Event{Type: bridge.EventInteractionUpdated, Message: fmt.Sprint(i), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for {
			f, ok := fast.next(5 * time.Second)
			if !ok {
				t.Fatalf("fast client: no event %d within 5s", i)
			}
			var ev bridge.Event
			_ = json.Unmarshal([]byte(f.data), &ev)
			if ev.Message == fmt.Sprint(i) {
				if r.hub.Clients() == 2 {
					delays = append(delays, f.at.Sub(ev.At))
				}
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(delays) < 5 {
		t.Fatalf("only %d deliveries to the fast client while the slow one was stuck, want at least 5 to judge", len(delays))
	}
	// Were the fast client waiting on the stuck one, nearly every delivery would take until the
	// stuck one is dropped (seconds). The median ignores a scheduling hiccup on a busy machine
	// (the race detector, CI neighbours); locally every delivery takes a few milliseconds.
	inOrder := slices.Clone(delays)
	slices.Sort(delays)
	median, worst := delays[len(delays)/2], delays[len(delays)-1]
	if median > 200*time.Millisecond || worst > writeTimeout/2 {
		t.Errorf("deliveries to the fast client while the slow one was stuck: median %v, worst %v; want under 200ms and %v (all: %v)",
			median, worst, writeTimeout/2, inOrder)
	}
	deadline := time.Now().Add(writeTimeout + 5*time.Second)
	for r.hub.Clients() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stuck client still registered %v after it got stuck, want dropped by the %v write timeout", time.Since(stuckAt), writeTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("deliveries to the fast client: median %v, worst %v of %d; stuck client dropped %v after it was seen stuck",
		median, worst, len(delays), time.Since(stuckAt))
}

// Shutting the server down ends every stream with a reconnect event and a retry hint, and
// Shutdown does not wait for the streams to time out.
func TestSSEShutdownSendsReconnect(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{live: httpapi.LiveEvents{ReconnectSpread: time.Second}})
	tok := sseLogin(t, r.url, "a1")
	id, err := r.store.Publish(context.Background(), "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	if err != nil {
		t.Fatal(err)
	}
	c := openSSE(t, r.url, tok, "")
	for {
		f, ok := c.next(5 * time.Second)
		if !ok {
			t.Fatal("no event before shutdown")
		}
		if f.id == id {
			break
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := r.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want nil (streams ended)", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Shutdown took %v with an open stream, want it prompt", took)
	}
	f, ok := c.next(time.Second)
	if !ok || f.event != "reconnect" {
		t.Fatalf("last frame = %+v (%v), want a reconnect event", f, ok)
	}
	if f.id != "" {
		t.Errorf("reconnect frame has id %q, want none (Last-Event-ID stays the last event's)", f.id)
	}
	var body struct {
		Reason  string `json:"reason"`
		RetryMS int64  `json:"retry_ms"`
	}
	if err := json.Unmarshal([]byte(f.data), &body); err != nil || body.Reason != "shutdown" || body.RetryMS <= 0 {
		t.Errorf("reconnect data = %q (%v), want reason shutdown and retry_ms", f.data, err)
	}
	if f.retry != fmt.Sprint(body.RetryMS) {
		t.Errorf("reconnect retry field = %q, want %d as in its data", f.retry, body.RetryMS)
	}
	if _, ok := c.next(time.Second); ok {
		t.Error("stream goes on after the reconnect event, want it ended")
	}
}

// Announcements are hints: with none at all (no hub subscription), streams still deliver on
// their re-read timer.
func TestSSEReReadCoversLostAnnouncements(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{noHub: true, live: httpapi.LiveEvents{Resync: 100 * time.Millisecond}})
	tok := sseLogin(t, r.url, "a1")
	c := openSSE(t, r.url, tok, "")
	id, err := r.store.Publish(context.Background(), "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, ok := c.next(3 * time.Second)
		if !ok {
			t.Fatal("event not delivered by the re-read timer within 3s")
		}
		if f.id == id {
			return
		}
	}
}

func TestSSEHeartbeat(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{heartbeat: 50 * time.Millisecond})
	tok := sseLogin(t, r.url, "a1")
	c := openSSE(t, r.url, tok, "")
	beats := 0
	timeout := time.After(5 * time.Second)
	for beats < 3 {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if f.comment == "heartbeat" {
				beats++
			}
		case <-timeout:
			t.Fatalf("%d heartbeats in 5s at a 50ms interval, want 3", beats)
		}
	}
}

// The server's ReadTimeout (30s in serve) bounds reading requests; it must not end a stream
// that lives longer.
func TestSSEOutlivesServerReadTimeout(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{server: func(s *http.Server) { s.ReadTimeout = 200 * time.Millisecond }})
	tok := sseLogin(t, r.url, "a1")
	c := openSSE(t, r.url, tok, "")
	time.Sleep(600 * time.Millisecond)
	id, err := r.store.Publish(context.Background(), "a1", bridge.Event{Type: bridge.EventChannelUpdated})
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, ok := c.next(3 * time.Second)
		if !ok {
			t.Fatal("stream ended or stalled after the server's read timeout")
		}
		if f.id == id {
			return
		}
	}
}

func TestSSEBadLastEventIDAndAuth(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	r := newSSEReplica(t, rdb, prefix, sseReplicaOptions{})
	tok := sseLogin(t, r.url, "a1")
	tests := []struct {
		name       string
		give       func(*http.Request)
		wantStatus int
	}{
		{name: "malformed Last-Event-ID", give: func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Last-Event-ID", "../../etc")
		}, wantStatus: http.StatusBadRequest},
		{name: "malformed last_event_id", give: func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok)
			req.URL.RawQuery = "last_event_id=1-x"
		}, wantStatus: http.StatusBadRequest},
		{name: "id beyond what Redis can read after", give: func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Last-Event-ID", "18446744073709551615-18446744073709551615")
		}, wantStatus: http.StatusBadRequest},
		{name: "no token", give: func(*http.Request) {}, wantStatus: http.StatusUnauthorized},
		{name: "forged token", give: func(req *http.Request) {
			req.Header.Set("Authorization", "Bearer "+tok[:len(tok)-2]+"xx")
		}, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, r.url+"/v1/mediabar/events", nil)
			tt.give(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET events = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	if got := r.hub.Stats().Clients; got != 0 {
		t.Errorf("refused requests left %d subscribers", got)
	}
}
