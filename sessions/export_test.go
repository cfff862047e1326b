package sessions

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Test hooks into the round-trip combiner (combine.go).

// RoundTripForTest is roundTrip with the pipeline seen as a plain redis.Pipeliner.
func (s *Store) RoundTripForTest(ctx context.Context, queue func(p redis.Pipeliner)) {
	s.roundTrip(ctx, func(p *pipe) { queue(p.Pipeliner) })
}

// ObservePipelinesForTest calls seen with the command count of each combined pipeline sent.
func (s *Store) ObservePipelinesForTest(seen func(commands int)) {
	send := s.comb.send
	s.comb.send = func(ctx context.Context, p *pipe) {
		seen(p.Len())
		send(ctx, p)
	}
}

// CombinerStateForTest is the combiner's pipelines in flight and requests waiting.
func (s *Store) CombinerStateForTest() (running, waiting int) {
	s.comb.mu.Lock()
	defer s.comb.mu.Unlock()
	return s.comb.running, len(s.comb.waiting)
}
