package webhookcrm

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
	// Sites maps the CRM site name (as in /crm/v1/sites/{site}/...) to its endpoint and key.
	Sites map[string]Site
	// CallTimeout bounds one HTTP attempt (default 2s).
	CallTimeout time.Duration
	// PopBudget bounds a whole RouteChat, including the resolution after a timeout
	// (default 5s). It must leave room for at least one attempt.
	PopBudget time.Duration
	// Retries is how many times a call is repeated after a transient failure, and how many
	// rounds RouteChat spends resolving an unknown outcome (default 2; negative: none).
	Retries int
	// BackoffMin and BackoffMax bound the jittered wait between retries (defaults 50ms, 1s).
	BackoffMin, BackoffMax time.Duration
	// BreakerFailures consecutive failures open a host's breaker (default 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long an open breaker fails fast before probing (default 10s).
	BreakerOpenFor time.Duration
	// BreakerHalfOpenMax is how many probes a half-open breaker lets through (default 1).
	BreakerHalfOpenMax uint32
	// PollWait is the wait asked of the events long-poll (default 25s). A poll attempt may
	// take PollWait + CallTimeout.
	PollWait time.Duration
}

// Site is one CRM site's endpoint and the bridge's API key there.
type Site struct {
	BaseURL string // scheme://host[:port], without /crm/v1
	APIKey  string // sent as "Authorization: Bearer <key>"; never logged
}

// String hides the API key, so a Site (and a Config holding it) can be logged or printed.
func (s Site) String() string {
	return fmt.Sprintf("{BaseURL:%s APIKey:%s}", s.BaseURL, redacted(s.APIKey))
}

// GoString hides the API key from %#v too.
func (s Site) GoString() string {
	return fmt.Sprintf("webhookcrm.Site{BaseURL:%q, APIKey:%q}", s.BaseURL, redacted(s.APIKey))
}

func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "<redacted>"
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
	Sites map[string]Site
}

// withDefaults fills zero values.
func (c Config) withDefaults() settings {
	return settings{
		Policy: resilient.Policy{
			CallTimeout: c.CallTimeout, PopBudget: c.PopBudget, Retries: c.Retries,
			BackoffMin: c.BackoffMin, BackoffMax: c.BackoffMax,
			BreakerFailures: c.BreakerFailures, BreakerOpenFor: c.BreakerOpenFor,
			BreakerHalfOpenMax: c.BreakerHalfOpenMax, PollWait: c.PollWait,
		}.WithDefaults(defaults),
		Sites: c.Sites,
	}
}

// validate reports the first bad field by name. It never quotes an API key.
func (c settings) validate() error {
	if len(c.Sites) == 0 {
		return errors.New("webhookcrm config: sites: at least one site is required")
	}
	names := make([]string, 0, len(c.Sites))
	for name := range c.Sites {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Sites[name]
		if name == "" {
			return errors.New("webhookcrm config: sites: empty site name")
		}
		if err := crmcode.CheckBaseURL("webhookcrm config", name, s.BaseURL); err != nil {
			return err
		}
		if s.APIKey == "" {
			return fmt.Errorf("webhookcrm config: sites.%s.api_key: required", name)
		}
		for i := 0; i < len(s.APIKey); i++ {
			if b := s.APIKey[i]; b < 0x21 || b > 0x7e {
				return fmt.Errorf("webhookcrm config: sites.%s.api_key: only printable ASCII without spaces (it goes in a header)", name)
			}
		}
	}
	if err := c.Policy.Validate("webhookcrm config"); err != nil {
		return err
	}
	if c.PopBudget < c.CallTimeout {
		return fmt.Errorf("webhookcrm config: pop_budget %s is shorter than call_timeout %s: a pop could never finish one attempt", c.PopBudget, c.CallTimeout)
	}
	return nil
}

// pollWaitSeconds is the wait query parameter (PollWait, at millisecond precision).
func (c settings) pollWaitSeconds() string {
	return fmt.Sprintf("%g", float64(c.PollWait.Milliseconds())/1000)
}
