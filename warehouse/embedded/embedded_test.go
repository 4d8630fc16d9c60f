//go:build cgo

package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/embedded"
)

// The engine binds one data directory per process, so every test in this
// binary shares one (made in TestMain) and tells itself apart by database.
var dataDir string

const childEnv = "AMPEL_EMBEDDED_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	dir, err := os.MkdirTemp("", "ampel-embedded-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dataDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// library is the libchdb under test: AMPEL_LIBCHDB or the default place.
func library(t testing.TB) string {
	lib := os.Getenv("AMPEL_LIBCHDB")
	if lib == "" {
		lib = embedded.DefaultLibrary()
	}
	if _, err := os.Stat(lib); err != nil {
		t.Fatalf("libchdb not found at %s: run `make libchdb` (or deploy/install-libchdb.sh) to install it", lib)
	}
	return lib
}

func config(t testing.TB) warehouse.Config {
	name := strings.NewReplacer("/", "_", "-", "_", "#", "_").Replace(t.Name())
	return warehouse.Config{Driver: "embedded", Path: dataDir, Library: library(t), Database: "t_" + strings.ToLower(name)}
}

func open(t testing.TB) warehouse.Store {
	cfg := config(t)
	st, err := warehouse.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = st.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		_ = st.Close()
	})
	return st
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func all(t testing.TB, st warehouse.Store, q string, args ...any) [][]any {
	t.Helper()
	rows, err := st.Query(ctxT(t), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		out = append(out, append([]any(nil), rows.Values()...))
	}
	require.NoError(t, rows.Err())
	return out
}

func TestOpenClose(t *testing.T) {
	cfg := config(t)
	st, err := warehouse.Open(ctxT(t), cfg)
	require.NoError(t, err)
	d := st.Dialect()
	assert.Equal(t, "embedded", d.Driver)
	assert.Equal(t, 26, d.Version.Major)
	assert.Equal(t, [][]any{{cfg.Database}}, all(t, st, "SELECT currentDatabase()"))

	// a second store on the same directory shares the engine
	st2, err := warehouse.Open(ctxT(t), cfg)
	require.NoError(t, err)
	require.NoError(t, st2.Exec(ctxT(t), "CREATE TABLE x (a UInt8) ENGINE = Memory"))
	assert.Equal(t, [][]any{{uint64(1)}}, all(t, st, "EXISTS TABLE x"))
	require.NoError(t, st2.Close())
	require.NoError(t, st.Exec(ctxT(t), "DROP DATABASE "+cfg.Database))

	require.NoError(t, st.Close())
	require.NoError(t, st.Close())
	assert.ErrorIs(t, st.Exec(ctxT(t), "SELECT 1"), warehouse.ErrClosed)
	_, err = st.Query(ctxT(t), "SELECT 1")
	assert.ErrorIs(t, err, warehouse.ErrClosed)

	// another directory in the same process is refused, clearly
	other := cfg
	other.Path = t.TempDir()
	_, err = warehouse.Open(ctxT(t), other)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "one data directory per process")
}

func TestMissingLibrary(t *testing.T) {
	cfg := config(t)
	cfg.Library = filepath.Join(t.TempDir(), "nope", "libchdb.so")
	_, err := warehouse.Open(ctxT(t), cfg)
	require.Error(t, err)
	assert.Equal(t, "embedded warehouse: libchdb not found at "+cfg.Library+`: run "make libchdb" (or deploy/install-libchdb.sh) to install it`, err.Error())
	assert.NotContains(t, err.Error(), "\n")
}

func TestDefaultLibrary(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	assert.Equal(t, "/x/cache/ampel/libchdb-26.7.3/libchdb.so", embedded.DefaultLibrary())
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, "/home/u/.cache/ampel/libchdb-26.7.3/libchdb.so", embedded.DefaultLibrary())
}

