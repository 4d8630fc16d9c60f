package landing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	_ "github.com/ampel/ampel/warehouse/embedded" // registers "embedded"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

var (
	ctxT     = warehousetest.Context
	exec     = warehousetest.Exec
	queryAll = warehousetest.QueryAll
	queryOne = warehousetest.QueryOne
)

// onBoth runs test on a fresh database of each driver.
func onBoth(t *testing.T, test func(t *testing.T, st warehouse.Store)) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) { test(t, warehousetest.Open(t, cfg)) })
	}
}

// table describes a landing table; columns are "name Type".
func table(name, key string, columns ...string) landing.Table {
	l := landing.Table{Name: name, Key: key}
	for _, c := range columns {
		n, typ, _ := strings.Cut(c, " ")
		l.Columns = append(l.Columns, warehouse.Column{Name: n, Type: typ})
	}
	return l
}

// TestLanding creates a landing table and its view on both drivers, writes
// versions out of order and tombstones, and checks that the view shows
// each live record once, before and after merges; a new column widens the
// table and the view; a changed type is refused.
func TestLanding(t *testing.T) {
	onBoth(t, func(t *testing.T, st warehouse.Store) {
		ctx := ctxT(t)
		l := table("lead", "leadid", "leadid UUID", "subject Nullable(String)", "revenue Decimal(18, 2)")
		change, err := landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		assert.Equal(t, landing.Change{Created: true}, change)
		change, err = landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		assert.Equal(t, landing.Change{}, change, "second Ensure changes nothing")
		cat, err := warehouse.ReadCatalog(ctx, st, l.Table(), l.Name, "no_such_table")
		require.NoError(t, err)
		assert.Len(t, cat[l.Table()], len(l.Columns)+len(landing.MetaColumns), "landing table columns")
		var meta []warehouse.Column
		for _, c := range cat[l.Table()] {
			if c.Name[0] == '_' {
				meta = append(meta, c)
			}
		}
		assert.ElementsMatch(t, landing.MetaColumns, meta, "sql/landing/create_table.sql creates the meta columns MetaColumns lists")
		assert.NotEmpty(t, cat[l.Name], "view columns")
		assert.NotContains(t, cat, "no_such_table")
		change, err = landing.Ensure(ctx, st, l, cat)
		require.NoError(t, err)
		assert.Equal(t, landing.Change{}, change, "Ensure with a catalog changes nothing")

		a, bID, c := uuid.MustParse("00000000-0000-0000-0000-00000000000a"), uuid.MustParse("00000000-0000-0000-0000-00000000000b"), uuid.MustParse("00000000-0000-0000-0000-00000000000c")
		synced := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		cols := []string{"_environment", "leadid", "subject", "revenue", "_version", "_deleted", "_synced_at"}
		insert := func(rows ...[]any) {
			t.Helper()
			b, err := st.PrepareInsert(ctx, l.Table(), cols)
			require.NoError(t, err)
			for _, r := range rows {
				require.NoError(t, b.Append(r...))
			}
			require.NoError(t, b.Send(ctx))
		}
		// separate batches make separate parts; versions arrive out of order
		insert([]any{"prod", a, "a1", "1.00", 1, 0, synced}, []any{"prod", bID, "b1", "2.00", 1, 0, synced})
		insert([]any{"prod", a, "a3", "3.00", 3, 0, synced}, []any{"prod", c, nil, "5.00", 1, 0, synced})
		insert([]any{"prod", a, "a2", "2.00", 2, 0, synced}, []any{"prod", bID, "b1", "2.00", 2, 1, synced})
		insert([]any{"test", a, "other env", "9.00", 1, 0, synced})

		check := func(when string) {
			t.Helper()
			got := queryAll(t, st, "SELECT _environment, leadid, subject, revenue, _version FROM lead ORDER BY _environment, leadid")
			require.Len(t, got, 3, when)
			assert.Equal(t, []any{"prod", a, "a3"}, got[0][:3], when)
			rev, ok := got[0][3].(decimal.Decimal)
			assert.True(t, ok && rev.Equal(decimal.RequireFromString("3")), "%s: revenue %v", when, got[0][3])
			assert.Equal(t, uint64(3), got[0][4], when)
			assert.Equal(t, []any{"prod", c, nil}, got[1][:3], when)
			assert.Equal(t, []any{"test", a, "other env"}, got[2][:3], when)
			assert.Equal(t, uint64(0), queryOne(t, st, "SELECT count() FROM lead WHERE leadid = ?", bID), when+": tombstoned record hidden")
		}
		check("before OPTIMIZE")
		exec(t, st, "OPTIMIZE TABLE "+l.Table()+" FINAL")
		check("after OPTIMIZE FINAL")
		raw := queryOne(t, st, "SELECT count() FROM "+l.Table()).(uint64)
		assert.LessOrEqual(t, raw, uint64(4), "OPTIMIZE FINAL merged the versions")

		// a new source column: added to the table and the view
		l.Columns = append(l.Columns, warehouse.Column{Name: "statuscode", Type: "Nullable(Int32)"})
		change, err = landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		assert.Equal(t, landing.Change{Added: []warehouse.Column{{Name: "statuscode", Type: "Nullable(Int32)"}}}, change)
		insert2, err := st.PrepareInsert(ctx, l.Table(), append(cols, "statuscode"))
		require.NoError(t, err)
		require.NoError(t, insert2.Append("prod", c, "c2", "5.00", 2, 0, synced, 3))
		require.NoError(t, insert2.Send(ctx))
		got := queryAll(t, st, "SELECT subject, statuscode FROM lead WHERE leadid = ? AND _environment = 'prod'", c)
		assert.Equal(t, [][]any{{"c2", int64(3)}}, got)

		// a changed type is refused
		l.Columns[2].Type = "String"
		_, err = landing.Ensure(ctx, st, l, nil)
		var tce *landing.TypeChangeError
		assert.ErrorAs(t, err, &tce)
	})
}

