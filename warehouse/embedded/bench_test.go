//go:build cgo

package embedded_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
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

// BenchmarkInsertLeads writes lead-shaped landing rows (51 columns,
// mostly Nullable, a third of the lookups NULL) in batches of 10,000 as
// the sync does, and reports the process's CPU seconds (the engine's
// included) per 1M rows: appending (Go's encoding) and sending (the
// engine's INSERT), and the batch's bytes per row. The table's merges are
// kept off (parts of a byte at most), so that the INSERTs alone are
// counted. AMPEL_BENCH_ROWS sets the rows per round (100,000),
// AMPEL_BENCH_ROUNDS the rounds (3); the figures are the rounds' medians.
func BenchmarkInsertLeads(b *testing.B) {
	st := open(b)
	ctx := warehouse.WithInsertSettings(ctxT(b), warehouse.InsertSetting{Name: "optimize_on_insert", Value: 0})
	total, rounds := 100_000, 3
	if n, err := strconv.Atoi(os.Getenv("AMPEL_BENCH_ROWS")); err == nil && n > 0 {
		total = n
	}
	if n, err := strconv.Atoi(os.Getenv("AMPEL_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	type col struct {
		name, typ string
		val       func(k int) any
	}
	id := func(k, salt int) uuid.UUID {
		return uuid.UUID{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24), byte(salt), 0x40, 7, 0x80, byte(k * 7), byte(k * 13), 1, 2, 3, 4, 5, 6}
	}
	str := func(prefix string) func(int) any {
		return func(k int) any { return prefix + " " + strconv.Itoa(k*7919%100003) }
	}
	lookup := func(name string, salt int) []col {
		return []col{
			{name, "Nullable(UUID)", func(k int) any {
				if k%3 == salt%3 {
					return nil
				}
				return id(k%5000, salt)
			}},
			{name + "name", "Nullable(String)", func(k int) any {
				if k%3 == salt%3 {
					return nil
				}
				return "Name of " + strconv.Itoa(k%5000)
			}},
		}
	}
	at := func(k int) any { return time.Unix(1700000000+int64(k)*37, 0) }
	choice := func(name string, n int) []col {
		return []col{
			{name, "Nullable(Int32)", func(k int) any { return k % n }},
			{name + "name", "Nullable(String)", func(k int) any { return "Option " + strconv.Itoa(k%n) }},
		}
	}
	cols := []col{
		{"_environment", "String", func(int) any { return "contoso" }},
		{"leadid", "UUID", func(k int) any { return id(k, 0) }},
		{"createdon", "Nullable(DateTime('UTC'))", at},
		{"modifiedon", "Nullable(DateTime('UTC'))", at},
		{"versionnumber", "Nullable(Int64)", func(k int) any { return int64(k) + 1000 }},
	}
	cols = append(cols, choice("statecode", 3)...)
	cols = append(cols, choice("statuscode", 5)...)
	cols = append(cols, lookup("ownerid", 1)...)
	cols = append(cols, col{"owneridtype", "Nullable(String)", func(int) any { return "systemuser" }})
	for _, n := range []string{"firstname", "lastname", "fullname", "subject", "companyname", "emailaddress1", "telephone1", "jobtitle", "address1_city", "address1_postalcode"} {
		cols = append(cols, col{n, "Nullable(String)", str(n)})
	}
	cols = append(cols, choice("leadsourcecode", 10)...)
	cols = append(cols, choice("leadqualitycode", 3)...)
	cols = append(cols,
		col{"new_score", "Nullable(Int32)", func(k int) any { return k % 100 }},
		col{"new_probability", "Nullable(Float64)", func(k int) any { return float64(k%1000) / 1000 }},
		col{"new_lastcontact", "Nullable(DateTime('UTC'))", at},
		col{"estimatedamount", "Nullable(Decimal(19, 4))", func(k int) any { return decimal.New(int64(k%100000), -2) }},
		col{"estimatedamount_base", "Nullable(Decimal(19, 4))", func(k int) any { return decimal.New(int64(k%100000), -2) }},
	)
	cols = append(cols, lookup("transactioncurrencyid", 2)...)
	cols = append(cols, lookup("parentaccountid", 3)...)
	cols = append(cols, lookup("parentcontactid", 4)...)
	cols = append(cols, lookup("customerid", 5)...)
	cols = append(cols, col{"customeridtype", "Nullable(String)", func(int) any { return "account" }})
	cols = append(cols, lookup("qualifyingopportunityid", 6)...)
	cols = append(cols, col{"donotemail", "Nullable(Bool)", func(k int) any { return k%2 == 0 }}, col{"merged", "Nullable(Bool)", func(int) any { return false }})
	cols = append(cols, lookup("masterid", 7)...)
	cols = append(cols,
		col{"_version", "UInt64", func(k int) any { return uint64(k) + 1<<40 }},
		col{"_deleted", "UInt8", func(int) any { return uint64(0) }},
		col{"_synced_at", "DateTime('UTC')", func(int) any { return time.Unix(1750000000, 0) }},
	)
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, warehouse.QuoteIdentifier(c.name)+" "+c.typ)
		names = append(names, c.name)
	}
	rows := make([][]any, total)
	for k := range rows {
		rows[k] = make([]any, len(cols))
		for i, c := range cols {
			rows[k][i] = c.val(k)
		}
	}
	cpu := func() float64 {
		var ru syscall.Rusage
		require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	const batchRows = 10_000
	per := 1e6 / float64(total)
	var appends, sends, totals, sizes []float64
	for n := 0; n < b.N; n++ {
		for range rounds {
			require.NoError(b, st.Exec(ctx, "DROP TABLE IF EXISTS lead_bench"))
			require.NoError(b, st.Exec(ctx, "CREATE TABLE lead_bench ("+strings.Join(defs, ", ")+") ENGINE = ReplacingMergeTree(_version) ORDER BY (_environment, leadid) SETTINGS max_bytes_to_merge_at_max_space_in_pool = 1, max_bytes_to_merge_at_min_space_in_pool = 1"))
			runtime.GC()
			var appendCPU, sendCPU float64
			bytes := 0
			for start := 0; start < total; start += batchRows {
				c0 := cpu()
				batch, err := st.PrepareInsert(ctx, "lead_bench", names)
				require.NoError(b, err)
				for _, r := range rows[start:min(start+batchRows, total)] {
					require.NoError(b, batch.Append(r...))
				}
				c1 := cpu()
				bytes += batch.Bytes()
				require.NoError(b, batch.Send(ctx))
				c2 := cpu()
				appendCPU += c1 - c0
				sendCPU += c2 - c1
			}
			got := all(b, st, "SELECT count() FROM lead_bench")
			require.EqualValues(b, total, got[0][0])
			appends, sends, totals = append(appends, appendCPU*per), append(sends, sendCPU*per), append(totals, (appendCPU+sendCPU)*per)
			sizes = append(sizes, float64(bytes)/float64(total))
			b.Logf("append %.2f send %.2f CPU-s per 1M rows, %d bytes per row", appendCPU*per, sendCPU*per, bytes/total)
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	b.ReportMetric(median(appends), "append-cpu-s/1M")
	b.ReportMetric(median(sends), "send-cpu-s/1M")
	b.ReportMetric(median(totals), "cpu-s/1M")
	b.ReportMetric(median(sizes), "bytes/row")
}
