// Package landing owns Ampel's landing layer in the warehouse: for every
// synced source table a landing table that keeps every version of every
// record, and a current-state view that shows each live record once.
package landing

import (
	"context"
	"fmt"
	"strings"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// Table describes the landing table of one synced source table and its
// current-state view.
//
// The landing table landing_<Name> keeps every version of every record:
// the data columns, plus _environment (which source environment), _version
// (newer wins), _deleted (1 for a tombstone) and _synced_at. It is a
// ReplacingMergeTree ordered by (_environment, Key). The view <Name> shows
// each live record once.
type Table struct {
	// Name is the source table's logical name, e.g. "lead"; it names the view.
	Name string
	// Key is the primary key column, e.g. "leadid"; it must be in Columns.
	Key string
	// Columns are the data columns in order, the key among them.
	Columns []warehouse.Column
}

// MetaColumns are the columns every landing table has besides the data.
var MetaColumns = []warehouse.Column{
	{Name: "_environment", Type: "String"},
	{Name: "_version", Type: "UInt64"},
	{Name: "_deleted", Type: "UInt8"},
	{Name: "_synced_at", Type: "DateTime('UTC')"},
}

// Table is the landing table's name.
func (l Table) Table() string { return "landing_" + l.Name }

// TypeChangeError says that a column exists in the warehouse with another
// type than the source now declares. Ampel does not convert columns on its
// own: the table stops syncing until an admin decides.
type TypeChangeError struct {
	Table, Column, Have, Want string
}

func (e *TypeChangeError) Error() string {
	return fmt.Sprintf("column %s.%s is %s in the warehouse but the source now declares %s; "+
		"rename or drop the column in the warehouse (ALTER TABLE %s …) to let the sync go on",
		e.Table, e.Column, e.Have, e.Want, e.Table)
}

// Change says what Ensure did.
type Change struct {
	// Created is true when the landing table did not exist and was created
	// with every column.
	Created bool
	// Added are the columns added to an existing landing table.
	Added []warehouse.Column
}

// Ensure creates the landing table and its view when they are
// missing, adds the columns the warehouse does not have yet, and rebuilds
// the view when it added any. A column whose type differs is a
// *TypeChangeError and changes nothing.
//
// cat holds the warehouse's columns of the landing table and the view, as
// warehouse.ReadCatalog read them; nil reads them here. With cat, a landing table
// that needs no change costs no query at all.
func Ensure(ctx context.Context, s warehouse.Store, l Table, cat warehouse.Catalog) (Change, error) {
	if err := l.validate(); err != nil {
		return Change{}, err
	}
	if cat == nil {
		var err error
		if cat, err = warehouse.ReadCatalog(ctx, s, l.Table(), l.Name); err != nil {
			return Change{}, err
		}
	}
	have, viewExists := cat[l.Table()], len(cat[l.Name]) > 0
	data := map[string]any{"Table": l.Table(), "View": l.Name, "Key": l.Key, "Columns": l.Columns, "Dialect": s.Dialect().TemplateData()}
	if len(have) == 0 {
		if err := execTemplate(ctx, s, "create_table.sql", data); err != nil {
			return Change{}, err
		}
		data["Replace"] = viewExists // a view left from a dropped table is rebuilt
		return Change{Created: true}, createView(ctx, s, l.Name, data)
	}
	haveType := make(map[string]string, len(have))
	for _, c := range have {
		haveType[c.Name] = c.Type
	}
	var added []warehouse.Column
	for _, c := range l.Columns {
		t, ok := haveType[c.Name]
		if !ok {
			added = append(added, c)
			continue
		}
		if normalizeType(t) != normalizeType(c.Type) {
			return Change{}, &TypeChangeError{Table: l.Table(), Column: c.Name, Have: t, Want: c.Type}
		}
	}
	after := "" // new columns go after the last data column, before Ampel's own
	for _, c := range have {
		if !strings.HasPrefix(c.Name, "_") {
			after = c.Name
		}
	}
	for _, c := range added {
		if err := execTemplate(ctx, s, "add_column.sql", map[string]any{"Table": l.Table(), "Column": c, "After": after}); err != nil {
			return Change{}, err
		}
		after = c.Name
	}
	if len(added) > 0 || !viewExists {
		// keep columns the warehouse has but the source dropped: history stays readable
		cols := make([]warehouse.Column, 0, len(have)+len(added))
		for _, c := range have {
			if !strings.HasPrefix(c.Name, "_") {
				cols = append(cols, c)
			}
		}
		cols = append(cols, added...)
		data["Columns"] = cols
		data["Replace"] = viewExists
		if err := createView(ctx, s, l.Name, data); err != nil {
			return Change{}, err
		}
	}
	return Change{Added: added}, nil
}

// createView creates the current-state view, replacing it when
// data["Replace"] says it exists.
func createView(ctx context.Context, s warehouse.Store, name string, data map[string]any) error {
	if data["Replace"] == true && !s.Dialect().ModernSQL() { // no CREATE OR REPLACE VIEW before 20.x
		if err := s.Exec(ctx, "DROP TABLE IF EXISTS "+warehouse.QuoteIdentifier(name)); err != nil { // 18.16 has no DROP VIEW
			return err
		}
	}
	return execTemplate(ctx, s, "create_view.sql", data)
}

func (l Table) validate() error {
	if !warehouse.ValidIdentifier(l.Name) {
		return fmt.Errorf("landing table name %q: use letters, digits and underscores only", l.Name)
	}
	hasKey := false
	for _, c := range l.Columns {
		if strings.HasPrefix(c.Name, "_") {
			return fmt.Errorf("landing table %s: column %q: names starting with _ are Ampel's own", l.Name, c.Name)
		}
		if _, err := warehouse.ParseType(c.Type); err != nil {
			return fmt.Errorf("landing table %s: column %s: %w", l.Name, c.Name, err)
		}
		hasKey = hasKey || c.Name == l.Key
	}
	if !hasKey {
		return fmt.Errorf("landing table %s: key column %q is not among its columns", l.Name, l.Key)
	}
	return nil
}

// normalizeType removes spacing differences (Decimal(18, 4) vs Decimal(18,4))
// and the engine's spelling of the same type.
func normalizeType(t string) string {
	t = strings.ReplaceAll(t, " ", "")
	t = strings.ReplaceAll(t, `"`, "'")
	return t
}

func execTemplate(ctx context.Context, s warehouse.Store, name string, data any) error {
	q, err := ampelsql.Render(ampelsql.Landing, name, data)
	if err != nil {
		return err
	}
	return s.Exec(ctx, q)
}
