package serve

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/odata"
	"github.com/ampel/ampel/warehouse"
)

// badRequest is a client error: the feed answers 400 with its message.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return badRequest{fmt.Sprintf(format, args...)} }

// sqlExpr is a piece of SQL with its ? placeholders' values.
type sqlExpr struct {
	text string
	args []any
}

// translator turns a parsed $filter into SQL over one entity set's
// columns. Literals become bound arguments (warehouse.Bind); names come
// only from the set's own columns, quoted. Anything it does not know is a
// badRequest, never text in the SQL.
type translator struct {
	cols  map[string]*column
	nodes int
}

// maxFilterNodes bounds the conditions of one $filter, so that the SQL
// stays within what the engines parse (their nesting limits): Power BI's
// filters have a handful.
const maxFilterNodes = 200

func (tr *translator) filter(n odata.Node) (sqlExpr, error) {
	e, err := tr.predicate(n)
	if err != nil {
		return sqlExpr{}, err
	}
	return e, nil
}

// predicate translates a node that must be true or false.
func (tr *translator) predicate(n odata.Node) (sqlExpr, error) {
	if tr.nodes++; tr.nodes > maxFilterNodes {
		return sqlExpr{}, badf("$filter has more than %d conditions: split the read, or use in (…)", maxFilterNodes)
	}
	switch x := n.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case "and", "or":
			l, err := tr.predicate(x.Left)
			if err != nil {
				return sqlExpr{}, err
			}
			r, err := tr.predicate(x.Right)
			if err != nil {
				return sqlExpr{}, err
			}
			return sqlExpr{"(" + l.text + " " + strings.ToUpper(x.Op) + " " + r.text + ")", append(l.args, r.args...)}, nil
		}
		return tr.comparison(x)
	case *odata.NotExpr:
		e, err := tr.predicate(x.X)
		if err != nil {
			return sqlExpr{}, err
		}
		return sqlExpr{"(NOT " + e.text + ")", e.args}, nil
	case *odata.InExpr:
		return tr.in(x)
	case *odata.Call:
		return tr.call(x)
	case *odata.Property:
		c, err := tr.column(x)
		if err != nil {
			return sqlExpr{}, err
		}
		if c.prop.Type != odata.EdmBoolean {
			return sqlExpr{}, badf("$filter: %s is not a Boolean property; compare it, e.g. %s eq …", c.name, c.name)
		}
		return sqlExpr{"ifNull(" + quote(c.name) + " = 1, 0)", nil}, nil
	case *odata.Literal:
		if x.Kind == odata.Bool {
			if x.Value.(bool) {
				return sqlExpr{"1", nil}, nil
			}
			return sqlExpr{"0", nil}, nil
		}
	}
	return sqlExpr{}, badf("$filter: %s is not a condition", n.String())
}

func (tr *translator) column(p *odata.Property) (*column, error) {
	if len(p.Path) != 1 {
		return nil, badf("$filter: %s: the feed has no navigation properties", p.Name())
	}
	c, ok := tr.cols[p.Path[0]]
	if !ok {
		return nil, badf("$filter: %s is not a property of this entity set", p.Name())
	}
	if strings.HasPrefix(c.prop.Type, "Collection(") {
		return nil, badf("$filter: %s is a collection; the feed filters on single values only", c.name)
	}
	return c, nil
}

