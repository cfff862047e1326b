package acd

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// retryPolicy retries what is safe because every call carries an Idempotency-Key: transport
// errors, 5xx (not 501) and 429. It never retries an open breaker or a caller that gave up.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil && isBreakerOpen(err) {
		return false, err
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// jitteredBackoff is exponential backoff with equal jitter (half fixed, half random) between
// min and max, honouring a Retry-After on 429/503 up to max.
func jitteredBackoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if resp.Header.Get("Retry-After") != "" {
			return min(retryablehttp.DefaultBackoff(minWait, maxWait, attempt, resp), maxWait)
		}
	}
	d := minWait << min(attempt, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	half := d / 2
	return half + rand.N(half+1)
}
