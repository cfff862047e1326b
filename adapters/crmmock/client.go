package crmmock

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ControlClient drives a mock server's control plane over HTTP: for scenarios, demos and
// customers' test rigs that run the mock standalone (mediabar-bridge mock-crm). Its methods
// mirror the Server's control methods, with a context first. Control errors come back as
// *ControlError matching the same sentinels (ErrInvalidInput, ErrNotFound, ErrConflict,
// ErrDeclineNotAllowed); transport failures are returned wrapped as they are.
type ControlClient struct {
	base string
	http *http.Client
}

// NewControlClient returns a client for the mock at baseURL (e.g. "http://127.0.0.1:8081").
// A nil httpClient means http.DefaultClient.
func NewControlClient(baseURL string, httpClient *http.Client) *ControlClient {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &ControlClient{base: strings.TrimRight(baseURL, "/"), http: httpClient}
}

// Reset clears the mock's world (see Server.Reset).
func (c *ControlClient) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/control/v1/reset", nil, nil)
}

// CreateQueue adds a queue to a site.
func (c *ControlClient) CreateQueue(ctx context.Context, site string, q Queue) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "queues"), q, nil)
}

// CreateAgent adds an agent account to a site.
func (c *ControlClient) CreateAgent(ctx context.Context, site string, a Agent) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "agents"), a, nil)
}

// AddStatus adds a named agent status to a site.
func (c *ControlClient) AddStatus(ctx context.Context, site, name string, available bool) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "statuses"), statusRequest{Name: name, Available: available}, nil)
}

// Login logs an agent in and returns its chat session id.
func (c *ControlClient) Login(ctx context.Context, site, accountID string) (string, error) {
	var resp sessionResponse
	err := c.do(ctx, http.MethodPost, sitePath(site, "agents", accountID, "login"), nil, &resp)
	return resp.SessionID, err
}

// Logout logs an agent out.
func (c *ControlClient) Logout(ctx context.Context, site, accountID string) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "agents", accountID, "logout"), nil, nil)
}

// SetStatus changes a logged-in agent's status.
func (c *ControlClient) SetStatus(ctx context.Context, site, accountID, statusName string) error {
	return c.do(ctx, http.MethodPut, sitePath(site, "agents", accountID, "status"), setStatusRequest{StatusName: statusName}, nil)
}

// Heartbeat is the agent console's presence poll.
func (c *ControlClient) Heartbeat(ctx context.Context, site, accountID string) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "agents", accountID, "heartbeat"), nil, nil)
}

// SetPresence forces an agent's presence (ACTIVE, ABSENT, DISCONNECTED).
func (c *ControlClient) SetPresence(ctx context.Context, site, accountID, presence string) error {
	return c.do(ctx, http.MethodPut, sitePath(site, "agents", accountID, "presence"), setPresenceRequest{Presence: presence}, nil)
}

// CreateChat puts a new customer chat in a queue and returns its id.
func (c *ControlClient) CreateChat(ctx context.Context, site, queueID, customerName string) (string, error) {
	return c.CreateChatWith(ctx, site, NewChat{QueueID: queueID, CustomerName: customerName})
}

// CreateChatWith creates a chat as described (e.g. with a polling customer) and returns its
// id.
func (c *ControlClient) CreateChatWith(ctx context.Context, site string, nc NewChat) (string, error) {
	var resp createChatResponse
	err := c.do(ctx, http.MethodPost, sitePath(site, "chats"), nc, &resp)
	return resp.ChatID, err
}

// CustomerHeartbeat is a polling customer's chat client polling.
func (c *ControlClient) CustomerHeartbeat(ctx context.Context, site, chatID string) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "chats", chatID, "customer-heartbeat"), nil, nil)
}

// Respond answers the chat's own offer as the offered owner: accept, decline or ignore.
func (c *ControlClient) Respond(ctx context.Context, site, chatID, action string) error {
	return c.RespondWith(ctx, site, chatID, OfferReply{Action: action})
}

