package acdmock

import (
	"cmp"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// bindJSON strictly decodes the request body into v.
func bindJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return fail(ErrBadRequest, "body", "unreadable: "+err.Error())
	}
	return decodeRequest(body, v)
}

func (s *Server) handleReset() echo.HandlerFunc {
	return func(c echo.Context) error {
		s.Reset()
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleAddQueue() echo.HandlerFunc {
	return func(c echo.Context) error {
		var q Queue
		if err := bindJSON(c, &q); err != nil {
			return err
		}
		if err := s.AddQueue(q); err != nil {
			return err
		}
		q.Strategy = cmp.Or(q.Strategy, StrategyLongestIdle)
		return c.JSON(http.StatusCreated, q)
	}
}

func (s *Server) handleAddAgent() echo.HandlerFunc {
	return func(c echo.Context) error {
		var a Agent
		if err := bindJSON(c, &a); err != nil {
			return err
		}
		if err := s.AddAgent(a); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, a)
	}
}

func (s *Server) handleAgent() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, ok := s.Agent(c.Param("id"))
		if !ok {
			return fail(ErrNotFound, "id", "no agent "+c.Param("id"))
		}
		return c.JSON(http.StatusOK, v)
	}
}

func (s *Server) handleSetReady() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req readyRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		if err := s.SetAgentReady(c.Param("id"), req.Ready, req.Reason); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleControlCreate() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		var id string
		err := s.apply(c.Request().Context(), func(w *world) (err error) {
			id, err = w.create(req)
			return err
		})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, createResponse{InteractionID: id})
	}
}

func (s *Server) handleInteraction() echo.HandlerFunc {
	return func(c echo.Context) error {
		v, ok := s.Interaction(c.Param("id"))
		if !ok {
			return fail(ErrNotFound, "id", "no interaction "+c.Param("id"))
		}
		return c.JSON(http.StatusOK, v)
	}
}

func (s *Server) handleRouteTo() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req routeToRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		id, err := s.RouteTo(c.Request().Context(), c.Param("id"), req.AgentID, req.RouteType)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, routeToResponse{RoutingID: id})
	}
}

func (s *Server) handleRevoke() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req struct{}
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		if err := s.Revoke(c.Request().Context(), c.Param("id")); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleAbandon() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req abandonRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		if err := s.Abandon(c.Request().Context(), c.Param("id"), req.Stage); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleControlAccept() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req controlAcceptRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		if err := s.Accept(c.Request().Context(), c.Param("id"), req.RoutingID); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleAdvance() echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
		if err != nil {
			return fail(ErrBadRequest, "body", "unreadable: "+err.Error())
		}
		d, err := decodeAdvance(body)
		if err != nil {
			return err
		}
		if err := s.Advance(c.Request().Context(), d); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, advanceResponse{Now: s.Now().UTC()})
	}
}

func (s *Server) handleSetDown() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req downRequest
		if err := bindJSON(c, &req); err != nil {
			return err
		}
		s.SetDown(req.Down)
		return c.NoContent(http.StatusNoContent)
	}
}

func (s *Server) handleCalls() echo.HandlerFunc {
	return func(c echo.Context) error { return c.JSON(http.StatusOK, s.Calls()) }
}

func (s *Server) handleApplied() echo.HandlerFunc {
	return func(c echo.Context) error {
		kind, id := c.QueryParam("kind"), c.QueryParam("id")
		if err := required(field{"kind", kind}, field{"id", id}); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, appliedResponse{Count: s.Applied(kind, id)})
	}
}

func (s *Server) handleWebhooks() echo.HandlerFunc {
	return func(c echo.Context) error { return c.JSON(http.StatusOK, s.Webhooks()) }
}

func (s *Server) handleFlush() echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.Flush(c.Request().Context()); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}
