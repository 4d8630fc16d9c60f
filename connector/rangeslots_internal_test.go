package connector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRangeSlotsShare: while two tables may load in ranges, one holds at
// most half of the slots (rounded up) and the other gets the rest; once
// only one may, it takes every free slot; no table takes more than there
// are. A take that cannot be served returns its context's error.
func TestRangeSlotsShare(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel() // take returns at once: a slot, or the context's error
	s := newRangeSlots(5)
	s.setPending(2)
	var a, b int
	for range 3 {
		require.NoError(t, s.take(done, &a))
	}
	require.ErrorIs(t, s.take(done, &a), context.Canceled, "a fourth of five while another table may load in ranges")
	require.NoError(t, s.take(done, &b))
	require.NoError(t, s.take(done, &b))
	require.ErrorIs(t, s.take(done, &b), context.Canceled, "all five are taken")
	s.give(&b)
	s.give(&b)
	s.tableDone() // b's table is done: a's may hold all
	for range 2 {
		require.NoError(t, s.take(done, &a))
	}
	require.Equal(t, 5, a)
	require.ErrorIs(t, s.take(done, &a), context.Canceled, "no more than there are")
	// a waiting take goes on when a slot is freed
	got := make(chan error)
	go func() { got <- s.take(context.Background(), &b) }()
	s.give(&a)
	require.NoError(t, <-got)
	require.Equal(t, 1, b)
}
