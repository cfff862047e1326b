package httpapi

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// OutcomeRow is one agent leg in the outcome export: who had it, how it was routed, and the
// reporting descriptor it ended with (SPEC section 5).
type OutcomeRow struct {
	EndedAt       time.Time `json:"ended_at"`
	InteractionID string    `json:"interaction_id"`
	RoutingID     string    `json:"routing_id"`
	Site          string    `json:"site"`
	QueueID       string    `json:"queue_id"`
	QueueName     string    `json:"queue_name,omitempty"`
	AgentID       string    `json:"agent_id"`
	CRMAccountID  string    `json:"crm_account_id,omitempty"`
	ChatID        string    `json:"chat_id"`
	RouteType     string    `json:"route_type"`
	Role          string    `json:"role"`
	Result        string    `json:"result"`
	Reason        string    `json:"reason,omitempty"`
	State         string    `json:"state"`
	Code          string    `json:"code,omitempty"`
	Disposition   string    `json:"disposition,omitempty"`
	AbandonStage  string    `json:"abandon_stage,omitempty"`
	Requeued      bool      `json:"requeued"`
	PopAttempts   int       `json:"pop_attempts"`
	RoutedAt      time.Time `json:"routed_at"`
}

// outcomeColumns is the CSV header; csvRecord writes the fields in this order.
var outcomeColumns = []string{"ended_at", "interaction_id", "routing_id", "site", "queue_id", "queue_name",
	"agent_id", "crm_account_id", "chat_id", "route_type", "role", "result", "reason", "state", "code",
	"disposition", "abandon_stage", "requeued", "pop_attempts", "routed_at"}

func outcomeRow(l *bridge.Interaction) OutcomeRow {
	r := OutcomeRow{EndedAt: l.UpdatedAt.UTC(), InteractionID: l.InteractionID, RoutingID: l.RoutingID, Site: l.Site,
		QueueID: l.QueueID, QueueName: l.QueueName, AgentID: l.AgentID, CRMAccountID: l.CRMAccountID, ChatID: l.ChatID,
		RouteType: string(l.RouteType), State: string(l.State), Code: l.Code, Disposition: l.Disposition,
		AbandonStage: l.AbandonStage, Requeued: l.Requeued, PopAttempts: l.PopAttempts, RoutedAt: l.RoutedAt.UTC()}
	if d := l.Descriptor; d != nil {
		r.Role, r.Result, r.Reason = d.Role, d.Result, d.Reason
	}
	return r
}

func (r OutcomeRow) csvRecord() []string {
	return []string{r.EndedAt.Format(time.RFC3339Nano), r.InteractionID, r.RoutingID, r.Site, r.QueueID, r.QueueName,
		r.AgentID, r.CRMAccountID, r.ChatID, r.RouteType, r.Role, r.Result, r.Reason, r.State, r.Code,
		r.Disposition, r.AbandonStage, strconv.FormatBool(r.Requeued), strconv.Itoa(r.PopAttempts),
		r.RoutedAt.Format(time.RFC3339Nano)}
}

// outcomeQuery is a parsed GET /v1/reports/outcomes request.
type outcomeQuery struct {
	since, until time.Time
	csv          bool
}

// defaultOutcomeWindow is the export's window when since is not given.
const defaultOutcomeWindow = 24 * time.Hour

// parseOutcomeQuery reads since and until (RFC 3339; defaults: the last 24 hours up to now)
// and format (jsonl, the default, or csv; an Accept of text/csv also selects CSV).
func parseOutcomeQuery(q url.Values, accept string, now time.Time) (outcomeQuery, error) {
	out := outcomeQuery{since: now.Add(-defaultOutcomeWindow), until: now}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &out.since}, {"until", &out.until}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return out, newAPIError(http.StatusBadRequest, "invalid_query", f.name+" must be an RFC 3339 time such as 2026-11-21T08:00:00Z", f.name)
		}
		*f.dst = t
	}
	if !out.until.After(out.since) {
		return out, newAPIError(http.StatusBadRequest, "invalid_query", "until must be after since", "until")
	}
	switch format := q.Get("format"); format {
	case "csv":
		out.csv = true
	case "jsonl", "json", "":
		out.csv = format == "" && strings.Contains(accept, "text/csv")
	default:
		return out, newAPIError(http.StatusBadRequest, "invalid_query", "format must be jsonl or csv", "format")
	}
	return out, nil
}

// handleOutcomes streams the legs that ended in the window, oldest first, as JSON lines or
// CSV. Rows are written as they are read, so an export of any size runs in bounded memory.
// A store failure before the first row answers 503; after it, the stream is cut short (the
// client sees a truncated body, and the log says why).
func (a *API) handleOutcomes() echo.HandlerFunc {
	return func(c echo.Context) error {
		q, err := parseOutcomeQuery(c.QueryParams(), c.Request().Header.Get(echo.HeaderAccept), time.Now())
		if err != nil {
			return err
		}
		w := c.Response()
		var cw *csv.Writer
		var enc *json.Encoder
		started := false
		start := func() error {
			started = true
			if q.csv {
				w.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
				w.WriteHeader(http.StatusOK)
				cw = csv.NewWriter(w)
				return cw.Write(outcomeColumns)
			}
			w.Header().Set(echo.HeaderContentType, "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			enc = json.NewEncoder(w)
			return nil
		}
		err = a.svc.Outcomes(c.Request().Context(), q.since, q.until, func(l *bridge.Interaction) error {
			if !started {
				if err := start(); err != nil {
					return err
				}
			}
			row := outcomeRow(l)
			if q.csv {
				return cw.Write(row.csvRecord())
			}
			return enc.Encode(row)
		})
		if err != nil && !started {
			return err
		}
		if err != nil {
			a.log.Warn("outcome export cut short", "err", err)
			return nil
		}
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		if cw != nil {
			cw.Flush()
			return cw.Error()
		}
		return nil
	}
}
