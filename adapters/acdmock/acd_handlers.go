package acdmock

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) handleCreate() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req createRequest
		return s.serveACD(c, KindCreate, &req,
			func(call *Call) { call.ChatID, call.Site, call.QueueID = req.ChatID, req.Site, req.QueueID },
			func(w *world, call *Call) (int, any, error) {
				id, err := w.create(req)
				call.InteractionID = id
				return http.StatusCreated, createResponse{InteractionID: id}, err
			})
	}
}

func (s *Server) handleRequeue() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req requeueRequest
		id := c.Param("id")
		return s.serveACD(c, KindRequeue, &req,
			func(call *Call) {
				call.InteractionID, call.RoutingID, call.AgentID, call.Reason = id, req.RoutingID, req.AgentID, req.ReasonCode
				call.TargetQueueID = req.TargetQueueID
			},
			func(w *world, call *Call) (int, any, error) {
				resp, err := w.requeue(id, req)
				call.RoutingID = cmp.Or(resp.RoutingID, call.RoutingID)
				return http.StatusOK, resp, err
			})
	}
}

func (s *Server) handleComplete() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req completeRequest
		id := c.Param("id")
		return s.serveACD(c, KindComplete, &req,
			func(call *Call) {
				call.InteractionID, call.RoutingID, call.AgentID, call.Disposition = id, req.RoutingID, req.AgentID, req.Disposition
			},
			func(w *world, call *Call) (int, any, error) {
				resp, err := w.complete(id, req)
				call.RoutingID = cmp.Or(resp.RoutingID, call.RoutingID)
				return http.StatusOK, resp, err
			})
	}
}

func (s *Server) handleRoute() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req routeRequest
		id := c.Param("id")
		return s.serveACD(c, KindRoute, &req,
			func(call *Call) {
				call.InteractionID, call.RoutingID, call.AgentID, call.RouteType = id, req.RoutingID, req.FromAgentID, req.RouteType
				call.TargetAgentID, call.TargetQueueID = req.TargetAgentID, req.TargetQueueID
			},
			func(w *world, call *Call) (int, any, error) {
				resp, from, err := w.route(id, req)
				call.RoutingID = cmp.Or(from, call.RoutingID) // the asking leg, when the request left it out
				return http.StatusAccepted, resp, err
			})
	}
}

func (s *Server) handleAccept() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req acceptRequest
		id := c.Param("id")
		return s.serveACD(c, KindAccept, &req,
			func(call *Call) { call.InteractionID, call.RoutingID, call.AgentID = id, req.RoutingID, req.AgentID },
			func(w *world, call *Call) (int, any, error) {
				resp, err := w.accept(id, req)
				call.RoutingID = cmp.Or(resp.RoutingID, call.RoutingID)
				return http.StatusOK, resp, err
			})
	}
}

func (s *Server) handleAgentState() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req stateRequest
		id := c.Param("id")
		return s.serveACD(c, KindAgentState, &req,
			func(call *Call) { call.AgentID, call.State, call.Reason = id, req.State, req.Reason },
			func(w *world, _ *Call) (int, any, error) {
				resp, err := w.agentState(id, req)
				return http.StatusOK, resp, err
			})
	}
}

// serveACD is the common path of every /acd/v1 call: decode, record, refuse while down,
// require and honour the Idempotency-Key, apply, store the reply for the key. Replies to
// input that never reached apply (400s) are not stored, so a corrected retry with the same
// key is applied (as Stripe does); 5xx are never stored.
func (s *Server) serveACD(c echo.Context, kind string, req any, describe func(*Call), apply func(*world, *Call) (int, any, error)) error {
	body, readErr := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	decodeErr := readErr
	if decodeErr == nil {
		decodeErr = decodeRequest(body, req)
	} else {
		decodeErr = fail(ErrBadRequest, "body", "unreadable: "+readErr.Error())
	}
	key := c.Request().Header.Get(HeaderIdempotencyKey)
	route := c.Request().Method + " " + c.Request().URL.Path

	s.lock()
	call := Call{Kind: kind, IdempotencyKey: key, At: s.nowLocked()}
	describe(&call)
	status, reply, stored := s.answerLocked(key, route, decodeErr, &call, apply)
	call.Status = status
	if stored && status < 500 {
		s.replies[key] = storedReply{route: route, status: status, body: reply, interactionID: call.InteractionID}
	}
	s.calls = append(s.calls, call)
	s.unlock()
	return c.JSONBlob(status, reply)
}

// answerLocked decides one call's reply; stored reports whether it may be kept for the key.
func (s *Server) answerLocked(key, route string, decodeErr error, call *Call, apply func(*world, *Call) (int, any, error)) (status int, body []byte, stored bool) {
	errReply := func(err error) (int, []byte, bool) {
		st, eb := replyOf(err)
		b, _ := json.Marshal(eb)
		return st, b, false
	}
	switch {
	case s.down:
		return errReply(fail(ErrDown, "", "ACD unavailable (simulated outage)"))
	case decodeErr != nil:
		return errReply(decodeErr)
	case key == "":
		return errReply(fail(ErrBadRequest, HeaderIdempotencyKey, "required"))
	case len(key) > maxKeyLen:
		return errReply(fail(ErrInvalid, HeaderIdempotencyKey, fmt.Sprintf("longer than %d bytes", maxKeyLen)))
	}
	if prev, ok := s.replies[key]; ok {
		if prev.route != route {
			return errReply(fail(ErrInvalid, HeaderIdempotencyKey, fmt.Sprintf("already used for %s", prev.route)))
		}
		if call.InteractionID == "" {
			call.InteractionID = prev.interactionID
		}
		return prev.status, prev.body, false
	}
	okStatus, resp, err := apply(s.world, call)
	if err != nil {
		st, b, _ := errReply(err)
		// Input errors are not stored; answers about the ACD's state are.
		return st, b, st != http.StatusBadRequest
	}
	call.Applied = true
	b, err := json.Marshal(resp)
	if err != nil {
		return errReply(err)
	}
	return okStatus, b, true
}
