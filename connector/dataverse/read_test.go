package dataverse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// pagedHandler serves entity set "leads" in pages of size rows out of
// total, with nextLinks carrying a Dataverse-style double-encoded
// skiptoken, and a deltaLink on the last page when change tracking was
// asked for.
func pagedHandler(t *testing.T, total, size int, served *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/data/v9.2/leads", r.URL.Path)
		prefer := r.Header.Get("Prefer")
		require.Contains(t, prefer, fmt.Sprintf("odata.maxpagesize=%d", size))
		require.Contains(t, prefer, `odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname"`)
		tracking := strings.Contains(prefer, "odata.track-changes")
		q := r.URL.Query()
		if q.Get("$deltatoken") != "" {
			require.True(t, tracking)
			if q.Get("$deltatoken") == "expired" {
				writeErr(w, 400, "0x80044352", "The delta token has expired.")
				return
			}
			fmt.Fprintf(w, `{"@odata.context":"%s/api/data/v9.2/$metadata#leads(leadid)/$delta","value":[{"@odata.etag":"W/\"9\"","leadid":"00000000-0000-0000-0000-000000000001","subject":"changed"},{"@odata.context":"%s/api/data/v9.2/$metadata#leads/$deletedEntity","id":"00000000-0000-0000-0000-000000000002","reason":"deleted"}],"@odata.deltaLink":"%s/api/data/v9.2/leads?$select=leadid,subject&$deltatoken=1001%%2111%%2f23%%2f2026%%2010%%3a00%%3a00"}`, srvURL(r), srvURL(r), srvURL(r))
			return
		}
		start := 0
		if st := q.Get("$skiptoken"); st != "" {
			// the raw query must come back exactly as we sent it
			require.Contains(t, r.URL.RawQuery, "pagingcookie=%22%253ccookie%2520page%253d%2522")
			_, err := fmt.Sscanf(st[strings.Index(st, "pagenumber=\"")+len("pagenumber=\""):], "%d", &start)
			require.NoError(t, err)
			start = (start - 1) * size
		} else {
			require.Equal(t, "leadid,subject", q.Get("$select"))
		}
		served.Add(1)
		var b strings.Builder
		fmt.Fprintf(&b, `{"@odata.context":"%s/api/data/v9.2/$metadata#leads(leadid,subject)","value":[`, srvURL(r))
		for i := start; i < min(start+size, total); i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"@odata.etag":"W/\"%d\"","leadid":"00000000-0000-0000-0000-%012d","subject":"s%d"}`, 100+i, i, i)
		}
		b.WriteString("]")
		if start+size < total {
			page := start/size + 2
			fmt.Fprintf(&b, `,"@odata.nextLink":"%s/api/data/v9.2/leads?$select=leadid,subject&$skiptoken=%%3Ccookie%%20pagenumber=%%22%d%%22%%20pagingcookie=%%22%%253ccookie%%2520page%%253d%%2522%d%%2522%%253e%%22%%20istracking=%%22%s%%22%%20/%%3E"`,
				srvURL(r), page, page-1, map[bool]string{true: "True", false: "False"}[tracking])
		} else if tracking {
			fmt.Fprintf(&b, `,"@odata.deltaLink":"%s/api/data/v9.2/leads?$select=leadid,subject&$deltatoken=1000%%2111%%2f23%%2f2026%%2009%%3a00%%3a00"`, srvURL(r))
		}
		b.WriteString("}")
		_, _ = io.WriteString(w, b.String())
	}
}

func srvURL(r *http.Request) string { return "https://" + r.Host }

func TestReadPagesAndDelta(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 25, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10 })
	ctx := context.Background()
	r := c.Read(ctx, Query{EntitySet: "leads", Select: []string{"leadid", "subject"}, TrackChanges: true})
	var ids []string
	var last *Page
	for {
		p, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		for _, rec := range p.Records {
			ids = append(ids, rec.Field("leadid").Value.Text)
		}
		last = p
	}
	require.NoError(t, r.Close())
	require.Len(t, ids, 25)
	require.Equal(t, "00000000-0000-0000-0000-000000000024", ids[24])
	require.Equal(t, 3, last.Number)
	require.Contains(t, last.DeltaLink, "$deltatoken=1000%2111%2f23%2f2026")

	// the delta: one change, one delete, a new delta link
	r = c.Read(ctx, Query{EntitySet: "leads", DeltaLink: last.DeltaLink})
	defer r.Close()
	p, err := r.Next(ctx)
	require.NoError(t, err)
	require.True(t, IsDeltaContext(p.Context))
	require.Len(t, p.Records, 1)
	require.Equal(t, []Deleted{{ID: "00000000-0000-0000-0000-000000000002", Reason: "deleted"}}, p.Deleted)
	require.Contains(t, p.DeltaLink, "$deltatoken=1001")
	_, err = r.Next(ctx)
	require.Equal(t, io.EOF, err)
}

// TestReadMaxPagesLinksOnly: a walk's read ends after MaxPages pages,
// without asking for the next, and its pages carry their links but no
// rows; the read goes on from the last page's link to the delta link.
func TestReadMaxPagesLinksOnly(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 25, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10 })
	ctx := context.Background()
	q := Query{EntitySet: "leads", Select: []string{"leadid", "subject"}, TrackChanges: true, LinksOnly: true, MaxPages: 2}
	r := c.Read(ctx, q)
	var pages []*Page
	for {
		p, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Empty(t, p.Records, "page %d", p.Number)
		pages = append(pages, p)
	}
	require.NoError(t, r.Close())
	require.Len(t, pages, 2)
	require.NotEmpty(t, pages[1].NextLink)
	require.Empty(t, pages[1].DeltaLink)
	require.EqualValues(t, 2, served.Load(), "no page asked for beyond MaxPages")

	q.NextLink, q.MaxPages = pages[1].NextLink, 0
	r = c.Read(ctx, q)
	defer r.Close()
	p, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, p.Number)
	require.Contains(t, p.DeltaLink, "$deltatoken=")
	_, err = r.Next(ctx)
	require.Equal(t, io.EOF, err)
}

func TestReadExpiredDelta(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 5, 5000, &served))
	c := f.client(t, nil)
	r := c.Read(context.Background(), Query{DeltaLink: f.srv.URL + "/api/data/v9.2/leads?$select=leadid&$deltatoken=expired"})
	defer r.Close()
	_, err := r.Next(context.Background())
	require.ErrorIs(t, err, ErrDeltaTokenExpired)
	require.Contains(t, err.Error(), "reload leads in full")
	require.Contains(t, err.Error(), "read leads page 1", "the table is named from the link")
	require.NotContains(t, err.Error(), "deltatoken=expired")
}

func TestReadPrefetchesOnePage(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 100, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10 })
	ctx := context.Background()
	r := c.Read(ctx, Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
	defer r.Close()
	p, err := r.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, p.Number)
	require.Eventually(t, func() bool { return served.Load() == 2 }, time.Second, time.Millisecond, "page 2 is fetched while page 1 is processed")
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 2, served.Load(), "and no further")
}

// TestReadAheadShared: the reads of one client fetch at most ReadAhead
// pages ahead of their callers together; a read without a slot fetches
// its next page when its caller asks, and a slot freed goes to a read
// waiting for one.
func TestReadAheadShared(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 100, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10; cfg.ReadAhead = 1 })
	ctx := context.Background()
	q := Query{EntitySet: "leads", Select: []string{"leadid", "subject"}}
	a, b := c.Read(ctx, q), c.Read(ctx, q)
	defer a.Close()
	defer b.Close()
	next := func(r *Reader, want int) {
		t.Helper()
		p, err := r.Next(ctx)
		require.NoError(t, err)
		require.Equal(t, want, p.Number)
	}
	next(a, 1)
	next(b, 1)
	require.Eventually(t, func() bool { return served.Load() == 3 }, time.Second, time.Millisecond, "one of the two reads fetches its page 2 ahead")
	time.Sleep(50 * time.Millisecond) // for a fourth request, which must not come
	require.EqualValues(t, 3, served.Load(), "the other waits: one slot")
	// both callers ask: the read ahead hands its page 2 over and frees its
	// slot, the other fetches its page 2 on demand; then one of them
	// fetches its page 3 ahead in the slot
	next(a, 2)
	next(b, 2)
	require.Eventually(t, func() bool { return served.Load() == 5 }, time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	require.EqualValues(t, 5, served.Load(), "again one page ahead in all")
}

func TestReadRetriesCutOffBody(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		body := `{"value":[{"leadid":"00000000-0000-0000-0000-000000000001"}]}`
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, body[:20])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			_ = conn.Close()
			return
		}
		_, _ = io.WriteString(w, body)
	})
	c := f.client(t, nil)
	r := c.Read(context.Background(), Query{EntitySet: "leads"})
	defer r.Close()
	p, err := r.Next(context.Background())
	require.NoError(t, err)
	require.Len(t, p.Records, 1)
	require.EqualValues(t, 1, c.Stats().Retries)
}

func TestReadMalformedPage(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"value":[{"leadid":"x"},{"leadid":`)
	})
	c := f.client(t, nil)
	r := c.Read(context.Background(), Query{EntitySet: "leads", Select: []string{"leadid"}})
	defer r.Close()
	_, err := r.Next(context.Background())
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "read leads page 1")
	require.Contains(t, err.Error(), "/api/data/v9.2/leads")
	require.Contains(t, err.Error(), "unexpected end of JSON")
	require.NotContains(t, err.Error(), "tok-")
	_, err2 := r.Next(context.Background())
	require.Equal(t, err, err2, "the error sticks")
}

