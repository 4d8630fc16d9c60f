package marts

import (
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

// Mart is one mart's definition: the default version of sql/marts/<id>.
type Mart struct {
	// Name is the mart's id, e.g. "fact_lead".
	Name string
	// Version is the definition's version; Checksum its sha256.
	Version  int
	Checksum string
	// Title and Description say what a row is, for people and the feed.
	Title, Description string
	// Key names the columns that identify a row (with the environment in
	// it, except in dim_date).
	Key []string
	// Sources are the current-state views of synced tables the mart
	// reads; when one is missing (the table is not synced) the mart is
	// published empty.
	Sources []string
	// Columns are the mart's columns in order, with their ClickHouse types.
	Columns []warehouse.Column
	// Body is the SELECT, a template that sees .Dialect, .From and .TZ.
	Body string
	// File is the definition file.
	File *versioned.File
}

// typeRE is the set of types a mart column may have: what Power BI maps
// well (Int64 rather than UInt64, Decimal for money, Date, non-Nullable
// numbers).
var typeRE = regexp.MustCompile(`^(String|Int64|Float64|UUID|Date|DateTime\('UTC'\)|Decimal\(\d+, \d+\)|Nullable\((Float64|Date|DateTime\('UTC'\))\))$`)

// load reads the default version of every mart in fsys (sql/marts).
func load(fsys fs.FS, name string) ([]*Mart, error) {
	set, err := versioned.Load(versioned.Tree{Name: name, FS: fsys})
	if err != nil {
		return nil, err
	}
	var out []*Mart
	for _, f := range set.Defaults() {
		m, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("marts: no mart definitions in %s", name)
	}
	return out, nil
}

// parse reads one definition: a .sql file whose header holds id, version,
// title, description, key, sources and columns (an ordered mapping of
// name: type).
func parse(f *versioned.File) (*Mart, error) {
	errf := func(line int, key, format string, args ...any) error {
		return &versioned.Error{Path: f.Path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	if f.Ext != "sql" {
		return nil, errf(0, "", "a mart definition is a .sql file")
	}
	m := &Mart{Name: f.ID, Version: f.Version, Checksum: f.Checksum, Body: strings.TrimSpace(f.Body), File: f}
	h := f.Header
	for i := 0; i+1 < len(h.Content); i += 2 {
		k, v := h.Content[i], h.Content[i+1]
		var err error
		switch k.Value {
		case "id", "version":
		case "title":
			err = v.Decode(&m.Title)
		case "description":
			err = v.Decode(&m.Description)
		case "key":
			err = v.Decode(&m.Key)
		case "sources":
			err = v.Decode(&m.Sources)
		case "columns":
			if v.Kind != yaml.MappingNode {
				return nil, errf(v.Line, "columns", "write the columns as a mapping, name: ClickHouse type")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				c := warehouse.Column{Name: v.Content[j].Value, Type: v.Content[j+1].Value}
				if !warehouse.ValidIdentifier(c.Name) || strings.HasPrefix(c.Name, "_") {
					return nil, errf(v.Content[j].Line, "columns", "%q: a column name is letters, digits and underscores, not starting with _", c.Name)
				}
				if !typeRE.MatchString(c.Type) {
					return nil, errf(v.Content[j].Line, "columns", "%s: type %q is not one Power BI maps well; use String, Int64, Float64, UUID, Date, DateTime('UTC'), Decimal(P, S) or Nullable(Float64|Date|DateTime('UTC'))", c.Name, c.Type)
				}
				m.Columns = append(m.Columns, c)
			}
		default:
			return nil, errf(k.Line, k.Value, "unknown key; a mart's header has id, version, title, description, key, sources and columns")
		}
		if err != nil {
			return nil, errf(v.Line, k.Value, "%v", err)
		}
	}
	switch {
	case m.Title == "":
		return nil, errf(h.Line, "title", "missing")
	case m.Description == "":
		return nil, errf(h.Line, "description", "missing")
	case len(m.Columns) == 0:
		return nil, errf(h.Line, "columns", "missing")
	case len(m.Key) == 0:
		return nil, errf(h.Line, "key", "missing")
	case m.Body == "":
		return nil, errf(0, "", "the SELECT after the header is missing")
	}
	for _, k := range m.Key {
		c, ok := m.column(k)
		if !ok {
			return nil, errf(h.Line, "key", "%q is not a column", k)
		}
		if strings.HasPrefix(c.Type, "Nullable") {
			return nil, errf(h.Line, "key", "%q is Nullable; a key column must not be", k)
		}
	}
	for _, s := range m.Sources {
		if !warehouse.ValidIdentifier(s) {
			return nil, errf(h.Line, "sources", "%q is not a table name", s)
		}
	}
	return m, nil
}

func (m *Mart) column(name string) (warehouse.Column, bool) {
	for _, c := range m.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return warehouse.Column{}, false
}

// body renders the mart's SELECT for the engine. The SELECT reads each
// source as {{.From.<source>}}: the view itself, or, when the view lacks
// columns the SELECT names (a table synced with exclude_columns), the view
// with NULL in their place — so that the mart shows the defaults (” , 0,
// -1, empty) for them instead of failing. cat holds the sources' columns.
// {{.TZ}} is the string literal of tz, the zone the mart's dates are days
// in: a Date taken from a DateTime is toDate(x, {{.TZ}}).
func (m *Mart) body(d warehouse.Dialect, cat warehouse.Catalog, tz string) (string, error) {
	from := map[string]string{}
	for _, src := range m.Sources {
		have := map[string]bool{}
		for _, c := range cat[src] {
			have[c.Name] = true
		}
		var missing []string
		for _, w := range m.names() {
			if !have[w] && w != src {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			from[src] = warehouse.QuoteIdentifier(src)
			continue
		}
		var b strings.Builder
		b.WriteString("(SELECT *")
		for _, w := range missing {
			b.WriteString(", NULL AS " + warehouse.QuoteIdentifier(w))
		}
		b.WriteString(" FROM " + warehouse.QuoteIdentifier(src) + ")")
		from[src] = b.String()
	}
	return ampelsql.RenderText(m.File.Path, m.Body, map[string]any{"Dialect": d.TemplateData(), "From": from, "TZ": warehouse.QuoteString(tz)})
}

// nameRE finds, in a mart's SELECT, string literals and comments (to skip)
// and lower-case names, with an AS before them (an alias: skipped) or a
// parenthesis after them (a function: skipped).
var nameRE = regexp.MustCompile(`(?s)'(?:[^'\\]|\\.)*'|--[^\n]*|/\*.*?\*/|\{\{.*?\}\}|((?i:as)\s+)?\b([a-z_][a-z0-9_]*)\b(\s*\()?`)

// names lists the column names the mart's SELECT reads: every lower-case
// name that is neither an alias nor a function. Mart SQL writes keywords
// in capitals, as all of Ampel's SQL does.
func (m *Mart) names() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range nameRE.FindAllStringSubmatch(m.Body, -1) {
		if g[2] == "" || g[1] != "" || g[3] != "" || seen[g[2]] {
			continue
		}
		seen[g[2]] = true
		out = append(out, g[2])
	}
	return out
}
