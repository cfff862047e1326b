package crmmock

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// genericCall is one request to the generic webhook facade.
type genericCall struct {
	method, path string
	auth         string // Authorization header; "" means "Bearer " + DefaultAPIKey, "-" none
	key          string // Idempotency-Key
	body         string
}

// noReuse opens a connection per request. net/http silently resends a GET, or a request
// with an Idempotency-Key, that fails on a reused keep-alive connection; a fault that drops
// or loses the answer must reach the test instead.
var noReuse = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// genericAnswer is what came back: status, headers, body (err for a transport failure).
type genericAnswer struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (h *harness) generic(call genericCall) genericAnswer {
	h.t.Helper()
	var body io.Reader
	if call.body != "" {
		body = strings.NewReader(call.body)
	}
	req, err := http.NewRequest(call.method, h.ts.URL+call.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	switch call.auth {
	case "":
		req.Header.Set("Authorization", "Bearer "+DefaultAPIKey)
	case "-":
	default:
		req.Header.Set("Authorization", call.auth)
	}
	if call.key != "" {
		req.Header.Set(HeaderIdempotencyKey, call.key)
	}
	resp, err := noReuse.Do(req)
	if err != nil {
		return genericAnswer{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return genericAnswer{status: resp.StatusCode, header: resp.Header, body: data, err: err}
}

// genericRouteCall routes chatID to agent through queue under key.
func genericRouteCall(chatID, agent, queue, key string) genericCall {
	data, _ := json.Marshal(genericRouteRequest{ChatID: chatID, AgentID: agent, QueueID: queue})
	return genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/routes", key: key, body: string(data)}
}

// decodeAnswer decodes a 200 answer into T.
func decodeAnswer[T any](t *testing.T, a genericAnswer) T {
	t.Helper()
	var v T
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("answer = %d %s %v, want 200", a.status, a.body, a.err)
	}
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	return v
}

func TestGenericAuthorization(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantStatus int
	}{
		{name: "no header", give: "-", wantStatus: http.StatusUnauthorized},
		{name: "wrong key", give: "Bearer not-the-key", wantStatus: http.StatusUnauthorized},
		{name: "basic scheme", give: "Basic " + DefaultAPIKey, wantStatus: http.StatusUnauthorized},
		{name: "bare key", give: DefaultAPIKey, wantStatus: http.StatusUnauthorized},
		{name: "scheme is case-insensitive", give: "bearer " + DefaultAPIKey, wantStatus: http.StatusOK},
		{name: "right key", give: "Bearer " + DefaultAPIKey, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			got := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/chats/1", auth: tt.give})
			if got.err != nil || got.status != tt.wantStatus {
				t.Fatalf("GET chat with Authorization %q = %d %s %v, want %d", tt.give, got.status, got.body, got.err, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			var body apiErrorBody
			if err := json.Unmarshal(got.body, &body); err != nil || body.Error != "unauthorized" || body.Field != "Authorization" || body.Reason == "" {
				t.Errorf("401 body = %s, want {error: unauthorized, field: Authorization, reason}", got.body)
			}
			if got.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if strings.Contains(string(got.body), DefaultAPIKey) {
				t.Errorf("401 body %s shows the API key", got.body)
			}
		})
	}

	t.Run("configured key", func(t *testing.T) {
		h := newHarness(t, Options{APIKey: "k-123"})
		if got := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/chats/1"}); got.status != http.StatusUnauthorized {
			t.Errorf("default key against a configured one = %d, want 401", got.status)
		}
		if got := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/chats/1", auth: "Bearer k-123"}); got.status != http.StatusOK {
			t.Errorf("configured key = %d %s, want 200", got.status, got.body)
		}
	})
}

func TestGenericRoute(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()
	got := decodeAnswer[map[string]any](t, h.generic(genericRouteCall(chatID, "a1", "sales", "key-1")))
	want := map[string]any{"result": "SUCCESS", "chat_id": chatID, "agent_id": "a1", "engagement_state": "OFFERED", "offer_expires_in_seconds": 60.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("route answer (-want +got):\n%s", diff)
	}

	// A replay under the same key gets the first answer, whatever its body says.
	again := decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chatID, "a2", "sales", "key-1")))
	if again.Result != CodeSuccess || again.AgentID != "a1" {
		t.Errorf("replay = %+v, want the first answer (SUCCESS to a1)", again)
	}
	// A new key is a new route: the chat is taken.
	other := decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chatID, "a2", "sales", "key-2")))
	if other.Result != CodeCouldNotReserveEngagement {
		t.Errorf("second route, new key = %s, want COULD_NOT_RESERVE_ENGAGEMENT", other.Result)
	}
	if n := h.srv.RouteEvaluations("key-1"); n != 1 {
		t.Errorf("RouteEvaluations(key-1) = %d, want 1", n)
	}
	if n := h.srv.Calls(OpChatRouted); n != 3 {
		t.Errorf("Calls(chatRouted) = %d, want 3 (the generic route counts under chatRouted)", n)
	}

	// One CRM, one key space: a transactionId used on the routing API replays there too.
	chat2, err := h.srv.CreateChat("demo", "sales", "Bob")
	must(t, err)
	if r := h.route(chat2, "a2", "sales", "shared"); r.ResultCode != CodeSuccess {
		t.Fatalf("chatRouted = %s, want SUCCESS", r.ResultCode)
	}
	if r := decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chat2, "a2", "sales", "shared"))); r.Result != CodeSuccess || r.EngagementState != StateOffered {
		t.Errorf("generic replay of a chatRouted key = %+v, want its SUCCESS", r)
	}
	if n := h.srv.RouteEvaluations("shared"); n != 1 {
		t.Errorf("RouteEvaluations(shared) = %d, want 1", n)
	}
}

