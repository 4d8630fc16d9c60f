package serve_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// readPages reads from u through every nextLink, page by page: each
// page's rows and its nextLink; check runs after each page.
func readPages(t *testing.T, u string, check func(p page)) (rows [][]map[string]string, links []string) {
	t.Helper()
	for u != "" {
		p := decodePage(t, get(t, u))
		var pr []map[string]string
		for _, v := range p.Value {
			pr = append(pr, canonRow(v))
		}
		rows = append(rows, pr)
		links = append(links, p.NextLink)
		if check != nil {
			check(p)
		}
		require.Less(t, len(rows), 1000, "the nextLinks never end")
		u = p.NextLink
	}
	return rows, links
}

func flat(pages [][]map[string]string) []map[string]string {
	var out []map[string]string
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

// TestKeptStatements: a read in key order streams its pages from one
// statement kept between them, and serves exactly what a statement per
// page serves — the warehouse's rows, in key order, each once. A page
// read again (a retry), a read whose statement was evicted or waited too
// long, and a read that carries on after a retry all continue exactly
// from their nextLink's keyset, as does one whose statement is too old to
// continue. A read whose statement is kept reads its snapshot to the end
// though it is dropped meanwhile. Nothing stays kept after the last page
// or after the server stops. On both engines.
func TestKeptStatements(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			f.publish(t, 1, makeLeads(95, ""))
			ts := startServer(t, f, serve.Options{PageSize: 20, KeptReads: 2})
			perPage := startServer(t, f, serve.Options{PageSize: 20, KeptReads: -1})

			// the reference: one statement per page, checked against the truth
			refPages, _ := readPages(t, perPage.url+"/odata/leads", func(page) {
				require.Zero(t, serve.KeptReadsNow(perPage.srv), "KeptReads -1 keeps no statement")
			})
			ref := flat(refPages)
			requireLeads(t, f, 1, ref)
			require.Len(t, refPages, 5, "95 rows in pages of 20")

			// one read: a statement kept after every page but the last
			pages, links := readPages(t, ts.url+"/odata/leads", func(p page) {
				want := 0
				if p.NextLink != "" {
					want = 1
				}
				require.Equal(t, want, serve.KeptReadsNow(ts.srv))
			})
			require.Equal(t, refPages, pages, "the same pages, in the same order")

			// a $top over several pages: its last page ends the statement
			top, _ := readPages(t, ts.url+"/odata/leads?$top=45", nil)
			require.Equal(t, ref[:45], flat(top))
			require.Len(t, top, 3)
			require.Zero(t, serve.KeptReadsNow(ts.srv), "the last page of a $top ends its statement")

			// a retry: page 3 read again comes from a new statement and
			// is the same page; the read goes on from it to the end
			again, _ := readPages(t, links[1], nil)
			require.Equal(t, refPages[2:], again)
			require.Zero(t, serve.KeptReadsNow(ts.srv))

			// a page read twice while its statement is kept: the second
			// read's statement replaces the first's under the next link
			p1 := decodePage(t, get(t, ts.url+"/odata/leads"))
			p2 := decodePage(t, get(t, p1.NextLink))
			p2b := decodePage(t, get(t, p1.NextLink))
			require.Equal(t, p2, p2b)
			require.Equal(t, 1, serve.KeptReadsNow(ts.srv))
			rest, _ := readPages(t, p2b.NextLink, nil)
			require.Equal(t, refPages[2:], rest)

			// more reads than KeptReads: the oldest statement is closed,
			// and its read continues from the keyset
			var firsts []page
			for i := 0; i < 3; i++ {
				p := decodePage(t, get(t, ts.url+fmt.Sprintf("/odata/leads?$filter=score%%20ge%%20%d", -5-i)))
				firsts = append(firsts, p)
			}
			require.Equal(t, 2, serve.KeptReadsNow(ts.srv), "at most KeptReads statements are kept")
			for _, p := range firsts {
				rest, _ := readPages(t, p.NextLink, nil)
				require.Equal(t, ref, append(flat([][]map[string]string{canonPage(p)}), flat(rest)...))
			}
			require.Zero(t, serve.KeptReadsNow(ts.srv))

			// a statement not followed in time is closed; its nextLink
			// still serves the next page
			serve.SetKeptIdle(ts.srv, 50*time.Millisecond)
			p1 = decodePage(t, get(t, ts.url+"/odata/leads"))
			require.Eventually(t, func() bool { return serve.KeptReadsNow(ts.srv) == 0 }, 10*time.Second, 10*time.Millisecond)
			rest, _ = readPages(t, p1.NextLink, nil)
			require.Equal(t, refPages[1:], rest)

			// a kept statement too old to continue is closed, and each
			// page starts a new statement from its keyset
			serve.SetKeptIdle(ts.srv, time.Hour)
			serve.SetKeptMaxAge(ts.srv, 0)
			old, _ := readPages(t, ts.url+"/odata/leads", func(p page) {
				if p.NextLink != "" {
					require.Equal(t, 1, serve.KeptReadsNow(ts.srv))
				}
			})
			require.Equal(t, refPages, old)
			serve.SetKeptMaxAge(ts.srv, time.Hour)

			// a read whose statement is kept reads its snapshot to the end
			// though the snapshot is dropped meanwhile (the statement holds
			// its data); once the statement is gone, the nextLink gets 410
			p1 = decodePage(t, get(t, ts.url+"/odata/leads"))
			f.publish(t, 2, makeLeads(95, " new"))
			f.drop(t, 1)
			rest, _ = readPages(t, p1.NextLink, nil)
			require.Equal(t, refPages[1:], rest)
			require.Contains(t, odataError(t, get(t, p1.NextLink), http.StatusGone), "refresh again")

			// a kept statement is closed when the server stops (the
			// warehouse closes after it: a statement left open would hold it)
			decodePage(t, get(t, ts.url+"/odata/leads"))
			require.Equal(t, 1, serve.KeptReadsNow(ts.srv))
			ts.stop()
			require.Zero(t, serve.KeptReadsNow(ts.srv))
		})
	}
}

func canonPage(p page) []map[string]string {
	out := make([]map[string]string, len(p.Value))
	for i, v := range p.Value {
		out[i] = canonRow(v)
	}
	return out
}
