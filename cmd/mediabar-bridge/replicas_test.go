package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// TestReplicas runs three real `mediabar-bridge serve` processes against one Redis, with the
// mock CRM and mock ACD in this process, and checks what SPEC section 7 promises of
// replicas: any replica takes any webhook or stream, exactly one pop per routing however
// many replicas receive it, and a replica killed mid-pop loses nothing. Every assertion is
// counted where it cannot be faked: at the mocks (CRM route evaluations per transaction id,
// ACD requeues applied per routing) and in the shared store.
func TestReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("TestReplicas builds the binary and runs three bridge processes; skipped with -short")
	}
	c := startReplicaCluster(t)
	t.Run("no-double-pop", c.testNoDoublePop)
	t.Run("sse-reaches-agent-on-any-replica", c.testSSEAnyReplica)
	// Last: it kills replica A.
	t.Run("sigkill-mid-pop-loses-nothing", c.testSIGKILLMidPop)
}

const (
	replicaSite  = "demo"
	replicaQueue = "chat-support"
	replicaUser  = "bridge"
)

// replicaCluster is the world of TestReplicas.
type replicaCluster struct {
	crm      *crmmock.Server
	acd      *acdmock.Server
	secret   acdapi.Secret
	store    *sessions.Store
	rdb      redis.UniversalClient
	replicas []*replica // A, B, C
	runID    string

	mu     sync.Mutex
	nChat  int
	nEvent int
}

// repAgent is an agent in both mocks (its ACD id and CRM account).
type repAgent struct {
	acdID, account string
}

