package crmmock

import (
	"cmp"
	"slices"
)

// This file is the index of which chats each agent is in, so that the capacity check of
// every route (activeSessions) and the end of a session (agentChats) cost what the agent's
// chats cost, not what the whole site's do.
//
// An agent is in a chat while it owns it OFFERED or ACTIVE, or is a live (OFFERED or ACTIVE)
// participant of it: chat.hasAgent is the one definition. The index is derived from that
// definition, chat by chat: each chat remembers the agents it is listed under
// (chat.indexedAgents), and reindexChat brings both sides back in line with hasAgent. Code
// that changes anything hasAgent reads (a chat's state or agentID, its participants list, a
// participant's state) calls reindexChat for that chat right after. A new chat has nobody
// in it and a new world (Reset) starts with new agents, so neither needs a call.

// reindexChat lists c under exactly the agents that are in it now (see the top of the file);
// call it after changing c's state or agentID, its participants, or one of their states.
func (st *site) reindexChat(c *chat) {
	kept := c.indexedAgents[:0]
	for _, id := range c.indexedAgents {
		if c.hasAgent(id) {
			kept = append(kept, id)
			continue
		}
		delete(st.agents[id].chats, c)
	}
	clear(c.indexedAgents[len(kept):])
	c.indexedAgents = kept
	if c.state == StateOffered || c.state == StateActive {
		st.indexAgentInChat(c, c.agentID)
	}
	for _, p := range c.participants {
		if p.live() {
			st.indexAgentInChat(c, p.agentID)
		}
	}
}

// indexAgentInChat lists c under the agent, if it is not already.
func (st *site) indexAgentInChat(c *chat, accountID string) {
	if slices.Contains(c.indexedAgents, accountID) {
		return
	}
	c.indexedAgents = append(c.indexedAgents, accountID)
	st.agents[accountID].chats[c] = struct{}{}
}

// activeSessions counts the agent's OFFERED and ACTIVE chats, owned or as a participant:
// each holds a capacity slot.
func (st *site) activeSessions(accountID string) int {
	if a := st.agents[accountID]; a != nil {
		return len(a.chats)
	}
	return 0
}

// agentChats returns the chats the agent is in (owner of an OFFERED or ACTIVE chat, or live
// participant) in creation order.
func (st *site) agentChats(accountID string) []*chat {
	a := st.agents[accountID]
	if a == nil || len(a.chats) == 0 {
		return nil
	}
	out := make([]*chat, 0, len(a.chats))
	for c := range a.chats {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y *chat) int { return cmp.Compare(x.order, y.order) })
	return out
}
