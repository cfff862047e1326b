package httpapi_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// endedLeg stores a leg that ended at endedAt with descriptor d.
func (e *env) endedLeg(t *testing.T, iid string, endedAt time.Time, state bridge.State, d bridgeerr.Descriptor) {
	t.Helper()
	ctx := t.Context()
	l := &bridge.Interaction{InteractionID: iid, RoutingID: "r1", ChatID: "chat-" + iid, Site: "demo", QueueID: "sales",
		AgentID: "a1", RouteType: bridge.RouteLead, State: bridge.StateRouted, RoutedAt: endedAt.Add(-time.Minute), UpdatedAt: endedAt.Add(-time.Minute)}
	if _, err := e.store.CreateLeg(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.State, l.UpdatedAt, l.Descriptor, l.Code = state, endedAt, &d, "SUCCESS"
	if err := e.store.UpdateLeg(ctx, l, 0); err != nil {
		t.Fatal(err)
	}
}

// getRaw GETs path with the admin token (or none) and returns status, content type and body.
func (e *env) getRaw(t *testing.T, path, token string, header map[string]string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

const adminToken = "admin-token-0123456789"

func TestOutcomeExport(t *testing.T) {
	e := newEnv(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	completed := bridgeerr.Descriptor{Role: "RoutedTo", Result: "Completed"}
	redirected := bridgeerr.Descriptor{Role: "RoutedTo", Result: "Redirected", Reason: "Revoked"}
	e.endedLeg(t, "i1", base, bridge.StateCompleted, completed)
	e.endedLeg(t, "i2", base.Add(time.Minute), bridge.StateRequeued, redirected)
	e.endedLeg(t, "i3", base.Add(2*time.Minute), bridge.StateCompleted, completed)
	since := url.QueryEscape(base.Format(time.RFC3339))
	until := url.QueryEscape(base.Add(2 * time.Minute).Format(time.RFC3339))

	t.Run("json lines, window [since, until)", func(t *testing.T) {
		status, ctype, body := e.getRaw(t, "/v1/reports/outcomes?since="+since+"&until="+until, adminToken, nil)
		if status != http.StatusOK || ctype != "application/x-ndjson" {
			t.Fatalf("= %d %q %s", status, ctype, body)
		}
		var rows []httpapi.OutcomeRow
		for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
			var r httpapi.OutcomeRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			rows = append(rows, r)
		}
		if len(rows) != 2 || rows[0].InteractionID != "i1" || rows[1].InteractionID != "i2" {
			t.Fatalf("rows = %+v, want i1 then i2", rows)
		}
		r := rows[1]
		if r.Role != "RoutedTo" || r.Result != "Redirected" || r.Reason != "Revoked" || r.State != "requeued" ||
			!r.EndedAt.Equal(base.Add(time.Minute)) || r.QueueID != "sales" || r.ChatID != "chat-i2" {
			t.Errorf("row = %+v", r)
		}
	})
	t.Run("csv by format and by Accept", func(t *testing.T) {
		for _, tc := range []struct {
			query  string
			header map[string]string
		}{
			{"?format=csv&since=" + since, nil},
			{"?since=" + since, map[string]string{"Accept": "text/csv"}},
		} {
			status, ctype, body := e.getRaw(t, "/v1/reports/outcomes"+tc.query, adminToken, tc.header)
			if status != http.StatusOK || !strings.HasPrefix(ctype, "text/csv") {
				t.Fatalf("%s = %d %q", tc.query, status, ctype)
			}
			recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 4 || recs[0][0] != "ended_at" || recs[3][1] != "i3" || recs[3][10] != "RoutedTo" || recs[3][11] != "Completed" {
				t.Errorf("%s: csv = %v", tc.query, recs)
			}
		}
	})
	t.Run("an empty window is an empty export", func(t *testing.T) {
		status, _, body := e.getRaw(t, "/v1/reports/outcomes?since="+url.QueryEscape(time.Now().Add(time.Minute).Format(time.RFC3339))+
			"&until="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), adminToken, nil)
		if status != http.StatusOK || body != "" {
			t.Errorf("= %d %q, want 200 and nothing", status, body)
		}
	})
	t.Run("bad input names the field", func(t *testing.T) {
		for query, field := range map[string]string{
			"?since=yesterday":                    "since",
			"?until=2026-13-01T00:00:00Z":         "until",
			"?since=" + until + "&until=" + since: "until",
			"?format=xml":                         "format",
			"?since=2026-11-21T10:00:00Z&until=2026-11-21T10:00:00Z": "until",
		} {
			status, _, body := e.getRaw(t, "/v1/reports/outcomes"+query, adminToken, nil)
			var eb httpapi.ErrorBody
			_ = json.Unmarshal([]byte(body), &eb)
			if status != http.StatusBadRequest || eb.Field != field {
				t.Errorf("%s = %d %+v, want 400 on %s", query, status, eb, field)
			}
		}
	})
	t.Run("admin token required", func(t *testing.T) {
		for _, token := range []string{"", "wrong-token-0123456789"} {
			if status, _, _ := e.getRaw(t, "/v1/reports/outcomes", token, nil); status != http.StatusUnauthorized {
				t.Errorf("token %q = %d, want 401", token, status)
			}
		}
	})
}

func TestOutcomeExportAnswers503WhenTheStoreIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	e := newEnvOn(t, dead, "mbbtest:down")
	if status, _, body := e.getRaw(t, "/v1/reports/outcomes", adminToken, nil); status != http.StatusServiceUnavailable {
		t.Errorf("= %d %s, want 503", status, body)
	}
}
