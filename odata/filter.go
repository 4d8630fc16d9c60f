package odata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Node is a node of a parsed $filter expression.
type Node interface {
	node()
	String() string
}

// BinaryExpr is a logical (and, or) or comparison (eq, ne, gt, ge, lt, le) expression.
type BinaryExpr struct {
	Op          string // "and", "or", "eq", "ne", "gt", "ge", "lt", "le"
	Left, Right Node
}

// NotExpr negates its operand.
type NotExpr struct{ X Node }

// InExpr is X in (List…), OData 4.01's membership test.
type InExpr struct {
	X    Node
	List []Node
}

// Property names a property; Path holds the segments of a path such as "CanChangeTrackingBeEnabled/Value".
type Property struct{ Path []string }

// Call is a function call such as contains(name,'x').
type Call struct {
	Name string
	Args []Node
}

// LiteralKind tells what a Literal holds.
type LiteralKind int

// Literal kinds. Value holds: nil (Null), bool (Bool), int64 (Int), float64 (Decimal; Raw keeps
// the exact text), string (String, GUID in lower case, Enum member), time.Time (DateTime, Date).
const (
	Null LiteralKind = iota
	Bool
	Int
	Decimal
	String
	GUID
	DateTime
	Date
	Enum
)

var kindNames = [...]string{"null", "bool", "int", "decimal", "string", "guid", "datetime", "date", "enum"}

func (k LiteralKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Literal is a constant in a filter.
type Literal struct {
	Kind     LiteralKind
	Raw      string // the text as written
	Value    any
	EnumType string // for Enum: the qualified type name, e.g. Microsoft.Dynamics.CRM.AttributeTypeCode
}

func (*BinaryExpr) node() {}
func (*NotExpr) node()    {}
func (*InExpr) node()     {}
func (*Property) node()   {}
func (*Call) node()       {}
func (*Literal) node()    {}

func (b *BinaryExpr) String() string {
	return "(" + b.Left.String() + " " + b.Op + " " + b.Right.String() + ")"
}
func (n *NotExpr) String() string { return "(not " + n.X.String() + ")" }
func (n *InExpr) String() string {
	parts := make([]string, len(n.List))
	for i, a := range n.List {
		parts[i] = a.String()
	}
	return "(" + n.X.String() + " in (" + strings.Join(parts, ",") + "))"
}
func (p *Property) String() string { return strings.Join(p.Path, "/") }
func (c *Call) String() string {
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return c.Name + "(" + strings.Join(parts, ",") + ")"
}
func (l *Literal) String() string { return l.Raw }

// Name returns the property path joined with "/".
func (p *Property) Name() string { return strings.Join(p.Path, "/") }

// SyntaxError reports a malformed $filter.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("syntax error at position %d: %s", e.Pos, e.Msg)
}

// MaxFilterDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxFilterDepth = 100

// Functions lists the filter functions the parser accepts, with their arity.
var Functions = map[string]int{
	"contains": 2, "startswith": 2, "endswith": 2, "tolower": 1, "toupper": 1, "trim": 1,
}

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tComma
	tString
	tWord
)

type token struct {
	kind tokKind
	text string // for tString: the unescaped value
	raw  string
	pos  int
	// glued is true when the token starts right where the previous one ended (no space).
	glued bool
}

