package kpis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// DefaultCriticalFields are the fields the completeness KPIs check per
// table unless the config's kpis.critical_fields replaces a table's list.
var DefaultCriticalFields = map[string][]string{
	"lead":        {"firstname", "lastname", "companyname", "emailaddress1", "telephone1", "subject", "jobtitle"},
	"contact":     {"firstname", "lastname", "emailaddress1", "telephone1", "jobtitle"},
	"account":     {"name", "telephone1", "websiteurl", "address1_city", "accountnumber"},
	"opportunity": {"name", "estimatedvalue", "estimatedclosedate", "parentcontactid"},
	"quote":       {"name", "opportunityid", "totalamount"},
	"salesorder":  {"name", "quoteid", "totalamount"},
	"invoice":     {"name", "salesorderid", "totalamount", "duedate"},
}

// Options say what Run computes.
type Options struct {
	// Store is the warehouse, migrated (it has the kpi_* tables).
	Store warehouse.Store
	// Catalog holds the definitions.
	Catalog *Catalog
	// Refs are the KPIs to run, ID or ID@vN; empty runs the default version
	// of every KPI.
	Refs []string
	// Inputs is the inputs file; nil skips the KPIs that need it.
	Inputs *Inputs
	// AsOf is the moment the definitions take as now; zero is time.Now.
	AsOf time.Time
	// Timezone cuts periods; empty is UTC.
	Timezone string
	// CriticalFields replace DefaultCriticalFields per table.
	CriticalFields map[string][]string
	// RunID names the run; empty makes one.
	RunID string
	// DirectReads makes every KPI read the current-state views themselves,
	// without run-scoped snapshots (package doc, "Snapshots"): the way
	// Ampel ran before them, kept for the benchmark's comparison.
	DirectReads bool
	// Logger receives a line per KPI at debug level; nil discards.
	Logger *slog.Logger
}

// Dim is one dimension value of a result.
type Dim struct {
	Name, Value string
}

// Result is one row of kpi_results.
type Result struct {
	Def                    *Definition
	Environment            string
	PeriodStart, PeriodEnd time.Time
	Dims                   []Dim
	// Value is nil when there is none (status none); Numerator and
	// Denominator are nil when the SQL gave none.
	Value, Numerator, Denominator *float64
	Status                        string
	SyncRuns                      []string
}

