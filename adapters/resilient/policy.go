package resilient

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Policy is the numbers an upstream adapter's config shares with the other adapters: the
// bounds of an attempt, a pop and a long-poll, the retries and the breaker. An adapter
// builds one from its own Config fields, fills it with WithDefaults (its own defaults),
// checks it with Validate and hands Config(name) to the stack. A field an adapter does not
// use stays zero.
type Policy struct {
	// CallTimeout bounds one HTTP attempt (or, for an adapter without attempt bounds, the
	// whole call).
	CallTimeout time.Duration
	// PopBudget bounds a whole pop, including the resolution of an unknown outcome.
	PopBudget time.Duration
	// Retries is how many times a failed attempt is repeated (negative: none).
	Retries int
	// BackoffMin and BackoffMax bound the jittered wait between attempts.
	BackoffMin, BackoffMax time.Duration
	// BreakerFailures consecutive failures open a host's breaker.
	BreakerFailures uint32
	// BreakerOpenFor is how long an open breaker fails fast before letting probes through.
	BreakerOpenFor time.Duration
	// BreakerHalfOpenMax is how many probes a half-open breaker lets through at once.
	BreakerHalfOpenMax uint32
	// PollWait is the wait asked of an events long-poll.
	PollWait time.Duration
}

// WithDefaults fills every unset field from d: a duration that is zero or negative, a
// breaker count that is zero, Retries that is zero. A negative Retries means none and
// becomes 0.
func (p Policy) WithDefaults(d Policy) Policy {
	setDuration := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setDuration(&p.CallTimeout, d.CallTimeout)
	setDuration(&p.PopBudget, d.PopBudget)
	setDuration(&p.BackoffMin, d.BackoffMin)
	setDuration(&p.BackoffMax, d.BackoffMax)
	setDuration(&p.BreakerOpenFor, d.BreakerOpenFor)
	setDuration(&p.PollWait, d.PollWait)
	switch {
	case p.Retries == 0:
		p.Retries = d.Retries
	case p.Retries < 0:
		p.Retries = 0
	}
	if p.BreakerFailures == 0 {
		p.BreakerFailures = d.BreakerFailures
	}
	if p.BreakerHalfOpenMax == 0 {
		p.BreakerHalfOpenMax = d.BreakerHalfOpenMax
	}
	return p
}

// Validate reports the first bad field by its config name (backoff_min, ...), the message
// starting with prefix (such as "oracle config").
func (p Policy) Validate(prefix string) error {
	if p.BackoffMin > p.BackoffMax {
		return fmt.Errorf("%s: backoff_min %s exceeds backoff_max %s", prefix, p.BackoffMin, p.BackoffMax)
	}
	return nil
}

// Config is the stack's share of the policy, for the upstream name. BreakerCounts is left
// nil (TransientStatus); an adapter that counts otherwise sets it on the result.
func (p Policy) Config(name string) Config {
	return Config{
		Name:               name,
		Retries:            p.Retries,
		BackoffMin:         p.BackoffMin,
		BackoffMax:         p.BackoffMax,
		BreakerFailures:    p.BreakerFailures,
		BreakerOpenFor:     p.BreakerOpenFor,
		BreakerHalfOpenMax: p.BreakerHalfOpenMax,
	}
}

// PollAttempt is one long-poll attempt: the server may hold it for PollWait, and the answer
// then gets CallTimeout.
func (p Policy) PollAttempt() time.Duration { return p.PollWait + p.CallTimeout }

// maxQuoted bounds upstream text copied into errors and logs.
const maxQuoted = 200

// Quote makes upstream text (an error body, a reason) safe to put in an error or a log: at
// most 200 bytes, cut on a rune boundary, with control characters escaped.
func Quote(s string) string {
	if len(s) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
