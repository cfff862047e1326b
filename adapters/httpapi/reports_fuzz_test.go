package httpapi

import (
	"errors"
	"net/url"
	"testing"
	"time"
)

// FuzzParseOutcomeQuery: any query string is either a valid window (until after since) or a
// 400 naming the field at fault; never a panic.
func FuzzParseOutcomeQuery(f *testing.F) {
	for _, s := range []string{"", "since=2026-11-21T08:00:00Z", "since=x&until=y", "format=csv", "format=xml",
		"since=2026-11-21T08:00:00Z&until=2026-11-21T07:00:00Z", "since=2026-11-21T08:00:00.123456789%2B02:00"} {
		f.Add(s, "")
	}
	f.Add("", "text/csv")
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw, accept string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := parseOutcomeQuery(q, accept, now)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != 400 || ae.body.Field == "" {
				t.Fatalf("parseOutcomeQuery(%q) error %v is not a 400 naming a field", raw, err)
			}
			return
		}
		if !got.until.After(got.since) {
			t.Fatalf("parseOutcomeQuery(%q) = window %v..%v", raw, got.since, got.until)
		}
	})
}
