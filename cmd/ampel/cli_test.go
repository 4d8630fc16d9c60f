package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// warehouseConfig writes a config file with only a warehouse section for
// driver and returns its path.
func warehouseConfig(t *testing.T, driver string) string {
	t.Helper()
	dir := t.TempDir()
	var text string
	switch driver {
	case "clickhouse":
		cfg := warehousetest.ClickHouse(t)
		warehousetest.Open(t, cfg) // creates the database, drops it at cleanup
		text = fmt.Sprintf("warehouse:\n  driver: clickhouse\n  dsn: %s\n  database: %s\n", cfg.DSN, cfg.Database)
	case "embedded":
		cfg := warehousetest.Embedded(t)
		text = fmt.Sprintf("warehouse:\n  driver: embedded\n  path: data\n  library: %s\n", cfg.Library)
	}
	file := filepath.Join(dir, "ampel.yaml")
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	return file
}

// runAmpel runs the binary and returns stdout, stderr and the exit code.
func runAmpel(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return ampelWith(t, nil, args...)
}

func TestMigrateAndSQL(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			cfg := warehouseConfig(t, driver)

			out, errOut, code := runAmpel(t, "migrate", "--config", cfg)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "applied 0001_sync_runs.sql")
			require.Contains(t, out, "applied 0002_sync_state_resume.sql")

			out, errOut, code = runAmpel(t, "migrate", "--config", cfg)
			require.Equal(t, 0, code, errOut)
			require.Equal(t, "the warehouse is up to date\n", out)

			out, _, code = runAmpel(t, "migrate", "--config", cfg, "--status")
			require.Equal(t, 0, code)
			status := "^"
			for _, name := range migrationFiles(t) {
				status += `applied  \d{4}-\d\d-\d\dT\S+  ` + regexp.QuoteMeta(name) + `\n`
			}
			require.Regexp(t, status+"$", out)

			q := `SELECT 1 AS n, 'tab\there' AS s, CAST(NULL AS Nullable(String)) AS nothing, toDecimal64(12.5, 2) AS amount,
				toDateTime('2025-03-01 10:00:00', 'UTC') AS at, ['a', 'b'] AS tags UNION ALL
				SELECT 2, 'quote"comma,', 'x', toDecimal64(-0.01, 2), toDateTime('2025-03-02 00:00:00', 'UTC'), CAST([] AS Array(String))`
			q = "SELECT * FROM (" + q + ") ORDER BY n"

			out, errOut, code = runAmpel(t, "sql", "--config", cfg, q)
			require.Equal(t, 0, code, errOut)
			require.Equal(t, "n\ts\tnothing\tamount\tat\ttags\n"+
				"1\ttab\\there\t\\N\t12.5\t2025-03-01 10:00:00\t['a','b']\n"+
				"2\tquote\"comma,\tx\t-0.01\t2025-03-02 00:00:00\t[]\n", out)

			out, errOut, code = runAmpel(t, "sql", "--config", cfg, "--format", "csv", q)
			require.Equal(t, 0, code, errOut)
			records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			require.NoError(t, err)
			require.Equal(t, [][]string{
				{"n", "s", "nothing", "amount", "at", "tags"},
				{"1", "tab\there", "", "12.5", "2025-03-01 10:00:00", "['a','b']"},
				{"2", `quote"comma,`, "x", "-0.01", "2025-03-02 00:00:00", "[]"},
			}, records)

			out, errOut, code = runAmpel(t, "sql", "--config", cfg, "--format", "json", q)
			require.Equal(t, 0, code, errOut)
			var rows []map[string]any
			dec := json.NewDecoder(strings.NewReader(out))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&rows), out)
			require.Len(t, rows, 2)
			require.Equal(t, json.Number("12.5"), rows[0]["amount"])
			require.Nil(t, rows[0]["nothing"])
			require.Equal(t, "2025-03-01T10:00:00Z", rows[0]["at"])
			require.Equal(t, []any{"a", "b"}, rows[0]["tags"])
			require.Equal(t, []any{}, rows[1]["tags"])

			// an empty result is an empty array, not nothing
			out, _, code = runAmpel(t, "sql", "--config", cfg, "--format", "json", "SELECT 1 AS n WHERE 0")
			require.Equal(t, 0, code)
			require.JSONEq(t, "[]", out)

			// read-only: writes are refused on one line (sql_test.go has the rest)
			_, errOut, code = runAmpel(t, "sql", "--config", cfg, "DROP TABLE sync_runs")
			require.Equal(t, 1, code)
			require.Equal(t, "ampel sql: refused: DROP changes the warehouse; ampel sql reads the warehouse's tables only\n", errOut)
			_, _, code = runAmpel(t, "sql", "--config", cfg, "SELECT count() FROM sync_runs")
			require.Equal(t, 0, code, "the table is still there")

			// a bad query names the statement's problem on one line
			_, errOut, code = runAmpel(t, "sql", "--config", cfg, "SELECT nope FROM sync_runs")
			require.Equal(t, 1, code)
			require.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
			require.Contains(t, errOut, "nope")
		})
	}
}

