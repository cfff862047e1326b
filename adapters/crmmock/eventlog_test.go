package crmmock

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEventLogKeepsTheLastEvents checks the site's event log (appendEvent) against what the
// former trim kept (slices.Delete of the oldest on every append once over the cap): the
// last maxEventsPerSite events emitted, in order. It emits enough events for the full log to
// slide to the end of its array and move back several times, checks the log's ends and its
// memory bound after every event, and at checkpoints (every 997 events, the first drop and
// each move) the whole log and what polls from cursors around its ends and middle answer,
// against the former poll over the former log.
func TestEventLogKeepsTheLastEvents(t *testing.T) {
	srv := New(Options{Clock: NewManualClock(t0), TickInterval: -1})
	t.Cleanup(srv.Close)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	st := srv.w.sites["demo"]

	var all []Event // every event emitted, as the log shows it
	moves := 0      // times the full log did not just slide forward by one in its array
	for n := 1; n <= 4*maxEventsPerSite+maxEventsPerSite/2; n++ {
		ev := Event{Type: EventAgentStatusChanged, AgentAccountID: "a" + strconv.Itoa(n), At: t0}
		var second *Event // where the log starts after the event if it just slides
		if len(st.events) == maxEventsPerSite {
			second = &st.events[1]
		}
		srv.emitLocked(st, ev)
		ev.Seq, ev.At = int64(n), ev.At.UTC()
		all = append(all, ev)
		want := all[max(0, len(all)-maxEventsPerSite):]

		moved := second != nil && &st.events[0] != second
		if moved {
			moves++
		}
		if err := logEndsMismatch(st.events, want); err != nil {
			t.Fatalf("after %d events: %v", n, err)
		}
		if c := cap(st.events); c > 2*maxEventsPerSite {
			t.Fatalf("after %d events: the log's array holds %d events, want at most %d", n, c, 2*maxEventsPerSite)
		}
		if n%997 != 0 && !moved && n != maxEventsPerSite+1 {
			continue
		}
		if !slices.Equal(st.events, want) {
			t.Fatalf("after %d events: log mismatch (-want +got):\n%s", n, cmp.Diff(want, st.events))
		}
		oldest, last := want[0].Seq, want[len(want)-1].Seq
		for _, after := range []int64{-1, 0, oldest - 2, oldest - 1, oldest, (oldest + last) / 2, last - maxEventsPerPoll, last - 1, last, last + 5} {
			got, gotOK := srv.pollOfLocked(st, after)
			wantResp, wantOK := formerPoll(want, after, int64(n))
			if gotOK != wantOK {
				t.Fatalf("after %d events: pollOfLocked(%d) ok = %t, want %t", n, after, gotOK, wantOK)
			}
			if !samePoll(got, wantResp) {
				t.Fatalf("after %d events: pollOfLocked(%d) mismatch (-want +got):\n%s", n, after, cmp.Diff(wantResp, got))
			}
		}
	}
	if moves < 3 {
		t.Errorf("the full log moved in its array %d times, want at least 3 (the test slides it too little)", moves)
	}
	t.Logf("%d events emitted; the full log moved in its array %d times", len(all), moves)
}

// samePoll compares two poll answers without reflection (the test makes many).
func samePoll(a, b pollResponse) bool {
	return a.ResultCode == b.ResultCode && a.Timeout == b.Timeout && a.LastSeq == b.LastSeq && slices.Equal(a.Events, b.Events)
}

// logEndsMismatch compares the log's length and first and last events with want's.
func logEndsMismatch(got, want []Event) error {
	switch {
	case len(got) != len(want):
		return fmt.Errorf("the log holds %d events, want %d", len(got), len(want))
	case got[0] != want[0]:
		return fmt.Errorf("the log starts with %+v, want %+v", got[0], want[0])
	case got[len(got)-1] != want[len(want)-1]:
		return fmt.Errorf("the log ends with %+v, want %+v", got[len(got)-1], want[len(want)-1])
	}
	return nil
}

// formerPoll is pollOfLocked as it answered before the log slid (the same loop over a log
// kept by slices.Delete): the events after afterSeq, oldest first, at most
// maxEventsPerPoll; a cursor older than the oldest kept event gets the log from its start.
func formerPoll(events []Event, afterSeq, lastSeq int64) (pollResponse, bool) {
	resp := pollResponse{ResultCode: CodeSuccess, LastSeq: lastSeq, Events: []Event{}}
	for _, ev := range events {
		if ev.Seq > afterSeq {
			resp.Events = append(resp.Events, ev)
			if len(resp.Events) == maxEventsPerPoll {
				break
			}
		}
	}
	if len(resp.Events) == 0 {
		resp.Timeout = true
		return resp, false
	}
	resp.LastSeq = resp.Events[len(resp.Events)-1].Seq
	return resp, true
}
