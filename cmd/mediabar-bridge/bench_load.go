package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
)

// The load generator sends signed interaction.routed webhooks, one routing each of a distinct
// chat, over C keep-alive connections. It is a closed loop: each connection sends its next
// webhook when its previous pop has finished, so C is the number of pops in flight and the
// latency is that of a pop, not of a queue the generator filled. A pop's latency runs from
// the moment its webhook is sent to the moment its leg is offered (or failed): for the floor
// that is the webhook's answer; for the bridge, whose webhook answer comes before the pop,
// the leg's offered event on the agent's stream (popTracker).

// roundSize is how many pops run between two resets of the mock CRM, so that every run,
// however long, sees a mock of the same size (its chats, its event log) and the runs compare.
const roundSize = 1000

// popTimeout: a pop not finished this long after its webhook counts as an error.
const popTimeout = 30 * time.Second

// loadSpec is one run of the load generator.
type loadSpec struct {
	name     string
	url      string // the webhook URL
	conns    int
	duration time.Duration // measured time to run for, when pops is 0
	pops     int           // pops to run, when not 0
	// tracker, when set, says when a pop finished (the bridge); nil means the webhook's
	// answer is the pop's end (the floor), and carries its code.
	tracker *popTracker
}

// loadResult is one run's figures.
type loadResult struct {
	Name       string  `json:"name"`
	Conns      int     `json:"conns"`
	Pops       int     `json:"pops"`
	Seconds    float64 `json:"seconds"`
	PopsPerSec float64 `json:"pops_per_sec"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	P999MS     float64 `json:"p99_9_ms"`
	// Failed pops ended other than offered (a CRM refusal); Errors never finished (a webhook
	// refused, or no outcome within popTimeout).
	Failed     int    `json:"failed"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// RedisRoundTripsPerPop and RedisCommandsPerPop are what the server under test (bridge
	// or floor) sent Redis per pop, everything included (webhook, pop, events, workers'
	// idle polls); a pipeline or transaction is one round trip.
	RedisRoundTripsPerPop float64 `json:"redis_round_trips_per_pop"`
	RedisCommandsPerPop   float64 `json:"redis_commands_per_pop"`
	// CPUMSPerPop is this process's CPU time (user + system) per pop: the server under test,
	// the mock CRM and the load together (Redis not included). Unlike pops/s it barely
	// moves with what else the machine runs.
	CPUMSPerPop float64 `json:"cpu_ms_per_pop"`
	// RedisCPUMSPerPop is the Redis server's CPU time per pop (INFO cpu), everything that ran
	// on it meanwhile included; 0 where the server does not report it. Redis shares the
	// cores: its work is on every pop's path.
	RedisCPUMSPerPop float64 `json:"redis_cpu_ms_per_pop"`
}

// loadGen drives runs against the env's mock CRM with a fixed set of agents.
type loadGen struct {
	env    *benchEnv
	agents []benchAgent
	hc     *http.Client
	run    string       // distinguishes this bench's interaction ids
	n      atomic.Int64 // interaction counter
}

