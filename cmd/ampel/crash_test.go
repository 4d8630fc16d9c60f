package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// fresh returns x with a new, empty warehouse of the same driver (and the
// same simulator).
func (x *e2e) fresh(name string) *e2e {
	x.t.Helper()
	if strings.Contains(x.configText(), "driver: clickhouse") {
		cfg := warehousetest.ClickHouse(x.t)
		warehousetest.Open(x.t, cfg) // creates the database, drops it at cleanup
		return x.withConfig(name, func(s string) string {
			return regexp.MustCompile(`(?m)^  database: .*$`).ReplaceAllString(s, "  database: "+cfg.Database)
		})
	}
	dir := filepath.Join(x.t.TempDir(), name)
	return x.withConfig(name, func(s string) string {
		return regexp.MustCompile(`(?m)^  path: .*$`).ReplaceAllString(s, "  path: "+dir)
	})
}

func (x *e2e) configText() string {
	x.t.Helper()
	b, err := os.ReadFile(x.config)
	require.NoError(x.t, err)
	return string(b)
}

// start starts ampel with extra environment variables.
func (x *e2e) start(env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	x.t.Helper()
	args = append(args[:1:1], append([]string{"--config", x.config}, args[1:]...)...)
	cmd := exec.CommandContext(context.Background(), ampelBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	require.NoError(x.t, cmd.Start())
	return cmd, &errOut
}

// mustSync runs ampel sync and fails the test if it fails.
func (x *e2e) mustSync() {
	x.t.Helper()
	out, errOut, err := x.run(context.Background(), "sync")
	require.NoError(x.t, err, "ampel sync\nstderr: %s\nstdout: %s", errOut, out)
}

// killLoadAfterCheckpoint starts ampel sync with args on a table of about
// 51k rows (11 pages of 5000, a checkpoint after every batch of 20,000
// rows, 4 pages) and kills it with SIGKILL once the checkpoint after the
// first batch is stored: the reader asks for a page only once the writer
// has taken the one before, and the writer takes page 5 only after the
// checkpoint at page 4's end is saved, so 8 pages served (with room for
// the row-count request) means that checkpoint is stored.
func (x *e2e) killLoadAfterCheckpoint(args ...string) {
	x.t.Helper()
	cmd := exec.Command(ampelBin, append([]string{"sync", "--config", x.config}, args...)...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	pages := x.sim.Stats().Pages
	require.NoError(x.t, cmd.Start())
	awaitCond(x.t, 2*time.Minute, "8 pages served", func() bool { return x.sim.Stats().Pages >= pages+8 })
	require.NoError(x.t, cmd.Process.Signal(syscall.SIGKILL))
	err := cmd.Wait()
	require.True(x.t, killedBySIGKILL(cmd), "ampel sync was killed, not ended on its own: %v\n%s", err, errOut.String())
}

// killedBySIGKILL reports whether cmd, waited for, ended by SIGKILL.
func killedBySIGKILL(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// migrationTables lists the tables the migrations in sql/schema create or
// alter, so that a table a new migration adds is checked too.
func migrationTables(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`(?i)(?:CREATE TABLE(?: IF NOT EXISTS)?|ALTER TABLE)\s+` + "`?" + `(\w+)`)
	var out []string
	err := fs.WalkDir(ampelsql.Schema, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ampelsql.Schema, path)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		return err
	})
	require.NoError(t, err)
	require.Contains(t, out, "sync_state")
	return append(out, "schema_migrations")
}

// schema returns the column names of each migration table, read as a user
// can (the header of an empty SELECT).
func (x *e2e) schema(tables []string) map[string][]string {
	x.t.Helper()
	out := map[string][]string{}
	for _, table := range tables {
		head := x.ampel("sql", "--format", "tsv", "SELECT * FROM "+table+" LIMIT 0")
		out[table] = strings.Split(strings.TrimSpace(head), "\t")
	}
	return out
}

