package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// The hostile-input tests and the handler fuzz targets share this environment: the real
// handler over the real core and a real Redis (its own key prefix), a controllable clock for
// tokens and signatures, and every log line captured.

const (
	hostileTokenSecret = "token-secret-0123456789-0123456789"
	hostileMaxBody     = 4096
)

// retiredSecret is a webhook secret the bridge does not accept.
var retiredSecret = acdapi.Secret("retired-webhook-secret-0123456789")

type hostileOptions struct {
	catalog *bridgeerr.Catalog // default bridgeerr.Default()
}

type hostileEnv struct {
	handler http.Handler
	echo    *echo.Echo
	rdb     redis.UniversalClient
	prefix  string
	store   *sessions.Store
	svc     *bridge.Service
	crm     *bridgetest.CRM
	tracked *keyTracker
	now     atomic.Int64 // unix nanoseconds: the clock of tokens and signatures
	logs    *hostileLogBuffer
}

func newHostileEnv(tb testing.TB, o hostileOptions) *hostileEnv {
	tb.Helper()
	if o.catalog == nil {
		o.catalog = bridgeerr.Default()
	}
	rdb, prefix := sessionstest.Redis(tb)
	e := &hostileEnv{rdb: rdb, prefix: prefix, crm: &bridgetest.CRM{}, logs: &hostileLogBuffer{},
		tracked: &keyTracker{prefix: prefix, keys: map[string]struct{}{}}}
	rdb.AddHook(e.tracked)
	e.now.Store(time.Now().UnixNano())
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = sessions.New(rdb, sessions.Options{Prefix: prefix})
	svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: o.catalog,
		Queues: map[string]bridge.QueueOptions{
			"sales":   {Name: "Sales", DispositionRequired: true, Dispositions: []string{"Resolved"}},
			"support": {Name: "Support"},
		}}}, PopBudget: time.Second},
		bridge.Deps{CRM: e.crm, ACD: &bridgetest.ACD{}, Store: e.store, Work: e.store, Events: e.store, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	e.svc = svc
	api := httpapi.New(httpapi.Options{WebhookSecrets: []acdapi.Secret{secret}, MaxBodyBytes: hostileMaxBody,
		TokenSecret: []byte(hostileTokenSecret), TokenTTL: time.Hour, AdminToken: adminToken,
		SSEPoll: 10 * time.Millisecond, SSEHeartbeat: time.Hour, Now: e.clock},
		svc, e.store, nil, nil, log)
	e.handler = api.Handler()
	e.echo = e.handler.(*echo.Echo)
	return e
}

func (e *hostileEnv) clock() time.Time        { return time.Unix(0, e.now.Load()) }
func (e *hostileEnv) setClock(t time.Time)    { e.now.Store(t.UnixNano()) }
func (e *hostileEnv) advance(d time.Duration) { e.now.Add(int64(d)) }
func (e *hostileEnv) serve(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(e.handler)
	tb.Cleanup(srv.Close)
	return srv
}

// signHeaders signs body for the bridge at the env's clock.
func (e *hostileEnv) signHeaders(id string, body []byte) map[string]string {
	return acdapi.Headers(secret, id, e.clock(), body)
}

// rawSignature is the Standard Webhooks signature over the timestamp exactly as given (the
// header's text, not a parsed time): computed here independently of acdapi.
func rawSignature(key acdapi.Secret, id, ts string, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id + "." + ts + "."))
	h.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// do sends one request to the handler in process (no HTTP server: headers may hold any
// bytes) and returns the recorded answer. path is the escaped path, as on the wire.
func (e *hostileEnv) do(ctx context.Context, method, path, rawQuery string, header http.Header, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body)).WithContext(ctx)
	req.URL.Path = path
	if p, err := url.PathUnescape(path); err == nil {
		req.URL.Path, req.URL.RawPath = p, path
	}
	req.URL.RawQuery = rawQuery
	req.RequestURI = req.URL.RequestURI()
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.handler.ServeHTTP(&cancelOnWrite{ResponseRecorder: rec, cancel: cancel}, req.WithContext(ctx))
	return rec
}

// cancelOnWrite ends the request once the handler has written body bytes: an event stream
// then stops after its first frame, while everything before it (the token, the store) runs
// without a deadline that a loaded machine could hit.
type cancelOnWrite struct {
	*httptest.ResponseRecorder
	cancel func()
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.ResponseRecorder.Write(p)
}

func (w *cancelOnWrite) Unwrap() http.ResponseWriter { return w.ResponseRecorder }

