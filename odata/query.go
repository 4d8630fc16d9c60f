package odata

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Query holds the system query options of a request to an entity set.
type Query struct {
	// Select lists the properties to read; empty reads all.
	Select []string
	// Filter and OrderBy are $filter and $orderby, as OData text.
	Filter, OrderBy string
	// Expand is $expand, as OData text.
	Expand string
	// Top caps the rows; 0 leaves it out.
	Top int
	// Count asks for @odata.count.
	Count bool
}

// Encode writes the options as a URL query string, without the leading
// ?: $select, $filter, $orderby, $expand, $top and $count in that order,
// the options left empty left out, each value escaped with EscapeOption.
func (q Query) Encode() string {
	var parts []string
	add := func(name, value string) { parts = append(parts, name+"="+EscapeOption(value)) }
	if len(q.Select) > 0 {
		add(OptionSelect, strings.Join(q.Select, ","))
	}
	if q.Filter != "" {
		add(OptionFilter, q.Filter)
	}
	if q.OrderBy != "" {
		add(OptionOrderBy, q.OrderBy)
	}
	if q.Expand != "" {
		add(OptionExpand, q.Expand)
	}
	if q.Top > 0 {
		add(OptionTop, strconv.Itoa(q.Top))
	}
	if q.Count {
		add(OptionCount, "true")
	}
	return strings.Join(parts, "&")
}

// EscapeOption percent-encodes a query option value: spaces as %20 (OData
// services do not all read + as a space), commas kept, as Microsoft's
// samples write lists.
func EscapeOption(v string) string {
	return strings.ReplaceAll(strings.ReplaceAll(url.QueryEscape(v), "+", "%20"), "%2C", ",")
}

// ParseSelect splits a $select value into property names (trimmed, empty entries dropped).
func ParseSelect(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// OrderItem is one key of an $orderby.
type OrderItem struct {
	Property string
	Desc     bool
}

// ParseOrderBy parses "a desc, b asc, c" into order items.
func ParseOrderBy(s string) ([]OrderItem, error) {
	var out []OrderItem
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		switch len(f) {
		case 0:
			return nil, &SyntaxError{Msg: "empty $orderby item"}
		case 1:
			out = append(out, OrderItem{Property: f[0]})
		case 2:
			switch strings.ToLower(f[1]) {
			case "asc":
				out = append(out, OrderItem{Property: f[0]})
			case "desc":
				out = append(out, OrderItem{Property: f[0], Desc: true})
			default:
				return nil, &SyntaxError{Msg: fmt.Sprintf("invalid $orderby direction %q", f[1])}
			}
		default:
			return nil, &SyntaxError{Msg: fmt.Sprintf("invalid $orderby item %q", strings.TrimSpace(part))}
		}
		if !isIdent(out[len(out)-1].Property) {
			return nil, &SyntaxError{Msg: fmt.Sprintf("invalid $orderby property %q", out[len(out)-1].Property)}
		}
	}
	return out, nil
}

// Prefer holds the OData preferences of a request (RFC 7240 Prefer headers).
type Prefer struct {
	MaxPageSize          int  // 0 when absent or invalid
	TrackChanges         bool // odata.track-changes
	ReturnRepresentation bool // return=representation
	// IncludeAnnotations is the pattern list of odata.include-annotations (nil when absent).
	IncludeAnnotations []string
}

// String writes the preferences as one Prefer (or Preference-Applied)
// header value: odata.maxpagesize, odata.include-annotations (quoted;
// written whenever IncludeAnnotations is not nil), odata.track-changes
// and return=representation, in that order, separated by commas; "" when
// none is set.
func (p Prefer) String() string {
	var items []string
	if p.MaxPageSize > 0 {
		items = append(items, "odata.maxpagesize="+strconv.Itoa(p.MaxPageSize))
	}
	if p.IncludeAnnotations != nil {
		items = append(items, `odata.include-annotations="`+strings.Join(p.IncludeAnnotations, ",")+`"`)
	}
	if p.TrackChanges {
		items = append(items, "odata.track-changes")
	}
	if p.ReturnRepresentation {
		items = append(items, "return=representation")
	}
	return strings.Join(items, ",")
}

// ParsePrefer reads every Prefer header of h. Preferences are separated by ',' — and, as
// Microsoft's samples write them and Dataverse honours them, by ';' too; a value may be
// quoted (odata.include-annotations="a,b").
func ParsePrefer(h http.Header) Prefer {
	var p Prefer
	for _, line := range h.Values(HeaderPrefer) {
		for _, item := range splitQuoted(strings.ReplaceAll(line, ";", ","), ',') {
			item = strings.TrimSpace(item)
			name, value, _ := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.TrimSpace(value)
			if uq, err := strconv.Unquote(value); err == nil && strings.HasPrefix(value, `"`) {
				value = uq
			}
			switch name {
			case "odata.maxpagesize", "maxpagesize":
				if n, err := strconv.Atoi(value); err == nil && n > 0 {
					p.MaxPageSize = n
				}
			case "odata.track-changes", "track-changes":
				p.TrackChanges = true
			case "return":
				p.ReturnRepresentation = strings.EqualFold(value, "representation")
			case "odata.include-annotations", "include-annotations":
				p.IncludeAnnotations = ParseSelect(value)
				if p.IncludeAnnotations == nil {
					p.IncludeAnnotations = []string{}
				}
			}
		}
	}
	return p
}

func splitQuoted(s string, sep byte) []string {
	var out []string
	start, inq := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			inq = !inq
		case s[i] == sep && !inq:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// AnnotationIncluded reports whether the annotation term (e.g.
// "OData.Community.Display.V1.FormattedValue") matches the include-annotations pattern list:
// "*" matches all, "Namespace.*" a namespace prefix, otherwise an exact (case-insensitive)
// term; a pattern starting with "-" excludes and wins over includes.
func AnnotationIncluded(patterns []string, term string) bool {
	included := false
	for _, p := range patterns {
		exclude := strings.HasPrefix(p, "-")
		p = strings.TrimPrefix(p, "-")
		if !annotationMatch(p, term) {
			continue
		}
		if exclude {
			return false
		}
		included = true
	}
	return included
}

func annotationMatch(pattern, term string) bool {
	if pattern == "*" {
		return true
	}
	if strings.HasSuffix(pattern, ".*") {
		prefix := pattern[:len(pattern)-1]
		return len(term) >= len(prefix) && strings.EqualFold(term[:len(prefix)], prefix)
	}
	return strings.EqualFold(pattern, term)
}

// ErrorBody is the JSON shape of an error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// MarshalError returns {"error":{"code":…,"message":…}}.
func MarshalError(code, message string) []byte {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, message
	out, _ := json.Marshal(b)
	return out
}

// ParseErrorBody reads an error response's body; ok is false when it is
// not that shape or says nothing (no code, no message).
func ParseErrorBody(body []byte) (code, message string, ok bool) {
	var e ErrorBody
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" && e.Error.Message == "" {
		return "", "", false
	}
	return e.Error.Code, e.Error.Message, true
}

// WriteError writes an error response in Dataverse's shape with the OData headers.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", ContentTypeJSON)
	h.Set(HeaderVersion, Version)
	w.WriteHeader(status)
	_, _ = w.Write(MarshalError(code, message))
}
