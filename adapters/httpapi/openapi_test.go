package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/bridgetest"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// Both ports serve the document in the repository, as YAML and as JSON, and the two are the
// same document: the JSON is derived from the YAML, never edited by hand.
func TestOpenAPIServedYAMLAndJSONAreTheDocument(t *testing.T) {
	onDisk, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := newOpenAPITestAPI(t)
	for _, port := range []struct {
		name string
		h    http.Handler
	}{{"public", api.Handler()}, {"ops", api.OpsHandler()}} {
		srv := httptest.NewServer(port.h)
		defer srv.Close()

		gotYAML := getDocument(t, srv.URL+"/openapi.yaml", "application/yaml")
		if string(gotYAML) != string(onDisk) {
			t.Errorf("%s port: GET /openapi.yaml is not adapters/httpapi/openapi.yaml", port.name)
		}
		gotJSON := getDocument(t, srv.URL+"/openapi.json", "application/json")

		var fromYAML, fromJSON any
		if err := yaml.Unmarshal(gotYAML, &fromYAML); err != nil {
			t.Fatalf("%s port: YAML: %v", port.name, err)
		}
		if err := json.Unmarshal(gotJSON, &fromJSON); err != nil {
			t.Fatalf("%s port: JSON: %v", port.name, err)
		}
		// Through JSON once, so both sides have JSON's types (float64 numbers).
		if diff := cmp.Diff(jsonRoundTrip(t, fromYAML), fromJSON); diff != "" {
			t.Errorf("%s port: /openapi.json differs from /openapi.yaml (-yaml +json):\n%s", port.name, diff)
		}
	}
}

// The document is valid OpenAPI 3, read either way: every $ref resolves, every example and
// default fits its schema, every path parameter is declared.
func TestOpenAPIDocumentValidates(t *testing.T) {
	api := newOpenAPITestAPI(t)
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	for _, path := range []string{"/openapi.yaml", "/openapi.json"} {
		raw := getDocument(t, srv.URL+path, "")
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(raw)
		if err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s does not validate: %v", path, err)
		}
		if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths.Len() == 0 {
			t.Errorf("%s: openapi %q with %d paths, want 3.x with paths", path, doc.OpenAPI, doc.Paths.Len())
		}
	}
}

func getDocument(t *testing.T, url, wantType string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); wantType != "" && !strings.HasPrefix(ct, wantType) {
		t.Errorf("GET %s: Content-Type %q, want %s", url, ct, wantType)
	}
	return body
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// newOpenAPITestAPI is an API whose document routes can be called; the handlers behind the
// other routes are never reached here.
func newOpenAPITestAPI(t *testing.T) *httpapi.API {
	t.Helper()
	rdb, prefix := sessionstest.Redis(t)
	store := sessions.New(rdb, sessions.Options{Prefix: prefix})
	svc, err := bridge.New(bridge.Options{Sites: map[string]bridge.SiteOptions{"demo": {Catalog: bridgeerr.Default()}}, PopBudget: time.Second},
		bridge.Deps{CRM: &bridgetest.CRM{}, ACD: &bridgetest.ACD{}, Store: store, Work: store, Events: store})
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.New(httpapi.Options{WebhookSecrets: []acdapi.Secret{secret}, TokenSecret: []byte("token-secret-0123456789-0123456789")},
		svc, store, nil, nil, nil)
}
