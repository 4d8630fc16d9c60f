package migrate

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// schemaOf lists the tables (with engine) and columns (with type) of the
// store's database, Ampel's own migration tables aside, as sorted lines.
func schemaOf(t *testing.T, s warehouse.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	rows, err := s.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND name NOT LIKE 'schema_migrations%'")
	require.NoError(t, err)
	for rows.Next() {
		var name, engine string
		require.NoError(t, rows.Scan(&name, &engine))
		out = append(out, "table "+name+" "+engine)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	rows, err = s.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table NOT LIKE 'schema_migrations%'")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var table, name, typ string
		require.NoError(t, rows.Scan(&table, &name, &typ))
		out = append(out, "column "+table+"."+name+" "+typ)
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

// recorded returns the names in schema_migrations, one row each.
func recorded(t *testing.T, s warehouse.Store) []string {
	t.Helper()
	rows, err := s.Query(context.Background(), "SELECT name FROM schema_migrations ORDER BY version, name")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		out = append(out, n)
	}
	require.NoError(t, rows.Err())
	return out
}

// crash is what a Hook panics with to stop Up at a point, as a kill would.
type crash struct{ point string }

// upUntil runs Up and stops it at point, returning whether it got there.
func upUntil(t *testing.T, s warehouse.Store, point string) (reached bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(crash)
			require.True(t, ok, "Up panicked: %v", r)
			require.Equal(t, point, c.point)
			reached = true
		}
	}()
	_, err := Up(context.Background(), s, ampelsql.Schema, Options{Hook: func(p string) {
		if p == point {
			panic(crash{p})
		}
	}})
	require.NoError(t, err)
	return false
}

// TestMigrationsRunTwice holds every statement of every migration in
// sql/schema to the package's rule, on both engines: run twice in a row
// each (through the runner's guard, as Up runs it), the warehouse ends
// exactly as after one clean Up; and Up stopped at every point it passes
// — after each statement, after each record — is finished by the next Up,
// with every migration recorded once. A new migration file is covered as
// soon as it is added.
func TestMigrationsRunTwice(t *testing.T) {
	ctx := context.Background()
	ms, err := Load(ampelsql.Schema)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	for _, driver := range []string{"clickhouse", "embedded"} {
		t.Run(driver, func(t *testing.T) {
			open := func() warehouse.Store {
				if driver == "clickhouse" {
					return warehousetest.Open(t, warehousetest.ClickHouse(t))
				}
				return warehousetest.Open(t, warehousetest.Embedded(t))
			}
			ref := open()
			var points []string
			_, err := Up(ctx, ref, ampelsql.Schema, Options{Hook: func(p string) { points = append(points, p) }})
			require.NoError(t, err)
			want := schemaOf(t, ref)
			require.Equal(t, names, recorded(t, ref))

			twice := open()
			statements := 0
			for _, m := range ms {
				stmts, err := m.Statements(twice.Dialect())
				require.NoError(t, err)
				for i, stmt := range stmts {
					for run := 1; run <= 2; run++ {
						step, err := guard(ctx, twice, m.Name, stmt)
						require.NoError(t, err, "%s statement %d, run %d", m.Name, i+1, run)
						if step.stmt != "" {
							require.NoError(t, twice.Exec(ctx, step.stmt), "%s statement %d, run %d", m.Name, i+1, run)
						}
					}
					statements++
				}
			}
			require.Equal(t, want, schemaOf(t, twice), "every statement run twice")

			// a run stopped at each point, then taken up again
			require.Len(t, points, 1+statements+len(ms), "locked, each statement, each record: %v", points)
			for _, p := range points {
				s := open()
				require.True(t, upUntil(t, s, p), "Up passed %s", p)
				done, err := Up(ctx, s, ampelsql.Schema, Options{})
				require.NoError(t, err, "Up after a stop at %s", p)
				require.Equal(t, want, schemaOf(t, s), "stopped at %s", p)
				require.Equal(t, names, recorded(t, s), "stopped at %s", p)
				_, pending, err := Status(ctx, s, ampelsql.Schema)
				require.NoError(t, err)
				require.Empty(t, pending, "stopped at %s (then applied %d)", p, len(done))
			}
			t.Log(fmt.Sprintf("%d migrations, %d statements, each run twice; Up stopped and taken up again at %d points", len(ms), statements, len(points)))
		})
	}
}
