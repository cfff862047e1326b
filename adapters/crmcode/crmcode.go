// Package crmcode is what the CRM adapters (oracle, webhookcrm) share, whatever their wire
// protocol: the HTTP stack and the reading of a reply into the port's errors (http.go), the
// error for a CRM result code that has no place in a method's return values, and the
// resolution of a route whose answer never arrived.
package crmcode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

// Error is a CRM answer whose result code has no place in the method's return values
// (PollEvents, WaitingChats). Code is verbatim. It wraps bridge.ErrUnavailable for the CRM's
// own failures (UNKNOWN_ERROR, RNW_API_EXCEPTION) and bridge.ErrRejected for every other code.
type Error struct {
	// Adapter names the adapter that got the answer ("oracle", "webhookcrm").
	Adapter string
	// Op is the call, Site the CRM site, Code the result code as the CRM sent it.
	Op, Site, Code string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s site %s: result code %s", e.Adapter, e.Op, e.Site, e.Code)
}

func (e *Error) Unwrap() error {
	switch bridgeerr.Code(e.Code) {
	case bridgeerr.UnknownError, bridgeerr.RNWAPIException:
		return bridge.ErrUnavailable
	}
	return bridge.ErrRejected
}

// ErrAnsweredError marks a CRM reply with an error status (5xx, 429): the CRM answered, so
// the request it refused was not applied.
var ErrAnsweredError = errors.New("the CRM answered with an error status")

// sentBlind reports whether a failed call may have reached the CRM and been applied: not
// when the breaker stopped it, the connection was never made, or the CRM answered with an
// error status.
func sentBlind(err error) bool {
	if err == nil || !errors.Is(err, bridge.ErrUnavailable) || errors.Is(err, bridge.ErrBreakerOpen) || errors.Is(err, ErrAnsweredError) {
		return false
	}
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}

// OutcomeUnknown: the last call got no usable answer, and trying again may still help (not
// when the breaker is open, nor when the caller's budget is spent).
func OutcomeUnknown(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil &&
		errors.Is(err, bridge.ErrUnavailable) && !errors.Is(err, bridge.ErrBreakerOpen)
}

// ResolveRoute sends a route and, when its outcome is unknown (timeout, dropped connection),
// settles it without ever routing the chat blindly a second time: it reads the chat, and
// only if the chat is not with the agent does it replay the route with the same transaction
// id, which the CRM answers from its first evaluation. It gives up after rounds rounds or
// when ctx (the pop budget) ends, returning the last error.
//
// route must send req once with its TransactionID (no transport-level retry); read must read
// req.ChatID's state.
func ResolveRoute(ctx context.Context, log *slog.Logger, req bridge.RouteRequest, rounds int,
	route func(context.Context) (bridge.RouteResult, error), read func(context.Context) (bridge.Engagement, error)) (bridge.RouteResult, error) {
	res, err := route(ctx)
	blind := sentBlind(err) // a route may have been applied without an answer
	for round := 0; round < rounds && OutcomeUnknown(ctx, err); round++ {
		log.Info("crm route outcome unknown, reading the chat", "site", req.Site, "chat_id", req.ChatID,
			"agent_account_id", req.AgentAccountID, "transaction_id", req.TransactionID, "round", round+1)
		eng, rerr := read(ctx)
		if rerr != nil {
			if !OutcomeUnknown(ctx, rerr) {
				// The read failed for good (the breaker opened, the CRM refused it): that says
				// nothing of the route already sent, so a blind one stays unknown below.
				res, err = bridge.RouteResult{}, fmt.Errorf("resolve route of chat %s: %w", req.ChatID, rerr)
				break
			}
			continue // still blind: do not replay, read again next round
		}
		// The target's own view: the chat's owner for a lead, a participant for a second leg.
		p, in := eng.Participant(req.AgentAccountID)
		if eng.Code == string(bridgeerr.Success) && in &&
			(p.State == bridge.EngagementOffered || p.State == bridge.EngagementActive) {
			// OfferExpiresIn is unknown here: the read does not carry it.
			return bridge.RouteResult{Code: string(bridgeerr.Success), EngagementState: p.State}, nil
		}
		// Not with the agent yet: replay with the same transaction id. The CRM answers a replay
		// from its first evaluation, so this never routes twice. An earlier send may still be
		// in flight at the CRM (it outlived our deadline, not the CRM's), so a read that does not
		// show it yet is no proof it will not land: the outcome stays unknown until a replay
		// gets a real answer.
		res, err = route(ctx)
		blind = blind || sentBlind(err)
	}
	if err != nil && blind {
		// Giving up now must not read as "not routed": the CRM may still offer the chat.
		return res, fmt.Errorf("%w: %w", bridge.ErrOutcomeUnknown, err)
	}
	return res, err
}
