package oracle_test

import (
	"testing"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmtest"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The adapter passes the acceptance suite every CRM adapter must pass.
func TestAcceptance(t *testing.T) {
	crmtest.Run(t, crmtest.Target{
		Name: "oracle",
		New: func(t testing.TB, _ *crmmock.Server, baseURL string, tm crmtest.Timings) bridge.CRM {
			c, err := oracle.New(oracle.Config{
				Sites: map[string]oracle.Site{
					crmtest.Site: {BaseURL: baseURL, UserName: crmtest.User, Password: crmtest.Password, AppID: "acceptance"},
				},
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
			if err != nil {
				t.Fatalf("oracle.New: %v", err)
			}
			t.Cleanup(c.Close)
			return c
		},
	})
}
