package cockpit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// query runs a read-only statement and calls scan for every row.
func (c *Cockpit) query(ctx context.Context, q string, args []any, scan func(warehouse.Rows) error) error {
	rows, err := c.store.Query(warehouse.ReadOnly(ctx), q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// kpiRun is a row of kpi_runs.
type kpiRun struct {
	ID                     string
	Started, AsOf          time.Time
	Status, InputsFile     string
	InputsChecksum, Errors string
}

// latestKPIRun is the newest KPI run; ok false without one.
func (c *Cockpit) latestKPIRun(ctx context.Context) (run kpiRun, ok bool, err error) {
	err = c.query(ctx, "SELECT run_id, started_at, as_of, status, inputs_file, inputs_checksum, error FROM kpi_runs ORDER BY started_at DESC, finished_at DESC LIMIT 1", nil,
		func(r warehouse.Rows) error {
			ok = true
			return r.Scan(&run.ID, &run.Started, &run.AsOf, &run.Status, &run.InputsFile, &run.InputsChecksum, &run.Errors)
		})
	if err != nil {
		return kpiRun{}, false, fmt.Errorf("read kpi_runs: %w", err)
	}
	return run, ok, nil
}

// result is a row of kpi_results.
type result struct {
	RunID       string
	Computed    time.Time
	KPI         string
	Version     uint64
	Draft       uint64
	Environment string
	Start, End  time.Time
	Dimensions  string
	Value       *float64
	Numerator   *float64
	Denominator *float64
	Unit        string
	Status      string
	SyncRuns    []string
}

const resultColumns = "run_id, computed_at, kpi_id, version, draft, environment, period_start, period_end, dimensions, value, numerator, denominator, unit, status, sync_runs"

func scanResult(r warehouse.Rows) (result, error) {
	var x result
	err := r.Scan(&x.RunID, &x.Computed, &x.KPI, &x.Version, &x.Draft, &x.Environment, &x.Start, &x.End, &x.Dimensions,
		&x.Value, &x.Numerator, &x.Denominator, &x.Unit, &x.Status, &x.SyncRuns)
	return x, err
}

// results reads kpi_results of one run, or of one KPI over every run
// (kpi not ""), ordered by KPI, environment, dimensions, period and run.
func (c *Cockpit) results(ctx context.Context, run, kpi string) ([]result, error) {
	where, arg := "run_id = ?", run
	if kpi != "" {
		where, arg = "kpi_id = ?", kpi
	}
	return c.readResults(ctx, where, arg)
}

// readResults reads the kpi_results rows where says, ordered by KPI,
// environment, dimensions, period and run, with their periods in their
// run's zone (inRunZones).
func (c *Cockpit) readResults(ctx context.Context, where string, args ...any) ([]result, error) {
	var out []result
	err := c.query(ctx, "SELECT "+resultColumns+" FROM kpi_results WHERE "+where+
		" ORDER BY kpi_id, environment, dimensions, period_start, computed_at", args, func(r warehouse.Rows) error {
		x, err := scanResult(r)
		out = append(out, x)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read kpi_results: %w", err)
	}
	return c.inRunZones(ctx, out)
}

// inRunZones moves every result's period into the time zone its KPI run
// cut it in (kpi_runs.timezone, kpis.timezone at the time), so a Berlin
// October starts on 1 October on the pages, not on 30 September UTC.
// Unknown zones stay UTC.
func (c *Cockpit) inRunZones(ctx context.Context, rs []result) ([]result, error) {
	zones := map[string]*time.Location{}
	err := c.query(ctx, "SELECT run_id, timezone FROM kpi_runs", nil, func(r warehouse.Rows) error {
		var id, tz string
		if err := r.Scan(&id, &tz); err != nil {
			return err
		}
		if loc, err := time.LoadLocation(tz); err == nil && tz != "" {
			zones[id] = loc
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read kpi_runs: %w", err)
	}
	for i := range rs {
		loc := zones[rs[i].RunID]
		if loc == nil {
			loc = time.UTC
		}
		rs[i].Start, rs[i].End = rs[i].Start.In(loc), rs[i].End.In(loc)
	}
	return rs, nil
}

// definition is a row of kpi_definitions.
type definition struct {
	ID                         string
	Version                    uint64
	Checksum                   string
	Released                   bool
	Title, Description, Owner  string
	Level, Phase, Type, Unit   string
	Direction, Green, Amber    string
	MinDenominator             float64
	Grain                      string
	Dimensions, Sources, Input []string
	Source, Path               string
	Loaded                     time.Time
	// SQL is the definition's SQL, from the catalog (sqlOf).
	SQL string
}

// definitions reads kpi_definitions: every version of kpi (all KPIs when
// ""), the newest load of each version first... ordered by id and version.
func (c *Cockpit) definitions(ctx context.Context, kpi string) ([]definition, error) {
	q := `SELECT kpi_id, version, checksum, released, title, description, owner, level, phase, type, unit, direction, green, amber,
		min_denominator, grain, dimensions, sources, inputs, source, path, loaded_at FROM kpi_definitions FINAL`
	var args []any
	if kpi != "" {
		q += " WHERE kpi_id = ?"
		args = append(args, kpi)
	}
	q += " ORDER BY kpi_id, version, loaded_at"
	var out []definition
	err := c.query(ctx, q, args, func(r warehouse.Rows) error {
		var d definition
		var released uint64
		err := r.Scan(&d.ID, &d.Version, &d.Checksum, &released, &d.Title, &d.Description, &d.Owner, &d.Level, &d.Phase, &d.Type,
			&d.Unit, &d.Direction, &d.Green, &d.Amber, &d.MinDenominator, &d.Grain, &d.Dimensions, &d.Sources, &d.Input,
			&d.Source, &d.Path, &d.Loaded)
		d.Released = released == 1
		out = append(out, d)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read kpi_definitions: %w", err)
	}
	// one per version: the latest load
	var dedup []definition
	for _, d := range out {
		if n := len(dedup); n > 0 && dedup[n-1].ID == d.ID && dedup[n-1].Version == d.Version {
			dedup[n-1] = d
			continue
		}
		dedup = append(dedup, d)
	}
	return dedup, nil
}

// rank orders statuses from best to worst: the worst wins an aggregate.
var rank = map[string]int{"none": 0, "green": 1, "amber": 2, "red": 3}

// worse returns the worse of two statuses.
func worse(a, b string) string {
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// current keeps, per KPI, environment and dimensions, the result of the
// latest period: the KPI's current state. rs come ordered as results
// returns them.
func current(rs []result) []result {
	var out []result
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].KPI == r.KPI && out[n-1].Environment == r.Environment && out[n-1].Dimensions == r.Dimensions {
			if !r.Start.Before(out[n-1].Start) {
				out[n-1] = r
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// latestPeriod keeps, per KPI and environment, only the results of the
// latest period among cur. A KPI whose dimension is itself a time bucket
// (hypercare tickets per week after go-live) has one period per bucket in
// one run; management sees where it stands now — the latest week — not
// every past week, while the project-lead view keeps the whole detail.
func latestPeriod(cur []result) []result {
	newest := map[string]time.Time{}
	for _, r := range cur {
		k := r.KPI + "\x00" + r.Environment
		if t, ok := newest[k]; !ok || r.Start.After(t) {
			newest[k] = r.Start
		}
	}
	var out []result
	for _, r := range cur {
		if r.Start.Equal(newest[r.KPI+"\x00"+r.Environment]) {
			out = append(out, r)
		}
	}
	return out
}

// phaseLine is one line of the management view.
type phaseLine struct {
	Phase  string
	Status string
	Counts map[string]int
	Core   []coreKPI
	KPIs   int
}

// coreKPI is a core KPI of a phase with its status over environments.
type coreKPI struct {
	ID, Title, Status string
}

// levelOrder puts strategic KPIs first among a phase's core KPIs.
var levelOrder = map[string]int{"strategic": 0, "tactical": 1, "operational": 2}

// coreCount is how many core KPIs a phase line shows.
const coreCount = 3

// phases aggregates the current results by phase, in the catalog's order
// of phases: the worst status, counts per status, the core KPIs.
func phases(order []string, cur []result, defs map[string]definition) []phaseLine {
	byPhase := map[string]*phaseLine{}
	kpiStatus := map[string]string{}
	for _, r := range cur {
		d := defs[r.KPI]
		p := byPhase[d.Phase]
		if p == nil {
			p = &phaseLine{Phase: d.Phase, Status: "none", Counts: map[string]int{}}
			byPhase[d.Phase] = p
		}
		p.Status = worse(p.Status, r.Status)
		p.Counts[r.Status]++
		if s, ok := kpiStatus[r.KPI]; ok {
			kpiStatus[r.KPI] = worse(s, r.Status)
		} else {
			kpiStatus[r.KPI] = r.Status
			p.KPIs++
		}
	}
	var ids []string
	for id := range kpiStatus {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(levelOrder[defs[a].Level], levelOrder[defs[b].Level]), cmp.Compare(a, b))
	})
	for _, id := range ids {
		p := byPhase[defs[id].Phase]
		if len(p.Core) < coreCount {
			p.Core = append(p.Core, coreKPI{ID: id, Title: defs[id].Title, Status: kpiStatus[id]})
		}
	}
	var out []phaseLine
	for _, ph := range order {
		if p := byPhase[ph]; p != nil {
			out = append(out, *p)
			delete(byPhase, ph)
		}
	}
	var rest []string
	for ph := range byPhase {
		rest = append(rest, ph)
	}
	slices.Sort(rest)
	for _, ph := range rest {
		out = append(out, *byPhase[ph])
	}
	return out
}

// latestDefs maps each KPI id to its newest definition version.
func latestDefs(ds []definition) map[string]definition {
	m := map[string]definition{}
	for _, d := range ds {
		if old, ok := m[d.ID]; !ok || d.Version >= old.Version {
			m[d.ID] = d
		}
	}
	return m
}

// latestState is the latest KPI run, its results, and the newest
// definition of every KPI.
type latestState struct {
	run     kpiRun
	ok      bool // false: no KPI run yet
	results []result
	defs    map[string]definition
}

// latest reads the latest KPI run's state.
func (c *Cockpit) latest(ctx context.Context) (latestState, error) {
	var k latestState
	var err error
	if k.run, k.ok, err = c.latestKPIRun(ctx); err != nil || !k.ok {
		return k, err
	}
	if k.results, err = c.results(ctx, k.run.ID, ""); err != nil {
		return k, err
	}
	ds, err := c.definitions(ctx, "")
	if err != nil {
		return k, err
	}
	k.defs = latestDefs(ds)
	return k, nil
}
