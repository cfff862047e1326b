package crmmock

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAuthorize: the generic facade's Authorization header. Accepted exactly when it is the
// bearer scheme (any case) with the configured key (surrounding spaces aside); otherwise a 401
// naming Authorization that never quotes what was sent.
func FuzzAuthorize(f *testing.F) {
	for _, seed := range []string{"Bearer " + DefaultAPIKey, "bearer " + DefaultAPIKey, "BEARER  " + DefaultAPIKey + " ", "Bearer",
		"Bearer ", "Basic " + DefaultAPIKey, DefaultAPIKey, "Bearer " + DefaultAPIKey + "x", "Bearer\t" + DefaultAPIKey, ""} {
		f.Add(seed)
	}
	s := New(Options{})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/crm/v1/events", nil)
		r.Header.Set("Authorization", header)
		err := s.authorize(r)
		scheme, key, _ := strings.Cut(header, " ")
		want := strings.EqualFold(scheme, "bearer") && strings.TrimSpace(key) == DefaultAPIKey
		if (err == nil) != want {
			t.Fatalf("authorize(%q) = %v, want accepted %v", header, err, want)
		}
		if err == nil {
			return
		}
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Field != "Authorization" {
			t.Fatalf("authorize(%q) = %#v, want a 401 naming Authorization", header, err)
		}
		const fixedText = "want Authorization: Bearer <api key> unknown API key"
		if k := strings.TrimSpace(key); len(k) >= 4 && strings.Contains(ae.Reason, k) && !strings.Contains(fixedText, k) {
			t.Fatalf("authorize(%q) refusal %q quotes the key sent", header, ae.Reason)
		}
	})
}
