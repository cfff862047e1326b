package acdmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// maxBody bounds a request body; the simulator is a test tool but it must not fall over.
const maxBody = 64 << 10

// maxIDLen bounds identifiers, as the bridge does.
const maxIDLen = 128

// decodeRequest strictly decodes one JSON object into v: unknown fields, trailing data and
// wrong types are errors naming the field, so a client's typo is caught, not ignored. An
// empty body decodes as {} (required fields are checked by the request's validate).
func decodeRequest(body []byte, v any) error {
	if len(body) > maxBody {
		return fail(ErrBadRequest, "body", fmt.Sprintf("larger than %d bytes", maxBody))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(ErrBadRequest, fieldOf(err), reasonOf(err))
	}
	if dec.More() {
		return fail(ErrBadRequest, "body", "trailing data after the JSON object")
	}
	return nil
}

// maxAdvance bounds one clock advance: far beyond any test, well inside time.Time's range.
const maxAdvance = 366 * 24 * time.Hour

// decodeAdvance reads {"duration": "90s"}: a Go duration from 0 ("0s" only fires the timers
// already due) to maxAdvance.
func decodeAdvance(body []byte) (time.Duration, error) {
	var req advanceRequest
	if err := decodeRequest(body, &req); err != nil {
		return 0, err
	}
	if req.Duration == "" {
		return 0, fail(ErrBadRequest, "duration", `required (a Go duration, e.g. "90s")`)
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		return 0, fail(ErrBadRequest, "duration", `not a Go duration (e.g. "90s"): `+err.Error())
	}
	return d, checkAdvance(d)
}

// checkAdvance refuses a clock move backwards or beyond maxAdvance.
func checkAdvance(d time.Duration) error {
	switch {
	case d < 0:
		return fail(ErrInvalid, "duration", "must not be negative (the clock never goes back)")
	case d > maxAdvance:
		return fail(ErrInvalid, "duration", fmt.Sprintf("longer than %s", maxAdvance))
	}
	return nil
}

const unknownFieldPrefix = "json: unknown field "

func fieldOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	if name, ok := strings.CutPrefix(err.Error(), unknownFieldPrefix); ok {
		if name = strings.Trim(name, `"`); name != "" {
			return name
		}
	}
	return "body"
}

func reasonOf(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if strings.HasPrefix(err.Error(), unknownFieldPrefix) {
		return "unknown field"
	}
	return "invalid JSON: " + err.Error()
}

// field is one named value for checkIDs.
type field struct{ name, value string }

// required checks that each value is present and a sane identifier.
func required(fields ...field) error {
	for _, f := range fields {
		if f.value == "" {
			return fail(ErrBadRequest, f.name, "required")
		}
	}
	return optionalIDs(fields...)
}

// optionalIDs checks the values that are present.
func optionalIDs(fields ...field) error {
	for _, f := range fields {
		if len(f.value) > maxIDLen {
			return fail(ErrInvalid, f.name, fmt.Sprintf("longer than %d bytes", maxIDLen))
		}
		for _, r := range f.value {
			if r < 0x20 || r == 0x7f {
				return fail(ErrInvalid, f.name, "contains control characters")
			}
		}
	}
	return nil
}
