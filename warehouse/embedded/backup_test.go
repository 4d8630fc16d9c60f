//go:build cgo

package embedded_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/embedded"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// restoreInChild restores the backup in from into a new warehouse in dir
// (database db) in a child process — one engine per process — and returns
// what query prints there, one line per row, tab-separated.
func restoreInChild(t *testing.T, from, dir, db, query string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=restore", "AMPEL_TEST_DIR="+dir, "AMPEL_TEST_DB="+db,
		"AMPEL_TEST_FROM="+from, "AMPEL_TEST_QUERY="+query, "AMPEL_LIBCHDB="+library(t))
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// restoreChild is the child of restoreInChild.
func restoreChild(ctx context.Context) int {
	cfg := warehouse.Config{Driver: "embedded", Path: os.Getenv("AMPEL_TEST_DIR"), Database: os.Getenv("AMPEL_TEST_DB"), Library: os.Getenv("AMPEL_LIBCHDB")}
	st, err := warehouse.Open(ctx, cfg)
	if err == nil {
		defer st.Close()
		err = st.(warehouse.Backuper).Restore(ctx, os.Getenv("AMPEL_TEST_FROM"))
	}
	if err != nil {
		fmt.Println(err)
		return 1
	}
	rows, err := st.Query(ctx, os.Getenv("AMPEL_TEST_QUERY"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer rows.Close()
	for rows.Next() {
		var cells []string
		for _, v := range rows.Values() {
			cells = append(cells, fmt.Sprint(v))
		}
		fmt.Println(strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}

// TestBackupRestore: a backup holds every table and view of the database
// with their rows, in private files; it restores into a new warehouse in
// another process, under another database name; a restore into a
// warehouse with tables is refused, and so is a backup onto an existing
// directory.
func TestBackupRestore(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	for _, q := range []string{
		"CREATE TABLE landing_lead (id UInt64, v UInt64, name String) ENGINE = ReplacingMergeTree(v) ORDER BY id",
		"INSERT INTO landing_lead SELECT number % 1000, number, toString(number) FROM numbers(5000)",
		"CREATE VIEW lead AS SELECT id, argMax(name, v) AS name FROM landing_lead GROUP BY id",
		"CREATE TABLE sync_state (t String, link String) ENGINE = MergeTree ORDER BY t",
		"INSERT INTO sync_state VALUES ('lead', 'https://example/delta?token=9')",
	} {
		require.NoError(t, st.Exec(ctx, q), q)
	}
	b := st.(warehouse.Backuper)
	dir := filepath.Join(t.TempDir(), "b")
	require.NoError(t, b.Backup(ctx, dir))
	warehousetest.RequirePrivate(t, dir, 3)
	_, err := os.Stat(filepath.Join(dir, ".backup"))
	require.NoError(t, err)
	stages, _ := os.ReadDir(filepath.Join(dataDir, "backups"))
	assert.Empty(t, stages, "nothing is left in the staging directory")

	err = b.Backup(ctx, dir)
	require.ErrorContains(t, err, "exists already")

	// the copy reads as the original does
	const q = "SELECT (SELECT count() FROM landing_lead), (SELECT count() FROM landing_lead FINAL), (SELECT count() FROM lead), (SELECT sum(id) FROM lead), (SELECT link FROM sync_state)"
	var want []string
	for _, v := range all(t, st, q)[0] {
		want = append(want, fmt.Sprint(v))
	}
	require.Equal(t, []string{"1000", "1000", "499500", "https://example/delta?token=9"}, want[1:])
	target := filepath.Join(t.TempDir(), "restored")
	out, err := restoreInChild(t, dir, target, "copy", q+", currentDatabase()")
	require.NoError(t, err, out)
	assert.Equal(t, strings.Join(append(want, "copy"), "\t"), out)
	warehousetest.RequirePrivate(t, target, 10)

	// the restored warehouse holds tables now: a second restore is refused
	out, err = restoreInChild(t, dir, target, "copy", "SELECT 1")
	require.Error(t, err)
	assert.Contains(t, out, "the warehouse already holds tables")
	assert.Contains(t, out, "restore into a new directory")

	_, err = restoreInChild(t, filepath.Join(t.TempDir(), "nothing"), filepath.Join(t.TempDir(), "w"), "x", "SELECT 1")
	require.Error(t, err)
}

// TestBackupWhileWriting takes backups while a writer goes on without a
// pause, and checks each restored copy is the warehouse as it was between
// two statements. The writer's step i inserts a batch of 10 rows with seq
// i into table t(i mod 8), then an INSERT … SELECT adds i to the log
// table: a copy taken between two statements holds steps 1..k in every
// table (none missing, none later) and the log up to k or k-1. A backup
// that copied the tables at different moments would show a table ahead of
// another.
func TestBackupWhileWriting(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	const tables = 12
	for i := range tables {
		require.NoError(t, st.Exec(ctx, fmt.Sprintf("CREATE TABLE t%d (seq UInt64, k UInt8) ENGINE = MergeTree ORDER BY seq", i)))
	}
	require.NoError(t, st.Exec(ctx, "CREATE TABLE steps (seq UInt64) ENGINE = MergeTree ORDER BY seq"))

	const batch = 1
	var step atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b, err := st.PrepareInsert(ctx, fmt.Sprintf("t%d", i%tables), []string{"seq", "k"})
			if err == nil {
				for k := range batch {
					if err = b.Append(i, k); err != nil {
						break
					}
				}
			}
			if err == nil {
				err = b.Send(ctx)
			}
			if err == nil {
				err = st.Exec(ctx, "INSERT INTO steps (seq) SELECT ?", i)
			}
			if err != nil {
				werr = err
				return
			}
			step.Store(i)
		}
	}()

	var query []string
	for i := range tables {
		query = append(query, fmt.Sprintf("SELECT %d AS t, count() AS n, uniqExact(seq) AS u, max(seq) AS m FROM t%d", i, i))
	}
	query = append(query, "SELECT 99, count(), uniqExact(seq), max(seq) FROM steps")
	q := "SELECT t, n, u, m FROM (" + strings.Join(query, " UNION ALL ") + ") ORDER BY t"

	for round := range 3 {
		// let the writer get ahead, then back up while it writes
		require.Eventually(t, func() bool { return step.Load() > uint64(50*(round+1)) }, time.Minute, 10*time.Millisecond, "the writer makes progress")
		dir := filepath.Join(t.TempDir(), "b")
		require.NoError(t, st.(warehouse.Backuper).Backup(ctx, dir))
		before := step.Load()
		out, err := restoreInChild(t, dir, filepath.Join(t.TempDir(), "w"), "ampel", q)
		require.NoError(t, err, out)

		lines := strings.Split(out, "\n")
		require.Len(t, lines, tables+1, out)
		var logged, logMax uint64
		_, err = fmt.Sscanf(lines[tables], "99\t%d\t%d\t%d", &logged, new(uint64), &logMax)
		require.NoError(t, err, lines[tables])
		require.Equal(t, logged, logMax, "the log holds steps 1..%d without a gap", logMax)
		// the batches: steps 1..k, where k is the log's last step or the one after
		var total, top uint64
		for i, line := range lines[:tables] {
			var ti, n, u, m uint64
			_, err := fmt.Sscanf(line, "%d\t%d\t%d\t%d", &ti, &n, &u, &m)
			require.NoError(t, err, line)
			require.Equal(t, uint64(i), ti)
			require.Equal(t, batch*u, n, "table t%d: whole batches only", i)
			total += u
			top = max(top, m)
		}
		assert.Equal(t, top, total, "round %d: the batches are steps 1..%d without a gap (a table ahead of another otherwise)\n%s", round, top, out)
		assert.Contains(t, []uint64{logMax, logMax + 1}, top, "round %d: the log is at the last batch or one behind\n%s", round, out)
		assert.LessOrEqual(t, top, before+1, "round %d: the copy is not from after Backup returned", round)
		assert.Positive(t, top, "round %d", round)
	}
	close(stop)
	wg.Wait()
	require.NoError(t, werr)
}

// TestBackupConfined: the engine's BACKUP privilege reaches no further
// than the warehouse's own staging directory. A statement that slipped
// past the read-only checks in Go could not write a backup anywhere else
// (no other path, no disk) nor restore one (readonly=1).
func TestBackupConfined(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE r (a UInt8) ENGINE = MergeTree ORDER BY a"))
	require.NoError(t, st.Exec(ctx, "INSERT INTO r VALUES (1)"))
	outside := filepath.Join(t.TempDir(), "out")
	for _, q := range []string{
		"BACKUP TABLE r TO File(" + quoteLit(outside) + ")",
		"BACKUP TABLE r TO File('../../out')",
		"BACKUP TABLE r TO Disk('default', 'out')",
	} {
		_, err := embedded.QueryUnchecked(ctx, st, q)
		assert.Error(t, err, q)
	}
	_, err := os.Stat(outside)
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was written outside the warehouse")

	dir := filepath.Join(t.TempDir(), "b")
	require.NoError(t, st.(warehouse.Backuper).Backup(ctx, dir))
	_, err = embedded.QueryUnchecked(ctx, st, "RESTORE TABLE r AS r2 FROM File("+quoteLit(dir)+")")
	assert.Error(t, err)
	assert.Equal(t, [][]any{{uint64(0)}}, all(t, st, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'r2'"))
}

func quoteLit(s string) string {
	lit, err := warehouse.Literal(s)
	if err != nil {
		panic(err)
	}
	return lit
}
