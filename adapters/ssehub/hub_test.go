package ssehub_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/ssehub"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

const within = 5 * time.Second

// running is a hub following a real Redis, with the store whose Publish announces to it.
type running struct {
	hub    *ssehub.Hub
	store  *sessions.Store
	client redis.UniversalClient // the hub's own client, named so a test can find its connection
	name   string
}

func startHub(t *testing.T) *running {
	t.Helper()
	rdb, prefix := sessionstest.Redis(t)
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	r := &running{store: store, client: rdb}
	if c, ok := rdb.(*redis.Client); ok {
		// A client of its own with a name, so CLIENT LIST can point at the hub's connection.
		o := *c.Options()
		r.name = "ssehub-test-" + randomHex(t)
		o.ClientName = r.name
		r.client = redis.NewClient(&o)
		t.Cleanup(func() { _ = r.client.Close() })
	}
	r.hub = ssehub.New(r.client, store.Keys().EventsChannel(), ssehub.Options{
		PingEvery: 500 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.hub.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(t, "the hub's first subscription", func() bool { return r.hub.Stats().Subscribed })
	return r
}

func (r *running) publish(t *testing.T, agent string) {
	t.Helper()
	if _, err := r.store.Publish(context.Background(), agent, bridge.Event{Type: bridge.EventChannelUpdated}); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func waitWake(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case _, ok := <-ch:
		if !ok {
			t.Fatalf("%s: wake channel closed, want a wake-up", what)
		}
	case <-time.After(within):
		t.Fatalf("%s: no wake-up within %v", what, within)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestFanOutToEverySubscriberOfTheAgent(t *testing.T) {
	r := startHub(t)
	const many = 500
	var a1, a2 []<-chan struct{}
	for range many {
		w, stop := r.hub.Watch("a1")
		t.Cleanup(stop)
		a1 = append(a1, w)
	}
	for range 3 {
		w, stop := r.hub.Watch("a2")
		t.Cleanup(stop)
		a2 = append(a2, w)
	}
	if got := r.hub.Stats().Clients; got != many+3 {
		t.Errorf("Stats().Clients = %d, want %d", got, many+3)
	}

	r.publish(t, "a1")
	for i, w := range a1 {
		waitWake(t, fmt.Sprintf("a1 subscriber %d", i), w)
	}
	for i, w := range a2 {
		if woken(w) {
			t.Errorf("a2 subscriber %d woken by an event of a1", i)
		}
	}
	r.publish(t, "a2")
	for _, w := range a2 {
		waitWake(t, "a2 subscriber", w)
	}
	// A wake-up is counted just after it is handed over, so the last count may trail the
	// last wake-up a subscriber saw by a moment (a CI run read 502 of 503).
	st := r.hub.Stats()
	for deadline := time.Now().Add(time.Second); (st.Notifications < 2 || st.Wakeups < many+3) && time.Now().Before(deadline); st = r.hub.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.Notifications < 2 || st.Wakeups < many+3 {
		t.Errorf("Stats() = %+v, want at least 2 notifications and %d wake-ups", st, many+3)
	}
}

// A subscriber that never takes its wake-ups (a stream stuck writing to a slow client) costs
// one pending slot: fan-out to the others goes on.
func TestSubscriberThatNeverReadsDoesNotBlockOthers(t *testing.T) {
	r := startHub(t)
	_, stopStuck := r.hub.Watch("a1") // never read
	defer stopStuck()
	fast, stopFast := r.hub.Watch("a1")
	defer stopFast()
	other, stopOther := r.hub.Watch("a2")
	defer stopOther()

	const n = 100
	for i := range n {
		r.publish(t, "a1")
		waitWake(t, "fast subscriber of the same agent", fast)
		r.publish(t, "a2")
		waitWake(t, "subscriber of another agent", other)
		if i == 0 && r.hub.Stats().Coalesced != 0 {
			t.Errorf("Stats().Coalesced = %d after the first event, want 0", r.hub.Stats().Coalesced)
		}
	}
	if got := r.hub.Stats().Coalesced; got < n-1 {
		t.Errorf("Stats().Coalesced = %d, want at least %d (the stuck subscriber's wake-ups)", got, n-1)
	}
}

// Without Redis at all: Wake never waits for a subscriber.
func TestWakeNeverBlocks(t *testing.T) {
	h := ssehub.New(nil, "unused", ssehub.Options{})
	defer h.Close()
	w, stop := h.Watch("a1")
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100000 {
			h.Wake("a1")
			h.WakeAll()
		}
	}()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatal("Wake blocked on a subscriber that does not read")
	}
	if !woken(w) {
		t.Error("subscriber has no pending wake-up after Wake")
	}
	if woken(w) {
		t.Error("subscriber has a second pending wake-up, want them coalesced into one")
	}
}

// When Redis drops the subscription, the hub subscribes again and wakes every subscriber:
// announcements made meanwhile are lost, so everyone re-reads.
func TestResubscribeAfterKillWakesEverySubscriber(t *testing.T) {
	r := startHub(t)
	if r.name == "" {
		t.Skip("the hub's connection cannot be named on this client")
	}
	w1, stop1 := r.hub.Watch("a1")
	defer stop1()
	w2, stop2 := r.hub.Watch("a2")
	defer stop2()

	if woken(w1) || woken(w2) {
		t.Fatal("subscribers woken before the kill")
	}
	ctx := context.Background()
	list, err := r.client.ClientList(ctx).Result()
	if err != nil {
		t.Skipf("CLIENT LIST: %v", err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != r.name || fields["sub"] == "0" {
			continue
		}
		if err := r.client.ClientKillByFilter(ctx, "ID", fields["id"]).Err(); err != nil {
			t.Fatalf("CLIENT KILL ID %s: %v", fields["id"], err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscribed connections named %s, want the hub's one", killed, r.name)
	}

	waitWake(t, "a1 after resubscribe", w1)
	waitWake(t, "a2 after resubscribe", w2)
	waitFor(t, "resubscription", func() bool { st := r.hub.Stats(); return st.Subscribed && st.Subscribes >= 2 })
	if st := r.hub.Stats(); st.Lost < 1 {
		t.Errorf("Stats().Lost = %d, want at least 1", st.Lost)
	}
	// And the new subscription carries announcements.
	for woken(w1) {
	}
	r.publish(t, "a1")
	waitWake(t, "a1 after a publish on the new subscription", w1)
}

// A connection that goes silent without closing (a peer gone, a network partition) is found
// by the unanswered ping and replaced.
func TestSilentConnectionIsReplaced(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	c, ok := rdb.(*redis.Client)
	if !ok {
		t.Skip("needs a standalone client")
	}
	p := newFreezingProxy(t, c.Options().Addr)
	o := *c.Options()
	o.Addr = p.addr()
	client := redis.NewClient(&o)
	defer client.Close()
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	h := ssehub.New(client, store.Keys().EventsChannel(), ssehub.Options{
		PingEvery: 100 * time.Millisecond, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = h.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	waitFor(t, "subscription", func() bool { return h.Stats().Subscribed })
	w, stop := h.Watch("a1")
	defer stop()

	p.freeze() // existing connections stop carrying anything, without closing
	waitWake(t, "wake-up after the silent connection was replaced", w)
	if st := h.Stats(); st.Lost < 1 || st.Subscribes < 2 {
		t.Errorf("Stats() = %+v, want a lost connection and a second subscription", st)
	}
	for woken(w) {
	}
	if _, err := store.Publish(ctx, "a1", bridge.Event{Type: bridge.EventChannelUpdated}); err != nil {
		t.Fatal(err)
	}
	waitWake(t, "a1 after a publish on the new connection", w)
}

// freezingProxy forwards TCP to Redis; freeze makes the connections open so far go silent.
type freezingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	frozen []chan struct{} // one per connection; closed = frozen
	wg     sync.WaitGroup
	conns  []net.Conn
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

func (p *freezingProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		frozen := make(chan struct{})
		p.mu.Lock()
		p.frozen = append(p.frozen, frozen)
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Go(func() { pipe(out, in, frozen) })
		p.wg.Go(func() { pipe(in, out, frozen) })
	}
}

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		close(f)
	}
	p.frozen = nil
}

// pipe copies from src to dst until either fails; once frozen it drops what it reads.
func pipe(dst, src net.Conn, frozen <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			_ = dst.Close()
			return
		}
		select {
		case <-frozen:
			continue
		default:
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			_ = src.Close()
			return
		}
	}
}

func TestCloseEndsEveryWatch(t *testing.T) {
	r := startHub(t)
	w1, stop1 := r.hub.Watch("a1")
	w2, _ := r.hub.Watch("a1")
	r.hub.Close()
	for i, w := range []<-chan struct{}{w1, w2} {
		select {
		case _, ok := <-w:
			if ok {
				// A wake-up may have been pending; the close follows it.
				if _, ok := <-w; ok {
					t.Errorf("watch %d: got two values after Close, want the channel closed", i)
				}
			}
		case <-time.After(within):
			t.Errorf("watch %d: channel not closed by Close", i)
		}
	}
	stop1()
	stop1() // idempotent
	late, stopLate := r.hub.Watch("a1")
	defer stopLate()
	if _, ok := <-late; ok {
		t.Error("Watch after Close: channel open, want closed")
	}
	if got := r.hub.Stats().Clients; got != 0 {
		t.Errorf("Stats().Clients after Close = %d, want 0", got)
	}
	r.hub.Close() // idempotent
}

func TestStopUnregisters(t *testing.T) {
	h := ssehub.New(nil, "unused", ssehub.Options{})
	defer h.Close()
	w1, stop1 := h.Watch("a1")
	w2, stop2 := h.Watch("a1")
	defer stop2()
	stop1()
	stop1()
	if got := h.Stats().Clients; got != 1 {
		t.Errorf("Stats().Clients = %d, want 1", got)
	}
	h.Wake("a1")
	if woken(w1) {
		t.Error("stopped watch was woken")
	}
	if !woken(w2) {
		t.Error("remaining watch was not woken")
	}
}

func TestRunReturnsOnClose(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	h := ssehub.New(rdb, prefix+":events", ssehub.Options{PingEvery: time.Minute})
	done := make(chan error, 1)
	go func() { done <- h.Run(context.Background()) }()
	waitFor(t, "subscription", func() bool { return h.Stats().Subscribed })
	h.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(within):
		t.Fatal("Run still running after Close")
	}
}
