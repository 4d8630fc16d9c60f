package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
)

// HostileStatements are statements that a ReadOnly context must refuse on
// every driver, whatever the engine would make of them: they write or read
// files, open connections, read the engine's own tables or other
// databases, change settings, data or schema, control the engine, or
// smuggle any of that past a check (comments, case, quoting, several
// statements, subqueries, joins, CTEs, odd characters).
//
// This table is where every new bypass goes: when a statement gets
// through, add it here (and, when it does something, make the effect
// checks in testReadOnlyHostile see it).
//
// In the statements {canary} is the path of a file holding a secret,
// {outfile} a file that must not appear, {appendfile} a file that must not
// change, {listener} the host:port of a loopback listener that must not be
// connected to, {db} the store's database, and ro_h a table of three rows.
var HostileStatements = []string{
	// files: INTO OUTFILE, file() and table functions that read files
	"SELECT 1 INTO OUTFILE '{outfile}'",
	"SELECT 1 INTO OUTFILE '{appendfile}' APPEND",
	"SELECT id FROM ro_h INTO OUTFILE '{outfile}' FORMAT CSV",
	"SELECT 1 INTO OUTFILE 'ampel-outfile-test.txt'",
	"select 1 into outfile '{outfile}'",
	"SELECT file('{canary}')",
	"SELECT extract(file('/proc/self/environ'), 'AMPEL[^\\0]*')",
	"SELECT `file`('{canary}')",
	`SELECT "file"('{canary}')`,
	"SELECT FILE('{canary}')",
	"SELECT fIlE('{canary}')",
	"SELECT file ('{canary}')",
	"SELECT file/**/('{canary}')",
	"SELECT file -- a comment\n('{canary}')",
	"SELECT length(file('{canary}')) > 0",
	"SELECT (SELECT file('{canary}'))",
	"WITH (SELECT file('{canary}')) AS x SELECT x",
	"SELECT arrayMap(x -> file(x), ['{canary}'])",
	"SELECT s FROM ro_h ARRAY JOIN [file('{canary}')] AS f",
	"SELECT * FROM file('{canary}', 'TSV', 'a String')",
	"DESCRIBE TABLE file('{canary}', 'TSV', 'a String')",
	"DESC file('{canary}', 'TSV', 'a String')",
	"SELECT * FROM ro_h WHERE s IN (SELECT * FROM file('{canary}', 'TSV', 'a String'))",
	"SELECT * FROM ro_h AS a JOIN file('{canary}', 'TSV', 'a String') AS b ON 1 = 1",
	"SELECT * FROM input('a String')",
	"SELECT * FROM executable('cat', 'TSV', 'a String')",
	"SELECT * FROM sqlite('{canary}', 't')",
	"SELECT catboostEvaluate('{canary}', 1)",
	"INSERT INTO FUNCTION file('{outfile}', 'TSV', 'a UInt8') SELECT 1",
	// the network
	"SELECT * FROM url('http://{listener}/a', 'TSV', 'a String')",
	"SELECT * FROM URL('http://{listener}/b', 'TSV', 'a String')",
	"SELECT * FROM `url`('http://{listener}/c', 'TSV', 'a String')",
	"DESCRIBE TABLE url('http://{listener}/d', 'TSV', 'a String')",
	"SELECT * FROM s3('http://{listener}/bucket/e.tsv', 'TSV', 'a String')",
	"DESCRIBE TABLE s3('http://{listener}/bucket/f.tsv', 'TSV', 'a String')",
	"SELECT * FROM remote('{listener}', system.one)",
	"DESCRIBE TABLE remote('{listener}', system.one)",
	"SELECT * FROM remoteSecure('{listener}', system.one)",
	"SELECT * FROM cluster('default', system.one)",
	"SELECT * FROM mysql('{listener}', 'db', 't', 'user', 'password')",
	"SELECT * FROM postgresql('{listener}', 'db', 't', 'user', 'password')",
	"SELECT * FROM ro_h WHERE id IN (SELECT * FROM url('http://{listener}/g', 'TSV', 'a UInt64'))",
	"WITH u AS (SELECT * FROM url('http://{listener}/h', 'TSV', 'a String')) SELECT * FROM u",
	"SELECT * FROM (SELECT * FROM url('http://{listener}/i', 'TSV', 'a String'))",
	"SELECT * FROM ro_h AS a LEFT JOIN url('http://{listener}/j', 'TSV', 'id UInt64') AS b USING (id)",
	"SELECT * FROM ro_h, url('http://{listener}/k', 'TSV', 'id UInt64')",
	"SELECT * FROM ro_h AS a JOIN ro_h AS b ON a.id = b.id, url('http://{listener}/l', 'TSV', 'id UInt64')",
	"SELECT dictGet('d', 'a', toUInt64(1))",
	"SELECT dictGetString('d', 'a', toUInt64(1))",
	"SELECT joinGet('{db}.ro_h', 's', 1)",
	"SELECT aiGenerate('hello')",
	"SELECT * FROM odbc('DSN=x', 't')",
	// the engine's process and server
	"SYSTEM STOP MERGES",
	"SYSTEM STOP MERGES ro_h",
	"system stop merges",
	"SYSTEM FLUSH LOGS",
	"SYSTEM SHUTDOWN",
	"KILL QUERY WHERE 1",
	"KILL QUERY WHERE 1 SYNC",
	"kill query where 1",
	"SELECT sleep(1)",
	"SELECT sleepEachRow(1) FROM ro_h",
	"SELECT hostName()",
	"SELECT currentUser()",
	"SELECT user()",
	"SELECT getSetting('readonly')",
	"SELECT uptime()",
	"SELECT addressToSymbol(1)",
	"SELECT __getScalar('x')",
	// the engine's tables and other databases
	"SELECT * FROM system.one",
	"SELECT * FROM system.processes",
	"SELECT name, value FROM system.settings",
	"SELECT * FROM SYSTEM.ONE",
	`SELECT * FROM "system"."one"`,
	"SELECT * FROM `system`.`one`",
	"SELECT * FROM `SYSTEM`.one",
	"SELECT * FROM information_schema.tables",
	"SELECT * FROM INFORMATION_SCHEMA.TABLES",
	"SELECT id FROM ro_h WHERE id IN system.one",
	"SELECT id FROM ro_h WHERE id NOT IN (SELECT dummy FROM system.one)",
	"SELECT count() FROM ro_h WHERE 1 IN (SELECT 1 FROM system.one)",
	"SELECT * FROM default.ro_h",
	"SELECT * FROM ro_h JOIN default.t USING (id)",
	"SELECT * FROM ro_h WHERE id GLOBAL IN default.t",
	"SHOW TABLES FROM system",
	"SHOW TABLES IN default",
	"SHOW CREATE TABLE system.one",
	"DESCRIBE system.one",
	"EXISTS TABLE system.one",
	"SHOW DATABASES",
	"SHOW PROCESSLIST",
	"SHOW GRANTS",
	"SHOW SETTINGS LIKE '%'",
	// table functions that only compute: no table functions at all
	"SELECT * FROM numbers(10)",
	"SELECT count() FROM numbers(1000000000000)",
	"SELECT * FROM generateRandom('a UInt8') LIMIT 1",
	"SELECT * FROM merge('system', '^one$')",
	"SELECT * FROM view(SELECT 1)",
	"SELECT * FROM values('a UInt8', 1)",
	"SELECT * FROM format(TSV, 'a')",
	"SELECT * FROM zeros(10)",
	"SELECT * FROM null('a UInt8')",
	// settings and output formats
	"SELECT 1 SETTINGS max_threads = 1",
	"SELECT 1 SETTINGS readonly = 0",
	"SELECT * FROM (SELECT 1 SETTINGS max_threads = 1)",
	"SELECT 1 FORMAT JSON",
	"SELECT id FROM ro_h FORMAT TabSeparated",
	"SELECT 1 format JSON",
	"SET readonly = 0",
	"SET max_threads = 1",
	"USE system",
	// writes and schema changes
	"INSERT INTO ro_h (id) VALUES (9)",
	"INSERT INTO ro_h (id) SELECT 9",
	"ALTER TABLE ro_h DELETE WHERE 1",
	"ALTER TABLE ro_h ADD COLUMN x String",
	"OPTIMIZE TABLE ro_h FINAL",
	"TRUNCATE TABLE ro_h",
	"DROP TABLE ro_h",
	"DROP DATABASE {db}",
	"CREATE TABLE ro_x (a UInt8) ENGINE = Memory",
	"CREATE VIEW ro_v2 AS SELECT 1",
	"ATTACH TABLE ro_x",
	"DETACH TABLE ro_h",
	"RENAME TABLE ro_h TO ro_h2",
	"GRANT SELECT ON *.* TO default",
	"REVOKE SELECT ON *.* FROM default",
	"CREATE USER ro_user",
	"DELETE FROM ro_h WHERE 1",
	"CHECK TABLE ro_h",
	"BACKUP TABLE ro_h TO File('x')",
	// several statements, comments and keywords hidden or split
	"SELECT 1; DROP TABLE ro_h",
	"SELECT 1;DROP TABLE ro_h;",
	"SELECT 1; SELECT 2",
	"SEL/**/ECT 1",
	"/* hidden */ DROP TABLE ro_h",
	"-- a comment\nDROP TABLE ro_h",
	"SELECT 1 -- \n; DROP TABLE ro_h",
	"SELECT 1 /* ; */ ; DROP TABLE ro_h",
	"SELECT 1 /* /* */ , file('{canary}') */",
	"SELECT 1 # a comment\n, file('{canary}')",
	"SELECT 1 // a comment\n, file('{canary}')",
	"SELECT 'a\\'', file('{canary}')",
	"SELECT $$x$$, file('{canary}')",
	"SELECT $t$ ' $t$, file('{canary}')",
	"SELECT x'41', file('{canary}')",
	"SELECT 1file('{canary}')",
	"SELECT 1 \\G",
	"EXPLAIN SELECT 1",
	"EXPLAIN PIPELINE SELECT 1",
	"EXPLAIN AST SELECT 1",
	"SELECT * FROM (EXPLAIN SELECT 1)",
	"SELECT * APPLY(sum) FROM ro_h",
	"SELECT 1 PARALLEL WITH SELECT 2",
	"(SELECT 1) UNION ALL (SELECT file('{canary}'))",
	"WATCH ro_h",
	// characters outside ASCII and long statements
	"SELECT “file”('{canary}')",
	"SELECT ‘{canary}’, file('{canary}')",
	"SELECT 1 − 1",
	"SELECT\u00a0file('{canary}')",
	"SELECT `na\\x6De` FROM ro_h",
	"SELECT 1 AS `a\nFunction file`",
	"SELECT " + strings.Repeat("/* padding */ ", 40000) + "file('{canary}')",
	"SELECT " + strings.Repeat("1 + ", 300000) + "1",
}

