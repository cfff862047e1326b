package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// LiveEvents is the events port with wake-ups: pass it to New instead of the bare store and
// each stream waits for its agent's news instead of polling the store every SSEPoll.
//
//	httpapi.New(opts, svc, httpapi.LiveEvents{Events: store, Wakeups: hub}, ...)
type LiveEvents struct {
	bridge.Events
	// Wakeups tells a stream when its agent's event stream may have grown (adapters/ssehub).
	// Nil: streams poll every Options.SSEPoll, as with a bare bridge.Events.
	Wakeups Wakeups
	// Resync is how often an idle stream re-reads its agent's stream without a wake-up, in
	// case an announcement was lost (they are hints; the stream is the truth). Default 30s:
	// an announcement is only lost with the hub's subscription, and the hub wakes every
	// stream when it subscribes again, so this is a last resort; at 19,000 streams a 5s
	// re-read cost ~3,800 Redis round trips a second and held back delivery.
	Resync time.Duration
	// WriteTimeout bounds writing one frame to the client: a client that does not take it in
	// time is dropped, so a stuck client holds nothing for long. Default 10s.
	WriteTimeout time.Duration
	// ReconnectSpread: at shutdown each stream tells its client to come back after a random
	// delay of up to this (the SSE retry hint), so the other replicas do not get every client
	// in the same second. Default 5s.
	ReconnectSpread time.Duration
	// Presence, when set, is told of every open stream (on open, then in one batch per
	// heartbeat), so diagnostics can say whether the agent's media bar is connected on any
	// replica. sessions.Store implements it.
	Presence StreamPresence
}

// Wakeups tells streams when to read. adapters/ssehub.Hub implements it.
type Wakeups interface {
	// Watch registers a stream of agentID: wake receives a value when the agent's stream may
	// have grown, and is closed when the replica is shutting down. stop unregisters.
	Watch(agentID string) (wake <-chan struct{}, stop func())
}

var _ bridge.Events = LiveEvents{}

const (
	ssePage                = 100 // events per read of the agent's stream
	defaultSSEResync       = 30 * time.Second
	defaultSSEWriteTimeout = 10 * time.Second
	defaultReconnectSpread = 5 * time.Second
	minReconnectRetry      = 500 * time.Millisecond
)

// sseSettings are one stream's timings, from Options and LiveEvents.
type sseSettings struct {
	wakeups         Wakeups
	resync          time.Duration
	heartbeat       time.Duration
	writeTimeout    time.Duration
	reconnectSpread time.Duration
	presence        *presenceBatch // nil: streams are not reported
}

func (a *API) sseSettings() sseSettings {
	s := sseSettings{resync: a.opts.SSEPoll, heartbeat: a.opts.SSEHeartbeat,
		writeTimeout: defaultSSEWriteTimeout, reconnectSpread: defaultReconnectSpread}
	var live LiveEvents
	switch l := a.events.(type) {
	case LiveEvents:
		live = l
	case *LiveEvents:
		live = *l
	default:
		return s
	}
	if live.WriteTimeout > 0 {
		s.writeTimeout = live.WriteTimeout
	}
	if live.ReconnectSpread > 0 {
		s.reconnectSpread = live.ReconnectSpread
	}
	if live.Presence != nil {
		s.presence = a.presenceBatch(live.Presence)
	}
	if live.Wakeups != nil {
		s.wakeups = live.Wakeups
		s.resync = defaultSSEResync
		if live.Resync > 0 {
			s.resync = live.Resync
		}
	}
	return s
}

// handleEvents streams the agent's events as server-sent events. A reconnect with
// Last-Event-ID (or ?last_event_id=) resumes after that id from the agent's stream in the
// store, so nothing is missed whichever replica the reconnect lands on.
//
// The stream reads the store on connect, then whenever the replica's hub wakes it (an append
// to this agent's stream was announced), and on a slow timer in case an announcement was lost.
// It sends a comment when it has been quiet for SSEHeartbeat, drops a client that does not
// take a frame within the write timeout, and when the replica shuts down it sends a
// "reconnect" event (with a retry hint) and ends, so the client resumes on another replica.
func (a *API) handleEvents() echo.HandlerFunc { return a.streamEvents }

