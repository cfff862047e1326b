package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

// uiGet sends path to the server exactly as written (no client-side cleaning or re-escaping),
// the way a hostile client would.
func uiGet(t *testing.T, e *env, method, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(body)
}

func TestMediabarUIServesThePageWithTypesCachingAndFramingPolicy(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		give     string
		wantType string
		wantBody string
	}{
		{give: "/mediabar/", wantType: "text/html; charset=utf-8", wantBody: `<form id="login-form"`},
		{give: "/mediabar/index.html", wantType: "text/html; charset=utf-8", wantBody: `<form id="login-form"`},
		{give: "/mediabar/mediabar.js", wantType: "text/javascript; charset=utf-8", wantBody: "import { Api, ApiError } from './api.js';"},
		{give: "/mediabar/api.js", wantType: "text/javascript; charset=utf-8", wantBody: "export class Api"},
		{give: "/mediabar/mediabar.css", wantType: "text/css; charset=utf-8", wantBody: ":focus-visible"},
	}
	for _, tt := range tests {
		resp, body := uiGet(t, e, http.MethodGet, tt.give, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", tt.give, resp.StatusCode)
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tt.wantType {
			t.Errorf("GET %s Content-Type = %q, want %q", tt.give, got, tt.wantType)
		}
		if !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s body lacks %q", tt.give, tt.wantBody)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", tt.give, got)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.HasSuffix(csp, "frame-ancestors 'self'") {
			t.Errorf("GET %s CSP = %q, want frame-ancestors 'self' (the default) last", tt.give, csp)
		}
		for _, want := range []string{"script-src 'self'", "connect-src 'self'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s CSP = %q, want it to contain %q", tt.give, csp, want)
			}
		}
		// The media bar runs inside the CRM console: nothing may forbid framing it.
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
			t.Errorf("GET %s X-Frame-Options = %q, want none", tt.give, xfo)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s X-Content-Type-Options = %q, want nosniff", tt.give, got)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("GET %s has no ETag", tt.give)
			continue
		}
		again, body := uiGet(t, e, http.MethodGet, tt.give, map[string]string{"If-None-Match": etag})
		if again.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s If-None-Match its ETag = %d with %d bytes, want 304 and no body", tt.give, again.StatusCode, len(body))
		}
	}

	head, body := uiGet(t, e, http.MethodHead, "/mediabar/", nil)
	if head.StatusCode != http.StatusOK || body != "" || head.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("HEAD /mediabar/ = %d %q with %d bytes, want 200 text/html and no body", head.StatusCode, head.Header.Get("Content-Type"), len(body))
	}
}

func TestMediabarUIRedirectKeepsTheLoginPrefill(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ give, want string }{
		{give: "/mediabar", want: "/mediabar/"},
		{give: "/mediabar?agent=agent-1&site=demo&login=1", want: "/mediabar/?agent=agent-1&site=demo&login=1"},
	}
	for _, tt := range tests {
		resp, _ := uiGet(t, e, http.MethodGet, tt.give, nil)
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tt.want {
			t.Errorf("GET %s = %d Location %q, want 301 to %q", tt.give, resp.StatusCode, resp.Header.Get("Location"), tt.want)
		}
	}
}

// Hostile paths under /mediabar/ are refused (400, or 404 where the router or server already
// refuses), never serve anything but the page's own files, and never reach the API.
func TestHostileMediabarUIPathsAreRefused(t *testing.T) {
	e := newEnv(t)
	tests := []string{
		"/mediabar/../../etc/passwd",
		"/mediabar/../v1/mediabar/me",
		"/mediabar/%2e%2e/%2e%2e/etc/passwd",
		"/mediabar/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
		"/mediabar/..%2f..%2fetc%2fpasswd",
		"/mediabar/%252e%252e/etc/passwd",
		`/mediabar/..\..\etc\passwd`,
		`/mediabar/%5c..%5c..%5cetc%5cpasswd`,
		`/mediabar/\etc\passwd`,
		"/mediabar//etc/passwd",
		"/mediabar/./index.html",
		"/mediabar/.git/config",
		"/mediabar/index.html%00",
		"/mediabar/index.html%00.js",
		"/mediabar/static/index.html",
		"/mediabar/mediabarui.go",
		"/mediabar/nope.js",
		"/mediabar/" + strings.Repeat("a/", 300) + "x.js",
	}
	for _, path := range tests {
		resp, body := uiGet(t, e, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 400 or 404", path, resp.StatusCode)
		}
		if strings.Contains(body, "root:") || strings.Contains(body, "<form") || strings.Contains(body, "package mediabarui") {
			t.Errorf("GET %s served content: %.80q", path, body)
		}
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode < 500 && ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET %s answered with Content-Type %q, want a JSON (or plain) error", path, ct)
		}
	}
}

// The CRM console's origin, configured, is the only other page that may frame the media bar.
func TestMediabarUIFrameAncestorsFromConfig(t *testing.T) {
	rdb, prefix := sessionstest.Redis(t)
	e := newEnvWith(t, rdb, prefix, func(o *httpapi.Options) {
		o.FrameAncestors = []string{"'self'", "https://*.custhelp.com", "https://crm.example.com"}
	})
	resp, _ := uiGet(t, e, http.MethodGet, "/mediabar/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if want := "frame-ancestors 'self' https://*.custhelp.com https://crm.example.com"; !strings.HasSuffix(csp, want) {
		t.Errorf("CSP = %q, want it to end with %q", csp, want)
	}
}