func startReplicaCluster(t *testing.T) *replicaCluster {
	t.Helper()
	bin := buildBridgeBinary(t)
	rdb, prefix := sessionstest.Redis(t) // REDIS_REQUIRED=1 fails here when Redis is missing
	redisURL := redisURLOf(t, rdb)

	c := &replicaCluster{rdb: rdb, runID: randomID(t)}
	c.store = sessions.New(rdb, sessions.Options{Prefix: prefix})
	secretKey := make([]byte, 32)
	_, _ = rand.Read(secretKey)
	webhookSecret := "whsec_" + base64.StdEncoding.EncodeToString(secretKey)
	c.secret = secretKey
	crmPassword := "replica-test-" + randomID(t)

	// The mocks, over real HTTP.
	c.crm = crmmock.New(crmmock.Options{Sites: []string{replicaSite}, Users: map[string]string{replicaUser: crmPassword}})
	crmSrv := httptest.NewServer(c.crm)
	// The test delivers the webhooks itself (to the replica of its choice), so the ACD only
	// records what it would have sent.
	c.acd = acdmock.New(acdmock.Options{Site: replicaSite})
	acdSrv := httptest.NewServer(c.acd)
	t.Cleanup(func() { crmSrv.Close(); c.crm.Close(); acdSrv.Close(); c.acd.Close() })
	if err := c.crm.CreateQueue(replicaSite, crmmock.Queue{ID: replicaQueue, Name: "Support", External: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.acd.AddQueue(acdmock.Queue{ID: replicaQueue, Name: "Support"}); err != nil {
		t.Fatal(err)
	}

	settings := clusterSettings{Site: replicaSite, Queue: replicaQueue, User: replicaUser, Password: crmPassword,
		RedisURL: redisURL, KeyPrefix: prefix, ACDURL: acdSrv.URL, CRMURL: crmSrv.URL, WebhookSecret: webhookSecret}
	cfgPath, err := writeClusterConfig(t.TempDir(), settings)
	if err != nil {
		t.Fatal(err)
	}
	env := clusterEnv(cfgPath, settings)
	// A gets more pop workers than B and C, so that most pops in flight are A's when it is
	// killed.
	workers := map[string]string{"A": "8", "B": "2", "C": "2"}
	c.replicas, err = startReplicas(context.Background(), bin, []string{"A", "B", "C"}, func(name string) []string {
		return append(env, "MBB_POP_WORKERS="+workers[name])
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.replicas {
		t.Cleanup(func() {
			r.kill()
			if t.Failed() {
				t.Logf("replica %s log (tail):\n%s", r.name, tail(r.log.String(), 3000))
			}
		})
	}
	return c
}

// buildBridgeBinary builds the command once for this test.
func buildBridgeBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "mediabar-bridge")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// newAgent creates an agent in both mocks (not ready in the ACD: only explicit routings reach
// it), logged in to CRM chat when crmLogin is set.
func (c *replicaCluster) newAgent(t *testing.T, name string, crmLogin bool) repAgent {
	t.Helper()
	a := repAgent{acdID: "rep-agent-" + name, account: "rep-acct-" + name}
	if err := c.crm.CreateAgent(replicaSite, crmmock.Agent{AccountID: a.account, Queues: []string{replicaQueue}, MaxSessions: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := c.acd.AddAgent(acdmock.Agent{ID: a.acdID, CRMAccountID: a.account, Queues: []string{replicaQueue}, Capacity: 1000}); err != nil {
		t.Fatal(err)
	}
	if crmLogin {
		if _, err := c.crm.Login(replicaSite, a.account); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// repRouting is one chat the ACD routed to an agent, and its signed webhook's parts.
type repRouting struct {
	agent   repAgent
	chatID  string
	key     bridge.LegKey
	body    []byte
	eventID string
}

// route starts a customer chat in the CRM and has the ACD route it to the agent; the
// interaction.routed webhook is built here, to be delivered by the test.
func (c *replicaCluster) route(t *testing.T, a repAgent) repRouting {
	t.Helper()
	ctx := context.Background()
	c.mu.Lock()
	c.nChat++
	n := c.nChat
	c.mu.Unlock()
	chatID, err := c.crm.CreateChat(replicaSite, replicaQueue, "Replica customer "+strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	iid, err := c.acd.CreateInteraction(ctx, chatID, replicaSite, replicaQueue)
	if err != nil {
		t.Fatal(err)
	}
	rid, err := c.acd.RouteTo(ctx, iid, a.acdID, acdmock.RouteLead)
	if err != nil {
		t.Fatal(err)
	}
	body, err := acdapi.Build(acdapi.TypeRouted, time.Now(), acdapi.Routed{
		InteractionID: iid, RoutingID: rid, ChatID: chatID, Site: replicaSite, QueueID: replicaQueue,
		AgentID: a.acdID, CRMAccountID: a.account, RouteType: acdmock.RouteLead,
	})
	if err != nil {
		t.Fatal(err)
	}
	return repRouting{agent: a, chatID: chatID, key: bridge.LegKey{InteractionID: iid, RoutingID: rid}, body: body, eventID: c.newEventID()}
}

func (c *replicaCluster) newEventID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nEvent++
	return "evt-" + c.runID + "-" + strconv.Itoa(c.nEvent)
}

// deliver posts one signed webhook to a replica and returns the status and the answer's
// status word (accepted, duplicate).
func (c *replicaCluster) deliver(ctx context.Context, r *replica, eventID string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/v1/acd/events", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range acdapi.Headers(c.secret, eventID, time.Now(), body) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("replica %s: %w", r.name, err)
	}
	defer resp.Body.Close()
	var ans struct {
		Status string `json:"status"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &ans)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, ans.Status, fmt.Errorf("replica %s answered %d: %s", r.name, resp.StatusCode, raw)
	}
	return resp.StatusCode, ans.Status, nil
}

// waitLegs polls the shared store until every leg satisfies done, or the deadline.
func (c *replicaCluster) waitLegs(t *testing.T, keys []bridge.LegKey, within time.Duration, done func(*bridge.Interaction) bool) map[bridge.LegKey]*bridge.Interaction {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	legs := map[bridge.LegKey]*bridge.Interaction{}
	for {
		pending := 0
		for _, k := range keys {
			if in := legs[k]; in != nil && done(in) {
				continue
			}
			in, err := c.store.GetLeg(ctx, k)
			if err == nil {
				legs[k] = in
			}
			if err != nil || !done(in) {
				pending++
			}
		}
		if pending == 0 {
			return legs
		}
		if time.Now().After(deadline) {
			for _, k := range keys {
				if in := legs[k]; in == nil || !done(in) {
					state, code := bridge.State("missing"), ""
					if in != nil {
						state, code = in.State, in.Code
					}
					t.Errorf("leg %s not final after %s: state %s, code %q", k, within, state, code)
				}
			}
			t.FailNow()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOneEvaluation asserts the mock CRM evaluated the routing's pop exactly once: one
// evaluation of attempt 1's transaction id, none of a second attempt.
func (c *replicaCluster) checkOneEvaluation(t *testing.T, k bridge.LegKey) {
	t.Helper()
	if n := c.crm.RouteEvaluations(k.String() + "#1"); n != 1 {
		t.Errorf("CRM evaluated the pop of %s %d times, want exactly 1", k, n)
	}
	if n := c.crm.RouteEvaluations(k.String() + "#2"); n != 0 {
		t.Errorf("CRM evaluated a second pop attempt of %s %d times, want 0", k, n)
	}
}

// chatsByID reads the mock CRM's chats.
func (c *replicaCluster) chatsByID() map[string]crmmock.ChatState {
	out := map[string]crmmock.ChatState{}
	for _, s := range c.crm.Dump().Sites {
		for _, ch := range s.Chats {
			out[ch.ChatID] = ch
		}
	}
	return out
}

// No double pop: every routing delivered to all three replicas at once, a third of them
// twice more under new event ids; one replica records it, the CRM evaluates one pop, and
// the chat ends offered to exactly the agent it was routed to.
func (c *replicaCluster) testNoDoublePop(t *testing.T) {
	const nChats = 30
	agents := make([]repAgent, 5)
	for i := range agents {
		agents[i] = c.newAgent(t, "ndp-"+strconv.Itoa(i), true)
	}
	routings := make([]repRouting, nChats)
	for i := range routings {
		routings[i] = c.route(t, agents[i%len(agents)])
	}
	callsBefore := c.crm.Calls(crmmock.OpChatRouted)

	type answer struct {
		status int
		word   string
		err    error
	}
	answers := make([][]answer, nChats)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	send := func(i int, r *replica, eventID string) {
		defer wg.Done()
		<-start
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, word, err := c.deliver(ctx, r, eventID, routings[i].body)
		mu.Lock()
		answers[i] = append(answers[i], answer{st, word, err})
		mu.Unlock()
	}
	deliveries := 0
	for i := range routings {
		for _, r := range c.replicas { // the same event id to all three
			wg.Add(1)
			deliveries++
			go send(i, r, routings[i].eventID)
		}
		if i%3 == 0 { // the ACD retried under new event ids
			for j := range 2 {
				wg.Add(1)
				deliveries++
				go send(i, c.replicas[(i+j)%3], c.newEventID())
			}
		}
	}
	close(start)
	wg.Wait()
	for i, as := range answers {
		accepted := 0
		for _, a := range as {
			if a.err != nil {
				t.Errorf("delivery of %s: %v", routings[i].key, a.err)
			}
			if a.word == "accepted" {
				accepted++
			}
		}
		if accepted != 1 {
			t.Errorf("routing %s: %d deliveries answered accepted, want exactly 1 (the others duplicate): %+v", routings[i].key, accepted, as)
		}
	}

	keys := make([]bridge.LegKey, nChats)
	for i, r := range routings {
		keys[i] = r.key
	}
	legs := c.waitLegs(t, keys, 20*time.Second, func(in *bridge.Interaction) bool { return in.State == bridge.StateOffered })

	chats := c.chatsByID()
	perAgent := map[string]int{}
	for _, r := range routings {
		c.checkOneEvaluation(t, r.key)
		if in := legs[r.key]; in.PopAttempts != 1 {
			t.Errorf("leg %s: %d pop attempts, want 1", r.key, in.PopAttempts)
		}
		ch := chats[r.chatID]
		if ch.State != crmmock.StateOffered || ch.AgentAccountID != r.agent.account || len(ch.Participants) != 0 {
			t.Errorf("CRM chat %s: state %s to %q with %d participants, want offered to %s alone", r.chatID, ch.State, ch.AgentAccountID, len(ch.Participants), r.agent.account)
		}
		ils, err := c.store.InteractionLegs(context.Background(), r.key.InteractionID)
		if err != nil || len(ils) != 1 {
			t.Errorf("interaction %s has %d legs in the store (err %v), want 1", r.key.InteractionID, len(ils), err)
		}
		perAgent[r.agent.account]++
	}
	for _, s := range c.crm.Dump().Sites {
		for _, a := range s.Agents {
			if want, ok := perAgent[a.AccountID]; ok && a.ActiveSessions != want {
				t.Errorf("CRM agent %s holds %d chats, want %d", a.AccountID, a.ActiveSessions, want)
			}
		}
	}
	calls := c.crm.Calls(crmmock.OpChatRouted) - callsBefore
	t.Logf("%d routings, %d webhook deliveries to 3 replicas: %d chatRouted calls, one evaluation each", nChats, deliveries, calls)
	if calls != nChats {
		t.Errorf("mock CRM got %d chatRouted calls for %d routings, want one each", calls, nChats)
	}
}

// SSE: the agent logs in on A and follows its events on B; a webhook delivered to C
// changes its interaction, and the change arrives on B's stream.
func (c *replicaCluster) testSSEAnyReplica(t *testing.T) {
	a, b, cc := c.replicas[0], c.replicas[1], c.replicas[2]
	agent := c.newAgent(t, "sse", true)
	sessionID := ""
	for _, s := range c.crm.Dump().Sites {
		for _, ag := range s.Agents {
			if ag.AccountID == agent.account {
				sessionID = ag.SessionID
			}
		}
	}
	mb := newMediabarClient(a.url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := mb.login(ctx, httpapi.LoginRequest{AgentID: agent.acdID, Site: replicaSite, CRMAccountID: agent.account, CRMChatSessionID: sessionID}); err != nil {
		t.Fatalf("media-bar login on replica A: %v", err)
	}

	events, err := openEventStream(ctx, b.url, mb.token)
	if err != nil {
		t.Fatalf("event stream on replica B: %v", err)
	}
	r := c.route(t, agent)
	sent := time.Now()
	if _, word, err := c.deliver(ctx, cc, r.eventID, r.body); err != nil || word != "accepted" {
		t.Fatalf("webhook to replica C: %s, %v", word, err)
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("replica B's stream ended before the offer of %s arrived", r.key)
			}
			if ev.Type == bridge.EventInteractionUpdated && ev.Interaction != nil &&
				ev.Interaction.Key() == r.key && ev.Interaction.State == bridge.StateOffered {
				t.Logf("offer of %s (webhook to C) reached the stream on B %s after the webhook", r.key, time.Since(sent).Round(time.Millisecond))
				return
			}
		case <-ctx.Done():
			t.Fatalf("no offered event for %s on replica B's stream within 20s", r.key)
		}
	}
}

// openEventStream opens GET /v1/mediabar/events and returns once the stream answered; its
// events come on the channel, which closes when the stream ends.
func openEventStream(ctx context.Context, base, token string) (<-chan bridge.Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/mediabar/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	out := make(chan bridge.Event, 64)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev bridge.Event
			if json.Unmarshal([]byte(data), &ev) == nil {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// SIGKILL: pops are slow (the CRM answers after 300ms); a batch of routings goes to A, and
// A is killed while it holds pops in flight. B and C reclaim A's work items once they are
// idle, wait out A's pop leases, and replay A's CRM transaction ids. Every chat ends in a
// known state that the CRM and the ACD agree on: offered (one CRM evaluation, the CRM offers
// it to that agent, no requeue), or failed and requeued (at most one evaluation, exactly one
// requeue applied, the chat not left offered to the agent). Routings to an agent whose CRM
// session is gone always end the second way.
func (c *replicaCluster) testSIGKILLMidPop(t *testing.T) {
	a := c.replicas[0]
	good := []repAgent{c.newAgent(t, "kill-0", true), c.newAgent(t, "kill-1", true), c.newAgent(t, "kill-2", true)}
	gone := c.newAgent(t, "kill-nosession", false) // chatRouted answers INVALID_AGENT_SESSION: requeue
	if err := c.crm.InjectFault(crmmock.Fault{Op: crmmock.OpChatRouted, DelayMS: 300}); err != nil {
		t.Fatal(err)
	}
	defer c.crm.ClearFaults()

	const nChats = 24
	routings := make([]repRouting, nChats)
	for i := range routings {
		ag := good[i%len(good)]
		if i%4 == 3 {
			ag = gone
		}
		routings[i] = c.route(t, ag)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range routings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, word, err := c.deliver(ctx, a, routings[i].eventID, routings[i].body); err != nil || word != "accepted" {
				t.Errorf("webhook %s to A: %s, %v", routings[i].key, word, err)
			}
		}()
	}
	wg.Wait()

	// Kill A once it holds pop work items (each pop takes at least the 300ms delay).
	inFlight := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if inFlight = c.pendingOf(t, a); inFlight > 0 {
			break
		}
	}
	if inFlight == 0 {
		t.Fatal("replica A never held a pop in flight")
	}
	a.kill()
	killedAt := time.Now()
	midPop := c.legsMidPop(t, a)
	t.Logf("SIGKILL replica A holding %d pop work item(s), %d of them mid-pop (leg leased, CRM call in flight)", inFlight, len(midPop))
	if len(midPop) == 0 {
		t.Error("replica A died with no pop in flight; the test proves nothing")
	}

	keys := make([]bridge.LegKey, nChats)
	for i, r := range routings {
		keys[i] = r.key
	}
	final := func(in *bridge.Interaction) bool {
		return in.State == bridge.StateOffered || (in.State == bridge.StateFailed && in.Requeued)
	}
	legs := c.waitLegs(t, keys, 30*time.Second, final)
	t.Logf("all %d chats final %s after the kill", nChats, time.Since(killedAt).Round(time.Millisecond))
	c.waitOutboxDrained(t, 15*time.Second)

	chats := c.chatsByID()
	requeued := 0
	for _, r := range routings {
		in := legs[r.key]
		evals := 0
		for attempt := 1; attempt <= 4; attempt++ {
			evals += c.crm.RouteEvaluations(r.key.String() + "#" + strconv.Itoa(attempt))
		}
		requeues := c.acd.Applied(acdmock.KindRequeue, r.key.RoutingID)
		ch := chats[r.chatID]
		switch {
		case in.State == bridge.StateOffered:
			// Popped: one evaluation, the CRM offers it to this agent, the ACD was not told to
			// requeue it.
			if evals != 1 || requeues != 0 || ch.State != crmmock.StateOffered || ch.AgentAccountID != r.agent.account {
				t.Errorf("routing %s offered: %d CRM evaluations, %d requeues applied, CRM chat %s to %q; want 1, 0, offered to %s\n%s",
					r.key, evals, requeues, ch.State, ch.AgentAccountID, r.agent.account, c.timeline(r.key))
			}
		default: // failed and requeued
			requeued++
			// At most one evaluation (none when the CRM was never reached within the pop
			// budget), the requeue applied exactly once, and the chat not left with the agent.
			if evals > 1 || requeues != 1 || (ch.State == crmmock.StateOffered && ch.AgentAccountID == r.agent.account) {
				t.Errorf("routing %s failed (%s) and requeued: %d CRM evaluations, %d requeues applied, CRM chat %s to %q; want at most 1, exactly 1, not offered to %s\n%s",
					r.key, in.Code, evals, requeues, ch.State, ch.AgentAccountID, r.agent.account, c.timeline(r.key))
			}
		}
		if r.agent == gone && in.State != bridge.StateFailed {
			t.Errorf("routing %s to an agent without a CRM session ended %s, want failed and requeued", r.key, in.State)
		}
		if r.agent == gone && in.Code != string(bridgeerr.InvalidAgentSession) && in.Code != string(bridgeerr.CRMUnreachable) {
			t.Errorf("routing %s to an agent without a CRM session: code %s, want %s (or %s)", r.key, in.Code, bridgeerr.InvalidAgentSession, bridgeerr.CRMUnreachable)
		}
	}
	t.Logf("%d offered, %d failed and requeued once each", nChats-requeued, requeued)
}

// timeline renders an interaction's timeline, for failure messages.
func (c *replicaCluster) timeline(k bridge.LegKey) string {
	entries, err := c.store.Timeline(context.Background(), k.InteractionID)
	if err != nil {
		return "timeline: " + err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "  %s %-14s %s %s\n", e.At.Format("15:04:05.000"), e.Kind, e.Code, e.Detail)
	}
	return b.String()
}

// pendingOf counts the pop work items a replica's consumers hold (consumer names carry the
// process id).
func (c *replicaCluster) pendingOf(t *testing.T, r *replica) int {
	t.Helper()
	mark := "-" + strconv.Itoa(r.pid()) + "-"
	n := 0
	for _, stream := range c.popStreams() {
		p, err := c.rdb.XPending(context.Background(), stream, "workers").Result()
		if err != nil {
			continue
		}
		for consumer, count := range p.Consumers {
			if strings.Contains(consumer, mark) {
				n += int(count)
			}
		}
	}
	return n
}

// popStreams are the streams a replica's pop work items are pending on: the queue's own (its
// workers') and the claimed items' (its inline pops', the default path).
func (c *replicaCluster) popStreams() []string {
	k := c.store.Keys()
	return []string{k.Queue(bridge.QueuePops), k.ClaimedQueue(bridge.QueuePops)}
}

// legsMidPop returns the legs of the work items a (dead) replica still holds whose pop it
// had started: leased and not finished, so its CRM call was in flight.
func (c *replicaCluster) legsMidPop(t *testing.T, r *replica) []bridge.LegKey {
	t.Helper()
	ctx := context.Background()
	mark := "-" + strconv.Itoa(r.pid()) + "-"
	var out []bridge.LegKey
	for _, stream := range c.popStreams() {
		pending, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: "workers", Start: "-", End: "+", Count: 1000}).Result()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") || errors.Is(err, redis.Nil) {
				continue // no item ever went this way
			}
			t.Fatalf("XPENDING %s: %v", stream, err)
		}
		for _, p := range pending {
			if !strings.Contains(p.Consumer, mark) {
				continue
			}
			msgs, err := c.rdb.XRange(ctx, stream, p.ID, p.ID).Result()
			if err != nil || len(msgs) != 1 {
				continue
			}
			payload, _ := msgs[0].Values["payload"].(string)
			var key bridge.LegKey
			if json.Unmarshal([]byte(payload), &key) != nil {
				continue
			}
			// Started: leased (a fence) and not finished. A first call goes out with the leg
			// still routed; only the fence says its pop began.
			in, err := c.store.GetLeg(ctx, key)
			leased, _ := c.rdb.Exists(ctx, c.store.Keys().Fence(key)).Result()
			if err == nil && leased == 1 && (in.State == bridge.StateRouted || in.State == bridge.StatePopping) {
				out = append(out, key)
			}
		}
	}
	return out
}

// waitOutboxDrained waits until every ACD call decided so far was made (by B or C, A's
// included).
func (c *replicaCluster) waitOutboxDrained(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n, err := c.store.Depth(context.Background(), bridge.QueueACDOutbox)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ACD outbox not drained within %s: depth %d, err %v", within, n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisURLOf is the URL a child process reaches the test's Redis at (the real server, or the
// in-process fallback sessionstest started).
func redisURLOf(t *testing.T, rdb redis.UniversalClient) string {
	t.Helper()
	cl, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("Redis client %T: want a standalone client", rdb)
	}
	o := cl.Options()
	u := "redis://"
	if o.Password != "" {
		u += ":" + o.Password + "@"
	}
	return u + o.Addr + "/" + strconv.Itoa(o.DB)
}

func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
