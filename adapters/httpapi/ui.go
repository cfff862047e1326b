package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/mediabarui"
)

const mediabarUIPrefix = "/mediabar/"

// routeMediabarUI serves the reference media bar under /mediabar/.
func (a *API) routeMediabarUI(e *echo.Echo) {
	e.GET("/mediabar", handleMediabarRedirect)
	e.HEAD("/mediabar", handleMediabarRedirect)
	e.GET(mediabarUIPrefix+"*", a.handleMediabarFile())
	e.HEAD(mediabarUIPrefix+"*", a.handleMediabarFile())
}

// handleMediabarRedirect sends /mediabar to /mediabar/ with its query (the login prefill),
// so the page's relative addresses resolve under /mediabar/.
func handleMediabarRedirect(c echo.Context) error {
	to := mediabarUIPrefix
	if q := c.Request().URL.RawQuery; q != "" {
		to += "?" + q
	}
	return c.Redirect(http.StatusMovedPermanently, to)
}

func (a *API) handleMediabarFile() echo.HandlerFunc {
	headers := mediabarui.SecurityHeaders(strings.Join(a.opts.FrameAncestors, " "))
	return func(c echo.Context) error {
		// The escaped path as it came: mediabarui.Open refuses escapes and dot segments
		// itself rather than trusting what the router decoded.
		rel := strings.TrimPrefix(c.Request().URL.EscapedPath(), mediabarUIPrefix)
		f, err := mediabarui.Open(rel)
		switch {
		case errors.Is(err, mediabarui.ErrBadPath):
			return newAPIError(http.StatusBadRequest, "malformed", "not a media-bar file path", "path")
		case errors.Is(err, mediabarui.ErrNotFound):
			return newAPIError(http.StatusNotFound, "not_found", "no such file in the media bar", "path")
		case err != nil:
			return err
		}
		h := c.Response().Header()
		for k, v := range headers {
			h[k] = append([]string(nil), v...)
		}
		h.Set(echo.HeaderContentType, f.ContentType)
		h.Set(echo.HeaderCacheControl, mediabarui.CacheControl)
		h.Set("ETag", f.ETag)
		// ServeContent answers If-None-Match with 304, HEAD without a body, and ranges.
		http.ServeContent(c.Response(), c.Request(), f.Name, time.Time{}, bytes.NewReader(f.Body))
		return nil
	}
}
