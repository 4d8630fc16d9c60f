package dvsim

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ampel/ampel/odata"
)

// Page bodies are built in pooled buffers: a 5000-row page is megabytes, and growing a new
// buffer for every page by doubling spent more time in copying than in rendering.
var bodyPool sync.Pool

const maxPooledBody = 64 << 20

func getBody() []byte {
	if b, ok := bodyPool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 64<<10)
}

func putBody(b []byte) {
	if cap(b) <= maxPooledBody {
		bodyPool.Put(&b)
	}
}

// ann says which annotations a request asked for.
type ann struct {
	formatted, lookupLN, navProp bool
}

// annotationsFor reads which annotations a request's Prefer header asks for.
func annotationsFor(pref odata.Prefer) ann {
	if pref.IncludeAnnotations == nil {
		return ann{}
	}
	return ann{
		formatted: odata.AnnotationIncluded(pref.IncludeAnnotations, odata.AnnotationFormattedValue),
		lookupLN:  odata.AnnotationIncluded(pref.IncludeAnnotations, odata.AnnotationLookupLogicalName),
		navProp:   odata.AnnotationIncluded(pref.IncludeAnnotations, odata.AnnotationAssociatedNavigationProperty),
	}
}

func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	// most texts need no escaping: copy the plain prefix in one append
	plain := 0
	for plain < len(s) {
		c := s[plain]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
		plain++
	}
	dst = append(dst, s[:plain]...)
	for i := plain; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					dst = append(dst, '\\', 'n')
				case '\r':
					dst = append(dst, '\\', 'r')
				case '\t':
					dst = append(dst, '\\', 't')
				default:
					dst = append(dst, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&15])
				}
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func appendStr(dst []byte, s string) []byte { return appendJSONString(dst, []byte(s)) }

// appendMoney writes hundredths as a decimal number (e.g. 1234.50 → 1234.5).
func appendMoney(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	dst = strconv.AppendInt(dst, v/100, 10)
	if f := v % 100; f != 0 {
		dst = append(dst, '.', byte('0'+f/10))
		if f%10 != 0 {
			dst = append(dst, byte('0'+f%10))
		}
	}
	return dst
}

func appendGrouped(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, s[i])
	}
	return dst
}

func appendMoneyFormatted(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	dst = append(dst, '$')
	dst = appendGrouped(dst, v/100)
	f := v % 100
	dst = append(dst, '.', byte('0'+f/10), byte('0'+f%10), '"')
	return dst
}

// The time texts are written field by field: time.Time.AppendFormat
// parses its layout on every call, and the simulator writes millions.

func appendTime(dst []byte, s uint32) []byte {
	t := fromStamp(s)
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	dst = append(dst, '"')
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, sec, 2)
	return append(dst, 'Z', '"')
}

func appendDate(dst []byte, s uint32) []byte {
	y, mo, d := fromStamp(s).Date()
	dst = append(dst, '"')
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	return append(dst, '"')
}

// formatted-value texts as an en-US user would see them (UTC as the user's
// zone): "1/2/2006" and "1/2/2006 3:04 PM".
func appendTimeFormatted(dst []byte, s uint32, dateOnly bool) []byte {
	t := fromStamp(s)
	y, mo, d := t.Date()
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, int64(mo), 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, int64(d), 10)
	dst = append(dst, '/')
	dst = appendDigits(dst, y, 4)
	if !dateOnly {
		h, mi, _ := t.Clock()
		pm := h >= 12
		if h %= 12; h == 0 {
			h = 12
		}
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(h), 10)
		dst = append(dst, ':')
		dst = appendDigits(dst, mi, 2)
		if pm {
			dst = append(dst, " PM"...)
		} else {
			dst = append(dst, " AM"...)
		}
	}
	return append(dst, '"')
}

// appendDigits writes v (0 <= v) as exactly width digits, zero padded.
func appendDigits(dst []byte, v, width int) []byte {
	var b [4]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}

// The annotation suffixes of a property, "<property>@<term>".
const (
	annFormatted = "@" + odata.AnnotationFormattedValue
	annLookupLN  = "@" + odata.AnnotationLookupLogicalName
	annNavProp   = "@" + odata.AnnotationAssociatedNavigationProperty
)

func appendKey(dst []byte, prop, suffix string) []byte {
	dst = append(dst, '"')
	dst = append(dst, prop...)
	dst = append(dst, suffix...)
	return append(dst, '"', ':')
}

// appendPrimaryName writes the primary name of a row as a JSON string (or null).
func appendPrimaryName(dst []byte, t *table, row int32) []byte {
	c := t.byName[t.primaryName]
	if c == nil || c.isNull(t, row) {
		return append(dst, "null"...)
	}
	if c.kind == kFullName {
		return appendStr(dst, fullName(c, row))
	}
	b, _ := c.str(row)
	return appendJSONString(dst, b)
}

func fullName(c *column, row int32) string {
	f, _ := c.first.str(row)
	l, _ := c.last.str(row)
	switch {
	case len(f) == 0:
		return string(l)
	case len(l) == 0:
		return string(f)
	}
	return string(f) + " " + string(l)
}

