package acdmock

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes lists every route the simulator serves.
func (s *Server) routes(e *echo.Echo) {
	// The ACD contract (bridge → ACD). Every call needs an Idempotency-Key.
	acd := e.Group("/acd/v1")
	acd.POST("/interactions", s.handleCreate())
	acd.POST("/interactions/:id/requeue", s.handleRequeue())
	acd.POST("/interactions/:id/complete", s.handleComplete())
	acd.POST("/interactions/:id/route", s.handleRoute())
	acd.POST("/interactions/:id/accept", s.handleAccept())
	acd.PUT("/agents/:id/state", s.handleAgentState())

	// The control API (tests, demos, customers' test rigs).
	ctl := e.Group("/control/v1")
	ctl.POST("/reset", s.handleReset())
	ctl.POST("/queues", s.handleAddQueue())
	ctl.POST("/agents", s.handleAddAgent())
	ctl.GET("/agents/:id", s.handleAgent())
	ctl.PUT("/agents/:id/ready", s.handleSetReady())
	ctl.POST("/interactions", s.handleControlCreate())
	ctl.GET("/interactions/:id", s.handleInteraction())
	ctl.POST("/interactions/:id/route-to", s.handleRouteTo())
	ctl.POST("/interactions/:id/revoke", s.handleRevoke())
	ctl.POST("/interactions/:id/abandon", s.handleAbandon())
	ctl.POST("/interactions/:id/accept", s.handleControlAccept())
	ctl.POST("/clock/advance", s.handleAdvance())
	ctl.PUT("/down", s.handleSetDown())
	ctl.GET("/calls", s.handleCalls())
	ctl.GET("/applied", s.handleApplied())
	ctl.GET("/webhooks", s.handleWebhooks())
	ctl.POST("/flush", s.handleFlush())
}

// errorHandler is the one place errors become responses: {"error", "field"} with the status
// of the error's kind. /acd/v1 replies are built by serveACD instead, because an idempotent
// replay must return the stored bytes.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := replyOf(err)
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, body = he.Code, errorBody{Error: fmt.Sprint(he.Message)}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, body)
}
