package resilient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"
)

// The stack's two bounds (Timeouts) are context deadlines set by deadline, an
// http.RoundTripper, and not http.Client.Timeout: a Client with a Timeout whose Transport
// is not an *http.Transport (ours are retryablehttp and Breakers) takes the slow path of
// net/http's setRequestCancel, a timer, a goroutine and two channels per request, in each
// of the two Clients. A context deadline costs a runtime timer and no goroutine.

// deadline bounds each request it sends by d, from the moment RoundTrip is called until
// the response body is read to its end, fails or is closed. A request whose context ends
// sooner is sent as it is. The requests of one redirect chain (an *http.Client following
// Location) share the first one's deadline, as they shared Client.Timeout's.
type deadline struct {
	next http.RoundTripper
	d    time.Duration
	// exceeded is the cause the deadline cancels with: the transport returns it when the
	// deadline ends the wait, and it tells this deadline's timeouts from any other end.
	exceeded *deadlineExceeded
}

// withDeadline wraps next in a deadline of d for the named bound ("attempt", "call"); a
// zero or negative d is no bound and leaves next as it is.
func withDeadline(next http.RoundTripper, d time.Duration, bound string) http.RoundTripper {
	if d <= 0 {
		return next
	}
	return &deadline{next: next, d: d, exceeded: &deadlineExceeded{
		msg: bound + " timeout " + d.String() + ": " + context.DeadlineExceeded.Error(),
	}}
}

// RoundTrip implements http.RoundTripper. req itself is not modified: the deadline goes on
// a shallow copy (WithContext).
func (t *deadline) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	at := time.Now().Add(t.d)
	if prev, ok := redirectedFrom(req); ok && prev.owner == t {
		at = prev.at
	}
	if end, ok := parent.Deadline(); ok && !end.After(at) {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithDeadlineCause(parent, at, t.exceeded)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		err = t.timeout(ctx, err)
		cancel()
		if resp != nil { // retryablehttp hands back the last answer with a ctx.Err()
			_ = resp.Body.Close()
		}
		return nil, err
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	resp.Body = &deadlineBody{rc: resp.Body, owner: t, ctx: ctx, cancel: cancel, at: at}
	return resp, nil
}

// timeout marks err as this deadline's timeout when the deadline cut the request: the
// transport returns the cause itself when it cut the wait for an answer, a layer in between
// may return the bare ctx.Err() (retryablehttp does), and a cut dial or body read fails
// with an error of its own. Any other err is returned as it is.
func (t *deadline) timeout(ctx context.Context, err error) error {
	switch {
	case context.Cause(ctx) != t.exceeded, errors.Is(err, t.exceeded):
		return err
	case err == context.DeadlineExceeded:
		return t.exceeded
	}
	return &cutError{err: err, cause: t.exceeded}
}

// redirectedFrom is the deadline body of the response req follows as a redirect, if any
// (net/http sets Request.Response on every request after the first of a chain).
func redirectedFrom(req *http.Request) (*deadlineBody, bool) {
	if req.Response == nil {
		return nil, false
	}
	b, ok := req.Response.Body.(*deadlineBody)
	return b, ok
}

// deadlineBody keeps the deadline running while the body is read and releases it at the
// end: EOF, a read error or Close, whichever comes first. By EOF the transport has already
// put the connection back in its pool, so cancelling then does not cost the connection.
type deadlineBody struct {
	rc     io.ReadCloser
	owner  *deadline
	ctx    context.Context
	cancel context.CancelFunc
	at     time.Time // the deadline, for the next request of a redirect chain
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	if err != io.EOF {
		err = b.owner.timeout(b.ctx, err)
	}
	b.cancel()
	return n, err
}

func (b *deadlineBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// deadlineExceeded is a deadline's cause: a net.Error whose Timeout is true (so a
// *url.Error wrapping it is a timeout too), and context.DeadlineExceeded to errors.Is.
type deadlineExceeded struct{ msg string }

func (e *deadlineExceeded) Error() string   { return e.msg }
func (e *deadlineExceeded) Timeout() bool   { return true }
func (e *deadlineExceeded) Temporary() bool { return true }
func (e *deadlineExceeded) Unwrap() error   { return context.DeadlineExceeded }

// cutError is another error a deadline's cut produced (a failed dial, a broken body read),
// marked as that deadline's timeout.
type cutError struct {
	err   error
	cause *deadlineExceeded
}

func (e *cutError) Error() string   { return e.err.Error() + " (" + e.cause.Error() + ")" }
func (e *cutError) Timeout() bool   { return true }
func (e *cutError) Temporary() bool { return true }
func (e *cutError) Unwrap() []error { return []error{e.err, e.cause} }
