package warehouse

import (
	"fmt"
	"strings"
)

// RefusedError is a statement that a ReadOnly context refused before it
// ran. It wraps ErrReadOnly.
type RefusedError struct {
	// What names the refused part: "file()", "INTO OUTFILE", "FORMAT",
	// "SETTINGS", "DROP", "system.tables", …
	What string
	// Reason says on one line what was refused and why, e.g.
	// "file() reads files".
	Reason string
	// Query is the statement, shortened to one line.
	Query string
}

func (e *RefusedError) Error() string {
	return "refused: " + e.Reason + "; read-only statements read the warehouse's tables only"
}

// Unwrap returns ErrReadOnly.
func (e *RefusedError) Unwrap() error { return ErrReadOnly }

// CheckReadOnly reports whether query may run under a ReadOnly context on
// a store that works in database: it returns nil, or a *RefusedError
// saying what was refused. Drivers call it before a read-only statement
// leaves the process; the rules are in the package comment ("Read-only
// statements"). It reads the statement with a tokenizer that follows
// ClickHouse's own lexer; it does not need the engine.
func CheckReadOnly(query, database string) error {
	c := &checker{query: query, db: database}
	toks, err := lex(query)
	if err != nil {
		return c.refuse("syntax", "the statement cannot be read: "+err.Error())
	}
	if n := len(toks); n > 0 && toks[n-1].is(";") {
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return c.refuse("", "the statement is empty")
	}
	for _, t := range toks {
		if t.is(";") {
			return c.refuse(";", "more than one statement")
		}
	}
	c.toks = toks
	first := toks[0]
	switch {
	case first.is("SELECT"), first.is("WITH"), first.is("("):
		return c.selectQuery()
	case first.is("DESCRIBE"), first.is("DESC"):
		return c.plainTable("DESCRIBE")
	case first.is("SHOW"):
		return c.show()
	case first.is("EXISTS"):
		return c.plainTable("EXISTS")
	}
	kw := strings.ToUpper(first.text)
	if r, ok := statementReasons[kw]; ok && first.kind == tokWord {
		return c.refuse(kw, kw+" "+r)
	}
	return c.refuse(kw, fmt.Sprintf("%s is not a read-only statement (%s)", quoteSnippet(first.text), allowedStatements))
}

// allowedStatements lists the statement forms CheckReadOnly accepts.
const allowedStatements = "allowed: SELECT, WITH … SELECT, DESCRIBE [TABLE] name, SHOW TABLES, SHOW CREATE [TABLE] name, EXISTS [TABLE] name"

// statementReasons say why a statement kind is refused.
var statementReasons = map[string]string{
	"INSERT": "writes data", "DELETE": "deletes data", "UPDATE": "changes data",
	"ALTER": "changes the warehouse", "CREATE": "changes the warehouse", "DROP": "changes the warehouse",
	"TRUNCATE": "deletes data", "RENAME": "changes the warehouse", "EXCHANGE": "changes the warehouse",
	"ATTACH": "changes the warehouse", "DETACH": "changes the warehouse", "UNDROP": "changes the warehouse",
	"OPTIMIZE": "changes the warehouse", "REPLACE": "changes the warehouse", "MOVE": "changes the warehouse",
	"SYSTEM": "controls the engine", "KILL": "stops other statements", "SET": "changes settings",
	"USE": "changes the current database", "GRANT": "changes access rights", "REVOKE": "changes access rights",
	"BACKUP": "copies data out", "RESTORE": "copies data in", "EXPLAIN": "is not among the read-only statements",
	"CHECK": "is not among the read-only statements", "WATCH": "is not among the read-only statements",
	"BEGIN": "starts a transaction", "COMMIT": "ends a transaction", "ROLLBACK": "ends a transaction",
}

