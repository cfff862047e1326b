package crmmock

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPollLongPoll(t *testing.T) {
	t.Run("returns events after afterSeq at once", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedBasic()
		seq := h.lastSeq()
		offer(h, chatID, "a1")
		must(t, h.srv.Respond("demo", chatID, ActionAccept))
		got := h.poll(seq)
		if got.ResultCode != CodeSuccess || got.Timeout || len(got.Events) != 2 || got.LastSeq != seq+2 {
			t.Fatalf("poll(%d) = %+v, want 2 events up to %d", seq, got, seq+2)
		}
		if got.Events[0].Seq != seq+1 || !got.Events[0].At.Equal(t0) {
			t.Errorf("first event seq %d at %v, want %d at %v", got.Events[0].Seq, got.Events[0].At, seq+1, t0)
		}
		if again := h.poll(got.LastSeq); !again.Timeout || len(again.Events) != 0 || again.LastSeq != got.LastSeq {
			t.Errorf("poll(%d) = %+v, want the timeout marker with lastSeq %d", got.LastSeq, again, got.LastSeq)
		}
	})

	t.Run("wakes when an event arrives", func(t *testing.T) {
		h := newHarness(t, Options{})
		chatID := h.seedBasic()
		seq := h.lastSeq()
		go func() {
			time.Sleep(50 * time.Millisecond)
			_ = h.srv.Abandon("demo", chatID)
		}()
		start := time.Now()
		wait := 10.0
		var got pollResponse
		h.do(http.MethodPost, "/uq/v1/demo/events/poll", h.token, pollRequest{AfterSeq: seq, WaitSeconds: &wait}, &got)
		if got.Timeout || len(got.Events) != 1 || got.Events[0].Type != EventEngagementConcluded {
			t.Errorf("poll = %+v, want the EngagementConcluded event", got)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("poll took %v, want it to wake on the event", d)
		}
	})

	t.Run("times out with the marker", func(t *testing.T) {
		h := newHarness(t, Options{MaxPollWait: 100 * time.Millisecond})
		seq := h.lastSeq()
		for _, wait := range []*float64{nil, ptr(0.05), ptr(3600.0)} {
			start := time.Now()
			var got pollResponse
			h.do(http.MethodPost, "/uq/v1/demo/events/poll", h.token, pollRequest{AfterSeq: seq, WaitSeconds: wait}, &got)
			want := pollResponse{ResultCode: CodeSuccess, Timeout: true, LastSeq: seq, Events: []Event{}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("poll (-want +got):\n%s", diff)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("poll took %v, want at most MaxPollWait", d)
			}
		}
	})

	t.Run("background ticker fires timers and wakes the poll", func(t *testing.T) {
		clock := NewManualClock(t0)
		h := newHarness(t, Options{Clock: clock, TickInterval: 10 * time.Millisecond})
		chatID := h.seedBasic()
		offer(h, chatID, "a1")
		seq := h.lastSeq()
		go func() {
			time.Sleep(50 * time.Millisecond)
			clock.Advance(time.Minute) // no request, no Server.Advance: only the ticker sees it
		}()
		wait := 10.0
		var got pollResponse
		h.do(http.MethodPost, "/uq/v1/demo/events/poll", h.token, pollRequest{AfterSeq: seq, WaitSeconds: &wait}, &got)
		if len(got.Events) == 0 || got.Events[0].Type != EventEngagementTimeout {
			t.Errorf("poll = %+v, want EngagementTimeout first", got)
		}
	})

	t.Run("event log is bounded", func(t *testing.T) {
		h := newHarness(t, Options{})
		must(t, h.srv.CreateAgent("demo", Agent{AccountID: "a1"}))
		for range maxEventsPerSite/3 + 10 {
			if _, err := h.srv.Login("demo", "a1"); err != nil { // two events
				t.Fatal(err)
			}
			must(t, h.srv.Logout("demo", "a1")) // one event
		}
		h.srv.mu.Lock()
		n := len(h.srv.w.sites["demo"].events)
		h.srv.mu.Unlock()
		if n != maxEventsPerSite {
			t.Errorf("event log holds %d, want %d", n, maxEventsPerSite)
		}
		if got := h.poll(0); len(got.Events) != maxEventsPerPoll {
			t.Errorf("poll(0) returned %d events, want %d", len(got.Events), maxEventsPerPoll)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestFaults injects each fault kind and checks what a client sees over a real connection.
func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error, took time.Duration)
	}{
		{
			name:  "result code",
			fault: Fault{Op: OpChatRouted, ResultCode: CodeRNWAPIException},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				wantAnswer(t, resp, body, err, http.StatusOK, CodeRNWAPIException)
			},
		},
		{
			name:  "unknown result code",
			fault: Fault{Op: "*", ResultCode: "SOMETHING_NEW"},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				wantAnswer(t, resp, body, err, http.StatusOK, "SOMETHING_NEW")
			},
		},
		{
			name:  "http status",
			fault: Fault{HTTPStatus: http.StatusServiceUnavailable},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				wantAnswer(t, resp, body, err, http.StatusServiceUnavailable, "")
			},
		},
		{
			name:  "malformed",
			fault: Fault{Op: OpChatRouted, Malformed: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("answer = %v %v, want 200", resp, err)
				}
				if json.Valid(body) {
					t.Errorf("body %q is valid JSON, want malformed", body)
				}
			},
		},
		{
			name:  "drop",
			fault: Fault{Op: OpChatRouted, Drop: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if err == nil {
					t.Errorf("answer = %d %s, want a transport error", resp.StatusCode, body)
				}
			},
		},
		{
			name:  "hang",
			fault: Fault{Op: OpChatRouted, Hang: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want the client's deadline", err)
				}
			},
		},
		{
			name:  "delay then normal answer",
			fault: Fault{Op: OpChatRouted, DelayMS: 100},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, took time.Duration) {
				wantAnswer(t, resp, body, err, http.StatusOK, CodeSuccess)
				if took < 100*time.Millisecond {
					t.Errorf("answer took %v, want at least 100ms", took)
				}
			},
		},
		{
			name:  "delay longer than the client waits",
			fault: Fault{Op: OpChatRouted, DelayMS: 5000},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want the client's deadline", err)
				}
			},
		},
		{
			name:  "other op unaffected",
			fault: Fault{Op: OpPoll, Drop: true},
			check: func(t *testing.T, resp *http.Response, body []byte, err error, _ time.Duration) {
				wantAnswer(t, resp, body, err, http.StatusOK, CodeSuccess)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			chatID := h.seedBasic()
			must(t, h.srv.InjectFault(tt.fault))
			data, _ := json.Marshal(chatRoutedRequest{ChatID: chatID, AgentAccountID: "a1", QueueID: "sales", TransactionID: "tx"})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.ts.URL+"/uq/v1/demo/chatRouted", strings.NewReader(string(data)))
			req.Header.Set(headerSession, h.token)
			start := time.Now()
			resp, err := h.ts.Client().Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			tt.check(t, resp, body, err, time.Since(start))

			if got := h.srv.Calls(OpChatRouted); got != 1 {
				t.Errorf("Calls(chatRouted) = %d, want 1", got)
			}
			// A faulted request changes nothing: the chat is still waiting unless it was
			// answered normally.
			normal := tt.fault.DelayMS == 100 || tt.fault.Op == OpPoll
			if got, want := h.srv.RouteEvaluations("tx"), map[bool]int{true: 1, false: 0}[normal]; got != want {
				t.Errorf("RouteEvaluations(tx) = %d, want %d", got, want)
			}
		})
	}
}

