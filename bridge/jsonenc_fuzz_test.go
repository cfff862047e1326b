package bridge

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// The fuzz targets hold the hand-written encoders (jsonenc.go) to encoding/json: for any
// strings, numbers, flags and times, the same bytes, and an error exactly when json.Marshal
// has one (appendJSONMatches).

// fuzzTime is the time sec, nsec after the Unix epoch in a zone offset seconds east of UTC:
// every year, nanosecond and offset, RFC 3339's range and beyond.
func fuzzTime(sec, nsec int64, offset int32) time.Time {
	return time.Unix(sec, nsec).In(time.FixedZone("", int(offset)))
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSONString(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	})
}

// fuzzInteraction builds a leg out of four strings (each may land in any string field, empty
// or not), the numbers and flags, and two times.
func fuzzInteraction(a, b, c, d string, version int64, attempts int, flags uint8, sec, nsec int64, offset int32) *Interaction {
	pick := func(bit uint8, s string) string { // flags decide which optional fields are set
		if flags&bit != 0 {
			return s
		}
		return ""
	}
	in := &Interaction{
		InteractionID: a, RoutingID: b, ChatID: c, Site: d, QueueID: a + b,
		QueueName: pick(1, c), AgentID: d + a, CRMAccountID: pick(2, b),
		RouteType: RouteType(c), FromRoutingID: pick(4, d), State: State(d),
		Version: version, Code: pick(8, a), Message: pick(16, b+c),
		Requeued: flags&32 != 0, Disposition: pick(64, c), AbandonStage: pick(128, d),
		PopAttempts: attempts, PopUncertain: flags&3 == 3,
		RoutedAt: fuzzTime(sec, nsec, offset), UpdatedAt: fuzzTime(sec+int64(attempts), nsec/3, -offset),
	}
	if flags&5 != 0 {
		in.Descriptor = &bridgeerr.Descriptor{Role: a, Result: c, Reason: pick(16, d)}
	}
	return in
}

func FuzzInteractionAppendJSON(f *testing.F) {
	f.Add("i-1", "rt-1", "42", "acme", int64(1), 0, uint8(0), int64(1700000000), int64(0), int32(0))
	f.Add("<&>", "\u2028", "\xff", "é", int64(-1), 3, uint8(255), int64(1700000000), int64(123456789), int32(3600))
	f.Add("", "", "", "", int64(0), 0, uint8(0), int64(-62135596800), int64(0), int32(0))     // year 1
	f.Add("a", "b", "c", "d", int64(7), 1, uint8(5), int64(253402300800), int64(0), int32(0)) // year 10000
	f.Add("a", "b", "c", "d", int64(7), 1, uint8(9), int64(0), int64(0), int32(86400))        // zone +24:00
	f.Add("a", "b", "c", "d", int64(7), 1, uint8(9), int64(-62167219200), int64(1), int32(-86399))
	f.Fuzz(func(t *testing.T, a, b, c, d string, version int64, attempts int, flags uint8, sec, nsec int64, offset int32) {
		in := fuzzInteraction(a, b, c, d, version, attempts, flags, sec, nsec, offset)
		appendJSONMatches(t, in, in.AppendJSON)
	})
}

func FuzzEventAppendJSON(f *testing.F) {
	f.Add("", "interaction.updated", "agent-1", "", "", 0, uint8(1), int64(1700000000), int64(5), int32(0))
	f.Add("1-0", "channel.updated", "a<1>", "AGENT_ABSENT", "reload\n", -30, uint8(255), int64(1700000000), int64(0), int32(-12600))
	f.Add("", "transfer.failed", "\xfe", "", "no \u2029", 0, uint8(16), int64(-62167219201), int64(0), int32(0)) // year -1
	f.Fuzz(func(t *testing.T, id, typ, agent, reason, msg string, seconds int, flags uint8, sec, nsec int64, offset int32) {
		ev := &Event{ID: id, Type: typ, AgentID: agent, Message: msg, At: fuzzTime(sec, nsec, offset)}
		if flags&1 != 0 {
			ev.Interaction = fuzzInteraction(agent, id, typ, reason, int64(seconds), seconds, flags, sec/2, nsec, offset/2)
		}
		if flags&2 != 0 {
			ev.Channel = &Channel{Green: flags&4 != 0, Reason: reason, Message: msg, Banner: flags&8 != 0, SecondsToDisconnect: seconds}
		}
		appendJSONMatches(t, ev, ev.AppendJSON)
	})
}

func FuzzTimelineEntryAppendJSON(f *testing.F) {
	f.Add("decision", "rt-1", "pop_start: routed", "", int64(0), int64(1700000000), int64(0), int32(0))
	f.Add("crm_call", "", `chatRouted -> "SUCCESS" <&>`, "SUCCESS", int64(42), int64(1700000000), int64(999999999), int32(20700))
	f.Add("k", "r", "\xc3", "\u2028", int64(-1), int64(1<<62), int64(0), int32(0))
	f.Fuzz(func(t *testing.T, kind, routingID, detail, code string, latency, sec, nsec int64, offset int32) {
		e := &TimelineEntry{At: fuzzTime(sec, nsec, offset), Kind: kind, RoutingID: routingID, Detail: detail, Code: code, LatencyMS: latency}
		appendJSONMatches(t, e, e.AppendJSON)
	})
}
