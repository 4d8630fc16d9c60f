package warehouse

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Coerce converts a value given to Batch.Append into the Go value the
// package comment lists for t, or says why it cannot. Both drivers call it,
// so both accept exactly the same values.
func Coerce(t *Type, v any) (any, error) {
	v = deref(v)
	switch t.Kind {
	case KindNullable:
		if v == nil {
			return nil, nil
		}
		return Coerce(t.Elem, v)
	case KindLowCardinality:
		return Coerce(t.Elem, v)
	}
	if v == nil {
		return nil, fmt.Errorf("NULL for non-Nullable %s", t.Name)
	}
	switch t.Kind {
	case KindString, KindFixedString:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, mismatch(t, v)
		}
		if t.Kind == KindFixedString && len(s) > t.Size {
			return nil, fmt.Errorf("%d bytes do not fit %s", len(s), t.Name)
		}
		return s, nil
	case KindEnum8, KindEnum16:
		switch x := v.(type) {
		case string:
			if _, ok := t.Enum[x]; !ok {
				return nil, fmt.Errorf("%q is not a value of %s", x, t.Name)
			}
			return x, nil
		default:
			n, err := toInt64(t, v, math.MinInt16, math.MaxInt16)
			if err != nil {
				return nil, err
			}
			name, ok := t.EnumNames[int16(n)]
			if !ok {
				return nil, fmt.Errorf("%d is not a value of %s", n, t.Name)
			}
			return name, nil
		}
	case KindInt8:
		return toInt64(t, v, math.MinInt8, math.MaxInt8)
	case KindInt16:
		return toInt64(t, v, math.MinInt16, math.MaxInt16)
	case KindInt32:
		return toInt64(t, v, math.MinInt32, math.MaxInt32)
	case KindInt64:
		return toInt64(t, v, math.MinInt64, math.MaxInt64)
	case KindUInt8:
		if b, ok := v.(bool); ok { // Bool columns are UInt8 on old servers
			return boolToUint(b), nil
		}
		return toUint64(t, v, math.MaxUint8)
	case KindUInt16:
		return toUint64(t, v, math.MaxUint16)
	case KindUInt32:
		return toUint64(t, v, math.MaxUint32)
	case KindUInt64:
		return toUint64(t, v, math.MaxUint64)
	case KindFloat32, KindFloat64:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case decimal.Decimal:
			f, _ := x.Float64()
			return f, nil
		}
		if n, err := toInt64(t, v, math.MinInt64, math.MaxInt64); err == nil {
			return float64(n), nil
		}
		return nil, mismatch(t, v)
	case KindBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		}
		n, err := toUint64(t, v, 1)
		if err != nil {
			return nil, err
		}
		return n == 1, nil
	case KindUUID:
		switch x := v.(type) {
		case uuid.UUID:
			return x, nil
		case [16]byte:
			return uuid.UUID(x), nil
		case string:
			u, err := uuid.Parse(x)
			if err != nil {
				return nil, fmt.Errorf("%q is not a UUID", x)
			}
			return u, nil
		}
		return nil, mismatch(t, v)
	case KindDate:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, mismatch(t, v)
		}
		y, m, d := tm.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case KindDateTime:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, mismatch(t, v)
		}
		return tm.UTC().Truncate(time.Second), nil
	case KindDateTime64:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, mismatch(t, v)
		}
		return tm.UTC().Truncate(time.Duration(math.Pow10(9 - t.Scale))), nil
	case KindDecimal:
		var d decimal.Decimal
		switch x := v.(type) {
		case decimal.Decimal:
			d = x
		case string:
			var err error
			if d, err = decimal.NewFromString(x); err != nil {
				return nil, fmt.Errorf("%q is not a decimal number", x)
			}
		case float64:
			d = decimal.NewFromFloat(x)
		case float32:
			d = decimal.NewFromFloat32(x)
		default:
			n, err := toInt64(t, v, math.MinInt64, math.MaxInt64)
			if err != nil {
				return nil, mismatch(t, v)
			}
			d = decimal.NewFromInt(n)
		}
		return checkDecimal(t, d)
	case KindArray:
		return coerceArray(t, v)
	}
	return nil, fmt.Errorf("cannot write values of type %s", t.Name)
}

