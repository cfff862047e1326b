package oracle_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/oracle"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// answer is an offer response with a fresh transaction id.
func answer(chatID, agent string, accept bool) bridge.OfferResponse {
	return bridge.OfferResponse{
		Site: site, ChatID: chatID, AgentAccountID: agent, Accept: accept,
		TransactionID: "respond-" + strconv.FormatInt(txSeq.Add(1), 10),
	}
}

// offered pops a new chat in queue to agent and returns it.
func offered(t *testing.T, w *world, queue, agent string) string {
	t.Helper()
	id := w.chat(t, queue)
	wantRoute(t, w, pop(id, agent, queue), "SUCCESS")
	return id
}

// Every code the CRM can answer an offer response with comes back verbatim, with a nil error.
func TestRespondOfferReturnsEveryCodeVerbatim(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, w *world) bridge.OfferResponse
		want      string
		wantState string // the chat afterwards, when setup made one
	}{
		{
			name: "SUCCESS accept",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return answer(offered(t, w, "Q1", "A1"), "A1", true)
			},
			want: "SUCCESS", wantState: crmmock.StateActive,
		},
		{
			name: "SUCCESS decline",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return answer(offered(t, w, "Q1", "A1"), "A1", false)
			},
			want: "SUCCESS", wantState: crmmock.StateWaiting,
		},
		{
			name: "DECLINE_NOT_ALLOWED",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return answer(offered(t, w, "Q3", "A2"), "A2", false)
			},
			want: "DECLINE_NOT_ALLOWED", wantState: crmmock.StateOffered,
		},
		{
			name: "NO_PENDING_OFFER, accepted already",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				id := offered(t, w, "Q1", "A1")
				must(t, w.mock.Respond(site, id, crmmock.ActionAccept))
				return answer(id, "A1", true)
			},
			want: "NO_PENDING_OFFER", wantState: crmmock.StateActive,
		},
		{
			name: "NO_PENDING_OFFER, timed out",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				id := offered(t, w, "Q1", "A1")
				w.mock.Advance(time.Minute)
				return answer(id, "A1", true)
			},
			want: "NO_PENDING_OFFER", wantState: crmmock.StateWaiting,
		},
		{
			name: "NO_PENDING_OFFER, someone else's",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return answer(offered(t, w, "Q1", "A1"), "BULK", true)
			},
			want: "NO_PENDING_OFFER", wantState: crmmock.StateOffered,
		},
		{
			name:  "MISSING_PARAMETERS",
			setup: func(t *testing.T, w *world) bridge.OfferResponse { return answer(offered(t, w, "Q1", "A1"), "", true) },
			want:  "MISSING_PARAMETERS", wantState: crmmock.StateOffered,
		},
		{
			name:  "CHAT_ID_UNKNOWN",
			setup: func(t *testing.T, w *world) bridge.OfferResponse { return answer("404", "A1", true) },
			want:  "CHAT_ID_UNKNOWN",
		},
		{
			name: "END_USER_ABANDONED_ENGAGEMENT",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				id := offered(t, w, "Q1", "A1")
				must(t, w.mock.Abandon(site, id))
				return answer(id, "A1", true)
			},
			want: "END_USER_ABANDONED_ENGAGEMENT", wantState: crmmock.StateConcluded,
		},
		{
			name: "AGENT_ID_UNKNOWN",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return answer(offered(t, w, "Q1", "A1"), "ghost", true)
			},
			want: "AGENT_ID_UNKNOWN", wantState: crmmock.StateOffered,
		},
		{
			name: "an injected code the catalog does not know",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, ResultCode: "BRAND_NEW_CODE", Count: 1}))
				return answer(offered(t, w, "Q1", "A1"), "A1", true)
			},
			want: "BRAND_NEW_CODE", wantState: crmmock.StateOffered,
		},
		{
			name: "UNKNOWN_ERROR",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, ResultCode: "UNKNOWN_ERROR", Count: 1}))
				return answer(offered(t, w, "Q1", "A1"), "A1", true)
			},
			want: "UNKNOWN_ERROR", wantState: crmmock.StateOffered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := tt.setup(t, w)
			got, err := w.crm.RespondOffer(context.Background(), req)
			if err != nil || got != tt.want {
				t.Fatalf("RespondOffer(%+v) = %q, %v, want %s", req, got, err, tt.want)
			}
			if tt.wantState != "" {
				if st := chatState(t, w, req.ChatID); st.State != tt.wantState {
					t.Errorf("chat is %s afterwards, want %s", st.State, tt.wantState)
				}
			}
			if got := w.crm.BreakerStates()[w.host()]; got != "closed" {
				t.Errorf("breaker = %q, want closed after a business answer", got)
			}
		})
	}
}

