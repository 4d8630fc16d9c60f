// Package storetest is the contract every warehouse driver passes: one
// suite, run against a real engine, that pins down what warehouse.Store
// promises (DDL and its errors, every value type Ampel stores, large
// batches, concurrent readers and writers, server errors, read-only
// contexts and the hostile statements they refuse (readonly.go),
// placeholders, Close). The landing layer built on it (ReplacingMergeTree,
// current-state views) is tested in warehouse/landing, on both drivers.
//
// A driver's tests call Run with a function that opens a store on a fresh
// database:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) warehouse.Store {
//			return warehousetest.Open(t, warehousetest.ClickHouse(t))
//		})
//	}
//
// Under -short the large batch has 100,000 rows instead of 1,000,000.
package storetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// Open opens a store on a fresh database for one subtest and arranges for
// it to be closed (and the database dropped) when the subtest ends.
type Open func(t *testing.T) warehouse.Store

// Run runs the whole contract as subtests of t.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"Dialect", testDialect},
		{"DDL", testDDL},
		{"Types", testTypes},
		{"AppendChecks", testAppendChecks},
		{"InsertSettings", testInsertSettings},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentReadWrite", testConcurrent},
		{"Errors", testErrors},
		{"ReadOnly", testReadOnly},
		{"ReadOnlyAllowed", testReadOnlyAllowed},
		{"ReadOnlyHostile", testReadOnlyHostile},
		{"FunctionList", testFunctionList},
		{"Bind", testBind},
		{"Cancel", testCancel},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// The helpers below are warehousetest's, named as the subtests call them.

func ctxT(t *testing.T) context.Context { return warehousetest.Context(t) }

func exec(t *testing.T, st warehouse.Store, q string, args ...any) {
	t.Helper()
	warehousetest.Exec(t, st, q, args...)
}

// queryAll returns every row of q, each a copy of Rows.Values.
func queryAll(t *testing.T, st warehouse.Store, q string, args ...any) [][]any {
	t.Helper()
	return warehousetest.QueryAll(t, st, q, args...)
}

// queryOne returns the single value of q.
func queryOne(t *testing.T, st warehouse.Store, q string, args ...any) any {
	t.Helper()
	return warehousetest.QueryOne(t, st, q, args...)
}

func testDialect(t *testing.T, open Open) {
	st := open(t)
	d := st.Dialect()
	assert.NotEmpty(t, d.Driver)
	assert.Positive(t, d.Version.Major, "Dialect().Version from SELECT version()")
	v := queryOne(t, st, "SELECT version()").(string)
	want, err := warehouse.ParseVersion(v)
	require.NoError(t, err)
	assert.Equal(t, want, d.Version)
	assert.Contains(t, []string{"Bool", "UInt8"}, d.Bool())
}

func testDDL(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	create := "CREATE TABLE ddl_t (id UInt64, s String) ENGINE = MergeTree ORDER BY id"
	exec(t, st, create)
	assert.Equal(t, uint64(1), queryOne(t, st, "EXISTS TABLE ddl_t"))
	assert.Equal(t, uint64(0), queryOne(t, st, "EXISTS TABLE ddl_missing"))

	err := st.Exec(ctx, create)
	var we *warehouse.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, warehouse.CodeTableAlreadyExists, we.Code)
	assert.Contains(t, we.Query, "CREATE TABLE ddl_t")
	assert.NotEmpty(t, we.Message)
	exec(t, st, "CREATE TABLE IF NOT EXISTS ddl_t (id UInt64) ENGINE = MergeTree ORDER BY id")

	err = st.Exec(ctx, "DROP TABLE ddl_missing")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, warehouse.CodeUnknownTable, we.Code)
	assert.Equal(t, warehouse.CodeUnknownTable, warehouse.ErrorCode(err))
	exec(t, st, "DROP TABLE IF EXISTS ddl_missing")

	exec(t, st, "ALTER TABLE ddl_t ADD COLUMN n Nullable(Int32) AFTER id")
	cols, err := warehouse.TableColumns(ctx, st, "ddl_t")
	require.NoError(t, err)
	assert.Equal(t, []warehouse.Column{{Name: "id", Type: "UInt64"}, {Name: "n", Type: "Nullable(Int32)"}, {Name: "s", Type: "String"}}, cols)

	exec(t, st, "CREATE VIEW ddl_v AS SELECT id, s FROM ddl_t")
	exec(t, st, "DROP TABLE ddl_v")
	exec(t, st, "DROP TABLE ddl_t")
	assert.Equal(t, uint64(0), queryOne(t, st, "EXISTS TABLE ddl_t"))
}

