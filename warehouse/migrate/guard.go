package migrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/ampel/ampel/warehouse"
)

// The column guard: ClickHouse 18.16 has neither ADD COLUMN IF NOT EXISTS
// nor DROP COLUMN IF EXISTS, so the runner makes those two idempotent
// itself. Before an ALTER TABLE that adds or drops columns it reads the
// table's columns and leaves out every clause that has taken effect
// already; a column there with another type than the one to add is a
// conflict it does not resolve on its own.

// alter is an ALTER TABLE statement made only of ADD COLUMN and DROP
// COLUMN clauses.
type alter struct {
	database, table string // database "" is the current one
	head            string // "ALTER TABLE t [ON CLUSTER c]" as written
	clauses         []clause
}

// clause is one ADD COLUMN or DROP COLUMN of an alter.
type clause struct {
	add    bool
	column string
	typ    string // ADD: the type as written
	text   string // the clause as written
}

// ConflictError says that a migration cannot apply as written because the
// warehouse has a column it adds with another type. Ampel does not change
// column types on its own.
type ConflictError struct {
	Migration string
	Table     string
	Column    string
	Have      string // the type in the warehouse
	Want      string // the type the migration adds
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("migration %s adds column %s.%s as %s, but the warehouse has it as %s: "+
		"change or drop that column by hand (ALTER TABLE %s MODIFY COLUMN or DROP COLUMN %s), then run ampel migrate again",
		e.Migration, e.Table, e.Column, e.Want, e.Have, e.Table, e.Column)
}

// step is what the runner does with one statement of a migration.
type step struct {
	stmt string // what to run; "" when it has taken effect already
	done []string
}

// guard returns what to run for stmt: stmt itself, or for an ALTER that
// adds or drops columns the clauses that have not taken effect yet. done
// lists the clauses left out ("column next_link exists").
func guard(ctx context.Context, s warehouse.Store, migration, stmt string) (step, error) {
	a, ok, err := parseAlter(stmt)
	if err != nil {
		return step{}, fmt.Errorf("migration %s: %w", migration, err)
	}
	if !ok {
		return step{stmt: stmt}, nil
	}
	have, err := columns(ctx, s, a.database, a.table)
	if err != nil {
		return step{}, err
	}
	var keep []string
	var done []string
	for _, c := range a.clauses {
		typ, exists := have[c.column]
		switch {
		case c.add && exists && sameType(typ, c.typ):
			done = append(done, "column "+a.table+"."+c.column+" exists")
		case c.add && exists:
			return step{}, &ConflictError{Migration: migration, Table: a.table, Column: c.column, Have: typ, Want: c.typ}
		case !c.add && !exists:
			done = append(done, "column "+a.table+"."+c.column+" is gone")
		default:
			keep = append(keep, c.text)
		}
	}
	if len(keep) == 0 {
		return step{done: done}, nil
	}
	return step{stmt: a.head + " " + strings.Join(keep, ", "), done: done}, nil
}

// columns reads a table's columns and types; none when it does not exist.
func columns(ctx context.Context, s warehouse.Store, database, table string) (map[string]string, error) {
	q := "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = ?"
	args := []any{table}
	if database != "" {
		q = "SELECT name, type FROM system.columns WHERE database = ? AND table = ?"
		args = []any{database, table}
	}
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", table, err)
		}
		out[name] = typ
	}
	return out, rows.Err()
}

// sameType compares a type as the engine reports it with one as a
// migration writes it: spacing, quote style and letter case aside.
func sameType(a, b string) bool {
	norm := func(t string) string {
		t = strings.Join(strings.Fields(t), "")
		return strings.ToLower(strings.ReplaceAll(t, `"`, "'"))
	}
	return norm(a) == norm(b)
}

