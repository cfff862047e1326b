package crmmock

import (
	"github.com/labstack/echo/v4"
)

// routes lists every route the mock serves.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = handleError

	// The routing API (ORACLE.md). An empty {site} ("/uq/v1//chatRouted") reaches the
	// handlers, which answer MISSING_SITE_NAME; the POST operations also have a form without
	// the site segment that takes the site from the body's "site" field.
	e.POST("/uq/v1/:site/authenticate", s.api(OpAuthenticate, s.handleAuthenticate))
	e.POST("/uq/v1/authenticate", s.api(OpAuthenticate, s.handleAuthenticate))
	e.POST("/uq/v1/:site/chatRouted", s.api(OpChatRouted, s.handleChatRouted))
	e.POST("/uq/v1/chatRouted", s.api(OpChatRouted, s.handleChatRouted))
	e.GET("/uq/v1/:site/engagements/:chatId", s.api(OpEngagement, s.handleEngagement))
	e.POST("/uq/v1/:site/engagements/:chatId/respond", s.api(OpRespond, s.handleRespondOffer))
	e.GET("/uq/v1/:site/agents/:accountId/session", s.api(OpAgentSession, s.handleAgentSession))
	e.GET("/uq/v1/:site/queues/:queueId/engagements", s.api(OpWaiting, s.handleWaiting))
	e.POST("/uq/v1/:site/events/poll", s.api(OpPoll, s.handlePoll))
	e.POST("/uq/v1/events/poll", s.api(OpPoll, s.handlePoll))

	// The generic webhook facade: the same world and operations (and faults, by op name)
	// under a second, non-Oracle protocol (doc.go, "Generic webhook API").
	e.POST("/crm/v1/sites/:site/routes", s.generic(OpChatRouted, s.handleGenericRoute))
	e.GET("/crm/v1/sites/:site/chats/:chatId", s.generic(OpEngagement, s.handleGenericChat))
	e.POST("/crm/v1/sites/:site/chats/:chatId/responses", s.generic(OpRespond, s.handleGenericResponse))
	e.GET("/crm/v1/sites/:site/agents/:agentId", s.generic(OpAgentSession, s.handleGenericAgent))
	e.GET("/crm/v1/sites/:site/queues/:queueId/waiting", s.generic(OpWaiting, s.handleGenericWaiting))
	e.GET("/crm/v1/sites/:site/events", s.generic(OpPoll, s.handleGenericEvents))

	// The control plane (tests, demo, customers' own test rigs).
	c := e.Group("/control/v1")
	c.POST("/reset", s.handleReset)
	c.GET("/state", s.handleState)
	c.POST("/faults", s.handleInjectFault)
	c.DELETE("/faults", s.handleClearFaults)
	c.POST("/clock/advance", s.handleAdvance)
	c.POST("/sites/:site/queues", s.handleCreateQueue)
	c.POST("/sites/:site/statuses", s.handleAddStatus)
	c.POST("/sites/:site/agents", s.handleCreateAgent)
	c.POST("/sites/:site/agents/:accountId/login", s.handleLogin)
	c.POST("/sites/:site/agents/:accountId/logout", s.handleLogout)
	c.POST("/sites/:site/agents/:accountId/heartbeat", s.handleHeartbeat)
	c.PUT("/sites/:site/agents/:accountId/status", s.handleSetStatus)
	c.PUT("/sites/:site/agents/:accountId/presence", s.handleSetPresence)
	c.POST("/sites/:site/chats", s.handleCreateChat)
	c.POST("/sites/:site/chats/:chatId/customer-heartbeat", s.handleCustomerHeartbeat)
	c.POST("/sites/:site/chats/:chatId/respond", s.handleRespond)
	c.POST("/sites/:site/chats/:chatId/abandon", s.handleAbandon)
	c.POST("/sites/:site/chats/:chatId/conclude", s.handleConclude)
	return e
}
