package landing

import (
	"strconv"
	"strings"

	"github.com/ampel/ampel/warehouse"
)

// SameType reports whether a column of type have in the warehouse holds
// what the source now declares as want, so that the sync goes on without
// a type change. The engines spell one column type in several ways, and
// none of these is a change:
//
//   - spacing and quotes: Decimal(19,4) and Decimal(19, 4);
//     DateTime("UTC") and DateTime('UTC');
//   - Bool and UInt8: a server before 21.12 has no Bool, and a landing
//     table created there keeps UInt8 after the server is upgraded (a
//     bool is stored as 0 or 1 in either);
//   - LowCardinality(T) and T, wherever it wraps: it changes the storage,
//     not the values — so LowCardinality(Nullable(String)) is
//     Nullable(String);
//   - Decimal32(S), Decimal64(S), Decimal128(S) and Decimal(9|18|38, S);
//     Boolean and Bool.
//
// Anything else is a change: another family, precision or scale, time
// zone, or nullability. A type that warehouse.ParseType does not know is
// compared by its spelling, spacing and quotes aside.
func SameType(have, want string) bool {
	return canonType(have) == canonType(want)
}

// canonType spells a type one way for SameType.
func canonType(name string) string {
	t, err := warehouse.ParseType(name)
	if err != nil {
		return spelling(name)
	}
	var b strings.Builder
	writeCanon(&b, t)
	return b.String()
}

func writeCanon(b *strings.Builder, t *warehouse.Type) {
	switch t.Kind {
	case warehouse.KindLowCardinality:
		writeCanon(b, t.Elem)
	case warehouse.KindNullable, warehouse.KindArray:
		if t.Kind == warehouse.KindNullable {
			b.WriteString("Nullable(")
		} else {
			b.WriteString("Array(")
		}
		writeCanon(b, t.Elem)
		b.WriteByte(')')
	case warehouse.KindBool, warehouse.KindUInt8:
		b.WriteString("UInt8")
	case warehouse.KindDecimal:
		b.WriteString("Decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")")
	case warehouse.KindDateTime:
		b.WriteString("DateTime")
		if t.TimeZone != "" {
			b.WriteString("('" + strings.Trim(t.TimeZone, `"`) + "')")
		}
	default:
		b.WriteString(spelling(t.Name))
	}
}

// spelling drops the differences of spacing and quote style.
func spelling(t string) string {
	t = strings.Join(strings.Fields(t), "")
	return strings.ReplaceAll(t, `"`, "'")
}
