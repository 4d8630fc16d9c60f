package dataverse

import (
	"strconv"
	"strings"
	"time"
)

// Kind says what JSON value a property had.
type Kind uint8

// The kinds of Value. KindMissing means the property was not in the
// record at all (FetchXML omits nulls; $select sends explicit nulls):
// callers treat both as NULL.
const (
	KindMissing Kind = iota
	KindNull
	KindString
	KindNumber
	KindBool
	// KindRaw is an object or array, kept as its JSON text.
	KindRaw
)

// Value is one property value as it came over the wire: a string
// (unescaped), a number (its literal text, so decimals stay exact), a
// bool, null, or raw JSON.
type Value struct {
	Kind Kind
	// Text is the string, the number literal, "true"/"false" or the raw JSON.
	Text string
}

// IsNull reports whether the value is null or missing.
func (v Value) IsNull() bool { return v.Kind == KindMissing || v.Kind == KindNull }

// Int64 parses a number (or a string holding one).
func (v Value) Int64() (int64, error) { return strconv.ParseInt(v.Text, 10, 64) }

// Float64 parses a number (or a string holding one).
func (v Value) Float64() (float64, error) { return strconv.ParseFloat(v.Text, 64) }

// Bool reports a JSON true.
func (v Value) Bool() bool { return v.Kind == KindBool && v.Text == "true" }

// Time parses an Edm.DateTimeOffset ("2024-03-15T10:00:00Z") or an
// Edm.Date ("2024-03-15", midnight UTC).
func (v Value) Time() (time.Time, error) { return ParseTime(v.Text) }

// ParseTime parses the date and date-time forms Dataverse sends. The
// usual forms, 2024-03-15 and 2024-03-15T10:20:30Z, take a fast path.
func ParseTime(s string) (time.Time, error) {
	switch {
	case len(s) == 10 && s[4] == '-' && s[7] == '-':
		if y, m, d, ok := ymd(s); ok {
			return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), nil
		}
		return time.Parse(time.DateOnly, s)
	case len(s) == 20 && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z':
		y, m, d, ok := ymd(s)
		hh, ok1 := num2(s[11:13])
		mm, ok2 := num2(s[14:16])
		ss, ok3 := num2(s[17:19])
		if ok && ok1 && ok2 && ok3 && hh < 24 && mm < 60 && ss < 60 {
			return time.Date(y, time.Month(m), d, hh, mm, ss, 0, time.UTC), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

// ymd reads YYYY-MM-DD at the start of s and checks the day exists.
func ymd(s string) (y, m, d int, ok bool) {
	y1, ok1 := num2(s[0:2])
	y2, ok2 := num2(s[2:4])
	m, ok3 := num2(s[5:7])
	d, ok4 := num2(s[8:10])
	y = y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func num2(s string) (int, bool) {
	a, b := s[0]-'0', s[1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

// Field is one property of a record with its annotations.
type Field struct {
	// Name is the Web API property name: the logical name, or
	// _<name>_value for a lookup.
	Name  string
	Value Value
	// Formatted is the OData.Community.Display.V1.FormattedValue
	// annotation: the lookup's primary name or the choice's label in the
	// caller's language; "" if none.
	Formatted string
	// LookupLogicalName is the Microsoft.Dynamics.CRM.lookuplogicalname
	// annotation: the table a lookup points to; "" if none.
	LookupLogicalName string
}

// Record is one row of a page. Its strings share the page's buffer.
type Record struct {
	// ETag is @odata.etag, W/"<versionnumber>".
	ETag string
	// Fields are the properties in the order the server sent them.
	Fields []Field
}

// Field returns the property called name, or nil.
func (r *Record) Field(name string) *Field {
	for i := range r.Fields {
		if r.Fields[i].Name == name {
			return &r.Fields[i]
		}
	}
	return nil
}

// FieldAt returns the property called name, looking first at index hint,
// and the index where it was found (-1 if absent). Rows of one query
// usually have the same property order, so a caller that keeps the last
// index finds each field in one comparison.
func (r *Record) FieldAt(name string, hint int) (*Field, int) {
	if hint >= 0 && hint < len(r.Fields) && r.Fields[hint].Name == name {
		return &r.Fields[hint], hint
	}
	for i := range r.Fields {
		if r.Fields[i].Name == name {
			return &r.Fields[i], i
		}
	}
	return nil, -1
}

// Version returns the row version from @odata.etag (W/"123" → 123), or
// from versionnumber, and whether one was found.
func (r *Record) Version() (uint64, bool) {
	if f := r.Field("versionnumber"); f != nil && f.Value.Kind == KindNumber {
		if n, err := strconv.ParseUint(f.Value.Text, 10, 64); err == nil {
			return n, true
		}
	}
	e := strings.TrimPrefix(r.ETag, "W/")
	e = strings.Trim(e, `"`)
	n, err := strconv.ParseUint(e, 10, 64)
	return n, err == nil && e != ""
}

// Deleted is a $deletedEntity entry of a delta page.
type Deleted struct {
	// ID is the primary key of the removed record.
	ID string
	// Reason is "deleted" (or "changed": the record left the result set).
	Reason string
}
