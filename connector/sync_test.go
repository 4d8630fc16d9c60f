package connector_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/connector/schema"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envSimChild); spec != "" {
		os.Exit(serveSimChild(spec)) // a benchmark's simulator process
	}
	warehousetest.Main(m)
}

// openMigrated opens a test database with Ampel's schema.
func openMigrated(tb testing.TB, cfg warehouse.Config) warehouse.Store {
	tb.Helper()
	st := warehousetest.Open(tb, cfg)
	_, err := migrate.Up(context.Background(), st, ampelsql.Schema, migrate.Options{})
	require.NoError(tb, err)
	return st
}

// count returns the rows of a current-state view for one environment.
func count(t *testing.T, st warehouse.Store, view, env string) int {
	t.Helper()
	rows, err := st.Query(context.Background(), fmt.Sprintf("SELECT count() FROM %s WHERE _environment = ?", warehouse.QuoteIdentifier(view)), env)
	require.NoError(t, err)
	defer rows.Close()
	var n uint64
	for rows.Next() {
		require.NoError(t, rows.Scan(&n))
	}
	require.NoError(t, rows.Err())
	return int(n)
}

// TestSyncTwoEnvironments syncs two simulated environments into one
// warehouse, in process, on both drivers: each view holds each
// environment's live rows, kept apart by _environment, through a full
// load and a delta with deletes.
func TestSyncTwoEnvironments(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sims := map[string]*dvsim.Server{}
			for i, env := range []string{"prod", "test"} {
				sim, err := dvsim.Start(dvsim.Options{Seed: int64(40 + i), Scale: 150 + 50*i})
				require.NoError(t, err)
				t.Cleanup(func() { sim.Close() })
				sims[env] = sim
			}
			tables := tableList()
			sync := func() {
				for env, sim := range sims {
					res, err := connector.Sync(ctx, connector.Options{Store: st, Client: simClient(t, sim), Environment: env, Tables: tables, RunID: "t"})
					require.NoError(t, err)
					require.Len(t, res, len(tables))
				}
			}
			check := func(stage string) {
				for env, sim := range sims {
					truth := sim.Truth()
					for _, tb := range tables {
						require.Equal(t, truth.Tables[tb.Name].Count, count(t, st, tb.Name, env), "%s: %s/%s", stage, env, tb.Name)
					}
				}
			}
			sync()
			check("first load")
			sims["prod"].Mutate(10, 10, 10)
			sync()
			check("delta")
		})
	}
}

// cancelAfter is a Progress that cancels the sync once rows of table are
// in the warehouse.
type cancelAfter struct {
	table  string
	rows   int
	cancel context.CancelFunc
	seen   int
}

func (c *cancelAfter) TableStarted(string, string, string, int64) {}
func (c *cancelAfter) TableDone(connector.TableResult)            {}
func (c *cancelAfter) Rows(_, table string, n int) {
	if table == c.table {
		if c.seen += n; c.seen >= c.rows {
			c.cancel()
		}
	}
}

// simVersions returns the live ids of a table in the simulator and their
// versionnumbers, as viewVersions does for a view.
func simVersions(t *testing.T, sim *dvsim.Server, table, key string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, r := range sim.Records(table) {
		v, err := strconv.ParseUint(fmt.Sprint(r["versionnumber"]), 10, 64)
		require.NoError(t, err)
		out[fmt.Sprint(r[key])] = v
	}
	return out
}

// viewVersions returns the live ids of a view and their versionnumbers.
func viewVersions(t *testing.T, st warehouse.Store, view, key, env string) map[string]uint64 {
	t.Helper()
	rows, err := st.Query(context.Background(), fmt.Sprintf("SELECT toString(%s), toUInt64(versionnumber) FROM %s WHERE _environment = ?", key, view), env)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var id string
		var v uint64
		require.NoError(t, rows.Scan(&id, &v))
		out[id] = v
	}
	require.NoError(t, rows.Err())
	return out
}

