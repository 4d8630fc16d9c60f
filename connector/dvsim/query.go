package dvsim

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

type pred func(row int32) bool

// apiError is an error answered in Dataverse's error JSON.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{status: 400, code: code, message: fmt.Sprintf(format, args...)}
}

const codeODataSyntax = "0x80060888"

func noProperty(t *table, name string) *apiError {
	return badRequest(codeODataSyntax, "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, t.logical)
}

// compileFilter turns a $filter AST into a row predicate over t. Strings compare
// case-insensitively (Dataverse's default collation); lookups and keys compare as GUIDs.
func compileFilter(t *table, n odata.Node) (pred, error) {
	switch x := n.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case "and", "or":
			l, err := compileFilter(t, x.Left)
			if err != nil {
				return nil, err
			}
			r, err := compileFilter(t, x.Right)
			if err != nil {
				return nil, err
			}
			if x.Op == "and" {
				return func(row int32) bool { return l(row) && r(row) }, nil
			}
			return func(row int32) bool { return l(row) || r(row) }, nil
		}
		return compileComparison(t, x)
	case *odata.NotExpr:
		p, err := compileFilter(t, x.X)
		if err != nil {
			return nil, err
		}
		return func(row int32) bool { return !p(row) }, nil
	case *odata.Call:
		prop, ok1 := x.Args[0].(*odata.Property)
		lit, ok2 := x.Args[1].(*odata.Literal)
		if !ok1 || !ok2 || lit.Kind != odata.String {
			return nil, badRequest(codeODataSyntax, "The function %s needs a property and a string literal.", x.Name)
		}
		c := t.byProp[prop.Name()]
		if c == nil {
			return nil, noProperty(t, prop.Name())
		}
		if c.kind != kString && c.kind != kFullName {
			return nil, badRequest(codeODataSyntax, "The function %s is only supported on string properties.", x.Name)
		}
		needle := strings.ToLower(lit.Value.(string))
		return func(row int32) bool {
			v, ok := cellString(t, c, row)
			if !ok {
				return false
			}
			v = strings.ToLower(v)
			switch x.Name {
			case "contains":
				return strings.Contains(v, needle)
			case "startswith":
				return strings.HasPrefix(v, needle)
			case "endswith":
				return strings.HasSuffix(v, needle)
			}
			return false
		}, nil
	case *odata.Literal:
		if x.Kind == odata.Bool {
			v := x.Value.(bool)
			return func(int32) bool { return v }, nil
		}
	case *odata.Property:
		if c := t.byProp[x.Name()]; c != nil && c.kind == kBool {
			return func(row int32) bool { return c.i32[row] == 1 }, nil
		}
	}
	return nil, badRequest(codeODataSyntax, "The expression '%s' is not supported in $filter.", n.String())
}

func cellString(t *table, c *column, row int32) (string, bool) {
	if c.kind == kFullName {
		if c.isNull(t, row) {
			return "", false
		}
		return fullName(c, row), true
	}
	b, ok := c.str(row)
	return string(b), ok
}

