// Package bridgeerr is the result-code catalog: every verbatim CRM result code and every
// bridge-side failure kind, mapped to what the agent is told, what happens to the chat, what
// happens to the agent's channel and how the leg is reported. The catalog is data (rows.go);
// this file holds the types and the lookup/override logic.
//
// Import it as bridgeerr everywhere.
package bridgeerr

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
)

// Code is a verbatim CRM result code (SUCCESS, AGENT_ABSENT, ...) or a bridge failure kind
// (BRIDGE_CRM_UNREACHABLE, ...). CRM codes are never rewritten: the catalog is keyed by them.
type Code string

// Source says who produces a code.
type Source string

const (
	SourceCRM     Source = "crm"     // returned verbatim by the CRM chat server
	SourceBridge  Source = "bridge"  // the bridge's own failure kinds
	SourceFlow    Source = "flow"    // agent-facing situations that are not pop results (decline, queue timeout, ...)
	SourceChannel Source = "channel" // the agent's CRM presence/status changed, no chat involved
)

// Channel is what a code does to the agent's chat channel on the media bar.
type Channel string

const (
	ChannelGreen  Channel = "green"  // stays as it was
	ChannelRed    Channel = "red"    // turns red with this code as the reason
	ChannelBanner Channel = "banner" // red plus the re-login banner (CRM unreachable / session lost)
)

// Descriptor is the reporting outcome of one agent leg (role / technical result / reason),
// in the vocabulary contact centers already report with.
type Descriptor struct {
	Role   string `json:"role" yaml:"role"`
	Result string `json:"result" yaml:"result"`
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
}

func (d Descriptor) String() string {
	if d.Reason == "" {
		return d.Role + " / " + d.Result
	}
	return d.Role + " / " + d.Result + " [" + d.Reason + "]"
}

// Entry is one row of the catalog.
type Entry struct {
	Code    Code   `json:"code"`
	Source  Source `json:"source"`
	Meaning string `json:"meaning"`
	// Message is shown to the agent. It may hold placeholders, filled by Render:
	// {code} {agent_session_id} {account_id} {queue_id} {queue_name} {reason_code} {chat_id}.
	Message string `json:"message"`
	// Requeue: give the chat back to the ACD queue. When false the leg ends without requeue
	// (the chat is gone, or was offered).
	Requeue bool `json:"requeue"`
	// Retry: worth retrying the CRM call first (transient), within the retry budget.
	Retry bool `json:"retry"`
	// Reauth: re-authenticate the bridge's CRM session once, then retry.
	Reauth bool `json:"reauth"`
	// Channel effect on the agent's chat channel.
	Channel Channel `json:"channel"`
	// ACDNotReady: also set the agent not ready in the ACD, so no chat is routed into a dead session.
	ACDNotReady bool `json:"acd_not_ready"`
	// OpsAlert: operators must look (configuration or defect); logged at error level and counted.
	OpsAlert bool `json:"ops_alert"`
	// Descriptor reported for the leg when this code ends it.
	Descriptor Descriptor `json:"descriptor"`
}

// Success reports whether the row is the one successful pop result.
func (e Entry) Success() bool { return e.Code == Success }

// MessageVars fill the placeholders of an Entry's Message.
type MessageVars struct {
	Code           string
	AgentSessionID string
	AccountID      string
	QueueID        string
	QueueName      string
	ReasonCode     string
	ChatID         string
}

// Render fills the message placeholders. Unknown placeholders are left as they are, so a typo
// in an override is visible rather than silently dropped. It runs on every pop's outcome, so
// it scans the message once instead of building a strings.Replacer per call (which showed in
// the bench's profile); it replaces exactly as that Replacer would (FuzzRenderMatchesReplacer).
func (e Entry) Render(v MessageVars) string {
	msg := e.Message
	if strings.IndexByte(msg, '{') < 0 {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 32)
	for {
		open := strings.IndexByte(msg, '{')
		if open < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:open])
		msg = msg[open:]
		if name, _, ok := strings.Cut(msg[1:], "}"); ok {
			if value, known := v.placeholder(name, e.Code); known {
				b.WriteString(value)
				msg = msg[len(name)+2:]
				continue
			}
		}
		b.WriteByte('{')
		msg = msg[1:]
	}
}

