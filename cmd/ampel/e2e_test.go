package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// End-to-end tests: the ampel binary, built once, syncs a simulator
// running in this process into each warehouse driver; the tests compare
// every current-state view with the simulator's live rows.

var ampelBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ampel-e2e-")
	if err != nil {
		panic(err)
	}
	ampelBin = filepath.Join(dir, "ampel")
	// no -race here: the binary's packages run their own tests with -race
	// in process; a race-built binary makes these tests several times slower
	out, err := exec.Command("go", "build", "-o", ampelBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ampel: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	warehousetest.Main(m)
}

// e2e is one simulator and one warehouse, driven through the binary.
type e2e struct {
	t        *testing.T
	sim      *dvsim.Server
	config   string
	seenRuns map[string]bool // run ids lastRuns has returned
}

// newE2E starts a simulator and writes a config for it with the named
// warehouse driver.
func newE2E(t *testing.T, driver string, opts dvsim.Options) *e2e {
	t.Helper()
	sim, err := dvsim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	dir := t.TempDir()
	file := filepath.Join(dir, "ampel.yaml")
	require.NoError(t, writeSimConfig(file, sim))
	useTestWarehouse(t, file, driver)
	return &e2e{t: t, sim: sim, config: file}
}

// useTestWarehouse replaces the warehouse section of the config a
// simulator wrote at file with a test warehouse of driver (embedded: in a
// directory beside file).
func useTestWarehouse(t *testing.T, file, driver string) {
	t.Helper()
	var wh string
	switch driver {
	case "clickhouse":
		cfg := warehousetest.ClickHouse(t)
		warehousetest.Open(t, cfg) // creates the database; dropped at cleanup
		wh = fmt.Sprintf("warehouse:\n  driver: clickhouse\n  dsn: %s\n  database: %s\n", cfg.DSN, cfg.Database)
	case "embedded":
		cfg := warehousetest.Embedded(t)
		wh = fmt.Sprintf("warehouse:\n  driver: embedded\n  path: %s\n  library: %s\n", filepath.Join(filepath.Dir(file), "warehouse"), cfg.Library)
	}
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	text := string(data)
	i := strings.Index(text, "warehouse:")
	j := strings.Index(text, "environments:")
	text = text[:i] + wh + text[j:]
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	_, err = config.Load(file, os.LookupEnv)
	require.NoError(t, err)
}

// ampel runs the binary and returns stdout; it fails the test on a
// non-zero exit.
func (x *e2e) ampel(args ...string) string {
	x.t.Helper()
	if args[0] == "sync" {
		x.markRuns()
	}
	out, errOut, err := x.run(context.Background(), args...)
	require.NoError(x.t, err, "ampel %s\nstderr: %s\nstdout: %s", strings.Join(args, " "), errOut, out)
	return out
}

