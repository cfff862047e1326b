package acdmock

import (
	"errors"
	"net/http"
)

// Error kinds. Every error the simulator returns (Go control API, REST and control HTTP) is
// an *Error whose Kind is one of these, so callers match with errors.Is on either side of
// the wire.
var (
	ErrBadRequest = errors.New("bad request")          // 400: malformed or missing input
	ErrNotFound   = errors.New("not found")            // 404: no such interaction, agent or queue
	ErrConflict   = errors.New("conflict")             // 409: not possible in the current state
	ErrInvalid    = errors.New("invalid")              // 422: well-formed but not acceptable
	ErrDown       = errors.New("simulated ACD outage") // 503: SetDown(true)
)

// Error names the field at fault (JSON name, "" when none) and why.
type Error struct {
	Kind   error
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Kind.Error() + ": " + e.Reason
	}
	return e.Kind.Error() + ": " + e.Field + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, field, reason string) *Error {
	return &Error{Kind: kind, Field: field, Reason: reason}
}

// errorBody is the wire shape of every 4xx/5xx: {"error": "...", "field": "..."}.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

var statusByKind = []struct {
	kind   error
	status int
}{
	{ErrBadRequest, http.StatusBadRequest},
	{ErrNotFound, http.StatusNotFound},
	{ErrConflict, http.StatusConflict},
	{ErrInvalid, http.StatusUnprocessableEntity},
	{ErrDown, http.StatusServiceUnavailable},
}

// replyOf maps an error to its HTTP status and body.
func replyOf(err error) (int, errorBody) {
	var e *Error
	if errors.As(err, &e) {
		for _, m := range statusByKind {
			if errors.Is(e.Kind, m.kind) {
				return m.status, errorBody{Error: e.Reason, Field: e.Field}
			}
		}
	}
	return http.StatusInternalServerError, errorBody{Error: err.Error()}
}

// kindOf maps a status back to an error kind (control client).
func kindOf(status int) error {
	for _, m := range statusByKind {
		if m.status == status {
			return m.kind
		}
	}
	return errors.New(http.StatusText(status))
}
