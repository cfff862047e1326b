package resilient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

func TestRetryPolicy(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	transportErr := errors.New("connection reset")
	breakerErr := &breakerOpenError{upstream: "crm", host: "crm", cause: errors.New("circuit breaker is open")}
	badScheme := &url.Error{Op: "Post", URL: "ftp://crm", Err: errors.New(`unsupported protocol scheme "ftp"`)}
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
		{name: "permanent transport error", ctx: ctx, err: badScheme, want: false},
		{name: "transport error, marked WithoutTransportRetry", ctx: WithoutTransportRetry(ctx), err: transportErr, want: false},
		{name: "5xx, marked WithoutTransportRetry", ctx: WithoutTransportRetry(ctx), resp: resp(503), want: true},
		{name: "breaker open", ctx: ctx, err: fmt.Errorf("post: %w", breakerErr), want: false},
		{name: "context done", ctx: cancelled, err: context.Canceled, want: false},
		{name: "context done with a 503", ctx: cancelled, resp: resp(503), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := RetryPolicy(tt.ctx, tt.resp, tt.err); got != tt.want {
				t.Errorf("RetryPolicy(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
	if !errors.Is(breakerErr, bridge.ErrUnavailable) || !errors.Is(breakerErr, bridge.ErrBreakerOpen) {
		t.Errorf("breakerOpenError does not wrap ErrUnavailable and ErrBreakerOpen")
	}
}

func TestBackoffStaysInBounds(t *testing.T) {
	const lo, hi = 50 * time.Millisecond, time.Second
	for attempt := range 70 {
		for range 50 {
			if d := Backoff(lo, hi, attempt, nil); d < lo || d > hi {
				t.Fatalf("Backoff(attempt %d) = %v, want within [%v, %v]", attempt, d, lo, hi)
			}
		}
	}
	// The ceiling grows with the attempt: the first wait is at most 2*min.
	for range 200 {
		if d := Backoff(lo, hi, 1, nil); d > 2*lo {
			t.Fatalf("Backoff(attempt 1) = %v, want at most %v", d, 2*lo)
		}
	}
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	const lo, hi = 50 * time.Millisecond, 10 * time.Second
	withRetryAfter := func(status int, v string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {v}}}
	}
	tests := []struct {
		name string
		give *http.Response
		want time.Duration // exact; 0 means "jittered, within [lo, hi]"
	}{
		{name: "429 seconds", give: withRetryAfter(429, "3"), want: 3 * time.Second},
		{name: "503 seconds", give: withRetryAfter(503, "2"), want: 2 * time.Second},
		{name: "capped at max", give: withRetryAfter(429, "30"), want: hi},
		{name: "huge, no overflow", give: withRetryAfter(429, "99999999999999"), want: hi},
		{name: "zero is raised to min", give: withRetryAfter(503, "0"), want: lo},
		{name: "date in the past is min", give: withRetryAfter(503, "Fri, 31 Dec 1999 23:59:59 GMT"), want: lo},
		{name: "date far ahead is max", give: withRetryAfter(503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), want: hi},
		{name: "ignored on a 500", give: withRetryAfter(500, "3")},
		{name: "negative ignored", give: withRetryAfter(429, "-4")},
		{name: "garbage ignored", give: withRetryAfter(429, "soon")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Backoff(lo, hi, 0, tt.give)
			switch {
			case tt.want != 0 && got != tt.want:
				t.Errorf("Backoff(%s) = %v, want %v", tt.name, got, tt.want)
			case tt.want == 0 && (got < lo || got > hi):
				t.Errorf("Backoff(%s) = %v, want within [%v, %v]", tt.name, got, lo, hi)
			}
		})
	}
}

func TestCallBudget(t *testing.T) {
	cfg := Config{Retries: 2, BackoffMax: 100 * time.Millisecond}
	if got, want := cfg.CallBudget(time.Second), 3*time.Second+200*time.Millisecond; got != want {
		t.Errorf("CallBudget(1s) = %v, want %v", got, want)
	}
	cfg.Retries = -1
	if got := cfg.CallBudget(time.Second); got != time.Second {
		t.Errorf("CallBudget(1s) with no retries = %v, want 1s", got)
	}
}

func TestMarkCaller(t *testing.T) {
	caller, cancel := context.WithCancel(context.Background())
	marked := MarkCaller(caller)
	// The adapter's own deadline, and a second mark below it, do not hide the caller.
	own, cancelOwn := context.WithTimeout(marked, time.Hour)
	defer cancelOwn()
	inner := MarkCaller(own)
	if err := CallerErr(inner); err != nil {
		t.Fatalf("CallerErr while the caller waits = %v, want nil", err)
	}
	cancel()
	if err := CallerErr(inner); !errors.Is(err, context.Canceled) {
		t.Errorf("CallerErr after the caller cancelled = %v, want context.Canceled", err)
	}

	ownOnly, cancelOwnOnly := context.WithCancel(MarkCaller(context.Background()))
	cancelOwnOnly()
	if err := CallerErr(ownOnly); err != nil {
		t.Errorf("CallerErr after only the adapter's context ended = %v, want nil", err)
	}
	if err := CallerErr(context.Background()); err != nil {
		t.Errorf("CallerErr(unmarked) = %v, want nil", err)
	}
}

func TestQuoteBoundsAndEscapesUpstreamText(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	got := Quote(long)
	if !strings.HasSuffix(got, "…") || len(got) > 200+len("…") || !utf8.ValidString(got) {
		t.Errorf("Quote(300 bytes) = %d bytes %q, want at most 200 and cut on a rune", len(got), got)
	}
	if got := Quote("bad\r\nX-Forged: 1\x00"); strings.ContainsAny(got, "\r\n\x00") || got != `bad\r\nX-Forged: 1\x00` {
		t.Errorf("Quote(control characters) = %q", got)
	}
}
