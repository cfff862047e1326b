package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/adapters/acdmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/crmmock"
	"github.com/mediabar-bridge/mediabar-bridge/adapters/httpapi"
	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// The chaos checker: pure functions from what a run recorded (chaosEvidence) to the
// invariants it broke. Nothing here talks to a process, so chaos_test.go feeds it hand-built
// histories with each kind of violation.

// Violation kinds, one per invariant.
const (
	vNotTerminal      = "not-terminal"       // a chat, ACD interaction/routing or bridge leg never ended
	vLate             = "late"               // a leg ended, but after the deadline
	vUnacknowledged   = "unacknowledged"     // the bridge ended a leg but the ACD never applied it (nor dead-lettered)
	vTwoOutcomes      = "two-outcomes"       // one leg both requeued and completed at the ACD
	vDoubleAssignment = "double-assignment"  // a chat with two agents at once in the CRM, or completed by two
	vOrphan           = "orphan"             // assigned in the CRM, agent never told, not requeued
	vDuplicateACDCall = "duplicate-acd-call" // the ACD applied the same call twice
	vDescriptor       = "descriptor"         // an ended agent leg without exactly one outcome descriptor
	vNoTTL            = "no-ttl"             // a Redis key without a TTL that should have one
)

// crmFeedEvent is one event of the mock CRM's feed, as the run's recorder read it.
type crmFeedEvent struct {
	Seq       int64     `json:"seq"`
	Type      string    `json:"type"`
	ChatID    string    `json:"chat_id,omitempty"`
	Agent     string    `json:"agent_id,omitempty"`
	Cause     string    `json:"cause,omitempty"`
	EndReason string    `json:"end_reason,omitempty"`
	At        time.Time `json:"at"`
}

// keyTTL is one Redis key of the run and its TTL (negative: none).
type keyTTL struct {
	Key string        `json:"key"`
	TTL time.Duration `json:"ttl"`
}

// noTTLRule allows keys under a prefix to have no TTL, and says why.
type noTTLRule struct {
	Prefix string `json:"prefix"`
	Why    string `json:"why"`
}

// chaosEvidence is everything the checker reads.
type chaosEvidence struct {
	Deadline time.Duration
	Ops      []chaosOp
	// CRMEvents is the whole CRM feed of the run, in sequence order.
	CRMEvents []crmFeedEvent
	// CRMChats is the CRM's final state of every chat.
	CRMChats []crmmock.ChatState
	// ACDCalls is every /acd/v1 call the ACD received; ACDInteractions every interaction.
	ACDCalls        []acdmock.Call
	ACDInteractions []acdmock.InteractionView
	// Legs is every leg the bridge stored for the run's interactions, final.
	Legs []*bridge.Interaction
	// Outcomes is the admin outcome export of the run.
	Outcomes    []httpapi.OutcomeRow
	DeadLetters []bridge.DeadLetter
	Keys        []keyTTL
	NoTTL       []noTTLRule
}

// violation is one broken invariant, with what it concerns.
type violation struct {
	Kind          string `json:"kind"`
	InteractionID string `json:"interaction_id,omitempty"`
	RoutingID     string `json:"routing_id,omitempty"`
	ChatID        string `json:"chat_id,omitempty"`
	Detail        string `json:"detail"`
	// Timeline and History are filled by the run for printing: the interaction's timeline
	// from the bridge and the history entries about it.
	Timeline []string  `json:"timeline,omitempty"`
	History  []chaosOp `json:"history,omitempty"`
	// CRM is the chat's CRM feed (its assignment history).
	CRM []crmFeedEvent `json:"crm,omitempty"`
}

// checkChaos runs every invariant over the evidence; violations come sorted by kind, then
// interaction.
func checkChaos(ev chaosEvidence) []violation {
	ix := indexEvidence(ev)
	var out []violation
	out = append(out, checkTerminal(ev, ix)...)
	out = append(out, checkACDOutcomes(ev, ix)...)
	out = append(out, checkAssignments(ev, ix)...)
	out = append(out, checkDuplicateCalls(ev)...)
	out = append(out, checkDescriptors(ev)...)
	out = append(out, checkTTLs(ev)...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].InteractionID < out[j].InteractionID
	})
	return out
}

// evidenceIndex is the evidence keyed the ways the checks look it up.
type evidenceIndex struct {
	legByKey      map[bridge.LegKey]*bridge.Interaction
	legsByChat    map[string][]*bridge.Interaction
	routingByKey  map[bridge.LegKey]acdmock.RoutingView
	applied       map[string]int // kind + "/" + routing id → applied calls
	deadLettered  map[string]bool
	observedLegs  map[bridge.LegKey]bool
	chatsCreated  []string
	chatCreatedAt map[string]time.Time
}

