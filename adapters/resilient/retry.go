package resilient

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// noTransportRetryKey marks a request whose transport failures must not be retried blindly.
type noTransportRetryKey struct{}

// WithoutTransportRetry marks ctx so that RetryPolicy does not repeat a request after a
// transport failure or timeout, when it may have reached the upstream and its answer was
// lost. Statuses that prove the request was not acted on (5xx, 429) are still retried. The
// adapter resolves the unknown outcome itself (reads the state back, or replays under the
// same idempotency key).
func WithoutTransportRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, noTransportRetryKey{}, true)
}

func transportRetryOff(ctx context.Context) bool {
	off, _ := ctx.Value(noTransportRetryKey{}).(bool)
	return off
}

// RetryPolicy is retryablehttp's CheckRetry for calls that are safe to repeat (idempotent by
// method or by key). It never retries once the request's context is done (the caller gave
// up, or the whole-call budget is spent) nor an open breaker (that would only spin against
// it). A transport failure is retried unless retryablehttp knows it to be permanent (bad
// scheme, untrusted certificate, redirect loop) or the request is marked
// WithoutTransportRetry; an answer is retried when TransientStatus says so.
func RetryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, bridge.ErrBreakerOpen) || transportRetryOff(ctx) {
			return false, err
		}
		retry, _ := retryablehttp.ErrorPropagatedRetryPolicy(ctx, nil, err)
		return retry, err
	}
	return TransientStatus(resp.StatusCode), nil
}

// TransientStatus: the server could not answer now, and the same request may succeed later
// (408, 429, every 5xx but 501 Not Implemented, which will never change).
func TransientStatus(code int) bool {
	switch {
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout:
		return true
	case code >= 500 && code != http.StatusNotImplemented:
		return true
	}
	return false
}

// Backoff is retryablehttp's Backoff: full jitter between minWait and an exponential ceiling
// (minWait doubled per attempt) capped at maxWait, so that clients failing together do not
// retry together. A Retry-After (seconds or HTTP date) on a 429 or 503 is honoured, within
// [minWait, maxWait]: the whole call has a budget, and waiting longer than maxWait would
// spend it on one wait.
func Backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if wait, ok := retryAfter(resp, maxWait); ok {
		return min(max(wait, minWait), maxWait)
	}
	ceiling := maxWait
	if attempt < 30 {
		if c := minWait << attempt; c > 0 && c < maxWait {
			ceiling = c
		}
	}
	if ceiling <= minWait {
		return minWait
	}
	return minWait + rand.N(ceiling-minWait+1)
}

// retryAfter reads a 429's or 503's Retry-After; values beyond limit come back as limit.
func retryAfter(resp *http.Response, limit time.Duration) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	h := resp.Header.Get("Retry-After")
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(limit/time.Second) {
			return limit, true // and no time.Duration overflow
		}
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(0, min(time.Until(at), limit)), true // a date already past: retry now
	}
	return 0, false
}
