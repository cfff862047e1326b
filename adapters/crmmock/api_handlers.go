package crmmock

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// headerSession carries the session token from authenticate on every other call.
const headerSession = "X-UQ-Session"

// api wraps a routing API handler (see faultable).
func (s *Server) api(op string, h echo.HandlerFunc) echo.HandlerFunc {
	return s.faultable(op, oracleCodeField, h)
}

// faultable wraps a handler of either facade: it counts the call under op, then applies an
// injected fault for op if one matches, so one fault hits the operation whichever facade
// serves it. codeField is the facade's name for the result code in a faulted body. A fault
// is applied before the request is evaluated, so a faulted chatRouted changes nothing in the
// world and is not remembered for replay; LoseAnswer is the exception by design (evaluated,
// then the answer is lost).
func (s *Server) faultable(op, codeField string, h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.mu.Lock()
		s.w.calls[op]++
		f, faulted := s.takeFaultLocked(op)
		s.mu.Unlock()
		if !faulted {
			return h(c)
		}
		if done, err := s.applyFault(c, f, codeField); done {
			return err
		}
		if f.LoseAnswer {
			return s.loseAnswer(c, h)
		}
		return h(c)
	}
}

// applyFault acts out f. done is false when the request should then be evaluated (a
// delay-only fault, or LoseAnswer).
func (s *Server) applyFault(c echo.Context, f Fault, codeField string) (done bool, err error) {
	ctx := c.Request().Context()
	if f.DelayMS > 0 {
		if !s.sleep(ctx, time.Duration(f.DelayMS)*time.Millisecond) {
			return true, s.drop(c) // the client left or the server is closing
		}
	}
	switch {
	case f.ResultCode != "":
		return true, c.JSON(http.StatusOK, map[string]string{codeField: f.ResultCode})
	case f.HTTPStatus != 0:
		return true, c.JSON(f.HTTPStatus, faultStatusBody(f.HTTPStatus))
	case f.Malformed:
		return true, c.Blob(http.StatusOK, echo.MIMEApplicationJSON, malformedBody(codeField))
	case f.Hang:
		select {
		case <-ctx.Done():
		case <-s.closed:
		}
		return true, s.drop(c)
	case f.Drop:
		return true, s.drop(c)
	}
	return false, nil
}

// loseAnswer evaluates the request as usual, then closes the connection instead of
// answering: the CRM acted, and the client never hears about it (a reply lost on the way
// back). Whatever the handler answered, error included, is discarded.
func (s *Server) loseAnswer(c echo.Context, h echo.HandlerFunc) error {
	resp := c.Response()
	writer := resp.Writer
	resp.Writer = &discardWriter{header: http.Header{}}
	_ = h(c) // the answer is what gets lost
	resp.Writer = writer
	return s.drop(c)
}

// discardWriter is a ResponseWriter that forgets everything written to it.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// sleep waits d (real time); false if the client went away or the server closed first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

// drop closes the connection without an answer.
func (s *Server) drop(c echo.Context) error {
	conn, _, err := c.Response().Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): net/http aborts the stream for this sentinel panic.
		panic(http.ErrAbortHandler)
	}
	return conn.Close()
}

// siteOf is the site a request is for: the path's, else the body's (routes without the
// site segment).
func siteOf(c echo.Context, bodySite string) string {
	if s := param(c, "site"); s != "" {
		return s
	}
	return bodySite
}

func token(c echo.Context) string { return c.Request().Header.Get(headerSession) }

func (s *Server) handleAuthenticate(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	req, err := decodeAuthenticate(data)
	if err != nil {
		return err
	}
	now := s.begin()
	resp := s.authenticateLocked(siteOf(c, req.Site), req, now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) handleChatRouted(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	req, err := decodeChatRouted(data)
	if err != nil {
		return err
	}
	now := s.begin()
	resp := s.chatRoutedLocked(token(c), siteOf(c, req.Site), req, now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

// handleRespondOffer answers an offer for the agent (accept or decline).
func (s *Server) handleRespondOffer(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	req, err := decodeRespond(data)
	if err != nil {
		return err
	}
	now := s.begin()
	st, code := s.gateLocked(token(c), param(c, "site"), now)
	resp := s.idempotentRespondLocked(st, code, param(c, "chatId"), req.TransactionID, req, now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) handleEngagement(c echo.Context) error {
	now := s.begin()
	resp := s.engagementLocked(token(c), param(c, "site"), param(c, "chatId"), now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) handleAgentSession(c echo.Context) error {
	now := s.begin()
	resp := s.agentSessionLocked(token(c), param(c, "site"), param(c, "accountId"), now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) handleWaiting(c echo.Context) error {
	now := s.begin()
	resp := s.waitingLocked(token(c), param(c, "site"), param(c, "queueId"), c.QueryParam("state"), now)
	s.mu.Unlock()
	return c.JSON(http.StatusOK, resp)
}

// handlePoll long-polls: it answers as soon as there are events after afterSeq, or with
// the timeout marker ({"timeout": true, "events": []}) after min(waitSeconds, MaxPollWait)
// of real time.
func (s *Server) handlePoll(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	req, err := decodePoll(data)
	if err != nil {
		return err
	}
	wait := s.opts.MaxPollWait
	if req.WaitSeconds != nil && *req.WaitSeconds < wait.Seconds() {
		wait = time.Duration(*req.WaitSeconds * float64(time.Second))
	}
	siteName, tok := siteOf(c, req.Site), token(c)
	resp, ok := s.longPoll(c.Request().Context(), wait, func(now time.Time) (pollResponse, bool) {
		return s.pollLocked(tok, siteName, req.AfterSeq, now)
	})
	if !ok {
		return nil // the client left
	}
	return c.JSON(http.StatusOK, resp)
}

// longPoll evaluates a poll (under the lock) until it is ready, waking whenever an event is
// appended, and gives up after wait (real time) or when the server closes, answering the
// last evaluation (the timeout marker). ok is false when the client left first.
func (s *Server) longPoll(ctx context.Context, wait time.Duration, evaluate func(now time.Time) (pollResponse, bool)) (resp pollResponse, ok bool) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		now := s.begin()
		resp, ready := evaluate(now)
		wake := s.wake
		s.mu.Unlock()
		if ready {
			return resp, true
		}
		select {
		case <-wake:
		case <-deadline.C:
			return resp, true
		case <-s.closed:
			return resp, true
		case <-ctx.Done():
			return resp, false
		}
	}
}
