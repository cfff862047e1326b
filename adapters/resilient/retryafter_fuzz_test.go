package resilient

import (
	"net/http"
	"testing"
	"time"
)

// Retry-After comes from the upstream: whatever it says, the wait is within [0, limit], and
// only 429 and 503 answers are read.
func FuzzRetryAfter(f *testing.F) {
	for _, h := range []string{"", "0", "5", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
		time.Now().Add(time.Minute).UTC().Format(http.TimeFormat), "soon", " 5"} {
		f.Add(h, 429)
		f.Add(h, 503)
		f.Add(h, 500)
	}
	const limit = 30 * time.Second
	f.Fuzz(func(t *testing.T, header string, status int) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {header}}}
		d, ok := retryAfter(resp, limit)
		if ok && (d < 0 || d > limit) {
			t.Fatalf("retryAfter(%d, %q) = %s, want within [0, %s]", status, header, d, limit)
		}
		if ok && status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
			t.Fatalf("retryAfter(%d, %q) read a header it should ignore", status, header)
		}
	})
}

func TestRetryAfterDateInThePastMeansNow(t *testing.T) {
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"Wed, 21 Oct 2015 07:28:00 GMT"}}}
	if d, ok := retryAfter(resp, time.Minute); !ok || d != 0 {
		t.Errorf("retryAfter(past date) = %s, %v; want 0, true", d, ok)
	}
}