func wantAnswer(t *testing.T, resp *http.Response, body []byte, err error, status int, code string) {
	t.Helper()
	if err != nil {
		t.Fatalf("err = %v, want an answer", err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d", resp.StatusCode, status)
	}
	var got struct {
		ResultCode string `json:"resultCode"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if got.ResultCode != code {
		t.Errorf("resultCode = %q, want %q", got.ResultCode, code)
	}
}

func TestFaultCountAndClear(t *testing.T) {
	h := newHarness(t, Options{})
	h.seedBasic()
	must(t, h.srv.InjectFault(Fault{Op: OpAgentSession, ResultCode: CodeUnknownError, Count: 2}))
	var got []string
	for range 3 {
		got = append(got, h.session("a1").ResultCode)
	}
	if diff := cmp.Diff([]string{CodeUnknownError, CodeUnknownError, CodeSuccess}, got); diff != "" {
		t.Errorf("codes with a count-2 fault (-want +got):\n%s", diff)
	}
	must(t, h.srv.InjectFault(Fault{ResultCode: CodeUnknownError}))
	if got := h.session("a1").ResultCode; got != CodeUnknownError {
		t.Errorf("with an unlimited fault = %s, want UNKNOWN_ERROR", got)
	}
	h.srv.ClearFaults()
	if got := h.session("a1").ResultCode; got != CodeSuccess {
		t.Errorf("after ClearFaults = %s, want SUCCESS", got)
	}
}

func TestInjectFaultValidation(t *testing.T) {
	tests := []struct {
		give      Fault
		wantField string
	}{
		{Fault{Op: "nosuch", ResultCode: "X"}, "op"},
		{Fault{Op: OpPoll}, "op"},
		{Fault{ResultCode: "X", Drop: true}, "resultCode"},
		{Fault{Drop: true, LoseAnswer: true}, "resultCode"},
		{Fault{HTTPStatus: 42}, "httpStatus"},
		{Fault{DelayMS: -1, Drop: true}, "delayMs"},
		{Fault{Drop: true, Count: -1}, "count"},
		{Fault{Drop: true, Percent: 101}, "percent"},
	}
	h := newHarness(t, Options{})
	for _, tt := range tests {
		err := h.srv.InjectFault(tt.give)
		var ce *ControlError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidInput) || ce.Field != tt.wantField {
			t.Errorf("InjectFault(%+v) = %v, want ErrInvalidInput on %q", tt.give, err, tt.wantField)
		}
	}
}

func TestFaultPercent(t *testing.T) {
	h := newHarness(t, Options{})
	h.seedBasic()
	must(t, h.srv.InjectFault(Fault{Op: OpAgentSession, ResultCode: CodeUnknownError, Percent: 50}))
	faulted := 0
	const n = 200
	for range n {
		if h.session("a1").ResultCode == CodeUnknownError {
			faulted++
		}
	}
	if faulted == 0 || faulted == n {
		t.Errorf("a 50%% fault hit %d of %d requests, want some but not all", faulted, n)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	h := newHarness(t, Options{})
	must(t, h.srv.InjectFault(Fault{Op: OpPoll, Hang: true}))
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/uq/v1/demo/events/poll", strings.NewReader(`{"afterSeq":0}`))
		resp, err := h.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	h.srv.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("hanging request got an answer, want the connection dropped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
}