// TestSyncResumesInterruptedLoad stops a first load and a reload part way
// (as SIGTERM does) and checks that the next sync goes on from the saved
// page instead of starting over, also when the source changed meanwhile,
// and that a refused resume link starts the load over.
func TestSyncResumesInterruptedLoad(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 61, Scale: 1500})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := pagedClient(t, sim, 50)
			tables := []connector.Table{{Name: "lead"}}
			total := len(sim.Records("lead"))
			sync := func(stopAfter int, full bool) connector.TableResult {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var progress connector.Progress
				if stopAfter > 0 {
					progress = &cancelAfter{table: "lead", rows: stopAfter, cancel: cancel}
				}
				res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables,
					RunID: "t", BatchRows: 100, CheckpointEvery: time.Nanosecond, Progress: progress, Full: full})
				if stopAfter > 0 {
					require.ErrorIs(t, err, context.Canceled)
				} else {
					require.NoError(t, err)
				}
				require.Len(t, res, 1)
				return res[0]
			}
			truth := func() map[string]uint64 { return simVersions(t, sim, "lead", "leadid") }

			// a first load stopped after 300 rows, then changes at the source
			first := sync(300, false)
			require.Equal(t, connector.StatusCanceled, first.Status)
			require.Less(t, int(first.Upserted), total/2)
			sim.Mutate(20, 20, 20)
			rest := sync(0, false)
			require.Equal(t, "full", rest.Mode)
			require.Contains(t, rest.Note, "went on with the load interrupted before")
			require.Less(t, int(rest.Upserted), total, "the second part did not read everything again")
			require.GreaterOrEqual(t, int(first.Upserted+rest.Upserted), total-20)
			sync(0, false) // the delta since the load's start brings the changes
			require.Equal(t, truth(), viewVersions(t, st, "lead", "leadid", "prod"), "after a resumed first load")

			// a reload (rows already stored: it keeps a scratch table of
			// seen keys) stopped, rows deleted meanwhile, then resumed
			sync(400, true)
			sim.Mutate(0, 10, 30)
			rest = sync(0, false)
			require.Contains(t, rest.Note, "went on with the load interrupted before")
			sync(0, false)
			require.Equal(t, truth(), viewVersions(t, st, "lead", "leadid", "prod"), "after a resumed reload")

			// a resume link the source refuses: the load starts over
			sync(300, true)
			require.NoError(t, st.Exec(context.Background(),
				"INSERT INTO sync_state (environment, table_name, mode, delta_link, watermark, columns, next_link, seen_table, generation, updated_at, seq) "+
					"SELECT environment, table_name, mode, delta_link, watermark, columns, replaceRegexpOne(next_link, 'skiptoken=.*', 'skiptoken=garbage'), seen_table, generation, updated_at, seq + 1 "+
					"FROM sync_state FINAL WHERE environment = 'prod' AND table_name = 'lead'"))
			again := sync(0, false)
			require.Contains(t, again.Note, "could not go on")
			require.Equal(t, len(sim.Records("lead")), int(again.Upserted), "read in full again")
			sync(0, false)
			require.Equal(t, truth(), viewVersions(t, st, "lead", "leadid", "prod"), "after a refused resume")
		})
	}
}

// heldInsert holds the Send of the first INSERT into table until gate is
// closed, and counts the INSERTs prepared for table.
type heldInsert struct {
	warehouse.Store
	table    string
	gate     chan struct{}
	prepared atomic.Int32
}

func (h *heldInsert) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	b, err := h.Store.PrepareInsert(ctx, table, columns)
	if err != nil || table != h.table {
		return b, err
	}
	if h.prepared.Add(1) == 1 {
		return &heldBatch{Batch: b, gate: h.gate}, nil
	}
	return b, nil
}

type heldBatch struct {
	warehouse.Batch
	gate chan struct{}
}

func (b *heldBatch) Send(ctx context.Context) error {
	<-b.gate
	return b.Batch.Send(ctx)
}