// appendRow renders one record as the Web API does: @odata.etag first, then each selected
// property with its annotations in front of it.
func appendRow(dst []byte, t *table, row int32, cols []*column, a ann) []byte {
	dst = append(dst, `{"`+odata.KeyETag+`":"W/\"`...)
	dst = strconv.AppendInt(dst, t.owner.version.i64[row], 10)
	dst = append(dst, `\""`...)
	for _, c := range cols {
		dst = append(dst, ',')
		dst = appendCell(dst, t, row, c, a)
	}
	return append(dst, '}')
}

func appendCell(dst []byte, t *table, row int32, c *column, a ann) []byte {
	switch c.kind {
	case kPK:
		dst = appendKey(dst, c.prop, "")
		dst = append(dst, '"')
		dst = t.appendGUID(dst, row)
		return append(dst, '"')
	case kString, kGUIDString:
		dst = appendKey(dst, c.prop, "")
		if b, ok := c.str(row); ok {
			return appendJSONString(dst, b)
		}
	case kFullName:
		dst = appendKey(dst, c.prop, "")
		if !c.isNull(t, row) {
			return appendStr(dst, fullName(c, row))
		}
	case kInt:
		v := c.i32[row]
		if v != nullI32 && a.formatted {
			dst = appendKey(dst, c.prop, annFormatted)
			dst = append(dst, '"')
			dst = appendGrouped(dst, int64(v))
			dst = append(dst, '"', ',')
		}
		dst = appendKey(dst, c.prop, "")
		if v != nullI32 {
			return strconv.AppendInt(dst, int64(v), 10)
		}
	case kChoice, kBool, kEntityName:
		v := c.i32[row]
		if v != nullI32 && a.formatted {
			dst = appendKey(dst, c.prop, annFormatted)
			if c.kind == kEntityName {
				dst = appendStr(dst, c.nameLbl[v])
			} else {
				dst = appendStr(dst, c.label(v))
			}
			dst = append(dst, ',')
		}
		dst = appendKey(dst, c.prop, "")
		if v != nullI32 {
			switch c.kind {
			case kBool:
				return strconv.AppendBool(dst, v != 0)
			case kEntityName:
				return appendStr(dst, c.names[v])
			}
			return strconv.AppendInt(dst, int64(v), 10)
		}
	case kMoney, kMoneyBase, kDecimal:
		var v int64
		if c.kind == kMoneyBase {
			v = c.baseCents(row)
		} else {
			v = c.i64[row]
		}
		if v != nullI64 && a.formatted && c.kind != kDecimal {
			dst = appendKey(dst, c.prop, annFormatted)
			dst = appendMoneyFormatted(dst, v)
			dst = append(dst, ',')
		}
		dst = appendKey(dst, c.prop, "")
		if v != nullI64 {
			return appendMoney(dst, v)
		}
	case kBigInt:
		dst = appendKey(dst, c.prop, "")
		if v := c.i64[row]; v != nullI64 {
			return strconv.AppendInt(dst, v, 10)
		}
	case kDateTime, kDateOnly:
		v := c.u32[row]
		if v != 0 && a.formatted {
			dst = appendKey(dst, c.prop, annFormatted)
			dst = appendTimeFormatted(dst, v, c.kind == kDateOnly)
			dst = append(dst, ',')
		}
		dst = appendKey(dst, c.prop, "")
		if v != 0 {
			if c.kind == kDateOnly {
				return appendDate(dst, v)
			}
			return appendTime(dst, v)
		}
	case kLookup:
		target, idx := c.lookup(row)
		if target != nil {
			if a.formatted {
				dst = appendKey(dst, c.prop, annFormatted)
				dst = appendPrimaryName(dst, target, idx)
				dst = append(dst, ',')
			}
			if a.navProp {
				dst = appendKey(dst, c.prop, annNavProp)
				nav := c.navProp
				if len(c.targets) > 1 {
					nav = c.navProp + "_" + target.logical
				}
				dst = appendStr(dst, nav)
				dst = append(dst, ',')
			}
			if a.lookupLN {
				dst = appendKey(dst, c.prop, annLookupLN)
				dst = appendStr(dst, target.logical)
				dst = append(dst, ',')
			}
			dst = appendKey(dst, c.prop, "")
			dst = append(dst, '"')
			dst = target.appendGUID(dst, idx)
			return append(dst, '"')
		}
		dst = appendKey(dst, c.prop, "")
	case kConstLookup:
		if a.formatted {
			dst = appendKey(dst, c.prop, annFormatted)
			dst = appendStr(dst, c.constFmt)
			dst = append(dst, ',')
		}
		if a.navProp {
			dst = appendKey(dst, c.prop, annNavProp)
			dst = appendStr(dst, c.name)
			dst = append(dst, ',')
		}
		if a.lookupLN {
			dst = appendKey(dst, c.prop, annLookupLN)
			dst = appendStr(dst, c.constLN)
			dst = append(dst, ',')
		}
		dst = appendKey(dst, c.prop, "")
		return appendStr(dst, c.constID)
	}
	return append(dst, "null"...)
}

// deltaTokenText renders <version>!<MM/dd/yyyy HH:mm:ss> as Dataverse does.
func deltaTokenText(version int64, at time.Time) string {
	return strconv.FormatInt(version, 10) + "!" + at.UTC().Format("01/02/2006 15:04:05")
}
