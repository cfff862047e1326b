package acd

import (
	"strings"
	"testing"
)

// The ACD's error body is outside input that ends up in errors, logs and dead letters: it
// is read without panicking, bounded and free of raw control characters.
func FuzzErrorText(f *testing.F) {
	for _, s := range []string{`{"error":"agent is not ready","field":"targetAgentId"}`, `{"error":"a\r\nb"}`,
		`<html>502</html>`, ``, `null`, "\xff", strings.Repeat("x", 5000)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := errorText(body)
		for _, s := range []string{e.Message, e.Field} {
			if strings.ContainsAny(s, "\r\n\x00") || len(s) > 200*4+len("…") {
				t.Fatalf("errorText(%q) kept %q: raw control characters or unbounded", body, s)
			}
		}
	})
}
