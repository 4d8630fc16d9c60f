// Package schema maps Dataverse table metadata to warehouse columns, and
// decoded Dataverse records to row values in that column order.
//
// # Columns
//
// Columns keep the Dataverse logical names, as Dataverse's own SQL
// endpoint names them. The primary key comes first, then the attributes
// by logical name, each followed by the columns derived from it:
//
//	primary key                     <pk> UUID
//	Uniqueidentifier                Nullable(UUID)
//	String, Memo, EntityName        Nullable(String)
//	Integer                         Nullable(Int32)
//	BigInt                          Nullable(Int64); versionnumber is UInt64
//	Double                          Nullable(Float64)
//	Decimal                         Nullable(Decimal(23, 10))
//	Money                           Nullable(Decimal(19, 4))
//	DateTime                        Nullable(DateTime('UTC')); date-only → Nullable(Date)
//	Boolean (two options)           Nullable(Bool) (UInt8 where the server has no Bool)
//	Picklist, State, Status         <attr> Nullable(Int32) + <attr>name Nullable(String)
//	multi-select choice             <attr> Array(Int32) + <attr>name Array(String)
//	Lookup, Customer, Owner         <attr> Nullable(UUID) + <attr>name Nullable(String)
//	  … with several target tables  + <attr>type Nullable(String) (the target's logical name)
//	anything else readable          Nullable(String) (the value's JSON text)
//
// Decisions:
//   - Decimal types do not follow an attribute's Precision. Dataverse
//     stores every decimal as decimal(23,10) and money as money (19,4) and
//     lets an admin change the display precision at any time; following it
//     would turn that change into a warehouse type change. Money values
//     never have more than four decimals; Decimal(19, 4) holds the largest
//     money value Dataverse allows (922,337,203,685,477).
//   - Nullable is kept for data columns: the completeness KPIs must tell a
//     missing value from an empty one. Arrays are never NULL: a missing
//     multi-select choice is an empty array.
//   - Choice labels come from the option set metadata (the caller's
//     FormattedValue depends on the caller's language); FormattedValue is
//     used only for a value the metadata does not know yet.
//   - Lookup names come from the FormattedValue annotation and the target
//     table from lookuplogicalname, which polymorphic lookups need.
//   - Not mapped: attributes not valid for read; name, yomi-name and type
//     attributes derived from another one (AttributeOf: owneridname,
//     owneridtype, statecodename), whose values arrive as annotations;
//     Virtual attributes other than multi-select choices (images, files);
//     PartyList, CalendarRules and ManagedProperty. Mapping.Skipped says
//     which and why. A derived column whose name a real attribute already
//     has is skipped too; the attribute wins.
//   - Excluded columns (sync.tables[].exclude_columns) may name an
//     attribute or a derived column: excluding parentcontactidname keeps
//     the lookup's id and drops its name. An entry that is no column of
//     the table, or is its primary key, is an error (CheckExclude): the
//     sync refuses the table rather than sync the column a typo meant to
//     leave out.
//
// # Type changes
//
// The mapping says what the source declares now; the landing table of the
// mapped columns (Mapping.Landing) is package landing's, which compares
// them with the warehouse's columns and decides which differences are a
// type change (landing.SameType: spellings of one type, such as Bool and
// the UInt8 of older servers, are not).
package schema

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// The ClickHouse types used for Dataverse attribute types.
const (
	TypeMoney    = "Decimal(19, 4)"
	TypeDecimal  = "Decimal(23, 10)"
	TypeDateTime = "DateTime('UTC')"
)

// Options tune Map.
type Options struct {
	// Dialect picks Bool or UInt8 for two-option columns.
	Dialect warehouse.Dialect
	// Columns, if not empty, limits the mapping to these attributes (by
	// logical name); the primary key, createdon, modifiedon and
	// versionnumber are always included when the table has them.
	Columns []string
	// Exclude drops these columns: attributes, or columns derived from
	// one (<lookup>name drops a lookup's name and keeps its id). Each must
	// be a column of the table and not its primary key (see CheckExclude).
	Exclude []string
}

// valueKind is how a column's value is taken from a record.
type valueKind uint8

const (
	vString valueKind = iota
	vUUID
	vInt32
	vInt
	vUint
	vFloat
	vDecimal
	vDateTime
	vDate
	vBool
	vChoice
	vChoiceLabel
	vMulti
	vMultiLabels
	vLookupName
	vLookupType
)

type column struct {
	name     string
	typ      string
	prop     string // Web API property the value comes from
	kind     valueKind
	nullable bool
	scale    int32
	attr     *dataverse.Attribute
	labels   map[int]string
	target   string // the only target of a lookup, for vLookupType fallback
}

// Skipped is an attribute Map left out.
type Skipped struct {
	Attribute, Reason string
}

