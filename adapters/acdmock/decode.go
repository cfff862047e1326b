package acdmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