// Both facades evaluate a route by the same rules: for each situation the generic result is
// the routing API's resultCode.
func TestGenericRouteMatchesRoutingAPI(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness, chatID string) (chat, agent, queue string)
		want  string
	}{
		{name: "success", want: CodeSuccess, setup: func(h *harness, c string) (string, string, string) { return c, "a1", "sales" }},
		{name: "missing queue", want: CodeMissingParameters, setup: func(h *harness, c string) (string, string, string) { return c, "a1", "" }},
		{name: "unknown chat", want: CodeChatIDUnknown, setup: func(h *harness, c string) (string, string, string) { return "404", "a1", "sales" }},
		{name: "internal queue", want: CodeInvalidDestQueue, setup: func(h *harness, c string) (string, string, string) { return c, "a1", "internal" }},
		{name: "unknown agent", want: CodeAgentIDUnknown, setup: func(h *harness, c string) (string, string, string) { return c, "ghost", "sales" }},
		{name: "queue not in profile", want: CodeInvalidDestAgent, setup: func(h *harness, c string) (string, string, string) { return c, "a2", "other" }},
		{name: "abandoned", want: CodeEndUserAbandonedEngagement, setup: func(h *harness, c string) (string, string, string) {
			must(h.t, h.srv.Abandon("demo", c))
			return c, "a1", "sales"
		}},
		{name: "absent", want: CodeAgentAbsent, setup: func(h *harness, c string) (string, string, string) {
			must(h.t, h.srv.SetPresence("demo", "a1", PresenceAbsent))
			return c, "a1", "sales"
		}},
		{name: "on break", want: CodeAgentNotActive, setup: func(h *harness, c string) (string, string, string) {
			must(h.t, h.srv.SetStatus("demo", "a1", StatusOnBreak))
			return c, "a1", "sales"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]string
			for i := range got {
				h := newHarness(t, Options{})
				chat, agent, queue := tt.setup(h, h.seedBasic())
				if i == 0 {
					got[i] = h.route(chat, agent, queue, "k").ResultCode
				} else {
					got[i] = decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chat, agent, queue, "k"))).Result
				}
			}
			if got[0] != tt.want || got[1] != tt.want {
				t.Errorf("routing API = %s, generic = %s, want both %s", got[0], got[1], tt.want)
			}
		})
	}
}

func TestGenericBadRequests(t *testing.T) {
	route := func(key, body string) genericCall {
		return genericCall{method: http.MethodPost, path: "/crm/v1/sites/demo/routes", key: key, body: body}
	}
	events := func(query string) genericCall {
		return genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/events?" + query}
	}
	tests := []struct {
		name      string
		give      genericCall
		wantField string
	}{
		{name: "no Idempotency-Key", give: route("", `{"chat_id":"1","agent_id":"a1","queue_id":"sales"}`), wantField: HeaderIdempotencyKey},
		{name: "Idempotency-Key with a space", give: route("a b", `{"chat_id":"1"}`), wantField: HeaderIdempotencyKey},
		{name: "Idempotency-Key too long", give: route(strings.Repeat("k", 256), `{"chat_id":"1"}`), wantField: HeaderIdempotencyKey},
		{name: "empty body", give: route("k", ``)},
		{name: "not JSON", give: route("k", `chat_id=1`)},
		{name: "cut short", give: route("k", `{"chat_id":"1`)},
		{name: "numeric chat id", give: route("k", `{"chat_id":1001}`), wantField: "chat_id"},
		{name: "the other facade's names", give: route("k", `{"chatId":"1"}`), wantField: "chatId"},
		{name: "two objects", give: route("k", `{"chat_id":"1"} {}`)},
		{name: "negative after", give: events("after=-1"), wantField: "after"},
		{name: "after not a number", give: events("after=ten"), wantField: "after"},
		{name: "negative wait", give: events("wait=-2"), wantField: "wait"},
		{name: "wait not a number", give: events("wait=NaN"), wantField: "wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.seedBasic()
			got := h.generic(tt.give)
			if got.err != nil || got.status != http.StatusBadRequest {
				t.Fatalf("answer = %d %s %v, want 400", got.status, got.body, got.err)
			}
			var body apiErrorBody
			if err := json.Unmarshal(got.body, &body); err != nil || body.Error != "invalid_request" || body.Reason == "" || body.Field != tt.wantField {
				t.Errorf("400 body = %s, want invalid_request with field %q and a reason", got.body, tt.wantField)
			}
			if n := h.srv.RouteEvaluations("k"); n != 0 {
				t.Errorf("RouteEvaluations(k) = %d, want 0: a bad request is not evaluated", n)
			}
		})
	}
}