// typeColumns are the column types Ampel stores; flag's type comes from
// Dialect.Bool.
func typeColumns(d warehouse.Dialect) []warehouse.Column {
	return []warehouse.Column{
		{Name: "k", Type: "UInt64"},
		{Name: "s", Type: "String"},
		{Name: "ns", Type: "Nullable(String)"},
		{Name: "id", Type: "UUID"},
		{Name: "ts", Type: "DateTime('UTC')"},
		{Name: "d", Type: "Date"},
		{Name: "m", Type: "Decimal(18, 2)"},
		{Name: "big", Type: "Decimal(38, 10)"},
		{Name: "i32", Type: "Int32"},
		{Name: "i64", Type: "Int64"},
		{Name: "u8", Type: "UInt8"},
		{Name: "u64", Type: "UInt64"},
		{Name: "f", Type: "Float64"},
		{Name: "flag", Type: d.Bool()},
		{Name: "tags", Type: "Array(String)"},
		{Name: "lc", Type: "LowCardinality(String)"},
		{Name: "nm", Type: "Nullable(Decimal(18, 2))"},
		{Name: "nts", Type: "Nullable(DateTime('UTC'))"},
		{Name: "ni", Type: "Nullable(Int64)"},
	}
}

func testTypes(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	cols := typeColumns(st.Dialect())
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, c.Name+" "+c.Type)
		names = append(names, c.Name)
	}
	exec(t, st, "CREATE TABLE types_t ("+strings.Join(defs, ", ")+") ENGINE = MergeTree ORDER BY k")

	berlin := time.FixedZone("CET", 3600)
	str := "pointer"
	nilStr := (*string)(nil)
	id := uuid.MustParse("0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11")
	weird := "tab\there, newline\nthere, CR\r, 'single' \"double\" `back` \\backslash\\ ?, ; -- /* */"
	unicode := "héllo wörld — 日本語 🎉 Ωμέγα"
	flag := func(b bool) any {
		if st.Dialect().Bool() == "Bool" {
			return b
		}
		if b {
			return uint64(1)
		}
		return uint64(0)
	}
	dec := decimal.RequireFromString
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}

	// each row: what Append gets, then what Values must return
	rows := []struct{ in, want []any }{
		{
			in:   []any{0, "", nilStr, uuid.Nil, time.Unix(0, 0), time.Unix(0, 0), "0", 0, int32(0), int64(0), uint8(0), uint64(0), 0.0, false, []string{}, "", nil, nil, nil},
			want: []any{uint64(0), "", nil, uuid.Nil, utc(1970, 1, 1, 0, 0, 0), utc(1970, 1, 1, 0, 0, 0), dec("0"), dec("0"), int64(0), int64(0), uint64(0), uint64(0), 0.0, flag(false), []string{}, "", nil, nil, nil},
		},
		{
			in: []any{uint64(1), unicode, &str, id.String(), time.Date(2026, 11, 23, 13, 34, 56, 789, berlin), time.Date(2026, 11, 23, 23, 30, 0, 0, berlin),
				dec("-12345678.90"), "-1234567890123456789012345678.0123456789", int32(math.MinInt32), int64(math.MinInt64), uint8(255), uint64(math.MaxUint64),
				-1.5e300, true, []string{"a", "", "x,y", "it's"}, "Open", dec("19.99"), time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), int64(-7)},
			want: []any{uint64(1), unicode, "pointer", id, utc(2026, 11, 23, 12, 34, 56), utc(2026, 11, 23, 0, 0, 0),
				dec("-12345678.9"), dec("-1234567890123456789012345678.0123456789"), int64(math.MinInt32), int64(math.MinInt64), uint64(255), uint64(math.MaxUint64),
				-1.5e300, flag(true), []string{"a", "", "x,y", "it's"}, "Open", dec("19.99"), utc(2030, 1, 2, 3, 4, 5), int64(-7)},
		},
		{
			in: []any{2, weird, "", [16]byte(id), utc(2105, 12, 31, 23, 59, 59), utc(2099, 12, 31, 0, 0, 0),
				dec("9999999999999999.99"), dec("0.0000000001"), int32(math.MaxInt32), int64(math.MaxInt64), 7, 42,
				0.1, 1, []any{weird, unicode}, weird, "-0.01", nil, math.MaxInt64},
			want: []any{uint64(2), weird, "", id, utc(2105, 12, 31, 23, 59, 59), utc(2099, 12, 31, 0, 0, 0),
				dec("9999999999999999.99"), dec("0.0000000001"), int64(math.MaxInt32), int64(math.MaxInt64), uint64(7), uint64(42),
				0.1, flag(true), []string{weird, unicode}, weird, dec("-0.01"), nil, int64(math.MaxInt64)},
		},
	}
	// Type.Zero gives every column a value Append takes: the zero row again
	zero := struct{ in, want []any }{in: []any{3}, want: append([]any{uint64(3)}, rows[0].want[1:]...)}
	for _, c := range cols[1:] {
		typ, err := warehouse.ParseType(c.Type)
		require.NoError(t, err)
		zero.in = append(zero.in, typ.Zero())
	}
	rows = append(rows, zero)
	b, err := st.PrepareInsert(ctx, "types_t", names)
	require.NoError(t, err)
	for i, r := range rows {
		require.NoError(t, b.Append(r.in...), "row %d", i)
	}
	assert.Equal(t, len(rows), b.Rows())
	require.NoError(t, b.Send(ctx))
	require.NoError(t, b.Abort(), "Abort after Send is safe")

	rs, err := st.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM types_t ORDER BY k")
	require.NoError(t, err)
	defer rs.Close()
	gotCols := rs.Columns()
	require.Len(t, gotCols, len(cols))
	for i, c := range cols {
		assert.Equal(t, c.Name, gotCols[i].Name)
		assert.Equal(t, strings.ReplaceAll(c.Type, " ", ""), strings.ReplaceAll(gotCols[i].Type, " ", ""), "type of %s", c.Name)
	}
	n := 0
	for rs.Next() {
		require.Less(t, n, len(rows))
		got := rs.Values()
		for i, want := range rows[n].want {
			assertValue(t, want, got[i], fmt.Sprintf("row %d column %s", n, cols[i].Name))
		}
		n++
	}
	require.NoError(t, rs.Err())
	assert.Equal(t, len(rows), n)

	// Scan into ordinary Go types.
	rs2, err := st.Query(ctx, "SELECT s, ns, id, ts, m, i32, u64, flag, tags FROM types_t WHERE k = 1")
	require.NoError(t, err)
	defer rs2.Close()
	require.True(t, rs2.Next(), "row k=1: %v", rs2.Err())
	var (
		s     string
		ns    *string
		gotID uuid.UUID
		ts    time.Time
		m     decimal.Decimal
		i32   int32
		u64   uint64
		fl    bool
		tags  []string
	)
	require.NoError(t, rs2.Scan(&s, &ns, &gotID, &ts, &m, &i32, &u64, &fl, &tags))
	assert.Equal(t, unicode, s)
	require.NotNil(t, ns)
	assert.Equal(t, "pointer", *ns)
	assert.Equal(t, id, gotID)
	assert.True(t, ts.Equal(utc(2026, 11, 23, 12, 34, 56)))
	assert.True(t, m.Equal(dec("-12345678.9")))
	assert.Equal(t, int32(math.MinInt32), i32)
	assert.Equal(t, uint64(math.MaxUint64), u64)
	assert.True(t, fl)
	assert.Equal(t, []string{"a", "", "x,y", "it's"}, tags)
	assert.False(t, rs2.Next())
	require.NoError(t, rs2.Err())
	require.NoError(t, rs2.Close())
	require.NoError(t, rs2.Close(), "Close twice is safe")

	// values round-trip through Bind too
	got := queryOne(t, st, "SELECT count() FROM types_t WHERE s = ? AND lc = ? AND id = ?", weird, weird, id)
	assert.Equal(t, uint64(1), got)
}

