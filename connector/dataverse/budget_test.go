package dataverse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBudgetBoundsPagesInFlight reads one table eight times at once with
// a memory budget of a few pages: every read gets every row once and in
// order, the bytes the pages hold never pass the budget by more than one
// page, and all of it is back when the reads are closed — whether the
// caller releases its pages or leaves that to the next Next.
func TestBudgetBoundsPagesInFlight(t *testing.T) {
	t.Parallel()
	const total, size, reads = 3000, 100, 8
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, total, size, &served))
	// one page to learn its size, with no bound
	probe := f.client(t, func(cfg *Config) { cfg.PageSize = size; cfg.MemoryBudget = -1 })
	r := probe.Read(context.Background(), Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
	p, err := r.Next(context.Background())
	require.NoError(t, err)
	page := int64(cap(p.body)) + p.decoded
	require.Greater(t, page, int64(10_000))
	require.NoError(t, r.Close())

	budgetBytes := 3 * page
	c := f.client(t, func(cfg *Config) { cfg.PageSize = size; cfg.MemoryBudget = budgetBytes })
	var peak atomic.Int64
	// the pages held and the released buffers kept for later pages
	held := func() int64 {
		c.free.mu.Lock()
		defer c.free.mu.Unlock()
		return c.budget.inUse() + c.free.bytes
	}
	watch := func() {
		for u := held(); ; u = held() {
			if old := peak.Load(); u <= old || peak.CompareAndSwap(old, u) {
				return
			}
		}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, reads)
	for i := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Read(ctx, Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
			defer r.Close()
			next := 0
			for {
				p, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					errs[i] = err
					return
				}
				watch()
				for _, rec := range p.Records {
					if want := fmt.Sprintf("00000000-0000-0000-0000-%012d", next); rec.Field("leadid").Value.Text != want {
						errs[i] = fmt.Errorf("read %d: row %d is %s, want %s", i, next, rec.Field("leadid").Value.Text, want)
						return
					}
					next++
				}
				time.Sleep(time.Millisecond) // the caller's work on the page: the reads overlap
				if i%2 == 0 {
					p.Release() // odd reads leave it to Next
				}
			}
			if next != total {
				errs[i] = fmt.Errorf("read %d: %d rows, want %d", i, next, total)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Positive(t, peak.Load())
	// eight reads each holding a page and fetching one ahead would hold
	// 8–16 pages; the budget lets in three, and a page read larger than
	// expected is charged without waiting; the free buffers only fill
	// what the pages leave of it
	require.LessOrEqual(t, peak.Load(), budgetBytes+page, "pages and free buffers held at once: %.1f pages", float64(peak.Load())/float64(page))
	require.Zero(t, c.budget.inUse(), "every page's share given back")
}

// TestBudgetSmallerThanAPage: a page larger than the whole budget is read
// alone, and the reads end.
func TestBudgetSmallerThanAPage(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 1000, 100, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 100; cfg.MemoryBudget = 1024 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	rows := make([]int, 4)
	errs := make([]error, 4)
	for i := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Read(ctx, Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
			defer r.Close()
			for {
				p, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					errs[i] = err
					return
				}
				rows[i] += len(p.Records)
				p.Release()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, []int{1000, 1000, 1000, 1000}, rows)
	require.Zero(t, c.budget.inUse())
}

// TestBudgetOrderAndCancel: waiters are let in in arrival order, one that
// gives up takes nothing, and charges pass the size without waiting.
func TestBudgetOrderAndCancel(t *testing.T) {
	t.Parallel()
	b := newBudget(100)
	ctx := context.Background()
	got, err := b.take(ctx, 60)
	require.NoError(t, err)
	require.EqualValues(t, 60, got)

	// a large waiter first, then a small one that would fit: the small
	// one waits behind the large one
	order := make(chan int64, 2)
	go func() {
		n, _ := b.take(ctx, 80)
		order <- n
	}()
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 }, 5*time.Second, time.Millisecond)
	go func() {
		n, _ := b.take(ctx, 10)
		order <- n
	}()
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 }, 5*time.Second, time.Millisecond)

	// one that gives up leaves no trace
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		_, err := b.take(cctx, 5)
		done <- err
	}()
	require.Eventually(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 3 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.EqualValues(t, 60, b.inUse())

	// the small one would fit but waits behind the large one
	require.EqualValues(t, 60, b.inUse())
	b.give(60)
	require.ElementsMatch(t, []int64{80, 10}, []int64{<-order, <-order})
	require.EqualValues(t, 90, b.inUse())

	// a charge passes the size; takes wait until it is back under
	b.charge(50)
	require.EqualValues(t, 140, b.inUse())
	waited := make(chan struct{})
	go func() {
		_, _ = b.take(ctx, 20)
		close(waited)
	}()
	b.give(80)
	b.give(50)
	<-waited
	require.EqualValues(t, 30, b.inUse())

	// more than the size is clamped to it and goes alone
	b.give(30)
	got, err = b.take(ctx, 1000)
	require.NoError(t, err)
	require.EqualValues(t, 100, got)
}

// TestFreeBodiesWithinBudget: the released buffers kept for later pages
// hold at most what the budget has room for beside the pages (and a
// quarter of it): they are dropped, the smallest first, as pages take
// the budget, and kept again when the pages give it back.
func TestFreeBodiesWithinBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBudget(100)
	f := &freeBodies{b: b, max: 40}
	f.put(make([]byte, 0, 30), nil)
	f.put(make([]byte, 0, 8), nil)
	require.EqualValues(t, 38, f.bytes)

	// pages take 50: room for both still
	_, err := b.take(ctx, 50)
	require.NoError(t, err)
	f.shrink()
	require.EqualValues(t, 38, f.bytes)

	// 30 more: room for 20, the smallest goes first, then the next
	_, err = b.take(ctx, 30)
	require.NoError(t, err)
	f.shrink()
	require.Zero(t, f.bytes)
	require.Empty(t, f.list)

	// a buffer released now is kept only if it fits beside the pages
	f.put(make([]byte, 0, 25), nil)
	require.Zero(t, f.bytes)
	f.put(make([]byte, 0, 15), nil)
	require.EqualValues(t, 15, f.bytes)

	// the pages give the budget back: kept up to max, the smallest
	// dropped for a larger one
	b.give(80)
	f.put(make([]byte, 0, 30), nil)
	require.EqualValues(t, 30, f.bytes)
	require.GreaterOrEqual(t, cap(f.get(20)), 20)
	require.Zero(t, f.bytes)

	// the pages fill the budget: a page's body is kept on the share it
	// gives back with it, for the page that share lets in
	f.put(make([]byte, 0, 8), nil)
	_, err = b.take(ctx, 100)
	require.NoError(t, err)
	f.shrink()
	require.Zero(t, f.bytes)
	h := &pageHold{b: b}
	h.n.Store(60)
	f.put(make([]byte, 0, 30), h)
	require.EqualValues(t, 30, f.bytes)
	require.EqualValues(t, 40, b.inUse(), "the page's share is back")
	f.put(make([]byte, 0, 30), &pageHold{b: b})
	require.EqualValues(t, 30, f.bytes, "at most max (40): the smaller one stays")
	b.give(40)

	// without a budget, max alone bounds it
	nf := &freeBodies{max: 40}
	nf.put(make([]byte, 0, 30), nil)
	nf.put(make([]byte, 0, 20), nil)
	require.EqualValues(t, 30, nf.bytes)
	nf.shrink()
	require.EqualValues(t, 30, nf.bytes)
}