// The request carries the agent, the action and the transaction id; every attempt of one
// call (a 5xx, a dropped connection, a lost answer) carries the same one, and the CRM applies
// it once.
func TestRespondOfferRetriesUnderTheSameTransactionID(t *testing.T) {
	w := newWorld(t)
	id := offered(t, w, "Q1", "A1")
	inject(t, w, crmmock.Fault{Op: crmmock.OpRespond, HTTPStatus: 503, Count: 1})
	inject(t, w, crmmock.Fault{Op: crmmock.OpRespond, LoseAnswer: true, Count: 1})
	req := answer(id, "A1", false)
	got, err := w.crm.RespondOffer(context.Background(), req)
	if err != nil || got != "SUCCESS" {
		t.Fatalf("RespondOffer = %q, %v, want SUCCESS", got, err)
	}
	body := fmt.Sprintf(`{"agentAccountId":"A1","action":"decline","transactionId":%q}`, req.TransactionID)
	if diff := cmp.Diff([]string{body, body, body}, w.sentResponds()); diff != "" {
		t.Errorf("respond bodies (-want +got):\n%s", diff)
	}
	if n := w.mock.RespondEvaluations(req.TransactionID); n != 1 {
		t.Errorf("RespondEvaluations = %d, want 1", n)
	}
	if st := chatState(t, w, id); st.State != crmmock.StateWaiting {
		t.Errorf("chat is %s, want WAITING after one decline", st.State)
	}
}

// A respond whose answer never comes costs at most the call budget and ends in
// ErrUnavailable; the CRM did not apply it, and the same response sent again later lands once.
func TestRespondOfferHangStaysWithinBudget(t *testing.T) {
	w := newWorld(t, func(c *oracle.Config) { c.BreakerFailures = 100 })
	id := offered(t, w, "Q1", "A1")
	inject(t, w, crmmock.Fault{Op: crmmock.OpRespond, Hang: true})
	req := answer(id, "A1", true)
	start := time.Now()
	_, err := w.crm.RespondOffer(context.Background(), req)
	elapsed := time.Since(start)
	if !errors.Is(err, bridge.ErrUnavailable) || errors.Is(err, bridge.ErrBreakerOpen) {
		t.Fatalf("RespondOffer against a hanging CRM = %v, want ErrUnavailable", err)
	}
	// Three attempts of CallTimeout (250ms) and two short backoffs.
	if limit := 3*250*time.Millisecond + 400*time.Millisecond; elapsed > limit {
		t.Errorf("RespondOffer took %v, want at most %v", elapsed, limit)
	}
	if n := w.mock.Calls(crmmock.OpRespond); n != 3 {
		t.Errorf("respond attempts = %d, want 3 (Retries 2)", n)
	}
	w.mock.ClearFaults()
	if got, err := w.crm.RespondOffer(context.Background(), req); err != nil || got != "SUCCESS" {
		t.Fatalf("RespondOffer again = %q, %v, want SUCCESS", got, err)
	}
	if n := w.mock.RespondEvaluations(req.TransactionID); n != 1 {
		t.Errorf("RespondEvaluations = %d, want 1", n)
	}
}

// The CRM refusing the bridge's session is handled like every call: one new login, the call
// repeated once under the same transaction id.
func TestRespondOfferReauthenticates(t *testing.T) {
	w := newWorld(t)
	id := offered(t, w, "Q1", "A1")
	inject(t, w, crmmock.Fault{Op: crmmock.OpRespond, ResultCode: "AUTHENTICATION_FAILED", Count: 1})
	req := answer(id, "A1", true)
	if got, err := w.crm.RespondOffer(context.Background(), req); err != nil || got != "SUCCESS" {
		t.Fatalf("RespondOffer = %q, %v, want SUCCESS", got, err)
	}
	if n := w.mock.Calls(crmmock.OpAuthenticate); n != 2 {
		t.Errorf("Calls(authenticate) = %d, want 2", n)
	}
	if n := len(w.sentResponds()); n != 2 {
		t.Errorf("respond sent %d times, want 2", n)
	}
}

func TestRespondOfferRefusedBeforeTheWire(t *testing.T) {
	tests := []struct {
		name    string
		give    func(bridge.OfferResponse) bridge.OfferResponse
		wantErr []error
	}{
		{
			name:    "no transaction id",
			give:    func(r bridge.OfferResponse) bridge.OfferResponse { r.TransactionID = ""; return r },
			wantErr: []error{bridge.ErrRejected},
		},
		{
			name:    "unconfigured site",
			give:    func(r bridge.OfferResponse) bridge.OfferResponse { r.Site = "nowhere"; return r },
			wantErr: []error{bridge.ErrRejected, oracle.ErrSiteNotConfigured},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			id := offered(t, w, "Q1", "A1")
			before := w.mock.Calls(crmmock.OpAuthenticate)
			got, err := w.crm.RespondOffer(context.Background(), tt.give(answer(id, "A1", true)))
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) || got != "" {
					t.Errorf("RespondOffer = %q, %v, want %v", got, err, want)
				}
			}
			if errors.Is(err, bridge.ErrUnavailable) {
				t.Errorf("RespondOffer = %v, want no ErrUnavailable", err)
			}
			if n, a := w.mock.Calls(crmmock.OpRespond), w.mock.Calls(crmmock.OpAuthenticate)-before; n != 0 || a != 0 {
				t.Errorf("the CRM saw %d responds and %d logins, want none", n, a)
			}
		})
	}
}
