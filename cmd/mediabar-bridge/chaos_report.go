package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// acdmockAgent is the ACD's view of a chaos agent: ready from the start.
func acdmockAgent(a *chaosAgent, queues []string, capacity int) acdmock.Agent {
	return acdmock.Agent{ID: a.acdID, CRMAccountID: a.account, Queues: queues, Capacity: capacity, Ready: true}
}

// startActors starts the CRM feed recorder, logs the agents in and starts them, and readies
// the customers and the nemesis.
func (w *chaosWorld) startActors(ctx context.Context, rng interface{ Uint64() uint64 }) error {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.stopAll = cancel
	w.recorder = newCRMRecorder(w.crmURL, w.site)
	w.actorsWG.Add(1)
	go func() { defer w.actorsWG.Done(); w.recorder.run(actx) }()
	for i := range w.o.agents {
		a, err := w.newAgent(i, rng.Uint64())
		if err != nil {
			return err
		}
		if err := a.login(ctx); err != nil {
			return fmt.Errorf("chaos: agent %s login: %w", a.acdID, err)
		}
		w.agents = append(w.agents, a)
	}
	for _, a := range w.agents {
		w.actorsWG.Add(1)
		go func() { defer w.actorsWG.Done(); a.run(actx) }()
	}
	w.customers = &customers{w: w}
	w.nemesis = newNemesis(w)
	return nil
}

// stopActors stops the agents and the recorder (the world stays up for the evidence).
func (w *chaosWorld) stopActors() {
	if w.stopAll != nil {
		w.stopAll()
		w.actorsWG.Wait()
		w.stopAll = nil
	}
}

