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

// Bind replaces each ? placeholder in query with the next arg written as a
// ClickHouse literal. Placeholders inside quotes, backticks and comments
// are left alone. Both drivers bind this way, before the statement leaves
// the process, so the two accept the same statements; the literal forms are
// quoted and escaped here and nowhere else.
//
// Literals: strings and []byte quoted and escaped; integers and floats as
// numbers (NaN and ±Inf as nan/inf); bool as 1/0; time.Time as
// toDateTime('…', 'UTC'), or toDateTime64 when it has sub-second parts;
// uuid.UUID as toUUID('…'); decimal.Decimal as toDecimal128('…', scale);
// slices as arrays; nil as NULL.
func Bind(query string, args ...any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	b.Grow(len(query) + 16*len(args))
	next := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := SkipQuoted(query, i)
			b.WriteString(query[i:end])
			i = end - 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				end = len(query) - i - 2
			} else {
				end += 2
			}
			b.WriteString(query[i : i+2+end])
			i += 2 + end - 1
		case c == '?':
			if next >= len(args) {
				return "", fmt.Errorf("bind: more placeholders than the %d arguments", len(args))
			}
			lit, err := Literal(args[next])
			if err != nil {
				return "", fmt.Errorf("bind argument %d: %w", next+1, err)
			}
			b.WriteString(lit)
			next++
		default:
			b.WriteByte(c)
		}
	}
	if next != len(args) {
		return "", fmt.Errorf("bind: %d arguments for %d placeholders", len(args), next)
	}
	return b.String(), nil
}

// SkipQuoted returns the index just after the quoted run starting at i
// (len(s) when it is not closed); see quotedEnd.
func SkipQuoted(s string, i int) int {
	end, _ := quotedEnd(s, i)
	return end
}

// Literal writes v as a ClickHouse literal; see Bind for the forms.
func Literal(v any) (string, error) {
	v = deref(v)
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return QuoteString(x), nil
	case []byte:
		return QuoteString(string(x)), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int, int8, int16, int32, int64:
		return strconv.FormatInt(reflect.ValueOf(x).Int(), 10), nil
	case uint, uint8, uint16, uint32, uint64:
		return strconv.FormatUint(reflect.ValueOf(x).Uint(), 10), nil
	case float32:
		return formatFloat(float64(x)), nil
	case float64:
		return formatFloat(x), nil
	case time.Time:
		x = x.UTC()
		if x.Nanosecond() != 0 {
			return "toDateTime64('" + x.Format("2006-01-02 15:04:05.000000000") + "', 9, 'UTC')", nil
		}
		return "toDateTime('" + x.Format("2006-01-02 15:04:05") + "', 'UTC')", nil
	case uuid.UUID:
		return "toUUID('" + x.String() + "')", nil
	case decimal.Decimal:
		scale := max(-x.Exponent(), 0)
		return fmt.Sprintf("toDecimal128('%s', %d)", x.String(), scale), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		parts := make([]string, rv.Len())
		for i := range parts {
			lit, err := Literal(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			parts[i] = lit
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("cannot write %T as a literal", v)
}

func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0" // keep it a Float64 literal
	}
	return s
}

// QuoteString writes s as a single-quoted ClickHouse string literal (for
// values rendered into SQL templates; bind values with Bind where you can).
func QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
