package dataverse

import (
	"context"
	"sync"
	"sync/atomic"
)

// The memory budget. A sync reads many tables at once, large ones in
// several ranges, and every read holds its current page: the response
// body and the records decoded from it, 15–20 MB for 5000 rows of a wide
// table. How many of those are in memory at once is what the sync's own
// memory grows with, so the pages of all reads of a Client share one
// byte budget (Config.MemoryBudget): before a page's body is read, its
// read takes the page's expected size from the budget (the size of the
// page before of the same read, else of the same table, else the
// Content-Length, else firstPageGuess) and waits while the budget does
// not have it; once the page is decoded, what it really holds (the body's
// buffer and the records' storage) is charged beside it. The page gives
// it all back when released (Page.Release, the caller's next
// Reader.Next, or Reader.Close). So more tables or ranges at once wait
// for budget instead of adding pages, and the memory of pages stays near
// the budget whatever the data's size. The released bodies kept for later
// pages (freeBodies, read.go) only fill what the pages leave of it.
//
// The wait comes after the response's headers: the round trip's latency
// (most of a remote read's time) overlaps whatever the budget holds; only
// reading and decoding the body waits. A waiting response keeps its
// request slot (Config.MaxConcurrency) and leaves the body with the
// server; over HTTP/2 up to a stream's flow-control window of it
// (4 MB in Go's transport) waits in the client.
//
// No deadlock: a read waits only for the page it is about to read, and
// holds nothing of the budget then but its caller's current page, which
// the caller gives back without waiting for any read (the sync writes
// the page's rows to its batch, then releases it). A page fetched ahead
// waits for its caller, who takes it at its next Next. A page larger than
// the whole budget waits until nothing else is held, then goes alone.
// Sizes found only after the read (a page larger than expected) are
// charged without waiting, so the budget can be passed by what one page
// was underestimated; the next page of the read is expected at the size
// of this one.

// DefaultMemoryBudget is the default of Config.MemoryBudget: two full
// pages of a wide table (a simulated lead page of 5000 rows is 16 MB of
// body and 18 MB of decoded fields), three or four of the others' — more
// than two cores decode and insert at once (BenchmarkSyncPeakRSS in
// cmd/ampel, and docs/performance.md, have the figures).
const DefaultMemoryBudget = 64 << 20

// MemoryBudget is the bytes the pages of the client's reads may hold at
// once (Config.MemoryBudget after its default), or 0 when they are not
// bounded.
func (c *Client) MemoryBudget() int64 {
	if c.budget == nil {
		return 0
	}
	return c.budget.size
}

// firstPageGuess is what a table's first page is expected to take before
// any page of the table was read: small, since most tables' first pages
// are; a larger page is charged when it is read, and the table's next
// pages are expected at its size.
const firstPageGuess = 1 << 20

// budget is a byte budget shared by the reads of a Client: a counting
// semaphore whose waiters are served in order. Its size is fixed; used
// can pass it by what charge adds.
type budget struct {
	size int64

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter // in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(size int64) *budget { return &budget{size: size} }

// take waits until n bytes (at most the budget's size) fit, takes them and
// returns what it took. Waiters are served in arrival order, so a large
// page is not overtaken forever by small ones.
func (b *budget) take(ctx context.Context, n int64) (int64, error) {
	if b == nil {
		return 0, nil
	}
	n = max(min(n, b.size), 0)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grant()
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

// charge adds n bytes without waiting: memory already in use.
func (b *budget) charge(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used += n
	b.mu.Unlock()
}

// give returns n bytes and lets waiters in.
func (b *budget) give(n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant lets in the waiters at the head that fit; b.mu is held.
func (b *budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.size && b.used > 0 {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters = b.waiters[1:]
	}
}

// inUse reports the bytes taken now (for tests).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// pageHold is what one page holds of its client's budget; given back
// once, by whichever of Release, Next and Close comes first.
type pageHold struct {
	b *budget
	n atomic.Int64
}

// held is what the page holds now.
func (h *pageHold) held() int64 {
	if h == nil {
		return 0
	}
	return h.n.Load()
}

func (h *pageHold) give() {
	if h == nil {
		return
	}
	h.b.give(h.n.Swap(0))
}
