package faultproxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upstream answers "ok", or holds /hang until the test ends.
func upstream(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// get makes one request on a fresh connection (no pooled connection hides a reset).
func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestProxyForwards(t *testing.T) {
	p := newProxy(t, strings.TrimPrefix(upstream(t).URL, "http://"))
	got, err := get("http://" + p.Addr() + "/")
	if err != nil || got != "ok" {
		t.Fatalf("GET through the proxy = %q, %v; want ok", got, err)
	}
}

func TestResetPercent(t *testing.T) {
	p := newProxy(t, strings.TrimPrefix(upstream(t).URL, "http://"))
	p.SetResetPercent(100)
	for range 3 {
		if _, err := get("http://" + p.Addr() + "/"); err == nil {
			t.Fatal("GET with every connection reset succeeded, want an error")
		}
	}
	if p.Resets() < 3 {
		t.Errorf("Resets() = %d, want at least 3", p.Resets())
	}
	p.SetResetPercent(0)
	if got, err := get("http://" + p.Addr() + "/"); err != nil || got != "ok" {
		t.Fatalf("GET after healing = %q, %v; want ok", got, err)
	}
}

func TestResetAllBreaksRequestsInFlight(t *testing.T) {
	p := newProxy(t, strings.TrimPrefix(upstream(t).URL, "http://"))
	errc := make(chan error, 1)
	go func() { _, err := get("http://" + p.Addr() + "/hang"); errc <- err }()
	deadline := time.Now().Add(5 * time.Second)
	for p.open() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hanging request never reached the proxy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := p.ResetAll(); n != 1 {
		t.Errorf("ResetAll() = %d, want 1", n)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF") {
			t.Errorf("request in flight ended with %v, want a connection reset", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request in flight still running 5s after ResetAll")
	}
}

// open counts the connections the proxy carries now.
func (p *Proxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
