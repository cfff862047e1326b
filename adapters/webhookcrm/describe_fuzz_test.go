package webhookcrm

import (
	"encoding/json"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDescribeError: a 4xx body from the CRM becomes part of an error message (and so of a
// log line). Whatever the bytes, describeError says something; a body that is not an error
// object is quoted (one line, no raw control characters) and cut to about 200 bytes.
//
// KNOWN (reported): an error object's error, field and reason are copied whole, so a CRM can
// put up to maxReplyBytes of text into one error message; bound them in describeError.
func FuzzDescribeError(f *testing.F) {
	for _, seed := range []string{
		`{"error":"invalid_request","field":"chat_id","reason":"unknown chat"}`,
		`{"error":"unauthorized"}`, `{"error":""}`, `{"error":7}`, `{"error":"a\r\nb"}`,
		`<html>Bad Gateway</html>`, ``, `null`, "\xff\xfe", "line one\r\nline two",
		strings.Repeat("x", 300), strings.Repeat("é", 150),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out := describeError(body)
		if out == "" {
			t.Fatalf("describeError(%q) = empty", body)
		}
		var e errorReply
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			// The code comes first, escaped and bounded like everything copied into errors.
			if code := strings.TrimSuffix(resilient.Quote(e.Error), "…"); !strings.HasPrefix(out, code) {
				t.Fatalf("describeError(%q) = %q, want it to start with the error code", body, out)
			}
			if strings.ContainsAny(out, "\r\n") || len(out) > 200*4+len("…") {
				t.Fatalf("describeError(%q) = %q: raw newline or unbounded", body, out)
			}
			return
		}
		text, err := strconv.Unquote(out)
		if err != nil {
			t.Fatalf("describeError(%q) = %q, not one quoted string: %v", body, out, err)
		}
		if strings.ContainsAny(out, "\r\n") || len(text) > 200+len("…") {
			t.Fatalf("describeError(%q) = %q: raw newline or longer than 200 bytes", body, out)
		}
		if utf8.Valid(body) && !strings.HasPrefix(strings.TrimSpace(string(body)), strings.TrimSuffix(text, "…")) {
			t.Fatalf("describeError(%q) = %q, not the start of the body", body, out)
		}
	})
}
