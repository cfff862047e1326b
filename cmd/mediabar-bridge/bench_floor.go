package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// The floor is the least a pop can cost on this machine, to hold the bridge against: an echo
// handler that does what a pop strictly needs and nothing else, synchronously, in the
// webhook request. Anything the bridge spends above it goes to what the floor leaves out:
// answering the ACD before the pop, the work queue's delivery and acks, the state machine's
// compare-and-set, timelines, the agent's event stream, the catalog, retries, breakers.

// floorRoundTrips are the Redis round trips of one floor pop, in order.
var floorRoundTrips = []string{"SET NX dedupe", "SET NX leg", "XADD work item", "SET NX PX lease", "SET leg"}

// floorServer is the floor's handler and what it talks to.
type floorServer struct {
	rdb      redis.UniversalClient
	prefix   string
	verifier acdapi.Verifier
	crm      floorCRM
}

// floorCRM calls the mock CRM's Oracle-style chatRouted, with a session token from one
// authenticate at start, as the oracle adapter does.
type floorCRM struct {
	url, site, token string
	hc               *http.Client
}

func newFloorServer(ctx context.Context, e *benchEnv, conns int) (*floorServer, error) {
	site := e.cfg.CRM.Sites[0]
	tr := &http.Transport{MaxIdleConns: 2 * conns, MaxIdleConnsPerHost: 2 * conns, IdleConnTimeout: time.Minute}
	crm := floorCRM{url: e.crmURL + "/uq/v1/" + site.Name, site: site.Name, hc: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
	var auth struct {
		ResultCode   string `json:"resultCode"`
		SessionToken string `json:"sessionToken"`
	}
	if err := crm.post(ctx, "/authenticate", map[string]string{"userName": site.UserName, "password": site.Password.Value(), "appId": site.AppID}, &auth); err != nil {
		return nil, fmt.Errorf("floor: authenticate: %w", err)
	}
	if auth.ResultCode != "SUCCESS" {
		return nil, fmt.Errorf("floor: authenticate answered %s", auth.ResultCode)
	}
	crm.token = auth.SessionToken
	return &floorServer{
		rdb: e.rdb, prefix: floorPrefix(e),
		verifier: acdapi.Verifier{Secrets: []acdapi.Secret{e.secret}, Tolerance: 5 * time.Minute},
		crm:      crm,
	}, nil
}

// floorPrefix is the namespace of the floor's keys, under the bench's own.
func floorPrefix(e *benchEnv) string { return e.cfg.Redis.KeyPrefix + ":floor" }

func (c floorCRM) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("X-UQ-Session", c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// floorLeg is the leg record the floor keeps.
type floorLeg struct {
	InteractionID string `json:"interaction_id"`
	RoutingID     string `json:"routing_id"`
	ChatID        string `json:"chat_id"`
	AgentID       string `json:"agent_id"`
	State         string `json:"state"`
	Code          string `json:"code,omitempty"`
}

func (f *floorServer) handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/v1/acd/events", f.handleEvent)
	return e
}

func (f *floorServer) handleEvent(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, 64<<10))
	if err != nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "body"})
	}
	id := req.Header.Get(acdapi.HeaderID)
	if err := f.verifier.Verify(id, req.Header.Get(acdapi.HeaderTimestamp), req.Header.Get(acdapi.HeaderSignature), body); err != nil {
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": err.Error()})
	}
	ev, err := acdapi.Parse(body)
	if err != nil || ev.Routed == nil {
		return c.JSON(http.StatusBadRequest, map[string]string{"error": fmt.Sprint(err)})
	}
	r := ev.Routed
	key := r.InteractionID + "/" + r.RoutingID
	legKey := f.prefix + ":leg:{" + key + "}"
	leg := floorLeg{InteractionID: r.InteractionID, RoutingID: r.RoutingID, ChatID: r.ChatID, AgentID: r.AgentID, State: "routed"}
	fail := func(err error) error {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	}

	// 1. Dedupe the delivery.
	first, err := f.rdb.SetNX(ctx, f.prefix+":delivery:"+id, 1, time.Hour).Result()
	if err != nil {
		return fail(err)
	}
	if !first {
		return c.JSON(http.StatusOK, webhookReply{Status: "duplicate"})
	}
	// 2. Record the leg.
	data, _ := json.Marshal(leg)
	if _, err := f.rdb.SetNX(ctx, legKey, data, time.Hour).Result(); err != nil {
		return fail(err)
	}
	// 3. The work item (durability: what a replica would pick up after a crash).
	if err := f.rdb.XAdd(ctx, &redis.XAddArgs{Stream: f.prefix + ":queue", MaxLen: 100_000, Approx: true, Values: []string{"payload", key}}).Err(); err != nil {
		return fail(err)
	}
	// 4. The pop lease.
	if err := f.rdb.SetNX(ctx, legKey+":lease", 1, 15*time.Second).Err(); err != nil {
		return fail(err)
	}
	// The pop.
	var ans struct {
		ResultCode string `json:"resultCode"`
	}
	err = f.crm.post(ctx, "/chatRouted", map[string]string{
		"chatId": r.ChatID, "agentAccountId": r.CRMAccountID, "queueId": r.QueueID, "transactionId": key + "#1",
	}, &ans)
	if err != nil {
		return fail(err)
	}
	// 5. The outcome.
	leg.State, leg.Code = "offered", ans.ResultCode
	if ans.ResultCode != "SUCCESS" {
		leg.State = "failed"
	}
	data, _ = json.Marshal(leg)
	if err := f.rdb.SetArgs(ctx, legKey, data, redis.SetArgs{KeepTTL: true}).Err(); err != nil {
		return fail(err)
	}
	return c.JSON(http.StatusAccepted, webhookReply{Status: "accepted", Code: ans.ResultCode})
}

// serveFloor serves the floor on a free loopback port until stop is called.
func serveFloor(ctx context.Context, f *floorServer) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- serveHandler(sctx, ln, f.handler()) }()
	stop = func() {
		cancel()
		<-done // the run's figures are in; a late serve error changes none of them
		f.crm.hc.CloseIdleConnections()
	}
	return "http://" + ln.Addr().String() + "/v1/acd/events", stop, nil
}
