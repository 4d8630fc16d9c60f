package dataverse

import (
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/ampel/ampel/odata"
)

// Page decoding.
//
// A page is read whole into one buffer (pages are bounded by
// odata.maxpagesize) and scanned once by a small JSON scanner made for the
// flat shape of Dataverse rows. Strings without escapes, number literals
// and property names are substrings of that buffer: a page of 5,000 rows
// costs a handful of allocations instead of several per property, which is
// what a generic decoder into map[string]any pays (see BenchmarkDecode for
// both). The buffer is never written after the scan, so sharing it is
// safe; a string taken from a page keeps the page's buffer alive.
//
// The scanner accepts what encoding/json accepts for these documents
// (FuzzDecodePage checks it never panics and agrees with encoding/json on
// validity of the envelope), and reports anything else as an error with
// its byte offset.

type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off) }

type scanner struct {
	s string
	i int
}

func (d *scanner) fail(format string, args ...any) {
	panic(&syntaxError{off: d.i, msg: fmt.Sprintf(format, args...)})
}

func (d *scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *scanner) peek() byte {
	d.ws()
	if d.i >= len(d.s) {
		d.fail("unexpected end of JSON")
	}
	return d.s[d.i]
}

func (d *scanner) expect(c byte) {
	if d.peek() != c {
		d.fail("expected %q, found %q", c, d.s[d.i])
	}
	d.i++
}

// more consumes a ',' and reports true, or consumes end and reports false.
func (d *scanner) more(end byte) bool {
	switch d.peek() {
	case ',':
		d.i++
		return true
	case end:
		d.i++
		return false
	}
	d.fail("expected ',' or %q, found %q", end, d.s[d.i])
	return false
}

// str reads a string; without escapes it is a substring of the input.
func (d *scanner) str() string {
	d.expect('"')
	start := d.i
	s := d.s
	i := specialIndex(s, start)
	if i >= len(s) {
		d.fail("unterminated string")
	}
	switch c := s[i]; {
	case c == '"':
		d.i = i + 1
		return s[start:i]
	case c == '\\':
		d.i = i
		return d.escaped(start)
	}
	d.i = i
	d.fail("control character in string")
	return ""
}

// specialIndex returns the index of the first byte at or after i that
// ends the fast path of str: a quote, a backslash or a control character
// (invalid in JSON strings); len(s) if none. It tests eight bytes at a
// time: in each mask a byte's high bit is set when it matches, and bits
// can be wrongly set only above a true match, so the lowest set bit is
// the first match.
func specialIndex(s string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q := x ^ (lo * '"')
		b := x ^ (lo * '\\')
		m := ((q - lo) &^ q) | ((b - lo) &^ b) | ((x - lo*0x20) &^ x)
		if m &= hi; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return i
}

func (d *scanner) escaped(start int) string {
	buf := make([]byte, 0, d.i-start+16)
	buf = append(buf, d.s[start:d.i]...)
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(buf)
		case c < 0x20:
			d.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			break
		}
		e := d.s[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r := d.hex4()
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if strings.HasPrefix(d.s[d.i:], "\\u") {
					save := d.i
					d.i += 2
					if r2 = d.hex4(); utf16.DecodeRune(r, r2) == unicode.ReplacementChar {
						d.i, r2 = save, -1
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			d.i -= 2
			d.fail("bad string escape")
		}
	}
	d.fail("unterminated string")
	return ""
}

func (d *scanner) hex4() rune {
	if d.i+4 > len(d.s) {
		d.fail("bad \\u escape")
	}
	var r rune
	for _, c := range []byte(d.s[d.i : d.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			d.fail("bad \\u escape")
		}
		r = r<<4 | rune(c)
	}
	d.i += 4
	return r
}

func (d *scanner) literal(word string) {
	if !strings.HasPrefix(d.s[d.i:], word) {
		d.fail("invalid literal")
	}
	d.i += len(word)
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *scanner) number() string {
	s, start := d.s, d.i
	i := start
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		d.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			d.i = i
			d.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			d.i = i
			d.fail("invalid number")
		}
	}
	d.i = i
	return s[start:i]
}

