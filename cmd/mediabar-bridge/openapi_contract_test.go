package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// TestOpenAPIContract holds the running system to the OpenAPI document it serves
// (adapters/httpapi/openapi.yaml). The system is the scenarios' world: a bridge, the mock CRM
// and the mock ACD over real HTTP on loopback, with real Redis. The test checks that
//
//   - every route the public and the ops port register is documented, on that port, and every
//     documented operation is registered on each port its servers name;
//   - every documented operation is called at least once with success and, where it
//     documents a 4xx, at least once with an error, on each of its ports;
//   - every answer has a status the operation documents, with the documented headers and a
//     body that fits the documented schema (kin-openapi's validator); the event stream's
//     frames and the outcome export's lines are each checked against their schemas; and no
//     documented operation is answered by the router's own 404/405.
//
// Requests made on the success path are themselves checked against the document, so the
// examples the test sends are examples a client may send.
func TestOpenAPIContract(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, err := newHarness(ctx, testEnv(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			h.close()
		}
	}()
	c := loadContract(ctx, t, h)
	public, ops := h.app.api.Routes()
	c.checkRoutes(public, ops)

	c.exerciseOps(ctx)
	c.exerciseUI(ctx)
	r := c.exerciseMediabar(ctx, h)
	routed := c.exerciseWebhook(ctx, h)
	c.exerciseAdmin(ctx, h, r, routed)
	last := c.exerciseEvents(ctx, r.a)
	c.exerciseShutdownFrame(ctx, h, r.a, last)
	stopped = true

	c.checkCoverage()
}

// The document's two servers; the test maps them to the running world's two ports.
const (
	docPublicServer = "http://localhost:8080"
	docOpsServer    = "http://localhost:9090"
)

// contract is the document, a router over it, and what the test has seen of each operation.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	bases  map[string]string // documented server URL → the world's base URL
	hc     *http.Client
	seen   map[string]*opSeen // coverageKey → answers
}

// opSeen is the statuses one operation answered on one port.
type opSeen struct{ success, failure []int }

// call is one request the test makes.
type call struct {
	method, target string // target: path and query
	// server is the documented server to send it to; "" is the path's first.
	server string
	header map[string]string
	body   []byte
	want   int
	// valid says the request itself must match the document: true for every success and
	// for errors the document cannot rule out (an unknown id, a stale session); false for
	// requests that break it on purpose (a missing field, no token).
	valid bool
}

func (cl call) String() string { return cl.method + " " + cl.target }

// answer is what the server said.
type answer struct {
	status int
	header http.Header
	body   []byte
}

var registerDecodersOnce sync.Once

func loadContract(ctx context.Context, t *testing.T, h *harness) *contract {
	t.Helper()
	// The document as the server serves it: what a client would read.
	resp, err := http.Get(h.bridgeURL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d, %v", resp.StatusCode, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	// The router matches paths only: the world listens on random ports, not the documented
	// ones, and which port a path lives on is checked from the document itself.
	routing, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	routing.Servers = nil
	for _, item := range routing.Paths.Map() {
		item.Servers = nil
	}
	router, err := gorillamux.NewRouter(routing)
	if err != nil {
		t.Fatal(err)
	}
	registerDecodersOnce.Do(func() { registerDecoders(doc) })
	return &contract{t: t, doc: doc, router: router,
		bases: map[string]string{docPublicServer: h.bridgeURL, docOpsServer: h.opsURL},
		hc: &http.Client{Timeout: 15 * time.Second,
			// Redirects are answers to check, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		seen: map[string]*opSeen{}}
}

// registerDecoders teaches the validator the document's non-JSON media types: JSON lines are
// checked line by line; the rest (pages, scripts, metrics, the event stream, whose frames
// the test checks itself) are text.
func registerDecoders(doc *openapi3.T) {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for ct := range resp.Value.Content {
					if openapi3filter.RegisteredBodyDecoder(ct) == nil {
						openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
					}
				}
			}
		}
	}
}

// ndjsonDecoder checks every line of a JSON-lines body against the schema (which describes
// one line) and returns the first for the validator to check again. The test only asks for
// exports that have rows, so an empty one is an error here.
func ndjsonDecoder(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var first any
	n := 0
	for sc.Scan() {
		n++
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := schema.Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if n == 1 {
			first = v
		}
	}
	if n == 0 {
		return nil, errors.New("no lines (the test expects rows)")
	}
	return first, sc.Err()
}

// authenticate lets the request validator accept the credentials the document asks for; the
// server decides whether they are good.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s, req := in.SecurityScheme, in.RequestValidationInput.Request
	switch {
	case s.Type == "http" && s.Scheme == "bearer" && strings.HasPrefix(req.Header.Get("Authorization"), "Bearer "):
		return nil
	case s.Type == "apiKey" && s.In == "query" && req.URL.Query().Get(s.Name) != "":
		return nil
	}
	return fmt.Errorf("no %s credentials", in.SecuritySchemeName)
}

// serversOf is the documented servers of a path: its own, else the document's.
func (c *contract) serversOf(path string) []string {
	servers := c.doc.Servers
	if item := c.doc.Paths.Value(path); item != nil && len(item.Servers) > 0 {
		servers = item.Servers
	}
	var out []string
	for _, s := range servers {
		out = append(out, s.URL)
	}
	return out
}

