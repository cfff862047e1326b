package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// handleEvents streams the agent's events as server-sent events. A reconnect with
// Last-Event-ID (or ?last_event_id=) resumes after that id from the agent's stream in the
// store, so nothing is missed whichever replica the reconnect lands on.
func (a *API) handleEvents() echo.HandlerFunc {
	return func(c echo.Context) error {
		agent := agentOf(c)
		last := c.Request().Header.Get("Last-Event-ID")
		if last == "" {
			last = c.QueryParam("last_event_id")
		}
		if !validStreamID(last) {
			return newAPIError(http.StatusBadRequest, "malformed", "not a stream id (want <ms>-<seq>)", "Last-Event-ID")
		}
		w := c.Response()
		w.Header().Set(echo.HeaderContentType, "text/event-stream")
		w.Header().Set(echo.HeaderCacheControl, "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 1000\n\n")
		w.Flush()

		ctx := c.Request().Context()
		poll := time.NewTicker(a.opts.SSEPoll)
		defer poll.Stop()
		lastBeat := time.Now()
		for {
			evs, err := a.events.Read(ctx, agent, last, 100)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("read agent stream", "agent_id", agent, "err", err)
			}
			for _, ev := range evs {
				data, _ := json.Marshal(ev)
				// Ids and types are ours; data is JSON (no raw newlines), so a frame cannot be split.
				fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
				last = ev.ID
			}
			if len(evs) > 0 {
				w.Flush()
				if len(evs) == 100 {
					continue // more to catch up
				}
			}
			if time.Since(lastBeat) >= a.opts.SSEHeartbeat {
				fmt.Fprint(w, ": heartbeat\n\n")
				w.Flush()
				lastBeat = time.Now()
			}
			select {
			case <-ctx.Done():
				return nil
			case <-poll.C:
			}
		}
	}
}

// validStreamID accepts "" or a Redis stream id: digits, optionally "-" and digits.
func validStreamID(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 41 {
		return false
	}
	ms, seq, found := strings.Cut(s, "-")
	return digits(ms) && (!found || digits(seq))
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
