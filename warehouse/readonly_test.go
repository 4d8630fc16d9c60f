package warehouse_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/storetest"
)

var placeholders = strings.NewReplacer("{canary}", "/tmp/canary", "{outfile}", "/tmp/out", "{appendfile}", "/tmp/append",
	"{listener}", "127.0.0.1:9", "{db}", "ampel")

// The conformance suite runs these on real engines; here the check alone
// must already decide them, without an engine.
func TestCheckReadOnlyTables(t *testing.T) {
	for _, h := range storetest.HostileStatements {
		q := placeholders.Replace(h)
		err := warehouse.CheckReadOnly(q, "ampel")
		var re *warehouse.RefusedError
		if assert.ErrorAs(t, err, &re, q) {
			assert.ErrorIs(t, err, warehouse.ErrReadOnly)
			assert.NotEmpty(t, re.Reason)
			assert.NotContains(t, err.Error(), "\n")
			assert.LessOrEqual(t, len(re.Query), 310)
		}
	}
	for _, a := range storetest.AllowedStatements {
		q := placeholders.Replace(a.Query)
		assert.NoError(t, warehouse.CheckReadOnly(q, "ampel"), q)
	}
}

func TestCheckReadOnlyReasons(t *testing.T) {
	cases := []struct{ query, what, reason string }{
		{"SELECT file('/etc/passwd')", "file()", "file() reads files"},
		{"SELECT * FROM url('http://x', CSV)", "url()", "table function url() connects to other servers"},
		{"SELECT * FROM numbers(3)", "numbers()", "table function numbers(): only the warehouse's tables can be read"},
		{"DESCRIBE TABLE url('x')", "url()", "table function url() connects to other servers"},
		{"SELECT 1 INTO OUTFILE 'x'", "INTO OUTFILE", "INTO OUTFILE writes a file"},
		{"SELECT 1 FORMAT JSON", "FORMAT", "a FORMAT clause"},
		{"SELECT 1 SETTINGS max_threads = 1", "SETTINGS", "a SETTINGS clause changes the engine's settings"},
		{"SELECT * FROM other.t", "other.t", "database other is not the warehouse's database (ampel)"},
		{"SELECT * FROM system.one", "system.one", "the engine's system tables are not part of the warehouse"},
		{"SELECT x FROM t WHERE x IN other.t", "other.t", "database other"},
		{"SYSTEM STOP MERGES", "SYSTEM", "SYSTEM controls the engine"},
		{"SELECT 1; SELECT 2", ";", "more than one statement"},
		{"SEL/**/ECT 1", "SEL", `"SEL" is not a read-only statement (allowed: SELECT, WITH`},
		{"SHOW DATABASES", "SHOW DATABASES", "SHOW DATABASES is not a read-only statement Ampel allows"},
		{"", "", "the statement is empty"},
		{" ; ", "", "the statement is empty"},
		{"SELECT 'x", "syntax", "the statement cannot be read: unterminated string at position 8"},
	}
	for _, c := range cases {
		err := warehouse.CheckReadOnly(c.query, "ampel")
		var re *warehouse.RefusedError
		if assert.ErrorAs(t, err, &re, c.query) {
			assert.Equal(t, c.what, re.What, c.query)
			assert.Contains(t, re.Reason, c.reason, c.query)
		}
	}
	for _, q := range []string{
		"SELECT extract(DAY FROM d), substring(s FROM 2), trim(BOTH ' ' FROM s) FROM t",
		"SELECT * FROM t ORDER BY d WITH FILL FROM toDate('2026-01-01') TO toDate('2026-02-01')",
		"SELECT * FROM t ARRAY JOIN arrayMap(x -> x, a) AS y, [1] AS z",
		"SELECT * FROM ampel.t AS a JOIN ampel.u AS b ON a.k = b.k",
		"SELECT CAST(x AS Array(Nullable(Decimal(18, 2)))), y::LowCardinality(String) FROM t",
		"SELECT x FROM t WHERE x IN ampel.u OR x IN (1, 2)",
		"SHOW TABLES FROM ampel NOT LIKE 'x%' LIMIT 3",
		"EXISTS ampel.t",
		"(SELECT 1) UNION ALL (SELECT 2)",
	} {
		assert.NoError(t, warehouse.CheckReadOnly(q, "ampel"), q)
	}
}