// loginAgent logs agent in through the core and returns a token made by the handler.
func (e *hostileEnv) loginAgent(tb testing.TB, agent string) string {
	tb.Helper()
	body, _ := json.Marshal(httpapi.LoginRequest{AgentID: agent, Site: "demo", CRMAccountID: "acct-" + agent, CRMChatSessionID: "sess-acct-" + agent})
	rec := e.do(context.Background(), http.MethodPost, "/v1/mediabar/login", "", http.Header{"Content-Type": {"application/json"}}, body)
	if rec.Code != http.StatusOK {
		tb.Fatalf("login %s = %d %s", agent, rec.Code, rec.Body)
	}
	var lr httpapi.LoginResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &lr); err != nil || lr.Token == "" {
		tb.Fatalf("login %s answer %s: %v", agent, rec.Body, err)
	}
	return lr.Token
}

// offer routes interaction iid to agent and pops it (the CRM fake answers SUCCESS), leaving
// the leg offered.
func (e *hostileEnv) offer(tb testing.TB, iid, agent, chatID string) bridge.LegKey {
	tb.Helper()
	ctx := context.Background()
	out, err := e.svc.Routed(ctx, bridge.Routed{EventID: "evt-" + iid, InteractionID: iid, RoutingID: "r1", ChatID: chatID,
		Site: "demo", QueueID: "support", AgentID: agent, RouteType: bridge.RouteLead})
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.svc.Pop(ctx, out.Key); err != nil {
		tb.Fatal(err)
	}
	return out.Key
}

// snapshot is every key the env's store has touched, with its serialized value: two equal
// snapshots mean nothing was stored, changed or deleted in between. (Keys are tracked by a
// client hook rather than found by SCAN, which walks the whole shared database every time.)
func (e *hostileEnv) snapshot(tb testing.TB) map[string]string {
	tb.Helper()
	ctx := context.Background()
	keys := e.tracked.list()
	dumps := make([]*redis.StringCmd, len(keys))
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			dumps[i] = p.Dump(ctx, k)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		tb.Fatalf("snapshot: %v", err)
	}
	out := map[string]string{}
	for i, k := range keys {
		if v, err := dumps[i].Result(); err == nil {
			out[k] = v
		}
	}
	return out
}

// reset deletes every key the env's store has touched.
func (e *hostileEnv) reset(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	keys := e.tracked.list()
	if len(keys) == 0 {
		return
	}
	_, err := e.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k) // one key per DEL: fine on Cluster too
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("reset: %v", err)
	}
	e.tracked.clear()
}

// keyTracker is a go-redis hook that records every key under prefix that a command names.
// Read commands are recorded too (harmless: a key that does not exist has no dump).
type keyTracker struct {
	prefix string
	mu     sync.Mutex
	keys   map[string]struct{}
}

func (k *keyTracker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k *keyTracker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		k.track(cmd)
		return next(ctx, cmd)
	}
}

func (k *keyTracker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			k.track(c)
		}
		return next(ctx, cmds)
	}
}

func (k *keyTracker) track(cmd redis.Cmder) {
	args := cmd.Args()
	var names []any
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro": // EVALSHA sha numkeys key...
		if len(args) >= 3 {
			if n, err := strconv.Atoi(fmt.Sprint(args[2])); err == nil && 3+n <= len(args) {
				names = args[3 : 3+n]
			}
		}
	default:
		names = args[1:] // every argument that looks like one of our keys
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range names {
		if s, ok := a.(string); ok && strings.HasPrefix(s, k.prefix+":") {
			k.keys[s] = struct{}{}
		}
	}
}

func (k *keyTracker) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.keys))
	for key := range k.keys {
		out = append(out, key)
	}
	return out
}

func (k *keyTracker) clear() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.keys)
}

// hostileChangedKeys lists the keys that differ between two snapshots.
func hostileChangedKeys(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if before[k] != v {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+" (deleted)")
		}
	}
	sort.Strings(out)
	return out
}

// checkLogLines fails unless every captured log line is one JSON object: a value with CR/LF
// in it cannot start a line of its own.
func (e *hostileEnv) checkLogLines(tb testing.TB) {
	tb.Helper()
	for i, line := range strings.Split(strings.TrimRight(e.logs.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Errorf("log line %d is not one JSON object (a forged line?): %q", i+1, line)
		}
	}
}

// hostileErrorBody decodes an error answer.
func hostileErrorBody(tb testing.TB, raw []byte) httpapi.ErrorBody {
	tb.Helper()
	var eb httpapi.ErrorBody
	if err := json.Unmarshal(raw, &eb); err != nil {
		tb.Fatalf("error answer %q is not JSON: %v", raw, err)
	}
	return eb
}

// hostileLogBuffer is an io.Writer safe for the handlers' goroutines.
type hostileLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *hostileLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *hostileLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*hostileLogBuffer)(nil)
