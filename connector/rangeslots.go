package connector

import (
	"context"
	"sync"
)

// rangeSlots are the Options.ParallelRanges slots the ranges of every
// table of a run share (ranges.go): each range being read holds one.
//
// While more than one table of the run may still load in ranges, a table
// holds at most half of them (rounded up), so that two tables' ranges read
// at once; the last such table may hold them all. Why: a table's ranges
// write through one batch writer, one INSERT at a time, and the largest
// table, whose ranges start first, held every slot while the other
// tables' ranges waited for it. A timeline of BenchmarkRemoteSync at 100k
// leads (AMPEL_BENCH_TIMELINE, 2026-12-01, quiet machine) showed lead's
// eight ranges alone from 1.2 s to 4.3 s of a 10.8 s cold sync, waiting
// for their table's INSERTs (20,000 rows in 0.6–0.85 s each) and for the
// memory budget, with the machine's two cores half idle; from then on,
// with several tables' ranges at once, both cores were busy to the end.
type rangeSlots struct {
	mu   sync.Mutex
	size int // Options.ParallelRanges, at least 1
	used int
	// pending counts the run's tables that may still load in ranges
	// (by their row counts, rangesFor); 0 or 1: no share applies
	pending int
	// changed is closed, and replaced, when a slot is freed or pending
	// drops: a waiting range looks again
	changed chan struct{}
}

func newRangeSlots(size int) *rangeSlots {
	return &rangeSlots{size: max(1, size), changed: make(chan struct{})}
}

// share is what one table may hold now. s.mu is held.
func (s *rangeSlots) share() int {
	if s.pending > 1 {
		return (s.size + 1) / 2
	}
	return s.size
}

// wake lets the waiting ranges look again. s.mu is held.
func (s *rangeSlots) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setPending says how many tables of the run may load in ranges.
func (s *rangeSlots) setPending(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = n
	s.wake()
}

// tableDone says one of those tables is done.
func (s *rangeSlots) tableDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending > 0 {
		s.pending--
		s.wake()
	}
}

// take waits for a slot for a range of the table whose slots held
// counts (guarded by s.mu).
func (s *rangeSlots) take(ctx context.Context, held *int) error {
	for {
		s.mu.Lock()
		if s.used < s.size && *held < s.share() {
			s.used++
			*held++
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// give frees a slot taken with held.
func (s *rangeSlots) give(held *int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	*held--
	s.wake()
}
