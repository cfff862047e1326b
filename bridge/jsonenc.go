package bridge

// Hand-written JSON encoders for the values the store writes on every pop: the leg
// (Interaction) on creation and on every update, the agent's event (which carries the leg)
// and the timeline entries. Through encoding/json's reflection they were ~7% of the pop
// benchmark's CPU profile.
//
// They write exactly the bytes encoding/json.Marshal writes: the same field order, omitempty
// rules, string escaping (HTML-safe, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped) and
// time.Time form, so that readers (json.Unmarshal, the media bar, operators' tools) see no
// difference. The fuzz targets in jsonenc_fuzz_test.go hold them to encoding/json byte for
// byte, and TestAppendJSONKnowsEveryField fails when a field is added to one of these types
// (or to Channel or bridgeerr.Descriptor) without being added here.

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// AppendJSON appends json.Marshal(in) to b. On error (a time RFC 3339 cannot express, as
// encoding/json reports it) it returns nil.
func (in *Interaction) AppendJSON(b []byte) ([]byte, error) {
	if in == nil {
		return append(b, "null"...), nil
	}
	b = stringField(b, `{"interaction_id":`, in.InteractionID)
	b = stringField(b, `,"routing_id":`, in.RoutingID)
	b = stringField(b, `,"chat_id":`, in.ChatID)
	b = stringField(b, `,"site":`, in.Site)
	b = stringField(b, `,"queue_id":`, in.QueueID)
	b = stringFieldOmitEmpty(b, `,"queue_name":`, in.QueueName)
	b = stringField(b, `,"agent_id":`, in.AgentID)
	b = stringFieldOmitEmpty(b, `,"crm_account_id":`, in.CRMAccountID)
	b = stringField(b, `,"route_type":`, string(in.RouteType))
	b = stringFieldOmitEmpty(b, `,"from_routing_id":`, in.FromRoutingID)
	b = stringField(b, `,"state":`, string(in.State))
	b = intField(b, `,"version":`, in.Version)
	b = stringFieldOmitEmpty(b, `,"code":`, in.Code)
	b = stringFieldOmitEmpty(b, `,"message":`, in.Message)
	b = boolField(b, `,"requeued":`, in.Requeued)
	b = stringFieldOmitEmpty(b, `,"disposition":`, in.Disposition)
	b = stringFieldOmitEmpty(b, `,"abandon_stage":`, in.AbandonStage)
	if in.Descriptor != nil {
		b = append(b, `,"descriptor":`...)
		b = appendDescriptor(b, in.Descriptor)
	}
	b = intField(b, `,"pop_attempts":`, int64(in.PopAttempts))
	if in.PopUncertain {
		b = boolField(b, `,"pop_uncertain":`, true)
	}
	b, err := timeField(b, `,"routed_at":`, in.RoutedAt)
	if err != nil {
		return nil, err
	}
	if b, err = timeField(b, `,"updated_at":`, in.UpdatedAt); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends json.Marshal(ev) to b. On error (a time RFC 3339 cannot express, as
// encoding/json reports it) it returns nil.
func (ev *Event) AppendJSON(b []byte) ([]byte, error) {
	if ev == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	if ev.ID != "" { // the only field that may be left out before type
		b = stringField(b, `"id":`, ev.ID)
		b = append(b, ',')
	}
	b = stringField(b, `"type":`, ev.Type)
	b = stringField(b, `,"agent_id":`, ev.AgentID)
	if ev.Interaction != nil {
		b = append(b, `,"interaction":`...)
		var err error
		if b, err = ev.Interaction.AppendJSON(b); err != nil {
			return nil, err
		}
	}
	if ev.Channel != nil {
		b = append(b, `,"channel":`...)
		b = appendChannel(b, ev.Channel)
	}
	b = stringFieldOmitEmpty(b, `,"message":`, ev.Message)
	b, err := timeField(b, `,"at":`, ev.At)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends json.Marshal(e) to b. On error (a time RFC 3339 cannot express, as
// encoding/json reports it) it returns nil.
func (e *TimelineEntry) AppendJSON(b []byte) ([]byte, error) {
	if e == nil {
		return append(b, "null"...), nil
	}
	b, err := timeField(b, `{"at":`, e.At)
	if err != nil {
		return nil, err
	}
	b = stringField(b, `,"kind":`, e.Kind)
	b = stringFieldOmitEmpty(b, `,"routing_id":`, e.RoutingID)
	b = stringField(b, `,"detail":`, e.Detail)
	b = stringFieldOmitEmpty(b, `,"code":`, e.Code)
	if e.LatencyMS != 0 {
		b = intField(b, `,"latency_ms":`, e.LatencyMS)
	}
	return append(b, '}'), nil
}

// appendChannel appends json.Marshal(c) to b (c is not nil).
func appendChannel(b []byte, c *Channel) []byte {
	b = boolField(b, `{"green":`, c.Green)
	b = stringFieldOmitEmpty(b, `,"reason":`, c.Reason)
	b = stringFieldOmitEmpty(b, `,"message":`, c.Message)
	if c.Banner {
		b = boolField(b, `,"banner":`, true)
	}
	if c.SecondsToDisconnect != 0 {
		b = intField(b, `,"seconds_to_disconnect":`, int64(c.SecondsToDisconnect))
	}
	return append(b, '}')
}

// appendDescriptor appends json.Marshal(d) to b (d is not nil).
func appendDescriptor(b []byte, d *bridgeerr.Descriptor) []byte {
	b = stringField(b, `{"role":`, d.Role)
	b = stringField(b, `,"result":`, d.Result)
	b = stringFieldOmitEmpty(b, `,"reason":`, d.Reason)
	return append(b, '}')
}

// The field writers take the key as the literal that goes before the value, separators
// included: `,"name":`.

func stringField(b []byte, key, s string) []byte {
	return AppendJSONString(append(b, key...), s)
}

func stringFieldOmitEmpty(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return stringField(b, key, s)
}

func intField(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(append(b, key...), n, 10)
}

func boolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

// timeField writes t as time.Time.MarshalJSON does: RFC 3339 with nanoseconds, quoted. A time
// that form cannot express (year outside [0,9999], zone offset of 24 hours or more) is left
// to encoding/json, for its error.
func timeField(b []byte, key string, t time.Time) ([]byte, error) {
	year := t.Year()
	if _, offset := t.Zone(); year < 0 || year > 9999 || offset <= -24*3600 || offset >= 24*3600 {
		data, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return append(append(b, key...), data...), nil
	}
	b = append(b, key...)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// jsonSafe says which ASCII bytes a JSON string holds as they are (encoding/json's htmlSafeSet).
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := range safe {
		safe[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// AppendJSONString appends s as encoding/json encodes a string: quoted, with ", \ and control
// characters escaped, <, > and & as \u003c, \u003e and \u0026, U+2028 and U+2029 escaped, and
// each byte of invalid UTF-8 as \ufffd. It mirrors appendString in encoding/json/encode.go.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default: // other control characters, and <, > and &
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