// value reads any JSON value.
func (d *scanner) value() Value {
	switch c := d.peek(); {
	case c == '"':
		return Value{Kind: KindString, Text: d.str()}
	case c == '-' || c >= '0' && c <= '9':
		return Value{Kind: KindNumber, Text: d.number()}
	case c == 't':
		d.literal("true")
		return Value{Kind: KindBool, Text: "true"}
	case c == 'f':
		d.literal("false")
		return Value{Kind: KindBool, Text: "false"}
	case c == 'n':
		d.literal("null")
		return Value{Kind: KindNull}
	case c == '{' || c == '[':
		start := d.i
		d.skip()
		return Value{Kind: KindRaw, Text: d.s[start:d.i]}
	default:
		d.fail("unexpected character %q", c)
	}
	return Value{}
}

// skip passes over any JSON value, checking its syntax.
func (d *scanner) skip() {
	switch d.peek() {
	case '{':
		d.i++
		if d.peek() == '}' {
			d.i++
			return
		}
		for {
			d.skipStr()
			d.expect(':')
			d.skip()
			if !d.more('}') {
				return
			}
		}
	case '[':
		d.i++
		if d.peek() == ']' {
			d.i++
			return
		}
		for {
			d.skip()
			if !d.more(']') {
				return
			}
		}
	case '"':
		d.skipStr()
	default:
		d.value()
	}
}

// skipStr passes over a string, checking it as str does, without making
// it (no copy for escapes).
func (d *scanner) skipStr() {
	d.expect('"')
	for {
		i := specialIndex(d.s, d.i)
		if i >= len(d.s) {
			d.fail("unterminated string")
		}
		d.i = i
		switch c := d.s[i]; {
		case c == '"':
			d.i++
			return
		case c < 0x20:
			d.fail("control character in string")
		case i+1 >= len(d.s):
			d.fail("unterminated string")
		}
		switch d.s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			d.i += 2
		case 'u':
			d.i += 2
			d.hex4()
		default:
			d.fail("bad string escape")
		}
	}
}

// pageDecoder holds the growing storage of one page.
type pageDecoder struct {
	scanner
	p      *Page
	fields []Field
	sized  bool
}

// decodePage scans a whole response body into p; linksOnly skips the
// rows (checking their syntax) and keeps the links.
func decodePage(body []byte, p *Page, linksOnly bool) (err error) {
	if len(body) == 0 {
		return &syntaxError{msg: "empty body"}
	}
	d := &pageDecoder{scanner: scanner{s: unsafe.String(unsafe.SliceData(body), len(body))}, p: p}
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*syntaxError)
			if !ok {
				panic(r)
			}
			err = se
		}
	}()
	d.expect('{')
	sawValue := false
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			key := d.str()
			d.expect(':')
			switch key {
			case "value":
				sawValue = true
				if linksOnly {
					if d.peek() != '[' {
						d.fail("expected '[', found %q", d.s[d.i])
					}
					d.skip()
				} else {
					d.records()
				}
			case odata.KeyNextLink:
				p.NextLink = strings.Clone(d.str()) // kept after Release
			case odata.KeyDeltaLink:
				p.DeltaLink = strings.Clone(d.str()) // kept after Release
			case odata.KeyContext:
				p.Context = strings.Clone(d.str()) // kept after Release
			default:
				d.skip()
			}
			if !d.more('}') {
				break
			}
		}
	}
	d.ws()
	if d.i != len(d.s) {
		d.fail("data after the JSON object")
	}
	if !sawValue {
		return &syntaxError{off: 0, msg: `no "value" array`}
	}
	p.decoded = int64(cap(d.fields))*int64(unsafe.Sizeof(Field{})) + int64(cap(p.Records))*int64(unsafe.Sizeof(Record{})) +
		int64(cap(p.Deleted))*int64(unsafe.Sizeof(Deleted{}))
	return nil
}

