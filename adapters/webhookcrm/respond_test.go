package webhookcrm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// offered pops a new chat to A1 (which may not decline) and returns it.
func (w *world) offered(t *testing.T) string {
	t.Helper()
	id, err := w.mock.CreateChat(site, "Q1", "Ada")
	must(t, err)
	got, err := w.client(t, apiKey).RouteChat(context.Background(), bridge.RouteRequest{Site: site, ChatID: id, AgentAccountID: "A1", QueueID: "Q1", TransactionID: "pop-" + id})
	if err != nil || got.Code != "SUCCESS" {
		t.Fatalf("RouteChat(%s) = %+v, %v, want SUCCESS", id, got, err)
	}
	return id
}

// The CRM's verdict on an offer response comes back verbatim, with a nil error.
func TestRespondOfferReturnsCodesVerbatim(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, w *world) bridge.OfferResponse
		want      string
		wantState string
	}{
		{
			name: "SUCCESS",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return bridge.OfferResponse{Site: site, ChatID: w.offered(t), AgentAccountID: "A1", Accept: true, TransactionID: "r-1"}
			},
			want: "SUCCESS", wantState: crmmock.StateActive,
		},
		{
			name: "DECLINE_NOT_ALLOWED",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return bridge.OfferResponse{Site: site, ChatID: w.offered(t), AgentAccountID: "A1", TransactionID: "r-1"}
			},
			want: "DECLINE_NOT_ALLOWED", wantState: crmmock.StateOffered,
		},
		{
			name: "NO_PENDING_OFFER",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				id, err := w.mock.CreateChat(site, "Q1", "Ada")
				must(t, err)
				return bridge.OfferResponse{Site: site, ChatID: id, AgentAccountID: "A1", Accept: true, TransactionID: "r-1"}
			},
			want: "NO_PENDING_OFFER", wantState: crmmock.StateWaiting,
		},
		{
			name: "CHAT_ID_UNKNOWN",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				return bridge.OfferResponse{Site: site, ChatID: "404", AgentAccountID: "A1", Accept: true, TransactionID: "r-1"}
			},
			want: "CHAT_ID_UNKNOWN",
		},
		{
			name: "RNW_API_EXCEPTION",
			setup: func(t *testing.T, w *world) bridge.OfferResponse {
				must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, ResultCode: "RNW_API_EXCEPTION", Count: 1}))
				return bridge.OfferResponse{Site: site, ChatID: w.offered(t), AgentAccountID: "A1", Accept: true, TransactionID: "r-1"}
			},
			want: "RNW_API_EXCEPTION", wantState: crmmock.StateOffered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			req := tt.setup(t, w)
			got, err := w.client(t, apiKey).RespondOffer(context.Background(), req)
			if err != nil || got != tt.want {
				t.Fatalf("RespondOffer(%+v) = %q, %v, want %s", req, got, err, tt.want)
			}
			if tt.wantState == "" {
				return
			}
			for _, c := range w.mock.Dump().Sites[0].Chats {
				if c.ChatID == req.ChatID && c.State != tt.wantState {
					t.Errorf("chat is %s afterwards, want %s", c.State, tt.wantState)
				}
			}
		})
	}
}

// Every attempt of one response (a 5xx, a dropped connection, a lost answer) carries the
// TransactionID as its Idempotency-Key and the same body, and the CRM applies it once.
func TestRespondOfferSendsTheTransactionIDAsKey(t *testing.T) {
	var (
		mu       sync.Mutex
		attempts []string
	)
	w := newWorld(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/responses") {
				var b bytes.Buffer
				_, _ = b.ReadFrom(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(b.Bytes()))
				mu.Lock()
				attempts = append(attempts, r.Header.Get("Idempotency-Key")+" "+b.String())
				mu.Unlock()
			}
			next.ServeHTTP(rw, r)
		})
	})
	chat := w.offered(t)
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, HTTPStatus: 503, Count: 1}))
	must(t, w.mock.InjectFault(crmmock.Fault{Op: crmmock.OpRespond, LoseAnswer: true, Count: 1}))
	crm := w.client(t, apiKey)
	got, err := crm.RespondOffer(context.Background(), bridge.OfferResponse{Site: site, ChatID: chat, AgentAccountID: "A1", Accept: true, TransactionID: "tx-7"})
	if err != nil || got != "SUCCESS" {
		t.Fatalf("RespondOffer = %q, %v, want SUCCESS", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) < 3 {
		t.Errorf("response attempts = %d, want at least 3 (503, lost answer, answer)", len(attempts))
	}
	for _, a := range attempts {
		if want := `tx-7 {"agent_id":"A1","action":"accept"}`; a != want {
			t.Errorf("attempts = %q, want %q every time", attempts, want)
			break
		}
	}
	if n := w.mock.RespondEvaluations("tx-7"); n != 1 {
		t.Errorf("RespondEvaluations = %d, want 1", n)
	}
	if diff := cmp.Diff(map[string]string{strings.TrimPrefix(w.srv.URL, "http://"): "closed"}, crm.BreakerStates()); diff != "" {
		t.Errorf("breakers (-want +got):\n%s", diff)
	}
}

// Without a TransactionID the response could not be retried safely: refused before the wire.
// A refused API key is ErrRejected, sent once.
func TestRespondOfferRejected(t *testing.T) {
	w := newWorld(t)
	chat := w.offered(t)
	req := bridge.OfferResponse{Site: site, ChatID: chat, AgentAccountID: "A1", Accept: true}
	if got, err := w.client(t, apiKey).RespondOffer(context.Background(), req); !errors.Is(err, bridge.ErrRejected) || got != "" {
		t.Errorf("RespondOffer without a TransactionID = %q, %v, want ErrRejected", got, err)
	}
	if n := w.mock.Calls(crmmock.OpRespond); n != 0 {
		t.Errorf("response sent %d times, want 0", n)
	}
	req.TransactionID = "tx-1"
	got, err := w.client(t, "wrong-key").RespondOffer(context.Background(), req)
	if !errors.Is(err, bridge.ErrRejected) || errors.Is(err, bridge.ErrUnavailable) || got != "" || !strings.Contains(err.Error(), "401") {
		t.Errorf("RespondOffer with a wrong key = %q, %v, want a 401 ErrRejected", got, err)
	}
	if n := w.mock.Calls(crmmock.OpRespond); n != 1 {
		t.Errorf("response sent %d times, want 1", n)
	}
}