// TestMigrateTwoProcesses starts two ampel migrate processes at once on
// one warehouse: the migration is applied once.
func TestMigrateTwoProcesses(t *testing.T) {
	cfg := warehouseConfig(t, "clickhouse")
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _, codes[i] = runAmpel(t, "migrate", "--config", cfg)
		}()
	}
	wg.Wait()
	require.Equal(t, []int{0, 0}, codes)
	require.Equal(t, 1, strings.Count(outs[0]+outs[1], "applied 0001_sync_runs.sql"), "%q", outs)
	out, _, code := runAmpel(t, "sql", "--config", cfg, "SELECT count() FROM schema_migrations")
	require.Equal(t, 0, code)
	require.Equal(t, fmt.Sprintf("count()\n%d\n", len(migrationFiles(t))), out)
}

// migrationFiles lists the embedded migrations in order.
func migrationFiles(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(ampelsql.Schema, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names
}

func TestCommandLine(t *testing.T) {
	// every subcommand has --help, exit 0, usage on stdout
	for _, c := range commands {
		out, errOut, code := runAmpel(t, c.name, "--help")
		require.Equal(t, 0, code, "%s --help: %s", c.name, errOut)
		require.Contains(t, out, "Usage: ampel "+c.name, c.name)
	}
	out, _, code := runAmpel(t, "version")
	require.Equal(t, 0, code)
	require.Regexp(t, `^ampel \S+ \(go1\.\d+`, out)

	_, errOut, code := runAmpel(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)

	_, errOut, code = runAmpel(t, "sql", "--format", "xml", "--config", "x.yaml", "SELECT 1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--format \"xml\": use tsv, csv or json")

	// a bad config: exit 3, one line naming file, line and key
	dir := t.TempDir()
	bad := filepath.Join(dir, "ampel.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("warehouse:\n  driver: embedded\n  max_conn: 3\n"), 0o600))
	_, errOut, code = runAmpel(t, "migrate", "--config", bad)
	require.Equal(t, 3, code)
	require.Equal(t, fmt.Sprintf("ampel migrate: %s:3: warehouse.max_conn: unknown key; known keys here: driver, path, library, dsn, ca_file, database, cluster, max_conns, dial_timeout, query_timeout\n", bad), errOut)

	// a warehouse that cannot be opened: exit 1 and one line on stderr
	sqlFails := func(name, config string) string {
		t.Helper()
		file := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(file, []byte(config), 0o600))
		_, errOut, code := runAmpel(t, "sql", "--config", file, "SELECT 1")
		require.Equal(t, 1, code)
		require.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
		return errOut
	}
	// the embedded library missing: the line names the set-up command
	require.Contains(t, sqlFails("lib", "warehouse:\n  driver: embedded\n  library: /nonexistent/libchdb.so\n"), "make libchdb")
	// a dead server: no hang, no password in the line, and what to check
	dead := sqlFails("dead", "warehouse:\n  driver: clickhouse\n  dsn: clickhouse://default:s3cret@127.0.0.1:1/ampel\n  dial_timeout: 2s\n")
	require.NotContains(t, dead, "s3cret")
	require.Equal(t, "ampel sql: open clickhouse warehouse: clickhouse: open 127.0.0.1:1: nothing listens there: is the ClickHouse server running, "+
		"and is this its native TCP port (tcp_port, 9000 by default; 9440 with secure=true)? Check warehouse.dsn: dial tcp 127.0.0.1:1: connect: connection refused\n", dead)
}
