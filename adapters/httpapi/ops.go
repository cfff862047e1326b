package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

func (a *API) handleLivez() echo.HandlerFunc {
	return func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) }
}

// ReadyzResponse reports dependencies. Only the store decides readiness: a CRM or ACD outage
// is reported (breaker state) but the bridge still takes webhooks and requeues.
type ReadyzResponse struct {
	Status   string            `json:"status"`
	Redis    string            `json:"redis"`
	Breakers map[string]string `json:"breakers,omitempty"`
}

func (a *API) handleReadyz() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		resp := ReadyzResponse{Status: "ready", Redis: "ok", Breakers: a.ready.Breakers()}
		if err := a.ready.Ping(ctx); err != nil {
			resp.Status, resp.Redis = "not_ready", "unreachable: "+err.Error()
			return c.JSON(http.StatusServiceUnavailable, resp)
		}
		return c.JSON(http.StatusOK, resp)
	}
}

func (a *API) handleVersion() echo.HandlerFunc {
	return func(c echo.Context) error {
		v := map[string]string{"version": a.opts.Version}
		if bi, ok := debug.ReadBuildInfo(); ok {
			v["go"] = bi.GoVersion
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v["revision"] = s.Value
				}
			}
		}
		return c.JSON(http.StatusOK, v)
	}
}

// requestLog logs one line per request, never headers (tokens, signatures).
func (a *API) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if c.Path() == "/v1/mediabar/events" {
			return err // long-lived; logged by its own handler
		}
		a.log.LogAttrs(c.Request().Context(), slog.LevelDebug, "http request",
			slog.String("method", c.Request().Method), slog.String("route", c.Path()),
			slog.Int("status", c.Response().Status), slog.Duration("took", time.Since(start)))
		return err
	}
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