// Mapping turns records of one table into warehouse rows. It is read-only
// after Map and safe for concurrent use.
type Mapping struct {
	// Table is the table's logical name (the view name).
	Table string
	// EntitySet is the Web API entity set.
	EntitySet string
	// ChangeTracking says whether the table can be read by delta links.
	ChangeTracking bool
	// HasModifiedOn says whether modifiedon is mapped (watermark sync).
	HasModifiedOn bool
	// Skipped lists attributes not mapped and why.
	Skipped []Skipped
	key     string
	cols    []column
	sel     []string
}

// New maps e for a store of dialect d, leaving out the attributes in
// exclude; see Map.
func New(e *dataverse.Entity, d warehouse.Dialect, exclude []string) (*Mapping, error) {
	return Map(e, Options{Dialect: d, Exclude: exclude})
}

// Key is the primary key column.
func (m *Mapping) Key() string { return m.key }

// Map builds the mapping of e's attributes.
func Map(e *dataverse.Entity, opts Options) (*Mapping, error) {
	if e == nil || e.PrimaryIDAttribute == "" {
		return nil, fmt.Errorf("schema: table metadata without primary key")
	}
	if !warehouse.ValidIdentifier(e.LogicalName) {
		return nil, fmt.Errorf("schema: table name %q is not a valid identifier", e.LogicalName)
	}
	m := &Mapping{Table: e.LogicalName, EntitySet: e.EntitySetName, key: e.PrimaryIDAttribute, ChangeTracking: e.ChangeTrackingEnabled}
	boolType := opts.Dialect.Bool()
	if opts.Dialect.Version.Major == 0 {
		boolType = "Bool"
	}
	only := map[string]bool{}
	for _, c := range opts.Columns {
		only[c] = true
	}
	if len(only) > 0 {
		for _, c := range []string{e.PrimaryIDAttribute, "createdon", "modifiedon", "versionnumber"} {
			only[c] = true
		}
	}
	pk := e.Attribute(e.PrimaryIDAttribute)
	if pk == nil {
		return nil, fmt.Errorf("schema: %s: primary key %s is not among the attributes", e.LogicalName, e.PrimaryIDAttribute)
	}
	if err := CheckExclude(e, opts.Exclude); err != nil {
		return nil, err
	}
	var real []column // attribute columns
	var derived [][]column
	taken := map[string]bool{}
	for i := range e.Attributes {
		a := &e.Attributes[i]
		if len(only) > 0 && !only[a.LogicalName] || slices.Contains(opts.Exclude, a.LogicalName) {
			continue
		}
		if reason := skipReason(a); reason != "" && a != pk {
			m.Skipped = append(m.Skipped, Skipped{a.LogicalName, reason})
			continue
		}
		if !warehouse.ValidIdentifier(a.LogicalName) {
			m.Skipped = append(m.Skipped, Skipped{a.LogicalName, "not a valid column name"})
			continue
		}
		main, extra := mapAttribute(a, a == pk, boolType)
		if a == pk {
			real = append([]column{main}, real...)
			derived = append([][]column{nil}, derived...)
		} else {
			real = append(real, main)
			derived = append(derived, extra)
		}
		taken[main.name] = true
	}
	for i, c := range real {
		m.HasModifiedOn = m.HasModifiedOn || c.name == "modifiedon"
		m.cols = append(m.cols, c)
		m.sel = append(m.sel, c.prop)
		for _, d := range derived[i] {
			if slices.Contains(opts.Exclude, d.name) {
				continue
			}
			if taken[d.name] {
				m.Skipped = append(m.Skipped, Skipped{d.name, "derived column of " + c.name + " has the name of an attribute"})
				continue
			}
			taken[d.name] = true
			m.cols = append(m.cols, d)
		}
	}
	return m, nil
}

// CheckExclude refuses an exclude_columns entry that is not a column of
// e — neither an attribute nor a column derived from one (<attr>name,
// <attr>type) — with the closest column name as a suggestion, and e's
// primary key, which a landing table cannot do without. A typo must not
// sync the column it meant to leave out, so the sync refuses the table
// before it writes anything.
func CheckExclude(e *dataverse.Entity, exclude []string) error {
	if len(exclude) == 0 {
		return nil
	}
	known := map[string]bool{}
	for i := range e.Attributes {
		a := &e.Attributes[i]
		known[a.LogicalName] = true
		_, extra := mapAttribute(a, a.LogicalName == e.PrimaryIDAttribute, "Bool")
		for _, d := range extra {
			known[d.name] = true
		}
	}
	for _, x := range exclude {
		switch {
		case x == e.PrimaryIDAttribute:
			return fmt.Errorf("exclude_columns: %s is the primary key of %s and cannot be left out", x, e.LogicalName)
		case !known[x]:
			msg := fmt.Sprintf("exclude_columns: %s is not a column of %s", x, e.LogicalName)
			if near := closest(x, known); near != "" {
				msg += " (did you mean " + near + "?)"
			}
			return errors.New(msg)
		}
	}
	return nil
}