func indexEvidence(ev chaosEvidence) evidenceIndex {
	ix := evidenceIndex{
		legByKey: map[bridge.LegKey]*bridge.Interaction{}, legsByChat: map[string][]*bridge.Interaction{},
		routingByKey: map[bridge.LegKey]acdmock.RoutingView{}, applied: map[string]int{},
		deadLettered: map[string]bool{}, observedLegs: map[bridge.LegKey]bool{}, chatCreatedAt: map[string]time.Time{},
	}
	for _, l := range ev.Legs {
		ix.legByKey[l.Key()] = l
		ix.legsByChat[l.ChatID] = append(ix.legsByChat[l.ChatID], l)
	}
	for _, in := range ev.ACDInteractions {
		for _, r := range in.Routings {
			ix.routingByKey[bridge.LegKey{InteractionID: in.ID, RoutingID: r.RoutingID}] = r
		}
	}
	for _, c := range ev.ACDCalls {
		if c.Applied {
			ix.applied[c.Kind+"/"+c.RoutingID]++
		}
	}
	for _, d := range ev.DeadLetters {
		ix.deadLettered[string(d.Call.Kind)+"/"+d.Call.RoutingID] = true
	}
	for _, op := range ev.Ops {
		switch {
		case op.F == fObserve && op.Type == opOK:
			ix.observedLegs[bridge.LegKey{InteractionID: op.InteractionID, RoutingID: op.RoutingID}] = true
		case op.F == fCreateChat && op.Type == opOK && op.ChatID != "":
			ix.chatsCreated = append(ix.chatsCreated, op.ChatID)
			ix.chatCreatedAt[op.ChatID] = op.Time
		}
	}
	return ix
}

// checkTerminal: every chat the run created ended in the CRM; every ACD interaction and
// routing ended; every bridge leg is terminal, and ended within the deadline of its routing.
func checkTerminal(ev chaosEvidence, ix evidenceIndex) []violation {
	var out []violation
	chats := map[string]crmmock.ChatState{}
	for _, c := range ev.CRMChats {
		chats[c.ChatID] = c
	}
	for _, id := range ix.chatsCreated {
		c, ok := chats[id]
		switch {
		case !ok:
			out = append(out, violation{Kind: vNotTerminal, ChatID: id, Detail: "chat created by a customer is unknown to the CRM at the end"})
		case c.State != crmmock.StateConcluded:
			out = append(out, violation{Kind: vNotTerminal, ChatID: id,
				Detail: fmt.Sprintf("CRM chat still %s (agent %q) at the end: the customer was never served nor let go", c.State, c.AgentAccountID)})
		}
	}
	for _, in := range ev.ACDInteractions {
		if in.State != acdmock.StateCompleted && in.State != acdmock.StateAbandoned {
			out = append(out, violation{Kind: vNotTerminal, InteractionID: in.ID, ChatID: in.ChatID,
				Detail: fmt.Sprintf("ACD interaction still %s at the end (agent %q, routing %q)", in.State, in.AgentID, in.RoutingID)})
		}
		for _, r := range in.Routings {
			switch r.State {
			case acdmock.StateRequeued, acdmock.StateCompleted, acdmock.StateRevoked:
			default:
				out = append(out, violation{Kind: vNotTerminal, InteractionID: in.ID, RoutingID: r.RoutingID, ChatID: in.ChatID,
					Detail: fmt.Sprintf("ACD routing to %s still %s at the end", r.AgentID, r.State)})
			}
		}
	}
	for _, l := range ev.Legs {
		if !l.State.Terminal() {
			out = append(out, violation{Kind: vNotTerminal, InteractionID: l.InteractionID, RoutingID: l.RoutingID, ChatID: l.ChatID,
				Detail: fmt.Sprintf("bridge leg of agent %s still %s (code %q) at the end", l.AgentID, l.State, l.Code)})
			continue
		}
		if took := l.UpdatedAt.Sub(l.RoutedAt); ev.Deadline > 0 && took > ev.Deadline {
			out = append(out, violation{Kind: vLate, InteractionID: l.InteractionID, RoutingID: l.RoutingID, ChatID: l.ChatID,
				Detail: fmt.Sprintf("leg ended %s after it was routed (state %s, code %q), deadline %s", took.Round(time.Millisecond), l.State, l.Code, ev.Deadline)})
		}
	}
	return out
}