func (x *e2e) run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	args = append(args[:1:1], append([]string{"--config", x.config}, args[1:]...)...)
	cmd := exec.CommandContext(ctx, ampelBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// query runs SQL through ampel sql and returns the rows as maps.
func (x *e2e) query(q string) []map[string]any {
	x.t.Helper()
	out := x.ampel("sql", "--format", "json", q)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var rows []map[string]any
	require.NoError(x.t, dec.Decode(&rows), out)
	return rows
}

// primaryKey is the primary key of a simulated table.
func primaryKey(table string) string {
	switch table {
	case "activitypointer", "phonecall", "email", "task", "appointment":
		return "activityid"
	}
	return table + "id"
}

// requireEqual checks that every current-state view holds exactly the
// simulator's live rows, each at the simulator's version, and that the
// string columns of leads agree.
func (x *e2e) requireEqual(stage string) {
	x.t.Helper()
	x.requireTablesEqual(stage, config.DefaultTables)
}

// requireTablesEqual is requireEqual for some tables (lead among them).
func (x *e2e) requireTablesEqual(stage string, tables []string) {
	x.t.Helper()
	// one query for all views: each ampel process loads the engine anew
	var parts []string
	for _, table := range tables {
		parts = append(parts, fmt.Sprintf("SELECT '%s' AS t, toString(%s) AS id, versionnumber FROM %s WHERE _environment = 'sim'", table, primaryKey(table), table))
	}
	gotAll := map[string]map[string]string{}
	for _, r := range x.query(strings.Join(parts, " UNION ALL ")) {
		table, id := str(r["t"]), str(r["id"])
		if gotAll[table] == nil {
			gotAll[table] = map[string]string{}
		}
		_, dup := gotAll[table][id]
		require.False(x.t, dup, "%s: %s: id %s twice in the view", stage, table, id)
		gotAll[table][id] = str(r["versionnumber"])
	}
	for _, table := range tables {
		want := map[string]string{}
		for _, r := range x.sim.Records(table) {
			want[str(r[primaryKey(table)])] = str(r["versionnumber"])
		}
		got := gotAll[table]
		if len(want) != len(got) {
			var missing, extra []string
			for id := range want {
				if _, ok := got[id]; !ok {
					missing = append(missing, id)
				}
			}
			for id := range got {
				if _, ok := want[id]; !ok {
					extra = append(extra, id)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			x.t.Fatalf("%s: %s: view has %d rows, source %d; missing %.5v, extra %.5v", stage, table, len(got), len(want), missing, extra)
		}
		for id, v := range want {
			require.Equal(x.t, v, got[id], "%s: %s %s: versionnumber", stage, table, id)
		}
	}
	// the content of one table, column by column
	leads := map[string]map[string]any{}
	for _, r := range x.query("SELECT toString(leadid) AS leadid, subject, companyname, emailaddress1, telephone1 FROM lead") {
		leads[fmt.Sprint(r["leadid"])] = r
	}
	for _, r := range x.sim.Records("lead") {
		got := leads[fmt.Sprint(r["leadid"])]
		for _, col := range []string{"subject", "companyname", "emailaddress1", "telephone1"} {
			require.Equal(x.t, fmtNullable(r[col]), fmtNullable(got[col]), "%s: lead %v %s", stage, r["leadid"], col)
		}
	}
}

func fmtNullable(v any) string {
	if v == nil {
		return "<null>"
	}
	return str(v)
}

// str prints a value from JSON (the simulator's float64 or the warehouse's
// json.Number) the same way.
func str(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// markRuns notes the runs in sync_runs so far, before a sync.
func (x *e2e) markRuns() {
	x.t.Helper()
	if x.seenRuns == nil {
		x.seenRuns = map[string]bool{}
	}
	if _, err := os.Stat(x.config); err != nil {
		return
	}
	out, _, err := x.run(context.Background(), "sql", "--format", "tsv", "SELECT DISTINCT run_id FROM sync_runs")
	if err != nil {
		return // no warehouse or no sync_runs yet
	}
	for _, id := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		x.seenRuns[id] = true
	}
}

// lastRuns returns the sync_runs rows of the run made by the last sync
// (finished_at has whole seconds: it cannot order fast runs).
func (x *e2e) lastRuns() map[string]map[string]any {
	x.t.Helper()
	rows := x.query("SELECT run_id, table_name, mode, status, rows_upserted, rows_deleted, throttled, retries, note, error FROM sync_runs")
	if x.seenRuns == nil {
		x.seenRuns = map[string]bool{}
	}
	out := map[string]map[string]any{}
	newRun := ""
	for _, r := range rows {
		id := str(r["run_id"])
		if x.seenRuns[id] {
			continue
		}
		require.True(x.t, newRun == "" || newRun == id, "more than one new run: %s and %s", newRun, id)
		newRun = id
		out[str(r["table_name"])] = r
	}
	require.NotEmpty(x.t, newRun, "no new run in sync_runs")
	x.seenRuns[newRun] = true
	return out
}

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

var drivers = []string{"clickhouse", "embedded"}

func TestSyncEndToEnd(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 7, Scale: 300})

			x.ampel("sync")
			x.requireEqual("first load")
			runs := x.lastRuns()
			require.Len(t, runs, len(config.DefaultTables))
			for table, r := range runs {
				require.Equal(t, "full", r["mode"], table)
				require.Equal(t, "ok", r["status"], table)
			}

			res := x.sim.Mutate(20, 30, 10)
			x.ampel("sync")
			x.requireEqual("after mutate")
			var upserted, deleted int64
			for table, r := range x.lastRuns() {
				require.Equal(t, "delta", r["mode"], table)
				upserted += num(r["rows_upserted"])
				deleted += num(r["rows_deleted"])
			}
			require.Positive(t, deleted, "deletes applied: %+v", res)
			require.Positive(t, upserted)

			// no changes: nothing moves
			x.ampel("sync")
			x.requireEqual("no changes")
			for table, r := range x.lastRuns() {
				require.EqualValues(t, 0, num(r["rows_upserted"]), table)
			}
		})
	}
}

func TestSyncUnderFaults(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 11, Scale: 300})
			x.sim.SetThrottle(dvsim.Throttle{Requests: 8, Window: time.Second, Concurrent: 2, RetryAfter: 200 * time.Millisecond})
			x.sim.SetFaults(dvsim.Faults{ErrorRate: 0.1})
			x.ampel("sync")
			x.requireEqual("first load under faults")
			x.sim.Mutate(10, 20, 10)
			x.ampel("sync")
			x.requireEqual("delta under faults")
			var throttled, retries int64
			for _, r := range x.lastRuns() {
				throttled += num(r["throttled"])
				retries += num(r["retries"])
			}
			require.Positive(t, throttled+retries, "faults were met")
		})
	}
}

