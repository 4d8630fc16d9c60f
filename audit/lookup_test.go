package audit_test

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// lookups are the lookups dangling_lookup checks whose target the test deletes from
// (accounts and contacts), by table.
var lookups = map[string][]string{
	"lead":        {"parentaccountid", "parentcontactid", "customerid"},
	"contact":     {"parentcustomerid"},
	"opportunity": {"customerid", "parentaccountid", "parentcontactid"},
	"quote":       {"customerid"},
	"salesorder":  {"customerid"},
	"invoice":     {"customerid"},
}

// liveIDs is the set of a table's live record ids.
func liveIDs(sim *dvsim.Server, table, key string) map[string]bool {
	out := map[string]bool{}
	for _, r := range sim.Records(table) {
		out[r[key].(string)] = true
	}
	return out
}

// TestDanglingLookups: the simulator deletes accounts and contacts; only those two tables
// are synced again, so records of the other tables in the warehouse still point at the
// deleted ones until their own sync. dangling_lookup finds exactly those lookups — the
// expected ones computed from the simulator's records before and after the deletes — and,
// once every table is synced again, none; on both engines.
func TestDanglingLookups(t *testing.T) {
	sim, err := dvsim.Start(dvsim.Options{Seed: 25, Scale: 500})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	cat := loadRules(t)
	type engine struct {
		name   string
		run    func(...string) []string
		resync func(...string)
	}
	var engines []engine
	for _, cfg := range warehousetest.All(t) {
		st := openMigrated(t, cfg)
		client := simClient(t, sim)
		syncTables(t, st, client)
		engines = append(engines, engine{cfg.Driver, func(...string) []string {
			rep := runAudit(t, st, sim, cat, "dangling_lookup")
			var out []string
			for _, f := range rep.Findings {
				if f.Status == "open" {
					out = append(out, f.Table+" "+f.RecordID+" "+f.Field)
				}
			}
			sort.Strings(out)
			return out
		}, func(tables ...string) { syncTables(t, st, client, tables...) }})
	}
	for _, e := range engines {
		require.Empty(t, e.run(), "%s: the simulator keeps its lookups whole", e.name)
	}

	before := map[string][]map[string]any{}
	for table := range lookups {
		before[table] = sim.Records(table)
	}
	gone := map[string]bool{}
	for id := range liveIDs(sim, "account", "accountid") {
		gone[id] = true
	}
	for id := range liveIDs(sim, "contact", "contactid") {
		gone[id] = true
	}
	res := sim.Mutate(0, 0, 60)
	require.NotEmpty(t, append(res.Deleted["account"], res.Deleted["contact"]...))
	for id := range liveIDs(sim, "account", "accountid") {
		delete(gone, id)
	}
	for id := range liveIDs(sim, "contact", "contactid") {
		delete(gone, id)
	}
	// the warehouse holds the contacts as they are now, the other tables as they were
	after := sim.Records("contact")
	var want []string
	for table, cols := range lookups {
		rows := before[table]
		if table == "contact" {
			rows = after
		}
		key := table + "id"
		for _, r := range rows {
			for _, c := range cols {
				if v, _ := r["_"+c+"_value"].(string); v != "" && gone[v] {
					want = append(want, table+" "+r[key].(string)+" "+c)
				}
			}
		}
	}
	sort.Strings(want)
	require.NotEmpty(t, want, "the deletes left lookups dangling")
	for _, e := range engines {
		e.resync("account", "contact")
		require.Equal(t, want, e.run(), "%s: dangling lookups", e.name)
	}
	for _, e := range engines {
		e.resync()
		require.Empty(t, e.run(), "%s: after every table is synced", e.name)
	}
}
