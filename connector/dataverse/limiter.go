package dataverse

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Dataverse's documented service protection limits per user and web
// server (api-limits.md): 52 concurrent requests, 6000 requests and
// 1,200,000 ms of execution time per 5-minute sliding window.
const (
	// DefaultMaxConcurrency is the cap of requests in flight per
	// environment and application user: Dataverse's concurrency limit.
	DefaultMaxConcurrency = 52
	// initialConcurrency is where the adaptive limit starts; it doubles
	// per round of successful requests up to the cap until the first 429.
	initialConcurrency = 4
)

// Rate-limit headers Dataverse sends with every answer (documented for
// debugging; Ampel uses them to slow down before the limit is hit).
const (
	headerBurstRemaining = "x-ms-ratelimit-burst-remaining-xrm-requests"
	headerTimeRemaining  = "x-ms-ratelimit-time-remaining-xrm-requests"
)

// limiter decides how many requests to an environment may be in flight:
// an AIMD window between 1 and max. It starts at initialConcurrency and
// grows by one per successful answer (doubling per round trip) until the
// first throttling answer; after that it grows by about one per round
// trip (1/limit per answer). A 429 halves it, once per round: answers to
// requests sent before the last decrease do not decrease it again. When
// the rate-limit headers say fewer requests remain in the window than the
// limit allows in flight, the limit drops to what remains. Waiting out
// Retry-After is the transport's (pause), not the limiter's.
type limiter struct {
	mu       sync.Mutex
	max      int
	limit    float64
	slow     bool // slow start: until the first decrease
	inflight int
	peak     int    // the most requests in flight at once
	epoch    uint64 // raised by every decrease
	wake     chan struct{}
}

func newLimiter(max int) *limiter {
	l := &limiter{max: max, limit: float64(min(initialConcurrency, max)), slow: true, wake: make(chan struct{})}
	return l
}

// acquire waits for a slot and returns the epoch the request starts in.
func (l *limiter) acquire(ctx context.Context) (uint64, error) {
	for {
		l.mu.Lock()
		if l.inflight < max(1, int(l.limit)) {
			l.inflight++
			l.peak = max(l.peak, l.inflight)
			e := l.epoch
			l.mu.Unlock()
			return e, nil
		}
		wake := l.wake
		l.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// release frees a slot.
func (l *limiter) release() {
	l.mu.Lock()
	l.inflight--
	l.broadcast()
	l.mu.Unlock()
}

// broadcast wakes every waiter; l.mu is held.
func (l *limiter) broadcast() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// answered adapts the limit to an answer of a request sent in epoch.
func (l *limiter) answered(epoch uint64, status int, h http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests:
		if epoch == l.epoch {
			l.limit = max(1, l.limit/2)
			l.slow = false
			l.epoch++
		}
	case status >= 200 && status < 500:
		if l.slow {
			l.limit = min(float64(l.max), l.limit+1)
		} else {
			l.limit = min(float64(l.max), l.limit+1/l.limit)
		}
		l.broadcast()
	}
	if rem, ok := headerInt(h, headerBurstRemaining); ok && float64(rem) < l.limit {
		l.limit = max(1, float64(rem))
		l.slow = false
	}
}

// state returns the current limit and the peak in flight, for tests and
// logs.
func (l *limiter) state() (limit, peak int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit), l.peak
}

// headerInt reads a header holding a number ("5999", "1,199,999.00").
func headerInt(h http.Header, name string) (int, bool) {
	v := strings.ReplaceAll(strings.TrimSpace(h.Get(name)), ",", "")
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int(f), true
}
