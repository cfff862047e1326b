// Package crmcode is what the CRM adapters (oracle, webhookcrm) share about a CRM result
// code that comes back as an error.
package crmcode

import (
	"fmt"

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