// checkACDOutcomes: each ended leg has exactly one outcome the ACD applied: requeued (the
// ACD applied the requeue), completed (the ACD applied the complete), revoked (the ACD ended
// it itself); or its call was dead-lettered (kept and alerted on).
func checkACDOutcomes(ev chaosEvidence, ix evidenceIndex) []violation {
	var out []violation
	for _, l := range ev.Legs {
		if !l.State.Terminal() {
			continue // reported by checkTerminal
		}
		rid := l.RoutingID
		req, comp := ix.applied[acdmock.KindRequeue+"/"+rid], ix.applied[acdmock.KindComplete+"/"+rid]
		v := violation{InteractionID: l.InteractionID, RoutingID: rid, ChatID: l.ChatID}
		if req > 0 && comp > 0 {
			v.Kind, v.Detail = vTwoOutcomes, fmt.Sprintf("the ACD applied both a requeue (%d) and a complete (%d) for this leg", req, comp)
			out = append(out, v)
			continue
		}
		switch {
		case l.State == bridge.StateRevoked:
			if r, ok := ix.routingByKey[l.Key()]; ok && r.State != acdmock.StateRevoked && req == 0 && comp == 0 {
				v.Kind, v.Detail = vUnacknowledged, fmt.Sprintf("bridge leg revoked but the ACD routing is %s", r.State)
				out = append(out, v)
			}
		case l.Requeued:
			if req == 0 && !ix.deadLettered[acdmock.KindRequeue+"/"+rid] {
				v.Kind, v.Detail = vUnacknowledged, fmt.Sprintf("bridge requeued the leg (state %s, code %q) but the ACD never applied the requeue and it is not dead-lettered", l.State, l.Code)
				out = append(out, v)
			}
		default: // completed without a requeue
			if comp == 0 && !ix.deadLettered[acdmock.KindComplete+"/"+rid] {
				v.Kind, v.Detail = vUnacknowledged, fmt.Sprintf("bridge completed the leg (code %q) but the ACD never applied the complete and it is not dead-lettered", l.Code)
				out = append(out, v)
			}
		}
	}
	return out
}

// assignment is one stretch of a chat owned by one agent in the CRM.
type assignment struct {
	chatID, agent string
	from          time.Time
	released      string // the event that ended it; "" while open
}

// checkAssignments reads the CRM's assignment history (its event feed): no chat offered to an
// agent while another agent still has it; every assignment told to its agent (the agent's
// media bar showed the leg) or given back (the bridge requeued the leg and the ACD applied
// it). And no chat was worked to completion by two agents.
func checkAssignments(ev chaosEvidence, ix evidenceIndex) []violation {
	var out []violation
	open := map[string]*assignment{}
	var all []*assignment
	for _, e := range ev.CRMEvents {
		switch e.Type {
		case crmmock.EventEngagementOffered:
			if a := open[e.ChatID]; a != nil && a.agent != e.Agent {
				out = append(out, violation{Kind: vDoubleAssignment, ChatID: e.ChatID,
					Detail: fmt.Sprintf("CRM offered the chat to %s (seq %d) while %s still had it (since %s)", e.Agent, e.Seq, a.agent, a.from.Format(time.RFC3339Nano))})
			}
			a := &assignment{chatID: e.ChatID, agent: e.Agent, from: e.At}
			open[e.ChatID] = a
			all = append(all, a)
		case crmmock.EventEngagementAccepted:
			if a := open[e.ChatID]; a == nil || a.agent != e.Agent {
				holder := "nobody"
				if a != nil {
					holder = a.agent
				}
				out = append(out, violation{Kind: vDoubleAssignment, ChatID: e.ChatID,
					Detail: fmt.Sprintf("CRM: %s accepted the chat (seq %d) while %s had it", e.Agent, e.Seq, holder)})
			}
		case crmmock.EventEngagementDeclined, crmmock.EventEngagementTimeout, crmmock.EventEngagementRequeued, crmmock.EventEngagementConcluded:
			if a := open[e.ChatID]; a != nil && (a.agent == e.Agent || e.Type == crmmock.EventEngagementConcluded) {
				a.released = e.Type
				delete(open, e.ChatID)
			}
		}
	}
	for _, a := range all {
		leg := legOfAssignment(ix.legsByChat[a.chatID], a)
		if leg == nil {
			out = append(out, violation{Kind: vOrphan, ChatID: a.chatID,
				Detail: fmt.Sprintf("CRM assigned the chat to %s at %s but the bridge has no leg of it for that agent", a.agent, a.from.Format(time.RFC3339Nano))})
			continue
		}
		told := ix.observedLegs[leg.Key()]
		givenBack := leg.Requeued && (ix.applied[acdmock.KindRequeue+"/"+leg.RoutingID] > 0 || ix.deadLettered[acdmock.KindRequeue+"/"+leg.RoutingID])
		if !told && !givenBack {
			out = append(out, violation{Kind: vOrphan, InteractionID: leg.InteractionID, RoutingID: leg.RoutingID, ChatID: a.chatID,
				Detail: fmt.Sprintf("CRM assigned the chat to %s (released by %q), the agent's media bar never showed leg state and the leg was not requeued (state %s, code %q)",
					a.agent, a.released, leg.State, leg.Code)})
		}
	}
	for chat, legs := range ix.legsByChat {
		var worked []string
		for _, l := range legs {
			if l.Descriptor != nil && l.Descriptor.Role == "RoutedTo" && l.Descriptor.Result == "Completed" {
				worked = append(worked, l.AgentID+" ("+l.RoutingID+")")
			}
		}
		if len(worked) > 1 {
			slices.Sort(worked)
			out = append(out, violation{Kind: vDoubleAssignment, InteractionID: legs[0].InteractionID, ChatID: chat,
				Detail: "chat worked to completion by more than one agent: " + strings.Join(worked, ", ")})
		}
	}
	return out
}

