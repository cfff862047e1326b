package webhookcrm_test

import (
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmtest"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/webhookcrm"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

var _ bridge.CRM = (*webhookcrm.Client)(nil)

// The adapter passes the acceptance suite every CRM adapter must pass.
func TestAcceptance(t *testing.T) {
	crmtest.Run(t, crmtest.Target{
		Name: "webhookcrm",
		New: func(t testing.TB, _ *crmmock.Server, baseURL string, tm crmtest.Timings) bridge.CRM {
			return newClient(t, webhookcrm.Config{
				Sites:              map[string]webhookcrm.Site{crmtest.Site: {BaseURL: baseURL, APIKey: crmtest.APIKey}},
				CallTimeout:        tm.CallTimeout,
				PopBudget:          tm.PopBudget,
				Retries:            tm.Retries,
				BackoffMin:         tm.BackoffMin,
				BackoffMax:         tm.BackoffMax,
				BreakerFailures:    tm.BreakerFailures,
				BreakerOpenFor:     tm.BreakerOpenFor,
				BreakerHalfOpenMax: 1,
				PollWait:           tm.PollWait,
			}, nil)
		},
	})
}