// assertValue compares a canonical value: decimals by value, times by
// instant and UTC location, nil and empty slices alike.
func assertValue(t *testing.T, want, got any, what string) {
	t.Helper()
	switch w := want.(type) {
	case decimal.Decimal:
		g, ok := got.(decimal.Decimal)
		if assert.True(t, ok, "%s: want decimal.Decimal, got %T %v", what, got, got) {
			assert.True(t, w.Equal(g), "%s: want %s, got %s", what, w, g)
		}
	case time.Time:
		g, ok := got.(time.Time)
		if assert.True(t, ok, "%s: want time.Time, got %T %v", what, got, got) {
			assert.True(t, w.Equal(g), "%s: want %s, got %s", what, w, g)
			assert.Equal(t, time.UTC, g.Location(), what)
		}
	case []string:
		g, ok := got.([]string)
		if assert.True(t, ok, "%s: want []string, got %T %v", what, got, got) {
			if len(w) == 0 {
				assert.Empty(t, g, what)
			} else {
				assert.Equal(t, w, g, what)
			}
		}
	default:
		assert.Equal(t, want, got, what)
	}
}

func testAppendChecks(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	exec(t, st, "CREATE TABLE ac_t (id UInt64, s String, n Int32, m Decimal(18, 2), u UUID) ENGINE = MergeTree ORDER BY id")
	b, err := st.PrepareInsert(ctx, "ac_t", []string{"id", "s", "n", "m", "u"})
	require.NoError(t, err)
	defer b.Abort()
	okRow := []any{1, "a", 1, "1.25", uuid.New()}
	require.NoError(t, b.Append(okRow...))
	bad := [][]any{
		{1, "a", 1, "1.25"},                             // too few values
		{1, 2, 1, "1.25", uuid.New()},                   // int for String
		{1, "a", int64(math.MaxInt64), "1", uuid.New()}, // overflows Int32
		{1, "a", 1, "1.255", uuid.New()},                // too many decimal places
		{1, "a", 1, "1", "not-a-uuid"},                  // bad UUID
		{-1, "a", 1, "1", uuid.New()},                   // negative for UInt64
		{1, nil, 1, "1", uuid.New()},                    // NULL for non-Nullable
	}
	for i, r := range bad {
		assert.Error(t, b.Append(r...), "bad row %d must fail at Append", i)
	}
	require.NoError(t, b.Append(okRow...), "batch usable after rejected rows")
	require.NoError(t, b.Send(ctx))
	assert.Equal(t, uint64(2), queryOne(t, st, "SELECT count() FROM ac_t"))

	_, err = st.PrepareInsert(ctx, "ac_missing", []string{"id"})
	assert.Equal(t, warehouse.CodeUnknownTable, warehouse.ErrorCode(err), "PrepareInsert into a missing table: %v", err)

	b2, err := st.PrepareInsert(ctx, "ac_t", []string{"id", "s", "n", "m", "u"})
	require.NoError(t, err)
	require.NoError(t, b2.Append(okRow...))
	require.NoError(t, b2.Abort())
	assert.Error(t, b2.Send(ctx), "Send after Abort")
	assert.Equal(t, uint64(2), queryOne(t, st, "SELECT count() FROM ac_t"), "an aborted batch writes nothing")
}