// closest returns the name in names nearest to s by edit distance, if
// one is near enough to be a typo of it (at most a third of s's letters
// apart); ties go to the alphabetically first.
func closest(s string, names map[string]bool) string {
	best, bestD := "", len(s)/3+1
	for n := range names {
		d := editDistance(s, n)
		if d < bestD || d == bestD && best != "" && n < best {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func skipReason(a *dataverse.Attribute) string {
	switch {
	case !a.IsValidForRead:
		return "not valid for read"
	case a.AttributeOf != "" && (a.Type == "String" || a.Type == "EntityName" || a.Type == "Virtual" || a.Type == "Memo"):
		return "derived from " + a.AttributeOf + "; its value comes as an annotation"
	case a.IsMultiSelect():
		return ""
	case a.Type == "Virtual":
		return "virtual attribute (" + a.TypeName + ")"
	case a.Type == "PartyList" || a.Type == "CalendarRules" || a.Type == "ManagedProperty":
		return a.Type + " attributes are not properties of the record"
	case a.TypeName == "ImageType" || a.TypeName == "FileType":
		return "images and files are not synced"
	}
	return ""
}

func nullable(t string) string { return "Nullable(" + t + ")" }

func mapAttribute(a *dataverse.Attribute, isKey bool, boolType string) (column, []column) {
	c := column{name: a.LogicalName, prop: a.Property(), attr: a, nullable: true}
	set := func(kind valueKind, typ string) { c.kind, c.typ = kind, nullable(typ) }
	var extra []column
	switch {
	case isKey:
		c.kind, c.typ, c.nullable = vUUID, "UUID", false
	case a.IsMultiSelect():
		c.kind, c.typ, c.nullable = vMulti, "Array(Int32)", false
		extra = append(extra, column{name: a.LogicalName + "name", typ: "Array(String)", prop: c.prop, kind: vMultiLabels, attr: a, labels: labels(a)})
	case a.IsLookup():
		set(vUUID, "UUID")
		extra = append(extra, column{name: a.LogicalName + "name", typ: nullable("String"), prop: c.prop, kind: vLookupName, nullable: true, attr: a})
		if len(a.Targets) != 1 || a.Type == "Customer" || a.Type == "Owner" {
			t := column{name: a.LogicalName + "type", typ: nullable("String"), prop: c.prop, kind: vLookupType, nullable: true, attr: a}
			if len(a.Targets) == 1 {
				t.target = a.Targets[0]
			}
			extra = append(extra, t)
		}
	case a.Type == "Picklist" || a.Type == "State" || a.Type == "Status":
		set(vChoice, "Int32")
		extra = append(extra, column{name: a.LogicalName + "name", typ: nullable("String"), prop: c.prop, kind: vChoiceLabel, nullable: true, attr: a, labels: labels(a)})
	case a.Type == "Uniqueidentifier":
		set(vUUID, "UUID")
	case a.Type == "Integer":
		set(vInt32, "Int32")
	case a.Type == "BigInt" && a.LogicalName == "versionnumber":
		c.kind, c.typ, c.nullable = vUint, "UInt64", false
	case a.Type == "BigInt":
		set(vInt, "Int64")
	case a.Type == "Double":
		set(vFloat, "Float64")
	case a.Type == "Decimal":
		set(vDecimal, TypeDecimal)
		c.scale = 10
	case a.Type == "Money":
		set(vDecimal, TypeMoney)
		c.scale = 4
	case a.Type == "DateTime" && a.IsDateOnly():
		set(vDate, "Date")
	case a.Type == "DateTime":
		set(vDateTime, TypeDateTime)
	case a.Type == "Boolean":
		set(vBool, boolType)
	default: // String, Memo, EntityName and anything new
		set(vString, "String")
	}
	return c, extra
}

func labels(a *dataverse.Attribute) map[int]string {
	if len(a.Options) == 0 {
		return nil
	}
	l := make(map[int]string, len(a.Options))
	for _, o := range a.Options {
		l[o.Value] = o.Label
	}
	return l
}

// Columns returns the warehouse columns in row order.
func (m *Mapping) Columns() []warehouse.Column {
	out := make([]warehouse.Column, len(m.cols))
	for i, c := range m.cols {
		out[i] = warehouse.Column{Name: c.name, Type: c.typ}
	}
	return out
}

// Landing describes the landing table for the mapped columns.
func (m *Mapping) Landing() landing.Table {
	return landing.Table{Name: m.Table, Key: m.key, Columns: m.Columns()}
}

// Select returns the Web API properties to $select, in column order.
func (m *Mapping) Select() []string { return slices.Clone(m.sel) }