// TestSyncReadsDuringInsert holds a table's first INSERT: the sync goes on
// reading and fills the next batch meanwhile, and once the INSERT is let
// go the view equals the source.
func TestSyncReadsDuringInsert(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 62, Scale: 400})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := pagedClient(t, sim, 50)
			held := &heldInsert{Store: st, table: "landing_lead", gate: make(chan struct{})}
			done := make(chan error, 1)
			var res []connector.TableResult
			go func() {
				var err error
				res, err = connector.Sync(ctx, connector.Options{Store: held, Client: client, Environment: "prod",
					Tables: []connector.Table{{Name: "lead"}}, RunID: "t", BatchRows: 100})
				done <- err
			}()
			require.Eventually(t, func() bool { return held.prepared.Load() >= 2 }, time.Minute, time.Millisecond,
				"the next batch fills while the first INSERT is held")
			close(held.gate)
			require.NoError(t, <-done)
			require.Len(t, res, 1)
			require.Equal(t, len(sim.Records("lead")), int(res[0].Upserted))
			require.Equal(t, len(sim.Records("lead")), count(t, st, "lead", "prod"))
		})
	}
}

// TestSyncKeepsOldBoolSpelling: a landing table created on a server before
// 21.12 has its two-option columns as Nullable(UInt8). After the upgrade
// the mapping asks for Nullable(Bool); the sync goes on with the table as
// it is — no type-change stop — and the values land as 0 and 1. The
// table is created here with the old mapping on the embedded engine
// (26.7), which has Bool.
func TestSyncKeepsOldBoolSpelling(t *testing.T) {
	ctx := context.Background()
	st := openMigrated(t, warehousetest.Embedded(t))
	require.Equal(t, "Bool", st.Dialect().Bool())
	sim := startSim(t, dvsim.Options{Seed: 73, Scale: 120})
	client := simClient(t, sim)
	ent, err := client.EntityDefinition(ctx, "lead")
	require.NoError(t, err)
	old, err := schema.Map(ent, schema.Options{Dialect: warehouse.Dialect{Driver: "clickhouse", Version: warehouse.Version{Major: 18, Minor: 16}}})
	require.NoError(t, err)
	_, err = landing.Ensure(ctx, st, old.Landing(), nil)
	require.NoError(t, err)
	cols, err := warehouse.TableColumns(ctx, st, "landing_lead")
	require.NoError(t, err)
	require.Contains(t, cols, warehouse.Column{Name: "donotemail", Type: "Nullable(UInt8)"}, "the old spelling")

	res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: []connector.Table{{Name: "lead"}}, RunID: "old-bool"})
	require.NoError(t, err)
	require.Equal(t, connector.StatusOK, res[0].Status, "no type-change stop: %v", res[0].Err)

	cols, err = warehouse.TableColumns(ctx, st, "landing_lead")
	require.NoError(t, err)
	require.Contains(t, cols, warehouse.Column{Name: "donotemail", Type: "Nullable(UInt8)"}, "the table is left as it is")
	want := map[uint64]int{}
	for _, r := range sim.Records("lead") {
		if v, ok := r["donotemail"].(bool); ok {
			want[map[bool]uint64{false: 0, true: 1}[v]]++
		}
	}
	require.NotEmpty(t, want)
	rows, err := st.Query(ctx, "SELECT donotemail, count() FROM lead WHERE donotemail IS NOT NULL GROUP BY donotemail")
	require.NoError(t, err)
	defer rows.Close()
	got := map[uint64]int{}
	for rows.Next() {
		var v, n uint64
		require.NoError(t, rows.Scan(&v, &n))
		got[v] = int(n)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got, "donotemail as 0 and 1, as the simulator holds it")
}

