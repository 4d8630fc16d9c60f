package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestBackupRestoreCommands: ampel backup copies an embedded warehouse;
// ampel restore fills a new one from it, which ampel sql reads and ampel
// sync goes on from (a delta, not a new full load), equal to the source.
// Refused with one line: a restore into a warehouse with tables, a backup
// onto an existing directory, a backup while ampel run holds the
// warehouse, and either command on a ClickHouse server.
func TestBackupRestoreCommands(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 18, Scale: 300})
	x.ampel("sync")
	dir := filepath.Join(t.TempDir(), "backup")
	out := x.ampel("backup", "--to", dir)
	assert.Regexp(t, regexp.MustCompile(fmt.Sprintf(`^backed up database ampel \(%d migrations applied\) to %s in [0-9.]+m?s\n$`,
		len(migrationFiles(t)), regexp.QuoteMeta(dir))), out)

	newPath := filepath.Join(t.TempDir(), "restored")
	y := x.withConfig("restored", func(s string) string {
		return strings.Replace(s, "path: "+filepath.Join(filepath.Dir(x.config), "warehouse"), "path: "+newPath, 1)
	})
	out = y.ampel("restore", "--from", dir)
	assert.Regexp(t, `^restored database ampel from `+regexp.QuoteMeta(dir)+` \(taken \S+ by ampel \S+\) into `+regexp.QuoteMeta(newPath)+` in \S+\n$`, out)
	warehousetest.RequirePrivate(t, newPath, 10)

	// the copy reads as the original does
	const q = "SELECT (SELECT count() FROM lead) AS leads, (SELECT sum(versionnumber) FROM opportunity) AS v, (SELECT count() FROM sync_state) AS states, (SELECT count() FROM sync_runs) AS runs"
	require.Equal(t, x.query(q), y.query(q))
	y.requireEqual("restored")

	// the restored warehouse goes on with delta links
	x.sim.Mutate(10, 30, 5)
	y.markRuns()
	y.ampel("sync")
	for table, r := range y.lastRuns() {
		assert.Equal(t, "delta", str(r["mode"]), table)
	}
	y.requireEqual("restored, then synced after changes")

	// refusals, each one line
	_, stderr, code := y.exec("restore", "--from", dir)
	assert.Equal(t, exitFailed, code)
	requireOneLine(t, "restore", stderr, "the warehouse already holds tables")
	_, stderr, code = x.exec("backup", "--to", dir)
	assert.Equal(t, exitFailed, code)
	requireOneLine(t, "backup", stderr, "exists already: name a new directory")
	_, stderr, code = x.exec("restore", "--from", t.TempDir())
	assert.Equal(t, exitFailed, code)
	requireOneLine(t, "restore", stderr, "is not an Ampel backup (no ampel-backup.json in it): make one with ampel backup")
	_, stderr, code = x.exec("backup")
	assert.Equal(t, exitUsage, code)
	requireOneLine(t, "backup", stderr, "--to DIR is required")

	// while ampel run holds the warehouse
	x.appendConfig("schedules:\n  - name: all\n    cron: \"@every 1h\"\n")
	held := x.withConfig("held", func(s string) string {
		return strings.Replace(s, "warehouse:\n", "warehouse:\n  dial_timeout: 1s\n", 1)
	})
	d := held.startRun()
	d.await("the first sync", 60*time.Second, func(lines []map[string]any) bool { return countIn(lines, msgIs("sync group done", "")) >= 1 })
	_, stderr, code = held.exec("backup", "--to", filepath.Join(t.TempDir(), "b2"))
	d.stop(30 * time.Second)
	assert.Equal(t, exitFailed, code)
	requireOneLine(t, "backup", stderr, "ampel backup cannot go through a running ampel run yet: stop it, back up, start it again")
	assert.Contains(t, stderr, "is in use by another process (pid ")

	// a ClickHouse server backs itself up
	ch := warehouseConfig(t, "clickhouse")
	for _, cmd := range []string{"backup", "restore"} {
		flag := map[string]string{"backup": "--to", "restore": "--from"}[cmd]
		_, stderr, code := runAmpel(t, cmd, "--config", ch, flag, filepath.Join(t.TempDir(), "x"))
		assert.Equal(t, exitFailed, code, cmd)
		requireOneLine(t, cmd, stderr, "back a ClickHouse server up with its own BACKUP … TO Disk or S3")
	}
}

// TestNewerWarehouseRefused: a warehouse that holds a migration this
// binary does not know (numbered above its newest) was migrated by a newer
// Ampel: the commands that open it refuse with one line naming the
// migration (migrate and the writing commands through migrate.Up, sql
// and the other readers when they open it), and change nothing. On a
// ClickHouse server, so that the test can record the newer migration
// itself; the migrate package tests both engines.
func TestNewerWarehouseRefused(t *testing.T) {
	cfg := warehousetest.ClickHouse(t)
	st := warehousetest.Open(t, cfg)
	file := filepath.Join(t.TempDir(), "ampel.yaml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf("warehouse:\n  driver: clickhouse\n  dsn: %s\n  database: %s\n", cfg.DSN, cfg.Database)), 0o600))
	_, stderr, code := runAmpel(t, "migrate", "--config", file)
	require.Zero(t, code, stderr)
	// a newer Ampel's migration, recorded as migrate records one
	require.NoError(t, st.Exec(context.Background(),
		"INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms) VALUES (9999, '9999_from_the_future.sql', 'abc', now(), 1)"))
	const want = "this warehouse was migrated by a newer Ampel (9999_from_the_future.sql); use that version or newer"
	for _, args := range [][]string{{"migrate"}, {"migrate", "--status"}, {"sql", "SELECT 1"}} {
		_, stderr, code := runAmpel(t, append([]string{args[0], "--config", file}, args[1:]...)...)
		assert.Equal(t, exitFailed, code, "%v", args)
		requireOneLine(t, args[0], stderr, want)
	}
}
