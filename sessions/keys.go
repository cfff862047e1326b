package sessions

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// KeySpace builds every Redis key (and the one pub/sub channel) the store uses. All keys live
// under one versioned prefix; ids are path-escaped so that no id can contain a hash-tag brace,
// a '/' separator or a space.
//
// Only the three keys of one leg (record, fence counter, lease) are ever touched by one Lua
// script, and they share the hash tag {<interaction>/<routing>}, so every script is
// single-slot and safe on Redis Cluster. Everything else is a single-key command.
type KeySpace struct{ prefix string }

func newKeySpace(prefix string) KeySpace {
	if strings.ContainsAny(prefix, "{} ") {
		panic(fmt.Sprintf("sessions: key prefix %q must not contain braces or spaces", prefix))
	}
	return KeySpace{prefix: prefix}
}

// Prefix is the namespace every key starts with (followed by ':').
func (k KeySpace) Prefix() string { return k.prefix }

// OpenLegs indexes legs not yet terminal by when the reconciler should look at them next
// (sorted set, score = ms; every write of the leg resets it to the write's time).
func (k KeySpace) OpenLegs() string { return k.prefix + ":open-legs" }

// Outcomes indexes terminal legs by the time they ended (sorted set, score = ms).
func (k KeySpace) Outcomes() string { return k.prefix + ":outcomes" }

// Leg is the leg record: a hash {ver, json}.
func (k KeySpace) Leg(key bridge.LegKey) string { return k.prefix + ":leg:{" + legMember(key) + "}" }

// Fence is the leg's fencing counter, incremented by every lease acquisition.
func (k KeySpace) Fence(key bridge.LegKey) string { return k.Leg(key) + ":fence" }

// Lease is the leg's lease; its value is the holder's fence.
func (k KeySpace) Lease(key bridge.LegKey) string { return k.Leg(key) + ":lease" }

// AgentLegs is the set of the agent's legs that are not terminal yet.
func (k KeySpace) AgentLegs(agentID string) string {
	return k.prefix + ":agent-legs:" + esc(agentID)
}

// AgentSession is the agent's session record (JSON).
func (k KeySpace) AgentSession(agentID string) string {
	return k.prefix + ":agent-session:" + esc(agentID)
}

// InteractionLegs is the sorted set of an interaction's legs (routing ids scored by RoutedAt).
func (k KeySpace) InteractionLegs(interactionID string) string {
	return k.prefix + ":interaction-legs:" + esc(interactionID)
}

// Timeline is the capped list of an interaction's timeline entries.
func (k KeySpace) Timeline(interactionID string) string {
	return k.prefix + ":timeline:" + esc(interactionID)
}

// Chat is the sorted set of legs of one CRM chat (scored by RoutedAt; newest wins).
func (k KeySpace) Chat(site, chatID string) string {
	return k.prefix + ":chat:" + esc(site) + "/" + esc(chatID)
}

// AgentAccount maps a site's CRM agent account to the logged-in ACD agent id, so CRM agent
// events (keyed by account) reach the right media bar.
func (k KeySpace) AgentAccount(site, accountID string) string {
	return k.prefix + ":agent-account:" + esc(site) + "/" + esc(accountID)
}

// Lock is a named singleton lock; LockFence its fence counter and Cursor the position the
// holder has reached. All three share a hash tag, so the fenced cursor write is one slot.
func (k KeySpace) Lock(name string) string { return k.prefix + ":lock:{" + esc(name) + "}" }

// LockFence counts acquisitions of a named lock.
func (k KeySpace) LockFence(name string) string { return k.Lock(name) + ":fence" }

// Cursor is the position of the named lock's job (e.g. the CRM event sequence consumed).
func (k KeySpace) Cursor(name string) string { return k.Lock(name) + ":cursor" }

// Delivery marks a webhook event id as seen.
func (k KeySpace) Delivery(eventID string) string { return k.prefix + ":delivery:" + esc(eventID) }

// Events is the agent's event stream.
func (k KeySpace) Events(agentID string) string { return k.prefix + ":events:" + esc(agentID) }

// EventsChannel is the single pub/sub channel announcing new events for every agent.
func (k KeySpace) EventsChannel() string { return k.prefix + ":events" }

// Queue is a work queue's stream (consumer group "workers").
func (k KeySpace) Queue(name string) string { return k.QueuePrefix() + esc(name) }

// ClaimedQueue is the stream of a queue's claimed items (bridge.QueueItem.Claim): each is
// read for its claiming consumer as it is added, so no consumer ever reads this stream; they
// only reclaim from it. Queue names are the bridge's own constants, none ending in ":claimed".
func (k KeySpace) ClaimedQueue(name string) string { return k.Queue(name) + ":claimed" }

// QueuePrefix starts every work-queue stream key. These are the only keys without a TTL.
func (k KeySpace) QueuePrefix() string { return k.prefix + ":queue:" }

// legMember is the text form of a leg key used in indexes and hash tags.
func legMember(key bridge.LegKey) string { return esc(key.InteractionID) + "/" + esc(key.RoutingID) }

func parseLegMember(m string) (bridge.LegKey, error) {
	iid, rid, ok := strings.Cut(m, "/")
	if !ok {
		return bridge.LegKey{}, fmt.Errorf("leg member %q: no '/'", m)
	}
	var err error
	var key bridge.LegKey
	if key.InteractionID, err = url.PathUnescape(iid); err != nil {
		return bridge.LegKey{}, fmt.Errorf("leg member %q: %w", m, err)
	}
	if key.RoutingID, err = url.PathUnescape(rid); err != nil {
		return bridge.LegKey{}, fmt.Errorf("leg member %q: %w", m, err)
	}
	return key, nil
}

// esc escapes an id for use inside a key: PathEscape leaves ordinary ids readable and
// escapes '/', '{', '}', spaces and the like.
func esc(id string) string { return url.PathEscape(id) }
