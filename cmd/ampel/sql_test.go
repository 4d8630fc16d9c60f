package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

// migratedConfig writes a config for driver and migrates its warehouse.
func migratedConfig(t *testing.T, driver string) string {
	t.Helper()
	cfg := warehouseConfig(t, driver)
	_, errOut, code := runAmpel(t, "migrate", "--config", cfg)
	require.Equal(t, 0, code, errOut)
	return cfg
}

// TestSQLRefuses runs statements that ampel sql must refuse through the
// binary: each gets exit 1 and one line on stderr saying what was refused
// (also when stdin is a pipe), prints nothing, and does nothing. The full
// table of hostile statements is warehouse/storetest's.
func TestSQLRefuses(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			cfg := migratedConfig(t, driver)
			migrations, _, code := runAmpel(t, "sql", "--config", cfg, "SELECT count() FROM schema_migrations")
			require.Equal(t, 0, code)
			dir := t.TempDir()
			canary := filepath.Join(dir, "canary")
			require.NoError(t, os.WriteFile(canary, []byte("AMPEL_CANARY_SECRET\n"), 0o644))
			outfile := filepath.Join(dir, "out.txt")
			cases := []struct{ query, line string }{
				{"SELECT file('" + canary + "')", "refused: file() reads files; ampel sql reads the warehouse's tables only"},
				{"SELECT 1 INTO OUTFILE '" + outfile + "'", "refused: INTO OUTFILE writes a file; ampel sql reads the warehouse's tables only"},
				{"SELECT * FROM system.processes", "refused: system.processes: the engine's system tables are not part of the warehouse; ampel sql reads the warehouse's tables only"},
				{"SYSTEM STOP MERGES", "refused: SYSTEM controls the engine; ampel sql reads the warehouse's tables only"},
				{"KILL QUERY WHERE 1", "refused: KILL stops other statements; ampel sql reads the warehouse's tables only"},
				{"SELECT 1; DROP TABLE sync_runs", "refused: more than one statement; ampel sql reads the warehouse's tables only"},
				{"SELECT count() FROM sync_runs FORMAT JSON", "refused: a FORMAT clause; ampel sql chooses the output format: use --format tsv, csv or json"},
			}
			for _, tc := range cases {
				for _, stdin := range []string{"", "SELECT 1\n"} {
					// a strings.Reader is no file: exec feeds it through a pipe
					out, errOut, code := ampelRun(t, strings.NewReader(stdin), nil, "sql", "--config", cfg, tc.query)
					assert.Equal(t, 1, code, tc.query)
					assert.Equal(t, "ampel sql: "+tc.line+"\n", errOut, tc.query)
					assert.Empty(t, out, tc.query)
				}
			}
			assert.NoFileExists(t, outfile)
			out, _, code := runAmpel(t, "sql", "--config", cfg, "SELECT count() FROM schema_migrations")
			require.Equal(t, 0, code)
			assert.Equal(t, migrations, out, "the warehouse is unchanged")
		})
	}
}

// TestSQLSyntaxErrorPosition: a syntax error's position counts in the
// user's statement, not in what the driver sends with it, and what the user
// wrote after the statement (; and a comment) is kept out of the way.
func TestSQLSyntaxErrorPosition(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			cfg := migratedConfig(t, driver)
			// a trailing ; and comment are the user's, and an empty result
			// still has its header
			out, errOut, code := runAmpel(t, "sql", "--config", cfg, "SELECT 1 AS n WHERE 0; -- nothing")
			require.Equal(t, 0, code, errOut)
			assert.Equal(t, "n\n", out)

			_, errOut, code = runAmpel(t, "sql", "--config", cfg, "SELECT 1 +")
			require.Equal(t, 1, code)
			assert.Contains(t, errOut, "Syntax error: failed at position 11 (end of query)")
			assert.NotContains(t, errOut, "ampel-embedded")
			assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		})
	}
}

// TestSQLNoWarehouse: ampel sql on a warehouse that does not exist says so
// and creates nothing.
func TestSQLNoWarehouse(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			cfg := warehouseConfig(t, driver)
			if driver == "clickhouse" { // a database nobody created
				wc := warehousetest.ClickHouse(t)
				text := fmt.Sprintf("warehouse:\n  driver: clickhouse\n  dsn: %s\n  database: %s\n", wc.DSN, wc.Database)
				require.NoError(t, os.WriteFile(cfg, []byte(text), 0o600))
			}
			_, errOut, code := runAmpel(t, "sql", "--config", cfg, "SELECT 1")
			require.Equal(t, 1, code)
			assert.Regexp(t, `^ampel sql: .*no warehouse at \S+ \(no database \S+\): run ampel sync or ampel migrate first\n$`, errOut)
			if driver == "embedded" {
				assert.NoDirExists(t, filepath.Join(filepath.Dir(cfg), "data"), "no empty warehouse was made")
			}
			// and still none: the first refusal created nothing
			_, errOut2, code := runAmpel(t, "sql", "--config", cfg, "SELECT 1")
			require.Equal(t, 1, code)
			assert.Equal(t, errOut, errOut2)
		})
	}
}

// TestPrivateFiles: the embedded warehouse ampel writes is readable by its
// owner only, whatever the umask it was started with.
func TestPrivateFiles(t *testing.T) {
	for _, umask := range []string{"022", "000"} {
		t.Run("umask "+umask, func(t *testing.T) {
			cfg := warehouseConfig(t, "embedded")
			cmd := exec.Command("sh", "-c", "umask "+umask+" && exec \"$0\" migrate --config \"$1\"", ampelBin, cfg)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			warehousetest.RequirePrivate(t, filepath.Join(filepath.Dir(cfg), "data"), 10)
		})
	}
}
