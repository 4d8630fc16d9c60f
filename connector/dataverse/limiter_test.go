package dataverse

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLimiterAIMD drives the adaptive limit by hand: slow start doubles
// per round up to the cap, a 429 halves it once per round, growth after
// that is about one per round, and the rate-limit header lowers it to the
// requests left in the window.
func TestLimiterAIMD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLimiter(52)
	limit, _ := l.state()
	require.Equal(t, initialConcurrency, limit)
	round := func(status int, h http.Header) {
		limit, _ := l.state()
		epochs := make([]uint64, limit)
		for i := range epochs {
			e, err := l.acquire(ctx)
			require.NoError(t, err)
			epochs[i] = e
		}
		for _, e := range epochs {
			l.answered(e, status, h)
			l.release()
		}
	}
	round(200, nil)
	limit, peak := l.state()
	require.Equal(t, 2*initialConcurrency, limit, "slow start doubles per round")
	require.Equal(t, initialConcurrency, peak)
	for range 4 {
		round(200, nil)
	}
	limit, peak = l.state()
	require.Equal(t, 52, limit, "capped")
	require.Equal(t, 52, peak)

	round(http.StatusTooManyRequests, nil)
	limit, _ = l.state()
	require.Equal(t, 26, limit, "a round of 429s halves the limit once")
	round(200, nil)
	round(200, nil)
	limit, _ = l.state()
	require.Equal(t, 27, limit, "then about one more per round (26 → 26.99 → 27.96)")

	e, err := l.acquire(ctx)
	require.NoError(t, err)
	l.answered(e, 200, http.Header{"X-Ms-Ratelimit-Burst-Remaining-Xrm-Requests": {"5"}})
	l.release()
	limit, _ = l.state()
	require.Equal(t, 5, limit, "no more in flight than requests left in the window")

	e, err = l.acquire(ctx)
	require.NoError(t, err)
	l.answered(e, 200, http.Header{"X-Ms-Ratelimit-Time-Remaining-Xrm-Requests": {"2,500.00"}})
	l.release()
	limit, _ = l.state()
	require.Equal(t, 2, limit, "a second of execution time left per request in flight")
	round(200, nil)
	limit, _ = l.state()
	require.Equal(t, 3, limit, "grows back by one per round")

	// a full limiter makes the next request wait for a slot
	held := make([]uint64, limit)
	for i := range held {
		held[i], err = l.acquire(ctx)
		require.NoError(t, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.acquire(cctx)
	require.ErrorIs(t, err, context.Canceled)
	got := make(chan error)
	go func() { _, err := l.acquire(ctx); got <- err }()
	l.release()
	require.NoError(t, <-got)
}

// TestLimiterPacesToLearnedLimit: once a 429's message named the request
// limit, no more requests start in any window than it allows; the next
// one waits until the oldest leaves the window.
func TestLimiterPacesToLearnedLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLimiter(52)
	l.learnLimit("Number of requests exceeded the limit of 60 over time window of 300 seconds.")
	require.Equal(t, 60, l.rate)
	require.Equal(t, 300*time.Second, l.window)
	l.learnLimit("Number of concurrent requests exceeded the limit of 52.") // not a request limit
	require.Equal(t, 60, l.rate)

	l.learnLimit("Number of requests exceeded the limit of 3 over time window of 1 seconds.")
	start := time.Now()
	for range 3 {
		_, err := l.acquire(ctx)
		require.NoError(t, err)
		l.release()
	}
	require.Less(t, time.Since(start), 500*time.Millisecond, "three fit in the window")
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := l.acquire(cctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the fourth waits for the window")
	_, err = l.acquire(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the fourth starts a window after the first")
}
