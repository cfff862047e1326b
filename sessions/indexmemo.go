package sessions

import (
	"sync"
	"time"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Every write of a leg rewrites its indexes, so that an index write that was lost (Redis
// failed between the leg's script and the pipeline after it) heals with the leg's next write.
// A pop writes its leg twice within a fraction of a second, though: the creation, then the
// outcome. When this replica has just written all of a leg's indexes itself, the outcome's
// full rewrite would only repeat them (seven of its eleven commands).
//
// indexMemo remembers, for memoFresh, the legs whose indexes this replica wrote in full and
// what they were written from. The next non-terminal write of such a leg, if its agent, chat
// and routing time are unchanged, consumes the entry and writes only the open-legs entry,
// whose score (the write's time: when the reconciler looks at the leg next) does change.
// Every later write rewrites everything again, so a lost index write still heals, one write
// later; a terminal write always rewrites everything (it moves the leg between indexes).
type indexMemo struct {
	mu   sync.Mutex
	legs map[bridge.LegKey]indexedAs
}

// indexedAs is what a leg's indexes were written from, and when.
type indexedAs struct {
	agentID, site, chatID string
	routedAt              int64 // UnixMicro: the interaction and chat indexes' score
	at                    time.Time
}

const (
	// memoFresh: an entry older than this is ignored (a pop's outcome comes well within it;
	// a later write rewrites everything, as it would without the memo).
	memoFresh = 10 * time.Second
	// memoMax bounds the entries; beyond it, entries are not added until stale ones are swept.
	memoMax = 10_000
)

func indexedFrom(in *bridge.Interaction, at time.Time) indexedAs {
	return indexedAs{agentID: in.AgentID, site: in.Site, chatID: in.ChatID, routedAt: in.RoutedAt.UnixMicro(), at: at}
}

// remember records that in's indexes were all written, at now.
func (m *indexMemo) remember(in *bridge.Interaction, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.legs == nil {
		m.legs = map[bridge.LegKey]indexedAs{}
	}
	if len(m.legs) >= memoMax {
		for k, e := range m.legs {
			if now.Sub(e.at) >= memoFresh {
				delete(m.legs, k)
			}
		}
		if len(m.legs) >= memoMax {
			return
		}
	}
	m.legs[in.Key()] = indexedFrom(in, now)
}

// take removes in's entry and says whether in's indexes other than the open-legs entry are
// still as this replica wrote them moments ago: in is not terminal, and its entry is fresh
// and was written from the same agent, chat and routing time.
func (m *indexMemo) take(in *bridge.Interaction, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.legs[in.Key()]
	if !ok {
		return false
	}
	delete(m.legs, in.Key())
	want := indexedFrom(in, e.at)
	return !in.State.Terminal() && now.Sub(e.at) < memoFresh && e == want
}

// forget drops in's entry (a write whose indexes failed, or that ended the leg).
func (m *indexMemo) forget(in *bridge.Interaction) {
	m.mu.Lock()
	delete(m.legs, in.Key())
	m.mu.Unlock()
}
