package warehouse

import (
	"slices"
	"strings"
)

// Reads is what a statement reads by name, as the tokenizer (the one the
// read-only check uses) sees it.
type Reads struct {
	// Tables are the tables and views named right after FROM or JOIN (not
	// ARRAY JOIN), unqualified, each once, in order of appearance. A table
	// function (numbers(10)), a subquery and a db.table name are not in it.
	Tables []string
	// Names holds every bare or quoted name the statement mentions: the
	// columns it can read are among them.
	Names map[string]bool
	// All is true when the statement selects columns it does not name:
	// SELECT *, t.* or COLUMNS(…).
	All bool
}

// StatementReads reads q's table references and names; a statement the
// tokenizer cannot read is an error.
func StatementReads(q string) (Reads, error) {
	toks, err := lex(q)
	if err != nil {
		return Reads{}, err
	}
	r := Reads{Names: map[string]bool{}}
	for i, t := range toks {
		if t.isName() {
			r.Names[t.name] = true
		}
		if t.is("*") && i > 0 && (toks[i-1].is("SELECT") || toks[i-1].is(".") || toks[i-1].is(",") || toks[i-1].is("DISTINCT")) ||
			t.kind == tokWord && strings.EqualFold(t.text, "COLUMNS") && i+1 < len(toks) && toks[i+1].is("(") {
			r.All = true
		}
	}
	for _, i := range tableRefs(toks) {
		if n := toks[i].name; !slices.Contains(r.Tables, n) {
			r.Tables = append(r.Tables, n)
		}
	}
	return r, nil
}

// ReplaceTables returns q with every table reference StatementReads lists
// whose name is a key of to replaced by the value, quoted. A reference
// without an alias keeps its name as the alias (FROM lead becomes FROM
// `snap` AS lead), so that lead.col still resolves.
func ReplaceTables(q string, to map[string]string) (string, error) {
	toks, err := lex(q)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	at := 0
	for _, i := range tableRefs(toks) {
		t := toks[i]
		repl, ok := to[t.name]
		if !ok {
			continue
		}
		b.WriteString(q[at:t.pos])
		b.WriteString(QuoteIdentifier(repl))
		if !hasAlias(toks, i) {
			b.WriteString(" AS ")
			b.WriteString(QuoteIdentifier(t.name))
		}
		at = t.pos + len(t.text)
	}
	b.WriteString(q[at:])
	return b.String(), nil
}

// tableRefs returns the indexes of the tokens that name a table: a name
// after FROM or JOIN (not ARRAY JOIN, not the FROM of extract(… FROM …)
// and its kind) that is neither qualified (db.t) nor called
// (numbers(10)). A table after a comma (FROM a, b) is not found: the
// statement then reads it as written.
func tableRefs(toks []token) []int {
	var out []int
	var inCall []bool // per open parenthesis: a call whose FROM is no table
	for i := 1; i < len(toks); i++ {
		t, prev := toks[i], toks[i-1]
		switch {
		case t.is("("):
			inCall = append(inCall, prev.kind == tokWord && slices.ContainsFunc(fromCalls, prev.is))
		case t.is(")") && len(inCall) > 0:
			inCall = inCall[:len(inCall)-1]
		}
		if !t.isName() || !(prev.is("FROM") || prev.is("JOIN") && !(i >= 2 && toks[i-2].is("ARRAY"))) {
			continue
		}
		if prev.is("FROM") && len(inCall) > 0 && inCall[len(inCall)-1] {
			continue
		}
		if i+1 < len(toks) && (toks[i+1].is(".") || toks[i+1].is("(")) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// fromCalls are the functions whose arguments may hold FROM.
var fromCalls = []string{"EXTRACT", "TRIM", "SUBSTRING", "SUBSTR", "POSITION", "OVERLAY"}

// afterTable are the keywords that may follow a table reference and are
// no alias.
var afterTable = []string{"WHERE", "PREWHERE", "GROUP", "ORDER", "LIMIT", "OFFSET", "HAVING", "UNION", "EXCEPT",
	"INTERSECT", "FINAL", "SAMPLE", "ARRAY", "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "ANY", "ALL",
	"ASOF", "SEMI", "ANTI", "JOIN", "GLOBAL", "PASTE", "ON", "USING", "SETTINGS", "FORMAT", "WINDOW", "QUALIFY", "INTO"}

// hasAlias reports whether the table reference at toks[i] has an alias:
// AS follows, or a name that is not a keyword that may follow a table.
func hasAlias(toks []token, i int) bool {
	if i+1 >= len(toks) {
		return false
	}
	n := toks[i+1]
	if n.is("AS") || n.kind == tokQuoted {
		return true
	}
	if n.kind != tokWord {
		return false
	}
	for _, kw := range afterTable {
		if n.is(kw) {
			return false
		}
	}
	return true
}
