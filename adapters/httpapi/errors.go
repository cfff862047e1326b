package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// ErrorBody is every error answer: a stable machine code, a human message, and the field at
// fault where there is one.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Interactions lists the open interactions when logout is refused.
	Interactions []*bridge.Interaction `json:"interactions,omitempty"`
}

// apiError is an error with its HTTP answer decided by the handler.
type apiError struct {
	status int
	body   ErrorBody
}

func (e *apiError) Error() string { return e.body.Error + ": " + e.body.Message }

func newAPIError(status int, code, message, field string) *apiError {
	return &apiError{status: status, body: ErrorBody{Error: code, Message: message, Field: field}}
}

// statusOf maps core errors to HTTP answers in one place.
var statusOf = []struct {
	err    error
	status int
	code   string
	field  string // the request field at fault, where the error is about one
}{
	{bridge.ErrForbidden, http.StatusForbidden, "forbidden", ""},
	{bridge.ErrNotFound, http.StatusNotFound, "not_found", ""},
	{bridge.ErrNotLoggedIn, http.StatusUnauthorized, "not_logged_in", ""},
	{bridge.ErrDispositionRequired, http.StatusUnprocessableEntity, "disposition_required", "disposition"},
	{bridge.ErrUnknownDisposition, http.StatusUnprocessableEntity, "unknown_disposition", "disposition"},
	{bridge.ErrNotCompletable, http.StatusConflict, "not_completable", ""},
	{bridge.ErrOpenInteractions, http.StatusConflict, "open_interactions", ""},
	{bridge.ErrUnknownSite, http.StatusUnprocessableEntity, "unknown_site", "site"},
	{bridge.ErrStoreUnavailable, http.StatusServiceUnavailable, "store_unavailable", ""},
	{bridge.ErrNotOffered, http.StatusConflict, "not_offered", ""},
	{bridge.ErrDeclineNotAllowed, http.StatusForbidden, "decline_not_allowed", ""},
	{bridge.ErrCRMUnavailable, http.StatusServiceUnavailable, "crm_unreachable", ""},
	{bridge.ErrNotTransferable, http.StatusConflict, "not_transferable", ""},
}

// errorHandler is echo's HTTPErrorHandler: the one place errors become answers and are logged.
func (a *API) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := http.StatusInternalServerError, ErrorBody{Error: "internal", Message: "internal error"}
	var ae *apiError
	var he *echo.HTTPError
	var refused *bridge.LoginRefusedError
	var crmRefused *bridge.CRMRefusedError
	switch {
	case errors.As(err, &crmRefused):
		status, body = http.StatusConflict, ErrorBody{Error: "crm_refused", Message: crmRefused.Message, Field: crmRefused.Code}
	case errors.As(err, &ae):
		status, body = ae.status, ae.body
	case errors.As(err, &refused):
		status, body = http.StatusConflict, ErrorBody{Error: "crm_session_not_usable", Message: refused.Message, Field: refused.Code}
	case errors.As(err, &he):
		status = he.Code
		body = ErrorBody{Error: http.StatusText(he.Code), Message: http.StatusText(he.Code)}
		if m, ok := he.Message.(string); ok {
			body.Message = m
		}
	default:
		for _, m := range statusOf {
			if errors.Is(err, m.err) {
				status, body = m.status, ErrorBody{Error: m.code, Message: err.Error(), Field: m.field}
				break
			}
		}
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away mid-request: nobody to answer, nothing failed on our side.
		a.log.Info("client gone", "method", c.Request().Method, "path", c.Path())
		return
	}
	if status >= 500 {
		a.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "status", status, "err", err)
	} else {
		a.log.Info("request refused", "method", c.Request().Method, "path", c.Path(), "status", status, "error", body.Error, "field", body.Field)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}
