package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// Handler fuzz targets: outside input through the real echo handler, over the real core and a
// real Redis (REDIS_URL; each fuzz worker process has its own key prefix). With Redis up, no
// input is answered 5xx, every refusal is a 4xx JSON error, and a refused request changes
// nothing in the store.

var fuzzT0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// Webhook bodies the fuzzer starts from: one of each event type, valid.
var webhookSeeds = []string{
	routedBody,
	`{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i2","routingId":"r2","chatId":"c2","site":"demo","queueId":"sales","queueName":"Sales","agentId":"a2","crmAccountId":"acct-a2","routeType":"transfer","fromRoutingId":"r1"}}`,
	`{"type":"interaction.revoked","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","agentId":"a1","reason":"timeout"}}`,
	`{"type":"interaction.abandoned","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","agentId":"a1","stage":"alerting"}}`,
	`{"type":"interaction.abandoned","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","stage":"queued"}}`,
	`{"type":"agent.state_changed","timestamp":"2026-11-21T10:00:00Z","data":{"agentId":"a1","state":"ready"}}`,
	`{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1\r\nid: 1-1","chatId":"c1","site":"demo","queueId":"sales","agentId":"a1","routeType":"lead"}}`,
	`{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","chatId":"c1","site":"mars","queueId":"sales","agentId":"a1","routeType":"lead"}}`,
	`{"type":"interaction.routed","timestamp":"2026-11-21T10:00:00Z","data":{"interactionId":"i1","chatId":"c1","site":"demo","queueId":"nope","agentId":"a1","routeType":"consult"}}`,
	`{}`, `[]`, `null`, ``, `{"type":`,
}

// FuzzWebhookHandler: any webhook-id, webhook-timestamp, webhook-signature and body, through
// POST /v1/acd/events. The answer is exactly what the contract says, in its order: 413 for a
// body over the limit, 401 for a signature acdapi.Verifier refuses, 400 for a webhook-id that
// is too long or holds control characters, 400/422 naming the field acdapi.Parse names, else
// a 2xx (or 422 for a site the bridge does not serve). A refused webhook stores nothing.
func FuzzWebhookHandler(f *testing.F) {
	ts := strconv.FormatInt(fuzzT0.Unix(), 10)
	for i, body := range webhookSeeds {
		f.Add("evt-"+strconv.Itoa(i), ts, uint8(1), "", []byte(body))
	}
	f.Add("evt-old", strconv.FormatInt(fuzzT0.Add(-time.Hour).Unix(), 10), uint8(1), "", []byte(routedBody))
	f.Add("evt-future", strconv.FormatInt(fuzzT0.Add(time.Hour).Unix(), 10), uint8(1), "", []byte(routedBody))
	f.Add("evt-retired", ts, uint8(2), "", []byte(routedBody))
	f.Add("evt-junk", ts, uint8(1), "v1,AAAA v2,x", []byte(routedBody))
	f.Add("evt\tab", ts, uint8(1), "", []byte(routedBody))
	f.Add("evt\r\nX-Forged: 1", ts, uint8(1), "", []byte(routedBody))
	f.Add(strings.Repeat("e", 257), ts, uint8(1), "", []byte(routedBody))
	f.Add("evt-unsigned", ts, uint8(0), "", []byte(routedBody))
	f.Add("", "", uint8(0), "", []byte{})
	f.Add("evt-big", ts, uint8(1), "", []byte(`{"type":"interaction.routed","pad":"`+strings.Repeat("x", hostileMaxBody)+`"}`))
	f.Add("evt-ts", "+"+ts, uint8(1), "", []byte(routedBody))
	f.Add("evt-ts0", "0"+ts, uint8(1), "", []byte(routedBody))

	e := newHostileEnv(f, hostileOptions{})
	e.setClock(fuzzT0)
	verifier := acdapi.Verifier{Secrets: []acdapi.Secret{secret}, Tolerance: 5 * time.Minute, Now: func() time.Time { return fuzzT0 }}
	allowed := []int{http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}

	f.Fuzz(func(t *testing.T, id, ts string, mode uint8, sig string, body []byte) {
		e.reset(t)
		switch mode % 3 {
		case 1: // the right signature, after whatever junk entries the fuzzer chose
			sig = strings.TrimSpace(sig + " " + rawSignature(secret, id, ts, body))
		case 2: // a secret the bridge does not know
			sig = rawSignature(retiredSecret, id, ts, body)
		}
		h := http.Header{}
		h.Set(acdapi.HeaderID, id)
		h.Set(acdapi.HeaderTimestamp, ts)
		h.Set(acdapi.HeaderSignature, sig)
		h.Set("Content-Type", "application/json")
		rec := e.do(context.Background(), http.MethodPost, "/v1/acd/events", "", h, body)

		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("POST /v1/acd/events (id %q, ts %q, sig %q, body %q) = %d %s", id, ts, sig, body, rec.Code, rec.Body)
		}
		wantStatus, wantField := webhookExpectation(verifier, id, ts, sig, body)
		if rec.Code >= 400 {
			eb := hostileErrorBody(t, rec.Body.Bytes())
			if eb.Error == "" || eb.Message == "" || eb.Field == "" {
				t.Fatalf("refusal %d %s names no error, message or field", rec.Code, rec.Body)
			}
			if rec.Code != wantStatus || eb.Field != wantField {
				if !(wantStatus == 0 && rec.Code == http.StatusUnprocessableEntity && strings.HasPrefix(eb.Field, "data.")) {
					t.Fatalf("POST (id %q, ts %q, sig %q, body %q) = %d on %q, want %d on %q", id, ts, sig, body, rec.Code, eb.Field, wantStatus, wantField)
				}
			}
			if got := e.snapshot(t); len(got) != 0 {
				t.Fatalf("refused webhook (%d %s) stored %v", rec.Code, rec.Body, hostileChangedKeys(nil, got))
			}
			return
		}
		if wantStatus != 0 {
			t.Fatalf("POST (id %q, ts %q, sig %q, body %q) = %d %s, want %d on %q", id, ts, sig, body, rec.Code, rec.Body, wantStatus, wantField)
		}
		var ans struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || !slices.Contains([]string{"accepted", "duplicate", "ignored"}, ans.Status) {
			t.Fatalf("2xx answer %s: %v", rec.Body, err)
		}
		if ev, _ := acdapi.Parse(body); ev.Routed != nil && ans.Status == "accepted" {
			legs, err := e.store.InteractionLegs(context.Background(), ev.Routed.InteractionID)
			if err != nil || len(legs) == 0 {
				t.Fatalf("accepted routing of %q stored no leg (%v)", ev.Routed.InteractionID, err)
			}
		}
	})
}