// streamEvents is the handler. Its frame and run's stay on the connection goroutine's stack
// for as long as the stream lives, thousands of streams per replica: the work with big frames
// happens in the functions they call, so that while a stream waits the runtime can shrink
// its stack back to 8 KB (BenchmarkSSEIdleStreamMemory measures it).
func (a *API) streamEvents(c echo.Context) error {
	s, err := a.openStream(c)
	if err != nil {
		return err
	}
	defer s.close()
	s.ended = s.run()
	return nil
}

// sseStream is one client's stream: kept small, there are thousands per replica.
type sseStream struct {
	api       *API
	set       sseSettings
	ctx       context.Context
	w         http.ResponseWriter
	rc        *http.ResponseController
	agent     string
	last      string          // id of the last event sent
	wake      <-chan struct{} // nil without wake-ups: never ready, the timer polls
	stopWatch func()
	resync    *time.Timer
	heartbeat *time.Timer
	lastWrite time.Time // for heartbeats
	connID    string    // this stream's name in the agent's presence reports
	failing   bool      // the store is failing; logged once per streak
	ended     string    // why the stream ended, for the log
}

// openStream checks the request, registers with the hub and sends the response header.
func (a *API) openStream(c echo.Context) (*sseStream, error) {
	last := c.Request().Header.Get("Last-Event-ID")
	if last == "" {
		last = c.QueryParam("last_event_id")
	}
	if !validStreamID(last) {
		return nil, newAPIError(http.StatusBadRequest, "malformed", "not a stream id (want <ms>-<seq>)", "Last-Event-ID")
	}
	s := &sseStream{api: a, set: a.sseSettings(), ctx: c.Request().Context(), w: c.Response(),
		rc: http.NewResponseController(c.Response()), agent: agentOf(c), last: last, stopWatch: func() {}}
	if s.set.wakeups != nil {
		// Before the first read: anything appended after it is announced to us.
		s.wake, s.stopWatch = s.set.wakeups.Watch(s.agent)
	}
	h := s.w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	// The first re-read comes at a random point of the interval, so streams opened together
	// (a replica's clients reconnecting after a restart) do not re-read together for ever.
	s.resync = time.NewTimer(s.set.resync/2 + rand.N(s.set.resync/2+1))
	s.heartbeat = time.NewTimer(s.set.heartbeat)
	if s.set.presence != nil {
		// A failed report only makes diagnostics less sure; it never touches the stream.
		s.connID = strconv.FormatUint(rand.Uint64(), 36)
		s.set.presence.opened(s.ctx, bridge.StreamReport{AgentID: s.agent, ConnID: s.connID, LastEventID: s.last})
	}
	return s, nil
}

// run streams until the client goes, is dropped, or the replica shuts down, and says why.
func (s *sseStream) run() string {
	if err := s.send("retry: 1000\n\n"); err != nil {
		return s.dropped(err)
	}
	for {
		if err := s.catchUp(); err != nil {
			return s.dropped(err)
		}
		select {
		case <-s.ctx.Done():
			return s.end("closed")
		case _, ok := <-s.wake:
			if !ok {
				return s.end("shutdown")
			}
			s.resync.Reset(s.set.resync)
		case <-s.resync.C:
			s.resync.Reset(s.set.resync)
		case <-s.heartbeat.C:
			if err := s.beat(); err != nil {
				return s.dropped(err)
			}
		}
	}
}

// close releases what the stream holds and logs why it ended.
func (s *sseStream) close() {
	s.stopWatch()
	if s.set.presence != nil {
		s.set.presence.ended(s.connID)
	}
	s.resync.Stop()
	s.heartbeat.Stop()
	s.api.log.Debug("sse stream closed", "agent_id", s.agent, "reason", s.ended, "last_event_id", s.last)
}