// requireSchema checks in one query that every table of want has its
// columns and that every migration is recorded.
func (x *e2e) requireSchema(want map[string][]string, stage string) {
	x.t.Helper()
	var parts []string
	for table, cols := range want {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = "`" + c + "`" // a column may be named like a keyword (metadata_cache.format)
		}
		parts = append(parts, fmt.Sprintf("(SELECT count() FROM (SELECT %s FROM %s LIMIT 0))", strings.Join(quoted, ", "), table))
	}
	slices.Sort(parts)
	q := "SELECT " + strings.Join(parts, " + ") + " AS zero, (SELECT arrayStringConcat(groupArray(name), ',') FROM (SELECT name FROM schema_migrations ORDER BY version)) AS recorded"
	stdout, stderr, err := x.run(context.Background(), "sql", "--format", "tsv", q)
	require.NoError(x.t, err, "%s: a migration table lacks a column: %s", stage, stderr)
	ms, err := fs.Glob(ampelsql.Schema, "*.sql")
	require.NoError(x.t, err)
	require.Equal(x.t, "zero\trecorded\n0\t"+strings.Join(ms, ",")+"\n", stdout, stage)
}

// TestStartupSurvivesKill kills `ampel sync` with SIGKILL at every point of
// its start-up where the migration runner can stop — with the lock held,
// after each statement of each migration, after each record — and at
// random times from process start to the end of a first sync; each time
// on a fresh warehouse. After each kill, doctor advises what the state
// needs (after the deterministic kills), the next sync succeeds, every
// migration table has all its columns, and the views equal the source
// (after the random kills, which also hit the sync itself).
func TestStartupSurvivesKill(t *testing.T) {
	tables := migrationTables(t)
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 17, Scale: 100})
			pointsFile := filepath.Join(t.TempDir(), "points")
			cmd, errOut := x.start([]string{envPoints + "=" + pointsFile}, "sync")
			require.NoError(t, cmd.Wait(), errOut.String())
			b, err := os.ReadFile(pointsFile)
			require.NoError(t, err)
			points := strings.Fields(string(b))
			require.Equal(t, "locked", points[0])
			want := x.schema(tables)
			x.requireSchema(want, "uninterrupted")
			x.requireEqual("uninterrupted")

			// deterministic kill points
			for i, p := range points {
				y := x.fresh(fmt.Sprintf("point%d", i))
				cmd, errOut := y.start([]string{envKillAt + "=" + p}, "sync")
				err := cmd.Wait()
				require.True(t, killedBySIGKILL(cmd), "killed at %s: %v\n%s", p, err, errOut.String())

				out, errText, code := y.exec("doctor")
				require.Equal(t, 0, code, "doctor after a kill at %s: %s\n%s", p, errText, out)
				checks, _ := doctorChecks(t, out)
				require.Equal(t, "warn", checks["migrations"][0], "after a kill at %s: %s", p, out)
				require.Contains(t, checks["migrations"][1], "ampel migrate", "after a kill at %s", p)
				require.Contains(t, checks["migrations"][1], "a lock left by a migrator that died", "after a kill at %s", p)
				if strings.HasPrefix(p, "0002_") && !strings.HasSuffix(p, "#recorded") {
					require.Contains(t, checks["migrations"][1], "0002_sync_state_resume.sql was interrupted (column sync_state.next_link exists", p)
				}

				// the sync runs only after the migrations: its success with
				// every column in place shows the start-up was taken up
				y.mustSync()
				y.requireSchema(want, "after a kill at "+p)
			}

			// random times from start to the end of a first sync (timed
			// again: the first run above paid for warming up)
			y := x.fresh("timed")
			start := time.Now()
			y.mustSync()
			syncTime := time.Since(start)
			rng := rand.New(rand.NewPCG(17, uint64(len(driver))))
			killed, finished := 0, 0
			const tries = 6
			for i := range tries {
				y := x.fresh(fmt.Sprintf("random%d", i))
				if y.killAfter([]string{"sync"}, time.Duration(rng.Int64N(int64(syncTime)))) {
					killed++
				} else {
					finished++
				}
				y.mustSync()
				y.requireSchema(want, fmt.Sprintf("after random kill %d", i))
				y.requireEqual(fmt.Sprintf("after random kill %d", i))
			}
			require.Positive(t, killed)
			t.Logf("%s: %d kill points (%s), all taken up by the next sync; %d random kills within %s: %d killed, %d finished first, all taken up",
				driver, len(points), strings.Join(points, ", "), tries, syncTime.Round(time.Millisecond), killed, finished)
		})
	}
}