func TestWatermarkQuery(t *testing.T) {
	t.Parallel()
	f := newFakeEnv(t, whoAmIHandler)
	c := f.client(t, nil)
	q := WatermarkQuery("opportunities", "opportunityid", []string{"opportunityid", "modifiedon"}, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	u, err := c.queryURL(q)
	require.NoError(t, err)
	require.Equal(t, f.srv.URL+"/api/data/v9.2/opportunities?$select=opportunityid,modifiedon&$filter=modifiedon%20ge%202024-05-01T00%3A00%3A00Z&$orderby=modifiedon%20asc,opportunityid%20asc", u)
	q.TrackChanges = true
	_, err = c.queryURL(q)
	require.Error(t, err)

	var p Page
	require.NoError(t, decodePage([]byte(`{"value":[{"modifiedon":"2024-05-02T00:00:00Z"},{"modifiedon":"2024-05-03T00:00:01Z"},{"modifiedon":null}]}`), &p, false))
	require.Equal(t, time.Date(2024, 5, 3, 0, 0, 1, 0, time.UTC), Watermark(&p, time.Time{}))
}

func TestReaderCloseMidStream(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 1000, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10 })
	r := c.Read(context.Background(), Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
	_, err := r.Next(context.Background())
	require.NoError(t, err)
	require.NoError(t, r.Close()) // returns only when the prefetch goroutine ended
	_, err = r.Next(context.Background())
	require.Error(t, err)
	require.Less(t, served.Load(), int64(5))
}