// RespondWith answers an offer as the agent r names: the owner, or a transfer, conference
// or consult target (see Server.RespondWith).
func (c *ControlClient) RespondWith(ctx context.Context, site, chatID string, r OfferReply) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "chats", chatID, "respond"), r, nil)
}

// Abandon is the customer leaving the chat.
func (c *ControlClient) Abandon(ctx context.Context, site, chatID string) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "chats", chatID, "abandon"), nil, nil)
}

// Conclude ends a chat with a verbatim end reason.
func (c *ControlClient) Conclude(ctx context.Context, site, chatID, reason string) error {
	return c.ConcludeWith(ctx, site, chatID, Conclusion{Reason: reason})
}

// ConcludeWith ends a chat, or only a conference or consult participant's part in it (see
// Server.ConcludeWith).
func (c *ControlClient) ConcludeWith(ctx context.Context, site, chatID string, e Conclusion) error {
	return c.do(ctx, http.MethodPost, sitePath(site, "chats", chatID, "conclude"), e, nil)
}

// InjectFault adds a fault.
func (c *ControlClient) InjectFault(ctx context.Context, f Fault) error {
	return c.do(ctx, http.MethodPost, "/control/v1/faults", f, nil)
}

// ClearFaults removes every fault.
func (c *ControlClient) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/control/v1/faults", nil, nil)
}

// Advance moves the mock clock forward by d (positive) and fires due timers.
func (c *ControlClient) Advance(ctx context.Context, d time.Duration) error {
	return c.do(ctx, http.MethodPost, "/control/v1/clock/advance", advanceRequest{Duration: d.String()}, nil)
}

// Dump returns a snapshot of the mock.
func (c *ControlClient) Dump(ctx context.Context) (State, error) {
	var st State
	err := c.do(ctx, http.MethodGet, "/control/v1/state", nil, &st)
	return st, err
}

// Calls is how many API requests (either facade) the mock received for op.
func (c *ControlClient) Calls(ctx context.Context, op string) (int, error) {
	st, err := c.Dump(ctx)
	return st.Calls[op], err
}

// RouteEvaluations is how many chatRouted requests with this transactionId were evaluated.
func (c *ControlClient) RouteEvaluations(ctx context.Context, transactionID string) (int, error) {
	st, err := c.Dump(ctx)
	return st.RouteEvaluations[transactionID], err
}

// RespondEvaluations is how many respond requests with this transactionId were evaluated.
func (c *ControlClient) RespondEvaluations(ctx context.Context, transactionID string) (int, error) {
	st, err := c.Dump(ctx)
	return st.RespondEvaluations[transactionID], err
}

// sitePath builds /control/v1/sites/{site}/..., escaping every segment.
func sitePath(site string, segments ...string) string {
	var b strings.Builder
	b.WriteString("/control/v1/sites/")
	b.WriteString(url.PathEscape(site))
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends one control request and decodes a 2xx answer into out (if not nil).
func (c *ControlClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes*16))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return decodeControlError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// decodeControlError turns a 4xx control answer back into a *ControlError.
func decodeControlError(status int, data []byte) error {
	var body errorBodyJSON
	if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
		return fmt.Errorf("control plane answered HTTP %d: %s", status, bytes.TrimSpace(data))
	}
	ce := &ControlError{Field: body.Field, Message: body.Error}
	switch {
	case body.Kind == kindNotFound || status == http.StatusNotFound:
		ce.Kind = ErrNotFound
	case body.Kind == kindConflict || status == http.StatusConflict:
		ce.Kind = ErrConflict
	case body.Kind == kindInvalidInput || status == http.StatusBadRequest:
		ce.Kind = ErrInvalidInput
	default:
		return fmt.Errorf("control plane answered HTTP %d: %s", status, body.Error)
	}
	if body.Cause == causeDeclineNotAllowed {
		ce.Cause = ErrDeclineNotAllowed
	}
	return ce
}