// forbiddenInQuery are bare words refused anywhere in a SELECT, with why.
// Quoted (`into`), they are names and allowed.
var forbiddenInQuery = map[string]string{
	"INTO":     "INTO OUTFILE writes a file",
	"OUTFILE":  "INTO OUTFILE writes a file",
	"SETTINGS": "a SETTINGS clause changes the engine's settings",
	"EXPLAIN":  "EXPLAIN inside a statement runs it as a table function",
	"APPLY":    "APPLY calls functions by name",
	"INSERT":   "INSERT writes data", "ALTER": "ALTER changes the warehouse",
	"CREATE": "CREATE changes the warehouse", "DROP": "DROP changes the warehouse",
	"ATTACH": "ATTACH changes the warehouse", "DETACH": "DETACH changes the warehouse",
	"TRUNCATE": "TRUNCATE deletes data", "OPTIMIZE": "OPTIMIZE changes the warehouse",
	"RENAME": "RENAME changes the warehouse", "EXCHANGE": "EXCHANGE changes the warehouse",
	"UNDROP": "UNDROP changes the warehouse", "KILL": "KILL stops other statements",
	"GRANT": "GRANT changes access rights", "REVOKE": "REVOKE changes access rights",
	"BACKUP": "BACKUP copies data out", "RESTORE": "RESTORE copies data in",
	"SYSTEM": "SYSTEM controls the engine",
}

// syntaxWords are bare words that a parenthesis may follow without making
// a function call: IN (…), AS (…), OVER (…), COLUMNS('re'), … None of them
// is a denied function (a test checks).
var syntaxWords = map[string]bool{
	"FROM": true, "JOIN": true, "IN": true, "AS": true, "ON": true, "USING": true, "WHERE": true,
	"PREWHERE": true, "HAVING": true, "SELECT": true, "AND": true, "OR": true, "NOT": true, "BY": true,
	"THEN": true, "ELSE": true, "WHEN": true, "CASE": true, "END": true, "DISTINCT": true, "ALL": true,
	"ANY": true, "EXISTS": true, "OVER": true, "EXCEPT": true, "INTERSECT": true, "UNION": true,
	"LIMIT": true, "OFFSET": true, "INTERVAL": true, "BETWEEN": true, "LIKE": true, "ILIKE": true,
	"IS": true, "COLUMNS": true, "ROLLUP": true, "CUBE": true, "SETS": true, "INTERPOLATE": true,
	"FILTER": true, "RECURSIVE": true, "QUALIFY": true, "WINDOW": true, "PARTITION": true,
	"ORDER": true, "GROUP": true, "STEP": true, "TO": true, "WITH": true, "TOTALS": true,
	"FINAL": true, "SAMPLE": true, "ARRAY": true, "GLOBAL": true, "ASC": true, "DESC": true,
	"ROWS": true, "RANGE": true, "PRECEDING": true, "FOLLOWING": true, "ROW": true, "TIES": true,
	"FETCH": true, "COLLATE": true, "REPLACE": true,
}

// clauseEnds are bare words that end a FROM clause at their depth.
var clauseEnds = map[string]bool{
	"WHERE": true, "PREWHERE": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true,
	"OFFSET": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "WINDOW": true, "QUALIFY": true,
	"SELECT": true,
}

// fromFunctions take FROM inside their parentheses as syntax:
// EXTRACT(DAY FROM d), SUBSTRING(s FROM 2), TRIM(BOTH ' ' FROM s).
var fromFunctions = map[string]bool{
	"extract": true, "substring": true, "substr": true, "mid": true, "substringutf8": true,
	"trim": true, "trimboth": true, "overlay": true, "overlayutf8": true,
}

// typeFamilies are the data types that take arguments in parentheses, as
// in CAST(x AS Nullable(String)) or x::Decimal(18, 2), lower-cased.
var typeFamilies = map[string]bool{
	"nullable": true, "array": true, "tuple": true, "map": true, "lowcardinality": true,
	"decimal": true, "decimal32": true, "decimal64": true, "decimal128": true, "decimal256": true,
	"datetime": true, "datetime32": true, "datetime64": true, "time": true, "time64": true,
	"fixedstring": true, "enum": true, "enum8": true, "enum16": true, "nested": true,
	"aggregatefunction": true, "simpleaggregatefunction": true, "object": true, "variant": true,
	"dynamic": true, "json": true, "qbit": true,
}

// isSystemDatabase reports whether name is one of the engine's own
// databases, which describe the server rather than hold data.
func isSystemDatabase(name string) bool {
	switch strings.ToLower(name) {
	case "system", "information_schema":
		return true
	}
	return false
}

