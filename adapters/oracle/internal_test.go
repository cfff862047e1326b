package oracle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The token is renewed TokenRefresh before it expires, so the CRM never has to refuse it.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	mock := crmmock.New(crmmock.Options{Users: map[string]string{"bridge": "pw"}, Clock: crmmock.NewManualClock(t0), TokenTTL: 10 * time.Minute, TickInterval: -1})
	srv := httptest.NewServer(mock)
	t.Cleanup(srv.Close)
	t.Cleanup(mock.Close)

	c, err := New(Config{
		Sites:        map[string]Site{"demo": {BaseURL: srv.URL, UserName: "bridge", Password: "pw"}},
		TokenRefresh: time.Minute,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := t0
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock(); mock.Advance(d) }

	tests := []struct {
		advance   time.Duration
		wantLogin int
	}{
		{advance: 0, wantLogin: 1},
		{advance: 8 * time.Minute, wantLogin: 1},  // cached
		{advance: 61 * time.Second, wantLogin: 2}, // 9m01s: inside the refresh window
		{advance: time.Minute, wantLogin: 2},
	}
	for _, tt := range tests {
		advance(tt.advance)
		if got, err := c.Engagement(context.Background(), "demo", "1"); err != nil || got.Code != "CHAT_ID_UNKNOWN" {
			t.Fatalf("Engagement = %+v, %v, want CHAT_ID_UNKNOWN", got, err)
		}
		if n := mock.Calls(crmmock.OpAuthenticate); n != tt.wantLogin {
			t.Errorf("after %v: Calls(authenticate) = %d, want %d", now.Sub(t0), n, tt.wantLogin)
		}
	}
	if n, want := mock.Calls(crmmock.OpEngagement), len(tests); n != want {
		t.Errorf("Calls(engagement) = %d, want %d: no call was refused", n, want)
	}
}

func TestCheckRetry(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	transportErr := errors.New("connection reset")
	breakerErr := &breakerOpenError{host: "crm", cause: errors.New("circuit breaker is open")}
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	tests := []struct {
		name string
		ctx  context.Context
		resp *http.Response
		err  error
		want bool
	}{
		{name: "200", ctx: ctx, resp: resp(200), want: false},
		{name: "400", ctx: ctx, resp: resp(400), want: false},
		{name: "404", ctx: ctx, resp: resp(404), want: false},
		{name: "408", ctx: ctx, resp: resp(408), want: true},
		{name: "429", ctx: ctx, resp: resp(429), want: true},
		{name: "500", ctx: ctx, resp: resp(500), want: true},
		{name: "501", ctx: ctx, resp: resp(501), want: false},
		{name: "503", ctx: ctx, resp: resp(503), want: true},
		{name: "transport error", ctx: ctx, err: transportErr, want: true},
		{name: "transport error on chatRouted", ctx: withoutTransportRetry(ctx), err: transportErr, want: false},
		{name: "5xx on chatRouted", ctx: withoutTransportRetry(ctx), resp: resp(503), want: true},
		{name: "breaker open", ctx: ctx, err: fmt.Errorf("post: %w", breakerErr), want: false},
		{name: "context done", ctx: cancelled, err: context.Canceled, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := checkRetry(tt.ctx, tt.resp, tt.err); got != tt.want {
				t.Errorf("checkRetry(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	if !errors.Is(breakerErr, bridge.ErrUnavailable) || !errors.Is(breakerErr, bridge.ErrBreakerOpen) {
		t.Errorf("breakerOpenError does not wrap ErrUnavailable and ErrBreakerOpen")
	}
}

func TestJitteredBackoffStaysInBounds(t *testing.T) {
	const lo, hi = 50 * time.Millisecond, time.Second
	for attempt := range 70 {
		for range 50 {
			if d := jitteredBackoff(lo, hi, attempt, nil); d < lo || d > hi {
				t.Fatalf("jitteredBackoff(attempt %d) = %v, want within [%v, %v]", attempt, d, lo, hi)
			}
		}
	}
	retryAfter := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"30"}}}
	if d := jitteredBackoff(lo, hi, 0, retryAfter); d != hi {
		t.Errorf("jitteredBackoff(Retry-After 30s) = %v, want capped at %v", d, hi)
	}
}