// TestEnsureOldSpelling: a landing table created on an engine that spells
// its types otherwise — a server before 21.12 has no Bool, LowCardinality
// where a mapping did not ask for it, Decimal64(4) — stays as it is when
// the source's mapping asks for the modern spelling: no type change, no
// column added, and rows of the new mapping's values land.
func TestEnsureOldSpelling(t *testing.T) {
	onBoth(t, func(t *testing.T, st warehouse.Store) {
		ctx := ctxT(t)
		old := table("account", "accountid", "accountid UUID", "donotemail Nullable(UInt8)", "name Nullable(String)", "revenue Nullable(Decimal64(4))")
		change, err := landing.Ensure(ctx, st, old, nil)
		require.NoError(t, err)
		require.True(t, change.Created)

		now := table("account", "accountid", "accountid UUID", "donotemail Nullable(Bool)", "name Nullable(String)", "revenue Nullable(Decimal(18, 4))")
		change, err = landing.Ensure(ctx, st, now, nil)
		require.NoError(t, err, "the same types, spelled otherwise, are no type change")
		require.Equal(t, landing.Change{}, change)

		rows, err := landing.NewRows(now, "prod")
		require.NoError(t, err)
		b, err := st.PrepareInsert(ctx, now.Table(), rows.Columns())
		require.NoError(t, err)
		id := uuid.MustParse("00000000-0000-0000-0000-0000000000a1")
		synced := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
		require.NoError(t, b.Append(rows.Live([]any{id, true, "Contoso", decimal.RequireFromString("12.5")}, landing.Version(1, 7), synced)...))
		require.NoError(t, b.Send(ctx))
		got := queryAll(t, st, "SELECT toUInt8(donotemail), name FROM account")
		assert.Equal(t, [][]any{{uint64(1), "Contoso"}}, got)

		// a real change is still one
		now.Columns[2].Type = "Nullable(Int32)"
		_, err = landing.Ensure(ctx, st, now, nil)
		var tce *landing.TypeChangeError
		require.ErrorAs(t, err, &tce)
		assert.Equal(t, landing.TypeChangeError{Table: "landing_account", Column: "name", Have: "Nullable(String)", Want: "Nullable(Int32)"}, *tce)
	})
}