// checker checks one statement's tokens.
type checker struct {
	query string
	db    string
	toks  []token
}

func (c *checker) refuse(what, reason string) error {
	return &RefusedError{What: what, Reason: reason, Query: ShortQuery(c.query)}
}

// at returns token i, or a zero token past the end.
func (c *checker) at(i int) token {
	if i >= 0 && i < len(c.toks) {
		return c.toks[i]
	}
	return token{}
}

// tableName checks the table name starting at token i, [db.]name, and
// returns the index after it.
func (c *checker) tableName(i int, stmt string) (int, error) {
	t := c.at(i)
	if !t.isName() {
		return 0, c.refuse(stmt, stmt+" takes a plain table name")
	}
	next := i + 1
	if c.at(i + 1).is(".") {
		if !c.at(i + 2).isName() {
			return 0, c.refuse(stmt, stmt+" takes a plain table name")
		}
		if err := c.database(t, c.at(i+2)); err != nil {
			return 0, err
		}
		next = i + 3
	}
	if c.at(next).is("(") {
		return 0, c.refuse(c.at(next-1).name+"()", tableFunctionRefusal(c.at(next-1).name))
	}
	return next, nil
}

// database checks that the database part db of db.table is the store's.
func (c *checker) database(db, table token) error {
	if db.name == c.db {
		return nil
	}
	what := db.name + "." + table.name
	if isSystemDatabase(db.name) {
		return c.refuse(what, what+": the engine's system tables are not part of the warehouse")
	}
	return c.refuse(what, fmt.Sprintf("%s: database %s is not the warehouse's database (%s)", what, db.name, c.db))
}

// end refuses anything after token i.
func (c *checker) end(i int, stmt string) error {
	if i < len(c.toks) {
		return c.refuse(stmt, fmt.Sprintf("%s ends after the table name (%s)", stmt, allowedStatements))
	}
	return nil
}

// plainTable checks DESCRIBE [TABLE] name and EXISTS [TABLE] name.
func (c *checker) plainTable(stmt string) error {
	i := 1
	if c.at(i).is("TABLE") {
		i++
	}
	i, err := c.tableName(i, stmt)
	if err != nil {
		return err
	}
	return c.end(i, stmt)
}

// show checks SHOW TABLES [FROM|IN db] [[NOT] LIKE|ILIKE 'pattern'] [LIMIT n]
// and SHOW CREATE [TABLE|VIEW] name.
func (c *checker) show() error {
	i := 2
	switch {
	case c.at(1).is("CREATE"):
		if c.at(i).is("TABLE") || c.at(i).is("VIEW") {
			i++
		}
		i, err := c.tableName(i, "SHOW CREATE")
		if err != nil {
			return err
		}
		return c.end(i, "SHOW CREATE")
	case c.at(1).is("TABLES"):
		if c.at(i).is("FROM") || c.at(i).is("IN") {
			db := c.at(i + 1)
			if !db.isName() {
				return c.refuse("SHOW TABLES", "SHOW TABLES FROM takes a database name")
			}
			if db.name != c.db {
				return c.database(db, token{name: "*"})
			}
			i += 2
		}
		if c.at(i).is("NOT") {
			i++
		}
		if c.at(i).is("LIKE") || c.at(i).is("ILIKE") {
			if c.at(i+1).kind != tokString {
				return c.refuse("SHOW TABLES", "SHOW TABLES LIKE takes a quoted pattern")
			}
			i += 2
		}
		if c.at(i).is("LIMIT") && c.at(i+1).kind == tokNumber {
			i += 2
		}
		if i < len(c.toks) {
			return c.refuse("SHOW TABLES", "SHOW TABLES takes only FROM, LIKE and LIMIT ("+allowedStatements+")")
		}
		return nil
	}
	what := "SHOW " + strings.ToUpper(c.at(1).text)
	return c.refuse(what, what+" is not a read-only statement Ampel allows ("+allowedStatements+")")
}