var sqlOps = map[string]string{"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
var flipped = map[string]string{"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}

func (tr *translator) comparison(b *odata.BinaryExpr) (sqlExpr, error) {
	left, right, op := b.Left, b.Right, b.Op
	if _, ok := left.(*odata.Literal); ok {
		left, right, op = right, left, flipped[op]
	}
	lp, ok := left.(*odata.Property)
	if !ok {
		if call, isCall := left.(*odata.Call); isCall {
			return tr.callComparison(call, op, right)
		}
		return sqlExpr{}, badf("$filter: %s: compare a property with a value", b.String())
	}
	c, err := tr.column(lp)
	if err != nil {
		return sqlExpr{}, err
	}
	switch r := right.(type) {
	case *odata.Property:
		rc, err := tr.column(r)
		if err != nil {
			return sqlExpr{}, err
		}
		if c.prop.Type != rc.prop.Type {
			return sqlExpr{}, badf("$filter: %s and %s have different types (%s, %s)", c.name, rc.name, c.prop.Type, rc.prop.Type)
		}
		return nullSafe(c.prop.Nullable || rc.prop.Nullable, op, quote(c.name)+" "+sqlOps[op]+" "+quote(rc.name), nil), nil
	case *odata.Literal:
		return tr.compareLiteral(c, op, r)
	}
	return sqlExpr{}, badf("$filter: %s: compare a property with a value", b.String())
}

// nullSafe makes a comparison two-valued as OData has it: a comparison
// with a null property value is false, except ne, which is true.
func nullSafe(nullable bool, op, cmp string, args []any) sqlExpr {
	if !nullable {
		return sqlExpr{"(" + cmp + ")", args}
	}
	if op == "ne" {
		return sqlExpr{"ifNull(" + cmp + ", 1)", args}
	}
	return sqlExpr{"ifNull(" + cmp + ", 0)", args}
}

func (tr *translator) compareLiteral(c *column, op string, lit *odata.Literal) (sqlExpr, error) {
	name := quote(c.name)
	if lit.Kind == odata.Null {
		switch op {
		case "eq":
			return sqlExpr{"isNull(" + name + ")", nil}, nil
		case "ne":
			return sqlExpr{"isNotNull(" + name + ")", nil}, nil
		}
		return sqlExpr{}, badf("$filter: %s %s null: only eq and ne compare with null", c.name, op)
	}
	if c.base.Kind == warehouse.KindDate || c.base.Kind == warehouse.KindDateTime {
		return tr.compareTime(c, op, lit)
	}
	if c.base.Kind == warehouse.KindDateTime64 && (lit.Kind == odata.DateTime || lit.Kind == odata.Date) {
		// sub-second columns compare with the literal as it is
		return nullSafe(c.prop.Nullable, op, name+" "+sqlOps[op]+" ?", []any{lit.Value.(time.Time).UTC()}), nil
	}
	v, err := literalFor(c, lit)
	if err != nil {
		return sqlExpr{}, err
	}
	return nullSafe(c.prop.Nullable, op, name+" "+sqlOps[op]+" ?", []any{v}), nil
}

// compareTime compares a Date or DateTime column with a date or date-time
// literal exactly, though the column holds whole days or seconds: t0 is the
// literal cut to the column's unit, and when the literal lies between two
// units the comparison is rewritten (c >= 10:00:00.5 is c > 10:00:00).
// Power BI's RangeStart/RangeEnd filters (ge … and lt …) fold to this.
func (tr *translator) compareTime(c *column, op string, lit *odata.Literal) (sqlExpr, error) {
	var t time.Time
	switch lit.Kind {
	case odata.DateTime, odata.Date:
		t = lit.Value.(time.Time).UTC()
	case odata.String:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, lit.Value.(string)); err != nil {
			return sqlExpr{}, badf("$filter: %s is a %s: compare it with a literal such as 2024-05-01T00:00:00Z", c.name, c.prop.Type)
		}
		t = t.UTC()
	default:
		return sqlExpr{}, badf("$filter: %s is a %s: compare it with a literal such as 2024-05-01T00:00:00Z, not %s", c.name, c.prop.Type, lit.Raw)
	}
	unit := time.Second
	if c.base.Kind == warehouse.KindDate {
		unit = 24 * time.Hour
	}
	t0 := t.Truncate(unit)
	exact := t0.Equal(t)
	if !exact {
		switch op {
		case "eq":
			return sqlExpr{"0", nil}, nil
		case "ne":
			return sqlExpr{"1", nil}, nil
		case "ge":
			op = "gt" // c >= t0+frac ⇔ c > t0
		case "lt":
			op = "le" // c < t0+frac ⇔ c <= t0
		}
	}
	var arg any = t0
	ph := "?"
	if c.base.Kind == warehouse.KindDate {
		arg, ph = t0.Format("2006-01-02"), "toDate(?)"
	}
	if t0.Year() < 1970 || t0.Year() > 2105 {
		return sqlExpr{}, badf("$filter: %s is outside the range the warehouse can hold (1970 to 2105)", lit.Raw)
	}
	return nullSafe(c.prop.Nullable, op, quote(c.name)+" "+sqlOps[op]+" "+ph, []any{arg}), nil
}

// literalFor converts a literal to the Go value bound for column c.
func literalFor(c *column, lit *odata.Literal) (any, error) {
	wrong := func() error {
		return badf("$filter: %s is a %s: %s is not a value of that type", c.name, c.prop.Type, lit.Raw)
	}
	switch c.prop.Type {
	case odata.EdmString:
		if lit.Kind == odata.String {
			return lit.Value.(string), nil
		}
		if lit.Kind == odata.GUID {
			return lit.Value.(string), nil
		}
	case odata.EdmGuid:
		if lit.Kind == odata.GUID || lit.Kind == odata.String {
			u, err := uuid.Parse(lit.Value.(string))
			if err != nil {
				return nil, wrong()
			}
			return u, nil
		}
	case odata.EdmBoolean:
		if lit.Kind == odata.Bool {
			return lit.Value.(bool), nil
		}
	case odata.EdmInt32, odata.EdmInt64, odata.EdmDouble:
		switch lit.Kind {
		case odata.Int:
			return lit.Value.(int64), nil
		case odata.Decimal:
			return lit.Value.(float64), nil
		}
	case odata.EdmDecimal:
		switch lit.Kind {
		case odata.Int:
			return lit.Value.(int64), nil
		case odata.Decimal:
			d, err := decimal.NewFromString(strings.TrimRight(lit.Raw, "MmDdFf"))
			if err != nil {
				return nil, wrong()
			}
			return d, nil
		}
	}
	return nil, wrong()
}

func (tr *translator) in(x *odata.InExpr) (sqlExpr, error) {
	p, ok := x.X.(*odata.Property)
	if !ok {
		return sqlExpr{}, badf("$filter: in: the left side must be a property")
	}
	c, err := tr.column(p)
	if err != nil {
		return sqlExpr{}, err
	}
	var parts []string
	var args []any
	for _, n := range x.List {
		e, err := tr.compareLiteral(c, "eq", n.(*odata.Literal))
		if err != nil {
			return sqlExpr{}, err
		}
		parts = append(parts, e.text)
		args = append(args, e.args...)
	}
	return sqlExpr{"(" + strings.Join(parts, " OR ") + ")", args}, nil
}

// stringOperand translates the string side of a text function: a String
// property, or tolower/toupper of one.
func (tr *translator) stringOperand(n odata.Node) (string, bool, error) {
	switch x := n.(type) {
	case *odata.Property:
		c, err := tr.column(x)
		if err != nil {
			return "", false, err
		}
		if c.prop.Type != odata.EdmString {
			return "", false, badf("$filter: %s is a %s, not a string", c.name, c.prop.Type)
		}
		return quote(c.name), c.prop.Nullable, nil
	case *odata.Call:
		var fn string
		switch x.Name {
		case "tolower":
			fn = "lowerUTF8"
		case "toupper":
			fn = "upperUTF8"
		default:
			return "", false, badf("$filter: %s is not supported here; the feed knows contains, startswith, endswith, tolower and toupper", x.Name)
		}
		inner, nullable, err := tr.stringOperand(x.Args[0])
		if err != nil {
			return "", false, err
		}
		return fn + "(" + inner + ")", nullable, nil
	}
	return "", false, badf("$filter: %s: give a string property", n.String())
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (tr *translator) call(x *odata.Call) (sqlExpr, error) {
	var pattern func(string) string
	switch x.Name {
	case "contains":
		pattern = func(s string) string { return "%" + likeEscaper.Replace(s) + "%" }
	case "startswith":
		pattern = func(s string) string { return likeEscaper.Replace(s) + "%" }
	case "endswith":
		pattern = func(s string) string { return "%" + likeEscaper.Replace(s) }
	default:
		return sqlExpr{}, badf("$filter: %s is not a condition; the feed knows contains, startswith and endswith", x.Name)
	}
	operand, nullable, err := tr.stringOperand(x.Args[0])
	if err != nil {
		return sqlExpr{}, err
	}
	lit, ok := x.Args[1].(*odata.Literal)
	if !ok || lit.Kind != odata.String {
		return sqlExpr{}, badf("$filter: %s takes a property and a string literal", x.Name)
	}
	return nullSafe(nullable, "eq", operand+" LIKE ?", []any{pattern(lit.Value.(string))}), nil
}

// callComparison translates tolower(p) eq 'x' and the like.
func (tr *translator) callComparison(call *odata.Call, op string, right odata.Node) (sqlExpr, error) {
	operand, nullable, err := tr.stringOperand(call)
	if err != nil {
		return sqlExpr{}, err
	}
	lit, ok := right.(*odata.Literal)
	if !ok || lit.Kind != odata.String {
		return sqlExpr{}, badf("$filter: compare %s with a string literal", call.String())
	}
	return nullSafe(nullable, op, operand+" "+sqlOps[op]+" ?", []any{lit.Value.(string)}), nil
}

// quote quotes a column name for ClickHouse.
func quote(name string) string { return warehouse.QuoteIdentifier(name) }

// orderKey is one column of a read's total order.
type orderKey struct {
	col  *column
	desc bool
}

// orderBy renders the ORDER BY list: NULLs last in both directions, as the
// keyset condition expects.
func orderBy(keys []orderKey) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		dir := " ASC"
		if k.desc {
			dir = " DESC"
		}
		if k.col.prop.Nullable {
			parts = append(parts, "isNull("+quote(k.col.name)+") ASC")
		}
		parts = append(parts, quote(k.col.name)+dir)
	}
	return strings.Join(parts, ", ")
}

