package schema_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/connector/schema"
	"github.com/stretchr/testify/require"
)

// recorder keeps the bodies of collection pages that pass through it.
type recorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(req.URL.Path, "/leads") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// BenchmarkSimLeads measures, on the simulator's lead pages (5,000 rows a
// page, every column, FormattedValue and lookuplogicalname annotations),
// decode-only throughput and decode + mapping to warehouse rows.
func BenchmarkSimLeads(b *testing.B) {
	sim, err := dvsim.Start(dvsim.Options{Seed: 7, Scale: 20000})
	require.NoError(b, err)
	defer sim.Close()
	base := sim.Client()
	rec := &recorder{next: base.Transport}
	c, err := dataverse.New(context.Background(), dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), ClientID: sim.ClientID(),
		ClientSecret: sim.ClientSecret(), HTTPClient: &http.Client{Transport: rec}})
	require.NoError(b, err)
	ctx := context.Background()
	e, err := c.EntityDefinition(ctx, "lead")
	require.NoError(b, err)
	m, err := schema.Map(e, schema.Options{})
	require.NoError(b, err)
	r := c.Read(ctx, dataverse.Query{EntitySet: e.EntitySetName, Select: m.Select(), TrackChanges: true})
	rows, size := 0, 0
	for {
		p, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(b, err)
		rows += len(p.Records)
		size += p.Bytes
	}
	r.Close()
	b.Logf("%d rows, %d pages, %d bytes/row, %d columns", rows, len(rec.bodies), size/rows, len(m.Columns()))

	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, body := range rec.bodies {
				if _, err := dataverse.DecodePage(body); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("decode+row", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		var row []any
		for b.Loop() {
			for _, body := range rec.bodies {
				p, err := dataverse.DecodePage(body)
				if err != nil {
					b.Fatal(err)
				}
				for i := range p.Records {
					if row, err = m.Row(&p.Records[i], row); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