// AllowedStatements are reads that a ReadOnly context must keep running on
// every driver, over the table ro_h (id UInt64, s String; three rows) and
// the view ro_v. modern are those only ClickHouse 21.9 and newer parse
// (Dialect.ModernSQL).
var AllowedStatements = []struct {
	Query  string
	Modern bool
}{
	{Query: "SELECT count() FROM ro_h"},
	{Query: "SELECT id, s FROM ro_h ORDER BY id"},
	{Query: "SELECT * FROM {db}.ro_h"},
	{Query: "SELECT * FROM `{db}`.`ro_h`"},
	{Query: "SELECT a.id, b.s FROM ro_h AS a ALL INNER JOIN (SELECT id, s FROM ro_h) AS b USING (id)"},
	{Query: "SELECT id FROM ro_h WHERE id IN (SELECT id FROM ro_h WHERE id > 1)"},
	{Query: "SELECT sum(id), avg(id), countIf(id > 1), groupArray(s), uniq(s), max(s) FROM ro_h"},
	{Query: "SELECT quantile(0.5)(id) FROM ro_h"},
	{Query: "SELECT toString(id) AS t, upper(s), length(s), concat(s, '-') FROM ro_h"},
	{Query: "SELECT arrayMap(x -> x * 2, [1, 2, 3])"},
	{Query: "SELECT CASE WHEN id > 1 THEN 'big' ELSE 'small' END FROM ro_h"},
	{Query: "SELECT CAST(id AS String) FROM ro_h"},
	{Query: "SELECT CAST(NULL AS Nullable(String)), CAST([1] AS Array(Nullable(UInt8))), CAST(id AS Decimal(18, 2)) FROM ro_h"},
	{Query: "SELECT * FROM ro_v"},
	{Query: "SELECT 'file(' AS x, '; DROP TABLE ro_h' AS y, 'INTO OUTFILE' AS z, 'system.one' AS w"},
	{Query: "SELECT s AS `file`, id AS `format`, 1 AS \"settings\" FROM ro_h"},
	{Query: "SELECT 1 -- a comment"},
	{Query: "/* a leading comment */ SELECT 1"},
	{Query: "SELECT 1;"},
	{Query: "SELECT count() FROM ro_h WHERE s = 'system.one'"},
	{Query: "WITH 2 AS two SELECT id * two FROM ro_h"},
	{Query: "SELECT id FROM ro_h UNION ALL SELECT id FROM ro_h"},
	{Query: "SELECT * FROM (SELECT id FROM ro_h) AS sub"},
	{Query: "SELECT s, n FROM ro_h ARRAY JOIN [1, 2] AS n"},
	{Query: "SELECT id, count() FROM ro_h GROUP BY id HAVING count() > 0 ORDER BY id DESC LIMIT 2"},
	{Query: "SELECT toDate('2026-01-01') + 1, now() > toDateTime('2020-01-01 00:00:00')"},
	{Query: "SELECT extract('abc', 'b'), replaceAll(s, 'a', 'b') FROM ro_h"},
	{Query: "SHOW TABLES"},
	{Query: "SHOW TABLES FROM {db}"},
	{Query: "SHOW TABLES LIKE 'ro_%'"},
	{Query: "SHOW CREATE TABLE ro_h"},
	{Query: "DESCRIBE TABLE ro_h"},
	{Query: "DESC ro_h"},
	{Query: "EXISTS TABLE ro_h"},
	{Query: "WITH c AS (SELECT id FROM ro_h) SELECT count() FROM c", Modern: true},
	{Query: "SELECT id, row_number() OVER (ORDER BY id) FROM ro_h", Modern: true},
	{Query: "SELECT EXTRACT(DAY FROM toDate('2026-01-02')), format('{}-{}', 'a', 'b')", Modern: true},
	{Query: "SELECT * EXCEPT (s) FROM ro_h", Modern: true},
	{Query: "SELECT id::Nullable(String), toDecimal64(id, 2)::Decimal(18, 2) FROM ro_h", Modern: true},
	{Query: "SELECT a.id FROM ro_h AS a LEFT JOIN ro_h AS b ON a.id = b.id WHERE b.s != ''", Modern: true},
	{Query: "SELECT sumIf(id, id > 1), argMax(s, id), uniqExact(s) FROM ro_h", Modern: true},
}

