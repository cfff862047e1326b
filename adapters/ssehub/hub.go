// Package ssehub wakes a replica's server-sent-event streams when their agent has news. It
// holds ONE Redis subscription per replica, on the channel where the store announces every
// append to an agent's event stream, and fans each announcement out in process to the
// streams of that agent.
//
// A wake-up is a hint, never the data: the agent's Redis stream is the truth, and a woken
// stream re-reads it from the last id it sent. So the hub may coalesce wake-ups and may lose
// announcements (Redis does not queue pub/sub messages for a dropped connection) without
// losing events: every subscriber is woken when the subscription is (re)established, and
// streams re-read on a slow timer of their own as well.
//
// Each subscriber is a 1-slot channel. Fan-out never blocks: a full slot means a wake-up is
// already pending, and one wake-up makes the stream read everything new. A slow client
// therefore costs the hub nothing, and a subscriber costs one small channel: no goroutine,
// no buffer.
package ssehub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// Options tune the hub. Zero values take the defaults shown.
type Options struct {
	// PingEvery: when the subscription has been silent this long the hub pings Redis, and
	// when the ping is not answered within another PingEvery it replaces the connection (a
	// peer that vanished without closing TCP). Default 5s.
	PingEvery time.Duration
	// BackoffMin and BackoffMax bound the wait between attempts to re-establish a lost
	// subscription (doubling, with jitter). Defaults 100ms and 5s.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// Logger receives subscription losses and recoveries. Default: discarded.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.PingEvery <= 0 {
		o.PingEvery = 5 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(5*time.Second, o.BackoffMin)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Hub is one replica's registry of event-stream subscribers and its subscription to the
// announcements channel. It is safe for concurrent use.
type Hub struct {
	client  redis.UniversalClient
	channel string
	opts    Options

	mu     sync.RWMutex
	agents map[string][]chan struct{} // agent id → wake slots of its subscribers
	closed bool

	done      chan struct{} // closed by Close
	closeOnce sync.Once

	clients       atomic.Int64
	subscribed    atomic.Bool
	notifications atomic.Uint64
	malformed     atomic.Uint64
	wakeups       atomic.Uint64
	coalesced     atomic.Uint64
	resubscribes  atomic.Uint64
	lost          atomic.Uint64
}

// New returns a hub that follows channel on client once Run is called. channel is the store's
// announcements channel (sessions.KeySpace.EventsChannel); each message on it is the JSON
// object {"agent_id": "...", "id": "<stream id>"}.
func New(client redis.UniversalClient, channel string, opts Options) *Hub {
	return &Hub{
		client: client, channel: channel, opts: opts.withDefaults(),
		agents: map[string][]chan struct{}{},
		done:   make(chan struct{}),
	}
}

// closedWake is what Watch hands out once the hub is closed.
var closedWake = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Watch registers a subscriber for agentID. A value arrives on wake whenever the agent's
// stream may hold events the subscriber has not read (several announcements may arrive as one
// wake-up); wake is closed when the hub closes (the replica is shutting down: tell the client
// to reconnect elsewhere). stop unregisters; it is idempotent. Register before the first read
// of the stream, so nothing appended after that read can go unannounced.
func (h *Hub) Watch(agentID string) (wake <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return closedWake, func() {}
	}
	h.agents[agentID] = append(h.agents[agentID], ch)
	h.mu.Unlock()
	h.clients.Add(1)
	return ch, func() { h.unwatch(agentID, ch) }
}

func (h *Hub) unwatch(agentID string, ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := h.agents[agentID]
	for i, c := range subs {
		if c != ch {
			continue
		}
		last := len(subs) - 1
		subs[i], subs[last] = subs[last], nil
		if last == 0 {
			delete(h.agents, agentID)
		} else {
			h.agents[agentID] = subs[:last]
		}
		h.clients.Add(-1)
		return
	}
}

// Wake wakes every subscriber of agentID without blocking. Run calls it for each
// announcement; it is exported for publishers in the same process and for tests.
func (h *Hub) Wake(agentID string) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, ch := range h.agents[agentID] {
		h.poke(ch)
	}
}

// WakeAll wakes every subscriber of every agent: after the subscription was (re)established,
// announcements made while it was down are lost, so everyone re-reads.
func (h *Hub) WakeAll() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, subs := range h.agents {
		for _, ch := range subs {
			h.poke(ch)
		}
	}
}

// poke fills ch's slot unless a wake-up is already pending there. Callers hold h.mu (read),
// so Close cannot close ch meanwhile.
func (h *Hub) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
		h.wakeups.Add(1)
	default:
		h.coalesced.Add(1)
	}
}

// Close closes every subscriber's wake channel and stops Run. Later Watch calls get a closed
// channel. Call it when the replica starts shutting down (http.Server.RegisterOnShutdown), so
// that long-lived streams end promptly with a reconnect hint instead of holding Shutdown.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		n := 0
		for _, subs := range h.agents {
			for _, ch := range subs {
				close(ch)
				n++
			}
		}
		h.agents = nil
		h.mu.Unlock()
		h.clients.Add(-int64(n))
		close(h.done)
	})
}

