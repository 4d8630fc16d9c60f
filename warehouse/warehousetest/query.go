package warehousetest

import (
	"context"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Context returns a context for one test's statements: canceled when tb
// ends, and after five minutes at most.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// Exec runs q with args on st and fails tb if it fails.
func Exec(tb testing.TB, st warehouse.Store, q string, args ...any) {
	tb.Helper()
	if err := st.Exec(Context(tb), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// QueryAll returns every row of q, each a copy of Rows.Values; it fails
// tb if the query fails.
func QueryAll(tb testing.TB, st warehouse.Store, q string, args ...any) [][]any {
	tb.Helper()
	rows, err := st.Query(Context(tb), q, args...)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		out = append(out, append([]any(nil), rows.Values()...))
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	if err := rows.Close(); err != nil {
		tb.Fatalf("%s: close: %v", q, err)
	}
	return out
}

// QueryOne returns the single value of q; it fails tb unless q returns
// one row of one column.
func QueryOne(tb testing.TB, st warehouse.Store, q string, args ...any) any {
	tb.Helper()
	rows := QueryAll(tb, st, q, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		tb.Fatalf("%s: want one value, got %v", q, rows)
	}
	return rows[0][0]
}
