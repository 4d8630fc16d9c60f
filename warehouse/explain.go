package warehouse

import (
	"regexp"
	"strings"
)

// astNodes are the node types of EXPLAIN AST output a read-only statement
// may contain. Anything else (Set for SETTINGS, ColumnsApplyTransformer
// for APPLY, ParallelWithQuery, QueryParameter, a SYSTEM query, …) is
// refused.
var astNodes = map[string]bool{
	"SelectWithUnionQuery": true, "SelectIntersectExceptQuery": true, "SelectQuery": true,
	"ExpressionList": true, "Identifier": true, "Literal": true, "Function": true, "Subquery": true,
	"TablesInSelectQuery": true, "TablesInSelectQueryElement": true, "TableExpression": true,
	"TableIdentifier": true, "TableJoin": true, "ArrayJoin": true, "Asterisk": true,
	"QualifiedAsterisk": true, "ColumnsRegexpMatcher": true, "QualifiedColumnsRegexpMatcher": true,
	"ColumnsListMatcher": true, "QualifiedColumnsListMatcher": true, "ColumnsTransformerList": true,
	"ColumnsExceptTransformer": true, "ColumnsReplaceTransformer": true,
	"ColumnsReplaceTransformer::Replacement": true, "OrderByElement": true, "WithElement": true,
	"WindowListElement": true, "WindowDefinition": true, "SampleRatio": true,
	"InterpolateElement": true,
	// the other statement kinds CheckReadOnly lets through
	"DescribeQuery": true, "ShowTables": true, "ShowCreateTableQuery": true, "ExistsTableQuery": true,
}

// inFunctions are the AST names of IN and its variants, whose second
// argument may name a table.
var inFunctions = map[string]bool{
	"in": true, "notIn": true, "globalIn": true, "globalNotIn": true, "nullIn": true,
	"notNullIn": true, "globalNullIn": true, "globalNotNullIn": true,
}

var childrenSuffix = regexp.MustCompile(` \(children \d+\)$`)

// astNode is one line of EXPLAIN AST output.
type astNode struct {
	typ      string
	name     string // Function, Identifier, TableIdentifier: the name; "" otherwise
	parent   int    // index of the parent node, -1 for the root
	index    int    // position among its parent's children
	children int
}

// parseAST reads EXPLAIN AST output: one node per line, indented by one
// space per level, "Type [name] [(alias a)] [(children n)]".
func parseAST(tree string) ([]astNode, bool) {
	var nodes []astNode
	var path []int // the last node seen at each depth
	for _, line := range strings.Split(strings.TrimRight(tree, "\n"), "\n") {
		text := strings.TrimLeft(line, " ")
		depth := len(line) - len(text)
		if text == "" || depth > len(path) || depth == 0 && len(nodes) > 0 {
			return nil, false
		}
		text = childrenSuffix.ReplaceAllString(text, "")
		typ, rest, _ := strings.Cut(text, " ")
		if i := strings.Index(rest, " (alias "); i >= 0 {
			rest = rest[:i]
		} else if strings.HasPrefix(rest, "(alias ") {
			rest = ""
		}
		n := astNode{typ: typ, name: rest, parent: -1}
		if depth > 0 {
			n.parent = path[depth-1]
			n.index = nodes[n.parent].children
			nodes[n.parent].children++
		}
		path = append(path[:depth], len(nodes))
		nodes = append(nodes, n)
	}
	return nodes, len(nodes) > 0
}

// CheckExplainAST checks the engine's own reading of a statement that
// CheckReadOnly accepted: tree is the engine's output of EXPLAIN AST
// query. It refuses node types other than those of plain reads, table
// functions (a Function under a TableExpression), functions CheckReadOnly
// would refuse, tables of other databases, names in the engine's system
// databases, and a FORMAT, INTO OUTFILE or SETTINGS part. It returns nil or
// a *RefusedError. See the package comment ("Read-only statements").
func CheckExplainAST(query, tree, database string) error {
	c := &checker{query: query, db: database}
	nodes, ok := parseAST(tree)
	if !ok {
		return c.refuse("EXPLAIN AST", "the engine's reading of the statement (EXPLAIN AST) has an unknown form")
	}
	root := nodes[0]
	switch root.typ {
	case "SelectWithUnionQuery":
		if root.children != 1 {
			return c.refuse("FORMAT", "the engine reads a FORMAT or INTO OUTFILE part in the statement")
		}
	case "ShowTables":
		// SHOW DATABASES, SHOW SETTINGS, … print as ShowTables too: only the
		// statement's words tell them apart
		if toks, err := lex(query); err != nil || len(toks) < 2 || !toks[0].is("SHOW") || !toks[1].is("TABLES") {
			return c.refuse("SHOW", "the engine reads the statement as a SHOW other than SHOW TABLES")
		}
	}
	for _, n := range nodes {
		switch {
		case n.typ == "Set":
			return c.refuse("SETTINGS", "a SETTINGS clause changes the engine's settings")
		case !astNodes[n.typ]:
			return c.refuse(n.typ, "the engine reads the statement as containing "+n.typ+", which read-only statements may not")
		}
		parent := astNode{}
		if n.parent >= 0 {
			parent = nodes[n.parent]
		}
		parts := strings.Split(n.name, ".")
		switch n.typ {
		case "Function":
			if parent.typ == "TableExpression" {
				return c.refuse(n.name+"()", tableFunctionRefusal(n.name))
			}
			if r := functionRefusal(n.name); r != "" {
				return c.refuse(n.name+"()", r)
			}
		case "TableIdentifier":
			if err := c.astTable(parts); err != nil {
				return err
			}
		case "Identifier":
			if parent.typ == "TableExpression" { // older servers print a table as an Identifier
				if err := c.astTable(parts); err != nil {
					return err
				}
			}
			if len(parts) >= 2 && isSystemDatabase(parts[0]) {
				return c.database(token{name: parts[0]}, token{name: parts[1]})
			}
			// x IN db.t: the second argument of IN names a table
			inArg := n.index == 1 && parent.typ == "ExpressionList" && parent.parent >= 0 &&
				nodes[parent.parent].typ == "Function" && inFunctions[nodes[parent.parent].name]
			if inArg && len(parts) == 2 && parts[0] != database {
				return c.database(token{name: parts[0]}, token{name: parts[1]})
			}
			// SHOW TABLES FROM db; SHOW CREATE TABLE db.t and EXISTS TABLE db.t
			// have the database and the table as two Identifiers
			dbOfTable := (root.typ == "ShowCreateTableQuery" || root.typ == "ExistsTableQuery") &&
				n.parent == 0 && root.children == 2 && n.index == 0
			if (root.typ == "ShowTables" || dbOfTable) && n.name != database {
				return c.database(token{name: n.name}, token{name: "*"})
			}
		}
	}
	return nil
}

// astTable checks a table name as EXPLAIN AST prints it: table or db.table
// with db the store's database.
func (c *checker) astTable(parts []string) error {
	switch {
	case len(parts) > 2:
		name := strings.Join(parts, ".")
		return c.refuse(name, "the engine reads "+name+" as a table name of more than two parts")
	case len(parts) == 2:
		return c.database(token{name: parts[0]}, token{name: parts[1]})
	}
	return nil
}