// Run follows the announcements channel until ctx ends or Close is called, re-establishing
// the subscription with backoff whenever Redis drops it, and closes the hub on return. It
// returns nil: losing Redis is waited out, not an error.
func (h *Hub) Run(ctx context.Context) error {
	defer h.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends with Run: cancel fires on return
		select {
		case <-h.done:
			cancel()
		case <-ctx.Done():
		}
	}()

	backoff := h.opts.BackoffMin
	for {
		confirmed := h.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		h.lost.Add(1)
		if confirmed {
			backoff = h.opts.BackoffMin
		}
		// Full jitter between half and all of the backoff: replicas that lost Redis together do
		// not all come back in the same millisecond.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, h.opts.BackoffMax)
	}
}

// follow runs one subscription connection until it fails or ctx ends, and reports whether
// Redis confirmed the subscription on it.
func (h *Hub) follow(ctx context.Context) (confirmed bool) {
	ps := h.client.Subscribe(ctx, h.channel) // an error here surfaces in the first Receive
	defer ps.Close()
	// go-redis does not interrupt a blocked read when ctx ends; closing the connection does.
	stopUnblock := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stopUnblock()
	defer h.subscribed.Store(false)

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, h.opts.PingEvery)
		if ctx.Err() != nil {
			return confirmed
		}
		if err != nil {
			if isTimeout(err) {
				if pinged {
					err = errNoPong
				} else if err = ps.Ping(ctx); err == nil {
					pinged = true
					continue
				}
			}
			h.opts.Logger.Warn("event announcements subscription lost; streams fall back to their re-read timer until it is back",
				"channel", h.channel, "err", err)
			return confirmed
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == h.channel {
				if h.resubscribes.Add(1) > 1 {
					h.opts.Logger.Info("event announcements subscription re-established", "channel", h.channel)
				}
				confirmed = true
				h.subscribed.Store(true)
				h.WakeAll()
			}
		case *redis.Message:
			h.announce(m.Payload)
		}
	}
}

// announcement is the payload the store publishes with every append (sessions.Notification).
type announcement struct {
	AgentID string `json:"agent_id"`
	ID      string `json:"id"`
}

func (h *Hub) announce(payload string) {
	h.notifications.Add(1)
	agentID, ok := agentOf(payload)
	if !ok {
		h.malformed.Add(1)
		return
	}
	h.Wake(agentID)
}

// agentOf reads the agent id of an announcement; false if it is malformed or names none.
// Every replica reads every announcement, whichever agent it is for, so the store's own form,
// {"agent_id":"<id>","id":"<stream id>"} with nothing to unescape, is cut out directly;
// anything else goes through encoding/json, with the same result (FuzzAgentOf).
func agentOf(payload string) (string, bool) {
	const head, mid, tail = `{"agent_id":"`, `","id":"`, `"}`
	if rest, ok := strings.CutPrefix(payload, head); ok {
		if agent, id, ok := strings.Cut(rest, mid); ok && plainJSONString(agent) && agent != "" {
			if id, ok := strings.CutSuffix(id, tail); ok && plainJSONString(id) {
				return agent, true
			}
		}
	}
	var a announcement
	if err := json.Unmarshal([]byte(payload), &a); err != nil || a.AgentID == "" {
		return "", false
	}
	return a.AgentID, true
}

// plainJSONString: s can stand between JSON quotes as it is and reads back unchanged: valid
// UTF-8 without quotes, backslashes or control characters.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}

var errNoPong = errors.New("no answer to ping")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Stats are the hub's counters, for metrics.
type Stats struct {
	// Clients is the number of subscribers registered now (open SSE streams on this replica).
	Clients int64
	// Subscribed tells whether the announcements subscription is up.
	Subscribed bool
	// Notifications counts announcements received; Malformed those that could not be read.
	Notifications uint64
	Malformed     uint64
	// Wakeups counts wake-ups handed to a subscriber; Coalesced those not needed because one
	// was already pending (a slow or busy stream).
	Wakeups   uint64
	Coalesced uint64
	// Subscribes counts confirmed subscriptions (the first one included); Lost counts
	// subscription connections lost.
	Subscribes uint64
	Lost       uint64
}

// Clients is the number of subscribers registered now: the SSE clients gauge.
func (h *Hub) Clients() int { return int(h.clients.Load()) }

// Stats returns the counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Clients: h.clients.Load(), Subscribed: h.subscribed.Load(),
		Notifications: h.notifications.Load(), Malformed: h.malformed.Load(),
		Wakeups: h.wakeups.Load(), Coalesced: h.coalesced.Load(),
		Subscribes: h.resubscribes.Load(), Lost: h.lost.Load(),
	}
}
