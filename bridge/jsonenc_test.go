package bridge

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

var (
	tUTC       = time.Date(2026, 11, 21, 21, 33, 50, 123456789, time.UTC)
	tWhole     = time.Date(2026, 11, 21, 21, 33, 50, 0, time.UTC)
	tMillis    = time.Date(2026, 11, 21, 21, 33, 50, 120000000, time.UTC)
	tBerlin    = time.Date(2026, 3, 29, 2, 30, 0, 5, time.FixedZone("CEST", 2*3600))
	tKathmandu = time.Date(2026, 1, 1, 0, 0, 0, 1, time.FixedZone("", 5*3600+45*60))
	tNewfound  = time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("NST", -(3*3600+30*60)))
	tLMT       = time.Date(1890, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 53*60+28)) // offset with seconds
	tNow       = time.Now()                                                         // local zone, monotonic reading
	tYear0     = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	tYear9999  = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	tMaxZone   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600-1))
)

// awkward are strings that exercise every escaping rule of encoding/json.
var awkward = []string{
	"",
	"plain",
	"agent é 1 — ✓ 😀",
	`<script>alert("x&y")</script>`,
	`back\slash "quoted"`,
	"tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f",
	"line\u2028sep\u2029para",
	"bad \xff utf8 \xc3",
	"\xed\xa0\x80 surrogate",
	"\xf4\x90\x80\x80 beyond U+10FFFF",
	"\uFFFD already replacement",
	"\xe2\x80", // truncated U+2028
}

func realisticInteraction() *Interaction {
	return &Interaction{
		InteractionID: "0f8e6c2a-5d4b-4e8e-9a51-3c2b7d9e1f00",
		RoutingID:     "rt-7a1c2e94-1b3d-4f5a-8c6e-2d9f0b4a7e31",
		ChatID:        "1700000000042",
		Site:          "acme-prod-eu",
		QueueID:       "Q_SALES_EN",
		QueueName:     "Sales (English) & Renewals",
		AgentID:       "agent-0042",
		CRMAccountID:  "4711",
		RouteType:     RouteTransfer,
		FromRoutingID: "rt-2b4c6d8e-0f1a-4b3c-9d5e-7f8a9b0c1d2e",
		State:         StateOffered,
		Version:       3,
		Code:          "SUCCESS",
		Message:       "The chat was offered to the agent; waiting for accept or decline.",
		Disposition:   "offered",
		Descriptor:    &bridgeerr.Descriptor{Role: "ReceivedTransfer", Result: "Offered"},
		PopAttempts:   1,
		RoutedAt:      tUTC,
		UpdatedAt:     tUTC.Add(1234567 * time.Microsecond),
	}
}

func realisticEvent() *Event {
	return &Event{Type: EventInteractionUpdated, AgentID: "agent-0042", Interaction: realisticInteraction(), At: tUTC.Add(2 * time.Second)}
}

