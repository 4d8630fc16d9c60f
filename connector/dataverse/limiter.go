package dataverse

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
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
	// 24, under half of Dataverse's 52, lets a new process (a one-shot
	// `ampel sync` from cron) send the delta of each of the 14 default
	// tables, the metadata check and WhoAmI in one round trip (from 4 they
	// went out 4, 8 and 4 at a time, three round trips:
	// BenchmarkRemoteOneShot's fresh figure), and a first sync its
	// metadata, the 14 tables' option sets, WhoAmI and the row counts (17
	// requests; at 16 the counts waited a round trip).
	initialConcurrency = 24
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
// limit allows in flight, the limit drops to what remains; likewise when
// less than a second of execution time remains per request in flight. Waiting out
// Retry-After is the transport's (pause), not the limiter's.
//
// The limiter also paces requests to the request limit once it knows it:
// Dataverse's 429 for too many requests says "Number of requests exceeded
// the limit of N over time window of S seconds." (api-limits.md), and from
// then on no more than N requests start in any S seconds. Without that,
// every slot that frees in the sliding window costs a refused request and
// a Retry-After of at least a second.
type limiter struct {
	mu       sync.Mutex
	max      int
	limit    float64
	slow     bool // slow start: until the first decrease
	inflight int
	peak     int    // the most requests in flight at once
	epoch    uint64 // raised by every decrease
	wake     chan struct{}
	// sent are the start times of the requests of the last window (or of
	// the last keepSent), oldest first; rate and window are the request
	// limit once a 429 said it (0 before)
	sent   []time.Time
	rate   int
	window time.Duration
}

// keepSent is how long start times are kept before the window is known:
// Dataverse's documented window.
const keepSent = 300 * time.Second

// requestLimitRE reads the limit from Dataverse's message for error
// 0x80072322.
var requestLimitRE = regexp.MustCompile(`limit of (\d+) over time window of (\d+) seconds`)

func newLimiter(max int) *limiter {
	l := &limiter{max: max, limit: float64(min(initialConcurrency, max)), slow: true, wake: make(chan struct{})}
	return l
}

// acquire waits for a slot (and, with a known request limit, for room in
// the window) and returns the epoch the request starts in.
func (l *limiter) acquire(ctx context.Context) (uint64, error) {
	for {
		l.mu.Lock()
		now := time.Now()
		l.forget(now)
		var until time.Duration
		if l.rate > 0 && len(l.sent) >= l.rate {
			until = l.sent[len(l.sent)-l.rate].Add(l.window).Sub(now)
		}
		if until <= 0 && l.inflight < max(1, int(l.limit)) {
			l.inflight++
			l.peak = max(l.peak, l.inflight)
			l.sent = append(l.sent, now)
			e := l.epoch
			l.mu.Unlock()
			return e, nil
		}
		wake := l.wake
		l.mu.Unlock()
		var timer <-chan time.Time
		var t *time.Timer
		if until > 0 {
			t = time.NewTimer(until)
			timer = t.C
		}
		select {
		case <-wake:
		case <-timer:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// forget drops start times older than the window; l.mu is held.
func (l *limiter) forget(now time.Time) {
	keep := keepSent
	if l.window > keep {
		keep = l.window
	}
	cut := now.Add(-keep)
	i := 0
	for i < len(l.sent) && l.sent[i].Before(cut) {
		i++
	}
	if i > 0 {
		l.sent = append(l.sent[:0], l.sent[i:]...)
	}
}

// learnLimit takes the request limit from the message of a 429 (error
// 0x80072322); other messages are ignored.
func (l *limiter) learnLimit(message string) {
	m := requestLimitRE.FindStringSubmatch(message)
	if m == nil {
		return
	}
	n, err1 := strconv.Atoi(m[1])
	secs, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || n <= 0 || secs <= 0 {
		return
	}
	l.mu.Lock()
	l.rate, l.window = n, time.Duration(secs)*time.Second
	l.mu.Unlock()
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
	// the execution time left in the window (ms): keep at least a second
	// of it per request in flight
	if ms, ok := headerInt(h, headerTimeRemaining); ok && float64(ms)/1000 < l.limit {
		l.limit = max(1, float64(ms)/1000)
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