// testInsertSettings checks that a batch's INSERT runs with the settings
// of warehouse.WithInsertSettings: an unknown one is refused, and on
// engines that collapse a ReplacingMergeTree's rows on insert
// (ModernSQL), optimize_on_insert = 0 keeps both rows of a key.
func testInsertSettings(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	exec(t, st, "CREATE TABLE is_t (id UInt64, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY id")
	insert := func(ctx context.Context) error {
		b, err := st.PrepareInsert(ctx, "is_t", []string{"id", "v"})
		if err != nil {
			return err
		}
		for v := 1; v <= 2; v++ {
			if err := b.Append(7, v); err != nil {
				_ = b.Abort()
				return err
			}
		}
		return b.Send(ctx)
	}
	err := insert(warehouse.WithInsertSettings(ctx, warehouse.InsertSetting{Name: "no_such_setting_of_ampel", Value: 1}))
	require.Error(t, err, "an unknown setting reaches the engine, which refuses it")
	assert.Contains(t, err.Error(), "no_such_setting_of_ampel")
	assert.Error(t, insert(warehouse.WithInsertSettings(ctx, warehouse.InsertSetting{Name: "a = 1, b", Value: 1})), "a name that is not an identifier")
	assert.Equal(t, uint64(0), queryOne(t, st, "SELECT count() FROM is_t"), "a refused INSERT writes nothing")

	require.NoError(t, insert(ctx))
	if !st.Dialect().ModernSQL() {
		return
	}
	assert.Equal(t, uint64(1), queryOne(t, st, "SELECT count() FROM is_t"), "the engine collapses a key's rows on insert by default")
	require.NoError(t, insert(warehouse.WithInsertSettings(ctx, warehouse.InsertSetting{Name: "optimize_on_insert", Value: 0})))
	assert.Equal(t, uint64(3), queryOne(t, st, "SELECT count() FROM is_t"), "optimize_on_insert = 0 keeps both rows of the INSERT")
	assert.Equal(t, uint64(2), queryOne(t, st, "SELECT v FROM is_t FINAL"))
}