func TestExpiredVersionStampWithoutDeltaFlag(t *testing.T) {
	t.Parallel()
	require.Equal(t, ErrDeltaTokenExpired, classifyAPI(400, "0x80044352", "The version stamp associated with the client has expired. Please perform a full sync.", nil))
	require.Equal(t, ErrChangeTrackingDisabled, classifyAPI(400, "0x80040203", "Entity: importdata isn't enabled for change tracking.", ErrDeltaTokenExpired))
	require.Equal(t, ErrDeltaTokenExpired, classifyAPI(400, "0x80040203", "The delta token 'x' is not valid.", ErrDeltaTokenExpired))
	require.Equal(t, ErrDeltaTokenExpired, classifyAPI(400, "0x80040203", "The delta token 'x' is not valid.", nil))
	require.Equal(t, ErrRequest, classifyAPI(400, "0x80040203", "Could not find a property named 'x'.", nil))
}

// A read stopped by its context says so; it does not look like the end
// of the table (which would make a caller take a partial read for whole).
func TestReadCanceledIsNotEOF(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	f := newFakeEnv(t, pagedHandler(t, 1000, 10, &served))
	c := f.client(t, func(cfg *Config) { cfg.PageSize = 10 })
	ctx, cancel := context.WithCancel(context.Background())
	r := c.Read(ctx, Query{EntitySet: "leads", Select: []string{"leadid", "subject"}})
	defer r.Close()
	_, err := r.Next(ctx)
	require.NoError(t, err)
	cancel()
	<-r.done // the prefetch has ended: only the closed channel is left to read
	_, err = r.Next(context.Background())
	require.ErrorIs(t, err, context.Canceled)
}

// TestReadBodySizes: a body is read whole whatever its size beside the
// buffer and the hint: without a Content-Length smaller than, exactly as
// large as and larger than the buffer (the end found by a probe, the rest
// read into chunks joined once), with one, and in small reads. A body read
// on past its buffer ends in one of its size and an eighth, which the
// next page of its kind (sized from it) can take from the free buffers.
func TestReadBodySizes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name             string
		size, buf, hint  int
		contentLength    bool
		oneByteAtATime   bool
		wantBufferReused bool
	}{
		{name: "smaller than the buffer", size: 1000, buf: 4096, wantBufferReused: true},
		{name: "exactly the buffer", size: 4096, buf: 4096, wantBufferReused: true},
		{name: "larger than the buffer", size: 100_000, buf: 4096},
		{name: "one byte more than the buffer", size: 4097, buf: 4096},
		{name: "from nothing, many chunks", size: 3_000_000},
		{name: "sized from the hint", size: 100_000, hint: 99_000},
		{name: "content length", size: 100_000, buf: 10, contentLength: true},
		{name: "small reads", size: 5000, hint: 100, oneByteAtATime: true},
		{name: "empty", size: 0, buf: 16, wantBufferReused: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := bytes.Repeat([]byte("0123456789abcdef"), c.size/16+1)[:c.size]
			var body io.Reader = bytes.NewReader(want)
			if c.oneByteAtATime {
				body = iotest.OneByteReader(body)
			}
			resp := &http.Response{Body: io.NopCloser(body), ContentLength: -1}
			if c.contentLength {
				resp.ContentLength = int64(c.size)
			}
			buf := make([]byte, 0, c.buf)
			got, err := readBody(resp, buf, c.hint)
			require.NoError(t, err)
			require.Equal(t, want, got)
			if c.wantBufferReused {
				require.Equal(t, unsafe.SliceData(buf), unsafe.SliceData(got[:cap(got)]))
			}
			if !c.contentLength && c.size > max(c.buf, c.hint+c.hint/8) {
				require.Equal(t, c.size+c.size/8, cap(got), "read on past its buffer")
			}
		})
	}
}
