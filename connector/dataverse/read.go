package dataverse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ampel/ampel/odata"
)

// Query says what to read from one entity set.
type Query struct {
	// EntitySet is the entity set name from metadata (Entity.EntitySetName),
	// e.g. "leads"; never a guessed plural.
	EntitySet string
	// Select lists the Web API properties to read (lookups as
	// _<name>_value). Empty reads all, which Dataverse discourages.
	Select []string
	// Filter and OrderBy are $filter and $orderby; Dataverse refuses them
	// with TrackChanges.
	Filter, OrderBy string
	// TrackChanges asks for change tracking: the last page carries a
	// DeltaLink to read the changes since.
	TrackChanges bool
	// DeltaLink, if set, is a saved @odata.deltaLink to follow instead of
	// building a URL; the pages hold what changed since, deletions
	// included, and the last one a new DeltaLink.
	DeltaLink string
	// NextLink, if set, resumes an interrupted read at a saved
	// @odata.nextLink (Page.NextLink). It is followed verbatim; a refusal
	// of it is ErrLinkRefused.
	NextLink string
	// PageSize overrides Config.PageSize (odata.maxpagesize).
	PageSize int
	// Top is $top: at most that many rows, in one page; 0 leaves it out.
	// Dataverse refuses it with TrackChanges.
	Top int
	// LinksOnly reads the pages for their links alone: their rows are
	// checked as JSON but not decoded, and Records and Deleted stay empty
	// (a load's walk, which drops its rows and keeps its links).
	LinksOnly bool
	// MaxPages ends the read after that many pages (0: at the last): the
	// last page read still says where to go on (Page.NextLink).
	MaxPages int
}

// Page is one page of a read.
type Page struct {
	// Number counts pages from 1 within the read.
	Number int
	// Records are the new or changed rows.
	Records []Record
	// Deleted are the rows removed since the delta link (delta reads only).
	Deleted []Deleted
	// NextLink is @odata.nextLink: where the next page is; "" on the last.
	NextLink string
	// DeltaLink is @odata.deltaLink, on the last page of a change-tracking
	// read: save it (it is opaque) to read the next changes.
	DeltaLink string
	// Context is @odata.context; it ends in /$delta on delta pages.
	Context string
	// Bytes is the size of the response body.
	Bytes int
	// Fetch is the time from sending the request to having the body.
	Fetch time.Duration
	// Decode is the time spent decoding the body.
	Decode time.Duration

	body    []byte      // what Records and Deleted point into
	free    *freeBodies // where body goes when released
	decoded int64       // bytes of the storage of Records and Deleted
	hold    *pageHold   // the page's share of the memory budget
}

// Release hands the page's memory back for a later page: the strings in
// Records and Deleted point into the response body, which the next page
// can then reuse, and the page's share of the client's memory budget
// (Config.MemoryBudget) serves the next page of any read. Call it when
// done with the page; after it, Records and Deleted must not be used
// (NextLink, DeltaLink and Context stay valid). A page never released is
// garbage collected as usual; its budget goes back at the read's next
// Next or at Close.
func (p *Page) Release() {
	body := p.body
	if body != nil {
		p.Records, p.Deleted = nil, nil
		p.body = nil
	}
	// the body is kept (or not) with the page's share still counted, then
	// the share goes back: the next page it lets in finds the body
	p.free.put(body, p.hold)
}

// freeBodies keeps released response buffers for later pages of the
// client's reads. Page bodies run to megabytes; reading each into a new
// buffer costs the allocation, its zeroing, the growth copies, and memory
// the GC gives back only later. The list holds at most max bytes (a
// quarter of the memory budget), and only what the budget has room for
// beside the pages: the pages held and the free buffers together stay
// within the budget, so when the pages fill it (a large sync, many reads
// at once) the list gives its buffers up rather than adding up to a
// quarter more (heap profiles through a sync at 100k leads showed 30–65
// MB of bodies beside 0–22 MB of decoded fields; BenchmarkSyncPeakRSS),
// and when they do not (a small sync) it keeps them for reuse. A body
// released while the pages fill the budget is kept on its page's share
// (put), for the page that share lets in. A sync.Pool,
// used before, kept every buffer released since the last two garbage
// collections, up to 70 MB beside the pages at 100k leads. (Tried and
// left out, 2026-11-30: keeping each read's released body and decoded
// records' storage for its own next page, which saved their allocation
// but kept about 200 MB more of the sync's Go heap alive at 100k leads.)
type freeBodies struct {
	b *budget // the client's memory budget; nil: none, max alone bounds

	mu    sync.Mutex
	list  [][]byte
	bytes int64
	max   int64
}