func lex(s string) ([]token, error) {
	var toks []token
	prevEnd := -1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(':
			toks = append(toks, token{kind: tLParen, raw: "(", pos: i, glued: prevEnd == i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, raw: ")", pos: i, glued: prevEnd == i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, raw: ",", pos: i, glued: prevEnd == i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, &SyntaxError{Pos: start, Msg: "unterminated string literal"}
			}
			toks = append(toks, token{kind: tString, text: b.String(), raw: s[start:i], pos: start, glued: prevEnd == start})
		case isWordByte(c):
			start := i
			for i < len(s) && isWordByte(s[i]) {
				i++
			}
			toks = append(toks, token{kind: tWord, text: s[start:i], raw: s[start:i], pos: start, glued: prevEnd == start})
		default:
			return nil, &SyntaxError{Pos: i, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
		prevEnd = i
	}
	toks = append(toks, token{kind: tEOF, pos: len(s)})
	return toks, nil
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == ':' || c == '+' || c == '/' || c == '@' || c == '$' || c >= 0x80
}

type parser struct {
	toks  []token
	i     int
	depth int
}

// ParseFilter parses an OData $filter expression into an AST. It accepts comparisons
// (eq, ne, gt, ge, lt, le), and, or, not, parentheses, null/true/false, numbers, 'strings'
// (” escapes a quote), x in (literal, …), GUIDs, dates (2024-05-01), date-times (2024-05-01T00:00:00Z, with
// fraction or offset), enum literals (Namespace.Type'Member'), property paths (a/b) and the
// functions in Functions.
func ParseFilter(s string) (Node, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, &SyntaxError{Pos: 0, Msg: "empty expression"}
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("unexpected %q", t.raw)}
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tWord && t.text == kw
}

func (p *parser) parseOr() (Node, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &BinaryExpr{Op: "or", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd() (Node, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &BinaryExpr{Op: "and", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary() (Node, error) {
	if p.isKeyword("not") {
		t := p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > MaxFilterDepth {
			return nil, &SyntaxError{Pos: t.pos, Msg: "expression nested too deeply"}
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &NotExpr{X: x}, nil
	}
	return p.parseComparison()
}

var comparisonOps = map[string]bool{"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true}

func (p *parser) parseComparison() (Node, error) {
	left, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tWord && t.text == "in" {
		p.next()
		return p.parseInList(left, t)
	}
	if t := p.peek(); t.kind == tWord && comparisonOps[t.text] {
		p.next()
		right, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		return &BinaryExpr{Op: t.text, Left: left, Right: right}, nil
	}
	return left, nil
}

// parseInList reads the parenthesised list after "in": literals separated by commas.
func (p *parser) parseInList(x Node, in token) (Node, error) {
	if t := p.next(); t.kind != tLParen {
		return nil, &SyntaxError{Pos: t.pos, Msg: "expected ( after in"}
	}
	var list []Node
	for {
		t := p.next()
		var n Node
		switch t.kind {
		case tString:
			n = &Literal{Kind: String, Raw: t.raw, Value: t.text}
		case tWord:
			lit, err := p.word(t)
			if err != nil {
				return nil, err
			}
			if _, ok := lit.(*Literal); !ok {
				return nil, &SyntaxError{Pos: t.pos, Msg: "in takes a list of literals"}
			}
			n = lit
		default:
			return nil, &SyntaxError{Pos: t.pos, Msg: "in takes a list of literals"}
		}
		list = append(list, n)
		if c := p.next(); c.kind == tRParen {
			break
		} else if c.kind != tComma {
			return nil, &SyntaxError{Pos: c.pos, Msg: "expected , or ) in the list after in"}
		}
	}
	if len(list) > 1000 {
		return nil, &SyntaxError{Pos: in.pos, Msg: "more than 1000 values after in"}
	}
	return &InExpr{X: x, List: list}, nil
}

func (p *parser) parsePrimary() (Node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > MaxFilterDepth {
			return nil, &SyntaxError{Pos: t.pos, Msg: "expression nested too deeply"}
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &SyntaxError{Pos: c.pos, Msg: "expected )"}
		}
		return n, nil
	case tString:
		return &Literal{Kind: String, Raw: t.raw, Value: t.text}, nil
	case tWord:
		return p.word(t)
	case tEOF:
		return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected end of expression"}
	default:
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("unexpected %q", t.raw)}
	}
}

func (p *parser) word(t token) (Node, error) {
	w := t.text
	switch w {
	case "null":
		return &Literal{Kind: Null, Raw: w}, nil
	case "true", "false":
		return &Literal{Kind: Bool, Raw: w, Value: w == "true"}, nil
	case "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in":
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("unexpected keyword %q", w)}
	}
	// Enum literal: Namespace.Type'Member' (the string token is glued to the word).
	if n := p.peek(); n.kind == tString && n.glued && strings.Contains(w, ".") {
		p.next()
		return &Literal{Kind: Enum, Raw: w + n.raw, Value: n.text, EnumType: w}, nil
	}
	// Function call.
	if n := p.peek(); n.kind == tLParen && n.glued {
		arity, ok := Functions[strings.ToLower(w)]
		if !ok {
			return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("unknown function %q", w)}
		}
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > MaxFilterDepth {
			return nil, &SyntaxError{Pos: t.pos, Msg: "expression nested too deeply"}
		}
		var args []Node
		if p.peek().kind != tRParen {
			for {
				a, err := p.parseOr()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.peek().kind == tComma {
					p.next()
					continue
				}
				break
			}
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &SyntaxError{Pos: c.pos, Msg: "expected ) after function arguments"}
		}
		if len(args) != arity {
			return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("function %s takes %d arguments, got %d", w, arity, len(args))}
		}
		return &Call{Name: strings.ToLower(w), Args: args}, nil
	}
	if lit, ok := parseLiteralWord(w); ok {
		return lit, nil
	}
	c := w[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("invalid literal %q", w)}
	}
	segs := strings.Split(w, "/")
	for _, s := range segs {
		if s == "" || !isIdent(s) {
			return nil, &SyntaxError{Pos: t.pos, Msg: fmt.Sprintf("invalid property path %q", w)}
		}
	}
	return &Property{Path: segs}, nil
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '@' || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// parseLiteralWord recognises GUIDs, dates, date-times and numbers.
func parseLiteralWord(w string) (*Literal, bool) {
	if IsGUID(w) {
		return &Literal{Kind: GUID, Raw: w, Value: strings.ToLower(w)}, true
	}
	if len(w) >= 10 && w[4] == '-' && w[7] == '-' && isDigits(w[:4]) {
		if len(w) == 10 {
			if t, err := time.Parse("2006-01-02", w); err == nil {
				return &Literal{Kind: Date, Raw: w, Value: t}, true
			}
			return nil, false
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
			if t, err := time.Parse(layout, w); err == nil {
				return &Literal{Kind: DateTime, Raw: w, Value: t.UTC()}, true
			}
		}
		return nil, false
	}
	c := w[0]
	if c >= '0' && c <= '9' || (c == '-' || c == '+') && len(w) > 1 {
		s := strings.TrimRight(w, "MmLlDdFf") // OData type suffixes: 1.5M, 10L
		if i, err := strconv.ParseInt(s, 10, 64); err == nil && !strings.ContainsAny(s, ".eE") {
			return &Literal{Kind: Int, Raw: w, Value: i}, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return &Literal{Kind: Decimal, Raw: w, Value: f}, true
		}
	}
	return nil, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// IsGUID reports whether s has the 8-4-4-4-12 hex form (optionally in braces).
func IsGUID(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
