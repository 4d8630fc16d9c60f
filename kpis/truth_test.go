package kpis_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

const env = kpistest.Env

func loadCatalog(tb testing.TB) *kpis.Catalog {
	tb.Helper()
	c, err := kpis.LoadCatalog(ampelsql.KPIs, "", nil)
	require.NoError(tb, err)
	return c
}

func simInputs(tb testing.TB, sim *dvsim.Server) *kpis.Inputs {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "inputs.yaml")
	require.NoError(tb, sim.WriteInputs(file, env))
	in, err := kpis.LoadInputs(file, []string{env})
	require.NoError(tb, err)
	return in
}

// key identifies a result among a KPI's results: dimensions and period.
func key(dims map[string]string, start string) string {
	var parts []string
	for k, v := range dims {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",") + "@" + start
}

// same compares a count exactly and an amount (a truth that is not a whole
// number) to 1e-9.
func same(t *testing.T, want, got float64, msg string) {
	t.Helper()
	if want == math.Trunc(want) && math.Abs(want) < 1<<53 {
		require.Equal(t, want, got, msg)
		return
	}
	require.True(t, near(got, want), "%s: %v, truth %v", msg, got, want)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// compare checks every result of rep against the simulator's truth: the
// same set of (dimensions, period) per KPI, counts exactly, values to 1e-9.
func compare(t *testing.T, stage string, rep *kpis.Report, truth dvsim.Truth) {
	t.Helper()
	require.Empty(t, rep.Failed, "%s: failed KPIs", stage)
	require.Empty(t, rep.Skipped, "%s: skipped KPIs", stage)
	got := map[string]map[string]kpis.Result{}
	for _, r := range rep.Results {
		require.Equal(t, env, r.Environment)
		dims := map[string]string{}
		for _, d := range r.Dims {
			dims[d.Name] = d.Value
		}
		start := ""
		if r.Def.Grain != "snapshot" {
			start = r.PeriodStart.UTC().Format(time.RFC3339)
		}
		if got[r.Def.ID] == nil {
			got[r.Def.ID] = map[string]kpis.Result{}
		}
		k := key(dims, start)
		_, dup := got[r.Def.ID][k]
		require.False(t, dup, "%s: %s has two results for %s", stage, r.Def.ID, k)
		got[r.Def.ID][k] = r
	}
	ran := map[string]bool{}
	for _, r := range rep.Timings {
		id, _, _ := strings.Cut(r.Ref, "@")
		ran[id] = true
	}
	for id := range ran {
		want := truth.KPIs[id]
		require.NotEmpty(t, want, "%s: the truth has no value of %s: plant what it measures", stage, id)
		require.Len(t, got[id], len(want), "%s: %s: number of results", stage, id)
		for _, w := range want {
			k := key(w.Dims, w.PeriodStart)
			r, ok := got[id][k]
			require.True(t, ok, "%s: %s: no result for %s", stage, id, k)
			msg := fmt.Sprintf("%s: %s %s", stage, id, k)
			if w.PeriodEnd != "" {
				require.Equal(t, w.PeriodEnd, r.PeriodEnd.UTC().Format(time.RFC3339), msg)
			}
			if w.Numerator != nil {
				require.NotNil(t, r.Numerator, msg)
				same(t, *w.Numerator, *r.Numerator, msg+": numerator")
			}
			if w.Denominator != nil {
				require.NotNil(t, r.Denominator, msg)
				same(t, *w.Denominator, *r.Denominator, msg+": denominator")
			}
			if w.Value == nil {
				require.Nil(t, r.Value, "%s: no value", msg)
				require.Equal(t, kpis.None, r.Status, msg)
				continue
			}
			if r.Value == nil { // the truth has a value; the engine may withhold it below min_denominator
				require.Equal(t, kpis.None, r.Status, msg)
				require.NotNil(t, r.Denominator, msg)
				require.Less(t, *r.Denominator, r.Def.MinDenominator, msg)
				continue
			}
			require.True(t, near(*r.Value, *w.Value), "%s: value %v, truth %v", msg, *r.Value, *w.Value)
			require.Equal(t, r.Def.Status(*r.Value), r.Status, msg)
		}
	}
}

// score runs the built-in lead scoring models, whose backtest the
// lead_score_* KPIs read.
func score(t *testing.T, st warehouse.Store, asOf time.Time) {
	t.Helper()
	models, err := scoring.Load(ampelsql.Scoring, "", nil)
	require.NoError(t, err)
	rep, err := scoring.Run(context.Background(), scoring.Options{Store: st, Models: models, AsOf: asOf})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)
}

// runAudit runs the data-quality audit, whose duplicate groups the
// duplicate_density KPI reads.
func runAudit(t *testing.T, st warehouse.Store, asOf time.Time) {
	t.Helper()
	cat, err := audit.LoadCatalog(ampelsql.Audits, "", nil)
	require.NoError(t, err)
	rep, err := audit.Run(context.Background(), audit.RunOptions{Store: st, Catalog: cat, AsOf: asOf, CriticalFields: kpis.DefaultCriticalFields})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)
}

// TestCatalogMatchesTruth syncs a simulator into each engine, audits it,
// runs the whole catalog and compares every result with the simulator's
// truth; then again after a mutation and a delta sync.
func TestCatalogMatchesTruth(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			catalogMatchesTruth(t, cfg, time.UTC, dvsim.Options{Seed: 12, Scale: 600})
		})
	}
}