func (d *pageDecoder) records() {
	d.expect('[')
	if d.peek() == ']' {
		d.i++
		return
	}
	for {
		start := d.i
		d.record()
		if !d.sized && len(d.p.Records) == 1 {
			d.sized = true
			// size the storage from the first row
			perRow := max(d.i-start, 1)
			rows := (len(d.s)-start)/perRow*5/4 + 2
			fields := make([]Field, len(d.fields), len(d.fields)*rows+len(d.fields))
			copy(fields, d.fields)
			d.fields = fields
			d.p.Records[0].Fields = fields[:len(fields):len(fields)]
			recs := make([]Record, 1, rows)
			recs[0] = d.p.Records[0]
			d.p.Records = recs
		}
		if !d.more(']') {
			return
		}
	}
}

// field finds the field called name among the current record's (from
// index start), looking at the last few first: annotations sit next to
// their property. full says to look at all of them when not found there.
// A field not found is appended; created says so.
func (d *pageDecoder) field(start int, name string, full bool) (f *Field, created bool) {
	n := len(d.fields)
	for j := n - 1; j >= start && j >= n-3; j-- {
		if d.fields[j].Name == name {
			return &d.fields[j], false
		}
	}
	if full {
		for j := start; j < n-3; j++ {
			if d.fields[j].Name == name {
				return &d.fields[j], false
			}
		}
	}
	d.fields = append(d.fields, Field{Name: name})
	return &d.fields[len(d.fields)-1], true
}

func (d *pageDecoder) record() {
	d.expect('{')
	start := len(d.fields)
	var etag, odataID string
	deleted := false
	pending := 0 // fields created by an annotation, still without their value
	if d.peek() == '}' {
		d.i++
	} else {
		for {
			key := d.str()
			d.expect(':')
			switch at := strings.IndexByte(key, '@'); {
			case at == 0:
				switch key {
				case odata.KeyETag:
					etag = d.value().Text
				case odata.KeyContext:
					deleted = strings.Contains(d.value().Text, odata.ContextDeletedEntity) || deleted
				case odata.KeyID, odata.KeyIDV401:
					odataID = d.value().Text
				case odata.KeyRemoved, odata.KeyRemovedV4:
					deleted = true
					d.skip()
				default:
					d.skip()
				}
			case at > 0:
				f, created := d.field(start, key[:at], true)
				if created {
					pending++
				}
				switch key[at+1:] {
				case odata.AnnotationFormattedValue:
					f.Formatted = d.value().Text
				case odata.AnnotationLookupLogicalName:
					f.LookupLogicalName = d.value().Text
				default:
					d.skip()
				}
			default:
				v := d.value()
				// Dataverse never repeats a property, so a plain property
				// only needs looking up where an annotation came first.
				f, created := d.field(start, key, pending > 0)
				if !created && f.Value.Kind == KindMissing {
					pending--
				}
				f.Value = v
			}
			if !d.more('}') {
				break
			}
		}
	}
	if deleted {
		del := Deleted{Reason: "deleted"}
		for _, f := range d.fields[start:] {
			switch f.Name {
			case "id":
				del.ID = f.Value.Text
			case "reason":
				del.Reason = f.Value.Text
			}
		}
		if del.ID == "" && odataID != "" { // OData 4.01 form: "@id":"accounts(<guid>)"
			if l, r := strings.LastIndexByte(odataID, '('), strings.LastIndexByte(odataID, ')'); l >= 0 && r > l {
				del.ID = odataID[l+1 : r]
			}
		}
		if del.ID == "" {
			d.fail("deleted entity without id")
		}
		d.fields = d.fields[:start]
		d.p.Deleted = append(d.p.Deleted, del)
		return
	}
	d.p.Records = append(d.p.Records, Record{ETag: etag, Fields: d.fields[start:len(d.fields):len(d.fields)]})
}

// DecodePage decodes a whole page body as Read does; for benchmarks and
// tools that hold raw pages. The page keeps body: do not modify it.
func DecodePage(body []byte) (*Page, error) {
	p := &Page{Number: 1, Bytes: len(body)}
	if err := decodePage(body, p, false); err != nil {
		return nil, err
	}
	return p, nil
}