// webhookExpectation is what the contract says POST /v1/acd/events answers: a refusal's
// status and field, or 0 when the webhook is to be applied.
func webhookExpectation(v acdapi.Verifier, id, ts, sig string, body []byte) (int, string) {
	switch {
	case len(body) > hostileMaxBody:
		return http.StatusRequestEntityTooLarge, "body"
	case v.Verify(id, ts, sig, body) != nil:
		return http.StatusUnauthorized, "webhook-signature"
	case len(id) > 256 || strings.ContainsFunc(id, unicode.IsControl):
		return http.StatusBadRequest, "webhook-id"
	}
	_, err := acdapi.Parse(body)
	var fe *acdapi.FieldError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &fe) && errors.Is(err, acdapi.ErrInvalid):
		return http.StatusUnprocessableEntity, fe.Field
	case errors.As(err, &fe):
		return http.StatusBadRequest, fe.Field
	}
	return http.StatusBadRequest, "body"
}

// mediabarRoutes lists the agent routes from the router itself (sorted, so that a fuzz
// input means the same route in every process): a new route is covered without a change here.
func (e *hostileEnv) mediabarRoutes() []string {
	var out []string
	for _, r := range e.echo.Routes() {
		if strings.HasPrefix(r.Path, "/v1/mediabar/") && !strings.HasSuffix(r.Path, "*") && r.Method != echo.RouteNotFound {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The leg offered to a1 in the media-bar fuzz targets; its chat id marks a1's data in an
// answer.
const (
	a1Interaction = "i1"
	a1Chat        = "chat-of-a1"
)

// FuzzMediabarHandlers: any media-bar route (from the router), path id, query, body and
// token (a1's own, another agent's, none, tampered, in the query). Never a 5xx; a refusal is a
// JSON error and changes nothing; without a valid token every agent route is 401; another
// agent never gets a1's interaction, by id or in a list.
func FuzzMediabarHandlers(f *testing.F) {
	for route := range uint8(12) {
		for tokenMode := range uint8(5) {
			f.Add(route, tokenMode, a1Interaction, "", []byte(`{}`))
		}
	}
	for _, body := range []string{
		`{"agentId":"a3","site":"demo","crmAccountId":"acct-a3","crmChatSessionId":"sess-acct-a3"}`,
		`{"disposition":"Resolved"}`, `{"type":"transfer","targetQueueId":"sales"}`, `{"type":"consult","targetAgentId":"a2"}`,
		`{"type":"transfer","targetQueueId":"sales","targetAgentId":"a2"}`, `{"type":"barge"}`, ``, `{`, `[]`, `{"x":1}`,
		`{"disposition":"x"}{"disposition":"y"}`,
	} {
		for route := range uint8(12) {
			f.Add(route, uint8(0), a1Interaction, "", []byte(body))
		}
	}
	f.Add(uint8(0), uint8(0), "../../etc/passwd", "queue=sales", []byte{})
	f.Add(uint8(0), uint8(0), "i1", "queue=sales&last_event_id=1-0%0d%0aevent:%20x", []byte{})
	f.Add(uint8(0), uint8(1), "i1/../i1", "access_token=x", []byte{})

	e := newHostileEnv(f, hostileOptions{})
	e.setClock(fuzzT0)
	routes := e.mediabarRoutes()
	tokens := map[string]string{"a1": e.loginAgent(f, "a1"), "a2": e.loginAgent(f, "a2")}
	tampered := hostileTamper(tokens["a1"])

	f.Fuzz(func(t *testing.T, route, tokenMode uint8, id, query string, body []byte) {
		e.reset(t)
		ctx := context.Background()
		for _, agent := range []string{"a1", "a2"} {
			if _, err := e.svc.Login(ctx, bridge.Login{AgentID: agent, Site: "demo", CRMAccountID: "acct-" + agent, CRMChatSessionID: "sess-acct-" + agent}); err != nil {
				t.Fatal(err)
			}
		}
		e.offer(t, a1Interaction, "a1", a1Chat)
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		path = strings.ReplaceAll(path, ":id", url.PathEscape(id))
		h := http.Header{"Content-Type": {"application/json"}}
		tokenMode %= 5
		switch tokenMode {
		case 0:
			h.Set("Authorization", "Bearer "+tokens["a1"])
		case 1:
			h.Set("Authorization", "Bearer "+tokens["a2"])
		case 3:
			h.Set("Authorization", "Bearer "+tampered)
		case 4:
			query = "access_token=" + url.QueryEscape(tokens["a1"]) + "&" + query
		}
		before := e.snapshot(t)
		rec := e.do(ctx, method, path, query, h, body) // an event stream ends after its first frame
		what := method + " " + path + "?" + query

		if rec.Code >= 500 {
			t.Fatalf("%s (token mode %d, body %q) = %d %s", what, tokenMode, body, rec.Code, rec.Body)
		}
		login := path == "/v1/mediabar/login"
		if (tokenMode == 2 || tokenMode == 3) && !login && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("%s without a valid token = %d %s, want 401", what, rec.Code, rec.Body)
		}
		if tokenMode == 1 && rec.Code < 400 && strings.Contains(rec.Body.String(), a1Chat) {
			t.Fatalf("%s with a2's token = %d and shows a1's interaction: %s", what, rec.Code, rec.Body)
		}
		if tokenMode == 1 && id == a1Interaction && strings.Contains(path, "/interactions/") && rec.Code < 400 {
			t.Fatalf("%s with a2's token on a1's interaction = %d %s", what, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
				eb := hostileErrorBody(t, rec.Body.Bytes())
				if eb.Error == "" || eb.Message == "" {
					t.Fatalf("%s refusal %d %s has no error or message", what, rec.Code, rec.Body)
				}
			}
			if changed := hostileChangedKeys(before, e.snapshot(t)); len(changed) > 0 {
				t.Fatalf("%s refused (%d %s) but changed %v", what, rec.Code, rec.Body, changed)
			}
		}
	})
}

// hostileTamper returns token with its payload's agent changed and its MAC kept.
func hostileTamper(token string) string {
	return strings.Replace(token, "v1.eyJzdWIiOiJhMS", "v1.eyJzdWIiOiJhMi", 1)
}

// FuzzLastEventID: any Last-Event-ID (header or query) on the agent's event stream is either
// refused 400 naming Last-Event-ID or is an id the agent's stream in Redis can be read after.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"", "0", "0-0", "1-0", "1732182000000-5", "1-", "-1", "1-0\r\nevent: forged", "../../etc",
		"1 -0", "１-0", "99999999999999999999-0", "18446744073709551615-18446744073709551615", strings.Repeat("9", 41), "0x10-0"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	e := newHostileEnv(f, hostileOptions{})
	e.setClock(fuzzT0)
	token := e.loginAgent(f, "a1")
	f.Fuzz(func(t *testing.T, id string, viaQuery bool) {
		h := http.Header{"Authorization": {"Bearer " + token}}
		query := ""
		if viaQuery {
			query = "last_event_id=" + url.QueryEscape(id)
		} else {
			h.Set("Last-Event-ID", id)
		}
		rec := e.do(context.Background(), http.MethodGet, "/v1/mediabar/events", query, h, nil) // ends after the first frame
		switch rec.Code {
		case http.StatusBadRequest:
			if eb := hostileErrorBody(t, rec.Body.Bytes()); eb.Field != "Last-Event-ID" {
				t.Fatalf("Last-Event-ID %q refused naming %q", id, eb.Field)
			}
			return
		case http.StatusOK:
		default:
			t.Fatalf("Last-Event-ID %q = %d %s", id, rec.Code, rec.Body)
		}
		if id == "" {
			return
		}
		if strings.ContainsFunc(id, func(r rune) bool { return (r < '0' || r > '9') && r != '-' }) {
			t.Fatalf("Last-Event-ID %q accepted", id)
		}
		if _, err := e.store.Read(context.Background(), "a1", id, 1); err != nil {
			t.Fatalf("Last-Event-ID %q accepted, but the agent's stream cannot be read after it: %v", id, err)
		}
	})
}

// FuzzDeadLetterAdmin: any query on GET /v1/acd/dead-letters and any id on POST
// /v1/acd/dead-letters/:id/replay. A malformed one is 400 naming after, limit or id; an
// unknown id is 404; a page holds at most limit items; nothing is ever 5xx with Redis up, and
// a refusal changes nothing.
func FuzzDeadLetterAdmin(f *testing.F) {
	for _, q := range []string{"", "limit=1", "limit=0", "limit=1000", "limit=1001", "limit=-1", "limit=1e3", "limit=%20",
		"after=1-0", "after=abc", "after=1732182000000-0&limit=5", "after=99999999999999999999-0",
		"after=18446744073709551615-18446744073709551615", "after=1-0&after=x", "limit=1&limit=x", "after=1-0%0d%0a"} {
		f.Add(q, "1732182000000-0")
	}
	for _, id := range []string{"", "x", "0-0", "1-1-1", "../../etc/passwd", "1-0\r\n", "99999999999999999999-0", "0-"} {
		f.Add("", id)
	}
	e := newHostileEnv(f, hostileOptions{})
	enqueue := func(tb testing.TB) {
		tb.Helper()
		payload := `{"call":{"kind":"complete","idempotency_key":"complete:i9/r1","interaction_id":"i9"},"error":"acd: 404"}`
		if err := e.store.Enqueue(context.Background(), bridge.QueueACDDeadLetter, []byte(payload)); err != nil {
			tb.Fatal(err)
		}
	}
	enqueue(f)
	admin := http.Header{"Authorization": {"Bearer " + adminToken}}
	f.Fuzz(func(t *testing.T, query, id string) {
		ctx := context.Background()
		before := e.snapshot(t)
		rec := e.do(ctx, http.MethodGet, "/v1/acd/dead-letters", query, admin, nil)
		q, _ := url.ParseQuery(query)
		switch {
		case rec.Code == http.StatusOK:
			var page httpapi.DeadLettersResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				t.Fatalf("?%s = %s: %v", query, rec.Body, err)
			}
			limit, err := strconv.Atoi(q.Get("limit"))
			if err != nil {
				limit = 100
			}
			if len(page.Items) > limit {
				t.Fatalf("?%s answered %d items", query, len(page.Items))
			}
		case rec.Code == http.StatusBadRequest:
			if eb := hostileErrorBody(t, rec.Body.Bytes()); eb.Field != "after" && eb.Field != "limit" {
				t.Fatalf("?%s refused naming %q", query, eb.Field)
			}
		default:
			t.Fatalf("GET /v1/acd/dead-letters?%s = %d %s", query, rec.Code, rec.Body)
		}

		rec = e.do(ctx, http.MethodPost, "/v1/acd/dead-letters/"+url.PathEscape(id)+"/replay", "", admin, nil)
		switch {
		case rec.Code == http.StatusOK: // the one dead letter there is: put it back for the next input
			e.reset(t)
			enqueue(t)
			return
		case rec.Code == http.StatusBadRequest || rec.Code == http.StatusNotFound:
			if eb := hostileErrorBody(t, rec.Body.Bytes()); eb.Field != "id" && rec.Body.Len() > 0 && eb.Error != "Not Found" {
				t.Fatalf("replay %q refused naming %q", id, eb.Field)
			}
		default:
			t.Fatalf("POST replay %q = %d %s", id, rec.Code, rec.Body)
		}
		if changed := hostileChangedKeys(before, e.snapshot(t)); len(changed) > 0 {
			t.Fatalf("refused admin calls (?%s, replay %q) changed %v", query, id, changed)
		}
	})
}
