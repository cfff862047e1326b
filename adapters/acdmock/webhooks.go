package acdmock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge/acdapi"
)

// errClosed ends a delivery when Close stops the sender.
var errClosed = errors.New("simulator closed")

// sendLoop delivers webhooks one at a time, in the order they happened, so the bridge never
// sees a revoke before the routing it revokes. It ends when Close cancels s.stop.
func (s *Server) sendLoop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		var d *delivery
		if len(s.pending) > 0 {
			d = s.pending[0]
			s.pending = s.pending[1:]
		}
		s.mu.Unlock()
		if d == nil {
			select {
			case <-s.wake:
				continue
			case <-s.stop.Done():
				return
			}
		}
		s.deliver(d)
		close(d.done)
	}
}

// deliver posts one event until the bridge answers 2xx or the retries run out.
func (s *Server) deliver(d *delivery) {
	s.mu.Lock()
	body, id := d.rec.Body, d.rec.EventID
	s.mu.Unlock()
	backoff := s.opts.WebhookBackoff
	for attempt := 0; attempt <= s.opts.WebhookRetries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.stop.Done():
				t.Stop()
				s.record(d, 0, errClosed)
				return
			}
			backoff = min(backoff*2, 30*s.opts.WebhookBackoff)
		}
		status, err := s.post(id, body)
		if s.record(d, status, err) {
			return
		}
		if s.stop.Err() != nil {
			return
		}
	}
}

// record notes one attempt; true when delivered.
func (s *Server) record(d *delivery, status int, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != errClosed {
		d.rec.Attempts++
	}
	d.rec.LastStatus = status
	d.rec.LastError = ""
	if err != nil {
		d.rec.LastError = err.Error()
	}
	ok := err == nil && status >= 200 && status < 300
	d.rec.Delivered = ok
	if ok && d.rec.Type == acdapi.TypeRouted && d.generation == s.generation {
		s.world.delivered(d.rec.RoutingID)
	}
	return ok
}

// post sends one attempt, signed at the attempt's time so a long retry stays inside the
// bridge's replay window.
func (s *Server) post(id string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(s.stop, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range acdapi.Headers(s.opts.WebhookSecret, id, s.opts.Now(), body) {
		req.Header.Set(k, v)
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}