func testLargeBatch(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	exec(t, st, "CREATE TABLE big_t (id UInt64, s String, amount Decimal(18, 2), day Date) ENGINE = MergeTree ORDER BY id")
	b, err := st.PrepareInsert(ctx, "big_t", []string{"id", "s", "amount", "day"})
	require.NoError(t, err)
	var sumID, sumLen uint64
	var sumCents int64
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s := fmt.Sprintf("row-%d", i)
		cents := int64(i%10000) - 5000
		require.NoError(t, b.Append(uint64(i), s, decimal.New(cents, -2), base.AddDate(0, 0, i%365)))
		sumID += uint64(i)
		sumLen += uint64(len(s))
		sumCents += cents
	}
	require.Equal(t, n, b.Rows())
	start := time.Now()
	require.NoError(t, b.Send(ctx))
	t.Logf("sent %d rows in %s", n, time.Since(start).Round(time.Millisecond))
	got := queryAll(t, st, "SELECT count(), sum(id), sum(length(s)), toString(sum(amount)), uniqExact(day) FROM big_t")
	require.Len(t, got, 1)
	assert.Equal(t, uint64(n), got[0][0])
	assert.Equal(t, sumID, got[0][1])
	assert.Equal(t, sumLen, got[0][2])
	gotSum := decimal.RequireFromString(got[0][3].(string))
	assert.True(t, gotSum.Equal(decimal.New(sumCents, -2)), "sum(amount) = %s, want %s", gotSum, decimal.New(sumCents, -2))
	assert.Equal(t, uint64(365), got[0][4])

	// streaming every row back
	rows, err := st.Query(ctx, "SELECT id, s FROM big_t")
	require.NoError(t, err)
	defer rows.Close()
	var readSum uint64
	count := 0
	for rows.Next() {
		v := rows.Values()
		readSum += v[0].(uint64)
		count++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, n, count)
	assert.Equal(t, sumID, readSum)
}

