package warehouse

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Kind is the family of a ClickHouse type, without parameters.
type Kind int

// The type families Ampel reads and writes.
const (
	KindInvalid Kind = iota
	KindString
	KindFixedString
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUInt8
	KindUInt16
	KindUInt32
	KindUInt64
	KindFloat32
	KindFloat64
	KindBool
	KindUUID
	KindDate
	KindDateTime
	KindDateTime64
	KindDecimal
	KindEnum8
	KindEnum16
	KindNullable
	KindArray
	KindLowCardinality
	KindNothing
)

// Type is a parsed ClickHouse type such as Nullable(Decimal(18, 4)).
type Type struct {
	Kind Kind
	// Name is the type as the engine wrote it.
	Name string
	// Elem is the inner type of Nullable, Array and LowCardinality.
	Elem *Type
	// Precision and Scale of Decimal; Scale is also DateTime64's precision.
	Precision, Scale int
	// Size of FixedString.
	Size int
	// TimeZone of DateTime and DateTime64, "" if none was given.
	TimeZone string
	// Enum maps the names of Enum8/Enum16 to their numbers.
	Enum map[string]int16
	// EnumNames maps numbers back to names.
	EnumNames map[int16]string
}

var simpleKinds = map[string]Kind{
	"String": KindString, "Int8": KindInt8, "Int16": KindInt16, "Int32": KindInt32, "Int64": KindInt64,
	"UInt8": KindUInt8, "UInt16": KindUInt16, "UInt32": KindUInt32, "UInt64": KindUInt64,
	"Float32": KindFloat32, "Float64": KindFloat64, "Bool": KindBool, "Boolean": KindBool,
	"UUID": KindUUID, "Date": KindDate, "DateTime": KindDateTime, "Nothing": KindNothing,
}

// ParseType parses a ClickHouse type name. It knows the families listed in
// Kind and reports any other as an error that names it.
func ParseType(name string) (*Type, error) {
	name = strings.TrimSpace(name)
	t := &Type{Name: name}
	base, args, hasArgs := strings.Cut(name, "(")
	base = strings.TrimSpace(base)
	if hasArgs {
		if !strings.HasSuffix(args, ")") {
			return nil, fmt.Errorf("clickhouse type %q: unbalanced parentheses", name)
		}
		args = args[:len(args)-1]
	}
	if k, ok := simpleKinds[base]; ok {
		t.Kind = k
		if k == KindDateTime && hasArgs {
			t.TimeZone = unquote(args)
		} else if hasArgs {
			return nil, fmt.Errorf("clickhouse type %q: %s takes no parameters", name, base)
		}
		return t, nil
	}
	if !hasArgs {
		return nil, fmt.Errorf("clickhouse type %q is not supported", name)
	}
	switch base {
	case "Nullable", "Array", "LowCardinality":
		elem, err := ParseType(args)
		if err != nil {
			return nil, err
		}
		t.Elem = elem
		t.Kind = map[string]Kind{"Nullable": KindNullable, "Array": KindArray, "LowCardinality": KindLowCardinality}[base]
	case "FixedString":
		n, err := strconv.Atoi(strings.TrimSpace(args))
		if err != nil {
			return nil, fmt.Errorf("clickhouse type %q: %w", name, err)
		}
		t.Kind, t.Size = KindFixedString, n
	case "Decimal", "Decimal32", "Decimal64", "Decimal128":
		t.Kind = KindDecimal
		parts := splitTop(args)
		var p, s int
		var err error
		switch base {
		case "Decimal":
			if len(parts) != 2 {
				return nil, fmt.Errorf("clickhouse type %q: Decimal needs precision and scale", name)
			}
			if p, err = strconv.Atoi(parts[0]); err == nil {
				s, err = strconv.Atoi(parts[1])
			}
		default:
			p = map[string]int{"Decimal32": 9, "Decimal64": 18, "Decimal128": 38}[base]
			if len(parts) != 1 {
				return nil, fmt.Errorf("clickhouse type %q: %s needs a scale", name, base)
			}
			s, err = strconv.Atoi(parts[0])
		}
		if err != nil {
			return nil, fmt.Errorf("clickhouse type %q: %w", name, err)
		}
		if p < 1 || p > 38 || s < 0 || s > p {
			return nil, fmt.Errorf("clickhouse type %q: precision must be 1–38 and scale 0–precision", name)
		}
		t.Precision, t.Scale = p, s
	case "DateTime64":
		t.Kind = KindDateTime64
		parts := splitTop(args)
		s, err := strconv.Atoi(parts[0])
		if err != nil || s < 0 || s > 9 {
			return nil, fmt.Errorf("clickhouse type %q: precision must be 0–9", name)
		}
		t.Scale = s
		if len(parts) > 1 {
			t.TimeZone = unquote(parts[1])
		}
	case "Enum8", "Enum16":
		t.Kind = KindEnum8
		if base == "Enum16" {
			t.Kind = KindEnum16
		}
		t.Enum, t.EnumNames = map[string]int16{}, map[int16]string{}
		for _, item := range splitTop(args) {
			eq := strings.LastIndex(item, "=")
			if eq < 0 {
				return nil, fmt.Errorf("clickhouse type %q: enum item %q has no value", name, item)
			}
			n, err := strconv.ParseInt(strings.TrimSpace(item[eq+1:]), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("clickhouse type %q: %w", name, err)
			}
			label := unquote(item[:eq])
			t.Enum[label], t.EnumNames[int16(n)] = int16(n), label
		}
	default:
		return nil, fmt.Errorf("clickhouse type %q is not supported", name)
	}
	return t, nil
}

// Base returns the type under Nullable and LowCardinality wrappers.
func (t *Type) Base() *Type {
	for t.Kind == KindNullable || t.Kind == KindLowCardinality {
		t = t.Elem
	}
	return t
}

// IsNullable reports whether the type, under LowCardinality, is Nullable.
func (t *Type) IsNullable() bool {
	for t.Kind == KindLowCardinality {
		t = t.Elem
	}
	return t.Kind == KindNullable
}

// Zero is the value a column of type t gets when an INSERT leaves it out:
// NULL for Nullable, else the type's zero (empty string, 0, the epoch, an
// empty array, the first Enum value). Batch.Append accepts it.
func (t *Type) Zero() any {
	switch t.Kind {
	case KindNullable:
		return nil
	case KindLowCardinality:
		return t.Elem.Zero()
	case KindString, KindFixedString:
		return ""
	case KindInt8, KindInt16, KindInt32, KindInt64:
		return int64(0)
	case KindUInt8, KindUInt16, KindUInt32, KindUInt64:
		return uint64(0)
	case KindFloat32, KindFloat64:
		return float64(0)
	case KindBool:
		return false
	case KindUUID:
		return uuid.UUID{}
	case KindDate, KindDateTime, KindDateTime64:
		return time.Unix(0, 0).UTC()
	case KindDecimal:
		return decimal.Zero
	case KindArray:
		return []any{}
	case KindEnum8, KindEnum16:
		first := int16(math.MaxInt16)
		for n := range t.EnumNames {
			first = min(first, n)
		}
		return t.EnumNames[first]
	}
	return nil
}

// splitTop splits s at commas that are not inside parentheses or quotes
// and trims each part.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

// unquote removes one level of single quotes and ClickHouse escapes.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
