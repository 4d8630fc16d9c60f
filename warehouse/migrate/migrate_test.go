package migrate_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

func files() fstest.MapFS {
	return fstest.MapFS{
		"0001_people.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS people (id UInt64, name String) ENGINE = MergeTree ORDER BY id;\n")},
		"0002_visits.sql": {Data: []byte("-- two statements in one file\nCREATE TABLE IF NOT EXISTS visits (id UInt64) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE IF NOT EXISTS visits_by_day (day Date, n UInt64) ENGINE = SummingMergeTree ORDER BY day;\n")},
	}
}

func tables(t *testing.T, s warehouse.Store) []string {
	t.Helper()
	rows, err := s.Query(context.Background(), "SELECT name FROM system.tables WHERE database = currentDatabase() AND name NOT LIKE 'schema_migrations%' ORDER BY name")
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	return names
}

func TestUp(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			s := warehousetest.Open(t, cfg)
			fsys := files()

			done, err := migrate.Up(ctx, s, fsys, migrate.Options{})
			require.NoError(t, err)
			require.Len(t, done, 2)
			require.Equal(t, []string{"people", "visits", "visits_by_day"}, tables(t, s))

			applied, pending, err := migrate.Status(ctx, s, fsys)
			require.NoError(t, err)
			require.Empty(t, pending)
			require.Len(t, applied, 2)
			ms, err := migrate.Load(fsys)
			require.NoError(t, err)
			for i, a := range applied {
				require.Equal(t, ms[i].Name, a.Name)
				require.Equal(t, ms[i].Checksum, a.Checksum)
				require.False(t, a.AppliedAt.IsZero())
			}

			// twice: nothing to do
			done, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			require.NoError(t, err)
			require.Empty(t, done)

			// a new file is applied alone
			fsys["0003_more.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS more (id UInt64) ENGINE = MergeTree ORDER BY id")}
			done, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			require.NoError(t, err)
			require.Len(t, done, 1)
			require.Equal(t, "0003_more.sql", done[0].Name)

			// an applied file edited: refused, nothing applied
			fsys["0002_visits.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS visits (id UInt64, at DateTime) ENGINE = MergeTree ORDER BY id;\n")}
			fsys["0004_new.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS new (id UInt64) ENGINE = MergeTree ORDER BY id")}
			_, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			var ce *migrate.ChecksumError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Equal(t, "0002_visits.sql", ce.Name)
			require.Contains(t, err.Error(), "0002_visits.sql was edited after it was applied")
			require.NotContains(t, tables(t, s), "new")

			// an applied file removed: refused too
			fsys = files()
			_, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			require.ErrorContains(t, err, "0003_more.sql")
		})
	}
}

func TestUpFailingStatementIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			s := warehousetest.Open(t, cfg)
			fsys := fstest.MapFS{"0001_bad.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS ok (id UInt64) ENGINE = MergeTree ORDER BY id;\nCREATE TABLE broken (id UInt64) ENGINE = NoSuchEngine;\n")}}
			_, err := migrate.Up(ctx, s, fsys, migrate.Options{})
			require.Error(t, err)
			require.Contains(t, err.Error(), "0001_bad.sql")
			var we *warehouse.Error
			require.True(t, errors.As(err, &we), "%v", err)
			require.Contains(t, we.Query, "NoSuchEngine")
			_, pending, err := migrate.Status(ctx, s, fsys)
			require.NoError(t, err)
			require.Len(t, pending, 1, "a failed migration stays pending")

			// fixed (it never applied, so editing it is fine): applies
			fsys["0001_bad.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS ok (id UInt64) ENGINE = MergeTree ORDER BY id;\n")}
			done, err := migrate.Up(ctx, s, fsys, migrate.Options{})
			require.NoError(t, err)
			require.Len(t, done, 1)
		})
	}
}

// TestUpConcurrent runs migrators at once on separate stores (separate
// connections): each migration is applied and recorded exactly once.
func TestUpConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			first := warehousetest.Open(t, cfg)
			const n = 4
			stores := []warehouse.Store{first}
			for i := 1; i < n; i++ {
				s, err := warehouse.Open(ctx, cfg)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				stores = append(stores, s)
			}
			var wg sync.WaitGroup
			applied := make([]int, n)
			errs := make([]error, n)
			for i, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					done, err := migrate.Up(ctx, s, files(), migrate.Options{})
					applied[i], errs[i] = len(done), err
				}()
			}
			wg.Wait()
			total := 0
			for i := range stores {
				require.NoError(t, errs[i])
				total += applied[i]
			}
			require.Equal(t, 2, total, "each migration applied once")
			rows, err := first.Query(ctx, "SELECT count(), uniqExact(name) FROM schema_migrations")
			require.NoError(t, err)
			defer rows.Close()
			require.True(t, rows.Next())
			var count, uniq uint64
			require.NoError(t, rows.Scan(&count, &uniq))
			require.Equal(t, uint64(2), count)
			require.Equal(t, uint64(2), uniq)
		})
	}
}
