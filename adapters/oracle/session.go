package oracle

// The bridge's CRM session per site: authenticate lazily, cache the token until shortly
// before it expires, one login at a time, and on AUTHENTICATION_FAILED log in again once.

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
	bridgeerr "github.com/mediabar-bridge/mediabar-bridge/errors"
)

const (
	codeSuccess    = string(bridgeerr.Success)
	codeAuthFailed = string(bridgeerr.AuthenticationFailed)
)

type session struct {
	login chan struct{} // a one-slot semaphore: single-flight login that honours ctx

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

func newSession() *session { return &session{login: make(chan struct{}, 1)} }

func (s *session) current(now time.Time) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" || !now.Before(s.refreshAt) {
		return "", false
	}
	return s.token, true
}

// forget drops token if it is still the current one (a newer login is kept).
func (s *session) forget(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token, s.refreshAt = "", time.Time{}
	}
}

func (s *session) store(token string, refreshAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.refreshAt = token, refreshAt
}

// token returns a usable session token for s. When the CRM refuses the login, code is its
// verbatim result code (not SUCCESS) and the token is empty.
func (c *Client) token(ctx context.Context, s *siteConn) (token, code string, err error) {
	if tok, ok := s.session.current(c.now()); ok {
		return tok, codeSuccess, nil
	}
	select {
	case s.session.login <- struct{}{}:
	case <-ctx.Done():
		_, err := c.Reply(ctx, "authenticate", s.name, nil, ctx.Err(), nil)
		return "", "", err
	}
	defer func() { <-s.session.login }()
	// Whoever held the slot before us may have logged in already.
	if tok, ok := s.session.current(c.now()); ok {
		return tok, codeSuccess, nil
	}

	body, err := c.send(ctx, s, exchange{
		op:     "authenticate",
		method: http.MethodPost,
		path:   "/authenticate",
		body:   authenticateRequest{UserName: s.site.UserName, Password: s.site.Password, AppID: s.site.AppID},
	})
	if err != nil {
		return "", "", err
	}
	r, err := decode[authenticateReply](body)
	if err != nil {
		return "", "", fmt.Errorf("oracle authenticate site %s: %w", s.name, err)
	}
	if r.ResultCode != codeSuccess {
		c.log.Warn("crm refused the bridge's login", "site", s.name, "result_code", r.ResultCode)
		return "", r.ResultCode, nil
	}
	if r.SessionToken == "" {
		return "", "", fmt.Errorf("oracle authenticate site %s: %w: SUCCESS without a sessionToken", s.name, bridge.ErrMalformedReply)
	}
	ttl := r.ExpiresInSeconds.duration()
	// Renew TokenRefresh before expiry, but never use less than half the token's life: a
	// short-lived token must not force a login per call.
	keep := max(ttl-c.cfg.TokenRefresh, ttl/2)
	s.session.store(r.SessionToken, c.now().Add(keep))
	c.log.Info("crm session authenticated", "site", s.name, "expires_in_s", int(ttl/time.Second))
	return r.SessionToken, codeSuccess, nil
}

// withSession runs call with s's session token. If the CRM answers AUTHENTICATION_FAILED
// (token expired or revoked), it logs in again once and repeats call once; a second
// AUTHENTICATION_FAILED is returned verbatim. A refused login returns the login's code and
// a zero R.
func withSession[R reply](ctx context.Context, c *Client, s *siteConn, op string, call func(ctx context.Context, token string) (R, error)) (R, error) {
	var zero R
	tok, code, err := c.token(ctx, s)
	if err != nil {
		return zero, err
	}
	if code != codeSuccess {
		return loginRefused[R](code), nil
	}
	r, err := call(ctx, tok)
	if err != nil || r.code() != codeAuthFailed {
		return r, err
	}
	c.log.Info("crm refused the session token, authenticating again", "site", s.name, "op", op)
	s.session.forget(tok)
	tok, code, err = c.token(ctx, s)
	if err != nil {
		return zero, err
	}
	if code != codeSuccess {
		return loginRefused[R](code), nil
	}
	return call(ctx, tok)
}

// loginRefused is a reply of type R that carries only the login's result code.
func loginRefused[R reply](code string) R {
	var r R
	switch p := any(&r).(type) {
	case *routeReply:
		p.ResultCode = code
	case *respondReply:
		p.ResultCode = code
	case *engagementReply:
		p.ResultCode = code
	case *agentSessionReply:
		p.ResultCode = code
	case *waitingReply:
		p.ResultCode = code
	case *pollReply:
		p.ResultCode = code
	case *authenticateReply:
		p.ResultCode = code
	}
	return r
}
