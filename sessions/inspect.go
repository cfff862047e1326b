package sessions

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/mediabar-bridge/mediabar-bridge/bridge"
)

// Inspection of a queue nobody consumes (the ACD dead letters): list, read one, remove one.

// ValidItemID reports whether id can be a work item id: a Redis stream id "<ms>-<seq>" with
// both parts within 64 bits, and not the largest id (nothing comes after it).
func ValidItemID(id string) bool {
	msPart, seqPart, found := strings.Cut(id, "-")
	if !found {
		return false
	}
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	return err1 == nil && err2 == nil && (ms != math.MaxUint64 || seq != math.MaxUint64)
}

// Items lists up to limit items after the item id after ("" from the start), oldest first.
func (s *Store) Items(ctx context.Context, queue, after string, limit int) ([]bridge.WorkItem, error) {
	start := "-"
	if after != "" {
		if !ValidItemID(after) {
			return nil, fmt.Errorf("items of %s after %q: not an item id", queue, after)
		}
		start = "(" + after
	}
	msgs, err := s.client.XRangeN(ctx, s.keys.Queue(queue), start, "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", queue, err)
	}
	return workItems(msgs), nil
}

// Item returns one item (bridge.ErrNotFound if there is none with that id).
func (s *Store) Item(ctx context.Context, queue, id string) (bridge.WorkItem, error) {
	if !ValidItemID(id) {
		return bridge.WorkItem{}, fmt.Errorf("item %q of %s: %w", id, queue, bridge.ErrNotFound)
	}
	msgs, err := s.client.XRange(ctx, s.keys.Queue(queue), id, id).Result()
	if err != nil {
		return bridge.WorkItem{}, fmt.Errorf("item %s of %s: %w", id, queue, err)
	}
	if len(msgs) == 0 {
		return bridge.WorkItem{}, fmt.Errorf("item %s of %s: %w", id, queue, bridge.ErrNotFound)
	}
	return workItems(msgs)[0], nil
}

// Remove deletes an item; removing one that is gone is not an error.
func (s *Store) Remove(ctx context.Context, queue, id string) error {
	if !ValidItemID(id) {
		return nil
	}
	if err := s.client.XDel(ctx, s.keys.Queue(queue), id).Err(); err != nil {
		return fmt.Errorf("remove %s from %s: %w", id, queue, err)
	}
	return nil
}

func workItems(msgs []redis.XMessage) []bridge.WorkItem {
	out := make([]bridge.WorkItem, 0, len(msgs))
	for _, m := range msgs {
		p, _ := m.Values["payload"].(string)
		out = append(out, bridge.WorkItem{ID: m.ID, Payload: []byte(p)})
	}
	return out
}
