package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleDiagnostics answers "why am I not getting chats?" for the calling agent.
func (a *API) handleDiagnostics() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		d, err := a.svc.Diagnose(ctx, agentOf(c))
		if err != nil {
			return err
		}
		if set := a.sseSettings(); set.presence != nil {
			// Stream health is a nice-to-have: a store hiccup leaves it out, not the answer.
			if h, err := set.presence.store.StreamHealth(ctx, agentOf(c), set.presence.ttl); err == nil {
				d.WithStream(h)
			}
		}
		return c.JSON(http.StatusOK, d)
	}
}

// handleTokenRefresh gives a logged-in agent a fresh token (same agent, new expiry), so a
// media bar open all shift never has to log in again while its session lives.
func (a *API) handleTokenRefresh() echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := decodeOptionalJSON(c, &struct{}{}); err != nil {
			return err
		}
		sess, err := a.svc.Session(c.Request().Context(), agentOf(c))
		if err != nil {
			return err
		}
		tok, exp := a.tokens.issue(sess.AgentID, sess.Site)
		return c.JSON(http.StatusOK, LoginResponse{Token: tok, ExpiresAt: exp, Session: sess})
	}
}