func testConcurrent(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	exec(t, st, "CREATE TABLE cc_t (id UInt64, w UInt8, s String) ENGINE = MergeTree ORDER BY id")
	const writers, batches, perBatch, readers = 2, 10, 500, 4
	done := make(chan struct{})
	var wg, rg sync.WaitGroup
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				b, err := st.PrepareInsert(ctx, "cc_t", []string{"id", "w", "s"})
				if err != nil {
					errs <- err
					return
				}
				for j := range perBatch {
					if err := b.Append((w*batches+i)*perBatch+j, w, "x"); err != nil {
						errs <- err
						return
					}
				}
				if err := b.Send(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				rows, err := st.Query(ctx, "SELECT count(), uniqExact(id) FROM cc_t")
				if err != nil {
					errs <- err
					return
				}
				var n, u uint64
				if rows.Next() {
					err = rows.Scan(&n, &u)
				}
				if err == nil {
					err = rows.Err()
				}
				rows.Close()
				if err != nil {
					errs <- err
					return
				}
				if n < last || n != u || n%perBatch != 0 {
					errs <- fmt.Errorf("reader saw count %d (distinct %d) after %d: a batch must appear whole", n, u, last)
					return
				}
				last = n
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, uint64(writers*batches*perBatch), queryOne(t, st, "SELECT count() FROM cc_t"))
}

func testErrors(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	var we *warehouse.Error

	err := st.Exec(ctx, "SELEC 1")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, 62, we.Code, "SYNTAX_ERROR")
	assert.Contains(t, we.Message, "Syntax error")
	assert.NotContains(t, we.Message, "\n")
	assert.Equal(t, "SELEC 1", we.Query)
	assert.Contains(t, err.Error(), "SELEC 1")

	_, err = st.Query(ctx, "SELECT *\nFROM   no_such_table")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, warehouse.CodeUnknownTable, we.Code)
	assert.Contains(t, we.Message, "no_such_table")
	assert.Equal(t, "SELECT * FROM no_such_table", we.Query, "the statement on one line")

	// a failure while streaming: the error comes from Next/Err
	rows, err := st.Query(ctx, "SELECT throwIf(number = 3) FROM system.numbers LIMIT 10")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	require.ErrorAs(t, err, &we)
	assert.NotZero(t, we.Code)

	assert.Error(t, st.Exec(ctx, "SELECT ?", 1, 2), "more arguments than placeholders")
	assert.Error(t, st.Exec(ctx, "SELECT ?, ?", 1), "more placeholders than arguments")

	// a syntax error's position counts in the caller's statement, also
	// where the driver sends more (a marker, EXPLAIN AST for a read-only one)
	for _, c := range []context.Context{ctx, warehouse.ReadOnly(ctx)} {
		_, err = st.Query(c, "SELECT 1 +")
		require.ErrorAs(t, err, &we)
		assert.Contains(t, we.Message, "failed at position 11 (end of query)", "read-only: %v", warehouse.IsReadOnly(c))
		assert.Equal(t, "SELECT 1 +", we.Query)
		assert.NotContains(t, we.Message, "EXPLAIN")
	}
	err = st.Exec(ctx, "SELECT 1 +")
	require.ErrorAs(t, err, &we)
	assert.Contains(t, we.Message, "failed at position 11 (end of query)")

	long := "SELECT " + strings.Repeat("1 + ", 500) + "x_unknown_identifier"
	err = st.Exec(ctx, long)
	require.ErrorAs(t, err, &we)
	assert.LessOrEqual(t, len(we.Query), 310, "Query is shortened")
}