func checkDecimal(t *Type, d decimal.Decimal) (decimal.Decimal, error) {
	if -d.Exponent() > int32(t.Scale) && !d.Equal(d.Truncate(int32(t.Scale))) {
		return d, fmt.Errorf("%s has more than %d decimal places for %s", d, t.Scale, t.Name)
	}
	d = d.Truncate(int32(t.Scale))
	// digits left of the point must fit precision-scale
	intDigits := len(d.Abs().Truncate(0).String())
	if d.Abs().LessThan(decimal.NewFromInt(1)) {
		intDigits = 0
	}
	if intDigits > t.Precision-t.Scale {
		return d, fmt.Errorf("%s does not fit %s", d, t.Name)
	}
	return d, nil
}

func coerceArray(t *Type, v any) (any, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, mismatch(t, v)
	}
	if _, isBytes := v.([]byte); isBytes {
		return nil, mismatch(t, v)
	}
	n := rv.Len()
	if t.Elem.Base().Kind == KindString && !t.Elem.IsNullable() {
		out := make([]string, n)
		for i := range n {
			e, err := Coerce(t.Elem, rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = e.(string)
		}
		return out, nil
	}
	out := make([]any, n)
	for i := range n {
		e, err := Coerce(t.Elem, rv.Index(i).Interface())
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

func mismatch(t *Type, v any) error {
	return fmt.Errorf("cannot write %T to a %s column", v, t.Name)
}

func boolToUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// deref follows pointers; a nil pointer becomes nil.
func deref(v any) any {
	for {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer {
			return v
		}
		if rv.IsNil() {
			return nil
		}
		v = rv.Elem().Interface()
	}
}

func toInt64(t *Type, v any, lo, hi int64) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(x).Uint()
		if u > math.MaxInt64 {
			return 0, fmt.Errorf("%d does not fit %s", u, t.Name)
		}
		n = int64(u)
	case bool:
		n = int64(boolToUint(x))
	default:
		return 0, mismatch(t, v)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d does not fit %s", n, t.Name)
	}
	return n, nil
}

func toUint64(t *Type, v any, hi uint64) (uint64, error) {
	var u uint64
	switch x := v.(type) {
	case int, int8, int16, int32, int64:
		n := reflect.ValueOf(x).Int()
		if n < 0 {
			return 0, fmt.Errorf("%d does not fit %s", n, t.Name)
		}
		u = uint64(n)
	case uint:
		u = uint64(x)
	case uint8:
		u = uint64(x)
	case uint16:
		u = uint64(x)
	case uint32:
		u = uint64(x)
	case uint64:
		u = x
	default:
		return 0, mismatch(t, v)
	}
	if u > hi {
		return 0, fmt.Errorf("%d does not fit %s", u, t.Name)
	}
	return u, nil
}

// Scanner is implemented by destinations that convert values themselves,
// as database/sql.Scanner is.
type Scanner interface {
	Scan(src any) error
}