// TestRowsAndStatements writes live rows and tombstones built by Rows and
// runs the statements the sync runs on a landing table, on both drivers.
func TestRowsAndStatements(t *testing.T) {
	onBoth(t, func(t *testing.T, st warehouse.Store) {
		ctx := ctxT(t)
		l := table("contact", "contactid", "contactid UUID", "fullname Nullable(String)", "tags Array(String)", "versionnumber UInt64")
		_, err := landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		v, n, err := l.Newest(ctx, st, "prod")
		require.NoError(t, err)
		assert.Equal(t, [2]uint64{0, 0}, [2]uint64{v, n}, "an empty table")

		prod, err := landing.NewRows(l, "prod")
		require.NoError(t, err)
		test, err := landing.NewRows(l, "test")
		require.NoError(t, err)
		assert.Equal(t, []string{"contactid", "fullname", "tags", "versionnumber", "_environment", "_version", "_deleted", "_synced_at"}, prod.Columns())
		a, b, c := uuid.MustParse("00000000-0000-0000-0000-0000000000c1"), uuid.MustParse("00000000-0000-0000-0000-0000000000c2"), uuid.MustParse("00000000-0000-0000-0000-0000000000c3")
		synced := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
		batch, err := st.PrepareInsert(ctx, l.Table(), prod.Columns())
		require.NoError(t, err)
		for _, r := range [][]any{
			prod.Live([]any{a, "Ann", []string{"x"}, uint64(5)}, landing.Version(1, 5), synced),
			prod.Live([]any{b, "Bob", []string{}, uint64(9)}, landing.Version(1, 9), synced),
			prod.Live([]any{c, "Cy", []string{}, uint64(3)}, landing.Version(2, 3), synced),
			test.Live([]any{a, "Ann (test)", []string{}, uint64(40)}, landing.Version(3, 40), synced),
		} {
			require.NoError(t, batch.Append(r...))
		}
		require.NoError(t, batch.Send(ctx))

		v, n, err = l.Newest(ctx, st, "prod")
		require.NoError(t, err)
		assert.Equal(t, landing.Version(2, 3), v)
		assert.Equal(t, uint64(2), uint64(landing.Generation(v)))
		assert.Equal(t, uint64(3), n)

		stored, err := l.StoredVersions(ctx, st, "prod", []uuid.UUID{a, b, uuid.MustParse("00000000-0000-0000-0000-0000000000ff")})
		require.NoError(t, err)
		assert.Equal(t, map[uuid.UUID]uint64{a: landing.Version(1, 5), b: landing.Version(1, 9)}, stored)

		// a tombstone: the key, zero values, _deleted = 1; the view hides it
		stone := prod.Tombstone(nil, b, stored[b]+1, synced)
		assert.Equal(t, []any{b, nil, []any{}, uint64(0), "prod", landing.Version(1, 10), uint8(1), synced}, stone)
		batch, err = st.PrepareInsert(ctx, l.Table(), prod.Columns())
		require.NoError(t, err)
		require.NoError(t, batch.Append(stone...))
		require.NoError(t, batch.Send(ctx))
		assert.Equal(t, [][]any{{"prod", a}, {"prod", c}, {"test", a}}, queryAll(t, st, "SELECT _environment, contactid FROM contact ORDER BY _environment, contactid"))

		// after a full load in generation 2: a was not seen, c was
		gone, err := l.CountOlder(ctx, st, "prod", landing.Version(2, 0))
		require.NoError(t, err)
		assert.Equal(t, uint64(1), gone, "a (b is a tombstone already, c is of generation 2)")
		require.NoError(t, l.TombstoneOlder(ctx, st, "prod", landing.Version(2, 0)))
		assert.Equal(t, [][]any{{"prod", c}, {"test", a}}, queryAll(t, st, "SELECT _environment, contactid FROM contact ORDER BY _environment, contactid"))
		gone, err = l.CountOlder(ctx, st, "prod", landing.Version(2, 0))
		require.NoError(t, err)
		assert.Zero(t, gone)
		assert.Equal(t, landing.Version(1, 6), queryOne(t, st, "SELECT max(_version) FROM landing_contact WHERE contactid = ? AND _deleted = 1 AND _environment = 'prod'", a),
			"a tombstone is one version above the record's")

		// a scratch table an earlier Ampel left
		exec(t, st, "CREATE TABLE scratch_seen (id UUID) ENGINE = Log")
		require.NoError(t, landing.DropScratch(ctx, st, "scratch_seen"))
		require.NoError(t, landing.DropScratch(ctx, st, "scratch_seen"), "dropping a table that is gone is no error")
		cat, err := warehouse.ReadCatalog(ctx, st, "scratch_seen")
		require.NoError(t, err)
		assert.Empty(t, cat)
	})
}

