package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
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

			// an older binary, without the newest applied file: refused
			// by every entry point, saying which migration it lacks
			fsys = files()
			var ne *migrate.NewerError
			_, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			require.True(t, errors.As(err, &ne), "%v", err)
			require.Equal(t, []string{"0003_more.sql"}, ne.Unknown)
			require.EqualError(t, err, "this warehouse was migrated by a newer Ampel (0003_more.sql); use that version or newer")
			_, _, err = migrate.Status(ctx, s, fsys)
			require.True(t, errors.As(err, &ne), "%v", err)
			_, err = migrate.Inspect(ctx, s, fsys, migrate.Options{})
			require.True(t, errors.As(err, &ne), "%v", err)
			require.NotContains(t, tables(t, s), "new")

			// a file below the newest removed is not a newer Ampel: the
			// file is missing
			fsys = files()
			fsys["0003_more.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS more (id UInt64) ENGINE = MergeTree ORDER BY id")}
			delete(fsys, "0002_visits.sql")
			_, err = migrate.Up(ctx, s, fsys, migrate.Options{})
			require.False(t, errors.As(err, &ne), "%v", err)
			require.ErrorContains(t, err, "migration 0002_visits.sql was applied on")
			require.ErrorContains(t, err, "restore the file")
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

// only returns the migrations of fsys up to and including version n.
func only(t *testing.T, fsys fs.FS, n int) fstest.MapFS {
	t.Helper()
	ms, err := migrate.Load(fsys)
	require.NoError(t, err)
	out := fstest.MapFS{}
	for _, m := range ms {
		if m.Version <= n {
			out[m.Name] = &fstest.MapFile{Data: []byte(m.Body)}
		}
	}
	return out
}

func columnType(t *testing.T, s warehouse.Store, table, column string) string {
	t.Helper()
	cols, err := warehouse.TableColumns(context.Background(), s, table)
	require.NoError(t, err)
	for _, c := range cols {
		if c.Name == column {
			return c.Type
		}
	}
	return ""
}

// interrupted opens a warehouse with 0001 applied and recorded and the
// column sync_state.<column> (name and type) added, as a run killed inside
// 0002 leaves it.
func interrupted(t *testing.T, cfg warehouse.Config, column string) warehouse.Store {
	t.Helper()
	ctx := context.Background()
	s := warehousetest.Open(t, cfg)
	_, err := migrate.Up(ctx, s, only(t, ampelsql.Schema, 1), migrate.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Exec(ctx, "ALTER TABLE sync_state ADD COLUMN "+column))
	return s
}

// TestUpRepairsInterruptedMigration builds the warehouse an earlier Ampel
// left when it was killed inside 0002_sync_state_resume.sql: 0001 recorded,
// the first column of 0002 added, 0002 not recorded. Inspect says so, and
// the next Up finishes and records 0002. A column there with another type
// is a conflict that Up refuses with a line saying what to do.
func TestUpRepairsInterruptedMigration(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			s := interrupted(t, cfg, "next_link String")
			st, err := migrate.Inspect(ctx, s, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			require.NoError(t, st.Conflict)
			require.Nil(t, st.Lock)
			require.Len(t, st.Applied, 1)
			require.Equal(t, "0002_sync_state_resume.sql", st.Pending[0].Name)
			require.Equal(t, map[string][]string{"0002_sync_state_resume.sql": {"column sync_state.next_link exists"}}, st.Begun)

			done, err := migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			require.Equal(t, "0002_sync_state_resume.sql", done[0].Name)
			require.Equal(t, "String", columnType(t, s, "sync_state", "next_link"))
			require.Equal(t, "String", columnType(t, s, "sync_state", "seen_table"))
			_, pending, err := migrate.Status(ctx, s, ampelsql.Schema)
			require.NoError(t, err)
			require.Empty(t, pending)
		})
		t.Run(cfg.Driver+"/conflict", func(t *testing.T) {
			c := cfg
			if c.Driver == "clickhouse" {
				c = warehousetest.ClickHouse(t)
			} else {
				c = warehousetest.Embedded(t)
			}
			s := interrupted(t, c, "seen_table UInt8")
			st, err := migrate.Inspect(ctx, s, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
			var ce *migrate.ConflictError
			require.ErrorAs(t, st.Conflict, &ce)
			_, err = migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{})
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "seen_table", ce.Column)
			require.Contains(t, err.Error(), "adds column sync_state.seen_table as String, but the warehouse has it as UInt8")
			require.Contains(t, err.Error(), "ALTER TABLE sync_state MODIFY COLUMN or DROP COLUMN seen_table")
			// 0002 stays pending; its first column, added before the
			// conflict, is left out on the next try
			_, pending, err := migrate.Status(ctx, s, ampelsql.Schema)
			require.NoError(t, err)
			require.Equal(t, "0002_sync_state_resume.sql", pending[0].Name)

			// fixed by hand as the message says: the next Up finishes
			require.NoError(t, s.Exec(ctx, "ALTER TABLE sync_state MODIFY COLUMN seen_table String"))
			_, err = migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{})
			require.NoError(t, err)
		})
	}
}

