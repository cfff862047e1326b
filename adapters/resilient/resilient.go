// Package resilient is the one resilient HTTP stack every upstream client of the bridge is
// built on (STYLE.md, "Resilient HTTP client order"):
//
//	resty (no retries of its own)
//	  → call deadline (Timeouts.Call: the whole call, retries and waits included)
//	    → retryablehttp (RetryPolicy, Backoff)
//	      → attempt deadline (Timeouts.Attempt: each attempt on its own)
//	        → Breakers (one sony/gobreaker v2 circuit breaker per upstream host)
//	          → http.Transport
//
// Both deadlines are context deadlines set by a RoundTripper (deadline.go), not
// http.Client.Timeout, which costs a goroutine and a timer per request in each Client
// whose Transport is not an *http.Transport.
//
// The breaker sits inside the retries so that every attempt counts and an open breaker
// stops the retry loop at once. It counts transport failures, timeouts (an attempt cut by
// the attempt deadline above it included) and the statuses Config.BreakerCounts names (by
// default TransientStatus: 408, 429, 5xx but 501); any other answer, 4xx included, is the
// upstream working. The caller's own cancellation or deadline (MarkCaller) counts for
// nothing: the caller giving up says nothing about the upstream.
//
// What is safe to retry is the adapter's business: RetryPolicy retries transport failures
// and transient statuses, never an open breaker or a caller that gave up; an adapter whose
// call must not be sent again blindly after a transport failure (a pop whose outcome is
// unknown) marks that request's context with WithoutTransportRetry and resolves the
// outcome itself.
package resilient

import (
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"
	"github.com/hashicorp/go-retryablehttp"
)

// Config holds every number of the stack. The adapters own the defaults and the validation
// (each in its own Config); this package uses the values as given.
type Config struct {
	// Name is the upstream ("crm", "acd") in breaker logs and errors.
	Name string
	// Retries is how many times a failed attempt is repeated (0 or negative: never).
	Retries int
	// BackoffMin and BackoffMax bound the jittered wait between attempts.
	BackoffMin, BackoffMax time.Duration
	// BreakerFailures consecutive failures open a host's breaker.
	BreakerFailures uint32
	// BreakerOpenFor is how long an open breaker fails fast before letting probes through.
	BreakerOpenFor time.Duration
	// BreakerHalfOpenMax is how many probes a half-open breaker lets through at once.
	BreakerHalfOpenMax uint32
	// BreakerCounts reports whether an answer with this HTTP status is a breaker failure.
	// nil means TransientStatus.
	BreakerCounts func(status int) bool
}

// CallBudget is the whole-call timeout that leaves room for every attempt of length attempt
// and the longest waits between them.
func (c Config) CallBudget(attempt time.Duration) time.Duration {
	retries := max(c.Retries, 0)
	return time.Duration(retries+1)*attempt + time.Duration(retries)*c.BackoffMax
}

// Timeouts bound one resty client's calls.
type Timeouts struct {
	// Attempt bounds one HTTP attempt; 0 leaves attempts bounded by Call only.
	Attempt time.Duration
	// Call bounds the whole call: every attempt and the waits between them; 0: no bound
	// besides the caller's context.
	Call time.Duration
}

// NewResty stacks resty on retryablehttp on breakers. The resty client makes no retries of
// its own and keeps quiet (failures are returned, and its debug output could show headers
// with credentials). Every request's context is marked as the caller's (MarkCaller) before
// the stack adds its deadlines, so the breakers can tell the caller giving up from the
// upstream failing; an adapter that adds deadlines of its own must mark first.
//
// Neither http.Client has a Timeout: t.Call is a deadline around retryablehttp (every
// attempt and every wait between them), t.Attempt a deadline around the breakers (one
// attempt, the breaker's verdict on it included). A timed-out call or attempt fails with
// an error that is context.DeadlineExceeded to errors.Is and a net.Error timeout.
func NewResty(cfg Config, breakers *Breakers, t Timeouts) *resty.Client {
	retrying := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: withDeadline(breakers, t.Attempt, "attempt")},
		Logger:       nil,
		RetryWaitMin: cfg.BackoffMin,
		RetryWaitMax: cfg.BackoffMax,
		RetryMax:     max(cfg.Retries, 0),
		CheckRetry:   RetryPolicy,
		Backoff:      Backoff,
		// Hand the last answer (or error) back as it is: the adapter classifies it.
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	call := &http.Client{Transport: withDeadline(&retryablehttp.RoundTripper{Client: retrying}, t.Call, "call")}
	rc := resty.NewWithClient(call).
		SetRetryCount(0).
		SetLogger(discardLogger{})
	rc.OnBeforeRequest(func(_ *resty.Client, r *resty.Request) error {
		r.SetContext(MarkCaller(r.Context()))
		return nil
	})
	return rc
}

// NewTransport is the connection pool under the breakers: dials and TLS handshakes are
// bounded by dialTimeout so a dead host fails an attempt instead of hanging it.
func NewTransport(dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dialTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// discardLogger silences resty.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// nopLogger is the logger used when the adapter passes none.
func nopLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