// TestSnapshot: a snapshot holds the view's current state (newest
// version, tombstones out) in the columns asked for, reads without the
// landing table, and DropSnapshot removes it; on both drivers.
func TestSnapshot(t *testing.T) {
	onBoth(t, func(t *testing.T, st warehouse.Store) {
		ctx := ctxT(t)
		l := table("lead", "leadid", "leadid UUID", "subject Nullable(String)", "revenue Decimal(18, 2)")
		_, err := landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		a, b := uuid.MustParse("00000000-0000-0000-0000-00000000000a"), uuid.MustParse("00000000-0000-0000-0000-00000000000b")
		synced := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for _, r := range [][]any{{"prod", a, "a1", "1.00", 1, 0, synced}, {"prod", a, "a2", "2.00", 2, 0, synced}, {"prod", b, "b1", "1.00", 1, 0, synced}, {"prod", b, "b1", "1.00", 2, 1, synced}} {
			ins, err := st.PrepareInsert(ctx, l.Table(), []string{"_environment", "leadid", "subject", "revenue", "_version", "_deleted", "_synced_at"})
			require.NoError(t, err)
			require.NoError(t, ins.Append(r...))
			require.NoError(t, ins.Send(ctx)) // a part per version
		}
		require.NoError(t, landing.Snapshot(ctx, st, "lead", "snap_lead", []string{"_environment", "leadid", "subject"}))
		cols, err := warehouse.TableColumns(ctx, st, "snap_lead")
		require.NoError(t, err)
		require.Len(t, cols, 3)
		assert.Equal(t, [][]any{{"prod", a, "a2"}}, queryAll(t, st, "SELECT _environment, leadid, subject FROM snap_lead"))
		// the snapshot is a moment: later versions do not reach it
		ins, err := st.PrepareInsert(ctx, l.Table(), []string{"_environment", "leadid", "subject", "revenue", "_version", "_deleted", "_synced_at"})
		require.NoError(t, err)
		require.NoError(t, ins.Append("prod", a, "a3", "3.00", 3, 0, synced))
		require.NoError(t, ins.Send(ctx))
		assert.Equal(t, "a2", queryOne(t, st, "SELECT subject FROM snap_lead"))
		assert.Equal(t, "a3", queryOne(t, st, "SELECT subject FROM lead"))
		require.Error(t, landing.Snapshot(ctx, st, "lead", "snap_none", nil), "no columns")
		require.NoError(t, landing.DropSnapshot(ctx, st, "snap_lead"))
		cat, err := warehouse.ReadCatalog(ctx, st, "snap_lead")
		require.NoError(t, err)
		assert.Empty(t, cat["snap_lead"])
	})
}

// TestInsertSettings writes several versions of keys and a tombstone in
// one INSERT with the landing table's insert settings, on both drivers:
// the part keeps what it was given (on the embedded engine, uncollapsed),
// and the view and the statements on the table still see each key's
// newest version only, before and after the merge.
func TestInsertSettings(t *testing.T) {
	onBoth(t, func(t *testing.T, st warehouse.Store) {
		ctx := ctxT(t)
		l := table("account", "accountid", "accountid UUID", "name Nullable(String)")
		_, err := landing.Ensure(ctx, st, l, nil)
		require.NoError(t, err)
		set := landing.InsertSettings(st.Dialect())
		if st.Dialect().ModernSQL() {
			assert.Equal(t, []warehouse.InsertSetting{{Name: "optimize_on_insert", Value: 0}}, set)
		} else {
			assert.Empty(t, set, "an engine before 21.9 may not know optimize_on_insert")
		}
		a, c := uuid.New(), uuid.New()
		synced := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		b, err := st.PrepareInsert(warehouse.WithInsertSettings(ctx, set...), l.Table(), []string{"_environment", "accountid", "name", "_version", "_deleted", "_synced_at"})
		require.NoError(t, err)
		for _, r := range [][]any{
			{"e", a, "old", 1, 0, synced}, {"e", a, "new", 2, 0, synced}, {"e", a, "older", 0, 0, synced},
			{"e", c, "gone", 5, 0, synced}, {"e", c, nil, 6, 1, synced},
		} {
			require.NoError(t, b.Append(r...))
		}
		require.NoError(t, b.Send(ctx))
		if st.Dialect().ModernSQL() {
			assert.Equal(t, uint64(5), queryOne(t, st, "SELECT count() FROM "+l.Table()), "the INSERT's rows are not collapsed")
		}
		check := func() {
			t.Helper()
			assert.Equal(t, [][]any{{"new"}}, queryAll(t, st, "SELECT assumeNotNull(name) FROM "+l.Name))
			versions, err := l.StoredVersions(ctx, st, "e", []uuid.UUID{a, c})
			require.NoError(t, err)
			assert.Equal(t, map[uuid.UUID]uint64{a: 2, c: 6}, versions)
		}
		check()
		exec(t, st, "OPTIMIZE TABLE "+l.Table()+" FINAL")
		check()
	})
}
