package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

const ctxAgent = "agent_id"

// requireAgent checks the bearer token (or access_token query parameter, for EventSource,
// which cannot set headers) and that the agent still has a session.
func (a *API) requireAgent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := strings.TrimPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if tok == "" {
			tok = c.QueryParam("access_token")
		}
		if tok == "" {
			return newAPIError(http.StatusUnauthorized, "unauthenticated", "missing bearer token; log in first", "Authorization")
		}
		claims, err := a.tokens.verify(tok)
		if err != nil {
			return newAPIError(http.StatusUnauthorized, "unauthenticated", err.Error()+"; log in again", "Authorization")
		}
		if _, err := a.svc.Session(c.Request().Context(), claims.Agent); err != nil {
			if errors.Is(err, bridge.ErrNotLoggedIn) {
				return newAPIError(http.StatusUnauthorized, "not_logged_in", "your media-bar session has ended; log in again", "Authorization")
			}
			return err
		}
		c.Set(ctxAgent, claims.Agent)
		return next(c)
	}
}

func agentOf(c echo.Context) string { s, _ := c.Get(ctxAgent).(string); return s }

// decodeJSON reads a small JSON body strictly.
func decodeJSON(c echo.Context, v any) error { return decodeBody(c, v, false) }

// decodeOptionalJSON is decodeJSON for a body that may be empty (whatever the framing:
// Content-Length 0 or an empty chunked body).
func decodeOptionalJSON(c echo.Context, v any) error { return decodeBody(c, v, true) }

func decodeBody(c echo.Context, v any, optional bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		err = nothingAfter(dec)
	}
	var tooBig *http.MaxBytesError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil, optional && errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return newAPIError(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds "+strconv.Itoa(maxRequestBody)+" bytes", "body")
	case errors.As(err, &te) && te.Field != "":
		return newAPIError(http.StatusBadRequest, "malformed", "wrong type: want "+te.Type.String(), te.Field)
	case errors.As(err, &te): // the body itself is not an object
		return newAPIError(http.StatusBadRequest, "malformed", "the body must be a JSON object", "body")
	}
	return newAPIError(http.StatusBadRequest, "malformed", "invalid JSON body: "+err.Error(), "body")
}

// nothingAfter refuses a body with more than white space after its JSON value (a second
// object, stray bytes), rather than ignoring the rest.
func nothingAfter(dec *json.Decoder) error {
	_, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return errors.New("data after the JSON value")
	}
	return err
}

// maxRequestBody bounds a media-bar request body.
const maxRequestBody = 16 << 10

// LoginRequest binds the agent's three identities.
type LoginRequest struct {
	AgentID          string `json:"agentId"`
	Site             string `json:"site"`
	CRMAccountID     string `json:"crmAccountId"`
	CRMChatSessionID string `json:"crmChatSessionId"`
}

// LoginResponse carries the agent-scoped token.
type LoginResponse struct {
	Token     string              `json:"token"`
	ExpiresAt time.Time           `json:"expiresAt"`
	Session   bridge.AgentSession `json:"session"`
}

func (a *API) handleLogin() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req LoginRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		for _, f := range []struct{ name, v string }{{"agentId", req.AgentID}, {"site", req.Site}, {"crmAccountId", req.CRMAccountID}, {"crmChatSessionId", req.CRMChatSessionID}} {
			if f.v == "" {
				return newAPIError(http.StatusBadRequest, "malformed", "required", f.name)
			}
			if len(f.v) > 128 || strings.ContainsAny(f.v, "\r\n\x00") {
				return newAPIError(http.StatusBadRequest, "malformed", "must be at most 128 bytes without control characters", f.name)
			}
		}
		sess, err := a.svc.Login(c.Request().Context(), bridge.Login{AgentID: req.AgentID, Site: req.Site, CRMAccountID: req.CRMAccountID, CRMChatSessionID: req.CRMChatSessionID})
		if errors.Is(err, bridge.ErrUnknownSite) {
			return newAPIError(http.StatusUnprocessableEntity, "unknown_site", "site is not configured on this bridge", "site")
		}
		if err != nil {
			return err
		}
		tok, exp := a.tokens.issue(req.AgentID, req.Site)
		return c.JSON(http.StatusOK, LoginResponse{Token: tok, ExpiresAt: exp, Session: sess})
	}
}

func (a *API) handleLogout() echo.HandlerFunc {
	return func(c echo.Context) error {
		open, err := a.svc.Logout(c.Request().Context(), agentOf(c))
		if errors.Is(err, bridge.ErrOpenInteractions) {
			return &apiError{status: http.StatusConflict, body: ErrorBody{Error: "open_interactions",
				Message: "finish (complete) your open interactions before logging out", Interactions: open}}
		}
		if err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// MeResponse is the agent's status.
type MeResponse struct {
	Session      bridge.AgentSession   `json:"session"`
	WorkState    bridge.WorkState      `json:"work_state"`
	Interactions []*bridge.Interaction `json:"interactions"`
}

func (a *API) handleMe() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		sess, err := a.svc.Session(ctx, agentOf(c))
		if err != nil {
			return err
		}
		legs, err := a.svc.Interactions(ctx, agentOf(c))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, MeResponse{Session: sess, WorkState: bridge.WorkStateOf(sess, legs), Interactions: nonNil(legs)})
	}
}

func nonNil(legs []*bridge.Interaction) []*bridge.Interaction {
	if legs == nil {
		return []*bridge.Interaction{}
	}
	return legs
}

