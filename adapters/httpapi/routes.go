package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Handler is the main port: ACD webhook, media bar, admin.
func (a *API) Handler() http.Handler {
	e := a.newEcho()
	e.Use(a.requestLog)

	e.POST("/v1/acd/events", a.handleACDEvent())

	e.POST("/v1/mediabar/login", a.handleLogin())
	mb := e.Group("/v1/mediabar", a.requireAgent)
	mb.POST("/logout", a.handleLogout())
	mb.GET("/me", a.handleMe())
	mb.GET("/events", a.handleEvents())
	mb.GET("/interactions", a.handleInteractions())
	mb.GET("/interactions/:id", a.handleInteraction(), withRouting)
	mb.GET("/interactions/:id/timeline", a.handleAgentTimeline(), withRouting)
	mb.POST("/interactions/:id/complete", a.handleComplete(), withRouting)
	mb.POST("/interactions/:id/transfer", a.handleTransfer(), withRouting)
	mb.POST("/interactions/:id/accept", a.handleOfferAnswer(a.svc.Accept), withRouting)
	mb.POST("/interactions/:id/decline", a.handleOfferAnswer(a.svc.Decline), withRouting)
	mb.GET("/dispositions", a.handleDispositions())
	mb.GET("/diagnostics", a.handleDiagnostics())
	mb.POST("/token", a.handleTokenRefresh())

	admin := e.Group("/v1", a.requireAdmin)
	admin.GET("/interactions/:id/timeline", a.handleTimeline())
	admin.GET("/reports/outcomes", a.handleOutcomes())
	admin.GET("/acd/dead-letters", a.handleDeadLetters())
	admin.POST("/acd/dead-letters/:id/replay", a.handleReplayDeadLetter())

	a.routeMediabarUI(e)
	a.routeOpenAPI(e)
	return e
}

// OpsHandler is the ops port: health, readiness, metrics, version. No authentication; keep it
// off the public network.
func (a *API) OpsHandler() http.Handler {
	e := a.newEcho()
	e.GET("/livez", a.handleLivez())
	e.GET("/readyz", a.handleReadyz())
	e.GET("/metrics", echo.WrapHandler(a.metrics))
	e.GET("/version", a.handleVersion())
	a.routeOpenAPI(e)
	return e
}
