package oracle

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
)

// The retry policy and the backoff (formerly checkRetry and jitteredBackoff here) are tested
// with the shared stack, in adapters/resilient.

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
