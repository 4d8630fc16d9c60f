//go:build cgo

package embedded_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/embedded"
	"github.com/ampel/ampel/warehouse/storetest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestReadOnlyEngineLayer runs statements on a read-only connection with
// the checks in Go switched off: what the engine's own settings stop
// (readonly=1, the user's missing privileges, the private user_files
// directory). What they do not stop, the checks in Go do; see the
// package comment.
func TestReadOnlyEngineLayer(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE r (a UInt8) ENGINE = Memory"))
	addr, connections := storetest.Listener(t)
	canary := filepath.Join(t.TempDir(), "canary")
	require.NoError(t, os.WriteFile(canary, []byte("AMPEL_CANARY_SECRET\n"), 0o600))

	// readonly=1: writes, schema changes and settings
	for _, q := range []string{"INSERT INTO r VALUES (1)", "DROP TABLE r", "CREATE TABLE r2 (a UInt8) ENGINE = Memory",
		"SET max_threads = 1", "TRUNCATE TABLE r", "SELECT 1 SETTINGS readonly = 0", "ALTER TABLE r DELETE WHERE 1"} {
		_, err := embedded.QueryUnchecked(ctx, st, q)
		assert.Equal(t, warehouse.CodeReadOnly, warehouse.ErrorCode(err), "%s: %v", q, err)
		assert.ErrorIs(t, err, warehouse.ErrReadOnly, q)
	}
	// no privilege for sources, SYSTEM, introspection or dictionaries:
	// refused before any connection is made, also under DESCRIBE
	const accessDenied = 497
	for _, q := range []string{
		"DESCRIBE TABLE url('http://" + addr + "/a', 'TSV', 'a String')",
		"DESCRIBE TABLE remote('" + addr + "', system.one)",
		"DESCRIBE TABLE s3('http://" + addr + "/bucket/b.tsv', 'TSV', 'a String')",
		"DESCRIBE TABLE file('" + canary + "', 'TSV', 'a String')",
		"SYSTEM FLUSH LOGS",
		"SYSTEM DROP DNS CACHE",
		"SELECT addressToSymbol(1)",
	} {
		out, err := embedded.QueryUnchecked(ctx, st, q)
		assert.Equal(t, accessDenied, warehouse.ErrorCode(err), "%s: %v", q, err)
		assert.NotContains(t, out, "AMPEL_CANARY_SECRET")
	}
	for _, q := range []string{
		"SELECT * FROM url('http://" + addr + "/c', 'TSV', 'a String')",
		"SELECT * FROM remote('" + addr + "', system.one)",
		"SELECT * FROM file('" + canary + "', 'TSV', 'a String')",
	} {
		out, err := embedded.QueryUnchecked(ctx, st, q)
		assert.Error(t, err, q)
		assert.NotContains(t, out, "AMPEL_CANARY_SECRET")
	}
	assert.Zero(t, connections.Load(), "no connection reached the listener")

	grants, err := embedded.QueryUnchecked(ctx, st, "SHOW GRANTS")
	require.NoError(t, err)
	for _, p := range []string{"FILE", "URL", "REMOTE", "S3", "SOURCES", "SYSTEM", "INTROSPECTION", "dictGet"} {
		assert.NotContains(t, grants, p)
	}
	// the user files directory is the warehouse's own, private and empty
	path, err := embedded.QueryUnchecked(ctx, st, "SELECT value FROM system.server_settings WHERE name = 'user_files_path'")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dataDir, "user_files")+"/", strings.TrimSpace(path))
	fi, err := os.Stat(filepath.Join(dataDir, "user_files"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o700), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Join(dataDir, "user_files"))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// harmlessToEngine are hostile statements whose danger lies only in how a
// tokenizer might read them differently from the engine (characters
// outside ASCII, escapes in names); the engine's parse of them holds
// nothing to refuse, so the Go check alone refuses them.
var harmlessToEngine = map[string]bool{
	"SELECT 1 − 1":                true,
	"SELECT `na\\x6De` FROM ro_h": true,
}

