package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// webhookRelay stands where a load balancer stands in production: the ACD posts its webhooks
// to it and it forwards each to a live replica (round robin). A replica that cannot be
// reached makes the relay answer 502, so the ACD retries, as it would through a real load
// balancer. On demand it duplicates (every webhook three times: twice under the ACD's
// event id to different replicas at once, once more under a new event id, re-signed, as an
// ACD that retried after a lost answer) and reorders (acknowledges a webhook to the ACD at
// once, holds it back and delivers it after later ones).
type webhookRelay struct {
	hist   *history
	secret acdapi.Secret
	srv    *http.Server
	url    string
	hc     *http.Client

	mu       sync.Mutex
	replicas []*replica
	next     int

	duplicate atomic.Bool
	reorder   atomic.Bool
	nEvent    atomic.Int64

	// Counters for the report.
	received, duplicated, reordered, forwarded atomic.Int64

	held   sync.WaitGroup // reordered webhooks not yet delivered
	stop   chan struct{}
	closed atomic.Bool
}

func newWebhookRelay(hist *history, secret acdapi.Secret) (*webhookRelay, error) {
	r := &webhookRelay{hist: hist, secret: secret, stop: make(chan struct{}),
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.url = "http://" + ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *webhookRelay) setReplicas(rs []*replica) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replicas = rs
}

// pick returns the next live replica after the previous pick (any replica if none is live).
func (r *webhookRelay) pick() *replica {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range r.replicas {
		r.next++
		if rep := r.replicas[r.next%len(r.replicas)]; rep.alive() {
			return rep
		}
	}
	return r.replicas[r.next%len(r.replicas)]
}

// close stops taking webhooks and waits for held ones (bounded by their own retry budget).
func (r *webhookRelay) close() {
	if r.closed.Swap(true) {
		return
	}
	close(r.stop)
	r.srv.Close()
	r.held.Wait()
}

// webhookSummary is what the history records of a webhook body.
type webhookSummary struct {
	Type string `json:"type"`
	Data struct {
		InteractionID string `json:"interactionId"`
		RoutingID     string `json:"routingId"`
		ChatID        string `json:"chatId"`
		AgentID       string `json:"agentId"`
	} `json:"data"`
}

func (r *webhookRelay) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.received.Add(1)
	headers := map[string]string{}
	for _, h := range []string{acdapi.HeaderID, acdapi.HeaderTimestamp, acdapi.HeaderSignature} {
		headers[h] = req.Header.Get(h)
	}
	var sum webhookSummary
	_ = json.Unmarshal(body, &sum)

	if r.reorder.Load() && rand.IntN(100) < 40 {
		// Acknowledge now, deliver later: whatever the ACD sends next overtakes this one.
		r.reordered.Add(1)
		r.held.Add(1)
		go func() {
			defer r.held.Done()
			select {
			case <-time.After(time.Duration(300+rand.IntN(900)) * time.Millisecond):
			case <-r.stop:
			}
			r.deliverUntilAccepted(sum, body, headers)
		}()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"status":"accepted"}`)
		return
	}

	if r.duplicate.Load() {
		r.duplicated.Add(1)
		// Twice more under the same event id, to other replicas, at the same time; once more
		// under a new id a moment later. Their answers do not matter to the ACD.
		go func() { _, _ = r.forward(r.pick(), sum, body, headers, "duplicate") }()
		r.held.Add(1)
		go func() {
			defer r.held.Done()
			time.Sleep(time.Duration(rand.IntN(500)) * time.Millisecond)
			id := "evt_chaos_dup_" + strconv.FormatInt(r.nEvent.Add(1), 10)
			r.deliverUntilAccepted(sum, body, acdapi.Headers(r.secret, id, time.Now(), body))
		}()
	}
	status, answer := r.forward(r.pick(), sum, body, headers, "")
	if status == 0 {
		http.Error(w, "replica unreachable", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

// deliverUntilAccepted delivers a webhook the relay took over (reordered, or a duplicate under
// a new id) until a replica answers 2xx or 4xx, for up to two minutes. Signed anew at each
// attempt only when the id is the relay's own; the ACD's own signature stays valid for the
// bridge's replay window (5 minutes).
func (r *webhookRelay) deliverUntilAccepted(sum webhookSummary, body []byte, headers map[string]string) {
	deadline := time.Now().Add(2 * time.Minute)
	backoff := 100 * time.Millisecond
	for time.Now().Before(deadline) {
		status, _ := r.forward(r.pick(), sum, body, headers, "relay")
		if status >= 200 && status < 500 {
			return
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 2*time.Second)
	}
}

// forward posts one webhook to a replica and records it; status 0 means no answer.
func (r *webhookRelay) forward(rep *replica, sum webhookSummary, body []byte, headers map[string]string, why string) (int, []byte) {
	p := r.hist.invoke(chaosOp{Process: "relay", F: fWebhook, InteractionID: sum.Data.InteractionID, RoutingID: sum.Data.RoutingID,
		ChatID: sum.Data.ChatID, Agent: sum.Data.AgentID, Value: sum.Type + " " + headers[acdapi.HeaderID] + " → " + rep.name + " " + why})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rep.url+"/v1/acd/events", bytes.NewReader(body))
	if err != nil {
		p.fail(err.Error())
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		p.info(err.Error())
		return 0, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.forwarded.Add(1)
	switch {
	case resp.StatusCode/100 == 2:
		p.ok(fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer)))
	case resp.StatusCode/100 == 4:
		p.fail(fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer)))
	default:
		p.info(fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer)))
	}
	return resp.StatusCode, answer
}
