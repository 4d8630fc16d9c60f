package serve

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/odata"
	"github.com/ampel/ampel/warehouse"
)

// column is one served column of an entity set: its name, its parsed
// ClickHouse type and the Edm property that declares it.
type column struct {
	name string
	typ  *warehouse.Type // as declared, Nullable included
	base *warehouse.Type // without Nullable and LowCardinality
	prop odata.PropertyDef
}

// edmProperty maps a ClickHouse column to its Edm property:
//
//	String, FixedString, Enum8/16     Edm.String
//	Int8, Int16, Int32, UInt8, UInt16 Edm.Int32
//	Int64, UInt32                     Edm.Int64
//	UInt64                            Edm.Decimal, Precision 20, Scale 0 (Int64 cannot hold it)
//	Float32, Float64                  Edm.Double
//	Bool                              Edm.Boolean
//	UUID                              Edm.Guid
//	Date                              Edm.Date
//	DateTime                          Edm.DateTimeOffset
//	DateTime64(p)                     Edm.DateTimeOffset, Precision p
//	Decimal(P, S)                     Edm.Decimal, Precision P, Scale S
//	Array(T)                          Collection(T's type)
//	Nullable(T)                       T's type, Nullable="true"; LowCardinality(T) T's type
func edmProperty(name string, t *warehouse.Type) (odata.PropertyDef, error) {
	p := odata.PropertyDef{Name: name}
	base := t
	for base.Kind == warehouse.KindNullable || base.Kind == warehouse.KindLowCardinality {
		if base.Kind == warehouse.KindNullable {
			p.Nullable = true
		}
		base = base.Elem
	}
	collection := false
	if base.Kind == warehouse.KindArray {
		collection = true
		base = base.Elem
		for base.Kind == warehouse.KindNullable || base.Kind == warehouse.KindLowCardinality {
			base = base.Elem
		}
	}
	switch base.Kind {
	case warehouse.KindString, warehouse.KindFixedString, warehouse.KindEnum8, warehouse.KindEnum16:
		p.Type = odata.EdmString
	case warehouse.KindInt8, warehouse.KindInt16, warehouse.KindInt32, warehouse.KindUInt8, warehouse.KindUInt16:
		p.Type = odata.EdmInt32
	case warehouse.KindInt64, warehouse.KindUInt32:
		p.Type = odata.EdmInt64
	case warehouse.KindUInt64:
		p.Type, p.Precision, p.Scale, p.HasScale = odata.EdmDecimal, 20, 0, true
	case warehouse.KindFloat32, warehouse.KindFloat64:
		p.Type = odata.EdmDouble
	case warehouse.KindBool:
		p.Type = odata.EdmBoolean
	case warehouse.KindUUID:
		p.Type = odata.EdmGuid
	case warehouse.KindDate:
		p.Type = odata.EdmDate
	case warehouse.KindDateTime:
		p.Type = odata.EdmDateTimeOffset
	case warehouse.KindDateTime64:
		p.Type, p.Precision = odata.EdmDateTimeOffset, base.Scale
	case warehouse.KindDecimal:
		p.Type, p.Precision, p.Scale, p.HasScale = odata.EdmDecimal, base.Precision, base.Scale, true
	default:
		return p, fmt.Errorf("column %s: type %s has no Edm type", name, t.Name)
	}
	if collection {
		p.Type = "Collection(" + p.Type + ")"
		p.Nullable = false
	}
	return p, nil
}

// newColumn parses a warehouse column into a served one.
func newColumn(c warehouse.Column) (column, error) {
	t, err := warehouse.ParseType(c.Type)
	if err != nil {
		return column{}, fmt.Errorf("column %s: %w", c.Name, err)
	}
	p, err := edmProperty(c.Name, t)
	if err != nil {
		return column{}, err
	}
	base := t
	for base.Kind == warehouse.KindNullable || base.Kind == warehouse.KindLowCardinality {
		base = base.Elem
	}
	return column{name: c.Name, typ: t, base: base, prop: p}, nil
}

// appendValue appends v, a warehouse value of column c, as an OData JSON
// value: numbers as numbers (Int64 and Decimal too: the feed does not
// answer IEEE754Compatible), NaN and infinities as "NaN", "INF", "-INF",
// Date as "2024-05-01", DateTimeOffset in RFC 3339 UTC, Guid as text.
func appendValue(dst []byte, c *column, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return odata.AppendJSONString(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return append(dst, `"NaN"`...)
		case math.IsInf(x, 1):
			return append(dst, `"INF"`...)
		case math.IsInf(x, -1):
			return append(dst, `"-INF"`...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(dst, x)
	case uuid.UUID:
		dst = append(dst, '"')
		dst = append(dst, x.String()...)
		return append(dst, '"')
	case decimal.Decimal:
		return appendDecimal(dst, x)
	case time.Time:
		dst = append(dst, '"')
		if c != nil && c.base.Kind == warehouse.KindDate {
			dst = x.UTC().AppendFormat(dst, "2006-01-02")
		} else {
			dst = x.UTC().AppendFormat(dst, time.RFC3339Nano)
		}
		return append(dst, '"')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, c, e)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = odata.AppendJSONString(dst, e)
		}
		return append(dst, ']')
	}
	return odata.AppendJSONString(dst, fmt.Sprint(v))
}

// appendDecimal appends d as d.String() writes it (no exponent, no
// trailing zeros in the fraction); when its coefficient fits an int64, as
// every Decimal(P ≤ 18, S) does, without String's big.Int allocations.
func appendDecimal(dst []byte, d decimal.Decimal) []byte {
	exp := d.Exponent()
	if exp > 0 || exp < -18 || d.NumDigits() > 18 {
		return append(dst, d.String()...)
	}
	c := d.CoefficientInt64()
	if exp == 0 {
		return strconv.AppendInt(dst, c, 10)
	}
	if c < 0 {
		dst = append(dst, '-')
		c = -c // |c| < 10^18: no overflow
	}
	var buf, fb [20]byte
	digits := strconv.AppendUint(buf[:0], uint64(c), 10)
	n := int(-exp) // digits after the point, at most 18
	var frac []byte
	if len(digits) > n {
		dst = append(dst, digits[:len(digits)-n]...)
		frac = digits[len(digits)-n:]
	} else {
		dst = append(dst, '0')
		frac = fb[:0]
		for range n - len(digits) {
			frac = append(frac, '0')
		}
		frac = append(frac, digits...)
	}
	end := len(frac)
	for end > 0 && frac[end-1] == '0' {
		end--
	}
	if end == 0 {
		return dst
	}
	dst = append(dst, '.')
	return append(dst, frac[:end]...)
}