// TestDoctorMigrationAdvice: doctor's migrations line says what each
// state needs — a conflict to fix by hand (a failure naming the fix), a
// migration running elsewhere (wait), an earlier run killed inside a
// migration (ampel migrate finishes it) — and ampel migrate then does what
// it said.
func TestDoctorMigrationAdvice(t *testing.T) {
	ctx := context.Background()
	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 19, Scale: 100})
	cfg := warehousetest.ClickHouse(t)
	st := warehousetest.Open(t, cfg)
	y := x.withConfig("advice", func(s string) string {
		return regexp.MustCompile(`(?m)^  database: .*$`).ReplaceAllString(s, "  database: "+cfg.Database)
	})
	migrations := func() [2]string {
		out, errOut, _ := y.exec("doctor")
		checks, _ := doctorChecks(t, out)
		require.Contains(t, checks, "migrations", "%s\n%s", out, errOut)
		return checks["migrations"]
	}
	first, err := fs.ReadFile(ampelsql.Schema, "0001_sync_runs.sql")
	require.NoError(t, err)
	_, err = migrate.Up(ctx, st, fstest.MapFS{"0001_sync_runs.sql": {Data: first}}, migrate.Options{})
	require.NoError(t, err)

	// begun: the first column of 0002 added, 0002 not recorded
	require.NoError(t, st.Exec(ctx, "ALTER TABLE sync_state ADD COLUMN next_link String"))
	all, err := fs.Glob(ampelsql.Schema, "*.sql")
	require.NoError(t, err)
	m := migrations()
	require.Equal(t, "warn", m[0])
	require.Contains(t, m[1], fmt.Sprintf("1 applied, %d pending; 0002_sync_state_resume.sql was interrupted (column sync_state.next_link exists): run ampel migrate to finish", len(all)-1))

	// a conflict: a column 0002 adds, with another type
	require.NoError(t, st.Exec(ctx, "ALTER TABLE sync_state ADD COLUMN seen_table UInt8"))
	m = migrations()
	require.Equal(t, "FAIL", m[0])
	require.Contains(t, m[1], "adds column sync_state.seen_table as String, but the warehouse has it as UInt8")
	_, errOut, code := y.exec("doctor")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "ALTER TABLE sync_state MODIFY COLUMN or DROP COLUMN seen_table")
	_, errOut, code = y.exec("migrate")
	require.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Contains(t, lines[len(lines)-1], "ampel migrate: migration 0002_sync_state_resume.sql adds column sync_state.seen_table", errOut)
	require.Contains(t, lines[len(lines)-1], "MODIFY COLUMN or DROP COLUMN seen_table")
	require.NoError(t, st.Exec(ctx, "ALTER TABLE sync_state DROP COLUMN seen_table"))

	// a live migrator holds the lock (pid 1 on this host always runs)
	host, err := os.Hostname()
	require.NoError(t, err)
	q, err := ampelsql.Render(ampelsql.Migrate, "lock.sql", map[string]any{"Table": "schema_migrations_lock", "Dialect": st.Dialect().TemplateData()})
	require.NoError(t, err)
	require.NoError(t, st.Exec(ctx, q, host+":1", uint32(time.Now().Unix())))
	m = migrations()
	require.Equal(t, "warn", m[0])
	require.Contains(t, m[1], "a migration is running ("+host+":1 since")
	require.Contains(t, m[1], "wait for it")
	require.NoError(t, st.Exec(ctx, "DROP TABLE schema_migrations_lock"))

	y.ampel("migrate")
	require.Equal(t, [2]string{"ok", fmt.Sprintf("%d applied, none pending", len(all))}, migrations())
}