// TestReadOnlyExplainLayer checks the second check alone: every hostile
// statement that the engine can parse is refused by CheckExplainAST
// reading the engine's EXPLAIN AST, as if the check in Go had missed it.
func TestReadOnlyExplainLayer(t *testing.T) {
	st := open(t)
	ctx := ctxT(t)
	require.NoError(t, st.Exec(ctx, "CREATE TABLE ro_h (id UInt64, s String) ENGINE = Memory"))
	db := all(t, st, "SELECT currentDatabase()")[0][0].(string)
	r := strings.NewReplacer("{canary}", "/nonexistent/canary", "{outfile}", "/nonexistent/out", "{appendfile}", "/nonexistent/append",
		"{listener}", "127.0.0.1:1", "{db}", db)
	parsed := 0
	for _, h := range storetest.HostileStatements {
		q := r.Replace(h)
		tree, err := embedded.ExplainAST(ctx, st, q)
		if err != nil {
			continue // the engine does not parse it: it cannot run either
		}
		parsed++
		if harmlessToEngine[h] {
			assert.NoError(t, warehouse.CheckExplainAST(q, tree, db), q)
			continue
		}
		err = warehouse.CheckExplainAST(q, tree, db)
		assert.ErrorIs(t, err, warehouse.ErrReadOnly, "%s\n%s", q, tree)
	}
	assert.Greater(t, parsed, len(storetest.HostileStatements)/2, "most hostile statements parse")
	for _, a := range storetest.AllowedStatements {
		q := strings.ReplaceAll(a.Query, "{db}", db)
		tree, err := embedded.ExplainAST(ctx, st, q)
		require.NoError(t, err, q)
		assert.NoError(t, warehouse.CheckExplainAST(q, tree, db), "%s\n%s", q, tree)
	}
}

// TestPrivateFiles: the driver keeps the data directory 0700 and every
// file in it 0600 whatever the process's umask, and makes a directory
// left open by an older Ampel private. The driver runs in child processes,
// each with its own umask and engine.
func TestPrivateFiles(t *testing.T) {
	check := func(dir string) { warehousetest.RequirePrivate(t, dir, 10) }
	for _, umask := range []string{"022", "000"} {
		t.Run("umask "+umask, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "warehouse")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=write", "AMPEL_TEST_DIR="+dir, "AMPEL_LIBCHDB="+library(t), "AMPEL_TEST_UMASK="+umask)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			check(dir)
		})
	}
	t.Run("older warehouse", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "warehouse")
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "old"), 0o755))
		require.NoError(t, os.Chmod(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "old", "file"), []byte("x"), 0o644))
		require.NoError(t, os.Chmod(filepath.Join(dir, "old", "file"), 0o644))
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=write", "AMPEL_TEST_DIR="+dir, "AMPEL_LIBCHDB="+library(t), "AMPEL_TEST_UMASK=000")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		check(dir)
	})
}

// TestMustExist: with Config.MustExist a missing warehouse is an error
// wrapping ErrNoWarehouse, and nothing is created.
func TestMustExist(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing")
	cfg := config(t)
	cfg.Path, cfg.MustExist = missing, true
	_, err := warehouse.Open(ctx, cfg)
	assert.ErrorIs(t, err, warehouse.ErrNoWarehouse)
	assert.Contains(t, err.Error(), "no warehouse at "+missing)
	assert.NoDirExists(t, missing)

	empty := t.TempDir()
	cfg.Path = empty
	_, err = warehouse.Open(ctx, cfg)
	assert.ErrorIs(t, err, warehouse.ErrNoWarehouse)
	entries, err := os.ReadDir(empty)
	require.NoError(t, err)
	assert.Empty(t, entries, "the engine did not start in it")

	// the engine's directory: a database that is not there, then one that is
	cfg.Path = dataDir
	_, err = warehouse.Open(ctx, cfg)
	assert.ErrorIs(t, err, warehouse.ErrNoWarehouse)
	_ = open(t) // creates the database
	st, err := warehouse.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, st.Close())
}