// explain builds EXPLAIN AST output from lines indented with two spaces
// per level in the source, as the engine indents with one.
func explain(lines ...string) string {
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		lines[i] = strings.Repeat(" ", (len(l)-len(trimmed))/2) + trimmed
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestCheckExplainAST(t *testing.T) {
	selectFrom := func(table ...string) string {
		return explain(append([]string{
			"SelectWithUnionQuery (children 1)",
			"  ExpressionList (children 1)",
			"    SelectQuery (children 2)",
			"      ExpressionList (children 1)",
			"        Asterisk",
			"      TablesInSelectQuery (children 1)",
			"        TablesInSelectQueryElement (children 1)",
			"          TableExpression (children 1)",
		}, table...)...)
	}
	ok := []string{
		selectFrom("            TableIdentifier t (alias x)"),
		selectFrom("            TableIdentifier ampel.t"),
		selectFrom("            Subquery (children 1)"),
		explain("ShowTables"),
		explain("DescribeQuery (children 1)", "  TableExpression (children 1)", "    TableIdentifier t"),
	}
	for _, tree := range ok {
		q := "SHOW TABLES"
		if !strings.HasPrefix(tree, "ShowTables") {
			q = "SELECT 1"
		}
		assert.NoError(t, warehouse.CheckExplainAST(q, tree, "ampel"), tree)
	}
	refused := map[string]string{
		selectFrom("            Function url (children 1)"):                                                             "table function url()",
		selectFrom("            Function format (children 1)"):                                                          "table function format()",
		selectFrom("            TableIdentifier other.t"):                                                               "database other",
		selectFrom("            TableIdentifier ampel.x.y"):                                                             "more than two parts",
		selectFrom("            Identifier system.one"):                                                                 "system tables",
		selectFrom("            TableIdentifier t (alias x)", "        Set"):                                            "SETTINGS",
		explain("SelectWithUnionQuery (children 2)", "  ExpressionList", "  Identifier JSON"):                           "FORMAT",
		explain("SelectWithUnionQuery (children 1)", "  ExpressionList (children 1)", "    Function file (children 1)"): "file() reads files",
		explain("SelectWithUnionQuery (children 1)", "  ExpressionList (children 1)", "    Function in (children 1)",
			"      ExpressionList (children 2)", "        Identifier x", "        Identifier other.t"): "database other",
		explain("ParallelWithQuery 2 SelectWithUnionQuery (children 2)"):                                   "ParallelWithQuery",
		explain("SelectWithUnionQuery (children 1)", "  ColumnsApplyTransformer"):                          "ColumnsApplyTransformer",
		explain("ShowCreateTableQuery system one (children 2)", "  Identifier system", "  Identifier one"): "system tables",
		explain("SelectWithUnionQuery (children 1)", "      ExpressionList"):                               "unknown form",
		"": "unknown form",
	}
	for tree, reason := range refused {
		err := warehouse.CheckExplainAST("SELECT 1", tree, "ampel")
		require.ErrorIs(t, err, warehouse.ErrReadOnly, tree)
		assert.Contains(t, err.Error(), reason, tree)
	}
	// SHOW DATABASES prints as ShowTables: the statement's words decide
	err := warehouse.CheckExplainAST("SHOW DATABASES", explain("ShowTables"), "ampel")
	assert.ErrorIs(t, err, warehouse.ErrReadOnly)
}

// FuzzCheckReadOnly: the check never panics, and what it accepts is one
// statement of an allowed kind, as an independent reading of its tokens
// confirms: no second statement, no INTO, SETTINGS or FORMAT clause, no
// call of a function that reaches files or the network, and no name in the
// engine's system databases.
//
//	go test ./warehouse -run '^$' -fuzz FuzzCheckReadOnly -fuzztime 60s
func FuzzCheckReadOnly(f *testing.F) {
	for _, h := range storetest.HostileStatements {
		f.Add(placeholders.Replace(h))
	}
	for _, a := range storetest.AllowedStatements {
		f.Add(placeholders.Replace(a.Query))
	}
	reach := map[string]bool{"file": true, "url": true, "s3": true, "remote": true, "remotesecure": true,
		"input": true, "executable": true, "cluster": true, "mysql": true, "postgresql": true, "numbers": true,
		"dictget": true, "joinget": true, "sleep": true, "getsetting": true, "hostname": true, "currentuser": true}
	f.Fuzz(func(t *testing.T, q string) {
		if warehouse.CheckReadOnly(q, "ampel") != nil {
			return
		}
		texts, words, err := warehouse.Tokens(q)
		if err != nil {
			t.Fatalf("accepted a statement the tokenizer cannot read: %q: %v", q, err)
		}
		if n := len(texts); n > 0 && texts[n-1] == ";" {
			texts, words = texts[:n-1], words[:n-1]
		}
		if len(texts) == 0 {
			t.Fatalf("accepted an empty statement: %q", q)
		}
		switch strings.ToUpper(texts[0]) {
		case "SELECT", "WITH", "(", "DESCRIBE", "DESC", "SHOW", "EXISTS":
		default:
			t.Fatalf("accepted a statement of kind %q: %q", texts[0], q)
		}
		for i, x := range texts {
			up := strings.ToUpper(x)
			next := ""
			if i+1 < len(texts) {
				next = texts[i+1]
			}
			switch {
			case x == ";":
				t.Fatalf("accepted two statements: %q", q)
			case words[i] && (up == "INTO" || up == "SETTINGS" || up == "FORMAT" && next != "("):
				t.Fatalf("accepted %s: %q", up, q)
			case next == "(" && reach[strings.Trim(strings.ToLower(x), "`\"")]:
				t.Fatalf("accepted a call of %s: %q", x, q)
			case next == "." && (strings.EqualFold(strings.Trim(x, "`\""), "system") || strings.EqualFold(strings.Trim(x, "`\""), "information_schema")):
				t.Fatalf("accepted a system table: %q", q)
			}
		}
	})
}