func (a *API) handleInteractions() echo.HandlerFunc {
	return func(c echo.Context) error {
		legs, err := a.svc.Interactions(c.Request().Context(), agentOf(c))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"interactions": nonNil(legs)})
	}
}

func (a *API) handleInteraction() echo.HandlerFunc {
	return func(c echo.Context) error {
		leg, err := a.svc.AgentLeg(c.Request().Context(), agentOf(c), c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, leg)
	}
}

func (a *API) handleAgentTimeline() echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if _, err := a.svc.AgentLeg(ctx, agentOf(c), c.Param("id")); err != nil {
			return err
		}
		tl, err := a.svc.Timeline(ctx, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"interaction_id": c.Param("id"), "timeline": tl})
	}
}

// CompleteRequest completes with an optional disposition.
type CompleteRequest struct {
	Disposition string `json:"disposition"`
}

func (a *API) handleComplete() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req CompleteRequest
		if err := decodeOptionalJSON(c, &req); err != nil {
			return err
		}
		leg, err := a.svc.Complete(c.Request().Context(), agentOf(c), c.Param("id"), req.Disposition)
		switch {
		case errors.Is(err, bridge.ErrDispositionRequired):
			return newAPIError(http.StatusUnprocessableEntity, "disposition_required", "this queue requires a disposition: choose one, then Complete", "disposition")
		case errors.Is(err, bridge.ErrUnknownDisposition):
			return newAPIError(http.StatusUnprocessableEntity, "unknown_disposition", err.Error(), "disposition")
		case err != nil:
			return err
		}
		return c.JSON(http.StatusOK, leg)
	}
}

// TransferRequest hands the agent's active chat on: type transfer, conference or consult, to
// exactly one of an agent or a queue.
type TransferRequest struct {
	Type          string `json:"type"`
	TargetAgentID string `json:"targetAgentId,omitempty"`
	TargetQueueID string `json:"targetQueueId,omitempty"`
}

// handleTransfer answers 202: the ACD is asked through the durable outbox, and the second
// agent's leg arrives as interaction.routed; a refusal by the ACD comes as transfer.failed.
func (a *API) handleTransfer() echo.HandlerFunc {
	return func(c echo.Context) error {
		var req TransferRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		leg, err := a.svc.Transfer(c.Request().Context(), agentOf(c), c.Param("id"), bridge.TransferRequest{
			RouteType: bridge.RouteType(req.Type), TargetAgentID: req.TargetAgentID, TargetQueueID: req.TargetQueueID})
		var re *bridge.RequestError
		switch {
		case errors.As(err, &re):
			return newAPIError(http.StatusUnprocessableEntity, "invalid", re.Reason, re.Field)
		case errors.Is(err, bridge.ErrNotTransferable):
			return newAPIError(http.StatusConflict, "not_transferable", err.Error(), "")
		case err != nil:
			return err
		}
		return c.JSON(http.StatusAccepted, leg)
	}
}

// handleOfferAnswer is Accept or Decline: the CRM is asked on the agent's behalf, and the
// leg is answered as it stands after the CRM's answer.
func (a *API) handleOfferAnswer(answer func(ctx context.Context, agentID, interactionID string) (*bridge.Interaction, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := decodeOptionalJSON(c, &struct{}{}); err != nil {
			return err
		}
		leg, err := answer(c.Request().Context(), agentOf(c), c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, leg)
	}
}

func (a *API) handleDispositions() echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := a.svc.Session(c.Request().Context(), agentOf(c))
		if err != nil {
			return err
		}
		qid := c.QueryParam("queue")
		if qid == "" {
			return newAPIError(http.StatusBadRequest, "malformed", "required", "queue")
		}
		q, ok := a.svc.Queue(sess.Site, qid)
		if !ok {
			return newAPIError(http.StatusNotFound, "not_found", "no such queue on your site", "queue")
		}
		return c.JSON(http.StatusOK, map[string]any{"queue": qid, "required": q.DispositionRequired,
			"dispositions": append([]string{}, q.Dispositions...), "default": q.DefaultDisposition})
	}
}

// requireAdmin checks the admin bearer token in constant time.
func (a *API) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := strings.TrimPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if a.opts.AdminToken == "" || !constantTimeEqual(tok, a.opts.AdminToken) {
			return newAPIError(http.StatusUnauthorized, "unauthenticated", "admin token required", "Authorization")
		}
		return next(c)
	}
}

func (a *API) handleTimeline() echo.HandlerFunc {
	return func(c echo.Context) error {
		tl, err := a.svc.Timeline(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		if len(tl) == 0 {
			return newAPIError(http.StatusNotFound, "not_found", "no timeline for this interaction", "id")
		}
		return c.JSON(http.StatusOK, map[string]any{"interaction_id": c.Param("id"), "timeline": tl})
	}
}

// withRouting passes ?routing_id= to the core: it names the leg when the agent holds more
// than one of the interaction (a failed pop awaiting Complete, and the same chat routed back
// to it), so an action meant for one never lands on the other. Without it the core takes the
// agent's newest open leg.
func withRouting(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := c.QueryParam("routing_id")
		if len(rid) > maxRoutingIDLen || strings.IndexFunc(rid, unicode.IsControl) >= 0 {
			return newAPIError(http.StatusBadRequest, "malformed", fmt.Sprintf("not a routing id (at most %d characters, no control characters)", maxRoutingIDLen), "routing_id")
		}
		if rid != "" {
			r := c.Request()
			c.SetRequest(r.WithContext(bridge.ForRouting(r.Context(), rid)))
		}
		return next(c)
	}
}

const maxRoutingIDLen = 256