func TestTypesRoundTrip(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	cols := []struct{ name, typ string }{
		{"k", "UInt64"}, {"s", "String"}, {"fs", "FixedString(4)"}, {"ns", "Nullable(String)"},
		{"e8", "Enum8('b' = -2, 'a' = 1)"}, {"e16", "Enum16('x' = 1000)"},
		{"i8", "Int8"}, {"i16", "Int16"}, {"i32", "Int32"}, {"i64", "Int64"},
		{"u8", "UInt8"}, {"u16", "UInt16"}, {"u32", "UInt32"}, {"u64", "UInt64"},
		{"f32", "Float32"}, {"f64", "Float64"}, {"b", "Bool"}, {"id", "UUID"},
		{"d", "Date"}, {"dt", "DateTime('UTC')"}, {"dt64", "DateTime64(3, 'UTC')"}, {"dt9", "DateTime64(9)"},
		{"m9", "Decimal(9, 2)"}, {"m18", "Decimal(18, 4)"}, {"m38", "Decimal(38, 10)"},
		{"tags", "Array(String)"}, {"nums", "Array(Nullable(Int32))"}, {"lc", "LowCardinality(String)"},
		{"lcn", "LowCardinality(Nullable(String))"}, {"nd", "Nullable(Decimal(18, 2))"}, {"ndt", "Nullable(DateTime('UTC'))"},
	}
	var defs, names []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.typ)
		names = append(names, c.name)
	}
	require.NoError(t, st.Exec(ctx, "CREATE TABLE types_t ("+strings.Join(defs, ", ")+") ENGINE = MergeTree ORDER BY k"))
	id := uuid.MustParse("0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11")
	ts := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)
	ms := time.Date(2024, 2, 29, 23, 59, 58, 123e6, time.UTC)
	ns := time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC)
	row1 := []any{
		uint64(1), "tab\there 'q' \\ 日本語 🎉", "ab\x00\x00", "x",
		"b", "x",
		int64(-128), int64(-32768), int64(-2147483648), int64(-9223372036854775808),
		uint64(255), uint64(65535), uint64(4294967295), uint64(18446744073709551615),
		float64(1.5), float64(-1e300), true, id,
		time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC), ts, ms, ns,
		decimal.RequireFromString("-1234567.89"), decimal.RequireFromString("12345678901234.5678"),
		decimal.RequireFromString("-1234567890123456789012345678.0123456789"),
		[]string{"a", "", "c,d"}, []any{int64(1), nil, int64(-3)}, "low",
		nil, nil, nil,
	}
	row2 := []any{
		uint64(2), "", "abcd", nil,
		"a", "x",
		int64(127), int64(32767), int64(2147483647), int64(9223372036854775807),
		uint64(0), uint64(0), uint64(0), uint64(0),
		float64(0), float64(3.25), false, uuid.Nil,
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC(),
		decimal.Zero, decimal.Zero, decimal.Zero,
		[]string{}, []any{}, "",
		"lcv", decimal.RequireFromString("0.01"), ts,
	}
	b, err := st.PrepareInsert(ctx, "types_t", names)
	require.NoError(t, err)
	require.NoError(t, b.Append(row1...))
	require.NoError(t, b.Append(row2...))
	assert.Equal(t, 2, b.Rows())
	require.NoError(t, b.Send(ctx))

	rows, err := st.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM types_t ORDER BY k")
	require.NoError(t, err)
	defer rows.Close()
	for i, c := range rows.Columns() {
		assert.Equal(t, cols[i].name, c.Name)
		assert.Equal(t, strings.ReplaceAll(cols[i].typ, " ", ""), strings.ReplaceAll(c.Type, " ", ""))
	}
	for _, want := range [][]any{row1, row2} {
		require.True(t, rows.Next(), rows.Err())
		got := rows.Values()
		for i := range want {
			w, g := want[i], got[i]
			if wd, ok := w.(decimal.Decimal); ok {
				gd, ok := g.(decimal.Decimal)
				require.True(t, ok, "%s: %T", names[i], g)
				assert.True(t, wd.Equal(gd), "%s: want %s, got %s", names[i], wd, gd)
				continue
			}
			assert.Equal(t, w, g, names[i])
		}
	}
	assert.False(t, rows.Next())
	require.NoError(t, rows.Err())

	var s string
	var n int
	var pid string
	var pnull *string
	rows2, err := st.Query(ctx, "SELECT s, i32, id, ns FROM types_t WHERE k = ?", 2)
	require.NoError(t, err)
	defer rows2.Close()
	require.True(t, rows2.Next())
	require.NoError(t, rows2.Scan(&s, &n, &pid, &pnull))
	assert.Equal(t, "", s)
	assert.Equal(t, 2147483647, n)
	assert.Equal(t, uuid.Nil.String(), pid)
	assert.Nil(t, pnull)
}

