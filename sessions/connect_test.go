package sessions_test

import (
	"os"
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/sessions"
	"github.com/mediabar-bridge/mediabar-bridge/sessions/sessionstest"
)

func TestConnectRejects(t *testing.T) {
	tests := []struct {
		name string
		give sessions.ConnectOptions
	}{
		{name: "nothing set", give: sessions.ConnectOptions{}},
		{name: "bad scheme", give: sessions.ConnectOptions{URL: "http://127.0.0.1:6379"}},
		{name: "nobody listening", give: sessions.ConnectOptions{Addrs: []string{"127.0.0.1:1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, err := sessions.Connect(t.Context(), tt.give)
			if err == nil {
				_ = client.Close()
				t.Errorf("Connect(%+v) = nil error, want one", tt.give)
			}
		})
	}
}

func TestConnectAndPing(t *testing.T) {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = sessionstest.DefaultURL
	}
	client, err := sessions.Connect(t.Context(), sessions.ConnectOptions{URL: url})
	if err != nil {
		if os.Getenv("REDIS_REQUIRED") == "1" {
			t.Fatalf("Connect(%s) = %v", url, err)
		}
		t.Skipf("no Redis at REDIS_URL: %v", err)
	}
	defer client.Close()
	if err := sessions.New(client, sessions.Options{}).Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}
