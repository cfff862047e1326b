package bridge

// WorkState is what the agent is doing, in the media bar's words: idle, offered (a chat
// waits for Accept), busy (n of max chats), or wrap-up (a chat waits for Complete).
type WorkState struct {
	State string `json:"state"` // idle, offered, busy, wrap-up
	// Busy counts the agent's open interactions (each holds a CRM chat slot until completed);
	// Max is the CRM capacity reported at login (0: unknown).
	Busy int `json:"busy"`
	Max  int `json:"max,omitempty"`
	// Offered, Active and WrapUp count the open interactions by stage (a failed pop awaiting
	// Complete counts as wrap-up: it is the agent's next action either way).
	Offered int `json:"offered"`
	Active  int `json:"active"`
	WrapUp  int `json:"wrap_up"`
}

// Work states, most urgent first: a waiting offer is what the agent must act on now.
const (
	WorkIdle    = "idle"
	WorkOffered = "offered"
	WorkBusy    = "busy"
	WorkWrapUp  = "wrap-up"
)

// WorkStateOf summarises the agent's open legs. The state is the most urgent thing on the
// agent's plate: an offer, then a chat in progress, then a wrap-up, else idle.
func WorkStateOf(sess AgentSession, legs []*Interaction) WorkState {
	w := WorkState{State: WorkIdle, Max: sess.MaxSessions}
	for _, l := range legs {
		if l.State.Terminal() {
			continue
		}
		w.Busy++
		switch l.State {
		case StateOffered:
			w.Offered++
		case StateActive:
			w.Active++
		case StateWrapUp, StateFailed:
			w.WrapUp++
		}
	}
	switch {
	case w.Offered > 0:
		w.State = WorkOffered
	case w.Active > 0:
		w.State = WorkBusy
	case w.WrapUp > 0:
		w.State = WorkWrapUp
	case w.Busy > 0:
		w.State = WorkBusy // routed or popping: a slot is held, nothing to act on yet
	}
	return w
}