// interactionIDs lists the ACD interactions of the run (the ACD created one per chat the
// bridge's intake handed over).
func (w *chaosWorld) interactionIDs() []string {
	var ids []string
	for _, c := range w.acd.Calls() {
		if c.Kind == acdmock.KindCreate && c.Applied && c.InteractionID != "" {
			ids = append(ids, c.InteractionID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// settle waits (up to within) until nothing is in flight: every customer chat concluded in
// the CRM, every ACD interaction over, the bridge's ACD outbox empty. The agents keep
// working meanwhile. It reports whether everything settled.
func (w *chaosWorld) settle(ctx context.Context, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if w.quiet(ctx) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(time.Second)
	}
}

func (w *chaosWorld) quiet(ctx context.Context) bool {
	for _, id := range w.interactionIDs() {
		v, ok := w.acd.Interaction(id)
		if !ok || (v.State != acdmock.StateCompleted && v.State != acdmock.StateAbandoned) {
			return false
		}
		for _, r := range v.Routings {
			if r.State != acdmock.StateRequeued && r.State != acdmock.StateCompleted && r.State != acdmock.StateRevoked {
				return false
			}
		}
	}
	for _, c := range w.crm.Dump().Sites[0].Chats {
		if c.State != crmmock.StateConcluded {
			return false
		}
	}
	n, err := w.store.Depth(ctx, bridge.QueueACDOutbox)
	return err == nil && n == 0
}

// gatherEvidence reads what the run left: the CRM's feed and chats, the ACD's calls and
// interactions, the bridge's legs (from Redis), its outcome export and dead letters (admin
// API), and every key of the run with its TTL.
func (w *chaosWorld) gatherEvidence(ctx context.Context, o chaosOptions) (chaosEvidence, error) {
	ev := chaosEvidence{Deadline: o.deadline, Ops: w.hist.snapshot(),
		NoTTL: []noTTLRule{{Prefix: w.store.Keys().QueuePrefix(),
			Why: "work-queue streams (pops, ACD outbox, dead letters): a queue must not lose work because nobody consumed it for a while; bounded by acking+deleting and QueueMaxLen instead (sessions/keys.go, sessions/store.go)"}}}
	if err := w.recorder.drain(ctx); err != nil {
		return ev, fmt.Errorf("chaos: read the CRM feed: %w", err)
	}
	ev.CRMEvents = w.recorder.snapshot()
	ev.CRMChats = w.crm.Dump().Sites[0].Chats
	ev.ACDCalls = w.acd.Calls()
	for _, id := range w.interactionIDs() {
		if v, ok := w.acd.Interaction(id); ok {
			ev.ACDInteractions = append(ev.ACDInteractions, v)
		}
		legs, err := w.store.InteractionLegs(ctx, id)
		if err != nil {
			return ev, fmt.Errorf("chaos: legs of %s: %w", id, err)
		}
		ev.Legs = append(ev.Legs, legs...)
	}
	var err error
	if ev.Outcomes, err = w.outcomeExport(ctx); err != nil {
		return ev, err
	}
	if ev.DeadLetters, err = w.deadLetters(ctx); err != nil {
		return ev, err
	}
	if ev.Keys, err = w.keys(ctx); err != nil {
		return ev, err
	}
	return ev, nil
}

// adminGet GETs an admin API path on a live replica.
func (w *chaosWorld) adminGet(ctx context.Context, path string) (*http.Response, error) {
	var lastErr error
	for i := range w.replicas {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.liveReplica(i).url+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+w.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			lastErr = fmt.Errorf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
			continue
		}
		return resp, nil
	}
	return nil, lastErr
}

func (w *chaosWorld) outcomeExport(ctx context.Context) ([]httpapi.OutcomeRow, error) {
	q := url.Values{"since": {time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)}, "format": {"jsonl"}}
	resp, err := w.adminGet(ctx, "/v1/reports/outcomes?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("chaos: outcome export: %w", err)
	}
	defer resp.Body.Close()
	var rows []httpapi.OutcomeRow
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r httpapi.OutcomeRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("chaos: outcome export line %q: %w", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func (w *chaosWorld) deadLetters(ctx context.Context) ([]bridge.DeadLetter, error) {
	var out []bridge.DeadLetter
	after := ""
	for {
		path := "/v1/acd/dead-letters?limit=500"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		resp, err := w.adminGet(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("chaos: dead letters: %w", err)
		}
		var page httpapi.DeadLettersResponse
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("chaos: dead letters: %w", err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

// keys scans the run's prefix and reads each key's TTL.
func (w *chaosWorld) keys(ctx context.Context) ([]keyTTL, error) {
	var names []string
	iter := w.rdb.Scan(ctx, 0, w.prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("chaos: scan keys: %w", err)
	}
	out := make([]keyTTL, 0, len(names))
	for chunk := range slices.Chunk(names, 500) {
		cmds := make([]*redis.DurationCmd, len(chunk))
		_, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = p.PTTL(ctx, k)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("chaos: key TTLs: %w", err)
		}
		for i, k := range chunk {
			ttl := cmds[i].Val()
			if ttl == -2 { // gone since the scan
				continue
			}
			out = append(out, keyTTL{Key: k, TTL: ttl})
		}
	}
	return out, nil
}

// chaosReport is what the run prints.
type chaosReport struct {
	Seed        uint64         `json:"seed"`
	Chats       int            `json:"chats"`
	Replicas    int            `json:"replicas"`
	Agents      int            `json:"agents"`
	Redis       string         `json:"redis"`
	Faults      map[string]int `json:"faults_injected"`
	NotInjected []string       `json:"faults_not_injected,omitempty"`
	Counts      chaosCounts    `json:"counts"`
	Duration    string         `json:"duration"`
	LoadPhase   string         `json:"load_phase"`
	Settled     bool           `json:"settled"`
	LogDir      string         `json:"replica_logs"`
	Problems    []string       `json:"problems,omitempty"`
	Violations  []violation    `json:"violations"`
	ByKind      map[string]int `json:"violations_by_kind"`
}

// chaosCounts are the run's figures.
type chaosCounts struct {
	ChatsCreated       int `json:"chats_created"`
	CustomersAbandoned int `json:"customers_abandoned"`
	Interactions       int `json:"interactions"`
	Legs               int `json:"legs"`
	Pops               int `json:"pops"` // legs the CRM offered to their agent
	Requeues           int `json:"requeues"`
	Completes          int `json:"completes"`
	DeadLetters        int `json:"dead_letters"`
	WorkedToCompletion int `json:"worked_to_completion"`
	Webhooks           int `json:"webhooks_from_acd"`
	WebhooksDuplicated int `json:"webhooks_duplicated"`
	WebhooksReordered  int `json:"webhooks_reordered"`
	HistoryOps         int `json:"history_ops"`
	CRMEvents          int `json:"crm_events"`
	Keys               int `json:"redis_keys"`
}

func (w *chaosWorld) report(o chaosOptions, ev chaosEvidence, start time.Time, load time.Duration, settled bool) *chaosReport {
	rep := &chaosReport{Seed: o.seed, Chats: o.chats, Replicas: o.replicas, Agents: o.agents, Redis: w.redisDesc,
		Faults: w.nemesis.faultCounts(), Duration: time.Since(start).Round(time.Millisecond).String(),
		LoadPhase: load.Round(time.Millisecond).String(), Settled: settled, Problems: w.nemesis.failures(), LogDir: w.logDir}
	for _, f := range allFaults {
		if !slices.Contains(w.o.faults, f) {
			rep.NotInjected = append(rep.NotInjected, f)
		}
	}
	if w.redis == nil {
		rep.Problems = append(rep.Problems, "redis-restart not injected: no redis-server on PATH, the run used "+w.redisURL)
	}
	c := &rep.Counts
	c.ChatsCreated = int(w.customers.created.Load())
	c.CustomersAbandoned = int(w.customers.abandons.Load())
	c.Interactions = len(ev.ACDInteractions)
	c.Legs = len(ev.Legs)
	for _, e := range ev.CRMEvents {
		switch e.Type {
		case crmmock.EventEngagementOffered:
			c.Pops++
		case "GAP":
			rep.Problems = append(rep.Problems, fmt.Sprintf("the CRM feed recorder fell behind at seq %d: the assignment history has a gap", e.Seq))
		}
	}
	for _, call := range ev.ACDCalls {
		if !call.Applied {
			continue
		}
		switch call.Kind {
		case acdmock.KindRequeue:
			c.Requeues++
		case acdmock.KindComplete:
			c.Completes++
		}
	}
	for _, l := range ev.Legs {
		if l.Descriptor != nil && l.Descriptor.Role == "RoutedTo" && l.Descriptor.Result == "Completed" {
			c.WorkedToCompletion++
		}
	}
	c.DeadLetters = len(ev.DeadLetters)
	c.Webhooks = int(w.relay.received.Load())
	c.WebhooksDuplicated = int(w.relay.duplicated.Load())
	c.WebhooksReordered = int(w.relay.reordered.Load())
	c.HistoryOps = len(ev.Ops)
	c.CRMEvents = len(ev.CRMEvents)
	c.Keys = len(ev.Keys)
	if !settled {
		rep.Problems = append(rep.Problems, "the system had not settled when the deadline after the last chat ran out")
	}
	return rep
}

// explain fills the first violations of each kind with the interaction's timeline (admin
// API) and its history entries, and counts violations by kind.
func (w *chaosWorld) explain(ctx context.Context, rep *chaosReport, ev chaosEvidence) {
	rep.ByKind = map[string]int{}
	shown := map[string]int{}
	for i := range rep.Violations {
		v := &rep.Violations[i]
		rep.ByKind[v.Kind]++
		if shown[v.Kind] >= 5 {
			continue
		}
		shown[v.Kind]++
		v.History = historyOf(ev.Ops, v.InteractionID, v.ChatID)
		chat := v.ChatID
		if chat == "" && len(v.History) > 0 {
			chat = v.History[0].ChatID
		}
		for _, e := range ev.CRMEvents {
			if chat != "" && e.ChatID == chat {
				v.CRM = append(v.CRM, e)
			}
		}
		if v.InteractionID == "" {
			continue
		}
		resp, err := w.adminGet(ctx, "/v1/interactions/"+url.PathEscape(v.InteractionID)+"/timeline")
		if err != nil {
			v.Timeline = []string{"timeline: " + err.Error()}
			continue
		}
		var tl struct {
			Timeline []bridge.TimelineEntry `json:"timeline"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&tl)
		resp.Body.Close()
		for _, e := range tl.Timeline {
			v.Timeline = append(v.Timeline, fmt.Sprintf("%s %-3s %-14s %-28s %s", e.At.Format("15:04:05.000"), e.RoutingID, e.Kind, e.Code, e.Detail))
		}
	}
}

// historyOf is the history entries about an interaction or a chat: the first 40 and the
// last 40 (where the story starts, and where it stands).
func historyOf(ops []chaosOp, iid, chatID string) []chaosOp {
	var out []chaosOp
	for _, op := range ops {
		if (iid != "" && op.InteractionID == iid) || (chatID != "" && op.ChatID == chatID) {
			out = append(out, op)
		}
	}
	if len(out) > 80 {
		out = append(out[:40:40], out[len(out)-40:]...)
	}
	return out
}

func (r *chaosReport) writeJSON(wr io.Writer) error {
	enc := json.NewEncoder(wr)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *chaosReport) writeText(wr io.Writer) {
	c := r.Counts
	fmt.Fprintf(wr, "chaos run: %d chats through %d replicas, %d agents, seed %d, %s (load %s)\n", r.Chats, r.Replicas, r.Agents, r.Seed, r.Duration, r.LoadPhase)
	fmt.Fprintf(wr, "  redis: %s\n  config and replica logs: %s\n", r.Redis, r.LogDir)
	fmt.Fprintf(wr, "  chats created %d (customers who left early %d), interactions %d, agent legs %d\n", c.ChatsCreated, c.CustomersAbandoned, c.Interactions, c.Legs)
	fmt.Fprintf(wr, "  pops (CRM offers) %d, worked to completion %d, requeues %d, completes %d, dead letters %d\n", c.Pops, c.WorkedToCompletion, c.Requeues, c.Completes, c.DeadLetters)
	fmt.Fprintf(wr, "  webhooks from the ACD %d (duplicated ×3: %d, reordered: %d); history %d ops; CRM events %d; redis keys %d\n",
		c.Webhooks, c.WebhooksDuplicated, c.WebhooksReordered, c.HistoryOps, c.CRMEvents, c.Keys)
	kinds := make([]string, 0, len(r.Faults))
	total := 0
	for k, n := range r.Faults {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	fmt.Fprintf(wr, "  faults injected %d: %s\n", total, strings.Join(kinds, ", "))
	if len(r.NotInjected) > 0 {
		fmt.Fprintf(wr, "  faults not enabled: %s\n", strings.Join(r.NotInjected, ", "))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(wr, "  note: %s\n", p)
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(wr, "invariants: all hold (terminal outcome within the deadline, no double assignment, no orphan, no duplicate ACD call, one descriptor per leg, TTLs)")
		return
	}
	byKind := make([]string, 0, len(r.ByKind))
	for k, n := range r.ByKind {
		byKind = append(byKind, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(byKind)
	fmt.Fprintf(wr, "VIOLATIONS %d: %s\n", len(r.Violations), strings.Join(byKind, ", "))
	for _, v := range r.Violations {
		if v.History == nil && v.Timeline == nil && r.ByKind[v.Kind] > 5 {
			continue // beyond the first five of its kind
		}
		fmt.Fprintf(wr, "\n[%s] interaction %s routing %s chat %s\n  %s\n", v.Kind, v.InteractionID, v.RoutingID, v.ChatID, v.Detail)
		if len(v.Timeline) > 0 {
			fmt.Fprintln(wr, "  timeline:")
			for _, l := range v.Timeline {
				fmt.Fprintln(wr, "    "+l)
			}
		}
		if len(v.CRM) > 0 {
			fmt.Fprintln(wr, "  CRM feed:")
			for _, e := range v.CRM {
				fmt.Fprintf(wr, "    %6d %s %-28s %s %s%s\n", e.Seq, e.At.Format("15:04:05.000"), e.Type, e.Agent, e.Cause, e.EndReason)
			}
		}
		if len(v.History) > 0 {
			fmt.Fprintln(wr, "  history:")
			for _, op := range v.History {
				fmt.Fprintf(wr, "    %5d %s %-12s %-7s %-12s %s %s %s\n", op.Index, op.Time.Format("15:04:05.000"), op.Process, op.Type, op.F, op.RoutingID, op.Agent, op.Value)
			}
		}
	}
}