// TestSyncDeltasTakeNoSlot: tables that read only their changes do not
// wait for one of the parallel_tables slots the loads share: with 2
// slots, the deltas of 5 tables are in flight at once. On both engines.
func TestSyncDeltasTakeNoSlot(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 73, Scale: 200})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			tables := []connector.Table{{Name: "lead"}, {Name: "contact"}, {Name: "account"}, {Name: "opportunity"}, {Name: "incident"}}
			barrier := newTogether(sim.Client().Transport, len(tables), isDeltaRequest)
			client := viaClient(t, sim, barrier, 0)
			sync := func() []connector.TableResult {
				// a bound, should the deltas wait for one another for ever
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables, ParallelTables: 2, RunID: "t"})
				require.NoError(t, err)
				return res
			}
			for _, r := range sync() {
				require.Equal(t, connector.ModeFull, r.Mode, r.Table)
			}
			sim.Mutate(5, 10, 5)
			for _, r := range sync() {
				require.Equal(t, connector.ModeDelta, r.Mode, r.Table)
				require.Equal(t, connector.StatusOK, r.Status, r.Table)
			}
			require.Equal(t, simVersions(t, sim, "lead", "leadid"), viewVersions(t, st, "lead", "leadid", "prod"))
		})
	}
}

// TestColdSyncFirstRoundTrip: a first sync (no metadata anywhere) sends
// the metadata read, the option sets of every table and the row counts at
// once — one round trip before the first page, not three — and the tables
// still land equal to the source. On both engines.
func TestColdSyncFirstRoundTrip(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 74, Scale: 150})
			tables := tableList()
			held := newTogether(sim.Client().Transport, len(tables)+2, func(req *http.Request) bool {
				return strings.Contains(req.URL.Path, "/EntityDefinitions") || strings.Contains(req.URL.Path, "/RetrieveTotalRecordCount")
			})
			// a bound, should the requests wait for each other for ever
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := connector.Sync(ctx, connector.Options{Store: st, Client: viaClient(t, sim, held, 0), Environment: "prod", Tables: tables, RunID: "cold"})
			require.NoError(t, err)
			for _, r := range res {
				require.Equal(t, connector.StatusOK, r.Status, "%s: %v", r.Table, r.Err)
			}
			require.Equal(t, int32(len(tables)+2), held.count.Load(), "one metadata read, one option-set read per table, one count")
			requireViewsEqualSim(t, st, sim, tables, "prod", "first sync")
		})
	}
}

// TestLoadsLargestFirst: the loads of a first sync take the
// parallel_tables slots in the order of their row counts, largest first
// (started last, the largest table's chain of pages would end the run
// alone), and a table that fits in one page takes none. With one slot the
// larger tables load one after another in that order, and the one-page
// tables start before the first of them is done.
func TestLoadsLargestFirst(t *testing.T) {
	cfg := warehousetest.Embedded(t)
	st := openMigrated(t, cfg)
	sim := startSim(t, dvsim.Options{Seed: 75, Scale: 300})
	const page = 20
	tables := tableList()
	res, err := connector.Sync(context.Background(), connector.Options{Store: st, Client: pagedClient(t, sim, page), Environment: "prod", Tables: tables,
		RunID: "order", ParallelTables: 1})
	require.NoError(t, err)
	var large, small []connector.TableResult
	for _, r := range res {
		require.Equal(t, connector.StatusOK, r.Status, "%s: %v", r.Table, r.Err)
		if len(sim.Records(r.Table)) > page {
			large = append(large, r)
		} else {
			small = append(small, r)
		}
	}
	require.NotEmpty(t, small, "tables of one page")
	require.Greater(t, len(large), 3)
	slices.SortFunc(large, func(a, b connector.TableResult) int { return a.Started.Compare(b.Started) })
	for i := 1; i < len(large); i++ {
		a, b := large[i-1], large[i]
		require.GreaterOrEqual(t, len(sim.Records(a.Table)), len(sim.Records(b.Table)), "%s (%d rows) loaded before %s (%d rows)",
			a.Table, len(sim.Records(a.Table)), b.Table, len(sim.Records(b.Table)))
		require.False(t, b.Started.Before(a.Finished), "%s waited for the one slot", b.Table)
	}
	require.NotEqual(t, tables[0].Name, large[0].Table, "the configured order is not the count order here")
	for _, r := range small {
		require.True(t, r.Started.Before(large[0].Finished), "%s (%d rows) did not wait for the slot", r.Table, len(sim.Records(r.Table)))
	}
}