func coverageKey(server, method, path string) string { return method + " " + path + " @" + server }

// send finds the documented operation, checks the request where it should be valid, and sends
// it. It returns nil when the test called something undocumented (reported).
func (c *contract) send(ctx context.Context, hc *http.Client, cl call) (*http.Response, *openapi3filter.RequestValidationInput, string) {
	c.t.Helper()
	probe, err := http.NewRequest(cl.method, "http://documented"+cl.target, nil)
	if err != nil {
		c.t.Fatalf("%s: %v", cl, err)
	}
	route, params, err := c.router.FindRoute(probe)
	if err != nil {
		c.t.Errorf("%s: the test calls something the document does not have: %v", cl, err)
		return nil, nil, ""
	}
	servers := c.serversOf(route.Path)
	server := cl.server
	if server == "" {
		server = servers[0]
	}
	if !slices.Contains(servers, server) {
		c.t.Errorf("%s: the document does not serve %s on %s", cl, route.Path, server)
		return nil, nil, ""
	}
	base, ok := c.bases[server]
	if !ok {
		c.t.Fatalf("%s: the document names server %s, which the test does not know", cl, server)
	}
	newReq := func() *http.Request {
		var body io.Reader
		if cl.body != nil {
			body = bytes.NewReader(cl.body)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, base+cl.target, body)
		if err != nil {
			c.t.Fatalf("%s: %v", cl, err)
		}
		if cl.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range cl.header {
			req.Header.Set(k, v)
		}
		return req
	}
	rv := &openapi3filter.RequestValidationInput{Request: newReq(), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: authenticate, MultiError: true}}
	if cl.valid {
		if err := openapi3filter.ValidateRequest(ctx, rv); err != nil {
			c.t.Errorf("%s: the test's request does not match the document: %v", cl, err)
		}
		rv.Request = newReq() // validation read the body
	}
	resp, err := hc.Do(rv.Request)
	if err != nil {
		c.t.Errorf("%s: %v", cl, err)
		return nil, nil, ""
	}
	return resp, rv, server
}

// do makes the call and checks the answer against the document and the test's expectation.
func (c *contract) do(ctx context.Context, cl call) answer {
	c.t.Helper()
	resp, rv, server := c.send(ctx, c.hc, cl)
	if resp == nil {
		return answer{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		c.t.Errorf("%s: reading the answer: %v", cl, err)
	}
	c.check(ctx, cl, rv, server, resp, body)
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// check holds one answer to the document: a documented status, its documented headers, and a
// body that fits its schema (or no body where the document has none).
func (c *contract) check(ctx context.Context, cl call, rv *openapi3filter.RequestValidationInput, server string, resp *http.Response, body []byte) {
	c.t.Helper()
	status := resp.StatusCode
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		// The router's own answer names the status (echo's text); a handler's names a code.
		var eb httpapi.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Error == http.StatusText(status) {
			c.t.Errorf("%s: documented as %s %s, but the server has no such route (router answered %d)", cl, rv.Route.Method, rv.Route.Path, status)
			return
		}
	}
	if status != cl.want {
		c.t.Errorf("%s = %d %s, want %d", cl, status, truncate(body), cl.want)
	}
	key := coverageKey(server, rv.Route.Method, rv.Route.Path)
	seen := c.seen[key]
	if seen == nil {
		seen = &opSeen{}
		c.seen[key] = seen
	}
	if status < 400 {
		seen.success = append(seen.success, status)
	} else {
		seen.failure = append(seen.failure, status)
	}

	ref := rv.Route.Operation.Responses.Status(status)
	if ref == nil || ref.Value == nil {
		c.t.Errorf("%s answered %d, which the document does not list for %s %s: %s", cl, status, rv.Route.Method, rv.Route.Path, truncate(body))
		return
	}
	// The validator skips HEAD, 301 and 304 altogether: their headers are checked here.
	for name, hdr := range ref.Value.Headers {
		v := resp.Header.Get(name)
		if v == "" {
			if hdr.Value.Required {
				c.t.Errorf("%s answered %d without the documented header %s", cl, status, name)
			}
			continue
		}
		if s := hdr.Value.Schema; s != nil && s.Value != nil {
			if err := s.Value.VisitJSON(v); err != nil {
				c.t.Errorf("%s answered %d with header %s %q outside the document: %v", cl, status, name, v, err)
			}
		}
	}
	if len(ref.Value.Content) == 0 && len(body) > 0 {
		c.t.Errorf("%s answered %d with a body where the document has none: %s", cl, status, truncate(body))
	}
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: rv, Status: status, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		c.t.Errorf("%s answered %d outside the document: %v\nbody: %s", cl, status, err, truncate(body))
	}
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// openAPIPath writes an echo route path in OpenAPI's syntax: ":id" is "{id}", and a
// trailing "*" (a file below a prefix) is "{path}".
func openAPIPath(echoPath string) string {
	segs := strings.Split(echoPath, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, ":"):
			segs[i] = "{" + s[1:] + "}"
		case s == "*":
			segs[i] = "{path}"
		}
	}
	return strings.Join(segs, "/")
}

