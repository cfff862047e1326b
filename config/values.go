package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// redacted is what every printer shows instead of a secret.
const redacted = "[redacted]"

// Secret is a credential read from the config file or the environment. Every way of
// printing it (fmt verbs, String, GoString, JSON, YAML, text, slog) shows "[redacted]", or
// "" when it is empty, so a config can be logged or dumped whole. Value returns the real
// value; call it only where the secret is used.
type Secret string

// Value returns the secret itself. Never log it.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v redacted.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format keeps every fmt verb (%s %v %q %x %d ...) redacted, including inside structs.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.String())
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalText serves encoding/json, yaml.v3 and slog's text handler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON is explicit so that no encoder falls back to the string kind.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.String())), nil }

// MarshalYAML is explicit so that no encoder falls back to the string kind.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// LogValue keeps slog redacted whatever the handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// webhookKey decodes an ACD webhook secret the Standard Webhooks way: an optional "whsec_"
// prefix, then standard base64 of at least 16 bytes. Errors never include the secret.
func webhookKey(s Secret) ([]byte, error) {
	raw := strings.TrimPrefix(s.Value(), "whsec_")
	if raw == "" {
		return nil, errors.New("must not be empty")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, errors.New(`must be standard base64 (after an optional "whsec_" prefix)`)
	}
	if len(key) < minWebhookKeyBytes {
		return nil, fmt.Errorf("decodes to %d bytes, want at least %d", len(key), minWebhookKeyBytes)
	}
	return key, nil
}

// Duration is a time.Duration written as a Go duration string ("10s", "1m30s", "72h") in
// YAML and JSON, both ways. A bare number other than 0 is refused: "10" is ambiguous.
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes "10s"; encoding/json and yaml.v3 use it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "10s"; encoding/json uses it.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// UnmarshalYAML reads a scalar duration string. It exists because yaml.v3 would otherwise
// decode a bare integer into the int64 kind as nanoseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf(`must be a duration such as "10s", got %s`, nodeKindName(n))
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf(`must be a duration such as "10s", got %q`, s)
	}
	return Duration(v), nil
}

func nodeKindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	default:
		return "a scalar"
	}
}