// readOnlyFixture creates ro_h (three rows, in two parts) and ro_v.
func readOnlyFixture(t *testing.T, st warehouse.Store) {
	exec(t, st, "CREATE TABLE ro_h (id UInt64, s String) ENGINE = MergeTree ORDER BY id")
	exec(t, st, "INSERT INTO ro_h (id, s) VALUES (1, 'a'), (2, 'b')")
	exec(t, st, "INSERT INTO ro_h (id, s) VALUES (3, 'c')")
	exec(t, st, "CREATE VIEW ro_v AS SELECT id, s FROM ro_h WHERE id > 1")
}

// testReadOnlyAllowed runs AllowedStatements under a ReadOnly context.
func testReadOnlyAllowed(t *testing.T, open Open) {
	st := open(t)
	readOnlyFixture(t, st)
	db := queryOne(t, st, "SELECT currentDatabase()").(string)
	ro := warehouse.ReadOnly(ctxT(t))
	for _, a := range AllowedStatements {
		if a.Modern && !st.Dialect().ModernSQL() {
			continue
		}
		q := strings.ReplaceAll(a.Query, "{db}", db)
		rows, err := st.Query(ro, q)
		if !assert.NoError(t, err, q) {
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		assert.NoError(t, rows.Err(), q)
		assert.NoError(t, rows.Close())
		assert.Positive(t, n, "%s returns rows", q)
	}
	// the view and the table are read through ReadOnly as they are
	got := queryAll(t, st, "SELECT id FROM ro_v ORDER BY id")
	assert.Equal(t, [][]any{{uint64(2)}, {uint64(3)}}, got)
}

// testReadOnlyHostile runs HostileStatements under a ReadOnly context: each
// is refused with one line wrapping ErrReadOnly, and none has an effect.
func testReadOnlyHostile(t *testing.T, open Open) {
	st := open(t)
	ctx := ctxT(t)
	readOnlyFixture(t, st)
	db := queryOne(t, st, "SELECT currentDatabase()").(string)

	dir := t.TempDir()
	secret := fmt.Sprintf("AMPEL_CANARY_%d_not_a_real_secret", os.Getpid())
	canary := filepath.Join(dir, "canary.txt")
	require.NoError(t, os.WriteFile(canary, []byte(secret+"\n"), 0o644)) // the server process must be able to read it
	outfile := filepath.Join(dir, "outfile.txt")
	appendfile := filepath.Join(dir, "append.txt")
	require.NoError(t, os.WriteFile(appendfile, []byte("unchanged\n"), 0o644))
	relative := "ampel-outfile-test.txt"
	t.Cleanup(func() { os.Remove(relative) })

	listener, connections := Listener(t)

	// a statement that streams while the hostile ones run: KILL QUERY would
	// end it (both engines cancel a paused stream)
	long, err := st.Query(ctx, "SELECT number FROM system.numbers LIMIT 100000000")
	require.NoError(t, err)
	require.True(t, long.Next())
	ro := warehouse.ReadOnly(ctx)

	r := strings.NewReplacer("{canary}", canary, "{outfile}", outfile, "{appendfile}", appendfile,
		"{listener}", listener, "{db}", db)
	for _, h := range HostileStatements {
		q := r.Replace(h)
		name := warehouse.ShortQuery(q)
		for _, run := range []struct {
			how string
			fn  func() (string, error)
		}{
			{"Query", func() (string, error) { return readAll(st, ro, q) }},
			{"Exec", func() (string, error) { return "", st.Exec(ro, q) }},
		} {
			out, err := run.fn()
			if err != nil {
				out += err.Error()
			}
			assert.NotContains(t, out, secret, "%s %s: the canary's secret", run.how, name)
			if !assert.ErrorIs(t, err, warehouse.ErrReadOnly, "%s %s", run.how, name) {
				continue
			}
			assert.NotContains(t, err.Error(), "\n", "%s %s: one line", run.how, name)
			var re *warehouse.RefusedError
			assert.ErrorAs(t, err, &re, "%s %s: refused before it ran", run.how, name)
		}
	}

	// nothing happened
	assert.NoFileExists(t, outfile, "INTO OUTFILE wrote no file")
	assert.NoFileExists(t, relative, "INTO OUTFILE wrote no file in the working directory")
	b, err := os.ReadFile(appendfile)
	require.NoError(t, err)
	assert.Equal(t, "unchanged\n", string(b), "INTO OUTFILE … APPEND appended nothing")
	assert.Zero(t, connections.Load(), "no connection reached the listener")
	for n := 0; n < 1_000_000 && long.Next(); n++ {
	}
	assert.NoError(t, long.Err(), "KILL QUERY did not end a running statement")
	require.NoError(t, long.Close())
	assert.Equal(t, uint64(3), queryOne(t, st, "SELECT count() FROM ro_h"), "no row was written or deleted")
	assert.Equal(t, uint64(0), queryOne(t, st, "EXISTS TABLE ro_x"), "no table was created")
	// merges were not stopped: the two parts of ro_h merge into one
	exec(t, st, "OPTIMIZE TABLE ro_h FINAL")
	parts := queryOne(t, st, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'ro_h' AND active")
	assert.Equal(t, uint64(1), parts, "SYSTEM STOP MERGES did not stop merges")
}

// readAll runs q and returns its rows as text.
func readAll(st warehouse.Store, ctx context.Context, q string) (string, error) {
	rows, err := st.Query(ctx, q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		fmt.Fprintln(&b, rows.Values()...)
	}
	return b.String(), errors.Join(rows.Err(), rows.Close())
}

// testFunctionList checks that every function the engine has is listed in
// warehouse/functions.txt, so that none is allowed or refused unreviewed.
func testFunctionList(t *testing.T, open Open) {
	st := open(t)
	var missing []string
	for _, row := range queryAll(t, st, "SELECT name, is_aggregate, alias_to FROM system.functions ORDER BY name") {
		name := row[0].(string)
		if warehouse.KnownFunction(name) {
			continue
		}
		line := fmt.Sprintf("%s\t%d", name, row[1])
		if alias := row[2].(string); alias != "" {
			line += "\t" + alias
		}
		missing = append(missing, line)
	}
	assert.Empty(t, missing, "the engine (%s) has functions warehouse/functions.txt does not list; "+
		"review each (deny those that touch files, the network, the process or the server in "+
		"warehouse/readonly_functions.go), then add these lines:\n%s", st.Dialect().Version, strings.Join(missing, "\n"))
}

// Listener starts a loopback listener for tb that counts the connections
// made to it, and checks that it counts (by connecting once itself, then
// starting again from zero). Tests give its address to statements that
// must not connect anywhere.
func Listener(tb testing.TB) (addr string, connections *atomic.Int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { ln.Close() })
	connections = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	probe, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(tb, err)
	probe.Close()
	require.Eventually(tb, func() bool { return connections.Load() == 1 }, 10*time.Second, 5*time.Millisecond, "the listener counts connections")
	connections.Store(0)
	return ln.Addr().String(), connections
}
