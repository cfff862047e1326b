// Package acdapi is the ACD's wire contract with the bridge: the webhook envelope and event
// payloads the ACD sends, and their Standard Webhooks signature. The HTTP adapter verifies
// and parses with it; the ACD simulator builds and signs with it. Standard library only.
package acdapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Signature verification failures. All are answered 401; the kind is logged and counted.
var (
	ErrMissingHeaders   = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrBadTimestamp     = errors.New("webhook-timestamp is not a unix time in seconds")
	ErrTimestampTooOld  = errors.New("webhook-timestamp is older than the tolerance")
	ErrTimestampFuture  = errors.New("webhook-timestamp is further in the future than the tolerance")
	ErrNoMatchingSig    = errors.New("no webhook-signature matches")
	ErrInvalidSecret    = errors.New("invalid webhook secret")
	maxSignatureEntries = 8 // bound the work a hostile header can cause
)

// Secret is a Standard Webhooks signing key: the bytes of a configured secret, "whsec_"
// followed by base64, or the base64 alone (as the bridge's config reads it).
type Secret []byte

// ParseSecret decodes a configured secret: base64 key bytes after an optional "whsec_"
// prefix, exactly as the bridge's config reads acd.webhook_secrets, so a simulator and the
// bridge given the same string sign and verify with the same key.
func ParseSecret(s string) (Secret, error) {
	raw := strings.TrimPrefix(s, "whsec_")
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: want base64 after an optional whsec_: %v", ErrInvalidSecret, err)
	}
	if len(key) == 0 { // base64 of nothing but line breaks
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one message.
func Sign(secret Secret, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, strconv.FormatInt(ts.Unix(), 10), body))
}

// Headers returns the three Standard Webhooks headers for a message.
func Headers(secret Secret, id string, ts time.Time, body []byte) map[string]string {
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(ts.Unix(), 10),
		HeaderSignature: Sign(secret, id, ts, body),
	}
}

func mac(secret Secret, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verifier checks signatures against one or two active secrets (rotation).
type Verifier struct {
	Secrets   []Secret
	Tolerance time.Duration
	Now       func() time.Time
}

// Verify checks the headers against the raw body. It runs before the body is parsed.
func (v Verifier) Verify(id, timestamp, signature string, body []byte) error {
	if id == "" || timestamp == "" || signature == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	ts := time.Unix(sec, 0)
	if d := now().Sub(ts); d > v.Tolerance {
		return ErrTimestampTooOld
	} else if d < -v.Tolerance {
		return ErrTimestampFuture
	}
	want := make([][]byte, 0, len(v.Secrets))
	for _, s := range v.Secrets {
		want = append(want, mac(s, id, timestamp, body))
	}
	for i, entry := range strings.Fields(signature) {
		if i >= maxSignatureEntries {
			break
		}
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return nil
			}
		}
	}
	return ErrNoMatchingSig
}