// Scan copies a row of values (as Rows.Values returns them) into dest, one
// pointer per column. It converts as database/sql does where no
// information is lost: numbers to wider numbers or to strings, 0/1 to bool,
// text to UUID or Decimal. A NULL may go only into a pointer-to-pointer
// (then set to nil), *any or a Scanner.
func Scan(src []any, dest ...any) error {
	if len(dest) != len(src) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(src))
	}
	for i := range dest {
		if err := assign(dest[i], src[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

func assign(dest, src any) error {
	switch d := dest.(type) {
	case *any:
		*d = src
		return nil
	case *uuid.UUID, *decimal.Decimal:
		// Scanners too, but not of their own type: converted below
	case Scanner:
		return d.Scan(src)
	}
	if src == nil {
		rv := reflect.ValueOf(dest)
		if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Pointer {
			rv.Elem().Set(reflect.Zero(rv.Elem().Type()))
			return nil
		}
		return fmt.Errorf("NULL into %T (use a pointer to a pointer)", dest)
	}
	switch d := dest.(type) {
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
		case []byte:
			*d = string(s)
		case time.Time:
			*d = s.Format(time.RFC3339Nano)
		case fmt.Stringer:
			*d = s.String()
		case int64:
			*d = strconv.FormatInt(s, 10)
		case uint64:
			*d = strconv.FormatUint(s, 10)
		case float64:
			*d = strconv.FormatFloat(s, 'g', -1, 64)
		case bool:
			*d = strconv.FormatBool(s)
		default:
			return fmt.Errorf("cannot scan %T into *string", src)
		}
		return nil
	case *bool:
		switch s := src.(type) {
		case bool:
			*d = s
		case uint64:
			if s > 1 {
				return fmt.Errorf("%d is not a bool", s)
			}
			*d = s == 1
		case int64:
			if s < 0 || s > 1 {
				return fmt.Errorf("%d is not a bool", s)
			}
			*d = s == 1
		default:
			return fmt.Errorf("cannot scan %T into *bool", src)
		}
		return nil
	case *time.Time:
		s, ok := src.(time.Time)
		if !ok {
			return fmt.Errorf("cannot scan %T into *time.Time", src)
		}
		*d = s
		return nil
	case *uuid.UUID:
		switch s := src.(type) {
		case uuid.UUID:
			*d = s
		case string:
			u, err := uuid.Parse(s)
			if err != nil {
				return err
			}
			*d = u
		default:
			return fmt.Errorf("cannot scan %T into *uuid.UUID", src)
		}
		return nil
	case *decimal.Decimal:
		switch s := src.(type) {
		case decimal.Decimal:
			*d = s
		case int64:
			*d = decimal.NewFromInt(s)
		case uint64:
			*d = decimal.NewFromUint64(s)
		case string:
			x, err := decimal.NewFromString(s)
			if err != nil {
				return err
			}
			*d = x
		default:
			return fmt.Errorf("cannot scan %T into *decimal.Decimal", src)
		}
		return nil
	case *float64:
		switch s := src.(type) {
		case float64:
			*d = s
		case int64:
			*d = float64(s)
		case uint64:
			*d = float64(s)
		case decimal.Decimal:
			*d, _ = s.Float64()
		default:
			return fmt.Errorf("cannot scan %T into *float64", src)
		}
		return nil
	case *[]string:
		switch s := src.(type) {
		case []string:
			*d = append((*d)[:0:0], s...)
		case []any:
			out := make([]string, len(s))
			for i, e := range s {
				str, ok := e.(string)
				if !ok {
					return fmt.Errorf("cannot scan element %T into *[]string", e)
				}
				out[i] = str
			}
			*d = out
		default:
			return fmt.Errorf("cannot scan %T into *[]string", src)
		}
		return nil
	}
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	elem := rv.Elem()
	if elem.Kind() == reflect.Pointer { // **T: allocate and fill
		p := reflect.New(elem.Type().Elem())
		if err := assign(p.Interface(), src); err != nil {
			return err
		}
		elem.Set(p)
		return nil
	}
	switch elem.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch s := src.(type) {
		case int64:
			n = s
		case uint64:
			if s > math.MaxInt64 {
				return fmt.Errorf("%d overflows %T", s, dest)
			}
			n = int64(s)
		case bool:
			n = int64(boolToUint(s))
		default:
			return fmt.Errorf("cannot scan %T into %T", src, dest)
		}
		if elem.OverflowInt(n) {
			return fmt.Errorf("%d overflows %T", n, dest)
		}
		elem.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		switch s := src.(type) {
		case uint64:
			u = s
		case int64:
			if s < 0 {
				return fmt.Errorf("%d overflows %T", s, dest)
			}
			u = uint64(s)
		case bool:
			u = boolToUint(s)
		default:
			return fmt.Errorf("cannot scan %T into %T", src, dest)
		}
		if elem.OverflowUint(u) {
			return fmt.Errorf("%d overflows %T", u, dest)
		}
		elem.SetUint(u)
		return nil
	case reflect.Float32:
		var f float64
		if err := assign(&f, src); err != nil {
			return err
		}
		elem.SetFloat(f)
		return nil
	}
	return fmt.Errorf("cannot scan %T into %T", src, dest)
}

// FormatValue renders a value of type t as ClickHouse's text formats do
// (TSV/CSV cells, before escaping): Date as 2006-01-02, DateTime as
// 2006-01-02 15:04:05, arrays as ['a','b'], NULL as \N. t may be nil.
func FormatValue(t *Type, v any) string {
	switch x := v.(type) {
	case nil:
		return `\N`
	case string:
		return x
	case time.Time:
		if t != nil && t.Base().Kind == KindDate {
			return x.Format("2006-01-02")
		}
		if x.Nanosecond() != 0 {
			return x.Format("2006-01-02 15:04:05.999999999")
		}
		return x.Format("2006-01-02 15:04:05")
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = QuoteString(s)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case []any:
		var elem *Type
		if t != nil && t.Base().Kind == KindArray {
			elem = t.Base().Elem
		}
		parts := make([]string, len(x))
		for i, e := range x {
			switch e := e.(type) {
			case string:
				parts[i] = QuoteString(e)
			case nil:
				parts[i] = "NULL"
			case time.Time:
				parts[i] = QuoteString(FormatValue(elem, e))
			default:
				parts[i] = FormatValue(elem, e)
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
