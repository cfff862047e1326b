package oracle

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmcode"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/resilient"
)

// Config is everything the adapter needs; zero values take the defaults below.
type Config struct {
	// Sites maps the CRM site name (as it appears in /uq/v1/{site}/...) to its endpoint.
	Sites map[string]Site
	// CallTimeout bounds one HTTP attempt (default 2s).
	CallTimeout time.Duration
	// PopBudget bounds a whole RouteChat, including the resolution after a timeout (default 5s).
	PopBudget time.Duration
	// Retries is how many times an idempotent call is repeated after a transient failure
	// (default 2; a negative value means none).
	Retries int
	// BackoffMin and BackoffMax bound the jittered wait between retries (defaults 50ms, 1s).
	BackoffMin, BackoffMax time.Duration
	// BreakerFailures consecutive failures open a host's breaker (default 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long an open breaker fails fast before probing (default 10s).
	BreakerOpenFor time.Duration
	// BreakerHalfOpenMax is how many probes a half-open breaker lets through (default 1).
	BreakerHalfOpenMax uint32
	// TokenRefresh: a session token is renewed this long before it expires (default 60s).
	TokenRefresh time.Duration
	// PollWait is the waitSeconds asked of the event long-poll (default 25s; the CRM caps it
	// at 30s). A poll attempt may take PollWait + CallTimeout.
	PollWait time.Duration
}

// Site is one CRM site's endpoint and the bridge's credentials there.
type Site struct {
	BaseURL  string // scheme://host[:port], without /uq/v1
	UserName string
	Password string // never logged
	AppID    string
}

// String hides the password so a Site can be logged or printed safely.
func (s Site) String() string {
	return fmt.Sprintf("{BaseURL:%s UserName:%s AppID:%s Password:<redacted>}", s.BaseURL, s.UserName, s.AppID)
}

// Defaults.
const (
	DefaultCallTimeout        = 2 * time.Second
	DefaultPopBudget          = 5 * time.Second
	DefaultRetries            = 2
	DefaultBackoffMin         = 50 * time.Millisecond
	DefaultBackoffMax         = time.Second
	DefaultBreakerFailures    = 5
	DefaultBreakerOpenFor     = 10 * time.Second
	DefaultBreakerHalfOpenMax = 1
	DefaultTokenRefresh       = 60 * time.Second
	DefaultPollWait           = 25 * time.Second
)

// defaults are the Default constants as the shared policy.
var defaults = resilient.Policy{
	CallTimeout:        DefaultCallTimeout,
	PopBudget:          DefaultPopBudget,
	Retries:            DefaultRetries,
	BackoffMin:         DefaultBackoffMin,
	BackoffMax:         DefaultBackoffMax,
	BreakerFailures:    DefaultBreakerFailures,
	BreakerOpenFor:     DefaultBreakerOpenFor,
	BreakerHalfOpenMax: DefaultBreakerHalfOpenMax,
	PollWait:           DefaultPollWait,
}

// settings is a Config with every default filled in: what the client runs on.
type settings struct {
	resilient.Policy
	Sites        map[string]Site
	TokenRefresh time.Duration
}

// withDefaults fills zero values.
func (c Config) withDefaults() settings {
	s := settings{
		Policy: resilient.Policy{
			CallTimeout: c.CallTimeout, PopBudget: c.PopBudget, Retries: c.Retries,
			BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax,
			BreakerFailures: c.BreakerFailures, BreakerOpenFor: c.BreakerOpenFor,
			BreakerHalfOpenMax: c.BreakerHalfOpenMax, PollWait: c.PollWait,
		}.WithDefaults(defaults),
		Sites:        c.Sites,
		TokenRefresh: c.TokenRefresh,
	}
	if s.TokenRefresh <= 0 {
		s.TokenRefresh = DefaultTokenRefresh
	}
	return s
}

// validate reports the first bad field by name.
func (c settings) validate() error {
	if len(c.Sites) == 0 {
		return errors.New("oracle config: sites: at least one site is required")
	}
	names := make([]string, 0, len(c.Sites))
	for name := range c.Sites {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Sites[name]
		if name == "" {
			return errors.New("oracle config: sites: empty site name")
		}
		if err := crmcode.CheckBaseURL("oracle config", name, s.BaseURL); err != nil {
			return err
		}
		if s.UserName == "" {
			return fmt.Errorf("oracle config: sites.%s.user_name: required", name)
		}
	}
	return c.Policy.Validate("oracle config")
}

// pollWaitSeconds is what the poll asks of the server (PollWait, at millisecond precision).
func (c settings) pollWaitSeconds() float64 { return float64(c.PollWait.Milliseconds()) / 1000 }