// beat sends a heartbeat comment if nothing was sent for a heartbeat interval, and sets the
// timer for the next one.
func (s *sseStream) beat() error {
	if s.set.presence != nil {
		s.set.presence.delivered(s.connID, s.last)
	}
	idle := time.Since(s.lastWrite)
	if idle < s.set.heartbeat {
		s.heartbeat.Reset(s.set.heartbeat - idle)
		return nil
	}
	s.heartbeat.Reset(s.set.heartbeat)
	return s.send(": heartbeat\n\n")
}

// catchUp sends every event after s.last, a page at a time. It returns an error only when the
// client could not be written to; a store error is logged (once per streak) and retried at
// the next wake-up or re-read.
func (s *sseStream) catchUp() error {
	for {
		evs, err := s.api.events.Read(s.ctx, s.agent, s.last, ssePage)
		if err != nil {
			if s.ctx.Err() == nil && !s.failing {
				s.api.log.Warn("read agent event stream", "agent_id", s.agent, "err", err)
			}
			s.failing = true
			return nil
		}
		s.failing = false
		for _, ev := range evs {
			data, err := json.Marshal(ev)
			if err != nil { // cannot happen with the core's types; skip rather than stall
				s.api.log.Error("encode agent event", "agent_id", s.agent, "event_id", ev.ID, "err", err)
				s.last = ev.ID
				continue
			}
			// Ids and types are ours; data is JSON (no raw newlines), so a frame cannot be split.
			if err := s.sendf("id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data); err != nil {
				return err
			}
			s.last = ev.ID
		}
		if len(evs) > 0 {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if len(evs) < ssePage {
			return nil
		}
	}
}

// end sends the last frame, a reconnect event saying when to come back, and returns reason.
// It has no id, so the client's Last-Event-ID stays the last event it got. When the request
// ended because the client went, the write fails quietly.
func (s *sseStream) end(reason string) string {
	retry := minReconnectRetry + rand.N(s.set.reconnectSpread)
	if err := s.sendf("retry: %d\nevent: reconnect\ndata: {\"reason\":%q,\"retry_ms\":%d}\n\n",
		retry.Milliseconds(), reason, retry.Milliseconds()); err == nil {
		_ = s.flush()
	}
	return reason
}

// send writes and flushes a frame within the write timeout.
func (s *sseStream) send(frame string) error {
	if err := s.write(func() error { _, err := fmt.Fprint(s.w, frame); return err }); err != nil {
		return err
	}
	return s.flush()
}

func (s *sseStream) sendf(format string, args ...any) error {
	return s.write(func() error { _, err := fmt.Fprintf(s.w, format, args...); return err })
}

// write runs one frame write under a fresh write deadline: a client that stopped reading
// fails it instead of holding the handler (and its connection) for ever.
func (s *sseStream) write(w func() error) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.set.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if err := w(); err != nil {
		return err
	}
	s.lastWrite = time.Now()
	return nil
}

func (s *sseStream) flush() error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.set.writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return s.rc.Flush()
}

// dropped names why a write failed, logging a client that was too slow (the one worth
// knowing about: a client that hung up is ordinary).
func (s *sseStream) dropped(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.api.log.Info("sse client too slow; dropped", "agent_id", s.agent, "write_timeout", s.set.writeTimeout)
		return "write timed out"
	}
	return "write failed"
}

// validStreamID accepts "" or a Redis stream id a read can start after: <ms> or <ms>-<seq>,
// each a decimal uint64, and not the largest id (Redis refuses to start after it). Anything
// else would be accepted here and then fail every read, so the stream would never deliver.
func validStreamID(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 41 {
		return false
	}
	msPart, seqPart, found := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return false
	}
	if !found {
		return true
	}
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	return err == nil && (ms != math.MaxUint64 || seq != math.MaxUint64)
}