func newLoadGen(env *benchEnv, agents []benchAgent, maxConns int) *loadGen {
	tr := &http.Transport{MaxIdleConns: 2 * maxConns, MaxIdleConnsPerHost: 2 * maxConns, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &loadGen{env: env, agents: agents, hc: &http.Client{Transport: tr, Timeout: popTimeout},
		run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
}

func (g *loadGen) close() { g.hc.CloseIdleConnections() }

// popJob is one routing to deliver.
type popJob struct {
	agent  benchAgent
	chatID string
}

// popOutcome is how one pop ended.
type popOutcome struct {
	latency time.Duration
	failed  bool
	err     error
}

// measure runs a short unrecorded warm-up (connections, pools, caches), then the run.
func (g *loadGen) measure(ctx context.Context, spec loadSpec) (loadResult, error) {
	warm := spec
	warm.duration, warm.pops = min(max(spec.duration/10, 200*time.Millisecond), time.Second), 0
	if _, err := g.rounds(ctx, warm); err != nil {
		return loadResult{}, fmt.Errorf("%s warm-up: %w", spec.name, err)
	}
	trips0, cmds0 := g.env.trips.snapshot()
	rcpu0, rok0 := g.env.redisCPU(ctx)
	cpu0 := processCPU()
	res, err := g.rounds(ctx, spec)
	cpu1 := processCPU()
	rcpu1, rok1 := g.env.redisCPU(ctx)
	trips1, cmds1 := g.env.trips.snapshot()
	if res.Pops > 0 {
		res.RedisRoundTripsPerPop = float64(trips1-trips0) / float64(res.Pops)
		res.RedisCommandsPerPop = float64(cmds1-cmds0) / float64(res.Pops)
		res.CPUMSPerPop = float64((cpu1 - cpu0).Microseconds()) / 1000 / float64(res.Pops)
		if rok0 && rok1 {
			res.RedisCPUMSPerPop = float64((rcpu1 - rcpu0).Microseconds()) / 1000 / float64(res.Pops)
		}
	}
	return res, err
}

// rounds runs spec in rounds of roundSize pops; the mock CRM is reset and the round's chats
// are created before each round, outside the measured time.
func (g *loadGen) rounds(ctx context.Context, spec loadSpec) (loadResult, error) {
	res := loadResult{Name: spec.name, Conns: spec.conns}
	var lat []time.Duration
	var active time.Duration
	for {
		size := roundSize
		if spec.pops > 0 {
			size = min(size, spec.pops-res.Pops-res.Errors)
		} else if active >= spec.duration {
			break
		}
		if size <= 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if err := g.env.seedCRM(g.agents); err != nil {
			return res, err
		}
		jobs := make([]popJob, size)
		for i := range jobs {
			a := g.agents[i%len(g.agents)]
			chat, err := g.env.crm.CreateChat(g.env.site, g.env.queue, "Bench customer")
			if err != nil {
				return res, fmt.Errorf("create chat: %w", err)
			}
			jobs[i] = popJob{agent: a, chatID: chat}
		}
		var stopAt time.Time
		if spec.pops == 0 {
			stopAt = time.Now().Add(spec.duration - active)
		}
		start := time.Now()
		outs := g.round(ctx, spec, jobs, stopAt)
		active += time.Since(start)
		for _, o := range outs {
			switch {
			case o.err != nil:
				res.Errors++
				if res.FirstError == "" {
					res.FirstError = o.err.Error()
				}
			default:
				res.Pops++
				lat = append(lat, o.latency)
				if o.failed {
					res.Failed++
				}
			}
		}
		if res.Errors > 0 && res.Pops == 0 {
			return res, fmt.Errorf("%s: every pop failed, the first with: %s", spec.name, res.FirstError)
		}
	}
	res.Seconds = active.Seconds()
	if res.Seconds > 0 {
		res.PopsPerSec = float64(res.Pops) / res.Seconds
	}
	slices.Sort(lat)
	res.P50MS, res.P99MS, res.P999MS = percentileMS(lat, 0.50), percentileMS(lat, 0.99), percentileMS(lat, 0.999)
	return res, nil
}

// round delivers the jobs over spec.conns connections; none is started after stopAt (when
// set). It returns the outcome of every job started.
func (g *loadGen) round(ctx context.Context, spec loadSpec, jobs []popJob, stopAt time.Time) []popOutcome {
	next := atomic.Int64{}
	var mu sync.Mutex
	outs := make([]popOutcome, 0, len(jobs))
	var wg sync.WaitGroup
	for range spec.conns {
		wg.Go(func() {
			var mine []popOutcome
			for ctx.Err() == nil && (stopAt.IsZero() || time.Now().Before(stopAt)) {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					break
				}
				mine = append(mine, g.pop(ctx, spec, jobs[i]))
			}
			mu.Lock()
			outs = append(outs, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return outs
}

// pop delivers one routing and waits for its pop to finish.
func (g *loadGen) pop(ctx context.Context, spec loadSpec, job popJob) popOutcome {
	iid := "bench-" + g.run + "-" + strconv.FormatInt(g.n.Add(1), 10)
	key := bridge.LegKey{InteractionID: iid, RoutingID: "r1"}
	body, err := acdapi.Build(acdapi.TypeRouted, time.Now(), acdapi.Routed{
		InteractionID: iid, RoutingID: key.RoutingID, ChatID: job.chatID, Site: g.env.site, QueueID: g.env.queue,
		AgentID: job.agent.acdID, CRMAccountID: job.agent.account, RouteType: string(bridge.RouteLead),
	})
	if err != nil {
		return popOutcome{err: err}
	}
	var done <-chan bridge.State
	if spec.tracker != nil {
		done = spec.tracker.expect(iid)
		defer spec.tracker.forget(iid)
	}
	sent := time.Now()
	ans, err := g.deliver(ctx, spec.url, "evt-"+iid, body)
	if err != nil {
		return popOutcome{err: err}
	}
	if spec.tracker == nil {
		return popOutcome{latency: time.Since(sent), failed: ans.Code != "SUCCESS"}
	}
	state, err := spec.tracker.wait(ctx, key, done, sent)
	if err != nil {
		return popOutcome{err: err}
	}
	return popOutcome{latency: time.Since(sent), failed: state != bridge.StateOffered && state != bridge.StateActive}
}

// webhookReply is the part of a webhook answer the generator reads; Code is the floor's.
type webhookReply struct {
	Status string `json:"status"`
	Code   string `json:"code"`
}

// deliver posts one webhook, signed now, and reads the answer.
func (g *loadGen) deliver(ctx context.Context, url, eventID string, body []byte) (webhookReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return webhookReply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range acdapi.Headers(g.env.secret, eventID, time.Now(), body) {
		req.Header.Set(k, v)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return webhookReply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return webhookReply{}, err
	}
	var ans webhookReply
	_ = json.Unmarshal(raw, &ans)
	if resp.StatusCode != http.StatusAccepted || ans.Status != "accepted" {
		return ans, fmt.Errorf("webhook answered %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return ans, nil
}

func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i].Microseconds()) / 1000
}

// popTracker learns when the bridge finished a pop by following the agents' event streams,
// as their media bars do: the pop's last step publishes the offered (or failed) leg there.
// It follows them the way the replicas' SSE hubs do (adapters/ssehub): the store announces
// every appended event on one pub/sub channel, and an announcement makes the tracker read
// that agent's stream past what it has seen. One goroutine reads every announced stream in
// one pipeline, so the observer costs the run little: a blocking XREAD per agent stream
// cost this process ~50 µs and Redis ~20 µs per pop, a tenth of the bridge run's CPU, all of
// it charged to the bridge (the floor needs no observer: its webhook answer ends its pop).
type popTracker struct {
	rdb     redis.UniversalClient
	store   *sessions.Store
	channel string
	pubsub  *redis.PubSub

	mu      sync.Mutex
	waiting map[string]chan bridge.State // by interaction id
	dirty   map[string]bool              // agents announced since the last read
	wake    chan struct{}                // a read is due (capacity 1)
}

func newPopTracker(rdb redis.UniversalClient, prefix string) *popTracker {
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	return &popTracker{
		rdb: rdb, store: store, channel: store.Keys().EventsChannel(),
		waiting: map[string]chan bridge.State{}, dirty: map[string]bool{}, wake: make(chan struct{}, 1),
	}
}

func (t *popTracker) expect(iid string) <-chan bridge.State {
	ch := make(chan bridge.State, 1)
	t.mu.Lock()
	t.waiting[iid] = ch
	t.mu.Unlock()
	return ch
}

func (t *popTracker) forget(iid string) {
	t.mu.Lock()
	delete(t.waiting, iid)
	t.mu.Unlock()
}

// wait returns the pop's final state. Should the stream miss it (trimmed under a backlog,
// or its announcement lost), the leg is read from the store once a second instead.
func (t *popTracker) wait(ctx context.Context, key bridge.LegKey, done <-chan bridge.State, sent time.Time) (bridge.State, error) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case st := <-done:
			return st, nil
		case <-ctx.Done():
			return "", ctx.Err()
		case <-tick.C:
			if in, err := t.store.GetLeg(ctx, key); err == nil && popFinished(in.State) {
				return in.State, nil
			}
			if time.Since(sent) > popTimeout {
				return "", fmt.Errorf("pop %s not finished within %s", key, popTimeout)
			}
		}
	}
}

func popFinished(s bridge.State) bool {
	return s != bridge.StateRouted && s != bridge.StatePopping
}

// trackerPoolSize is the tracker's Redis pool: the subscription, the reader's pipeline, and
// a few connections for its fallback reads of the store.
const trackerPoolSize = 8

// subscribe subscribes to the announcements and returns once Redis confirmed it, so that no
// pop sent after it returns goes unannounced. Call it before run.
func (t *popTracker) subscribe(ctx context.Context) error {
	t.pubsub = t.rdb.Subscribe(ctx, t.channel)
	if _, err := t.pubsub.Receive(ctx); err != nil {
		_ = t.pubsub.Close()
		return fmt.Errorf("pop tracker: subscribe to %s: %w", t.channel, err)
	}
	return nil
}

// run follows the announcements and reads the streams until ctx ends; it closes the
// subscription on return.
func (t *popTracker) run(ctx context.Context) {
	defer t.pubsub.Close()
	var wg sync.WaitGroup
	wg.Go(func() { t.read(ctx) })
	for ctx.Err() == nil {
		msg, err := t.pubsub.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond) // go-redis resubscribes; wait() covers the gap
			}
			continue
		}
		var n sessions.Notification
		if json.Unmarshal([]byte(msg.Payload), &n) != nil || n.AgentID == "" {
			continue
		}
		t.mu.Lock()
		t.dirty[n.AgentID] = true
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default: // a read is already due; it will see this agent
		}
	}
	wg.Wait()
}

