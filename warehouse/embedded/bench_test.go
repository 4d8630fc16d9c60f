//go:build cgo

package embedded_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// BenchmarkInsertRead1M writes 1,000,000 rows of 30 mixed columns with one
// batch and reads them back, reporting rows/s for each direction.
func BenchmarkInsertRead1M(b *testing.B) {
	st := open(b)
	ctx := ctxT(b)
	types := []string{"UUID", "String", "LowCardinality(String)", "Nullable(String)", "DateTime('UTC')", "Date", "Decimal(18, 2)", "Int32", "Int64", "UInt8", "Float64", "Bool", "Nullable(Decimal(18, 2))", "Nullable(DateTime('UTC'))", "Array(String)"}
	var defs, names []string
	for i := range 30 {
		n := fmt.Sprintf("c%02d", i)
		names = append(names, n)
		defs = append(defs, n+" "+types[i%len(types)])
	}
	const rows = 1_000_000
	row := func(k int) []any {
		out := make([]any, 30)
		for i := range 30 {
			switch i % len(types) {
			case 0:
				out[i] = uuid.UUID{byte(k), byte(k >> 8), byte(k >> 16), byte(i)}
			case 1:
				out[i] = "some account name with a bit of text"
			case 2:
				out[i] = "Open"
			case 3:
				if k%3 == 0 {
					out[i] = nil
				} else {
					out[i] = "maybe"
				}
			case 4, 13:
				out[i] = time.Unix(1700000000+int64(k), 0)
			case 5:
				out[i] = time.Date(2024, 1, 1+k%365, 0, 0, 0, 0, time.UTC)
			case 6, 12:
				out[i] = decimal.New(int64(k), -2)
			case 7, 8:
				out[i] = k
			case 9:
				out[i] = k % 200
			case 10:
				out[i] = float64(k) / 3
			case 11:
				out[i] = k%2 == 0
			case 14:
				out[i] = []string{"a", "b"}
			}
		}
		return out
	}
	for n := 0; n < b.N; n++ {
		require.NoError(b, st.Exec(ctx, "DROP TABLE IF EXISTS wide"))
		require.NoError(b, st.Exec(ctx, "CREATE TABLE wide ("+strings.Join(defs, ", ")+") ENGINE = MergeTree ORDER BY c00"))
		start := time.Now()
		batch, err := st.PrepareInsert(ctx, "wide", names)
		require.NoError(b, err)
		for k := range rows {
			require.NoError(b, batch.Append(row(k)...))
		}
		appended := time.Since(start)
		require.NoError(b, batch.Send(ctx))
		ins := time.Since(start)

		start = time.Now()
		rs, err := st.Query(ctx, "SELECT * FROM wide")
		require.NoError(b, err)
		got := 0
		for rs.Next() {
			got++
		}
		require.NoError(b, rs.Err())
		require.NoError(b, rs.Close())
		read := time.Since(start)
		require.Equal(b, rows, got)
		b.ReportMetric(rows/ins.Seconds(), "insert-rows/s")
		b.ReportMetric(appended.Seconds(), "append-s")
		b.ReportMetric(rows/read.Seconds(), "read-rows/s")
	}
}
