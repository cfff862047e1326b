package bridgeerr

import (
	"strings"
	"testing"
)

// replacerRender is Render as it was written first, with a strings.Replacer: the oracle.
func replacerRender(e Entry, v MessageVars) string {
	code := v.Code
	if code == "" {
		code = string(e.Code)
	}
	return strings.NewReplacer(
		"{code}", code,
		"{agent_session_id}", orUnknown(v.AgentSessionID),
		"{account_id}", orUnknown(v.AccountID),
		"{queue_id}", orUnknown(v.QueueID),
		"{queue_name}", orUnknown(v.QueueName),
		"{reason_code}", orUnknown(v.ReasonCode),
		"{chat_id}", orUnknown(v.ChatID),
	).Replace(e.Message)
}

// FuzzRenderMatchesReplacer: a catalog message (an operator's override is outside input)
// renders exactly as the Replacer would, whatever braces and placeholders it holds.
func FuzzRenderMatchesReplacer(f *testing.F) {
	for _, seed := range []string{
		"", "plain", "{code}", "{code", "code}", "{{code}}", "{code{code}", "{unknown} {queue_name}",
		"Session {agent_session_id} on {account_id}: {reason_code} in {queue_id} ({queue_name}), chat {chat_id}",
		"{}", "{ code}", "{{}", "}{", "{chat_id}{chat_id}{",
	} {
		f.Add(seed, "", "sess-1", "{code}")
	}
	f.Fuzz(func(t *testing.T, msg, code, session, queueName string) {
		e := Entry{Code: "SOME_CODE", Message: msg}
		v := MessageVars{Code: code, AgentSessionID: session, QueueName: queueName, ChatID: "chat-1"}
		if got, want := e.Render(v), replacerRender(e, v); got != want {
			t.Fatalf("Render(%q) = %q, the Replacer gives %q", msg, got, want)
		}
	})
}
