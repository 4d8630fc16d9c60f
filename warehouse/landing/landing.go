// Package landing owns Ampel's landing layer in the warehouse: for every
// synced source table a landing table that keeps every version of every
// record, and a current-state view that shows each live record once.
//
// It knows, in one place:
//
//   - the tables' and views' DDL (Ensure: create, widen, rebuild the view),
//     every statement a template in sql/landing that reads the engine's
//     Dialect;
//   - the meta columns every landing row carries besides the data
//     (MetaColumns: _environment, _version, _deleted, _synced_at) and the
//     layout of _version (Version: load generation and source version);
//   - the shape of a landing row: the data values with the meta values
//     appended, and the tombstone that marks a key deleted (Rows);
//   - the statements the sync runs on a landing table besides INSERTs: its
//     newest version, the stored versions of deleted keys, the tombstones
//     for records a full load did not see, the live keys and the
//     tombstones of key reconciliation (Table's methods);
//   - a snapshot of a current-state view: its current state read once into
//     a Memory table that reads without FINAL, for a reader that needs the
//     view many times (Snapshot, DropSnapshot; the KPI run);
//   - when two column types are the same column (SameType): the engines
//     spell one type in several ways (Bool or UInt8, spacing, quotes,
//     LowCardinality, Decimal64(4) or Decimal(18, 4)), and only a real
//     change of type stops a table (*TypeChangeError).
//
// On a cluster (warehouse.cluster) a landing table is a local replicated
// table per shard behind a Distributed table under the same name, sharded
// by environment and key (sql/landing/create_table.sql); everything else
// here reads and writes the same names as on one server.
//
// The sync engine (package connector) decides what to write and when; this
// package decides what it looks like in the warehouse.
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

// The meta columns' names.
const (
	// ColEnvironment names the source environment of a row.
	ColEnvironment = "_environment"
	// ColVersion orders the versions of a record: the newest wins (see Version).
	ColVersion = "_version"
	// ColDeleted is 1 for a tombstone.
	ColDeleted = "_deleted"
	// ColSyncedAt is when the row was written.
	ColSyncedAt = "_synced_at"
)

// MetaColumns are the columns every landing table has besides the data,
// in the order Rows appends their values. sql/landing/create_table.sql
// creates them; a test holds the two together.
var MetaColumns = []warehouse.Column{
	{Name: ColEnvironment, Type: "String"},
	{Name: ColVersion, Type: "UInt64"},
	{Name: ColDeleted, Type: "UInt8"},
	{Name: ColSyncedAt, Type: "DateTime('UTC')"},
}

// TableName is the name of the landing table of the source table name.
func TableName(name string) string { return "landing_" + name }

// Table is the landing table's name.
func (l Table) Table() string { return TableName(l.Name) }

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
// the view when it added any. A column whose type differs (see SameType)
// is a *TypeChangeError and changes nothing.
//
// cat holds the warehouse's columns of the landing table and the view, as
// warehouse.ReadCatalog read them; nil reads them here. With cat, a landing
// table that needs no change costs no query at all.
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
	data := map[string]any{"Table": l.Table(), "View": l.Name, "Key": l.Key, "Columns": l.Columns}
	if len(have) == 0 {
		if err := exec(ctx, s, "create_table.sql", data); err != nil {
			return Change{}, err
		}
		data["Replace"] = viewExists // a view left from a dropped table is rebuilt
		return Change{Created: true}, exec(ctx, s, "create_view.sql", data)
	}
	_, added, err := Diff(l.Table(), have, l.Columns)
	if err != nil {
		return Change{}, err
	}
	after := "" // new columns go after the last data column, before Ampel's own
	for _, c := range have {
		if !isMeta(c.Name) {
			after = c.Name
		}
	}
	var local map[string]bool // on a cluster: the columns the shards' local tables have
	if len(added) > 0 && s.Dialect().Clustered() {
		lcat, err := warehouse.ReadCatalog(ctx, s, l.Table()+"_local")
		if err != nil {
			return Change{}, err
		}
		local = map[string]bool{}
		for _, c := range lcat[l.Table()+"_local"] {
			local[c.Name] = true
		}
	}
	for _, c := range added {
		data := map[string]any{"Table": l.Table(), "Key": l.Key, "Column": c, "After": after, "LocalHas": local[c.Name]}
		if err := exec(ctx, s, "add_column.sql", data); err != nil {
			return Change{}, err
		}
		after = c.Name
	}
	if len(added) > 0 || !viewExists {
		// keep columns the warehouse has but the source dropped: history stays readable
		cols := make([]warehouse.Column, 0, len(have)+len(added))
		for _, c := range have {
			if !isMeta(c.Name) {
				cols = append(cols, c)
			}
		}
		cols = append(cols, added...)
		data["Columns"] = cols
		data["Replace"] = viewExists
		if err := exec(ctx, s, "create_view.sql", data); err != nil {
			return Change{}, err
		}
	}
	return Change{Added: added}, nil
}

// Diff compares the columns a landing table should have (want) with the
// ones the warehouse has (have, as warehouse.TableColumns reads them;
// the meta columns are ignored). It returns the columns to use — want,
// with the warehouse's spelling for the types that are the same (see
// SameType) — and those the warehouse does not have yet: all of want when
// have is empty. A column whose type really differs is a
// *TypeChangeError naming table. Columns the warehouse has but want does
// not are kept by the warehouse and not reported.
func Diff(table string, have, want []warehouse.Column) (cols, added []warehouse.Column, err error) {
	haveType := make(map[string]string, len(have))
	for _, c := range have {
		haveType[c.Name] = c.Type
	}
	cols = make([]warehouse.Column, len(want))
	for i, c := range want {
		cols[i] = c
		t, ok := haveType[c.Name]
		if !ok {
			added = append(added, c)
			continue
		}
		if !SameType(t, c.Type) {
			return nil, nil, &TypeChangeError{Table: table, Column: c.Name, Have: t, Want: c.Type}
		}
		cols[i].Type = t
	}
	return cols, added, nil
}

func (l Table) validate() error {
	if !warehouse.ValidIdentifier(l.Name) {
		return fmt.Errorf("landing table name %q: use letters, digits and underscores only", l.Name)
	}
	hasKey := false
	for _, c := range l.Columns {
		if isMeta(c.Name) {
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

// isMeta reports whether a column name is Ampel's own: every name that
// starts with _ is, so that a source column can never take one.
func isMeta(name string) bool { return strings.HasPrefix(name, "_") }

// render renders the template name of sql/landing with data and the
// store's Dialect.
func render(s warehouse.Store, name string, data map[string]any) (string, error) {
	data["Dialect"] = s.Dialect().TemplateData()
	return ampelsql.Render(ampelsql.Landing, name, data)
}

// exec renders the template name and runs its statements in order (a
// template may need two statements on one engine where another has one:
// 18.16 replaces a view by dropping it first).
func exec(ctx context.Context, s warehouse.Store, name string, data map[string]any) error {
	script, err := render(s, name, data)
	if err != nil {
		return err
	}
	for _, q := range warehouse.SplitStatements(script) {
		if err := s.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
