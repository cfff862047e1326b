package crmmock

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
)

// Fault makes routing API calls fail the way a real server or network can, on both facades
// (an op names the operation, whichever facade serves it). Exactly one effect (ResultCode,
// HTTPStatus, Hang, Malformed, Drop or LoseAnswer) may be set; DelayMS may be set alone
// (answer normally, late) or together with an effect (wait, then fail).
type Fault struct {
	// Op is the operation it applies to (OpChatRouted, ...); "" or "*" means every API op.
	Op string `json:"op"`
	// ResultCode answers HTTP 200 with this resultCode without evaluating the request. Any
	// code is accepted (UNKNOWN_ERROR, RNW_API_EXCEPTION, or one the client does not know).
	ResultCode string `json:"resultCode,omitempty"`
	// HTTPStatus answers with this HTTP status and a small JSON error body.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// DelayMS waits this long (real time) before answering.
	DelayMS int `json:"delayMs,omitempty"`
	// Hang holds the request until the client gives up (or the server is closed).
	Hang bool `json:"hang,omitempty"`
	// Malformed answers HTTP 200 with a body that is not valid JSON.
	Malformed bool `json:"malformed,omitempty"`
	// Drop closes the TCP connection without answering (the request is not evaluated).
	Drop bool `json:"drop,omitempty"`
	// LoseAnswer evaluates the request as usual (a route is made and remembered for
	// replay), then closes the TCP connection instead of answering: the answer is lost on
	// the way back.
	LoseAnswer bool `json:"loseAnswer,omitempty"`
	// Count is how many requests the fault affects before it is removed; 0 = until cleared.
	Count int `json:"count,omitempty"`
	// Percent is the chance (1-100) that a matching request is affected; 0 = every one.
	Percent int `json:"percent,omitempty"`
}

// activeFault is an injected fault and how many more requests it may affect.
type activeFault struct {
	Fault
	left int // remaining affected requests; 0 = unlimited
}

// validate checks f and returns it normalised (Op "*" becomes "").
func (f Fault) validate() (Fault, error) {
	if f.Op == "*" {
		f.Op = ""
	}
	if f.Op != "" && !slices.Contains(apiOps, f.Op) {
		return f, invalid("op", "unknown op %q (want one of %s, or \"*\")", f.Op, strings.Join(apiOps, ", "))
	}
	effects := 0
	for _, set := range []bool{f.ResultCode != "", f.HTTPStatus != 0, f.Hang, f.Malformed, f.Drop, f.LoseAnswer} {
		if set {
			effects++
		}
	}
	switch {
	case effects > 1:
		return f, invalid("resultCode", "set only one of resultCode, httpStatus, hang, malformed, drop, loseAnswer")
	case effects == 0 && f.DelayMS <= 0:
		return f, invalid("op", "fault has no effect: set resultCode, httpStatus, delayMs, hang, malformed, drop or loseAnswer")
	case f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599):
		return f, invalid("httpStatus", "httpStatus %d is not an HTTP status", f.HTTPStatus)
	case f.DelayMS < 0:
		return f, invalid("delayMs", "delayMs must not be negative")
	case f.Count < 0:
		return f, invalid("count", "count must not be negative")
	case f.Percent < 0 || f.Percent > 100:
		return f, invalid("percent", "percent must be between 0 and 100")
	}
	return f, nil
}

// InjectFault adds a fault. Faults apply in the order injected; the first that matches a
// request (op and percent) is the one applied.
func (s *Server) InjectFault(f Fault) error {
	f, err := f.validate()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.faults = append(s.w.faults, &activeFault{Fault: f, left: f.Count})
	return nil
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.faults = nil
}

// takeFaultLocked picks the fault that applies to a request for op (if any) and uses up one
// of its count.
func (s *Server) takeFaultLocked(op string) (Fault, bool) {
	for i, af := range s.w.faults {
		if af.Op != "" && af.Op != op {
			continue
		}
		if af.Percent > 0 && af.Percent < 100 && rand.IntN(100) >= af.Percent {
			continue
		}
		if af.left > 0 {
			af.left--
			if af.left == 0 {
				s.w.faults = slices.Delete(s.w.faults, i, i+1)
			}
		}
		return af.Fault, true
	}
	return Fault{}, false
}

// faultStatusBody is the body of an injected HTTP status.
func faultStatusBody(status int) map[string]string {
	return map[string]string{"error": "injected fault: " + http.StatusText(status)}
}

// malformedBody is what a Malformed fault answers: JSON cut short, in the facade's own
// spelling so that only the cut makes it unreadable.
func malformedBody(codeField string) []byte { return []byte(`{"` + codeField + `":"SUCC`) }
