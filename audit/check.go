package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/warehouse"
)

// checkData is what the statement of an sql rule sees, rendered once per table it checks.
type checkData struct {
	// Dialect is warehouse.Dialect.TemplateData: {{if .Dialect.ModernSQL}} picks a form.
	Dialect map[string]any
	// Now is a DateTime literal of the audit's moment (Options.AsOf).
	Now string
	// Table is the view checked, Key its primary key column.
	Table, Key string
	// Columns are the view's columns; DateColumns, MoneyColumns and ChoiceColumns name those
	// of a kind: Date or DateTime (not Ampel's _ columns), money (Decimal(19, 4), not the
	// _base twins), and choices (an Int32 column with a <name>name label column).
	Columns                                  []warehouse.Column
	DateColumns, MoneyColumns, ChoiceColumns []string
	// CriticalFields are the table's critical fields (Options.CriticalFields).
	CriticalFields []string
	// Params are the rule's params.
	Params map[string]string
	// RetentionDays is Options.RetentionDays.
	RetentionDays int
	// Views reports which views (and tables) the warehouse has: {{if index .Views "quote"}}.
	Views map[string]bool
}

// Lookup is one lookup an sql rule checks, as the template function lookups returns it.
type Lookup struct {
	Table, Key, Column string
	// TypeColumn is the lookup's <column>type column when the view has one: a polymorphic
	// lookup is checked against the target its type names.
	TypeColumn string
	// Target is the table the lookup points at, TargetKey its primary key.
	Target, TargetKey string
}

// checkFuncs are the template functions of an sql rule, bound to one table:
//
//	ident NAME          quotes a name
//	words TEXT          splits text at spaces: {{range words .Params.columns}}
//	has NAME            whether the table has column NAME (or TABLE.NAME: another view)
//	columns NAMES...    the NAMES (strings or lists) the table has, in order
//	lookups SPEC        the lookups of the table in SPEC — "table.column:target" items,
//	                    several targets of a polymorphic lookup joined by | — whose
//	                    column and target view exist
func checkFuncs(cat warehouse.Catalog, table string) template.FuncMap {
	has := func(table, col string) bool {
		return slices.ContainsFunc(cat[table], func(c warehouse.Column) bool { return c.Name == col })
	}
	return template.FuncMap{
		"ident": warehouse.QuoteIdentifier,
		"words": strings.Fields,
		"has": func(name string) bool {
			if t, c, ok := strings.Cut(name, "."); ok {
				return has(t, c)
			}
			return has(table, name)
		},
		"columns": func(names ...any) ([]string, error) {
			var out []string
			for _, n := range names {
				var list []string
				switch x := n.(type) {
				case string:
					list = []string{x}
				case []string:
					list = x
				default:
					return nil, fmt.Errorf("columns: want names, got %T", n)
				}
				for _, c := range list {
					if has(table, c) && !slices.Contains(out, c) {
						out = append(out, c)
					}
				}
			}
			return out, nil
		},
		"lookups": func(spec string) ([]Lookup, error) {
			var out []Lookup
			for _, item := range strings.Fields(spec) {
				src, targets, ok := strings.Cut(item, ":")
				t, col, ok2 := strings.Cut(src, ".")
				if !ok || !ok2 || targets == "" {
					return nil, fmt.Errorf("lookups: %q is not table.column:target[|target]", item)
				}
				if t != table || !has(t, col) {
					continue
				}
				ts := strings.Split(targets, "|")
				typeCol := ""
				if has(t, col+"type") {
					typeCol = col + "type"
				} else if len(ts) > 1 {
					continue // a polymorphic lookup without its type column cannot be checked
				}
				for _, target := range ts {
					if key := keyOf(target); has(target, key) {
						out = append(out, Lookup{Table: t, Key: keyOf(t), Column: col, TypeColumn: typeCol, Target: target, TargetKey: key})
					}
				}
			}
			return out, nil
		},
	}
}

// columnKinds fills the kind lists of d from its columns.
func (d *checkData) columnKinds() {
	names := map[string]string{}
	for _, c := range d.Columns {
		names[c.Name] = c.Type
	}
	for _, c := range d.Columns {
		if strings.HasPrefix(c.Name, "_") {
			continue
		}
		t := strings.TrimSuffix(strings.TrimPrefix(c.Type, "Nullable("), ")")
		switch {
		case t == "Date" || strings.HasPrefix(t, "DateTime"):
			d.DateColumns = append(d.DateColumns, c.Name)
		case strings.ReplaceAll(t, " ", "") == "Decimal(19,4)" && !strings.HasSuffix(c.Name, "_base"):
			d.MoneyColumns = append(d.MoneyColumns, c.Name)
		case t == "Int32" && strings.Contains(names[c.Name+"name"], "String"):
			d.ChoiceColumns = append(d.ChoiceColumns, c.Name)
		}
	}
}

// render renders the statement of sql rule def for one table; "" means the rule has nothing
// to check there (a view it needs is not synced).
func (def *Definition) render(cat warehouse.Catalog, data *checkData) (string, error) {
	tmpl, err := template.New(def.File.Path).Funcs(checkFuncs(cat, data.Table)).Option("missingkey=error").Parse(def.File.Body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", def.File.Path, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%s: %w", def.File.Path, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// rawFinding is one row of an sql rule's result.
type rawFinding struct {
	env, record, field, detail, recordTable string
	values                                  []Value
}

// runCheck runs the statement and reads its rows by the result contract (package doc).
func runCheck(ctx context.Context, st warehouse.Store, def *Definition, table, q string) ([]rawFinding, error) {
	rows, err := st.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s on %s (%s): %w", def.Ref(), table, def.File.Path, err)
	}
	defer rows.Close()
	cols := rows.Columns()
	idx := func(name string) int {
		return slices.IndexFunc(cols, func(c warehouse.Column) bool { return c.Name == name })
	}
	env, rec, field, detail, rt, value := idx("environment"), idx("record_id"), idx("field"), idx("detail"), idx("record_table"), idx("value")
	if env < 0 || rec < 0 {
		return nil, fmt.Errorf("%s (%s): the statement returns no column environment or record_id", def.Ref(), def.File.Path)
	}
	var valueCols []int
	for i, c := range cols {
		if strings.HasPrefix(c.Name, "value_") {
			valueCols = append(valueCols, i)
		}
	}
	var out []rawFinding
	for rows.Next() {
		v := rows.Values()
		f := rawFinding{env: textOf(v[env]), record: textOf(v[rec])}
		if field >= 0 {
			f.field = textOf(v[field])
		}
		if detail >= 0 {
			f.detail = textOf(v[detail])
		}
		if rt >= 0 {
			f.recordTable = textOf(v[rt])
		}
		if value >= 0 {
			name := f.field
			if name == "" {
				name = "value"
			}
			f.values = append(f.values, Value{name, textOf(v[value])})
		}
		for _, i := range valueCols {
			f.values = append(f.values, Value{strings.TrimPrefix(cols[i].Name, "value_"), textOf(v[i])})
		}
		out = append(out, f)
		if len(out)%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s on %s (%s): %w", def.Ref(), table, def.File.Path, err)
	}
	return out, nil
}

// textOf writes a result value as text: times as 2006-01-02 15:04:05 (UTC), NULL as "".
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.DateTime)
	case uuid.UUID:
		return x.String()
	case decimal.Decimal:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
