// Package crmtest is the acceptance suite every CRM adapter must pass (STYLE.md: "One
// acceptance suite every CRM adapter must pass"). It runs the adapter against the mock CRM
// (adapters/crmmock) on a real HTTP server, on a fresh mock and adapter per case, and
// checks the port's contract (bridge.CRM) as the core relies on it:
//
//   - whenever the CRM answered, its result code comes back verbatim with a nil error,
//     business rejections included, and the breaker stays closed;
//   - transient failures (5xx) are retried within the call, and a pop is never evaluated
//     twice, whatever is lost or times out on the way;
//   - no usable answer is an error wrapping bridge.ErrUnavailable, bounded by the pop
//     budget; an open breaker fails without sending (bridge.ErrBreakerOpen) and recovers;
//   - the caller's own cancellation is ctx.Err(), not ErrUnavailable, and never trips the
//     breaker;
//   - a reply that cannot be read is bridge.ErrMalformedReply;
//   - an adapter that lists waiting chats (bridge.ChatLister, needed for intake) lists
//     exactly the chats still waiting in the queue;
//   - a second leg (RouteRequest.RouteType transfer, conference, consult) reaches the CRM
//     as such, and Engagement lists the chat's participants;
//   - an offer response (RespondOffer, accept or decline) comes back as the CRM's code
//     verbatim (SUCCESS, DECLINE_NOT_ALLOWED, NO_PENDING_OFFER) with a nil error, is
//     retried on failure under its transaction id and applied by the CRM exactly once, and
//     fails like every other call when there is no usable answer.
//
// Use it from the adapter's package:
//
//	func TestAcceptance(t *testing.T) {
//		crmtest.Run(t, crmtest.Target{Name: "oracle", New: newForAcceptance})
//	}
//
// The suite asserts behaviour by counting requests and evaluations at the mock, never by
// timing; its only real waits are the breaker's open period (Timings.BreakerOpenFor) and
// the few milliseconds before a cancellation.
package crmtest

import (
	"testing"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The mock's identity: the adapter under test is configured for this site, with these
// credentials (the Oracle-like login, or the generic API key).
const (
	Site     = "acme"
	User     = "bridge"
	Password = "bridge-pw"
	APIKey   = "acme-api-key"
)

// Timings are the small numbers the suite runs an adapter with; Target.New must configure
// the adapter with every one of them.
type Timings struct {
	CallTimeout            time.Duration // one HTTP attempt
	PopBudget              time.Duration // one whole RouteChat
	Retries                int           // repeats after a transient failure
	BackoffMin, BackoffMax time.Duration
	BreakerFailures        uint32        // consecutive failures that open the breaker
	BreakerOpenFor         time.Duration // before the breaker lets a probe through
	PollWait               time.Duration // the events long-poll's wait
}

// DefaultTimings are what Run uses.
var DefaultTimings = Timings{
	CallTimeout:     200 * time.Millisecond,
	PopBudget:       1500 * time.Millisecond,
	Retries:         2,
	BackoffMin:      time.Millisecond,
	BackoffMax:      5 * time.Millisecond,
	BreakerFailures: 3,
	BreakerOpenFor:  150 * time.Millisecond,
	PollWait:        100 * time.Millisecond,
}

// Target is one CRM adapter under test.
type Target struct {
	Name string
	// New builds the adapter for Site at baseURL (the mock's HTTP server), configured with
	// the credentials above and every number in timings, and registers its own cleanup. The
	// adapter must also report its breakers (BreakerReporter).
	New func(t testing.TB, mock *crmmock.Server, baseURL string, timings Timings) bridge.CRM
}

// BreakerReporter is how the suite reads an adapter's breakers (the ops readiness report
// needs the same): each upstream host's state, "closed", "half-open" or "open".
type BreakerReporter interface {
	BreakerStates() map[string]string
}

// Run runs every acceptance case against target, each on a fresh mock and adapter.
func Run(t *testing.T, target Target) {
	t.Helper()
	if target.New == nil {
		t.Fatalf("crmtest.Run(%q): Target.New is nil", target.Name)
	}
	cases := []struct {
		name string
		run  func(t *testing.T, target Target)
	}{
		{"success", testSuccess},
		{"business codes verbatim", testCodesVerbatim},
		{"reads verbatim", testReadsVerbatim},
		{"5xx then success", testServerErrorsRetried},
		{"4xx rejected", testClientErrorsRejected},
		{"hang ends in the budget", testHangEndsInBudget},
		{"lost answer resolved", testLostAnswerResolved},
		{"open breaker fails fast and recovers", testOpenBreaker},
		{"cancellation is the caller's", testCancellation},
		{"malformed reply", testMalformedReply},
		{"poll timeout marker", testPollTimeoutMarker},
		{"unconfigured site", testUnconfiguredSite},
		{"waiting chats for intake", testWaitingChats},
		{"a second leg joins an active chat", testSecondLeg},
		{"accept an offer", testAcceptOffer},
		{"decline an offer", testDeclineOffer},
		{"no pending offer", testNoPendingOffer},
		{"offer response retried under its transaction id", testRespondRetried},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, target) })
	}
}
