package ssehub

import (
	"encoding/json"
	"testing"
)

func TestAgentOf(t *testing.T) {
	tests := []struct {
		payload string
		want    string
		wantOK  bool
	}{
		{payload: `{"agent_id":"a1","id":"1700000000000-0"}`, want: "a1", wantOK: true},
		{payload: `{"agent_id":"agent \u00e9 1","id":"1-0"}`, want: "agent é 1", wantOK: true},
		{payload: `{"agent_id":"a\"1","id":"1-0"}`, want: `a"1`, wantOK: true},
		{payload: `{"id":"1-0","agent_id":"a1"}`, want: "a1", wantOK: true},
		{payload: `{"agent_id":"","id":"1-0"}`},
		{payload: `{"agent_id":"a1","id":"1-0"} trailing`},
		{payload: `{"agent_id":"a1","id":"1"-0"}`},
		{payload: `not json`},
		{payload: ``},
	}
	for _, tt := range tests {
		got, ok := agentOf(tt.payload)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("agentOf(%q) = %q, %v; want %q, %v", tt.payload, got, ok, tt.want, tt.wantOK)
		}
	}
}

// The direct cut of the store's own form reads what encoding/json reads, for any payload.
func FuzzAgentOf(f *testing.F) {
	for _, seed := range []string{
		`{"agent_id":"a1","id":"1700000000000-0"}`,
		`{"agent_id":"a\"1","id":"1-0"}`,
		`{"agent_id":"a1","id":"1-0"}x`,
		`{"agent_id":"a1","id":"1-0","id":"2-0"}`,
		`{"agent_id":"a1","id":"1-0"}` + "\x00",
		`{"agent_id":"\xff","id":"1-0"}`,
		`{"agent_id":"a1","id":"","agent_id":"a2"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		got, ok := agentOf(payload)
		var a announcement
		err := json.Unmarshal([]byte(payload), &a)
		want, wantOK := a.AgentID, err == nil && a.AgentID != ""
		if !wantOK {
			want = ""
		}
		if got != want || ok != wantOK {
			t.Fatalf("agentOf(%q) = %q, %v; encoding/json reads %q, %v", payload, got, ok, want, wantOK)
		}
	})
}