// after renders the keyset condition: rows that come after the row whose
// order values are last, in the order of keys.
func after(keys []orderKey, last []any) sqlExpr {
	var ors []string
	var args []any
	for i := range keys {
		var ands []string
		var a []any
		for j := 0; j < i; j++ {
			name := quote(keys[j].col.name)
			if last[j] == nil {
				ands = append(ands, "isNull("+name+")")
			} else {
				ands = append(ands, "ifNull("+name+" = ?, 0)")
				a = append(a, last[j])
			}
		}
		k, name := keys[i], quote(keys[i].col.name)
		if last[i] == nil {
			continue // NULLs come last: nothing comes after one in this column
		}
		op := ">"
		if k.desc {
			op = "<"
		}
		cond := name + " " + op + " ?"
		if k.col.prop.Nullable {
			cond = "(ifNull(" + cond + ", 0) OR isNull(" + name + "))"
		}
		ands = append(ands, cond)
		a = append(a, last[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		args = append(args, a...)
	}
	if len(ors) == 0 {
		return sqlExpr{"0", nil}
	}
	return sqlExpr{"(" + strings.Join(ors, " OR ") + ")", args}
}

// skipToken is what a nextLink's $skiptoken holds: the snapshot the read
// started on, the order values of the last row served, and how many rows
// of a $top are left (-1: no $top).
type skipToken struct {
	Snapshot uint64   `json:"s"`
	Last     []string `json:"k"`
	Nulls    []bool   `json:"n,omitempty"`
	Left     int64    `json:"t"`
	Query    uint32   `json:"q"`
}

func (t skipToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadToken = badRequest{"$skiptoken is not one this feed wrote: follow the @odata.nextLink as given, or start the read again without it"}

func decodeSkipToken(s string, keys []orderKey) (skipToken, []any, error) {
	var t skipToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || len(t.Last) != len(keys) || (t.Nulls != nil && len(t.Nulls) != len(keys)) {
		return t, nil, errBadToken
	}
	last := make([]any, len(keys))
	for i, k := range keys {
		if t.Nulls != nil && t.Nulls[i] {
			if !k.col.prop.Nullable {
				return t, nil, errBadToken
			}
			continue
		}
		v, err := parseKeyValue(k.col, t.Last[i])
		if err != nil {
			return t, nil, errBadToken
		}
		last[i] = v
	}
	return t, last, nil
}

// keyText writes an order value for a skiptoken; parseKeyValue reads it back.
func keyText(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case uuid.UUID:
		return x.String()
	case decimal.Decimal:
		return x.String()
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func parseKeyValue(c *column, s string) (any, error) {
	switch c.base.Kind {
	case warehouse.KindString, warehouse.KindFixedString, warehouse.KindEnum8, warehouse.KindEnum16:
		return s, nil
	case warehouse.KindUUID:
		return uuid.Parse(s)
	case warehouse.KindDate, warehouse.KindDateTime, warehouse.KindDateTime64:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		if c.base.Kind == warehouse.KindDate {
			return t.Format("2006-01-02"), nil // bound as a string: compares with a Date as a date
		}
		return t, nil
	case warehouse.KindDecimal:
		return decimal.NewFromString(s)
	case warehouse.KindFloat32, warehouse.KindFloat64:
		var f float64
		err := json.Unmarshal([]byte(s), &f)
		return f, err
	case warehouse.KindInt8, warehouse.KindInt16, warehouse.KindInt32, warehouse.KindInt64:
		var n int64
		err := json.Unmarshal([]byte(s), &n)
		return n, err
	case warehouse.KindUInt8, warehouse.KindUInt16, warehouse.KindUInt32, warehouse.KindUInt64:
		var n uint64
		err := json.Unmarshal([]byte(s), &n)
		return n, err
	case warehouse.KindBool:
		var b bool
		err := json.Unmarshal([]byte(s), &b)
		return b, err
	}
	return nil, errors.New("no key form")
}
