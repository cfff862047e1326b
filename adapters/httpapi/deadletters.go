package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// validDeadLetterID: a dead-letter id is the store's queue item id, "<ms>-<seq>", each part
// within Redis's 64-bit range (validStreamID), so bad input is a 400, never a store error.
func validDeadLetterID(id string) bool { return strings.Contains(id, "-") && validStreamID(id) }

// DeadLettersResponse is a page of dead-lettered ACD calls; Next is the after= of the next
// page ("" when this one is the last).
type DeadLettersResponse struct {
	Items []bridge.DeadLetter `json:"items"`
	Next  string              `json:"next,omitempty"`
}

const (
	defaultDeadLetterPage = 100
	maxDeadLetterPage     = 1000
)

// handleDeadLetters lists ACD calls the outbox gave up on (rejected by the ACD, or still
// failing after acd.dead_letter_after), oldest first.
func (a *API) handleDeadLetters() echo.HandlerFunc {
	return func(c echo.Context) error {
		after := c.QueryParam("after")
		if after != "" && !validDeadLetterID(after) {
			return newAPIError(http.StatusBadRequest, "invalid_query", "after must be an id from a previous page, such as 1732182000000-0", "after")
		}
		limit := defaultDeadLetterPage
		if v := c.QueryParam("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxDeadLetterPage {
				return newAPIError(http.StatusBadRequest, "invalid_query", "limit must be a whole number from 1 to "+strconv.Itoa(maxDeadLetterPage), "limit")
			}
			limit = n
		}
		items, err := a.svc.DeadLetters(c.Request().Context(), after, limit)
		if err != nil {
			return err
		}
		resp := DeadLettersResponse{Items: items}
		if len(items) == limit {
			resp.Next = items[len(items)-1].ID
		}
		return c.JSON(http.StatusOK, resp)
	}
}

// handleReplayDeadLetter puts one dead-lettered call back in the outbox.
func (a *API) handleReplayDeadLetter() echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !validDeadLetterID(id) {
			return newAPIError(http.StatusBadRequest, "invalid_path", "id must be a dead-letter id, such as 1732182000000-0", "id")
		}
		call, err := a.svc.ReplayDeadLetter(c.Request().Context(), id)
		if errors.Is(err, bridge.ErrNotReplayable) {
			return newAPIError(http.StatusUnprocessableEntity, "not_replayable", err.Error(), "id")
		}
		if errors.Is(err, bridge.ErrNotFound) {
			return newAPIError(http.StatusNotFound, "not_found", "no dead letter with this id (already replayed?)", "id")
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"replayed": call})
	}
}
