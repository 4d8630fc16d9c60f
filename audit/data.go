package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/google/uuid"

	"github.com/ampel/ampel/warehouse"
)

// strCol holds many strings in one buffer: value i is buf[end[i-1]:end[i]]. Written bytes
// never change, so the strings get hands out stay valid.
type strCol struct {
	buf []byte
	end []uint32
}

func (c *strCol) add(s string) {
	c.buf = append(c.buf, s...)
	c.end = append(c.end, uint32(len(c.buf)))
}

func (c *strCol) get(i int32) string {
	lo := uint32(0)
	if i > 0 {
		lo = c.end[i-1]
	}
	hi := c.end[i]
	if lo == hi {
		return ""
	}
	return unsafe.String(&c.buf[lo], int(hi-lo))
}

func (c *strCol) bytes() int { return cap(c.buf) + 4*cap(c.end) }

// dataset is one table's eligible records, column-wise.
type dataset struct {
	table   string
	ids     []uuid.UUID
	env     []uint16
	envs    []string
	columns []string        // loaded view columns, in raw order
	raw     []strCol        // raw values per loaded column
	norm    []strCol        // per model field: normalised value (phones: space-separated)
	code    map[int]*strCol // per name field: Kölner Phonetik code
	count   map[int][]int32 // per TF field: how many records share the record's value
	colIdx  map[string]int  // column → index in raw
	missing map[string]bool // columns the view does not have (blank everywhere)
	cannot  cannotLink      // pairs a steward marked as no duplicates
}

func (d *dataset) n() int { return len(d.ids) }

// rawValue returns record r's raw value of column col ("" when missing).
func (d *dataset) rawValue(r int32, col string) string {
	i, ok := d.colIdx[col]
	if !ok {
		return ""
	}
	return d.raw[i].get(r)
}

// Loader settings that are not per model.
type loadSpec struct {
	table, key   string
	columns      []string // wanted columns (duplicates removed)
	environments []string
}

// load streams the wanted columns of the current-state view into a dataset. Records merged
// into another (merged = true, when the view has the column) are left out. Columns the view
// lacks are blank, and listed in missing.
func load(ctx context.Context, st warehouse.Store, spec loadSpec) (*dataset, error) {
	cat, err := warehouse.ReadCatalog(ctx, st, spec.table)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s: %w", spec.table, err)
	}
	have := map[string]bool{}
	for _, c := range cat[spec.table] {
		have[c.Name] = true
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("audit %s: the warehouse has no view %s; sync the table first", spec.table, spec.table)
	}
	if !have[spec.key] || !have["_environment"] {
		return nil, fmt.Errorf("audit %s: view %s has no %s or _environment column", spec.table, spec.table, spec.key)
	}
	d := &dataset{table: spec.table, colIdx: map[string]int{}, missing: map[string]bool{}, code: map[int]*strCol{}, count: map[int][]int32{}}
	sel := []string{"toString(" + warehouse.QuoteIdentifier(spec.key) + ")", "_environment"}
	for _, c := range spec.columns {
		if _, dup := d.colIdx[c]; dup {
			continue
		}
		if !have[c] {
			d.missing[c] = true
			continue
		}
		d.colIdx[c] = len(d.columns)
		d.columns = append(d.columns, c)
		sel = append(sel, "ifNull(toString("+warehouse.QuoteIdentifier(c)+"), '')")
	}
	d.raw = make([]strCol, len(d.columns))
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + warehouse.QuoteIdentifier(spec.table)
	var where []string
	var args []any
	if have["merged"] {
		where = append(where, "ifNull(toUInt8(merged), 0) = 0")
	}
	if len(spec.environments) > 0 {
		where = append(where, "_environment IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(spec.environments)), ", ")+")")
		for _, e := range spec.environments {
			args = append(args, e)
		}
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// size the columns once: growing them by doubling leaves up to half of each unused and,
	// while it copies, holds the old array too — most of the peak memory at a million rows
	n, err := countRows(ctx, st, spec.table, where, args)
	if err != nil {
		return nil, err
	}
	d.ids = make([]uuid.UUID, 0, n)
	d.env = make([]uint16, 0, n)
	for i := range d.raw {
		d.raw[i].end = make([]uint32, 0, n)
	}
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", spec.table, err)
	}
	defer rows.Close()
	envIdx := map[string]uint16{}
	for rows.Next() {
		if len(d.ids) == 2048 && n > 4096 {
			for i := range d.raw {
				c := &d.raw[i]
				c.buf = slices.Grow(c.buf, len(c.buf)*(n-2048)/2048*21/20)
			}
		}
		v := rows.Values()
		id, err := uuid.Parse(v[0].(string))
		if err != nil {
			return nil, fmt.Errorf("read %s: key %q: %w", spec.table, v[0], err)
		}
		e := v[1].(string)
		ei, ok := envIdx[e]
		if !ok {
			if len(d.envs) == 1<<16-1 {
				return nil, fmt.Errorf("read %s: more than 65535 environments", spec.table)
			}
			ei = uint16(len(d.envs))
			envIdx[e] = ei
			d.envs = append(d.envs, e)
		}
		d.ids = append(d.ids, id)
		d.env = append(d.env, ei)
		for i := range d.columns {
			d.raw[i].add(v[2+i].(string))
		}
		if len(d.ids)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", spec.table, err)
	}
	return d, nil
}

// countRows counts the rows load will read (a hint: rows may change in between).
func countRows(ctx context.Context, st warehouse.Store, table string, where []string, args []any) (int, error) {
	q := "SELECT count() FROM " + warehouse.QuoteIdentifier(table)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", table, err)
		}
	}
	return int(n), rows.Err()
}

// wantedColumns lists the columns a model and rules read, the model's first.
func wantedColumns(m *Model, rules []Rule) []string {
	var cols []string
	add := func(c string) {
		if !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	if m != nil {
		for _, f := range m.Fields {
			for _, c := range f.Columns {
				add(c)
			}
		}
	}
	for _, r := range rules {
		for _, c := range r.Conditions {
			add(c.Attribute)
			if c.Operator == OpPicklistLabel {
				add(c.Attribute + "name")
			}
		}
		if r.ExcludeInactive {
			add("statecode")
		}
	}
	return cols
}
