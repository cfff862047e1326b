package crmmock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkChatRoutedWithManyChats is one pop against a mock that holds 1,000 chats, as
// under the bridge's bench: a chatRouted that offers a waiting chat to an agent, then the
// agent's decline (respond) that puts it back, so the world stays the same size. Both
// requests go through the real HTTP handlers (in process, without a network) and fire the
// timers due, as every request does.
//
// The site's event log is either full (log=full, as in any long run: each new event also
// drops the oldest) or kept short (log=short: emptied after each pop, so that only the pop
// itself is measured).
func BenchmarkChatRoutedWithManyChats(b *testing.B) {
	for _, full := range []bool{true, false} {
		name := "log=short"
		if full {
			name = "log=full"
		}
		b.Run(name, func(b *testing.B) { benchmarkPops(b, full) })
	}
}

func benchmarkPops(b *testing.B, fullLog bool) {
	const chats = 1000
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	b.Cleanup(srv.Close)
	must(b, srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	must(b, srv.CreateAgent("demo", Agent{AccountID: "a1", Queues: []string{"sales"}, MaxSessions: 1, AllowDecline: true}))
	if _, err := srv.Login("demo", "a1"); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, chats)
	for i := range ids {
		id, err := srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerName: "c", CustomerPolls: i%2 == 0})
		must(b, err)
		ids[i] = id
	}
	token := srv.authenticateForTest(b, "demo")
	st := srv.w.sites["demo"]
	if fullLog {
		srv.mu.Lock()
		for range maxEventsPerSite {
			srv.emitLocked(st, Event{Type: EventAgentStatusChanged, AgentAccountID: "a1", At: t0})
		}
		srv.mu.Unlock()
	}

	post := func(path string, in, out any) {
		data, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(data))
		req.Header.Set(headerSession, token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			b.Fatalf("POST %s: %d %q: %v", path, rec.Code, rec.Body.Bytes(), err)
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%chats]
		txn := strconv.Itoa(i)
		var routed chatRoutedResponse
		post("/uq/v1/demo/chatRouted", chatRoutedRequest{ChatID: id, AgentAccountID: "a1", QueueID: "sales", TransactionID: "r" + txn}, &routed)
		if routed.ResultCode != CodeSuccess {
			b.Fatalf("chatRouted(%s) = %s, want SUCCESS", id, routed.ResultCode)
		}
		var declined respondResponse
		post("/uq/v1/demo/engagements/"+id+"/respond", respondRequest{AgentAccountID: "a1", Action: ActionDecline, TransactionID: "d" + txn}, &declined)
		if declined.ResultCode != CodeSuccess {
			b.Fatalf("respond(%s, decline) = %s, want SUCCESS", id, declined.ResultCode)
		}
		if !fullLog {
			srv.mu.Lock()
			st.events = st.events[:0]
			srv.mu.Unlock()
		}
	}
}

// BenchmarkFireTimersWithManyChats is what every request pays for the timers when none is
// due, with 1,000 chats (half with a polling customer, a tenth offered) and 100 agents
// logged in.
func BenchmarkFireTimersWithManyChats(b *testing.B) {
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	b.Cleanup(srv.Close)
	must(b, srv.CreateQueue("demo", Queue{ID: "sales", External: true}))
	token := srv.authenticateForTest(b, "demo")
	for i := range 100 {
		id := "a" + strconv.Itoa(i)
		must(b, srv.CreateAgent("demo", Agent{AccountID: id, Queues: []string{"sales"}, MaxSessions: 1}))
		if _, err := srv.Login("demo", id); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 1000 {
		id, err := srv.CreateChatWith("demo", NewChat{QueueID: "sales", CustomerName: "c", CustomerPolls: i%2 == 0})
		must(b, err)
		if i%10 == 0 {
			srv.mu.Lock()
			resp := srv.chatRoutedLocked(token, "demo", chatRoutedRequest{ChatID: id, AgentAccountID: "a" + strconv.Itoa(i/10), QueueID: "sales"}, srv.clock.Now())
			srv.mu.Unlock()
			if resp.ResultCode != CodeSuccess {
				b.Fatalf("chatRouted(%s) = %s, want SUCCESS", id, resp.ResultCode)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv.begin()
		srv.mu.Unlock()
	}
}
