package dataverse

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ampel/ampel/odata"
)

// codeRequestLimit is Dataverse's error code for too many requests in the
// window (api-limits.md).
const codeRequestLimit = "0x80072322"

// Stats counts the traffic of a Client or of one run.
type Stats struct {
	// Requests is every HTTP attempt sent, retries included.
	Requests int64
	// Throttled is how many answers were 429.
	Throttled int64
	// Retries is how many requests were sent again: after a 429, a 5xx or
	// a transport failure, or with a fresh token after a 401. A retry given
	// up before it went out is not counted.
	Retries int64
	// Bytes is response body bytes read (after transport decompression).
	Bytes int64
	// Waited is the time spent waiting between retries.
	Waited time.Duration
}

// Sub returns s − prev: the traffic between two snapshots.
func (s Stats) Sub(prev Stats) Stats {
	return Stats{
		Requests:  s.Requests - prev.Requests,
		Throttled: s.Throttled - prev.Throttled,
		Retries:   s.Retries - prev.Retries,
		Bytes:     s.Bytes - prev.Bytes,
		Waited:    s.Waited - prev.Waited,
	}
}

// Counter accumulates Stats; it is safe for concurrent use. Every Client
// has one (Client.Stats); WithCounter attaches another to a context so that
// a run or a table counts only its own requests.
type Counter struct {
	requests, throttled, retries, bytes, waited atomic.Int64
}

// Snapshot returns the counts so far.
func (c *Counter) Snapshot() Stats {
	return Stats{
		Requests:  c.requests.Load(),
		Throttled: c.throttled.Load(),
		Retries:   c.retries.Load(),
		Bytes:     c.bytes.Load(),
		Waited:    time.Duration(c.waited.Load()),
	}
}

type counterKey struct{}

// WithCounter returns a context whose requests are also counted in cnt.
// Contexts nest: every counter up the chain sees the request.
func WithCounter(ctx context.Context, cnt *Counter) context.Context {
	return context.WithValue(ctx, counterKey{}, append(counters(ctx)[:len(counters(ctx)):len(counters(ctx))], cnt))
}

func counters(ctx context.Context) []*Counter {
	cs, _ := ctx.Value(counterKey{}).([]*Counter)
	return cs
}

// Stats returns the client's counts since New.
func (c *Client) Stats() Stats { return c.stats.Snapshot() }

// count applies f to the client's counter and to those on ctx.
func (c *Client) count(ctx context.Context, f func(*Counter)) {
	f(c.stats)
	for _, cnt := range counters(ctx) {
		f(cnt)
	}
}

// transport limits requests in flight per environment (the limiter) and
// counts them. A slot is held from sending the request until the body is
// closed or read to the end, so waiting between retries holds none.
type transport struct {
	next http.RoundTripper
	c    *Client
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	epoch, err := t.c.env.lim.acquire(ctx)
	if err != nil {
		return nil, err
	}
	t.c.count(ctx, func(c *Counter) { c.requests.Add(1) })
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		t.c.env.lim.release()
		return nil, err
	}
	t.c.env.lim.answered(epoch, resp.StatusCode, resp.Header)
	if resp.StatusCode == http.StatusTooManyRequests {
		t.c.count(ctx, func(c *Counter) { c.throttled.Add(1) })
		// the message names the request limit and its window: learn them
		// (the error body is small; it is put back for the caller)
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		if code, msg, ok := odata.ParseErrorBody(body); ok && code == codeRequestLimit {
			t.c.env.lim.learnLimit(msg)
		}
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			t.c.pause(ra)
		}
	}
	resp.Body = &countingBody{rc: resp.Body, c: t.c, ctx: ctx}
	return resp, nil
}

type countingBody struct {
	rc   io.ReadCloser
	c    *Client
	ctx  context.Context
	once sync.Once
	n    int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil {
		b.release()
	}
	return n, err
}

func (b *countingBody) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *countingBody) release() {
	b.once.Do(func() {
		n := b.n
		b.c.count(b.ctx, func(c *Counter) { c.bytes.Add(n) })
		b.c.env.lim.release()
	})
}

// pause holds back new requests for d (or longer if already paused).
func (c *Client) pause(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.env.pauseUntil.Load()
		if cur >= until || c.env.pauseUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitPause waits out a pause set by a 429 of any request.
func (c *Client) waitPause(ctx context.Context) error {
	d := time.Until(time.Unix(0, c.env.pauseUntil.Load()))
	if d <= 0 {
		return nil
	}
	c.log.Debug("dataverse: waiting out a throttling pause", "wait", d)
	return sleep(ctx, d)
}

// envLimits are the limits of one environment and application user:
// Dataverse's service protection limits count per user, so every Client
// of the same environment and client ID in this process shares them.
type envLimits struct {
	lim *limiter
	// pauseUntil (unix ns) holds back new requests after a 429: once
	// Dataverse said when to come back, the other requests wait too
	// instead of extending the penalty.
	pauseUntil atomic.Int64
}

var (
	limitsMu sync.Mutex
	limits   = map[string]*envLimits{}
)

// limitsFor returns the shared limits of key. The key holds the
// concurrency n too, so a Client never inherits another size from an
// earlier Client of the same origin (a reused loopback port in tests, or a
// config changed in a long-running process).
func limitsFor(key string, n int) *envLimits {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	l, ok := limits[key]
	if !ok {
		l = &envLimits{lim: newLimiter(n)}
		limits[key] = l
	}
	return l
}
