package landing

import (
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Layout of _version: the load generation in the high bits and the
// source's own version (Dataverse's versionnumber) in the low
// VersionBits, so that ordering by _version orders first by load, then by
// the source's version. A full load raises the generation: its rows
// replace every row stored before even when the source's version numbers
// went back (an environment restored from a backup or copied over
// another).
const (
	// VersionBits is how many low bits of _version hold the source's
	// version: numbers up to 1.7e13; Dataverse's are far below.
	VersionBits = 44
	// MaxSourceVersion is the highest source version _version holds.
	MaxSourceVersion = 1<<VersionBits - 1
	// MaxGeneration is the highest load generation _version holds.
	MaxGeneration = 1<<(64-VersionBits) - 1
)

// Version is the _version of a row with the source version v, loaded in
// generation gen.
func Version(gen uint32, v uint64) uint64 { return uint64(gen)<<VersionBits | v }

// Generation is the load generation of a _version.
func Generation(version uint64) uint32 { return uint32(version >> VersionBits) }

// Rows builds the rows of one landing table for one environment, in the
// column order of Columns: the data values, then the meta values.
type Rows struct {
	env     any // boxed once: boxing the string for every row would allocate
	columns []string
	// stone holds the data values of a tombstone, key the key's index
	stone []any
	key   int
}

// NewRows returns the row builder of l's rows for the environment env.
func NewRows(l Table, env string) (*Rows, error) {
	r := &Rows{env: env, columns: make([]string, 0, len(l.Columns)+len(MetaColumns)), stone: make([]any, 0, len(l.Columns)), key: -1}
	for i, c := range l.Columns {
		typ, err := warehouse.ParseType(c.Type)
		if err != nil {
			return nil, err
		}
		r.columns = append(r.columns, c.Name)
		r.stone = append(r.stone, typ.Zero())
		if c.Name == l.Key {
			r.key = i
		}
	}
	if r.key < 0 {
		return nil, l.validate()
	}
	for _, c := range MetaColumns {
		r.columns = append(r.columns, c.Name)
	}
	return r, nil
}

// Columns are the columns of the rows, for Store.PrepareInsert: the data
// columns, then MetaColumns. Columns the warehouse's table has beyond
// them (kept from a source column that is gone) get their defaults.
func (r *Rows) Columns() []string { return r.columns }

// Live appends the meta values of a live row of the given _version
// (see Version), written at syncedAt, to data, the row's data values in
// column order.
func (r *Rows) Live(data []any, version uint64, syncedAt time.Time) []any {
	return append(data, r.env, version, uint8(0), syncedAt)
}

// Tombstone is the row that marks key deleted, built in dst[:0]: the key,
// the zero value (NULL mostly) of every other data column, and the meta
// values with _deleted = 1. The view hides it, and its version must be
// above every version of the key to win.
func (r *Rows) Tombstone(dst []any, key any, version uint64, syncedAt time.Time) []any {
	dst = append(dst[:0], r.stone...)
	dst[r.key] = key
	return append(dst, r.env, version, uint8(1), syncedAt)
}

// InsertSettings are the settings of the sync's INSERTs into a landing
// table on an engine of dialect d (warehouse.WithInsertSettings). On
// engines from 21.9 (ModernSQL: the embedded engine) it is
// optimize_on_insert = 0: by default such an engine collapses the rows
// of a key within each INSERT into a ReplacingMergeTree as a merge would,
// a pass that copies every column of every row, and a landing table needs
// none of it: its view reads FINAL and every statement on it takes a
// key's newest _version however many versions a part holds (merges
// collapse them later), and a load's batches hold each key once. In
// BenchmarkSync (connector, 525k rows) the pass was about 40 % of the
// engine's CPU time of the INSERTs. Older servers get none (18.16 does not
// know the setting).
func InsertSettings(d warehouse.Dialect) []warehouse.InsertSetting {
	if !d.ModernSQL() {
		return nil
	}
	return []warehouse.InsertSetting{{Name: "optimize_on_insert", Value: 0}}
}