// appendJSONMatches fails t unless encode (a hand-written encoder) gives json.Marshal(v)'s
// bytes, or an error (and nil) exactly when json.Marshal has one, and appends to what it is
// given.
func appendJSONMatches(t *testing.T, v any, encode func(b []byte) ([]byte, error)) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	got, err := encode(nil)
	if (err != nil) != (wantErr != nil) || (err != nil && got != nil) {
		t.Fatalf("AppendJSON(%+v) = %s, %v; json.Marshal's error: %v", v, got, err, wantErr)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("AppendJSON(%+v) differs from json.Marshal (-want +got):\n%s", v, diff)
	}
	if err != nil {
		return
	}
	got, _ = encode([]byte("prefix"))
	if string(got) != "prefix"+string(want) {
		t.Fatalf("AppendJSON([]byte(\"prefix\")) = %s, want prefix%s", got, want)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, give := range awkward {
		want, err := json.Marshal(give)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString(nil, give); string(got) != string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want %s", give, got, want)
		}
	}
	// A few spelled out, so that the oracle itself is pinned.
	tests := []struct {
		give string
		want string
	}{
		{give: "", want: `""`},
		{give: "<a&b>", want: `"\u003ca\u0026b\u003e"`},
		{give: "\u2028\u2029", want: `"\u2028\u2029"`},
		{give: "a\xffb", want: `"a\ufffdb"`},
		{give: "\x00\x1f\t\x7f", want: `"\u0000\u001f\t` + "\x7f" + `"`},
		{give: `"\`, want: `"\"\\"`},
	}
	for _, tt := range tests {
		if got := AppendJSONString(nil, tt.give); string(got) != tt.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestInteractionAppendJSON(t *testing.T) {
	full := realisticInteraction()
	full.Requeued, full.PopUncertain, full.AbandonStage = true, true, "alerting"
	full.Descriptor.Reason = "AbandonedWhileRinging"
	tests := []struct {
		name string
		give *Interaction
	}{
		{name: "nil", give: nil},
		{name: "zero", give: &Interaction{}},
		{name: "realistic", give: realisticInteraction()},
		{name: "every omitempty set", give: full},
		{name: "empty descriptor", give: &Interaction{Descriptor: &bridgeerr.Descriptor{}}},
		{name: "negative numbers", give: &Interaction{Version: -1 << 63, PopAttempts: -7}},
		{name: "html and unicode", give: &Interaction{InteractionID: "<i&d>", AgentID: "agent é", Message: "a\u2028b", Code: "\xff"}},
		{name: "offset zones", give: &Interaction{RoutedAt: tBerlin, UpdatedAt: tNewfound}},
		{name: "odd offsets", give: &Interaction{RoutedAt: tKathmandu, UpdatedAt: tLMT}},
		{name: "local with monotonic", give: &Interaction{RoutedAt: tNow, UpdatedAt: tNow.UTC()}},
		{name: "whole and milli seconds", give: &Interaction{RoutedAt: tWhole, UpdatedAt: tMillis}},
		{name: "edges of the range", give: &Interaction{RoutedAt: tYear0, UpdatedAt: tYear9999}},
		{name: "largest zone", give: &Interaction{RoutedAt: tMaxZone, UpdatedAt: tMaxZone}},
	}
	for _, s := range awkward {
		tests = append(tests, struct {
			name string
			give *Interaction
		}{name: "string " + s, give: &Interaction{
			InteractionID: s, RoutingID: s, ChatID: s, Site: s, QueueID: s, QueueName: s, AgentID: s,
			CRMAccountID: s, RouteType: RouteType(s), FromRoutingID: s, State: State(s), Code: s, Message: s,
			Disposition: s, AbandonStage: s, Descriptor: &bridgeerr.Descriptor{Role: s, Result: s, Reason: s},
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appendJSONMatches(t, tt.give, tt.give.AppendJSON)
		})
	}
}

func TestEventAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		give *Event
	}{
		{name: "nil", give: nil},
		{name: "zero", give: &Event{}},
		{name: "realistic", give: realisticEvent()},
		{name: "with id", give: &Event{ID: "1700000000000-0", Type: EventChannelUpdated, AgentID: "a1", At: tBerlin}},
		{name: "zero interaction", give: &Event{Type: EventInteractionUpdated, Interaction: &Interaction{}}},
		{name: "zero channel", give: &Event{Type: EventChannelUpdated, Channel: &Channel{}}},
		{name: "full channel", give: &Event{Type: EventChannelUpdated, AgentID: "a1", Channel: &Channel{
			Green: true, Reason: "AGENT_ABSENT", Message: "Reload <the> console & log in", Banner: true, SecondsToDisconnect: -30,
		}, At: tNow}},
		{name: "message only", give: &Event{Type: EventTransferFailed, AgentID: "a\u2029", Message: "no \xfe", At: tLMT}},
		{name: "everything", give: &Event{
			ID: "<1-0>", Type: "t", AgentID: "a", Interaction: realisticInteraction(), Channel: &Channel{Reason: "r"},
			Message: "m", At: tKathmandu,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appendJSONMatches(t, tt.give, tt.give.AppendJSON)
		})
	}
}

func TestTimelineEntryAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		give *TimelineEntry
	}{
		{name: "nil", give: nil},
		{name: "zero", give: &TimelineEntry{}},
		{name: "decision", give: &TimelineEntry{At: tUTC, Kind: TimelineDecision, RoutingID: "rt-1", Detail: "pop_start: routed, sending chatRouted attempt 1 (lease fence 3)"}},
		{name: "crm call", give: &TimelineEntry{At: tBerlin, Kind: TimelineCRMCall, Detail: `chatRouted -> "SUCCESS"`, Code: "SUCCESS", LatencyMS: 42}},
		{name: "negative latency", give: &TimelineEntry{At: tNewfound, Kind: "k", Detail: "<&>", LatencyMS: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appendJSONMatches(t, tt.give, tt.give.AppendJSON)
		})
	}
}

// Times RFC 3339 cannot express fail as encoding/json fails them: a *json.MarshalerError from
// time.Time.MarshalJSON, whichever field holds them.
func TestAppendJSONTimeOutOfRange(t *testing.T) {
	for _, bad := range []time.Time{
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -24*3600)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 100*3600)),
	} {
		encoders := map[string]func([]byte) ([]byte, error){
			"Interaction.RoutedAt":  (&Interaction{RoutedAt: bad}).AppendJSON,
			"Interaction.UpdatedAt": (&Interaction{UpdatedAt: bad}).AppendJSON,
			"Event.At":              (&Event{At: bad}).AppendJSON,
			"Event.Interaction":     (&Event{Interaction: &Interaction{UpdatedAt: bad}}).AppendJSON,
			"TimelineEntry.At":      (&TimelineEntry{At: bad}).AppendJSON,
		}
		for name, encode := range encoders {
			got, err := encode(nil)
			var me *json.MarshalerError
			if !errors.As(err, &me) || got != nil {
				t.Errorf("%s %v: AppendJSON = %s, %v; want nil, a *json.MarshalerError", name, bad, got, err)
			}
		}
	}
}

// TestAppendJSONKnowsEveryField: a field added to one of the encoded types (or renamed,
// reordered, given omitempty) without a change to jsonenc.go fails here. Every field is set
// to a value that is not empty, so that omitempty leaves none out; the encoder must then
// write exactly the struct's json names, in order, and json.Marshal's bytes.
func TestAppendJSONKnowsEveryField(t *testing.T) {
	tests := []struct {
		give   any // a pointer to the zero value of the type
		encode func(v any) ([]byte, error)
	}{
		{give: &Interaction{}, encode: func(v any) ([]byte, error) { return v.(*Interaction).AppendJSON(nil) }},
		{give: &Event{}, encode: func(v any) ([]byte, error) { return v.(*Event).AppendJSON(nil) }},
		{give: &TimelineEntry{}, encode: func(v any) ([]byte, error) { return v.(*TimelineEntry).AppendJSON(nil) }},
		{give: &Channel{}, encode: func(v any) ([]byte, error) { return appendChannel(nil, v.(*Channel)), nil }},
		{give: &bridgeerr.Descriptor{}, encode: func(v any) ([]byte, error) { return appendDescriptor(nil, v.(*bridgeerr.Descriptor)), nil }},
	}
	for _, tt := range tests {
		typ := reflect.TypeOf(tt.give).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			fillNonEmpty(t, reflect.ValueOf(tt.give).Elem())
			got, err := tt.encode(tt.give)
			if err != nil {
				t.Fatalf("encode(%+v): %v", tt.give, err)
			}
			if diff := cmp.Diff(jsonNames(typ), objectKeys(t, got)); diff != "" {
				t.Fatalf("%s: the encoder's keys differ from the struct's json names (-struct +encoder):\n%s", typ, diff)
			}
			want, err := json.Marshal(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Fatalf("%s: encoder differs from json.Marshal (-want +got):\n%s", typ, diff)
			}
		})
	}
}

// fillNonEmpty sets every exported field of the struct v to a value omitempty keeps,
// following pointers to structs.
func fillNonEmpty(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		sf, f := v.Type().Field(i), v.Field(i)
		if !sf.IsExported() {
			continue
		}
		switch {
		case sf.Type == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(tBerlin))
		case sf.Type.Kind() == reflect.String:
			f.SetString(sf.Name + " <é>")
		case sf.Type.Kind() == reflect.Int || sf.Type.Kind() == reflect.Int64:
			f.SetInt(int64(i + 1))
		case sf.Type.Kind() == reflect.Bool:
			f.SetBool(true)
		case sf.Type.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct:
			p := reflect.New(sf.Type.Elem())
			fillNonEmpty(t, p.Elem())
			f.Set(p)
		default:
			t.Fatalf("%s.%s is a %s: teach fillNonEmpty and bridge/jsonenc.go about it", v.Type(), sf.Name, sf.Type)
		}
	}
}

// jsonNames lists the keys encoding/json writes for typ's fields, in order, when none is
// empty.
func jsonNames(typ reflect.Type) []string {
	var names []string
	for sf := range typ.Fields() {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case !sf.IsExported() || name == "-":
			continue
		case name == "":
			name = sf.Name
		}
		names = append(names, name)
	}
	return names
}

// objectKeys lists the keys of the JSON object data, in order.
func objectKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s is not a JSON object: %v %v", data, tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("key in %s: %v", data, err)
		}
		keys = append(keys, tok.(string))
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			t.Fatalf("value of %v in %s: %v", tok, data, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("end of %s: %v", data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s: trailing data: %v", data, err)
	}
	return keys
}

// jsonSink keeps the benchmarks' output on the heap, as the store's is (it goes to Redis).
var jsonSink []byte

// The AppendJSON benchmarks size their buffers as sessions does.

func BenchmarkInteractionJSON(b *testing.B) {
	in := realisticInteraction()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if jsonSink, err = json.Marshal(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if jsonSink, err = in.AppendJSON(make([]byte, 0, 1024)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEventJSON(b *testing.B) {
	ev := realisticEvent()
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if jsonSink, err = json.Marshal(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if jsonSink, err = ev.AppendJSON(make([]byte, 0, 1024+256)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
