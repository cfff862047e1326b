package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func TestDeadLetterRoutes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := e.store.Enqueue(ctx, bridge.QueueACDDeadLetter, []byte(`{"call":{"kind":"complete","idempotency_key":"complete:i9/r1","interaction_id":"i9"},"error":"acd: 404"}`)); err != nil {
		t.Fatal(err)
	}
	status, _, body := e.getRaw(t, "/v1/acd/dead-letters?limit=1", adminToken, nil)
	var page httpapi.DeadLettersResponse
	if err := json.Unmarshal([]byte(body), &page); status != http.StatusOK || err != nil || len(page.Items) != 1 || page.Next == "" {
		t.Fatalf("list = %d %s", status, body)
	}
	d := page.Items[0]
	if d.Call.Kind != bridge.ACDComplete || d.Error != "acd: 404" {
		t.Errorf("item = %+v", d)
	}

	replay := func(id, token string) (int, httpapi.ErrorBody) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/acd/dead-letters/"+id+"/replay", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb httpapi.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		return resp.StatusCode, eb
	}
	if status, _ := replay(d.ID, ""); status != http.StatusUnauthorized {
		t.Errorf("replay without the admin token = %d", status)
	}
	if status, eb := replay(d.ID, adminToken); status != http.StatusOK {
		t.Fatalf("replay = %d %+v", status, eb)
	}
	if n, _ := e.store.Depth(ctx, bridge.QueueACDOutbox); n != 1 {
		t.Errorf("outbox depth after replay = %d, want 1", n)
	}
	if status, eb := replay(d.ID, adminToken); status != http.StatusNotFound || eb.Field != "id" {
		t.Errorf("second replay = %d %+v, want 404", status, eb)
	}
	if status, eb := replay("not-an-id", adminToken); status != http.StatusBadRequest || eb.Field != "id" {
		t.Errorf("replay of a malformed id = %d %+v, want 400", status, eb)
	}
	for query, field := range map[string]string{"?after=abc": "after", "?limit=0": "limit", "?limit=5000": "limit", "?limit=x": "limit"} {
		status, _, body := e.getRaw(t, "/v1/acd/dead-letters"+query, adminToken, nil)
		var eb httpapi.ErrorBody
		_ = json.Unmarshal([]byte(body), &eb)
		if status != http.StatusBadRequest || eb.Field != field {
			t.Errorf("%s = %d %+v, want 400 on %s", query, status, eb, field)
		}
	}
}