// checkRoutes compares the routes the two ports register with the document, both ways.
func (c *contract) checkRoutes(public, ops []httpapi.Route) {
	c.t.Helper()
	if len(public) == 0 || len(ops) == 0 {
		c.t.Fatalf("Routes() = %d public, %d ops routes: want both", len(public), len(ops))
	}
	registered := map[string]bool{}
	for server, routes := range map[string][]httpapi.Route{docPublicServer: public, docOpsServer: ops} {
		for _, r := range routes {
			path := openAPIPath(r.Path)
			item := c.doc.Paths.Value(path)
			if item == nil || item.GetOperation(r.Method) == nil {
				c.t.Errorf("%s %s is registered on %s but not documented (as %s %s)", r.Method, r.Path, server, r.Method, path)
				continue
			}
			if !slices.Contains(c.serversOf(path), server) {
				c.t.Errorf("%s %s is registered on %s, but the document puts it on %v", r.Method, path, server, c.serversOf(path))
			}
			registered[coverageKey(server, r.Method, path)] = true
		}
	}
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			for _, server := range c.serversOf(path) {
				// "/mediabar/" is the page at the root of the "/mediabar/*" route.
				wildcard := strings.HasSuffix(path, "/") && registered[coverageKey(server, method, path+"{path}")]
				if !registered[coverageKey(server, method, path)] && !wildcard {
					c.t.Errorf("%s %s is documented on %s but not registered there", method, path, server)
				}
			}
		}
	}
}

// checkCoverage requires a success for every documented operation on each of its ports, and
// an error where it documents a 4xx.
func (c *contract) checkCoverage() {
	c.t.Helper()
	operations := 0
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, server := range c.serversOf(path) {
				key := coverageKey(server, method, path)
				operations++
				seen := c.seen[key]
				if seen == nil || len(seen.success) == 0 {
					c.t.Errorf("%s: never called with success", key)
				}
				if documents4xx(op) && (seen == nil || len(seen.failure) == 0) {
					c.t.Errorf("%s: never called with an error, though the document lists some", key)
				}
			}
		}
	}
	requests := 0
	for _, s := range c.seen {
		requests += len(s.success) + len(s.failure)
	}
	c.t.Logf("%d documented operations (per port), %d checked requests", operations, requests)
}

func documents4xx(op *openapi3.Operation) bool {
	for code := range op.Responses.Map() {
		if strings.HasPrefix(code, "4") {
			return true
		}
	}
	return false
}

// --- the calls ---

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeAs[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Errorf("decode %T from %s: %v", v, truncate(a.body), err)
	}
	return v
}

func (c *contract) exerciseOps(ctx context.Context) {
	for _, server := range []string{docPublicServer, docOpsServer} {
		c.do(ctx, call{method: http.MethodGet, target: "/openapi.yaml", server: server, want: 200, valid: true})
		c.do(ctx, call{method: http.MethodGet, target: "/openapi.json", server: server, want: 200, valid: true})
	}
	c.do(ctx, call{method: http.MethodGet, target: "/livez", want: 200, valid: true})
	ready := decodeAs[httpapi.ReadyzResponse](c.t, c.do(ctx, call{method: http.MethodGet, target: "/readyz", want: 200, valid: true}))
	if ready.Status != "ready" {
		c.t.Errorf("readyz = %+v, want ready", ready)
	}
	m := c.do(ctx, call{method: http.MethodGet, target: "/metrics", want: 200, valid: true})
	if !bytes.Contains(m.body, []byte("mbb_")) {
		c.t.Errorf("/metrics has no mbb_ metric")
	}
	c.do(ctx, call{method: http.MethodGet, target: "/version", want: 200, valid: true})
}

