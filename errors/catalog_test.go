package bridgeerr

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// specDecisions is SPEC section 4, restated: code → requeue, retry first, channel red,
// ACD not ready, ops alert.
var specDecisions = []struct {
	code                                 Code
	requeue, retry, red, notReady, alert bool
}{
	{Success, false, false, false, false, false},
	{UnknownError, true, true, false, false, false},
	{RNWAPIException, true, true, false, false, false},
	{AuthenticationFailed, true, false, false, false, true},
	{MissingSiteName, true, false, false, false, true},
	{UnknownSite, true, false, false, false, true},
	{MissingParameters, true, false, false, false, true},
	{AgentAbsent, true, false, true, true, false},
	{AgentIDUnknown, true, false, false, false, true},
	{ChatIDUnknown, false, false, false, false, false},
	{InvalidDestAgent, true, false, false, false, false},
	{InvalidDestQueue, true, false, false, false, true},
	{InvalidAgentSession, true, false, true, true, false},
	{AgentDisconnected, true, false, true, true, false},
	{AgentNotActive, true, false, true, false, false},
	{CouldNotReserveEngagement, false, false, false, false, false},
	{CouldNotAssignEngagement, true, false, false, false, false},
	{EndUserAbandonedEngagement, false, false, false, false, false},
}

func TestCatalogHasEverySpecCodeOnceWithItsDecision(t *testing.T) {
	c := Default()
	count := map[Code]int{}
	crm := 0
	for _, e := range c.Entries() {
		count[e.Code]++
		if e.Source == SourceCRM {
			crm++
		}
	}
	if crm != len(specDecisions) {
		t.Errorf("catalog has %d CRM rows, SPEC has %d", crm, len(specDecisions))
	}
	for _, tt := range specDecisions {
		if count[tt.code] != 1 {
			t.Errorf("code %s appears %d times, want 1", tt.code, count[tt.code])
			continue
		}
		e := c.Lookup(string(tt.code))
		red := e.Channel != ChannelGreen
		got := []bool{e.Requeue, e.Retry, red, e.ACDNotReady, e.OpsAlert}
		want := []bool{tt.requeue, tt.retry, tt.red, tt.notReady, tt.alert}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Lookup(%q) decision [requeue retry red notReady alert] mismatch (-want +got):\n%s", tt.code, diff)
		}
		if e.Message == "" || e.Meaning == "" || e.Descriptor.Role == "" || e.Descriptor.Result == "" {
			t.Errorf("Lookup(%q) has an empty message, meaning or descriptor: %+v", tt.code, e)
		}
	}
	if c.Lookup(string(AuthenticationFailed)).Reauth != true {
		t.Errorf("AUTHENTICATION_FAILED must re-authenticate first")
	}
	for _, k := range []Code{CRMUnreachable, ACDUnreachable, MalformedCRMReply, UnknownCode} {
		if count[k] != 1 {
			t.Errorf("bridge failure kind %s appears %d times, want 1", k, count[k])
		}
	}
}

func TestFailureMessagesTellWhatHappensToTheChat(t *testing.T) {
	for _, e := range Default().Entries() {
		if e.Success() || e.Source == SourceFlow {
			continue
		}
		msg := strings.ToLower(e.Message)
		if e.Requeue && !strings.Contains(msg, "back to the queue") {
			t.Errorf("%s requeues but its message does not say so: %q", e.Code, e.Message)
		}
		if !e.Requeue && e.Source == SourceCRM && !strings.Contains(msg, "nothing was requeued") {
			t.Errorf("%s does not requeue but its message does not say so: %q", e.Code, e.Message)
		}
	}
}

func TestLookupUnknownCodeIsSafeDefaultAndCounted(t *testing.T) {
	c := Default()
	e := c.Lookup("SOMETHING_NEW")
	if !e.Requeue || e.Code != "SOMETHING_NEW" {
		t.Errorf("Lookup(unknown) = %+v, want requeue with the verbatim code", e)
	}
	if got := e.Render(MessageVars{}); !strings.Contains(got, "SOMETHING_NEW") {
		t.Errorf("unknown-code message %q does not name the code", got)
	}
	if c.UnknownSeen() != 1 {
		t.Errorf("UnknownSeen() = %d, want 1", c.UnknownSeen())
	}
	c.Lookup(string(AgentAbsent))
	if c.UnknownSeen() != 1 {
		t.Errorf("known lookup counted as unknown")
	}
}

func TestRenderFillsPlaceholders(t *testing.T) {
	e := Default().Lookup(string(InvalidDestAgent))
	got := e.Render(MessageVars{AgentSessionID: "sess-9", QueueID: "q1", QueueName: "Sales", AccountID: "acct-7"})
	for _, want := range []string{"sess-9", "q1", "Sales", "acct-7", "INVALID_DEST_AGENT"} {
		if !strings.Contains(got, want) {
			t.Errorf("Render() = %q, missing %q", got, want)
		}
	}
	if strings.Contains(got, "{") {
		t.Errorf("Render() left a placeholder: %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWithOverrides(t *testing.T) {
	tests := []struct {
		name      string
		give      map[string]Override
		wantField string
		check     func(t *testing.T, c *Catalog)
	}{
		{name: "message and decision", give: map[string]Override{"AGENT_NOT_ACTIVE": {Message: ptr("Bitte Status ändern ({code})"), Requeue: ptr(false)}},
			check: func(t *testing.T, c *Catalog) {
				e := c.Lookup("AGENT_NOT_ACTIVE")
				if e.Requeue || !strings.HasPrefix(e.Message, "Bitte") {
					t.Errorf("override not applied: %+v", e)
				}
			}},
		{name: "unknown code", give: map[string]Override{"NOPE": {Requeue: ptr(true)}}, wantField: "code"},
		{name: "empty message", give: map[string]Override{"AGENT_ABSENT": {Message: ptr(" ")}}, wantField: "message"},
		{name: "bad channel", give: map[string]Override{"AGENT_ABSENT": {Channel: ptr(Channel("blue"))}}, wantField: "channel"},
		{name: "success cannot requeue", give: map[string]Override{"SUCCESS": {Requeue: ptr(true)}}, wantField: "requeue"},
		{name: "descriptor needs role", give: map[string]Override{"AGENT_ABSENT": {Descriptor: &Descriptor{Result: "X"}}}, wantField: "descriptor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := Default()
			got, err := base.WithOverrides(tt.give)
			if tt.wantField != "" {
				var oe *OverrideError
				if !errors.As(err, &oe) || oe.Field != tt.wantField {
					t.Fatalf("WithOverrides() error = %v, want OverrideError on %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatalf("WithOverrides() error = %v", err)
			}
			tt.check(t, got)
			if base.Lookup("AGENT_NOT_ACTIVE").Requeue != true {
				t.Errorf("WithOverrides changed the base catalog")
			}
		})
	}
}