// parseAlter reads stmt as ALTER TABLE [db.]t [ON CLUSTER c] followed by
// ADD COLUMN and DROP COLUMN clauses. ok is false for any other statement;
// an ALTER that mixes column additions or drops with other changes is an
// error, because the runner could not make it safe to run twice.
func parseAlter(stmt string) (a alter, ok bool, err error) {
	toks := lex(stmt)
	word := func(i int, w string) bool { return i < len(toks) && toks[i].word(w) }
	if !word(0, "ALTER") || !word(1, "TABLE") || len(toks) < 3 {
		return alter{}, false, nil
	}
	i := 2
	name := toks[i].name()
	i++
	if i+1 < len(toks) && toks[i].text == "." {
		a.database, name = name, toks[i+1].name()
		i += 2
	}
	a.table = name
	if word(i, "ON") && word(i+1, "CLUSTER") && i+2 < len(toks) {
		i += 3
	}
	if i >= len(toks) {
		return alter{}, false, nil
	}
	a.head = strings.TrimSpace(stmt[toks[0].start:toks[i-1].end])
	// clauses: split at commas outside parentheses
	var parts [][]token
	depth, from := 0, i
	for j := i; j < len(toks); j++ {
		switch toks[j].text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				parts = append(parts, toks[from:j])
				from = j + 1
			}
		}
	}
	parts = append(parts, toks[from:])
	columnChanges, others := 0, 0
	for _, p := range parts {
		c, isColumn := parseClause(stmt, p)
		if !isColumn {
			others++
			continue
		}
		columnChanges++
		a.clauses = append(a.clauses, c)
	}
	switch {
	case columnChanges == 0:
		return alter{}, false, nil
	case others > 0:
		return alter{}, false, fmt.Errorf("ALTER TABLE %s mixes ADD or DROP COLUMN with other changes: "+
			"put the column changes in an ALTER of their own, so that the runner can make it safe to run twice", a.table)
	}
	return a, true, nil
}

// parseClause reads ADD COLUMN [IF NOT EXISTS] name type [...] or DROP
// COLUMN [IF EXISTS] name.
func parseClause(stmt string, p []token) (clause, bool) {
	word := func(i int, w string) bool { return i < len(p) && p[i].word(w) }
	if len(p) < 3 || !word(1, "COLUMN") {
		return clause{}, false
	}
	c := clause{text: strings.TrimSpace(stmt[p[0].start:p[len(p)-1].end])}
	i := 2
	switch {
	case word(0, "ADD"):
		c.add = true
		if word(i, "IF") && word(i+1, "NOT") && word(i+2, "EXISTS") {
			i += 3
		}
	case word(0, "DROP"):
		if word(i, "IF") && word(i+1, "EXISTS") {
			i += 2
		}
	default:
		return clause{}, false
	}
	if i >= len(p) {
		return clause{}, false
	}
	c.column = p[i].name()
	i++
	if !c.add {
		return c, i == len(p)
	}
	// the type runs to the first keyword that follows it at depth 0
	start, end, depth := i, i, 0
	for ; end < len(p); end++ {
		t := p[end]
		if depth == 0 && t.isWord() && end > start && typeEnd[strings.ToUpper(t.text)] {
			break
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		}
	}
	if end == start {
		return clause{}, false
	}
	c.typ = strings.TrimSpace(stmt[p[start].start:p[end-1].end])
	return c, true
}

// typeEnd are the words that can follow a column's type in ADD COLUMN.
var typeEnd = map[string]bool{"DEFAULT": true, "MATERIALIZED": true, "ALIAS": true, "EPHEMERAL": true,
	"CODEC": true, "COMMENT": true, "TTL": true, "AFTER": true, "FIRST": true, "SETTINGS": true}

// token is a word, a quoted name or string, or one punctuation character
// of a statement; comments and spaces are dropped.
type token struct {
	text       string
	start, end int // byte offsets in the statement
}

func (t token) isWord() bool {
	c := t.text[0]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (t token) word(w string) bool { return t.isWord() && strings.EqualFold(t.text, w) }

// name is the token as a name: unquoted, unescaped.
func (t token) name() string {
	if s := t.text; len(s) >= 2 && (s[0] == '`' || s[0] == '"') {
		q := s[0]
		s = s[1 : len(s)-1]
		s = strings.ReplaceAll(s, `\`+string(q), string(q))
		s = strings.ReplaceAll(s, string(q)+string(q), string(q))
		return strings.ReplaceAll(s, `\\`, `\`)
	}
	return t.text
}

func lex(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			if n := strings.IndexByte(s[i:], '\n'); n >= 0 {
				i += n + 1
			} else {
				i = len(s)
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if n := strings.Index(s[i+2:], "*/"); n >= 0 {
				i += n + 4
			} else {
				i = len(s)
			}
		case c == '\'' || c == '"' || c == '`':
			end := warehouse.SkipQuoted(s, i)
			out = append(out, token{text: s[i:end], start: i, end: end})
			i = end
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{text: s[i:j], start: i, end: j})
			i = j
		default:
			out = append(out, token{text: s[i : i+1], start: i, end: i + 1})
			i++
		}
	}
	return out
}