func testReadOnly(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	exec(t, st, "CREATE TABLE ro_t (id UInt64) ENGINE = MergeTree ORDER BY id")
	exec(t, st, "INSERT INTO ro_t (id) VALUES (1)")
	ro := warehouse.ReadOnly(ctx)

	assert.Equal(t, uint64(1), queryOne(t, st, "SELECT count() FROM ro_t"))
	rows, err := st.Query(ro, "SELECT count() FROM ro_t")
	require.NoError(t, err, "reads are allowed")
	require.True(t, rows.Next())
	require.NoError(t, rows.Close())

	for _, q := range []string{
		"INSERT INTO ro_t (id) VALUES (2)",
		"DROP TABLE ro_t",
		"CREATE TABLE ro_u (id UInt64) ENGINE = MergeTree ORDER BY id",
		"ALTER TABLE ro_t ADD COLUMN x String",
		"TRUNCATE TABLE ro_t",
	} {
		err := st.Exec(ro, q)
		assert.ErrorIs(t, err, warehouse.ErrReadOnly, q)
	}
	_, err = st.Query(ro, "INSERT INTO ro_t (id) VALUES (3)")
	assert.ErrorIs(t, err, warehouse.ErrReadOnly, "Query does not bypass read-only")

	b, err := st.PrepareInsert(ro, "ro_t", []string{"id"})
	if err == nil {
		require.NoError(t, b.Append(4))
		err = b.Send(ro)
	}
	assert.ErrorIs(t, err, warehouse.ErrReadOnly, "a batch under a read-only context")

	assert.Equal(t, uint64(1), queryOne(t, st, "SELECT count() FROM ro_t"), "nothing changed")
	exec(t, st, "INSERT INTO ro_t (id) VALUES (5)") // the store itself is not read-only
}

func testBind(t *testing.T, open Open) {
	st := open(t)
	id := uuid.New()
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	got := queryAll(t, st, "SELECT ?, ?, ?, ?, ?, ?, '?', ? -- ?\n", "it's a \"test\"\n\t\\", int64(-5), uint64(math.MaxUint64), id, ts, 2.5, []string{"a", "b'c"})
	require.Len(t, got, 1)
	want := []any{"it's a \"test\"\n\t\\", int64(-5), uint64(math.MaxUint64), id, ts, 2.5, "?", []string{"a", "b'c"}}
	require.Len(t, got[0], len(want))
	for i := range want {
		assertValue(t, want[i], got[0][i], fmt.Sprintf("argument %d", i))
	}
	exec(t, st, "CREATE TABLE bind_t (id UUID, s Nullable(String), m Decimal(18, 2)) ENGINE = MergeTree ORDER BY id")
	exec(t, st, "INSERT INTO bind_t (id, s, m) VALUES (?, ?, ?)", id, nil, decimal.RequireFromString("12.34"))
	got = queryAll(t, st, "SELECT s, m FROM bind_t WHERE id = ? AND m = ?", id, decimal.RequireFromString("12.34"))
	require.Len(t, got, 1)
	assert.Nil(t, got[0][0])
	assertValue(t, decimal.RequireFromString("12.34"), got[0][1], "m")
	// an injection attempt stays a string
	assert.Equal(t, uint64(0), queryOne(t, st, "SELECT count() FROM bind_t WHERE s = ?", "x' OR 1 = 1 --"))
}

func testCancel(t *testing.T, open Open) {
	st := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := st.Exec(ctx, "SELECT 1")
	assert.ErrorIs(t, err, context.Canceled)

	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start := time.Now()
	rows, err := st.Query(ctx2, "SELECT count() FROM system.numbers")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	assert.Error(t, err, "a query past its deadline fails")
	assert.Less(t, time.Since(start), 20*time.Second, "and returns soon after the deadline")
	assert.Equal(t, uint64(1), queryOne(t, st, "SELECT 1"), "the store still works")
}

func testClose(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	exec(t, st, "CREATE TABLE close_t (id UInt64) ENGINE = MergeTree ORDER BY id")
	require.NoError(t, st.Close())
	assert.ErrorIs(t, st.Exec(ctx, "SELECT 1"), warehouse.ErrClosed)
	_, err := st.Query(ctx, "SELECT 1")
	assert.ErrorIs(t, err, warehouse.ErrClosed)
	_, err = st.PrepareInsert(ctx, "close_t", []string{"id"})
	assert.ErrorIs(t, err, warehouse.ErrClosed)
	if err := st.Close(); err != nil {
		assert.ErrorIs(t, err, warehouse.ErrClosed, "a second Close")
	}
}