// deadPID returns the pid of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.ProcessState.Pid()
}

// leaveLock creates the lock table as a migrator with owner would.
func leaveLock(t *testing.T, s warehouse.Store, owner string, at time.Time) {
	t.Helper()
	q, err := ampelsql.Render(ampelsql.Migrate, "lock.sql", map[string]any{"Table": "schema_migrations_lock", "Dialect": s.Dialect().TemplateData()})
	require.NoError(t, err)
	require.NoError(t, s.Exec(context.Background(), q, owner, uint32(at.Unix())))
}

// TestLock covers the lock a migrator leaves when it dies: a dead owner
// on this host, or an old lock, is taken over at once; a live owner is
// waited for and named in the timeout; a stale lock left after the last
// migration is removed by the next Up; a lock of an earlier Ampel without
// its owner row is stale.
func TestLock(t *testing.T) {
	ctx := context.Background()
	host, err := os.Hostname()
	require.NoError(t, err)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			s := warehousetest.Open(t, cfg)
			cur := files()
			inspect := func() *migrate.Lock {
				st, err := migrate.Inspect(ctx, s, cur, migrate.Options{})
				require.NoError(t, err)
				return st.Lock
			}
			require.Nil(t, inspect())

			// alive: pid 1 on this host is always running
			live := fmt.Sprintf("%s:1", host)
			leaveLock(t, s, live, time.Now())
			l := inspect()
			require.NotNil(t, l)
			require.Equal(t, live, l.Owner)
			require.False(t, l.Stale)
			require.WithinDuration(t, time.Now(), l.Since, time.Minute)
			_, err := migrate.Up(ctx, s, files(), migrate.Options{LockTimeout: 300 * time.Millisecond})
			require.ErrorIs(t, err, migrate.ErrLockTimeout)
			require.Contains(t, err.Error(), "held by "+live)

			// too old, though alive: taken over
			require.NoError(t, s.Exec(ctx, "DROP TABLE schema_migrations_lock"))
			leaveLock(t, s, live, time.Now().Add(-time.Hour))
			require.True(t, inspect().Stale)
			done, err := migrate.Up(ctx, s, files(), migrate.Options{LockTimeout: 5 * time.Second})
			require.NoError(t, err)
			require.Len(t, done, 2)
			require.Nil(t, inspect(), "released")

			// dead owner, nothing pending: the next Up removes the lock
			leaveLock(t, s, fmt.Sprintf("%s:%d", host, deadPID(t)), time.Now())
			require.True(t, inspect().Stale)
			done, err = migrate.Up(ctx, s, files(), migrate.Options{})
			require.NoError(t, err)
			require.Empty(t, done)
			require.Nil(t, inspect(), "stale lock removed")

			// dead owner with a migration pending: taken over at once
			leaveLock(t, s, fmt.Sprintf("%s:%d", host, deadPID(t)), time.Now())
			more := files()
			more["0003_more.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS more (id UInt64) ENGINE = MergeTree ORDER BY id")}
			cur = more
			start := time.Now()
			done, err = migrate.Up(ctx, s, more, migrate.Options{LockTimeout: time.Minute})
			require.NoError(t, err)
			require.Len(t, done, 1)
			require.Less(t, time.Since(start), 30*time.Second, "not waited for the timeout")
			require.Nil(t, inspect())

			// an earlier Ampel's lock (owner in a row), killed before the row
			require.NoError(t, s.Exec(ctx, "CREATE TABLE schema_migrations_lock (owner String, acquired_at DateTime('UTC')) ENGINE = Log"))
			l = inspect()
			require.True(t, l.Stale, "%+v", l)
			more["0004_new.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE IF NOT EXISTS new (id UInt64) ENGINE = MergeTree ORDER BY id")}
			done, err = migrate.Up(ctx, s, more, migrate.Options{LockTimeout: time.Minute})
			require.NoError(t, err)
			require.Len(t, done, 1)
			require.Nil(t, inspect())
		})
	}
}