// Dim returns the value of dimension name, or "".
func (r Result) Dim(name string) string {
	for _, d := range r.Dims {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// DimText is the readable form of the dimensions: "table=lead, field=x".
func (r Result) DimText() string {
	parts := make([]string, len(r.Dims))
	for i, d := range r.Dims {
		parts[i] = d.Name + "=" + d.Value
	}
	return strings.Join(parts, ", ")
}

// Failure is a KPI whose SQL failed.
type Failure struct {
	Ref string
	Err error
}

// Skip is a KPI left out because the inputs lack what it needs ("input
// go_live") or a source table is not synced ("view incident").
type Skip struct {
	Ref     string
	Missing []string
}

// Timing is how long one KPI's query took.
type Timing struct {
	Ref  string
	Took time.Duration
}

// Report is what one run did.
type Report struct {
	RunID   string
	AsOf    time.Time
	Results []Result
	Failed  []Failure
	Skipped []Skip
	Timings []Timing
	// Snapshots are the current-state views the run read through a
	// run-scoped snapshot (package doc, "Snapshots"); SnapshotTook is the
	// time taking them took.
	Snapshots    []string
	SnapshotTook time.Duration
	// SnapshotBytes is the memory the snapshots held, where the engine
	// reports it (not 18.16).
	SnapshotBytes uint64
}

// Count returns how many results have status.
func (r *Report) Count(status string) int {
	n := 0
	for _, res := range r.Results {
		if res.Status == status {
			n++
		}
	}
	return n
}

// NewRunID makes a run id: the time and a random suffix.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "kpi-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Run computes the KPIs, writes every result to kpi_results and one row to
// kpi_runs, and returns what it did. A KPI whose SQL fails is a Failure in
// the report and does not stop the others; the error is for the warehouse
// writes that keep the run from being recorded.
func Run(ctx context.Context, o Options) (*Report, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	started := time.Now().UTC()
	if o.AsOf.IsZero() {
		o.AsOf = started
	}
	o.AsOf = o.AsOf.UTC().Truncate(time.Second)
	if o.Timezone == "" {
		o.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(o.Timezone); err != nil {
		return nil, fmt.Errorf("kpi time zone %q: %w", o.Timezone, err)
	}
	if o.RunID == "" {
		o.RunID = NewRunID(started)
	}
	defs, err := o.definitions()
	if err != nil {
		return nil, err
	}
	rep := &Report{RunID: o.RunID, AsOf: o.AsOf}
	if err := writeDefinitions(ctx, o.Store, defs, started); err != nil {
		return nil, err
	}
	if o.Inputs != nil {
		if err := o.Inputs.write(ctx, o.Store, o.RunID); err != nil {
			return nil, err
		}
	}
	syncRuns, err := lastSyncRuns(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	fields, err := criticalFields(ctx, o.Store, o.CriticalFields)
	if err != nil {
		return nil, err
	}
	activity, err := activityTables(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	data := map[string]any{
		"Dialect":        o.Store.Dialect().TemplateData(),
		"AsOf":           fmt.Sprintf("toDateTime('%s', 'UTC')", o.AsOf.Format("2006-01-02 15:04:05")),
		"TZ":             warehouse.QuoteString(o.Timezone),
		"Run":            warehouse.QuoteString(o.RunID),
		"CriticalFields": fields,
		"ActivityTables": activity,
	}
	views, err := sourceViews(ctx, o.Store, defs)
	if err != nil {
		return nil, err
	}
	type job struct {
		d   *Definition
		q   string
		err error
	}
	var jobs []job
	var queries []string
	for _, d := range defs {
		var missing []string
		for _, in := range d.Inputs {
			if !o.Inputs.Has(in) {
				missing = append(missing, "input "+in)
			}
		}
		for _, v := range d.Sources {
			if !views[v] {
				missing = append(missing, "view "+v)
			}
		}
		if len(missing) > 0 {
			rep.Skipped = append(rep.Skipped, Skip{Ref: d.Ref(), Missing: missing})
			log.Debug("kpi skipped", "kpi", d.Ref(), "missing", missing)
			continue
		}
		q, err := d.Render(data)
		jobs = append(jobs, job{d: d, q: q, err: err})
		if err == nil {
			queries = append(queries, q)
		}
	}
	if err := sweepSnapshots(ctx, o.Store, started, log); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("kpi snapshots left by killed runs not dropped", "error", err)
	}
	t0 := time.Now()
	if o.DirectReads {
		queries = nil
	}
	snap, drop, err := takeSnapshots(ctx, o.Store, queries, log)
	if err != nil {
		return nil, err
	}
	defer drop()
	rep.Snapshots, rep.SnapshotTook = snap.views(), time.Since(t0)
	if rep.SnapshotBytes, err = snap.bytes(ctx, o.Store); err != nil {
		log.Warn("kpi snapshots' size unknown", "error", err)
	}
	for _, j := range jobs {
		d := j.d
		t0 := time.Now()
		res, err := []Result(nil), j.err
		if err == nil {
			res, err = d.run(ctx, o.Store, snap.apply(j.q), o.AsOf)
		}
		took := time.Since(t0)
		rep.Timings = append(rep.Timings, Timing{Ref: d.Ref(), Took: took})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Failed = append(rep.Failed, Failure{Ref: d.Ref(), Err: err})
			log.Warn("kpi failed", "kpi", d.Ref(), "error", err)
			continue
		}
		for i := range res {
			res[i].SyncRuns = syncRuns.forResult(res[i].Environment, d.Sources)
		}
		log.Debug("kpi computed", "kpi", d.Ref(), "results", len(res), "took", took.Round(time.Millisecond))
		rep.Results = append(rep.Results, res...)
	}
	if err := writeResults(ctx, o.Store, rep, started); err != nil {
		return nil, err
	}
	if err := writeRun(ctx, o, rep, len(defs), started); err != nil {
		return nil, err
	}
	return rep, nil
}

func (o Options) definitions() ([]*Definition, error) {
	if len(o.Refs) == 0 {
		return o.Catalog.Defaults(), nil
	}
	var defs []*Definition
	seen := map[*Definition]bool{}
	for _, ref := range o.Refs {
		d, err := o.Catalog.Resolve(ref)
		if err != nil {
			return nil, err
		}
		if !seen[d] {
			seen[d] = true
			defs = append(defs, d)
		}
	}
	return defs, nil
}

// TableFields are the critical fields of one table, as templates see them.
type TableFields struct {
	Table  string
	Fields []string
}

// criticalFields merges the configured fields into the defaults and keeps
// the tables whose view exists; a configured field the view lacks is an
// error.
func criticalFields(ctx context.Context, s warehouse.Store, configured map[string][]string) ([]TableFields, error) {
	merged := map[string][]string{}
	for t, fs := range DefaultCriticalFields {
		merged[t] = fs
	}
	for t, fs := range configured {
		merged[t] = fs
	}
	tables := make([]string, 0, len(merged))
	for t := range merged {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	cat, err := warehouse.ReadCatalog(ctx, s, tables...)
	if err != nil {
		return nil, fmt.Errorf("read the views of the critical fields: %w", err)
	}
	var out []TableFields
	for _, t := range tables {
		cols := cat[t]
		if len(cols) == 0 {
			continue // not synced
		}
		for _, f := range merged[t] {
			if !slices.ContainsFunc(cols, func(c warehouse.Column) bool { return c.Name == f }) {
				if _, own := configured[t]; own {
					return nil, fmt.Errorf("kpis.critical_fields: %s.%s is not a column of the view %s", t, f, t)
				}
				return nil, fmt.Errorf("default critical field %s.%s is not a column of the view %s: list the table's fields in kpis.critical_fields", t, f, t)
			}
		}
		out = append(out, TableFields{Table: t, Fields: merged[t]})
	}
	return out, nil
}

// ActivityTables are the views whose createdby/createdon and
// modifiedby/modifiedon tell that a user worked in the system.
var ActivityTables = []string{"account", "contact", "lead", "opportunity", "quote", "salesorder", "invoice", "activitypointer", "incident"}

// activityTables keeps the ActivityTables whose view exists with the four
// columns.
func activityTables(ctx context.Context, s warehouse.Store) ([]string, error) {
	cat, err := warehouse.ReadCatalog(ctx, s, ActivityTables...)
	if err != nil {
		return nil, fmt.Errorf("read the views of user activity: %w", err)
	}
	var out []string
	for _, t := range ActivityTables {
		n := 0
		for _, c := range cat[t] {
			switch c.Name {
			case "createdby", "createdon", "modifiedby", "modifiedon":
				n++
			}
		}
		if n == 4 {
			out = append(out, t)
		}
	}
	return out, nil
}

// sourceViews reports which of the views the definitions read exist.
func sourceViews(ctx context.Context, s warehouse.Store, defs []*Definition) (map[string]bool, error) {
	var names []string
	for _, d := range defs {
		for _, v := range d.Sources {
			if !slices.Contains(names, v) {
				names = append(names, v)
			}
		}
	}
	have := map[string]bool{}
	if len(names) == 0 {
		return have, nil
	}
	cat, err := warehouse.ReadCatalog(ctx, s, names...)
	if err != nil {
		return nil, fmt.Errorf("read the views the KPIs read: %w", err)
	}
	for _, n := range names {
		have[n] = len(cat[n]) > 0
	}
	return have, nil
}

// syncRunMap maps environment and table to the last successful sync run.
type syncRunMap map[[2]string]string

func lastSyncRuns(ctx context.Context, s warehouse.Store) (syncRunMap, error) {
	rows, err := s.Query(ctx, "SELECT environment, table_name, argMax(run_id, finished_at) FROM sync_runs WHERE status = 'ok' GROUP BY environment, table_name")
	if err != nil {
		return nil, fmt.Errorf("read sync runs: %w", err)
	}
	defer rows.Close()
	m := syncRunMap{}
	for rows.Next() {
		var env, table, run string
		if err := rows.Scan(&env, &table, &run); err != nil {
			return nil, fmt.Errorf("read sync runs: %w", err)
		}
		m[[2]string{env, table}] = run
	}
	return m, rows.Err()
}

func (m syncRunMap) forResult(env string, sources []string) []string {
	var out []string
	for _, t := range sources {
		if r, ok := m[[2]string{env, t}]; ok && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// run runs the definition's rendered SQL q and judges its rows.
func (d *Definition) run(ctx context.Context, s warehouse.Store, q string, asOf time.Time) ([]Result, error) {
	rows, err := s.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", d.Ref(), d.File.Path, err)
	}
	defer rows.Close()
	idx, err := d.columns(rows.Columns())
	if err != nil {
		return nil, err
	}
	var out []Result
	for rows.Next() {
		vals := rows.Values()
		r := Result{Def: d, PeriodStart: asOf, PeriodEnd: asOf}
		r.Environment, _ = vals[idx.env].(string)
		if idx.start >= 0 {
			if r.PeriodStart, err = timeOf(vals[idx.start]); err != nil {
				return nil, fmt.Errorf("%s: period_start: %w", d.Ref(), err)
			}
			if r.PeriodEnd, err = timeOf(vals[idx.end]); err != nil {
				return nil, fmt.Errorf("%s: period_end: %w", d.Ref(), err)
			}
		}
		for i, name := range d.Dimensions {
			r.Dims = append(r.Dims, Dim{Name: name, Value: fmt.Sprint(deref(vals[idx.dims[i]]))})
		}
		var value *float64
		if idx.value >= 0 {
			value = floatOf(vals[idx.value])
		}
		if idx.num >= 0 {
			r.Numerator = floatOf(vals[idx.num])
		}
		if idx.den >= 0 {
			r.Denominator = floatOf(vals[idx.den])
		}
		r.Value, r.Status = d.Judge(value, r.Numerator, r.Denominator)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s (%s): %w", d.Ref(), d.File.Path, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].less(out[j]) })
	return out, nil
}

func (r Result) less(o Result) bool {
	if r.Environment != o.Environment {
		return r.Environment < o.Environment
	}
	if !r.PeriodStart.Equal(o.PeriodStart) {
		return r.PeriodStart.Before(o.PeriodStart)
	}
	return r.DimText() < o.DimText()
}

// Render executes the definition's SQL template with data.
func (d *Definition) Render(data map[string]any) (string, error) {
	q, err := ampelsql.RenderText(d.File.Path, d.File.Body, data)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(q) == "" {
		return "", fmt.Errorf("%s: the SQL template renders to nothing", d.File.Path)
	}
	return q, nil
}

type columnIndex struct {
	env, start, end, value, num, den int
	dims                             []int
}

// columns checks the result columns against the contract (package doc).
func (d *Definition) columns(cols []warehouse.Column) (columnIndex, error) {
	find := func(name string) int {
		return slices.IndexFunc(cols, func(c warehouse.Column) bool { return c.Name == name })
	}
	idx := columnIndex{env: find("environment"), start: find("period_start"), end: find("period_end"),
		value: find("value"), num: find("numerator"), den: find("denominator")}
	missing := func(what string) error {
		return fmt.Errorf("%s (%s): the SQL returns no column %s", d.Ref(), d.File.Path, what)
	}
	switch {
	case idx.env < 0:
		return idx, missing("environment")
	case d.Grain != "snapshot" && (idx.start < 0 || idx.end < 0):
		return idx, missing("period_start and period_end (grain " + d.Grain + ")")
	case (idx.start < 0) != (idx.end < 0):
		return idx, missing("period_start and period_end together")
	case d.Type == "ratio" && (idx.num < 0 || idx.den < 0):
		return idx, missing("numerator and denominator (a ratio)")
	case d.Type == "value" && idx.value < 0:
		return idx, missing("value")
	}
	for _, name := range d.Dimensions {
		i := find("dim_" + name)
		if i < 0 {
			return idx, missing("dim_" + name)
		}
		idx.dims = append(idx.dims, i)
	}
	return idx, nil
}

func deref(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func floatOf(v any) *float64 {
	var f float64
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		f = x
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case decimal.Decimal:
		f = x.InexactFloat64()
	case bool:
		if x {
			f = 1
		}
	default:
		return nil
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

func timeOf(v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("want a Date or DateTime, got %T", v)
	}
	return t.UTC(), nil
}

func writeDefinitions(ctx context.Context, s warehouse.Store, defs []*Definition, at time.Time) error {
	var rows [][]any
	for _, d := range defs {
		rows = append(rows, []any{d.ID, uint64(d.Version), d.File.Checksum, b2u(d.File.Released), d.Title, d.Description,
			d.Owner, d.Level, d.Phase, d.Type, d.Unit, d.Direction, d.Thresholds.Green, d.Thresholds.Amber,
			d.MinDenominator, d.Grain, nonNil(d.Dimensions), nonNil(d.Sources), nonNil(d.Inputs), d.Source, d.File.Path, at})
	}
	err := warehouse.InsertRows(ctx, s, "kpi_definitions", []string{"kpi_id", "version", "checksum", "released", "title", "description",
		"owner", "level", "phase", "type", "unit", "direction", "green", "amber", "min_denominator", "grain",
		"dimensions", "sources", "inputs", "source", "path", "loaded_at"}, rows)
	if err != nil {
		return fmt.Errorf("write kpi_definitions: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func ptr(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

func writeResults(ctx context.Context, s warehouse.Store, rep *Report, at time.Time) error {
	if len(rep.Results) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(rep.Results))
	for _, r := range rep.Results {
		names, values := make([]string, len(r.Dims)), make([]string, len(r.Dims))
		for i, d := range r.Dims {
			names[i], values[i] = d.Name, d.Value
		}
		rows = append(rows, []any{rep.RunID, at, r.Def.ID, uint64(r.Def.Version), r.Def.File.Checksum, b2u(!r.Def.File.Released),
			r.Environment, r.PeriodStart, r.PeriodEnd, r.DimText(), names, values, ptr(r.Value), ptr(r.Numerator),
			ptr(r.Denominator), r.Def.Unit, r.Status, nonNil(r.SyncRuns)})
	}
	err := warehouse.InsertRows(ctx, s, "kpi_results", []string{"run_id", "computed_at", "kpi_id", "version", "checksum", "draft",
		"environment", "period_start", "period_end", "dimensions", "dim_names", "dim_values", "value", "numerator",
		"denominator", "unit", "status", "sync_runs"}, rows)
	if err != nil {
		return fmt.Errorf("write kpi_results: %w", err)
	}
	return nil
}

func writeRun(ctx context.Context, o Options, rep *Report, kpis int, started time.Time) error {
	status, msg := "ok", ""
	if len(rep.Failed) > 0 {
		status = "failed"
		var parts []string
		for _, f := range rep.Failed {
			parts = append(parts, f.Err.Error())
		}
		msg = strings.Join(parts, "; ")
	}
	var note []string
	for _, s := range rep.Skipped {
		note = append(note, s.Ref+" needs "+strings.Join(s.Missing, ", "))
	}
	file, sum := "", ""
	if o.Inputs != nil {
		file, sum = o.Inputs.File, o.Inputs.Checksum
	}
	err := warehouse.InsertRows(ctx, o.Store, "kpi_runs", []string{"run_id", "started_at", "finished_at", "as_of", "timezone", "kpis",
		"results", "failed", "skipped", "red", "amber", "green", "inputs_file", "inputs_checksum", "status", "error", "note"},
		[][]any{{rep.RunID, started, time.Now().UTC(), rep.AsOf, o.Timezone, uint64(kpis), uint64(len(rep.Results)),
			uint64(len(rep.Failed)), uint64(len(rep.Skipped)), uint64(rep.Count(Red)), uint64(rep.Count(Amber)),
			uint64(rep.Count(Green)), file, sum, status, msg, strings.Join(note, "; ")}})
	if err != nil {
		return fmt.Errorf("write kpi_runs: %w", err)
	}
	return nil
}

// ErrRed and ErrAmber are what FailOn returns when a result has that
// status or worse.
var (
	ErrRed   = errors.New("a KPI is red")
	ErrAmber = errors.New("a KPI is amber or red")
)

// FailOn returns ErrRed or ErrAmber when a result reaches level ("red" or
// "amber"), naming the first such KPI; nil otherwise.
func (r *Report) FailOn(level string) error {
	for _, res := range r.Results {
		if res.Status == Red || level == Amber && res.Status == Amber {
			e := ErrRed
			if level == Amber {
				e = ErrAmber
			}
			return fmt.Errorf("%w: %s %s %s is %s", e, res.Def.Ref(), res.Environment, res.DimText(), res.Status)
		}
	}
	return nil
}
