package crmmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// requestError is a request body that cannot be read: HTTP 400 with the field at fault.
type requestError struct {
	Field   string
	Message string
}

func (e *requestError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// decodeJSON reads exactly one JSON object into v. With strict set, unknown fields are
// errors (the control plane: a typo must not pass silently); the routing API ignores them
// like the real server.
func decodeJSON(data []byte, v any, strict bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &requestError{Message: "request body is empty; want a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &requestError{Message: "unexpected data after the JSON object"}
	}
	return nil
}

// jsonError turns a decoding error into a requestError naming the field where it can.
func jsonError(err error) *requestError {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &requestError{Field: typeErr.Field, Message: fmt.Sprintf("want a JSON %s, got %s", typeErr.Type, typeErr.Value)}
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		return &requestError{Field: strings.Trim(strings.TrimPrefix(msg, unknown), `"`), Message: "unknown field"}
	}
	return &requestError{Message: "malformed JSON: " + err.Error()}
}

func decodeAuthenticate(data []byte) (authenticateRequest, error) {
	var req authenticateRequest
	return req, decodeJSON(data, &req, false)
}

// decodeChatRouted reads a chatRouted body. A routeType other than lead, transfer,
// conference or consult (or none) is a body that cannot be read, not a business verdict.
func decodeChatRouted(data []byte) (chatRoutedRequest, error) {
	var req chatRoutedRequest
	if err := decodeJSON(data, &req, false); err != nil {
		return req, err
	}
	if !validRouteType(req.RouteType) {
		return req, &requestError{Field: "routeType", Message: routeTypeMessage(req.RouteType)}
	}
	return req, nil
}

// decodeRespond reads a respond body. An action other than accept or decline is a body that
// cannot be read; no action at all is the CRM's verdict (MISSING_PARAMETERS).
func decodeRespond(data []byte) (respondRequest, error) {
	var req respondRequest
	if err := decodeJSON(data, &req, false); err != nil {
		return req, err
	}
	if !validRespondAction(req.Action) {
		return req, &requestError{Field: "action", Message: respondActionMessage(req.Action)}
	}
	return req, nil
}

// validRespondAction reports whether a respond request's action is accept, decline or none.
func validRespondAction(a string) bool { return a == "" || slices.Contains(respondActions, a) }

// respondActionMessage says why an action was refused.
func respondActionMessage(a string) string {
	return fmt.Sprintf("unknown action %q; want accept or decline (to ignore an offer, make no call)", a)
}

// routeTypeMessage says why a route type was refused.
func routeTypeMessage(rt string) string {
	return fmt.Sprintf("unknown route type %q; want lead, transfer, conference or consult (none means lead)", rt)
}

func decodePoll(data []byte) (pollRequest, error) {
	var req pollRequest
	if err := decodeJSON(data, &req, false); err != nil {
		return req, err
	}
	if req.WaitSeconds != nil && *req.WaitSeconds < 0 {
		return req, &requestError{Field: "waitSeconds", Message: "must not be negative"}
	}
	return req, nil
}

// readBody reads the request body (bounded).
func readBody(c echo.Context) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &requestError{Message: fmt.Sprintf("request body larger than %d bytes", maxBodyBytes)}
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return data, nil
}

// requiredBody decodes the body into v (control plane: strict).
func requiredBody(c echo.Context, v any) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, true)
}

// param returns a path parameter, unescaped.
func param(c echo.Context, name string) string {
	raw := c.Param(name)
	if v, err := url.PathUnescape(raw); err == nil {
		return v
	}
	return raw
}

// handleError is the one place errors become HTTP answers.
func handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		status int
		body   any
		ae     *apiError
	)
	if errors.As(err, &ae) { // the generic facade's own shape
		status, body = ae.Status, apiErrorBody{Error: ae.Code, Field: ae.Field, Reason: ae.Reason}
	} else {
		status, body = errorBody(err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}

// errorBody is the control plane's error shape: {"error", "field", "kind", "cause"}.
type errorBodyJSON struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Cause string `json:"cause,omitempty"`
}

// Error kinds on the wire, mapped back to the sentinels by ControlClient.
const (
	kindInvalidInput       = "invalid_input"
	kindNotFound           = "not_found"
	kindConflict           = "conflict"
	causeDeclineNotAllowed = "decline_not_allowed"
)

func errorBody(err error) (int, errorBodyJSON) {
	var (
		ce  *ControlError
		re  *requestError
		he  *echo.HTTPError
		out = errorBodyJSON{Error: err.Error()}
	)
	switch {
	case errors.As(err, &ce):
		out.Error, out.Field = ce.Message, ce.Field
		if errors.Is(err, ErrDeclineNotAllowed) {
			out.Cause = causeDeclineNotAllowed
		}
		switch {
		case errors.Is(err, ErrNotFound):
			out.Kind = kindNotFound
			return http.StatusNotFound, out
		case errors.Is(err, ErrConflict):
			out.Kind = kindConflict
			return http.StatusConflict, out
		}
		out.Kind = kindInvalidInput
		return http.StatusBadRequest, out
	case errors.As(err, &re):
		out.Error, out.Field, out.Kind = re.Message, re.Field, kindInvalidInput
		return http.StatusBadRequest, out
	case errors.As(err, &he):
		out.Error = fmt.Sprint(he.Message)
		return he.Code, out
	}
	return http.StatusInternalServerError, out
}