// placeholder is the value of {name}, and whether name is a placeholder at all.
func (v MessageVars) placeholder(name string, code Code) (string, bool) {
	switch name {
	case "code":
		if v.Code != "" {
			return v.Code, true
		}
		return string(code), true
	case "agent_session_id":
		return orUnknown(v.AgentSessionID), true
	case "account_id":
		return orUnknown(v.AccountID), true
	case "queue_id":
		return orUnknown(v.QueueID), true
	case "queue_name":
		return orUnknown(v.QueueName), true
	case "reason_code":
		return orUnknown(v.ReasonCode), true
	case "chat_id":
		return orUnknown(v.ChatID), true
	}
	return "", false
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// Catalog is the effective catalog: the default rows with deployment overrides applied.
// It is immutable after construction and safe for concurrent use.
type Catalog struct {
	rows    map[Code]Entry
	order   []Code
	unknown atomic.Int64
}

// Default returns the built-in catalog.
func Default() *Catalog {
	c := &Catalog{rows: make(map[Code]Entry, len(defaultRows))}
	for _, r := range defaultRows {
		c.rows[r.Code] = r
		c.order = append(c.order, r.Code)
	}
	return c
}

// Lookup returns the row for a code. A code the catalog does not know gets the safe default
// row (requeue, generic message naming the code), with Code set to the verbatim code seen,
// and is counted (UnknownSeen).
func (c *Catalog) Lookup(code string) Entry {
	if e, ok := c.rows[Code(code)]; ok {
		return e
	}
	c.unknown.Add(1)
	e := c.rows[UnknownCode]
	e.Code = Code(code)
	return e
}

// Known reports whether the catalog has a row for code.
func (c *Catalog) Known(code string) bool {
	_, ok := c.rows[Code(code)]
	return ok
}

// UnknownSeen is how many lookups of unknown codes this catalog has answered.
func (c *Catalog) UnknownSeen() int64 { return c.unknown.Load() }

// Entries returns every row in catalog order (CRM codes first, as in the SPEC table).
func (c *Catalog) Entries() []Entry {
	out := make([]Entry, 0, len(c.order))
	for _, code := range c.order {
		out = append(out, c.rows[code])
	}
	return out
}

// Override changes one row. Nil fields keep the default.
type Override struct {
	Message     *string     `json:"message,omitempty" yaml:"message,omitempty"`
	Requeue     *bool       `json:"requeue,omitempty" yaml:"requeue,omitempty"`
	Retry       *bool       `json:"retry,omitempty" yaml:"retry,omitempty"`
	Channel     *Channel    `json:"channel,omitempty" yaml:"channel,omitempty"`
	ACDNotReady *bool       `json:"acd_not_ready,omitempty" yaml:"acd_not_ready,omitempty"`
	OpsAlert    *bool       `json:"ops_alert,omitempty" yaml:"ops_alert,omitempty"`
	Descriptor  *Descriptor `json:"descriptor,omitempty" yaml:"descriptor,omitempty"`
}

// OverrideError names the code and field an override got wrong.
type OverrideError struct {
	Code   string
	Field  string
	Reason string
}

func (e *OverrideError) Error() string {
	return fmt.Sprintf("catalog override %s.%s: %s", e.Code, e.Field, e.Reason)
}

// WithOverrides returns a new catalog with the overrides applied. An override for a code the
// catalog does not know, or a value that would break an invariant, is an *OverrideError and
// nothing is applied. Overriding SUCCESS into a requeue is refused: it would requeue a chat
// that has been offered to an agent and pop it twice.
func (c *Catalog) WithOverrides(overrides map[string]Override) (*Catalog, error) {
	out := &Catalog{rows: make(map[Code]Entry, len(c.rows)), order: append([]Code(nil), c.order...)}
	for k, v := range c.rows {
		out.rows[k] = v
	}
	codes := make([]string, 0, len(overrides))
	for code := range overrides {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		o := overrides[code]
		e, ok := out.rows[Code(code)]
		if !ok {
			return nil, &OverrideError{Code: code, Field: "code", Reason: "not in the catalog (see `mediabar-bridge catalog`)"}
		}
		if o.Message != nil {
			if strings.TrimSpace(*o.Message) == "" {
				return nil, &OverrideError{Code: code, Field: "message", Reason: "must not be empty"}
			}
			e.Message = *o.Message
		}
		if o.Requeue != nil {
			if e.Code == Success && *o.Requeue {
				return nil, &OverrideError{Code: code, Field: "requeue", Reason: "SUCCESS cannot requeue: the chat is already offered to the agent"}
			}
			e.Requeue = *o.Requeue
		}
		if o.Retry != nil {
			e.Retry = *o.Retry
		}
		if o.Channel != nil {
			switch *o.Channel {
			case ChannelGreen, ChannelRed, ChannelBanner:
				e.Channel = *o.Channel
			default:
				return nil, &OverrideError{Code: code, Field: "channel", Reason: fmt.Sprintf("%q is not one of green, red, banner", *o.Channel)}
			}
		}
		if o.ACDNotReady != nil {
			e.ACDNotReady = *o.ACDNotReady
		}
		if o.OpsAlert != nil {
			e.OpsAlert = *o.OpsAlert
		}
		if o.Descriptor != nil {
			if o.Descriptor.Role == "" || o.Descriptor.Result == "" {
				return nil, &OverrideError{Code: code, Field: "descriptor", Reason: "role and result are required"}
			}
			e.Descriptor = *o.Descriptor
		}
		out.rows[Code(code)] = e
	}
	return out, nil
}
