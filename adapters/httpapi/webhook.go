package httpapi

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// webhookAnswer is the 2xx body for the ACD.
type webhookAnswer struct {
	Status    string `json:"status"` // accepted | duplicate | ignored
	Reason    string `json:"reason,omitempty"`
	Duplicate bool   `json:"duplicate_event,omitempty"`
	// deliveryRecorded: the webhook id was recorded with what it applied (Delivered is
	// not needed).
	deliveryRecorded bool
}

// handleACDEvent verifies (on the raw body, before parsing), parses, applies, and only then
// records the event id: applying is idempotent, so a delivery that failed half-way is safely
// retried by the ACD, while a repeat of a finished one is answered as a duplicate.
func (a *API) handleACDEvent() echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		typ, result := "unknown", ""
		defer func() { a.observeWebhook(typ, result, err) }()
		req := c.Request()
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, a.opts.MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return newAPIError(http.StatusRequestEntityTooLarge, "body_too_large", "webhook body exceeds the limit", "body")
			}
			return newAPIError(http.StatusBadRequest, "body_unreadable", "could not read the body", "body")
		}
		id := req.Header.Get(acdapi.HeaderID)
		if err := a.verifier.Verify(id, req.Header.Get(acdapi.HeaderTimestamp), req.Header.Get(acdapi.HeaderSignature), body); err != nil {
			return newAPIError(http.StatusUnauthorized, "invalid_signature", err.Error(), "webhook-signature")
		}
		if len(id) > 256 {
			return newAPIError(http.StatusBadRequest, "malformed", "webhook-id is longer than 256 bytes", "webhook-id")
		}
		if strings.ContainsFunc(id, unicode.IsControl) {
			// The id reaches the timeline and the logs: no control characters, as for the
			// body's ids.
			return newAPIError(http.StatusBadRequest, "malformed", "webhook-id contains control characters", "webhook-id")
		}
		ev, err := acdapi.Parse(body)
		if err != nil {
			var fe *acdapi.FieldError
			if errors.As(err, &fe) && errors.Is(err, acdapi.ErrInvalid) {
				return newAPIError(http.StatusUnprocessableEntity, "invalid", fe.Reason, fe.Field)
			}
			if errors.As(err, &fe) {
				return newAPIError(http.StatusBadRequest, "malformed", fe.Reason, fe.Field)
			}
			return newAPIError(http.StatusBadRequest, "malformed", err.Error(), "body")
		}
		typ = ev.Type
		ans, err := a.applyEvent(c, id, ev)
		if err != nil {
			return err
		}
		first := true
		if !ans.deliveryRecorded { // a new routing recorded its webhook id with its leg
			if first, err = a.svc.Delivered(req.Context(), id); err != nil {
				a.log.Warn("record webhook id", "webhook_id", id, "err", err) // applied already; dedupe is best effort here
			}
		}
		ans.Duplicate = err == nil && !first
		status := http.StatusAccepted
		if ans.Status != "accepted" {
			status = http.StatusOK
		}
		result = ans.Status
		if ans.Duplicate {
			result = "duplicate"
		}
		return c.JSON(status, ans)
	}
}

// observeWebhook reports one delivery's result: the answer's status when it was applied,
// else the error's code (invalid_signature, malformed, invalid, body_too_large, ...).
func (a *API) observeWebhook(typ, result string, err error) {
	if a.opts.WebhookObserver == nil {
		return
	}
	if err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			result = ae.body.Error
		case errors.Is(err, bridge.ErrStoreUnavailable):
			result = "unavailable"
		default:
			result = "error"
		}
	}
	a.opts.WebhookObserver(typ, result)
}

func (a *API) applyEvent(c echo.Context, eventID string, ev acdapi.Event) (webhookAnswer, error) {
	ctx := c.Request().Context()
	switch ev.Type {
	case acdapi.TypeRouted:
		r := ev.Routed
		out, err := a.svc.Routed(ctx, bridge.Routed{
			EventID: eventID, InteractionID: r.InteractionID, RoutingID: r.RoutingID, ChatID: r.ChatID,
			Site: r.Site, QueueID: r.QueueID, QueueName: r.QueueName, AgentID: r.AgentID,
			CRMAccountID: r.CRMAccountID, RouteType: bridge.RouteType(r.RouteType), FromRoutingID: r.FromRoutingID,
			DeliveryID: eventID,
		})
		if errors.Is(err, bridge.ErrUnknownSite) {
			return webhookAnswer{}, newAPIError(http.StatusUnprocessableEntity, "invalid", "site is not configured on this bridge", "data.site")
		}
		if err != nil {
			return webhookAnswer{}, err
		}
		if out.Duplicate {
			return webhookAnswer{Status: "duplicate", Reason: "routing " + out.Key.String() + " already recorded"}, nil
		}
		return webhookAnswer{Status: "accepted", deliveryRecorded: out.DeliveryRecorded}, nil
	case acdapi.TypeRevoked:
		r := ev.Revoked
		_, err := a.svc.Revoke(ctx, r.InteractionID, r.RoutingID, r.AgentID, r.Reason)
		return answerFor(err)
	case acdapi.TypeAbandoned:
		r := ev.Abandoned
		_, err := a.svc.Abandon(ctx, r.InteractionID, r.RoutingID, r.AgentID, r.Stage)
		return answerFor(err)
	default: // agent.state_changed: shown on the agent's diagnostics
		r := ev.AgentChanged
		err := a.svc.ACDAgentState(ctx, r.AgentID, r.State == "ready", r.Reason, ev.Timestamp)
		if errors.Is(err, bridge.ErrNotFound) {
			return webhookAnswer{Status: "ignored", Reason: "agent is not logged in to the media bar"}, nil
		}
		return answerFor(err)
	}
}

// answerFor turns the result of revoke/abandon into the ACD's answer: an event about a leg the
// bridge does not have is acknowledged (retrying cannot help) and says so.
func answerFor(err error) (webhookAnswer, error) {
	if errors.Is(err, bridge.ErrNotFound) {
		return webhookAnswer{Status: "ignored", Reason: "no such interaction leg on this bridge"}, nil
	}
	if err != nil {
		// The input was valid; the state could not be read or written. 503 tells the ACD to
		// retry, as for a routed event.
		return webhookAnswer{}, errors.Join(bridge.ErrStoreUnavailable, err)
	}
	return webhookAnswer{Status: "accepted"}, nil
}