func TestAppendChecks(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE a (k UInt8, d Decimal(9, 2), s String) ENGINE = Memory"))
	_, err := st.PrepareInsert(ctx, "missing", []string{"k"})
	assert.Equal(t, warehouse.CodeUnknownTable, warehouse.ErrorCode(err))
	_, err = st.PrepareInsert(ctx, "a", []string{"k", "nope"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nope")

	b, err := st.PrepareInsert(ctx, "a", []string{"k", "d", "s"})
	require.NoError(t, err)
	assert.Error(t, b.Append(256, "1.00", "x"), "overflow")
	assert.Error(t, b.Append(1, "1.001", "x"), "too many decimal places")
	assert.Error(t, b.Append(1, "1", nil), "NULL for non-Nullable")
	assert.Error(t, b.Append(1, "1"), "too few values")
	require.NoError(t, b.Append(uint8(7), 3, []byte("bytes")))
	assert.Equal(t, 1, b.Rows())
	require.NoError(t, b.Send(ctx))
	assert.ErrorIs(t, b.Send(ctx), warehouse.ErrClosed)
	require.NoError(t, b.Abort())
	assert.Equal(t, [][]any{{uint64(7), decimal.RequireFromString("3"), "bytes"}}, fixDecimals(all(t, st, "SELECT * FROM a")))
}

func fixDecimals(rows [][]any) [][]any {
	for _, r := range rows {
		for i, v := range r {
			if d, ok := v.(decimal.Decimal); ok {
				r[i] = decimal.RequireFromString(d.String())
			}
		}
	}
	return rows
}

func TestErrors(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	err := st.Exec(ctx, "SELECT * FROM no_such_table")
	var we *warehouse.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, warehouse.CodeUnknownTable, we.Code)
	assert.Contains(t, we.Message, "no_such_table")
	assert.NotContains(t, we.Message, "Code:")
	assert.Equal(t, "SELECT * FROM no_such_table", we.Query)

	_, err = st.Query(ctx, "SELECT nonsense(")
	require.ErrorAs(t, err, &we)
	assert.Equal(t, 62, we.Code) // SYNTAX_ERROR
	assert.Equal(t, "SELECT nonsense(", we.Query)

	// an error in the middle of a stream surfaces in Err
	rows, err := st.Query(ctx, "SELECT throwIf(number = 70000, 'boom') FROM numbers(100000) SETTINGS max_block_size = 1000")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.Error(t, rows.Err())
	assert.Contains(t, rows.Err().Error(), "boom")
	assert.Less(t, n, 70001)
	require.NoError(t, rows.Close())

	// the store is still usable
	assert.Equal(t, [][]any{{uint64(1)}}, all(t, st, "SELECT 1"))
}

func TestCancel(t *testing.T) {
	st := open(t)
	// a statement blocked in the engine is killed when its context ends
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := st.Exec(ctx, "SELECT sleepEachRow(0.5) FROM numbers(20) SETTINGS max_block_size = 1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	// a stream stops when its context is cancelled mid-way
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	rows, err := st.Query(ctx2, "SELECT number FROM numbers(100000000)")
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
		if n == 10 {
			cancel2()
		}
	}
	assert.ErrorIs(t, rows.Err(), context.Canceled)
	require.NoError(t, rows.Close())

	// QueryTimeout applies when the context has no deadline
	cfg := config(t)
	cfg.QueryTimeout = 200 * time.Millisecond
	st2, err := warehouse.Open(context.Background(), cfg)
	require.NoError(t, err)
	defer st2.Close()
	err = st2.Exec(context.Background(), "SELECT sleepEachRow(0.5) FROM numbers(20) SETTINGS max_block_size = 1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, [][]any{{uint64(1)}}, all(t, st2, "SELECT 1"))
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE c (k UInt64, s String) ENGINE = MergeTree ORDER BY k"))
	const batches, per = 20, 5000
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range batches {
			b, err := st.PrepareInsert(ctx, "c", []string{"k", "s"})
			if err != nil {
				errs <- err
				return
			}
			for j := range per {
				if err := b.Append(i*per+j, "v"); err != nil {
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
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := uint64(0)
			for last < batches*per {
				rows, err := st.Query(ctx, "SELECT count(), sum(k) FROM c")
				if err != nil {
					errs <- err
					return
				}
				if !rows.Next() {
					errs <- fmt.Errorf("no row: %v", rows.Err())
					rows.Close()
					return
				}
				n := rows.Values()[0].(uint64)
				rows.Close()
				if n < last || n%per != 0 {
					errs <- fmt.Errorf("count went from %d to %d", last, n)
					return
				}
				last = n
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestRestartAndLock runs the driver in child processes: data written by
// one process is read by the next, and a process that finds the directory
// held by another waits, then fails naming it.
func TestRestartAndLock(t *testing.T) {
	dir := t.TempDir()
	run := func(mode, path string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+mode, "AMPEL_TEST_DIR="+path, "AMPEL_LIBCHDB="+library(t))
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := run("write", dir)
	require.NoError(t, err, out)
	out, err = run("read", dir)
	require.NoError(t, err, out)
	assert.Equal(t, "rows=3 sum=6", out)

	// this process holds dataDir
	_ = open(t)
	start := time.Now()
	out, err = run("lock", dataDir)
	require.NoError(t, err, out)
	assert.Equal(t, fmt.Sprintf("embedded warehouse: warehouse directory %s is in use by another process (pid %d); waited 300ms", dataDir, os.Getpid()), out)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
}

func child(mode string) int {
	ctx := context.Background()
	if mode == "restore" {
		return restoreChild(ctx)
	}
	if m := os.Getenv("AMPEL_TEST_UMASK"); m != "" {
		mask, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		syscall.Umask(int(mask))
	}
	cfg := warehouse.Config{Driver: "embedded", Path: os.Getenv("AMPEL_TEST_DIR"), Library: os.Getenv("AMPEL_LIBCHDB"), DialTimeout: 300 * time.Millisecond}
	st, err := warehouse.Open(ctx, cfg)
	if mode == "lock" {
		if err == nil {
			fmt.Println("opened a directory another process holds")
			return 1
		}
		fmt.Println(err)
		if !errors.Is(err, warehouse.ErrInUse) {
			fmt.Println("the error does not match warehouse.ErrInUse")
			return 1
		}
		return 0
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer st.Close()
	switch mode {
	case "write":
		err = st.Exec(ctx, "CREATE TABLE p (k UInt64) ENGINE = MergeTree ORDER BY k")
		if err == nil {
			var b warehouse.Batch
			if b, err = st.PrepareInsert(ctx, "p", []string{"k"}); err == nil {
				for _, k := range []int{1, 2, 3} {
					_ = b.Append(k)
				}
				err = b.Send(ctx)
			}
		}
	case "read":
		var rows warehouse.Rows
		if rows, err = st.Query(ctx, "SELECT count(), sum(k) FROM p"); err == nil {
			var n, s uint64
			if rows.Next() {
				err = rows.Scan(&n, &s)
			}
			rows.Close()
			fmt.Printf("rows=%d sum=%d\n", n, s)
		}
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

func TestEmptyResultHasColumns(t *testing.T) {
	st := open(t)
	rows, err := st.Query(ctxT(t), "SELECT number AS n, toString(number) AS s FROM numbers(10) WHERE n > 100")
	require.NoError(t, err)
	defer rows.Close()
	assert.Equal(t, []warehouse.Column{{Name: "n", Type: "UInt64"}, {Name: "s", Type: "String"}}, rows.Columns())
	assert.False(t, rows.Next())
	require.NoError(t, rows.Err())
	assert.True(t, errors.Is(rows.Close(), nil))
}

// PrepareInsert caches column types; every way of changing a table makes
// the next batch see the change.
func TestInsertSeesSchemaChanges(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE sc (k UInt64) ENGINE = MergeTree ORDER BY k"))
	insert := func(cols []string, vals ...any) error {
		b, err := st.PrepareInsert(ctx, "sc", cols)
		if err != nil {
			return err
		}
		if err := b.Append(vals...); err != nil {
			return err
		}
		return b.Send(ctx)
	}
	require.NoError(t, insert([]string{"k"}, 1))
	require.Error(t, insert([]string{"k", "a"}, 2, "x"), "no column a yet")

	require.NoError(t, st.Exec(ctx, "ALTER TABLE sc ADD COLUMN a String"))
	require.NoError(t, insert([]string{"k", "a"}, 2, "x"), "Exec: column a added")

	rows, err := st.Query(ctx, "ALTER TABLE sc ADD COLUMN b Int32")
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	require.NoError(t, insert([]string{"k", "a", "b"}, 3, "y", 7), "Query: column b added")

	rows, err = st.Query(ctx, "/* a comment */ ALTER TABLE sc MODIFY COLUMN b String")
	require.NoError(t, err)
	require.NoError(t, rows.Close())
	assert.Error(t, insert([]string{"k", "a", "b"}, 4, "z", 8), "b is a String now: an int is refused before sending")
	require.NoError(t, insert([]string{"k", "a", "b"}, 4, "z", "8"))
	assert.Equal(t, [][]any{{uint64(1), "", ""}, {uint64(2), "x", ""}, {uint64(3), "y", "7"}, {uint64(4), "z", "8"}},
		all(t, st, "SELECT k, a, b FROM sc ORDER BY k"))
}

// TestShardedConfigRefused: warehouse.cluster is for servers; the embedded
// driver refuses it with one line before it loads anything.
func TestShardedConfigRefused(t *testing.T) {
	_, err := warehouse.Open(context.Background(), warehouse.Config{Driver: "embedded", Path: t.TempDir(), Cluster: "ampel"})
	require.ErrorContains(t, err, "warehouse.cluster needs the clickhouse driver")
}

// TestBatchesSizedFromTheLast: batches into one table one after another,
// each first buffer sized from the batch before (Store.batchSizes): of
// several chunks, a small one, one aborted half-way, and a large one
// again. Every row stored is the one appended, and the aborted batch
// stores nothing.
func TestBatchesSizedFromTheLast(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE reuse (k UInt64, s String) ENGINE = MergeTree ORDER BY k"))
	const rows = 6000 // of 4 KB: three chunks
	text := func(batch, k int) string { return strings.Repeat(string(rune('a'+batch)), 4000) + fmt.Sprint(k) }
	for batch := range 4 {
		b, err := st.PrepareInsert(ctx, "reuse", []string{"k", "s"})
		require.NoError(t, err)
		n := rows
		if batch == 1 {
			n = 10
		}
		for k := range n {
			require.NoError(t, b.Append(uint64(batch*rows+k), text(batch, k)))
		}
		if batch == 2 {
			require.NoError(t, b.Abort())
			continue
		}
		require.NoError(t, b.Send(ctx))
	}
	got := all(t, st, "SELECT intDiv(k, 6000) AS batch, count(), countIf(s = concat(repeat(char(97 + batch), 4000), toString(k % 6000))) FROM reuse GROUP BY batch ORDER BY batch")
	require.Equal(t, [][]any{{uint64(0), uint64(rows), uint64(rows)}, {uint64(1), uint64(10), uint64(10)}, {uint64(3), uint64(rows), uint64(rows)}}, got)
}

// TestBatchSizedFromItsBound: a batch told where it ends
// (warehouse.WithBatchBound, in rows or in bytes) sizes its buffers at
// ProbeRows rows and does not grow them again up to that end, in every
// kind of buffer (null map, fixed and variable values, array offsets and
// elements); every row stored is the one appended. Without a bound the
// buffers grow on.
func TestBatchSizedFromItsBound(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	id := uuid.MustParse("0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11")
	row := func(k int) []any {
		var s any
		if k%3 != 0 {
			s = fmt.Sprintf("text %06d", k)
		}
		return []any{uint64(k), s, id, []string{"a", fmt.Sprint(k % 7)}}
	}
	const rows = 5000
	// a row is about 45 bytes (k 8, s 1 + 12 or 1, id 16, tags 8 + 4): a
	// bound of rows·45 bytes, with its quarter more, holds the rows
	const perRow = 45
	for _, c := range []struct {
		name  string
		bound warehouse.BatchBound
		grows bool
	}{
		{"rows", warehouse.BatchBound{Rows: rows}, false},
		{"bytes", warehouse.BatchBound{Bytes: rows * perRow}, false},
		{"none", warehouse.BatchBound{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// a table of its own: a batch into a table written before
			// is sized from the batch before (Store.batchSizes)
			table := "bound_" + c.name
			require.NoError(t, st.Exec(ctx, "CREATE TABLE "+table+" (k UInt64, s Nullable(String), id UUID, tags Array(String)) ENGINE = MergeTree ORDER BY k"))
			b, err := st.PrepareInsert(warehouse.WithBatchBound(ctx, c.bound), table, []string{"k", "s", "id", "tags"})
			require.NoError(t, err)
			var sized int
			for k := range rows {
				require.NoError(t, b.Append(row(k)...))
				if k+1 == embedded.ProbeRows {
					sized = embedded.BatchCapacity(b)
				}
			}
			if c.grows {
				assert.Greater(t, embedded.BatchCapacity(b), sized)
			} else {
				assert.Equal(t, sized, embedded.BatchCapacity(b), "the buffers grew after the probe")
			}
			require.NoError(t, b.Send(ctx))
			got := all(t, st, "SELECT count(), countIf(s IS NULL), countIf(s = concat('text ', leftPad(toString(k), 6, '0'))), countIf(id = toUUID('0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11')), countIf(tags = ['a', toString(k % 7)]) FROM "+table)
			require.Equal(t, [][]any{{uint64(rows), uint64(rows+2) / 3, uint64(rows - (rows+2)/3), uint64(rows), uint64(rows)}}, got)
		})
	}
}

// TestAppendRefusedRowLeavesNoTrace: a row refused by a later column, or
// by an element in the middle of an array (a Date before 1970, refused by
// the encoder after the elements before it were written), leaves nothing
// in the columns already written (each column of a Native block has its
// own buffers), over two blocks.
func TestAppendRefusedRowLeavesNoTrace(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE undo_t (k UInt64, tags Array(Nullable(String)), ns Nullable(String), lc LowCardinality(Nullable(String)), id Nullable(UUID), n Int32, pad String, days Array(Date)) ENGINE = MergeTree ORDER BY k"))
	b, err := st.PrepareInsert(ctx, "undo_t", []string{"k", "tags", "ns", "lc", "id", "n", "pad", "days"})
	require.NoError(t, err)
	id := uuid.MustParse("0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11")
	pad := strings.Repeat("p", 3000) // 3000 rows of it end a block
	const rows = 4000
	for k := range rows {
		var tags []any
		if k%2 == 0 {
			tags = []any{"a", nil, fmt.Sprint(k)}
		}
		var ns, lc, uid any
		if k%3 != 0 {
			ns, lc, uid = fmt.Sprint("s", k), "lc", id
		}
		day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		require.NoError(t, b.Append(uint64(k), tags, ns, lc, uid, int32(k), pad, []time.Time{day}))
		assert.Error(t, b.Append(uint64(k), []any{"x", "y"}, "z", "lc", id, "not a number", pad, []time.Time{day}), "row %d", k)
		assert.Error(t, b.Append(uint64(k), []any{"x", 7, "y"}, "z", "lc", id, 1, pad, []time.Time{day}), "row %d", k)
		assert.Error(t, b.Append(uint64(k), []any{"x"}, "z", "lc", id, 1, pad, []time.Time{day, day.AddDate(-60, 0, 0), day}), "row %d", k)
	}
	require.Equal(t, rows, b.Rows())
	require.NoError(t, b.Send(ctx))
	got := all(t, st, `SELECT count(), sum(k), countIf(empty(tags)), countIf(tags = ['a', NULL, toString(k)]),
		countIf(ns IS NULL AND lc IS NULL AND id IS NULL), countIf(ns = concat('s', toString(k)) AND lc = 'lc' AND id = toUUID('0b5f6b2e-8f1a-4c8e-9d39-3c1f0b7a9e11')),
		countIf(n = k), countIf(pad = repeat('p', 3000)), countIf(days = [toDate('2024-01-01')]) FROM undo_t`)
	assert.Equal(t, [][]any{{uint64(rows), uint64(rows * (rows - 1) / 2), uint64(rows / 2), uint64(rows / 2),
		uint64((rows + 2) / 3), uint64(rows - (rows+2)/3), uint64(rows), uint64(rows), uint64(rows)}}, got)
}