// read reads, whenever announcements arrived, every announced agent's stream past the last
// entry it saw, in one pipeline (announcements that arrive meanwhile make the next one).
func (t *popTracker) read(ctx context.Context) {
	last := map[string]string{} // by agent: the last entry seen; the prefix is the bench's own
	var agents []string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
		}
		t.mu.Lock()
		agents = agents[:0]
		for a := range t.dirty {
			agents = append(agents, a)
		}
		clear(t.dirty)
		t.mu.Unlock()
		cmds := make([]*redis.XMessageSliceCmd, len(agents))
		_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, a := range agents {
				from := "-"
				if id, ok := last[a]; ok {
					from = "(" + id
				}
				cmds[i] = p.XRangeN(ctx, t.store.Keys().Events(a), from, "+", 1000)
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			// Read them again with the next announcement; wait() covers a pop meanwhile.
			t.mu.Lock()
			for _, a := range agents {
				t.dirty[a] = true
			}
			t.mu.Unlock()
			continue
		}
		for i, a := range agents {
			for _, m := range cmds[i].Val() {
				last[a] = m.ID
				raw, _ := m.Values["event"].(string)
				t.see(raw)
			}
		}
	}
}

// see signals the pop an event finishes, if any.
func (t *popTracker) see(raw string) {
	iid, state, ok := legOfEvent(raw)
	if !ok || !popFinished(state) {
		return
	}
	t.mu.Lock()
	ch := t.waiting[iid]
	delete(t.waiting, iid)
	t.mu.Unlock()
	if ch != nil {
		ch <- state
	}
}

// legOfEvent reads the interaction id and state of an interaction event. The store writes
// the leg's scalar fields first, interaction_id leading and state before any nested object,
// so both are cut out directly when the id needs no unescaping; anything else is decoded.
// (Decoding every ~1.5 KB event whole was a third of this observer's CPU.)
func legOfEvent(raw string) (iid string, state bridge.State, ok bool) {
	const head, stateKey = `"interaction":{"interaction_id":"`, `,"state":"`
	if _, rest, found := strings.Cut(raw, head); found {
		id, rest, found := strings.Cut(rest, `"`)
		_, st, hasState := strings.Cut(rest, stateKey)
		st, _, closed := strings.Cut(st, `"`)
		if found && hasState && closed && id != "" && !strings.ContainsRune(id, '\\') {
			return id, bridge.State(st), true
		}
	}
	var ev struct {
		Interaction *struct {
			InteractionID string       `json:"interaction_id"`
			State         bridge.State `json:"state"`
		} `json:"interaction"`
	}
	if json.Unmarshal([]byte(raw), &ev) != nil || ev.Interaction == nil {
		return "", "", false
	}
	return ev.Interaction.InteractionID, ev.Interaction.State, true
}