// TestCatalogMatchesTruthInZone is TestCatalogMatchesTruth with
// kpis.timezone a zone east of UTC (Europe/Berlin) and one west of it
// (America/New_York), against the truth in that zone. Go-live is set so
// that the 30-day windows and the weeks after it cross the zone's latest
// DST change; the simulator plants records on the edges a zone moves.
func TestCatalogMatchesTruthInZone(t *testing.T) {
	now := time.Now().UTC().Truncate(24 * time.Hour)
	for _, zone := range []string{"Europe/Berlin", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		change, ok := lastOffsetChange(loc, now.AddDate(0, 0, -10))
		require.True(t, ok, "%s has no DST change in the year before %s", zone, now)
		goLive := change.UTC().Truncate(24*time.Hour).AddDate(0, 0, -40)
		for _, cfg := range warehousetest.All(t) {
			t.Run(zone+"/"+cfg.Driver, func(t *testing.T) {
				catalogMatchesTruth(t, cfg, loc, dvsim.Options{Seed: 12, Scale: 600, Now: now, GoLive: goLive})
			})
		}
	}
}

// lastOffsetChange is the last moment in the year before t at which loc's
// UTC offset changed (found to the hour); false when it did not.
func lastOffsetChange(loc *time.Location, t time.Time) (time.Time, bool) {
	_, off := t.In(loc).Zone()
	for at := t; at.After(t.AddDate(-1, 0, 0)); at = at.Add(-time.Hour) {
		if _, o := at.In(loc).Zone(); o != off {
			return at, true
		}
	}
	return time.Time{}, false
}

// catalogMatchesTruth syncs a simulator started with opts into cfg's
// engine, audits and scores it, runs the whole catalog with kpis.timezone
// loc and compares every result with the simulator's truth in loc; then
// again after a mutation and a delta sync. It returns the store and the
// number of results of both runs.
func catalogMatchesTruth(t *testing.T, cfg warehouse.Config, loc *time.Location, opts dvsim.Options) (warehouse.Store, int) {
	ctx := context.Background()
	cat := loadCatalog(t)
	st := kpistest.OpenMigrated(t, cfg)
	sim, err := dvsim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	client := kpistest.Client(t, sim)
	in := simInputs(t, sim)
	kpistest.Sync(t, st, client, "s1")
	truth := sim.TruthIn(loc)
	asOf, err := time.Parse(time.RFC3339, truth.Now)
	require.NoError(t, err)
	if loc != time.UTC {
		// a run that cut its periods in UTC would not pass
		require.NotEqual(t, sim.Truth().KPIs, truth.KPIs, "the truth in %s is the UTC one", loc)
	}
	runAudit(t, st, asOf)
	score(t, st, asOf)
	run := kpis.Options{Store: st, Catalog: cat, Inputs: in, AsOf: asOf, Timezone: loc.String()}
	rep, err := kpis.Run(ctx, run)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Results)
	compare(t, "first load", rep, truth)
	// the views several KPIs read were read once, into snapshots
	// the run dropped at its end
	require.Subset(t, rep.Snapshots, []string{"lead", "contact", "account", "opportunity", "incident"})
	requireNoSnapshots(t, st)
	if st.Dialect().ModernSQL() {
		require.Positive(t, rep.SnapshotBytes)
	}

	sim.Mutate(60, 120, 30)
	kpistest.Sync(t, st, client, "s2")
	runAudit(t, st, asOf)
	score(t, st, asOf)
	rep2, err := kpis.Run(ctx, run)
	require.NoError(t, err)
	compare(t, "after mutate", rep2, sim.TruthIn(loc))

	// every run is kept
	rows, err := st.Query(ctx, "SELECT count(), uniqExact(run_id) FROM kpi_results")
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next())
	var n, runs uint64
	require.NoError(t, rows.Scan(&n, &runs))
	require.Equal(t, uint64(len(rep.Results)+len(rep2.Results)), n)
	require.Equal(t, uint64(2), runs)
	return st, len(rep.Results) + len(rep2.Results)
}

// requireNoSnapshots fails when a snapshot table of a KPI run is left.
func requireNoSnapshots(t *testing.T, st warehouse.Store) {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, ?)", kpis.SnapshotPrefix)
	require.NoError(t, err)
	defer rows.Close()
	var left []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		left = append(left, n)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, left)
}

// TestSkips runs the catalog on a warehouse with no synced tables and no
// inputs file: every KPI but the one on the audit's tables is skipped,
// saying what it lacks, and the run is recorded with them in its note.
func TestSkips(t *testing.T) {
	ctx := context.Background()
	cat := loadCatalog(t)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			rep, err := kpis.Run(ctx, kpis.Options{Store: st, Catalog: cat, RunID: "r1"})
			require.NoError(t, err)
			require.Empty(t, rep.Results)
			require.Empty(t, rep.Failed)
			// duplicate_density reads the audit's tables, which the
			// migrations create: it runs and finds no audit run
			require.Len(t, rep.Skipped, len(cat.IDs())-1)
			missing := map[string][]string{}
			for _, s := range rep.Skipped {
				missing[s.Ref] = s.Missing
			}
			require.NotContains(t, missing, "duplicate_density@v2")
			require.Equal(t, []string{"input key_users"}, missing["key_user_training_rate@v1"])
			require.Equal(t, []string{"view opportunity"}, missing["win_rate@v1"])
			require.Equal(t, []string{"input go_live", "input licensed_users", "view incident"}, missing["hypercare_tickets_per_100_users@v1"])

			rows, err := st.Query(ctx, "SELECT skipped, results, status, note FROM kpi_runs WHERE run_id = 'r1'")
			require.NoError(t, err)
			defer rows.Close()
			require.True(t, rows.Next())
			var skipped, results uint64
			var status, note string
			require.NoError(t, rows.Scan(&skipped, &results, &status, &note))
			require.Equal(t, uint64(len(cat.IDs())-1), skipped)
			require.Zero(t, results)
			require.Equal(t, "ok", status)
			require.Contains(t, note, "win_rate@v1 needs view opportunity")
		})
	}
}