func (c *contract) exerciseUI(ctx context.Context) {
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar?agentId=a1", want: 301, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar", want: 301, valid: true})
	page := c.do(ctx, call{method: http.MethodGet, target: "/mediabar/", want: 200, valid: true})
	if !bytes.Contains(bytes.ToLower(page.body), []byte("<html")) {
		c.t.Errorf("GET /mediabar/ is not a page: %s", truncate(page.body))
	}
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/", header: map[string]string{"If-None-Match": page.header.Get("ETag")}, want: 304, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/", header: map[string]string{"If-Match": `"another-version"`}, want: 412, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/", header: map[string]string{"Range": "bytes=99999999-"}, want: 416, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar/", want: 200, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar/", header: map[string]string{"If-Match": `"another-version"`}, want: 412, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/mediabar.js", want: 200, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/mediabar.css", header: map[string]string{"Range": "bytes=0-9"}, want: 206, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar/mediabar.css", want: 200, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/.hidden", want: 400, valid: true})
	c.do(ctx, call{method: http.MethodGet, target: "/mediabar/no-such-file.js", want: 404, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar/.hidden", want: 400, valid: true})
	c.do(ctx, call{method: http.MethodHead, target: "/mediabar/no-such-file.js", want: 404, valid: true})
}

// mediabarRun is what the media-bar calls leave for the later ones: agent a with a
// completed chat, a transfer that the ACD refused, and events on its stream.
type mediabarRun struct {
	a         *scAgent
	completed string // an interaction id a completed
}

func (c *contract) exerciseMediabar(ctx context.Context, h *harness) mediabarRun {
	t := c.t
	post, get := http.MethodPost, http.MethodGet

	// Login through the contract: the agent exists in both mocks and is in CRM chat.
	a, err := h.newAgent(ctx, agentSetup{allowDecline: true})
	if err != nil {
		t.Fatal(err)
	}
	login := httpapi.LoginRequest{AgentID: a.acdID, Site: h.site, CRMAccountID: a.account, CRMChatSessionID: a.sessionID}
	lr := decodeAs[httpapi.LoginResponse](t, c.do(ctx, call{method: post, target: "/v1/mediabar/login", body: mustJSON(t, login), want: 200, valid: true}))
	if lr.Token == "" {
		t.Fatal("login gave no token")
	}
	a.mb.token = lr.Token
	c.do(ctx, call{method: post, target: "/v1/mediabar/login", body: []byte(`{"agentId":"x"}`), want: 400})
	unknownSite := login
	unknownSite.Site = "no-such-site"
	c.do(ctx, call{method: post, target: "/v1/mediabar/login", body: mustJSON(t, unknownSite), want: 422, valid: true})
	stale := login
	stale.CRMChatSessionID = "stale-session"
	c.do(ctx, call{method: post, target: "/v1/mediabar/login", body: mustJSON(t, stale), want: 409, valid: true})
	c.do(ctx, call{method: post, target: "/v1/mediabar/login", body: []byte(`{"agentId":"` + strings.Repeat("a", 17<<10) + `"}`), want: 413})

	b, err := h.newAgent(ctx, agentSetup{}) // may not decline
	if err != nil {
		t.Fatal(err)
	}
	auth := bearer(a.mb.token)

	c.do(ctx, call{method: get, target: "/v1/mediabar/me", header: auth, want: 200, valid: true})
	c.do(ctx, call{method: get, target: "/v1/mediabar/me", want: 401})
	c.do(ctx, call{method: get, target: "/v1/mediabar/interactions", header: auth, want: 200, valid: true})
	c.do(ctx, call{method: get, target: "/v1/mediabar/interactions", header: bearer("v1.forged.token"), want: 401, valid: true})
	disp := decodeAs[map[string]any](t, c.do(ctx, call{method: get, target: "/v1/mediabar/dispositions?queue=chat-sales", header: auth, want: 200, valid: true}))
	if disp["required"] != true {
		t.Errorf("dispositions of chat-sales = %v, want required", disp)
	}
	c.do(ctx, call{method: get, target: "/v1/mediabar/dispositions", header: auth, want: 400})
	c.do(ctx, call{method: get, target: "/v1/mediabar/dispositions?queue=no-such-queue", header: auth, want: 404, valid: true})
	c.do(ctx, call{method: get, target: "/v1/mediabar/diagnostics", header: auth, want: 200, valid: true})
	c.do(ctx, call{method: get, target: "/v1/mediabar/diagnostics", want: 401})
	c.do(ctx, call{method: post, target: "/v1/mediabar/token", header: auth, want: 200, valid: true})
	c.do(ctx, call{method: post, target: "/v1/mediabar/token", header: auth, body: []byte(`{"x":1}`), want: 400})
	c.do(ctx, call{method: post, target: "/v1/mediabar/token", want: 401})

	// A chat in a queue that requires a disposition: offered, accepted, transferred (the ACD
	// refuses: the target is not ready), ended by the customer, completed.
	r1, _, err := h.routeNewChat(ctx, a, "chat-sales", "offered", bridge.StateOffered)
	if err != nil {
		t.Fatal(err)
	}
	one := "/v1/mediabar/interactions/" + r1.interactionID
	unknown := "/v1/mediabar/interactions/no-such-interaction"
	c.do(ctx, call{method: get, target: one, header: auth, want: 200, valid: true})
	c.do(ctx, call{method: get, target: one, header: bearer(b.mb.token), want: 403, valid: true})
	c.do(ctx, call{method: get, target: unknown, header: auth, want: 404, valid: true})
	c.do(ctx, call{method: get, target: one + "/timeline", header: auth, want: 200, valid: true})
	c.do(ctx, call{method: get, target: one + "/timeline", header: bearer(b.mb.token), want: 403, valid: true})
	c.do(ctx, call{method: get, target: unknown + "/timeline", header: auth, want: 404, valid: true})

	c.do(ctx, call{method: post, target: one + "/accept", header: bearer(b.mb.token), want: 403, valid: true})
	c.do(ctx, call{method: post, target: one + "/accept", header: auth, body: []byte(`[]`), want: 400})
	c.do(ctx, call{method: post, target: unknown + "/accept", header: auth, want: 404, valid: true})
	accepted := decodeAs[bridge.Interaction](t, c.do(ctx, call{method: post, target: one + "/accept", header: auth, body: []byte(`{}`), want: 200, valid: true}))
	if accepted.State != bridge.StateActive {
		t.Errorf("accepted leg is %s, want active", accepted.State)
	}
	c.do(ctx, call{method: post, target: one + "/accept", header: auth, want: 409, valid: true})

	transfer := httpapi.TransferRequest{Type: "transfer", TargetAgentID: b.acdID}
	c.do(ctx, call{method: post, target: one + "/transfer", header: auth, body: mustJSON(t, transfer), want: 202, valid: true})
	c.do(ctx, call{method: post, target: one + "/transfer", header: bearer(b.mb.token), body: mustJSON(t, httpapi.TransferRequest{Type: "transfer", TargetQueueID: "chat-support"}), want: 403, valid: true})
	c.do(ctx, call{method: post, target: one + "/transfer", header: auth, body: []byte(`{"type":"transfer"}`), want: 422, valid: true})
	c.do(ctx, call{method: post, target: one + "/transfer", header: auth, body: []byte(`{"type":"transfer","targetAgentId":"x","bogus":1}`), want: 400})
	c.do(ctx, call{method: post, target: unknown + "/transfer", header: auth, body: mustJSON(t, transfer), want: 404, valid: true})

	if err := h.crm.Conclude(h.site, r1.chatID, "END_USER_CONCLUDED"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitLeg(ctx, a, r1.interactionID, "wrap-up", inState(bridge.StateWrapUp)); err != nil {
		t.Fatal(err)
	}
	c.do(ctx, call{method: post, target: one + "/transfer", header: auth, body: mustJSON(t, transfer), want: 409, valid: true})
	c.do(ctx, call{method: post, target: one + "/complete", header: auth, want: 422, valid: true})
	c.do(ctx, call{method: post, target: one + "/complete", header: auth, body: []byte(`{"disposition":"No such disposition"}`), want: 422, valid: true})
	c.do(ctx, call{method: post, target: one + "/complete", header: auth, body: []byte(`{"disposition":5}`), want: 400})
	c.do(ctx, call{method: post, target: one + "/complete", header: auth, body: []byte(`{"disposition":"` + strings.Repeat("R", 17<<10) + `"}`), want: 413})
	c.do(ctx, call{method: post, target: one + "/complete", header: bearer(b.mb.token), body: []byte(`{"disposition":"Resolved"}`), want: 403, valid: true})
	c.do(ctx, call{method: post, target: unknown + "/complete", header: auth, want: 404, valid: true})
	done := decodeAs[bridge.Interaction](t, c.do(ctx, call{method: post, target: one + "/complete", header: auth, body: []byte(`{"disposition":"Resolved"}`), want: 200, valid: true}))
	if done.State != bridge.StateCompleted || done.Disposition != "Resolved" {
		t.Errorf("completed leg = %s with %q, want completed with Resolved", done.State, done.Disposition)
	}
	c.do(ctx, call{method: post, target: one + "/complete", header: auth, body: []byte(`{"disposition":"Resolved"}`), want: 409, valid: true})

	// Decline: allowed for a, not for b (its CRM profile).
	r2, _, err := h.routeNewChat(ctx, a, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		t.Fatal(err)
	}
	two := "/v1/mediabar/interactions/" + r2.interactionID
	c.do(ctx, call{method: post, target: two + "/decline", header: bearer(b.mb.token), want: 403, valid: true})
	c.do(ctx, call{method: post, target: two + "/decline", header: auth, body: []byte(`{"x":1}`), want: 400})
	c.do(ctx, call{method: post, target: unknown + "/decline", header: auth, want: 404, valid: true})
	declined := decodeAs[bridge.Interaction](t, c.do(ctx, call{method: post, target: two + "/decline", header: auth, want: 200, valid: true}))
	if declined.State != bridge.StateRequeued {
		t.Errorf("declined leg is %s, want requeued", declined.State)
	}
	c.do(ctx, call{method: post, target: two + "/decline", header: auth, want: 409, valid: true})
	r3, _, err := h.routeNewChat(ctx, b, "chat-support", "offered", bridge.StateOffered)
	if err != nil {
		t.Fatal(err)
	}
	refused := decodeAs[httpapi.ErrorBody](t, c.do(ctx, call{method: post, target: "/v1/mediabar/interactions/" + r3.interactionID + "/decline",
		header: bearer(b.mb.token), want: 403, valid: true}))
	if refused.Error != "decline_not_allowed" {
		t.Errorf("decline without the profile's permission = %q, want decline_not_allowed", refused.Error)
	}

	// Logout: refused while b holds its offer; a fresh agent logs out, and its token is done.
	open := decodeAs[httpapi.ErrorBody](t, c.do(ctx, call{method: post, target: "/v1/mediabar/logout", header: bearer(b.mb.token), want: 409, valid: true}))
	if len(open.Interactions) == 0 {
		t.Errorf("refused logout lists no interactions: %+v", open)
	}
	leaver, err := h.newAgent(ctx, agentSetup{})
	if err != nil {
		t.Fatal(err)
	}
	c.do(ctx, call{method: post, target: "/v1/mediabar/logout", header: bearer(leaver.mb.token), want: 204, valid: true})
	gone := decodeAs[httpapi.ErrorBody](t, c.do(ctx, call{method: get, target: "/v1/mediabar/me", header: bearer(leaver.mb.token), want: 401, valid: true}))
	if gone.Error != "not_logged_in" {
		t.Errorf("after logout /me = %q, want not_logged_in", gone.Error)
	}
	c.do(ctx, call{method: post, target: "/v1/mediabar/logout", want: 401})
	return mediabarRun{a: a, completed: r1.interactionID}
}

// exerciseWebhook delivers every event type, signed as the ACD signs, then has the leg it
// routed completed: the ACD does not know that interaction, so it rejects the complete call,
// which leaves a dead letter for the admin calls. It returns that interaction's id.
func (c *contract) exerciseWebhook(ctx context.Context, h *harness) string {
	t := c.t
	d, routed, err := h.ownRouting(ctx, "contract")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(eventID, typ string, data any, want int) answer {
		t.Helper()
		body, headers, err := h.signedEvent(eventID, typ, time.Now(), data)
		if err != nil {
			t.Fatal(err)
		}
		return c.do(ctx, call{method: http.MethodPost, target: "/v1/acd/events", header: headers, body: body, want: want, valid: true})
	}
	status := func(a answer) (string, bool) {
		var v struct {
			Status    string `json:"status"`
			Duplicate bool   `json:"duplicate_event"`
		}
		_ = json.Unmarshal(a.body, &v)
		return v.Status, v.Duplicate
	}
	evID := "contract-routed-" + routed.InteractionID
	if st, _ := status(deliver(evID, acdapi.TypeRouted, routed, 202)); st != "accepted" {
		t.Errorf("routed: status %q, want accepted", st)
	}
	if st, dup := status(deliver(evID, acdapi.TypeRouted, routed, 200)); st != "duplicate" || !dup {
		t.Errorf("routed again under its id: %q duplicate_event %v, want duplicate, true", st, dup)
	}
	if st, _ := status(deliver(evID+"-again", acdapi.TypeRouted, routed, 200)); st != "duplicate" {
		t.Errorf("routed again under a new id: %q, want duplicate", st)
	}
	stateID := "contract-state-" + routed.InteractionID
	notReady := acdapi.AgentStateChanged{AgentID: d.acdID, State: "not_ready", Reason: "contract"}
	deliver(stateID, acdapi.TypeAgentChanged, notReady, 202)
	if _, dup := status(deliver(stateID, acdapi.TypeAgentChanged, notReady, 202)); !dup {
		t.Errorf("agent.state_changed again under its id: duplicate_event false, want true")
	}
	// An abandon is recorded for reporting even when no agent ever had the chat.
	queued := acdapi.Abandoned{InteractionID: "contract-queued-" + routed.InteractionID, Stage: acdapi.StageQueued}
	if st, _ := status(deliver("contract-queued-"+routed.InteractionID, acdapi.TypeAbandoned, queued, 202)); st != "accepted" {
		t.Errorf("abandoned while queued: %q, want accepted", st)
	}
	for _, e := range []struct {
		typ  string
		data any
	}{
		{acdapi.TypeAgentChanged, acdapi.AgentStateChanged{AgentID: "no-such-agent", State: "ready"}},
		{acdapi.TypeRevoked, acdapi.Revoked{InteractionID: "no-such-interaction", AgentID: d.acdID, Reason: "contract"}},
	} {
		if st, _ := status(deliver("contract-"+e.typ+"-"+routed.InteractionID, e.typ, e.data, 200)); st != "ignored" {
			t.Errorf("%s about nothing the bridge has: %q, want ignored", e.typ, st)
		}
	}

	body, headers, err := h.signedEvent("contract-bad", acdapi.TypeRevoked, time.Now(), acdapi.Revoked{InteractionID: "x", AgentID: "y"})
	if err != nil {
		t.Fatal(err)
	}
	c.do(ctx, call{method: http.MethodPost, target: "/v1/acd/events", body: body, want: 401})
	forged := map[string]string{acdapi.HeaderID: headers[acdapi.HeaderID], acdapi.HeaderTimestamp: headers[acdapi.HeaderTimestamp], acdapi.HeaderSignature: "v1,AAAA"}
	c.do(ctx, call{method: http.MethodPost, target: "/v1/acd/events", header: forged, body: body, want: 401, valid: true})
	secret, err := h.webhookSecret()
	if err != nil {
		t.Fatal(err)
	}
	signedRaw := func(id, raw string) call {
		return call{method: http.MethodPost, target: "/v1/acd/events", header: acdapi.Headers(secret, id, time.Now(), []byte(raw)), body: []byte(raw)}
	}
	noTime := signedRaw("contract-no-time", `{"type":"interaction.revoked","data":{"interactionId":"x","agentId":"y"}}`)
	noTime.want = 400
	c.do(ctx, noTime)
	unknownType := signedRaw("contract-unknown-type", `{"type":"chat.teleported","timestamp":"2026-01-01T00:00:00Z","data":{}}`)
	unknownType.want = 422
	c.do(ctx, unknownType)
	c.do(ctx, call{method: http.MethodPost, target: "/v1/acd/events", body: bytes.Repeat([]byte(" "), int(h.cfg.ACD.MaxBodyBytes)+1), want: 413})

	// The routed leg, completed: the ACD rejects the complete call (it never had the
	// interaction), and the call is dead-lettered.
	if _, err := waitLeg(ctx, d, routed.InteractionID, "offered", inState(bridge.StateOffered)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mb.answerOffer(ctx, routed.InteractionID, "accept"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mb.complete(ctx, routed.InteractionID, ""); err != nil {
		t.Fatal(err)
	}
	return routed.InteractionID
}

// exerciseAdmin reads r's timeline and outcomes, and lists and replays the dead letter the
// ACD left for deadLetterInteraction.
func (c *contract) exerciseAdmin(ctx context.Context, h *harness, r mediabarRun, deadLetterInteraction string) {
	t := c.t
	get, post := http.MethodGet, http.MethodPost
	admin := bearer(h.cfg.Admin.Token.Value())

	tl := "/v1/interactions/" + r.completed + "/timeline"
	c.do(ctx, call{method: get, target: tl, header: admin, want: 200, valid: true})
	c.do(ctx, call{method: get, target: "/v1/interactions/never-seen-interaction/timeline", header: admin, want: 404, valid: true})
	c.do(ctx, call{method: get, target: tl, want: 401})
	c.do(ctx, call{method: get, target: tl, header: bearer("not-the-admin-token"), want: 401, valid: true})

	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	jsonl := c.do(ctx, call{method: get, target: "/v1/reports/outcomes?since=" + since + "&format=jsonl", header: admin, want: 200, valid: true})
	if !bytes.Contains(jsonl.body, []byte(r.completed)) {
		t.Errorf("the outcome export has no row for %s", r.completed)
	}
	csvAnswer := c.do(ctx, call{method: get, target: "/v1/reports/outcomes?since=" + since + "&format=csv", header: admin, want: 200, valid: true})
	c.checkCSVHeader(csvAnswer.body)
	c.do(ctx, call{method: get, target: "/v1/reports/outcomes?since=yesterday", header: admin, want: 400})
	c.do(ctx, call{method: get, target: "/v1/reports/outcomes?format=xml", header: admin, want: 400})
	c.do(ctx, call{method: get, target: "/v1/reports/outcomes", want: 401})

	// The dead letter left by the webhook calls (the outbox makes the call in the background).
	id := ""
	for id == "" {
		page := decodeAs[httpapi.DeadLettersResponse](t, c.do(ctx, call{method: get, target: "/v1/acd/dead-letters", header: admin, want: 200, valid: true}))
		for _, dl := range page.Items {
			if dl.Call.InteractionID == deadLetterInteraction && dl.Call.Kind == bridge.ACDComplete {
				id = dl.ID
			}
		}
		if id != "" || t.Failed() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no dead letter for the complete of %s", deadLetterInteraction)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if id == "" {
		t.Fatal("no dead letter to replay")
	}
	page := decodeAs[httpapi.DeadLettersResponse](t, c.do(ctx, call{method: get, target: "/v1/acd/dead-letters?limit=1", header: admin, want: 200, valid: true}))
	if page.Next == "" {
		t.Errorf("a full page of dead letters has no next")
	}
	c.do(ctx, call{method: get, target: "/v1/acd/dead-letters?limit=0", header: admin, want: 400})
	c.do(ctx, call{method: get, target: "/v1/acd/dead-letters?after=first", header: admin, want: 400})
	c.do(ctx, call{method: get, target: "/v1/acd/dead-letters", want: 401})

	replay := "/v1/acd/dead-letters/" + id + "/replay"
	c.do(ctx, call{method: post, target: replay, want: 401})
	replayed := decodeAs[map[string]bridge.ACDCall](t, c.do(ctx, call{method: post, target: replay, header: admin, want: 200, valid: true}))
	if replayed["replayed"].InteractionID != deadLetterInteraction {
		t.Errorf("replayed %+v, want the complete of %s", replayed, deadLetterInteraction)
	}
	c.do(ctx, call{method: post, target: replay, header: admin, want: 404, valid: true})
	c.do(ctx, call{method: post, target: "/v1/acd/dead-letters/first/replay", header: admin, want: 400})

	// A dead letter that cannot be read (as a defect or a hand edit could leave it): listed
	// as such, and refused for replay.
	if err := h.app.store.Enqueue(ctx, bridge.QueueACDDeadLetter, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	unreadable := ""
	for _, dl := range decodeAs[httpapi.DeadLettersResponse](t, c.do(ctx, call{method: get, target: "/v1/acd/dead-letters", header: admin, want: 200, valid: true})).Items {
		if dl.Call.Kind == "" {
			unreadable = dl.ID
		}
	}
	if unreadable == "" {
		t.Fatal("the unreadable dead letter is not listed")
	}
	c.do(ctx, call{method: post, target: "/v1/acd/dead-letters/" + unreadable + "/replay", header: admin, want: 422, valid: true})
}

// checkCSVHeader: the CSV export's columns are the JSON rows' properties.
func (c *contract) checkCSVHeader(body []byte) {
	header, err := csv.NewReader(bytes.NewReader(body)).Read()
	if err != nil {
		c.t.Errorf("CSV export: %v", err)
		return
	}
	var props []string
	for name := range c.doc.Components.Schemas["OutcomeRow"].Value.Properties {
		props = append(props, name)
	}
	got := slices.Clone(header)
	slices.Sort(got)
	slices.Sort(props)
	if !slices.Equal(got, props) {
		c.t.Errorf("CSV columns %v, want the OutcomeRow properties %v", header, props)
	}
}

// sseFrame is one server-sent event frame.
type sseFrame struct{ id, event, data, retry string }

// readFrames reads frames until enough says so or the stream ends; raw keeps the bytes read.
func readFrames(r *bufio.Reader, raw *bytes.Buffer, enough func([]sseFrame) bool) ([]sseFrame, error) {
	var frames []sseFrame
	var f sseFrame
	started := false
	for {
		line, err := r.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			return frames, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if started {
				frames = append(frames, f)
				if enough(frames) {
					return frames, nil
				}
			}
			f, started = sseFrame{}, false
		case strings.HasPrefix(line, ":"): // a comment (heartbeat)
		default:
			name, value, _ := strings.Cut(line, ": ")
			switch name {
			case "id":
				f.id = value
			case "event":
				f.event = value
			case "data":
				f.data = value
			case "retry":
				f.retry = value
			}
			started = true
		}
	}
}

// checkFrames holds each frame to the document: data is a MediabarEvent whose id and type
// the frame's id and event repeat, or, for event: reconnect, a ReconnectFrame without an id.
func (c *contract) checkFrames(frames []sseFrame) {
	c.t.Helper()
	schemas := c.doc.Components.Schemas
	for i, f := range frames {
		if f.data == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(f.data), &v); err != nil {
			c.t.Errorf("frame %d: data is not JSON: %v", i, err)
			continue
		}
		name := "MediabarEvent"
		if f.event == "reconnect" {
			name = "ReconnectFrame"
			if f.id != "" || f.retry == "" {
				c.t.Errorf("reconnect frame %+v: want no id and a retry", f)
			}
		}
		if err := schemas[name].Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
			c.t.Errorf("frame %d (%s) is not a %s: %v\n%s", i, f.event, name, err, f.data)
			continue
		}
		if name == "MediabarEvent" {
			var ev bridge.Event
			_ = json.Unmarshal([]byte(f.data), &ev)
			if ev.ID != f.id || ev.Type != f.event {
				c.t.Errorf("frame %d: id %q event %q, but its data has id %q type %q", i, f.id, f.event, ev.ID, ev.Type)
			}
		}
	}
}

// stream opens an event stream and reads frames until enough, within a few seconds.
func (c *contract) stream(ctx context.Context, cl call, enough func([]sseFrame) bool) ([]sseFrame, func(readMore func(*bufio.Reader, *bytes.Buffer))) {
	c.t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	resp, rv, server := c.send(sctx, &http.Client{}, cl) // no client timeout: the stream stays open
	if resp == nil {
		cancel()
		return nil, func(func(*bufio.Reader, *bytes.Buffer)) {}
	}
	var raw bytes.Buffer
	br := bufio.NewReader(resp.Body)
	frames, err := readFrames(br, &raw, enough)
	if err != nil && resp.StatusCode == http.StatusOK {
		c.t.Errorf("%s: the stream ended (%v) after %d frames: %+v", cl, err, len(frames), frames)
	}
	finish := func(readMore func(*bufio.Reader, *bytes.Buffer)) {
		readMore(br, &raw)
		cancel()
		resp.Body.Close()
		c.check(ctx, cl, rv, server, resp, raw.Bytes())
	}
	return frames, finish
}

// exerciseEvents reads a's stream from its start: the events of everything above, each frame
// checked. It returns the last event id.
func (c *contract) exerciseEvents(ctx context.Context, a *scAgent) string {
	types := map[string]bool{}
	frames, finish := c.stream(ctx, call{method: http.MethodGet, target: "/v1/mediabar/events?last_event_id=0", header: bearer(a.mb.token), want: 200, valid: true},
		func(fs []sseFrame) bool {
			types[fs[len(fs)-1].event] = true
			return types[bridge.EventChannelUpdated] && types[bridge.EventInteractionUpdated] && types[bridge.EventTransferFailed]
		})
	finish(func(*bufio.Reader, *bytes.Buffer) {})
	if len(frames) == 0 || frames[0].retry != "1000" {
		c.t.Errorf("the stream does not start with retry: 1000: %+v", frames)
	}
	c.checkFrames(frames)
	last := ""
	for _, f := range frames {
		if f.id != "" {
			last = f.id
		}
	}
	c.do(ctx, call{method: http.MethodGet, target: "/v1/mediabar/events", header: map[string]string{"Authorization": "Bearer " + a.mb.token, "Last-Event-ID": "not-an-id"}, want: 400})
	c.do(ctx, call{method: http.MethodGet, target: "/v1/mediabar/events", want: 401})
	return last
}

// exerciseShutdownFrame resumes a's stream after its last event (token in the query, as
// EventSource sends it), stops the world, and checks the last frame: reconnect, with a retry.
func (c *contract) exerciseShutdownFrame(ctx context.Context, h *harness, a *scAgent, last string) {
	target := "/v1/mediabar/events?access_token=" + url.QueryEscape(a.mb.token)
	frames, finish := c.stream(ctx, call{method: http.MethodGet, target: target, header: map[string]string{"Last-Event-ID": last}, want: 200, valid: true},
		func(fs []sseFrame) bool { return fs[0].retry != "" })
	h.stop()
	finish(func(br *bufio.Reader, raw *bytes.Buffer) {
		more, err := readFrames(br, raw, func(fs []sseFrame) bool { return fs[len(fs)-1].event == "reconnect" })
		frames = append(frames, more...)
		if len(more) == 0 || more[len(more)-1].event != "reconnect" {
			c.t.Errorf("the stream ended (%v) without a reconnect frame: %+v", err, more)
		}
	})
	if err := <-h.done; err != nil && !errors.Is(err, context.Canceled) {
		c.t.Errorf("the world stopped with %v", err)
	}
	c.checkFrames(frames)
}