var flipOp = map[string]string{"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}

func cmpResult(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

func compileComparison(t *table, x *odata.BinaryExpr) (pred, error) {
	op := x.Op
	prop, ok := x.Left.(*odata.Property)
	lit, ok2 := x.Right.(*odata.Literal)
	if !ok || !ok2 {
		prop, ok = x.Right.(*odata.Property)
		lit, ok2 = x.Left.(*odata.Literal)
		op = flipOp[op]
		if !ok || !ok2 {
			return nil, badRequest(codeODataSyntax, "A binary operator needs a property and a literal: '%s'.", x.String())
		}
	}
	c := t.byProp[prop.Name()]
	if c == nil {
		return nil, noProperty(t, prop.Name())
	}
	if lit.Kind == odata.Null {
		if op != "eq" && op != "ne" {
			return nil, badRequest(codeODataSyntax, "Only eq and ne compare with null.")
		}
		want := op == "eq"
		if c.kind == kPK || c.kind == kConstLookup {
			return func(int32) bool { return !want }, nil
		}
		return func(row int32) bool { return c.isNull(t, row) == want }, nil
	}
	mismatch := func() error {
		return badRequest(codeODataSyntax, "A binary operator with incompatible types was detected. Found operand types 'Edm.%s' and '%s' for operator kind '%s'.", c.attrType, lit.Kind, op)
	}
	// nullable comparison: a null cell matches only ne.
	wrap := func(isNull func(int32) bool, f func(int32) int) pred {
		return func(row int32) bool {
			if isNull(row) {
				return op == "ne"
			}
			return cmpResult(op, f(row))
		}
	}
	switch c.kind {
	case kString, kFullName, kGUIDString:
		if lit.Kind != odata.String && !(c.kind == kGUIDString && lit.Kind == odata.GUID) {
			return nil, mismatch()
		}
		want := strings.ToLower(lit.Value.(string))
		return wrap(func(r int32) bool { return c.isNull(t, r) }, func(r int32) int {
			v, _ := cellString(t, c, r)
			return strings.Compare(strings.ToLower(v), want)
		}), nil
	case kInt, kChoice, kBool:
		var v int64
		switch lit.Kind {
		case odata.Int:
			v = lit.Value.(int64)
		case odata.Bool:
			if lit.Value.(bool) {
				v = 1
			}
		default:
			return nil, mismatch()
		}
		return wrap(func(r int32) bool { return c.i32[r] == nullI32 }, func(r int32) int { return cmp.Compare(int64(c.i32[r]), v) }), nil
	case kEntityName:
		if lit.Kind != odata.String {
			return nil, mismatch()
		}
		idx := int64(-1)
		for i, n := range c.names {
			if strings.EqualFold(n, lit.Value.(string)) {
				idx = int64(i)
			}
		}
		return wrap(func(r int32) bool { return c.i32[r] == nullI32 }, func(r int32) int {
			if int64(c.i32[r]) == idx {
				return 0
			}
			return strings.Compare(c.names[c.i32[r]], lit.Value.(string))
		}), nil
	case kMoney, kMoneyBase, kDecimal, kBigInt:
		src := c
		if c.kind == kMoneyBase {
			src = c.baseOf
		}
		var f float64
		switch lit.Kind {
		case odata.Int:
			f = float64(lit.Value.(int64))
		case odata.Decimal:
			f = lit.Value.(float64)
		default:
			return nil, mismatch()
		}
		if c.kind == kBigInt {
			return wrap(func(r int32) bool { return src.i64[r] == nullI64 }, func(r int32) int { return cmp.Compare(float64(src.i64[r]), f) }), nil
		}
		if c.kind == kMoneyBase {
			return wrap(func(r int32) bool { return src.i64[r] == nullI64 }, func(r int32) int { return cmp.Compare(float64(c.baseCents(r)), math.Round(f*100)) }), nil
		}
		return wrap(func(r int32) bool { return src.i64[r] == nullI64 }, func(r int32) int { return cmp.Compare(float64(src.i64[r]), math.Round(f*100)) }), nil
	case kDateTime, kDateOnly:
		var tm time.Time
		switch lit.Kind {
		case odata.DateTime, odata.Date:
			tm = lit.Value.(time.Time)
		default:
			return nil, mismatch()
		}
		v := tm.Unix() - epoch2000
		return wrap(func(r int32) bool { return c.u32[r] == 0 }, func(r int32) int { return cmp.Compare(int64(c.u32[r]), v) }), nil
	case kPK, kLookup, kConstLookup:
		if lit.Kind != odata.GUID {
			return nil, mismatch()
		}
		g := lit.Value.(string)
		switch c.kind {
		case kPK:
			want := t.rowOf(g)
			return func(r int32) bool { return cmpResult(op, strings.Compare(t.guid(r), g)) || (op == "eq" && r == want) }, nil
		case kConstLookup:
			return func(int32) bool { return cmpResult(op, strings.Compare(c.constID, g)) }, nil
		}
		return wrap(func(r int32) bool { return c.i32[r] < 0 }, func(r int32) int {
			target, idx := c.lookup(r)
			return bytes.Compare(target.appendGUID(nil, idx), []byte(g))
		}), nil
	}
	return nil, mismatch()
}

// compareRows orders two rows by one column (nulls first, strings case-insensitively).
func compareRows(t *table, c *column, a, b int32) int {
	na, nb := c.isNull(t, a), c.isNull(t, b)
	switch {
	case na && nb:
		return 0
	case na:
		return -1
	case nb:
		return 1
	}
	switch c.kind {
	case kString, kFullName, kGUIDString:
		x, _ := cellString(t, c, a)
		y, _ := cellString(t, c, b)
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case kInt, kChoice, kBool, kEntityName:
		return cmp.Compare(int64(c.i32[a]), int64(c.i32[b]))
	case kMoney, kBigInt, kDecimal:
		return cmp.Compare(c.i64[a], c.i64[b])
	case kMoneyBase:
		return cmp.Compare(c.baseCents(a), c.baseCents(b))
	case kDateTime, kDateOnly:
		return cmp.Compare(int64(c.u32[a]), int64(c.u32[b]))
	case kPK:
		return comparePK(t, a, b)
	case kLookup:
		ta, ia := c.lookup(a)
		tb, ib := c.lookup(b)
		var x, y [36]byte
		return bytes.Compare(ta.appendGUID(x[:0], ia), tb.appendGUID(y[:0], ib))
	}
	return 0
}
