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

	body []byte // what Records and Deleted point into
}

// Release hands the page's memory back for a later page: the strings in
// Records and Deleted point into the response body, which the next page
// can then reuse. Call it when done with the page; after it, Records and
// Deleted must not be used (NextLink, DeltaLink and Context stay valid).
// A page never released is garbage collected as usual.
func (p *Page) Release() {
	if p.body == nil {
		return
	}
	p.Records, p.Deleted = nil, nil
	putBody(p.body)
	p.body = nil
}

// bodyPool keeps response buffers for reuse. Page bodies run to
// megabytes; reading each into a new buffer costs the allocation, its
// zeroing, the growth copies, and memory the GC gives back only later.
// A sync.Pool lets idle buffers go after two garbage collections. (Tried
// and left out, 2026-11-30: keeping each read's released body and
// decoded records' storage for its own next page, which saved their
// allocation but kept about 200 MB more of the sync's Go heap alive at
// 100k leads, BenchmarkSyncPeakRSS.)
var bodyPool sync.Pool // of *[]byte

func pooledBody() []byte {
	if b, ok := bodyPool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

func putBody(b []byte) {
	if cap(b) == 0 {
		return
	}
	bodyPool.Put(&b)
}

// Last reports whether no page follows.
func (p *Page) Last() bool { return p.NextLink == "" }

// Reader streams the pages of one read. While the caller works on a page,
// the Reader already fetches and decodes the next one — one page ahead, no
// more, so memory stays at two pages whatever the table size — when one
// of the client's Config.ReadAhead slots is free; else it fetches the
// next page when the caller asks for it. The slots bound the pages in
// memory of all reads at once (a sync reads many tables, and large tables
// in several ranges): at most one per read plus ReadAhead. A Reader is
// for one goroutine; Close it when done.
type Reader struct {
	ch     chan pageResult
	want   chan struct{} // Next asks for a page (room for one)
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	// stopped is why the prefetch ended early (the context's error); set
	// before ch is closed, so that Next does not take it for the end
	stopped error
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
	last := 0 // the size of the page before: the next one's is about the same
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
		p, err := c.fetchPage(ctx, q, link, delta, n, last)
		select {
		case r.ch <- pageResult{p, err}:
		case <-ctx.Done():
			r.stopped = ctx.Err()
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
		if err != nil || p.NextLink == "" {
			return
		}
		link, last = p.NextLink, p.Bytes
	}
}

// Next returns the next page, or io.EOF after the last one. After an
// error, Next keeps returning it; the last page received says where to
// resume (its NextLink).
func (r *Reader) Next(ctx context.Context) (*Page, error) {
	if r.err != nil {
		return nil, r.err
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
		return res.p, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops the read and waits for the prefetch to end.
func (r *Reader) Close() error {
	r.cancel()
	<-r.done
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
// before (0: none), which the body's buffer is sized from.
func (c *Client) fetchPage(ctx context.Context, q Query, link string, delta bool, n, hint int) (*Page, error) {
	table := q.EntitySet
	t0 := time.Now()
	var refused error
	switch {
	case delta:
		refused = ErrDeltaTokenExpired
	case n == 1 && q.NextLink != "":
		refused = ErrLinkRefused
	}
	body, path, status, err := c.getBody(ctx, call{method: http.MethodGet, url: link, table: table, prefer: c.prefer(q), refused: refused, sizeHint: hint}, pooledBody())
	if err != nil {
		return nil, fmt.Errorf("read %s page %d: %w", table, n, err)
	}
	p := &Page{Number: n, Bytes: len(body), Fetch: time.Since(t0), body: body}
	t1 := time.Now()
	if err := decodePage(body, p); err != nil {
		return nil, fmt.Errorf("read %s page %d: %w", table, n, &APIError{Kind: ErrMalformed, Method: http.MethodGet,
			Path: path, Table: table, Status: status, Message: "invalid page JSON: " + err.Error()})
	}
	p.Decode = time.Since(t1)
	return p, nil
}

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
// in flight, and each growth zeroes and copies it. A body larger than the
// buffer grows it by about a quarter at a time.
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
	var probe [512]byte
	for {
		var n int
		var err error
		if len(b) < cap(b) {
			n, err = resp.Body.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
		} else {
			// full: look for the end before growing the buffer
			n, err = resp.Body.Read(probe[:])
			b = append(b, probe[:n]...)
		}
		if len(b) > maxBody {
			return nil, fmt.Errorf("page larger than %d bytes", maxBody)
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
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