func TestGenericReads(t *testing.T) {
	h := newHarness(t, Options{OfferTimeout: time.Hour})
	chatID := h.seedBasic()
	seq := h.lastSeq()
	polls := h.srv.Calls(OpPoll)
	decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chatID, "a1", "sales", "k")))
	waiting, err := h.srv.CreateChat("demo", "sales", "Bob")
	must(t, err)
	h.srv.Advance(90 * time.Second)

	get := func(path string) map[string]any {
		t.Helper()
		return decodeAnswer[map[string]any](t, h.generic(genericCall{method: http.MethodGet, path: path}))
	}
	tests := []struct {
		path string
		want map[string]any
	}{
		{"/crm/v1/sites/demo/chats/" + chatID, map[string]any{"result": "SUCCESS", "chat_id": chatID, "state": "OFFERED", "agent_id": "a1"}},
		{"/crm/v1/sites/demo/chats/404", map[string]any{"result": "CHAT_ID_UNKNOWN", "chat_id": "404"}},
		{"/crm/v1/sites/nowhere/chats/" + chatID, map[string]any{"result": "UNKNOWN_SITE"}},
		{"/crm/v1/sites//chats/" + chatID, map[string]any{"result": "MISSING_SITE_NAME"}},
		{"/crm/v1/sites/demo/agents/a1", map[string]any{
			"result": "SUCCESS", "agent_id": "a1", "logged_in": true, "session_id": "S1", "presence": "ACTIVE",
			"missed_intervals": 0.0, "seconds_to_disconnect": 0.0, "status_type": "AVAILABLE", "status_name": "Unrestricted",
			"active_sessions": 1.0, "max_sessions": 1.0,
		}},
		{"/crm/v1/sites/demo/agents/ghost", map[string]any{
			"result": "AGENT_ID_UNKNOWN", "agent_id": "ghost", "logged_in": false,
			"missed_intervals": 0.0, "seconds_to_disconnect": 0.0, "active_sessions": 0.0, "max_sessions": 0.0,
		}},
		{"/crm/v1/sites/demo/queues/sales/waiting", map[string]any{"result": "SUCCESS", "chats": []any{
			map[string]any{"chat_id": waiting, "queue_id": "sales", "customer_name": "Bob", "waiting_seconds": 90.0},
		}}},
		{"/crm/v1/sites/demo/queues/nosuch/waiting", map[string]any{"result": "INVALID_DEST_QUEUE", "chats": []any{}}},
		{"/crm/v1/sites/demo/events?wait=0&after=" + itoa(seq), map[string]any{"result": "SUCCESS", "timeout": false, "last_seq": float64(seq + 1), "events": []any{
			map[string]any{"seq": float64(seq + 1), "type": "EngagementOffered", "chat_id": chatID, "agent_id": "a1", "at": t0.Format(time.RFC3339)},
		}}},
		{"/crm/v1/sites/demo/events?wait=0&after=" + itoa(seq+1), map[string]any{"result": "SUCCESS", "timeout": true, "last_seq": float64(seq + 1), "events": []any{}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, get(tt.path)); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}
	for op, want := range map[string]int{OpEngagement: 4, OpAgentSession: 2, OpWaiting: 2, OpPoll: polls + 2} {
		if got := h.srv.Calls(op); got != want {
			t.Errorf("Calls(%s) = %d, want %d", op, got, want)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestGenericEventsLongPoll(t *testing.T) {
	h := newHarness(t, Options{MaxPollWait: 100 * time.Millisecond})
	chatID := h.seedBasic()
	seq := h.lastSeq()
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = h.srv.Abandon("demo", chatID)
	}()
	got := decodeAnswer[genericEventsResponse](t, h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/events?wait=10&after=" + itoa(seq)}))
	if got.Timeout || len(got.Events) != 1 || got.Events[0].Type != EventEngagementConcluded || got.Events[0].EndReason != EndEndedUserCancel {
		t.Errorf("events = %+v, want the EngagementConcluded event", got)
	}
	// Nothing more: the timeout marker once MaxPollWait (100ms, below the asked 10s) is up.
	again := decodeAnswer[genericEventsResponse](t, h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/events?wait=10&after=" + itoa(got.LastSeq)}))
	if !again.Timeout || len(again.Events) != 0 || again.LastSeq != got.LastSeq {
		t.Errorf("events = %+v, want the timeout marker", again)
	}
}

// A fault is injected per op and hits that op on both facades, each in its own spelling.
func TestFaultsHitBothFacades(t *testing.T) {
	h := newHarness(t, Options{})
	chatID := h.seedBasic()

	must(t, h.srv.InjectFault(Fault{Op: OpChatRouted, ResultCode: CodeRNWAPIException, Count: 2}))
	if got := h.route(chatID, "a1", "sales", "t1").ResultCode; got != CodeRNWAPIException {
		t.Errorf("routing API with a fault = %s, want RNW_API_EXCEPTION", got)
	}
	if got := decodeAnswer[genericRouteResponse](t, h.generic(genericRouteCall(chatID, "a1", "sales", "g1"))).Result; got != CodeRNWAPIException {
		t.Errorf("generic route with a fault = %s, want RNW_API_EXCEPTION", got)
	}

	must(t, h.srv.InjectFault(Fault{Op: OpEngagement, HTTPStatus: http.StatusServiceUnavailable, Count: 1}))
	got := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/chats/" + chatID})
	if got.err != nil || got.status != http.StatusServiceUnavailable || !json.Valid(got.body) {
		t.Errorf("generic chat with a 503 fault = %d %s %v, want 503 with a JSON body", got.status, got.body, got.err)
	}

	must(t, h.srv.InjectFault(Fault{Op: OpAgentSession, Malformed: true, Count: 1}))
	got = h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/agents/a1"})
	if got.err != nil || got.status != http.StatusOK || json.Valid(got.body) || !strings.HasPrefix(string(got.body), `{"result"`) {
		t.Errorf("generic agent with a malformed fault = %d %s %v, want a cut-short generic body", got.status, got.body, got.err)
	}

	// Faults come before the key check: a 401 is what a healthy server says.
	must(t, h.srv.InjectFault(Fault{Op: OpWaiting, Drop: true, Count: 1}))
	if got := h.generic(genericCall{method: http.MethodGet, path: "/crm/v1/sites/demo/queues/sales/waiting", auth: "-"}); got.err == nil {
		t.Errorf("generic waiting with a drop fault = %d %s, want a transport error", got.status, got.body)
	}
	if n := h.srv.RouteEvaluations("t1") + h.srv.RouteEvaluations("g1"); n != 0 {
		t.Errorf("RouteEvaluations = %d, want 0: faulted routes are not evaluated", n)
	}
}

// LoseAnswer evaluates the route and loses the answer, on either facade; the replay gets the
// first answer.
func TestFaultLoseAnswer(t *testing.T) {
	for _, facade := range []string{"routing API", "generic"} {
		t.Run(facade, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedBasic()
			must(t, h.srv.InjectFault(Fault{Op: OpChatRouted, LoseAnswer: true, Count: 1}))
			route := func() (string, error) {
				if facade == "generic" {
					a := h.generic(genericRouteCall(chatID, "a1", "sales", "k"))
					if a.err != nil {
						return "", a.err
					}
					return decodeAnswer[genericRouteResponse](t, a).Result, nil
				}
				data, _ := json.Marshal(chatRoutedRequest{ChatID: chatID, AgentAccountID: "a1", QueueID: "sales", TransactionID: "k"})
				req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/uq/v1/demo/chatRouted", strings.NewReader(string(data)))
				req.Header.Set(headerSession, h.token)
				resp, err := h.ts.Client().Do(req)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				var r chatRoutedResponse
				if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
					return "", err
				}
				return r.ResultCode, nil
			}
			if got, err := route(); err == nil {
				t.Fatalf("first route answered %s, want the answer lost", got)
			}
			if st := h.engagement(chatID); st.State != StateOffered || st.AgentAccountID != "a1" {
				t.Errorf("after the lost answer the chat is %s with %q, want OFFERED to a1", st.State, st.AgentAccountID)
			}
			if got, err := route(); err != nil || got != CodeSuccess {
				t.Errorf("replay = %s, %v, want SUCCESS", got, err)
			}
			if n := h.srv.RouteEvaluations("k"); n != 1 {
				t.Errorf("RouteEvaluations(k) = %d, want 1", n)
			}
			if n := h.srv.Calls(OpChatRouted); n != 2 {
				t.Errorf("Calls(chatRouted) = %d, want 2", n)
			}
		})
	}
}