// limit is what the list may hold now: max, and no more than the budget
// has room for beside the pages it holds, of which freeing bytes are
// about to be given back.
func (f *freeBodies) limit(freeing int64) int64 {
	if f.b == nil {
		return f.max
	}
	return max(min(f.max, f.b.size-f.b.inUse()+freeing), 0)
}

// trim drops buffers, the smallest first, until the list is within its
// limit again: the pages' share of the budget grew. f.mu is held.
func (f *freeBodies) trim(limit int64) {
	for f.bytes > limit && len(f.list) > 0 {
		small := 0
		for i, x := range f.list {
			if cap(x) < cap(f.list[small]) {
				small = i
			}
		}
		f.drop(small)
	}
}

// drop removes the buffer at i; f.mu is held.
func (f *freeBodies) drop(i int) {
	f.bytes -= int64(cap(f.list[i]))
	f.list[i] = f.list[len(f.list)-1]
	f.list[len(f.list)-1] = nil
	f.list = f.list[:len(f.list)-1]
}

// shrink drops what the list holds past its limit: called when a page
// took more of the budget.
func (f *freeBodies) shrink() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trim(f.limit(0))
}

// get returns the smallest free buffer of at least want bytes; nil if
// there is none, or want is 0 (a size not known: a buffer too large
// would hold budget for nothing).
func (f *freeBodies) get(want int) []byte {
	if want <= 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	best := -1
	for i, b := range f.list {
		if cap(b) >= want && (best < 0 || cap(b) < cap(f.list[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	b := f.list[best]
	f.drop(best)
	return b[:0]
}

// put keeps b for a later page if there is room (limit), else drops the
// smallest buffers that make room, or b; then gives back h, the share of
// the budget the page b was read for holds. What h holds counts as room
// for b: when the pages fill the budget, the page h's share lets in
// reuses b rather than allocating its own.
func (f *freeBodies) put(b []byte, h *pageHold) {
	if f == nil || cap(b) == 0 {
		h.give()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer h.give() // under f.mu: b and the share are never both counted
	limit := f.limit(h.held())
	f.trim(limit)
	if int64(cap(b)) > limit {
		return
	}
	for f.bytes+int64(cap(b)) > limit {
		small := 0
		for i, x := range f.list {
			if cap(x) < cap(f.list[small]) {
				small = i
			}
		}
		if cap(f.list[small]) >= cap(b) {
			return // b is the smallest
		}
		f.drop(small)
	}
	f.list = append(f.list, b)
	f.bytes += int64(cap(b))
}

// Last reports whether no page follows.
func (p *Page) Last() bool { return p.NextLink == "" }

// Reader streams the pages of one read. While the caller works on a page,
// the Reader already fetches and decodes the next one — one page ahead, no
// more, so memory stays at two pages whatever the table size — when one
// of the client's Config.ReadAhead slots is free; else it fetches the
// next page when the caller asks for it. Every page, fetched ahead or
// not, waits for its share of the client's memory budget before its body
// is read (budget.go): the budget bounds the bytes in pages of all reads
// at once (a sync reads many tables, and large tables in several
// ranges). The share of the page Next returned goes back at Release, at
// the next Next or at Close. A Reader is for one goroutine; Close it
// when done.
type Reader struct {
	ch     chan pageResult
	want   chan struct{} // Next asks for a page (room for one)
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	// stopped is why the prefetch ended early (the context's error); set
	// before ch is closed, so that Next does not take it for the end
	stopped error
	// cur is the page Next returned last: its share of the memory budget
	// goes back at the next Next or at Close, if Release did not give it
	cur *Page
}

type pageResult struct {
	p   *Page
	err error
}

// Read starts reading q. The first page is requested at once.
func (c *Client) Read(ctx context.Context, q Query) *Reader {
	ctx, cancel := context.WithCancel(ctx)
	r := &Reader{ch: make(chan pageResult), want: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go r.run(ctx, c, q)
	return r
}

func (r *Reader) run(ctx context.Context, c *Client, q Query) {
	defer close(r.done)
	defer close(r.ch)
	link, delta := q.NextLink, false
	if link == "" && q.DeltaLink != "" {
		link, delta = q.DeltaLink, true
	}
	if link == "" {
		var err error
		if link, err = c.queryURL(q); err != nil {
			select {
			case r.ch <- pageResult{err: err}:
			case <-ctx.Done():
				r.stopped = ctx.Err()
			}
			return
		}
	} else if strings.Contains(link, "deltatoken") {
		delta = true
	}
	if q.EntitySet == "" { // name the table in errors: the link's last path segment
		if u, err := url.Parse(link); err == nil {
			q.EntitySet = path.Base(u.Path)
		}
	}
	last := 0      // the size of the page before: the next one's is about the same
	var held int64 // what the page before held of the budget, likewise
	for n := 1; ; n++ {
		ahead := false
		if n > 1 {
			// the caller has the page before: fetch this one ahead in a
			// slot of the client's, or when the caller asks for it
			select {
			case c.ahead <- struct{}{}:
				ahead = true
			case <-r.want:
			case <-ctx.Done():
				r.stopped = ctx.Err()
				return
			}
		}
		p, err := c.fetchPage(ctx, q, link, delta, n, last, held)
		if err == nil {
			// before the caller may release it
			last, held = p.Bytes, p.hold.n.Load()
		}
		select {
		case r.ch <- pageResult{p, err}:
		case <-ctx.Done():
			r.stopped = ctx.Err()
			if p != nil {
				p.hold.give() // not delivered
			}
		}
		if ahead {
			<-c.ahead
		}
		if r.stopped != nil {
			return
		}
		// the caller's ask for this page is answered (Next asks before it
		// receives)
		select {
		case <-r.want:
		default:
		}
		if err != nil || p.NextLink == "" || n == q.MaxPages {
			return
		}
		link = p.NextLink
	}
}

// Next returns the next page, or io.EOF after the last one. After an
// error, Next keeps returning it; the last page received says where to
// resume (its NextLink).
func (r *Reader) Next(ctx context.Context) (*Page, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.cur != nil {
		// the caller is done with the page before: its budget can serve
		// the next one (its memory stays the caller's until Release)
		r.cur.hold.give()
		r.cur = nil
	}
	select {
	case r.want <- struct{}{}:
	default:
	}
	select {
	case res, ok := <-r.ch:
		if !ok {
			r.err = io.EOF
			if r.stopped != nil {
				r.err = r.stopped // canceled, not finished
			}
			return nil, r.err
		}
		if res.err != nil {
			r.err = res.err
		}
		r.cur = res.p
		return res.p, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the read and waits for the prefetch to end.
func (r *Reader) Close() error {
	r.cancel()
	<-r.done
	if r.cur != nil {
		r.cur.hold.give()
		r.cur = nil
	}
	if r.err == nil {
		r.err = errors.New("dataverse: reader closed")
	}
	return nil
}

// queryURL builds the first URL of a read.
func (c *Client) queryURL(q Query) (string, error) {
	if q.EntitySet == "" || strings.ContainsAny(q.EntitySet, "/?#()' ") {
		return "", fmt.Errorf("dataverse: entity set name %q is not valid", q.EntitySet)
	}
	if q.TrackChanges && (q.Filter != "" || q.OrderBy != "" || q.Top > 0) {
		return "", fmt.Errorf("dataverse: %s: $filter, $orderby and $top cannot be combined with change tracking", q.EntitySet)
	}
	u := c.base + q.EntitySet
	if opts := (odata.Query{Select: q.Select, Filter: q.Filter, OrderBy: q.OrderBy, Top: q.Top}).Encode(); opts != "" {
		u += "?" + opts
	}
	return u, nil
}

func (c *Client) prefer(q Query) string {
	size := q.PageSize
	if size <= 0 || size > 5000 {
		size = c.cfg.PageSize
	}
	return odata.Prefer{MaxPageSize: size, IncludeAnnotations: Annotations, TrackChanges: q.TrackChanges || q.DeltaLink != ""}.String()
}

// maxBody caps one page's body; Dataverse itself refuses responses far
// below this (0x80040216), so more means something is wrong.
const maxBody = 1 << 30

// fetchPage gets and decodes one page; hint is the size of the page
// before (0: none), which the body's buffer is sized from, and held what
// that page held of the memory budget (0: none), which this one is
// expected to take.
func (c *Client) fetchPage(ctx context.Context, q Query, link string, delta bool, n, hint int, held int64) (*Page, error) {
	table := q.EntitySet
	t0 := time.Now()
	var refused error
	switch {
	case delta:
		refused = ErrDeltaTokenExpired
	case n == 1 && q.NextLink != "":
		refused = ErrLinkRefused
	}
	hold := &pageHold{b: c.budget}
	key := pageKind{table: table, columns: len(q.Select), linksOnly: q.LinksOnly}
	var seen int64 // what the largest page of the kind held
	if v, ok := c.pageSizes.Load(key); ok {
		seen = v.(int64)
	}
	bodyKey := pageKind{table: table, columns: len(q.Select)}
	if hint <= 0 {
		if v, ok := c.bodySizes.Load(bodyKey); ok {
			hint = v.(int)
		}
	}
	reserve := func(ctx context.Context, contentLength int64) error {
		if c.budget == nil || hold.n.Load() > 0 {
			return nil // taken on an attempt before
		}
		want := held
		switch {
		case want > 0:
		case seen > 0:
			want = seen
		case len(q.Select) > 0:
			// no page of the kind read yet: a full page of the columns
			want = int64(c.cfg.PageSize) * int64(len(q.Select)) * bytesPerField
		default:
			want = max(contentLength, firstPageGuess)
		}
		got, err := c.budget.take(ctx, want)
		hold.n.Store(got)
		return err
	}
	body, path, status, err := c.getBody(ctx, call{method: http.MethodGet, url: link, table: table, prefer: c.prefer(q), refused: refused, sizeHint: hint, reserve: reserve,
		buffer: func() []byte {
			b := c.free.get(hint + hint/8)
			// the page took its share: the free buffers give up what the
			// budget has no room for now (after get, which may reuse one)
			c.free.shrink()
			return b
		}}, nil)
	if err != nil {
		hold.give()
		return nil, fmt.Errorf("read %s page %d: %w", table, n, err)
	}
	p := &Page{Number: n, Bytes: len(body), Fetch: time.Since(t0), body: body, hold: hold, free: c.free}
	t1 := time.Now()
	if err := decodePage(body, p, q.LinksOnly); err != nil {
		hold.give()
		return nil, fmt.Errorf("read %s page %d: %w", table, n, &APIError{Kind: ErrMalformed, Method: http.MethodGet,
			Path: path, Table: table, Status: status, Message: "invalid page JSON: " + err.Error()})
	}
	p.Decode = time.Since(t1)
	if c.budget != nil {
		// what the page really holds: more is charged (it is in memory
		// already), less given back
		size := int64(cap(body)) + p.decoded
		if d := size - hold.n.Load(); d > 0 {
			c.budget.charge(d)
			hold.n.Add(d)
			c.free.shrink()
		} else if d < 0 {
			hold.n.Add(d)
			c.budget.give(-d)
		}
		// the largest page of the kind: a read's last page is often
		// small, the next read's first one full
		if size > seen {
			c.pageSizes.Store(key, size)
		}
		if v, ok := c.bodySizes.Load(bodyKey); !ok || len(body) > v.(int) {
			c.bodySizes.Store(bodyKey, len(body))
		}
	}
	return p, nil
}

// pageKind is what a page's size is remembered by, for the first page of
// the next read of the same kind: a table, read with that many columns,
// its rows decoded or not (LinksOnly). What a page holds of the budget
// depends on all three; its body's length on the first two only (a walk's
// page and a range's are the same JSON), so Client.bodySizes is keyed
// with linksOnly false.
type pageKind struct {
	table     string
	columns   int
	linksOnly bool
}

// bytesPerField is what one selected column of a row is expected to take
// in a page before a page of its table was read: its JSON (name, value,
// annotations) and its decoded Fields. A simulated lead page, 5000 rows
// of 36 columns, is 16 MB of body and 18 MB of Fields: 190 bytes a
// column; other tables 130–190.
const bytesPerField = 200

// getBody sends cl and reads the whole answer into buf (which may be nil).
// A body cut off while it is read (reset, EOF, HTTP/2 stream error) is
// fetched again, with backoff, within the MaxWait budget.
func (c *Client) getBody(ctx context.Context, cl call, buf []byte) (body []byte, path string, status int, err error) {
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		resp, err := c.do(ctx, cl)
		if err != nil {
			return nil, "", 0, err
		}
		path, status = resp.Request.URL.Path, resp.StatusCode
		if cl.reserve != nil {
			if err := cl.reserve(ctx, resp.ContentLength); err != nil {
				_ = resp.Body.Close()
				return nil, path, status, err
			}
			if buf == nil && cl.buffer != nil {
				// within the budget now, not while waiting for it
				buf = cl.buffer()
			}
		}
		body, err := readBody(resp, buf, cl.sizeHint)
		if err == nil {
			return body, path, status, nil
		}
		if ctx.Err() != nil {
			return nil, path, status, ctx.Err()
		}
		st := retryState{c: c, ctx: ctx}
		wait := st.backoffFor(attempt)
		if waited+wait > c.cfg.MaxWait {
			return nil, path, status, &APIError{Kind: ErrUnavailable, Method: cl.method, Path: path, Table: cl.table, Status: status,
				Message: "response body cut off", Attempts: attempt, Waited: waited, Err: stripURL(err)}
		}
		c.log.Debug("dataverse: response body cut off, fetching again", "table", cl.table, "path", path, "err", stripURL(err), "wait", wait)
		c.count(ctx, func(cnt *Counter) { cnt.retries.Add(1); cnt.waited.Add(int64(wait)) })
		waited += wait
		if err := sleep(ctx, wait); err != nil {
			return nil, path, status, err
		}
	}
}

// readBody reads the response body, into buf's memory when it is large
// enough. The buffer is sized from the Content-Length or, when the body
// comes without one (gzip, chunked: as Dataverse's pages do), from hint,
// the size of the page before, with an eighth more: a buffer grown by
// doubling would be twice the page, kept in the pool and in every page
// in flight. A body larger than the buffer (the first page of a kind,
// hint 0: every range of a ranged load starts at once) is read on into
// chunks that double, joined once at its end into a buffer of the body's
// size and an eighth: growing one buffer in place copied and zeroed the
// page over and over (from nothing, about 45 times by a quarter each to
// a 13 MB page): 0.4–1.2 CPU-s of a sync of 6–8 at 50k leads.
func readBody(resp *http.Response, buf []byte, hint int) ([]byte, error) {
	defer resp.Body.Close()
	want := hint + hint/8
	if resp.ContentLength > 0 && resp.ContentLength < maxBody {
		want = int(resp.ContentLength)
	}
	b := buf[:0]
	if cap(b) < want {
		b = make([]byte, 0, want) // buf is read into again on a retry: not pooled here
	}
	for len(b) < cap(b) {
		n, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
	// full: look for the end (a byte) before reading on into chunks
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); errors.Is(err, io.EOF) {
		return b, nil
	} else if err != nil {
		return nil, err
	}
	chunks := [][]byte{first}
	total := len(b) + 1
	next := max(cap(b)/8, 64<<10) // past a hinted buffer the rest is small
	for {
		c := make([]byte, next)
		k := 0
		for k < len(c) {
			n, err := resp.Body.Read(c[k:])
			k += n
			if total+k > maxBody {
				return nil, fmt.Errorf("page larger than %d bytes", maxBody)
			}
			if errors.Is(err, io.EOF) {
				chunks = append(chunks, c[:k])
				return joinBody(b, chunks, total+k), nil
			}
			if err != nil {
				return nil, err
			}
		}
		chunks = append(chunks, c)
		total += k
		next = min(2*next, 64<<20)
	}
}

// joinBody copies b and the chunks read after it into one buffer of size
// bytes and an eighth more (so that the next page of the kind, sized from
// this one, can take it from the free buffers).
func joinBody(b []byte, chunks [][]byte, size int) []byte {
	out := make([]byte, 0, size+size/8)
	out = append(out, b...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