func TestSyncExpiredDeltaToken(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 5, Scale: 200})
			x.ampel("sync")
			x.sim.ExpireDeltaTokens()
			x.sim.Mutate(10, 10, 15)
			x.ampel("sync")
			x.requireEqual("after reload")
			reloads := 0
			for _, r := range x.lastRuns() {
				if r["mode"] == "reload" {
					reloads++
					require.Contains(t, r["note"], "delta link refused")
				}
			}
			require.Equal(t, len(config.DefaultTables), reloads)
		})
	}
}

func TestSyncColumnAdded(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 3, Scale: 200})
			x.ampel("sync")
			require.NoError(t, x.sim.AddColumn("lead", "new_rating", "Integer"))
			x.sim.Mutate(5, 5, 0)
			x.ampel("sync")
			x.requireEqual("after column added")
			changes := x.query("SELECT table_name, column_name, change FROM schema_changes")
			require.Len(t, changes, 1)
			require.Equal(t, "lead", changes[0]["table_name"], changes)
			require.Equal(t, "new_rating", changes[0]["column_name"])
			want := map[string]string{}
			for _, r := range x.sim.Records("lead") {
				want[fmt.Sprint(r["leadid"])] = fmtNullable(r["new_rating"])
			}
			for _, r := range x.query("SELECT toString(leadid) AS id, new_rating FROM lead") {
				require.Equal(t, want[fmt.Sprint(r["id"])], fmtNullable(r["new_rating"]))
			}
		})
	}
}

func TestSyncChangeTrackingOff(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 9, Scale: 200, Faults: dvsim.Faults{NoChangeTracking: []string{"incident"}}})
	x.ampel("sync")
	r := x.lastRuns()["incident"]
	require.Equal(t, "full", r["mode"])
	require.Equal(t, "change tracking is off for this table: deletes are found by reading its keys; this full load read them all", r["note"])
	x.sim.Mutate(10, 30, 8)
	x.ampel("sync")
	x.requireEqual("watermark")
	r = x.lastRuns()["incident"]
	require.Equal(t, "watermark", r["mode"])
	require.Contains(t, r["note"], "change tracking is off for this table: deletes found by reading its keys (")
	require.NotContains(t, r["note"], "cannot be seen")
}

// TestSyncSurvivesKill kills the sync process at random points — mid
// page, mid insert, before the state is saved — and checks that the next
// complete run leaves every view equal to the source.
func TestSyncSurvivesKill(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 13, Scale: 2000})
			rng := rand.New(rand.NewPCG(13, uint64(len(driver))))
			// measure one full run to spread the kills over it
			start := time.Now()
			x.ampel("sync", "--full")
			full := time.Since(start)
			kills := 0
			for i := 0; i < 12; i++ {
				x.sim.Mutate(30, 60, 20)
				args := []string{"sync"}
				if i%2 == 0 {
					args = append(args, "--full")
				}
				if x.killAfter(args, time.Duration(rng.Int64N(int64(full)))) {
					kills++
				}
			}
			require.Positive(t, kills, "at least one run was killed")
			x.ampel("sync")
			x.requireEqual("after kills")
		})
	}
}

// TestSyncKillResumes kills a first load with SIGKILL once it has saved a
// checkpoint: the next sync goes on from the checkpoint instead of reading
// the table again, and the view ends equal to the source.
func TestSyncKillResumes(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			// lead: about 51k rows, 11 pages of 5000; a checkpoint after
			// every batch (20,000 rows, 4 pages)
			x := newE2E(t, driver, dvsim.Options{Seed: 31, Scale: 50_000, Faults: dvsim.Faults{Latency: 50 * time.Millisecond}})
			x.appendConfig("sync:\n  checkpoint_every: 1ms\n  parallel_ranges: 1\n")
			total := int64(len(x.sim.Records("lead")))
			require.Greater(t, total, int64(40_000))

			x.killLoadAfterCheckpoint("--tables", "lead")

			x.ampel("sync", "--tables", "lead")
			lead := x.lastRuns()["lead"]
			require.Equal(t, "full", lead["mode"])
			require.Contains(t, lead["note"], "went on with the load interrupted before")
			require.LessOrEqual(t, num(lead["rows_upserted"]), total-20_000, "the checkpointed rows were not read again")
			x.requireTablesEqual("after a killed load went on", []string{"lead"})
		})
	}
}

// killAfter starts ampel with args and kills it with SIGKILL after d; it
// reports whether the process was killed before it ended on its own.
func (x *e2e) killAfter(args []string, d time.Duration) bool {
	x.t.Helper()
	args = append(args[:1:1], append([]string{"--config", x.config}, args[1:]...)...)
	cmd := exec.Command(ampelBin, args...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	require.NoError(x.t, cmd.Start())
	timer := time.AfterFunc(d, func() { cmd.Process.Signal(syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	if err == nil {
		return false
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return true
	}
	x.t.Fatalf("ampel %v failed on its own: %v\n%s", args, err, errOut.String())
	return false
}