// legOfAssignment finds the bridge leg a CRM assignment belongs to: the newest leg of the
// chat for that agent's account routed no later than the assignment.
func legOfAssignment(legs []*bridge.Interaction, a *assignment) *bridge.Interaction {
	var best *bridge.Interaction
	for _, l := range legs {
		if l.CRMAccountID != a.agent || l.RoutedAt.After(a.from.Add(time.Second)) { // clocks of one machine; 1s slack for rounding
			continue
		}
		if best == nil || l.RoutedAt.After(best.RoutedAt) {
			best = l
		}
	}
	return best
}

// checkDuplicateCalls: the ACD applied each leg's requeue, complete and accept at most once,
// and created at most one interaction per chat.
func checkDuplicateCalls(ev chaosEvidence) []violation {
	var out []violation
	perLeg := map[string][]acdmock.Call{}
	perChat := map[string][]string{}
	for _, c := range ev.ACDCalls {
		if !c.Applied {
			continue
		}
		switch c.Kind {
		case acdmock.KindRequeue, acdmock.KindComplete, acdmock.KindAccept:
			k := c.Kind + "/" + c.InteractionID + "/" + c.RoutingID
			perLeg[k] = append(perLeg[k], c)
		case acdmock.KindCreate:
			perChat[c.ChatID] = append(perChat[c.ChatID], c.InteractionID)
		}
	}
	for _, calls := range perLeg {
		if len(calls) > 1 {
			keys := make([]string, len(calls))
			for i, c := range calls {
				keys[i] = c.IdempotencyKey
			}
			out = append(out, violation{Kind: vDuplicateACDCall, InteractionID: calls[0].InteractionID, RoutingID: calls[0].RoutingID,
				Detail: fmt.Sprintf("ACD applied %s %d times (idempotency keys %s)", calls[0].Kind, len(calls), strings.Join(keys, ", "))})
		}
	}
	for chat, ids := range perChat {
		if len(ids) > 1 {
			out = append(out, violation{Kind: vDuplicateACDCall, ChatID: chat, InteractionID: ids[0],
				Detail: fmt.Sprintf("ACD created %d interactions for one chat: %s", len(ids), strings.Join(ids, ", "))})
		}
	}
	return out
}

// checkDescriptors: the outcome export has exactly one row per ended leg, with a descriptor.
func checkDescriptors(ev chaosEvidence) []violation {
	var out []violation
	rows := map[bridge.LegKey][]httpapi.OutcomeRow{}
	for _, r := range ev.Outcomes {
		k := bridge.LegKey{InteractionID: r.InteractionID, RoutingID: r.RoutingID}
		rows[k] = append(rows[k], r)
	}
	for _, l := range ev.Legs {
		if !l.State.Terminal() {
			continue
		}
		rs := rows[l.Key()]
		v := violation{Kind: vDescriptor, InteractionID: l.InteractionID, RoutingID: l.RoutingID, ChatID: l.ChatID}
		switch {
		case len(rs) == 0:
			v.Detail = fmt.Sprintf("ended leg (state %s) missing from the outcome export", l.State)
		case len(rs) > 1:
			ds := make([]string, len(rs))
			for i, r := range rs {
				ds[i] = descriptorText(r)
			}
			v.Detail = fmt.Sprintf("leg exported %d times: %s", len(rs), strings.Join(ds, "; "))
		case rs[0].Role == "" || rs[0].Result == "":
			v.Detail = fmt.Sprintf("leg exported without a descriptor (state %s, code %q)", l.State, l.Code)
		default:
			continue
		}
		out = append(out, v)
	}
	return out
}

// checkTTLs: every key has a TTL unless a rule allows it (with its reason).
func checkTTLs(ev chaosEvidence) []violation {
	var out []violation
	for _, k := range ev.Keys {
		if k.TTL >= 0 {
			continue
		}
		if slices.ContainsFunc(ev.NoTTL, func(r noTTLRule) bool { return strings.HasPrefix(k.Key, r.Prefix) }) {
			continue
		}
		out = append(out, violation{Kind: vNoTTL, Detail: fmt.Sprintf("key %s has no TTL", k.Key)})
	}
	return out
}
