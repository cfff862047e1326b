package crmmock

import (
	"fmt"
	"slices"
)

// The agents' chat index (agentchats.go) against the oracle: the scan of every chat of the
// site that answered agentChats before the index existed, kept here unchanged. The random
// walks of timers_test.go check the index after every operation and before every timer
// fires, as they check the schedule, and so does every test built on newHarness (through
// checkEveryPick).

// scanAgentChats is the former agentChats: the chats the agent is in (owner of an OFFERED
// or ACTIVE chat, or live participant) in creation order, found by looking at every chat.
func (st *site) scanAgentChats(accountID string) []*chat {
	var out []*chat
	for _, id := range st.chatOrder {
		if c := st.chats[id]; c.hasAgent(accountID) {
			out = append(out, c)
		}
	}
	return out
}

// indexMismatchLocked reports the first way the index disagrees with the scan, or nil: an
// agent listed under other chats than the scan finds (or in another order from
// agentChats), an activeSessions other than the scan's count, or a chat whose own list of
// agents (indexedAgents) disagrees with the agents' lists.
func indexMismatchLocked(s *Server) error {
	for _, name := range s.w.sortedSiteNames() {
		st := s.w.sites[name]
		listed := 0
		for _, id := range st.agentOrder {
			want := st.scanAgentChats(id)
			if got := st.agentChats(id); !slices.Equal(got, want) {
				return fmt.Errorf("site %s: agentChats(%q) = %v, the scan finds %v", name, id, chatIDs(got), chatIDs(want))
			}
			if got := st.activeSessions(id); got != len(want) {
				return fmt.Errorf("site %s: activeSessions(%q) = %d, the scan counts %d", name, id, got, len(want))
			}
			listed += len(st.agents[id].chats)
		}
		indexed := 0
		for _, id := range st.chatOrder {
			c := st.chats[id]
			for i, a := range c.indexedAgents {
				if slices.Contains(c.indexedAgents[:i], a) {
					return fmt.Errorf("site %s: chat %s lists agent %q twice in indexedAgents %q", name, c.id, a, c.indexedAgents)
				}
				ag := st.agents[a]
				if ag == nil {
					return fmt.Errorf("site %s: chat %s lists unknown agent %q in indexedAgents", name, c.id, a)
				}
				if _, ok := ag.chats[c]; !ok {
					return fmt.Errorf("site %s: chat %s lists agent %q in indexedAgents, the agent does not list the chat", name, c.id, a)
				}
			}
			indexed += len(c.indexedAgents)
		}
		if indexed != listed {
			return fmt.Errorf("site %s: the chats' indexedAgents hold %d entries, the agents' index %d", name, indexed, listed)
		}
	}
	return nil
}

func chatIDs(cs []*chat) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	return ids
}