// frame is what the checker knows about one level of parentheses.
type frame struct {
	fromFunc  bool // the parentheses of EXTRACT, SUBSTRING, TRIM: FROM is syntax there
	typeArgs  bool // the arguments of a data type: Nullable(String)
	from      bool // in a FROM clause: tables, table functions, joins
	arrayJoin bool // in an ARRAY JOIN list: expressions, not tables
}

// selectQuery checks a SELECT, WITH … SELECT or (SELECT …) statement, token by
// token: refused words, function calls, where tables go (after FROM,
// JOIN, a comma in a FROM clause, IN) and database-qualified names.
func (c *checker) selectQuery() error {
	stack := []frame{{}}
	tablePos := false // the next token is where a table goes
	inPos := false    // the next token follows IN: a table name, a subquery or an expression
	fromCall := false // the next ( opens EXTRACT, SUBSTRING, … parentheses
	typeCall := false // the next ( opens a data type's arguments
	for i, t := range c.toks {
		top := &stack[len(stack)-1]
		atTable, afterIn, callParen, typeParen := tablePos, inPos, fromCall, typeCall
		tablePos, inPos, fromCall, typeCall = false, false, false, false
		switch {
		case t.is("("):
			stack = append(stack, frame{fromFunc: callParen, typeArgs: typeParen, from: atTable})
			tablePos = atTable // FROM (t), FROM ((SELECT …))
			continue
		case t.is(")"):
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		case t.is(","):
			tablePos = top.from && !top.arrayJoin
			continue
		case !t.isName():
			continue
		}

		// names and bare words
		up := strings.ToUpper(t.text)
		word := t.kind == tokWord
		dotted := !c.at(i-1).is(".") && c.at(i+1).is(".") && c.at(i+2).isName()
		if dotted && isSystemDatabase(t.name) {
			what := t.name + "." + c.at(i+2).name
			return c.refuse(what, what+": the engine's system tables are not part of the warehouse")
		}
		if word {
			if up == "FORMAT" && !c.at(i+1).is("(") {
				return c.refuse("FORMAT", "a FORMAT clause chooses the output format, which is the caller's to choose (a column named format: quote it as `format`)")
			}
			if up == "PARALLEL" && c.at(i+1).is("WITH") {
				return c.refuse("PARALLEL WITH", "PARALLEL WITH runs more statements")
			}
			if r, ok := forbiddenInQuery[up]; ok {
				what := up
				if up == "INTO" || up == "OUTFILE" {
					what = "INTO OUTFILE"
				}
				return c.refuse(what, r)
			}
		}
		prev := c.at(i - 1)
		// CAST(x AS Nullable(String)), x::Array(Decimal(18, 2))
		typ := c.at(i+1).is("(") && typeFamilies[strings.ToLower(t.name)] && (prev.is("AS") || prev.is("::") || top.typeArgs)
		call := c.at(i+1).is("(") && !(word && syntaxWords[up]) && !typ
		typeCall = typ
		switch {
		case atTable && c.at(i+1).is("(") && !typ: // also a table function named like a keyword
			return c.refuse(t.name+"()", tableFunctionRefusal(t.name))
		case atTable || afterIn && !call:
			if dotted {
				if c.at(i + 3).is("(") {
					return c.refuse(t.name+"()", tableFunctionRefusal(t.name+"."+c.at(i+2).name))
				}
				if err := c.database(t, c.at(i+2)); err != nil {
					return err
				}
			}
		case call:
			if r := functionRefusal(t.name); r != "" {
				return c.refuse(t.name+"()", r)
			}
			fromCall = fromFunctions[strings.ToLower(t.name)]
		}
		if !word {
			continue
		}
		switch {
		case up == "FROM":
			if prev.is("FILL") || top.fromFunc {
				continue // WITH FILL FROM x, EXTRACT(DAY FROM d)
			}
			top.from, top.arrayJoin = true, false
			tablePos = true
		case up == "JOIN":
			if prev.is("ARRAY") {
				top.from, top.arrayJoin = true, true
				continue
			}
			top.from, top.arrayJoin = true, false
			tablePos = true
		case up == "IN":
			inPos = true
		case clauseEnds[up]:
			top.from, top.arrayJoin = false, false
		}
	}
	return nil
}
