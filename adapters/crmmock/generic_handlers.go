package crmmock

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// The generic webhook facade over HTTP (behaviour and wire types in generic.go). Each
// handler runs the site gate (MISSING_SITE_NAME, UNKNOWN_SITE) and the shared evaluation,
// and answers its verdict as "result" with 200.

// generic wraps a generic-facade handler: counted and faulted under op like the routing API
// (faultable), then the API key is checked.
func (s *Server) generic(op string, h echo.HandlerFunc) echo.HandlerFunc {
	return s.faultable(op, genericCodeField, func(c echo.Context) error {
		if err := s.authorize(c.Request()); err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="crm"`)
			return err
		}
		return h(c)
	})
}

func (s *Server) handleGenericRoute(c echo.Context) error {
	key, data, err := keyedBody(c)
	if err != nil {
		return err
	}
	req, err := decodeGenericRoute(data)
	if err != nil {
		return err
	}
	now := s.begin()
	st, code := s.siteGateLocked(param(c, "site"))
	resp := s.idempotentRouteLocked(st, code, key, chatRoutedRequest{
		ChatID: req.ChatID, AgentAccountID: req.AgentID, QueueID: req.QueueID, TransactionID: key, RouteType: req.RouteType,
	}, now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, genericRoute(resp))
}

// handleGenericResponse answers an offer for the agent under the Idempotency-Key, by
// respond's rules (respond.go).
func (s *Server) handleGenericResponse(c echo.Context) error {
	key, data, err := keyedBody(c)
	if err != nil {
		return err
	}
	req, err := decodeGenericResponse(data)
	if err != nil {
		return err
	}
	now := s.begin()
	st, code := s.siteGateLocked(param(c, "site"))
	resp := s.idempotentRespondLocked(st, code, param(c, "chatId"), key, respondRequest{
		AgentAccountID: req.AgentID, Action: req.Action, TransactionID: key,
	}, now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, genericResponse(resp))
}

func (s *Server) handleGenericChat(c echo.Context) error {
	s.begin()
	var resp engagementResponse
	if st, code := s.siteGateLocked(param(c, "site")); code != "" {
		resp = engagementResponse{ResultCode: code}
	} else {
		resp = engagementOfLocked(st, param(c, "chatId"))
	}
	s.mu.Unlock()
	return c.JSON(http.StatusOK, genericChat(resp))
}

func (s *Server) handleGenericAgent(c echo.Context) error {
	now := s.begin()
	accountID := param(c, "agentId")
	var resp agentSessionResponse
	if st, code := s.siteGateLocked(param(c, "site")); code != "" {
		resp = agentSessionResponse{ResultCode: code}
	} else {
		resp = s.agentSessionOfLocked(st, accountID, now)
	}
	s.mu.Unlock()
	return c.JSON(http.StatusOK, genericAgent(accountID, resp))
}

func (s *Server) handleGenericWaiting(c echo.Context) error {
	now := s.begin()
	var resp waitingResponse
	if st, code := s.siteGateLocked(param(c, "site")); code != "" {
		resp = waitingResponse{ResultCode: code}
	} else {
		resp = waitingOfLocked(st, param(c, "queueId"), StateWaiting, now)
	}
	s.mu.Unlock()
	return c.JSON(http.StatusOK, genericWaiting(resp))
}

// handleGenericEvents long-polls the site's event feed like events/poll: at once when there
// are events after ?after, else the timeout marker after min(?wait, MaxPollWait).
func (s *Server) handleGenericEvents(c echo.Context) error {
	q, err := decodeEventsQuery(c.QueryParam("after"), c.QueryParam("wait"))
	if err != nil {
		return err
	}
	wait := s.opts.MaxPollWait
	if q.Wait != nil && *q.Wait < wait.Seconds() {
		wait = time.Duration(*q.Wait * float64(time.Second))
	}
	siteName := param(c, "site")
	resp, ok := s.longPoll(c.Request().Context(), wait, func(time.Time) (pollResponse, bool) {
		st, code := s.siteGateLocked(siteName)
		if code != "" {
			return pollResponse{ResultCode: code, Events: []Event{}}, true
		}
		return s.pollOfLocked(st, q.After)
	})
	if !ok {
		return nil // the client left
	}
	return c.JSON(http.StatusOK, genericEvents(resp))
}

// keyedBody reads what every keyed generic call starts with: its Idempotency-Key and body.
func keyedBody(c echo.Context) (key string, data []byte, err error) {
	if key, err = decodeIdempotencyKey(c.Request().Header); err != nil {
		return "", nil, err
	}
	if data, err = readBody(c); err != nil {
		return "", nil, asInvalidRequest(err)
	}
	return key, data, nil
}
