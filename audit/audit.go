package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// DefaultRetentionDays is the GDPR retention period when none is configured: two years.
const DefaultRetentionDays = 730

// TrendRuns is how many runs a rule's trend covers, this one included.
const TrendRuns = 5

// RunOptions say what Run audits.
type RunOptions struct {
	// Store is the warehouse, migrated (dq_* tables).
	Store warehouse.Store
	// Catalog holds the rules.
	Catalog *Catalog
	// Refs are the rules to run, ID or ID@vN; empty runs the default version of every rule.
	Refs []string
	// AsOf is the moment the rules take as now; zero is time.Now.
	AsOf time.Time
	// RunID names the run; empty makes one.
	RunID string
	// Environments limits the audit to these environments; empty audits all.
	Environments []string
	// EnvironmentURLs gives each environment's organisation URL, for the record links.
	EnvironmentURLs map[string]string
	// CountryCodes gives each environment's default country calling code (see Options).
	CountryCodes map[string]string
	// CriticalFields are the critical fields per table, for incomplete_record (the same the
	// completeness KPIs use). A table without any is skipped by rules that need them.
	CriticalFields map[string][]string
	// RetentionDays is the GDPR retention period; 0 is DefaultRetentionDays.
	RetentionDays int
	// Workers compare duplicate pairs in parallel; default GOMAXPROCS.
	Workers int
	// Logger gets a line per rule at debug level; nil discards.
	Logger *slog.Logger
}

// Report is what one audit run found.
type Report struct {
	RunID string
	AsOf  time.Time
	// Rules summarise each rule run, in id order.
	Rules []RuleResult
	// Findings are the open findings and those this run resolved, ordered by severity, rule,
	// table, environment and record.
	Findings []*Finding
	Failed   []Failure
	Skipped  []Skip
}

// RuleResult is one rule's part of a run, over its tables and environments.
type RuleResult struct {
	Def *Definition
	// Tables it ran on.
	Tables []string
	// Checked records; open Findings, of which New were not open before and Marked carry a
	// review mark; Resolved: open before, gone now.
	Checked, Findings, New, Resolved, Marked int
	// Groups and Excess (records in groups minus one per group) of a duplicate rule.
	Groups, Excess int
	// Trend is the open findings of the rule in the last TrendRuns runs, oldest first,
	// this run last.
	Trend []int
}

// Failure is a rule that failed on a table; the others go on.
type Failure struct {
	Ref, Table string
	Err        error
}

// Skip is a rule left out on a table, and why.
type Skip struct {
	Ref, Table, Reason string
}

// Count returns how many of the report's findings are open with severity (any severity
// when it is "").
func (r *Report) Count(severity string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Status == StatusOpen && (severity == "" || f.Severity == severity) {
			n++
		}
	}
	return n
}

// NewRunID makes a run id: the time and a random suffix.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "audit-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// statKey identifies one rule's figures on one table and environment.
type statKey struct{ rule, table, env string }

type stat struct {
	checked, findings, new, resolved, groups, excess int
}

// run is one Run in progress.
type run struct {
	o        RunOptions
	log      *slog.Logger
	rep      *Report
	cat      warehouse.Catalog
	views    map[string]bool
	cur      map[string]*Finding
	order    []*Finding
	ran      map[string]map[string]bool // rule id → table → ran without failure
	stats    map[statKey]*stat
	counts   map[string]map[string]int // table → environment → live records
	envs     map[string]bool           // Environments as a set (nil: all)
	defs     []*Definition
	byRuleID map[string]*Definition
	seq      uint64 // run order, in dq_findings, dq_run_rules and dq_runs
	reviews  []storedReview
}

// Run runs the audit: every rule (or those Refs name) over the current-state views. It
// compares the findings with those of the runs before — a finding open before and gone now
// is resolved — applies the stewards' review marks, writes every open finding and every
// resolved one to dq_findings, a row per rule, table and environment to dq_run_rules and
// one row to dq_runs, and returns the report. A rule that fails on a table is a Failure in
// the report and does not stop the others (its findings there stay as they were); the
// error is for what keeps the run from being recorded.
func Run(ctx context.Context, o RunOptions) (*Report, error) {
	started := time.Now().UTC()
	if o.AsOf.IsZero() {
		o.AsOf = started
	}
	o.AsOf = o.AsOf.UTC().Truncate(time.Second)
	if o.RunID == "" {
		o.RunID = NewRunID(started)
	}
	if o.RetentionDays <= 0 {
		o.RetentionDays = DefaultRetentionDays
	}
	r := &run{o: o, log: o.Logger, rep: &Report{RunID: o.RunID, AsOf: o.AsOf}, cur: map[string]*Finding{},
		ran: map[string]map[string]bool{}, stats: map[statKey]*stat{}, counts: map[string]map[string]int{}, byRuleID: map[string]*Definition{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if len(o.Environments) > 0 {
		r.envs = map[string]bool{}
		for _, e := range o.Environments {
			r.envs[e] = true
		}
	}
	var err error
	if r.defs, err = o.definitions(); err != nil {
		return nil, err
	}
	for _, d := range r.defs {
		r.byRuleID[d.ID] = d
	}
	if r.cat, err = readColumns(ctx, o.Store); err != nil {
		return nil, err
	}
	r.views = map[string]bool{}
	for t := range r.cat {
		r.views[t] = true
	}
	if r.reviews, err = readReviews(ctx, o.Store); err != nil {
		return nil, err
	}
	r.seq = uint64(time.Now().UnixNano())
	// rule by rule: find, compare with the rule's findings before, write, and let go, so
	// that memory holds one rule's state at a time (beside the report)
	if err := r.duplicates(ctx); err != nil {
		return nil, err
	}
	for _, d := range r.defs {
		if d.Kind == KindSQL {
			if err := r.sqlRule(ctx, d); err != nil {
				return nil, err
			}
			if err := r.settle(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	sortFindings(r.rep.Findings)
	if err := r.writeRuleRows(ctx); err != nil {
		return nil, err
	}
	if err := r.writeRun(ctx, started); err != nil {
		return nil, err
	}
	if err := r.summarise(ctx); err != nil {
		return nil, err
	}
	return r.rep, nil
}

// settle finishes rule d: it compares the findings d made in this run with d's findings
// before (first seen carried over, gone ones resolved), applies the marks, writes them,
// counts them, and moves them to the report.
func (r *run) settle(ctx context.Context, d *Definition) error {
	if r.ran[d.ID] == nil {
		return nil // it ran on no table: its findings stay as they are
	}
	prev, err := readFindings(ctx, r.o.Store, []string{d.ID})
	if err != nil {
		return err
	}
	resolved := r.merge(prev)
	r.applyReviews(r.order)
	all := append(r.order, resolved...)
	if err := writeFindings(ctx, r.o.Store, r.o.RunID, r.seq, all); err != nil {
		return err
	}
	for _, f := range all {
		s := r.stat(f.RuleID, f.Table, f.Environment)
		switch {
		case f.Status == StatusResolved:
			s.resolved++
		default:
			s.findings++
			if f.New {
				s.new++
			}
		}
	}
	r.rep.Findings = append(r.rep.Findings, all...)
	r.cur, r.order = map[string]*Finding{}, nil
	return nil
}

func (o RunOptions) definitions() ([]*Definition, error) {
	if len(o.Refs) == 0 {
		return o.Catalog.Defaults(), nil
	}
	var defs []*Definition
	seen := map[string]bool{}
	for _, ref := range o.Refs {
		d, err := o.Catalog.Resolve(ref)
		if err != nil {
			return nil, err
		}
		if seen[d.ID] {
			return nil, fmt.Errorf("rule %s is named twice (%s)", d.ID, ref)
		}
		seen[d.ID] = true
		defs = append(defs, d)
	}
	slices.SortFunc(defs, func(a, b *Definition) int { return strings.Compare(a.ID, b.ID) })
	return defs, nil
}

func (r *run) stat(rule, table, env string) *stat {
	k := statKey{rule, table, env}
	s := r.stats[k]
	if s == nil {
		s = &stat{}
		r.stats[k] = s
	}
	return s
}

func (r *run) inScope(env string) bool { return r.envs == nil || r.envs[env] }

func (r *run) skip(d *Definition, table, reason string) {
	r.rep.Skipped = append(r.rep.Skipped, Skip{Ref: d.Ref(), Table: table, Reason: reason})
	r.log.Debug("audit rule skipped", "rule", d.Ref(), "table", table, "reason", reason)
}

func (r *run) fail(d *Definition, table string, err error) {
	r.rep.Failed = append(r.rep.Failed, Failure{Ref: d.Ref(), Table: table, Err: err})
	r.log.Warn("audit rule failed", "rule", d.Ref(), "table", table, "error", err)
}

func (r *run) markRan(d *Definition, table string) {
	if r.ran[d.ID] == nil {
		r.ran[d.ID] = map[string]bool{}
	}
	r.ran[d.ID][table] = true
}

// add records a finding of this run; a second one with the same id is dropped.
func (r *run) add(f *Finding) {
	if r.cur[f.ID] != nil {
		return
	}
	f.Status = StatusOpen
	f.Link = RecordLink(r.o.EnvironmentURLs[f.Environment], f.linkTable(), f.RecordID)
	r.cur[f.ID] = f
	r.order = append(r.order, f)
}

func (f *Finding) linkTable() string {
	if f.recordTable != "" {
		return f.recordTable
	}
	return f.Table
}

// duplicates runs the duplicate rules, table by table.
func (r *run) duplicates(ctx context.Context) error {
	byTable := map[string][]*Definition{}
	for _, d := range r.defs {
		if d.Kind == KindDuplicateRule || d.Kind == KindDuplicateModel {
			byTable[d.Table] = append(byTable[d.Table], d)
		}
	}
	for _, table := range slices.Sorted(maps.Keys(byTable)) {
		defs := byTable[table]
		if !r.views[table] {
			for _, d := range defs {
				r.skip(d, table, "view "+table+" is not synced")
			}
			continue
		}
		opts := Options{Models: []Model{}, Rules: []Rule{}, Tables: []string{table}, Environments: r.o.Environments,
			CountryCodes: r.o.CountryCodes, Workers: r.o.Workers, Logger: r.log}
		for _, d := range defs {
			if d.model != nil {
				opts.Models = append(opts.Models, *d.model)
			} else {
				opts.Rules = append(opts.Rules, *d.rule)
			}
		}
		res, err := Duplicates(ctx, r.o.Store, opts)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			for _, d := range defs {
				r.fail(d, table, err)
			}
			continue
		}
		tr := res.Table(table)
		for _, d := range defs {
			r.markRan(d, table)
			groups := tr.ByRule[d.ID]
			if d.model != nil {
				groups = tr.Fuzzy
			}
			for env, n := range tr.Checked[d.ID] {
				r.stat(d.ID, table, env).checked = n
			}
			for _, g := range groups {
				s := r.stat(d.ID, table, g.Environment)
				s.groups++
				s.excess += g.Size() - 1
				for _, m := range g.Members {
					r.add(&Finding{ID: FindingID(d.ID, d.Version, g.Environment, table, m.ID, ""), RuleID: d.ID, RuleVersion: d.Version,
						Severity: d.Severity, Kind: d.Kind, Environment: g.Environment, Table: table, RecordID: m.ID,
						Values: memberValues(m), Detail: groupDetail(g, m.ID), Group: g.ID})
				}
			}
			r.log.Debug("audit rule run", "rule", d.Ref(), "table", table, "groups", len(groups))
			if err := r.settle(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// memberValues are a member's values, by column name. They are copied: a member's values
// point into the buffers of the table's columns, which the findings must not hold.
func memberValues(m Member) []Value {
	var out []Value
	for _, k := range slices.Sorted(maps.Keys(m.Values)) {
		out = append(out, Value{k, strings.Clone(m.Values[k])})
	}
	return out
}

// groupDetail says in words why a member is in its group: the other members, and for the
// first link that names it the fields that agreed.
func groupDetail(g *Group, id string) string {
	var others []string
	for _, m := range g.Members {
		if m.ID != id {
			others = append(others, m.ID)
		}
	}
	s := fmt.Sprintf("duplicate of %s", strings.Join(others, ", "))
	for _, l := range g.Links {
		if l.A != id && l.B != id {
			continue
		}
		var agree []string
		for _, f := range l.Fields {
			if f.Level == Exact || f.Level == Close {
				agree = append(agree, f.Field+" "+f.Level.String())
			}
		}
		if l.Swapped {
			agree = append(agree, "names swapped")
		}
		s += ": " + strings.Join(agree, ", ")
		if l.Score != 0 {
			s += fmt.Sprintf(" (score %.1f)", l.Score)
		}
		break
	}
	return s
}

// sqlRule runs an sql rule on each of its tables.
func (r *run) sqlRule(ctx context.Context, d *Definition) error {
	for _, table := range d.TableList() {
		if !r.views[table] {
			r.skip(d, table, "view "+table+" is not synced")
			continue
		}
		data := &checkData{Dialect: r.o.Store.Dialect().TemplateData(), Now: dateTimeLiteral(r.o.AsOf), Table: table, Key: keyOf(table),
			Columns: r.cat[table], Params: d.Params, RetentionDays: r.o.RetentionDays, Views: r.views,
			CriticalFields: r.o.CriticalFields[table]}
		if data.Params == nil {
			data.Params = map[string]string{}
		}
		data.columnKinds()
		if missing := r.missingCritical(table); len(missing) > 0 && usesCritical(d) {
			r.fail(d, table, fmt.Errorf("%s: critical fields %s are no columns of the view %s", d.Ref(), strings.Join(missing, ", "), table))
			continue
		}
		if usesCritical(d) && len(data.CriticalFields) == 0 {
			r.skip(d, table, "no critical fields for "+table)
			continue
		}
		q, err := d.render(r.cat, data)
		if err != nil {
			r.fail(d, table, err)
			continue
		}
		if q == "" {
			r.skip(d, table, "a view it needs is not synced")
			continue
		}
		t0 := time.Now()
		raws, err := runCheck(ctx, r.o.Store, d, table, q)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail(d, table, err)
			continue
		}
		counts, err := r.tableCounts(ctx, table)
		if err != nil {
			return err
		}
		r.markRan(d, table)
		for env, n := range counts {
			if r.inScope(env) {
				r.stat(d.ID, table, env).checked = n
			}
		}
		for _, x := range raws {
			if !r.inScope(x.env) {
				continue
			}
			r.add(&Finding{ID: FindingID(d.ID, d.Version, x.env, table, x.record, x.field), RuleID: d.ID, RuleVersion: d.Version,
				Severity: d.Severity, Kind: d.Kind, Environment: x.env, Table: table, RecordID: x.record, Field: x.field,
				Values: x.values, Detail: x.detail, recordTable: x.recordTable})
			r.stat(d.ID, table, x.env)
		}
		r.log.Debug("audit rule run", "rule", d.Ref(), "table", table, "findings", len(raws), "took", time.Since(t0).Round(time.Millisecond))
	}
	return nil
}

func usesCritical(d *Definition) bool { return strings.Contains(d.File.Body, ".CriticalFields") }

func (r *run) missingCritical(table string) []string {
	var out []string
	for _, f := range r.o.CriticalFields[table] {
		if !slices.ContainsFunc(r.cat[table], func(c warehouse.Column) bool { return c.Name == f }) {
			out = append(out, f)
		}
	}
	return out
}

// tableCounts counts a view's records per environment, once per run.
func (r *run) tableCounts(ctx context.Context, table string) (map[string]int, error) {
	if c, ok := r.counts[table]; ok {
		return c, nil
	}
	rows, err := r.o.Store.Query(ctx, "SELECT _environment, count() FROM "+warehouse.QuoteIdentifier(table)+" GROUP BY _environment")
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", table, err)
	}
	defer rows.Close()
	c := map[string]int{}
	for rows.Next() {
		var env string
		var n uint64
		if err := rows.Scan(&env, &n); err != nil {
			return nil, fmt.Errorf("count %s: %w", table, err)
		}
		c[env] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count %s: %w", table, err)
	}
	r.counts[table] = c
	return c, nil
}

func dateTimeLiteral(t time.Time) string {
	return fmt.Sprintf("toDateTime('%s', 'UTC')", t.UTC().Format(time.DateTime))
}

// readColumns reads the columns of every table and view of the database.
func readColumns(ctx context.Context, st warehouse.Store) (warehouse.Catalog, error) {
	q := "SELECT table, name, type FROM system.columns WHERE database = currentDatabase()"
	if st.Dialect().ModernSQL() {
		q += " ORDER BY table, position"
	}
	rows, err := st.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the warehouse's columns: %w", err)
	}
	defer rows.Close()
	cat := warehouse.Catalog{}
	for rows.Next() {
		var t string
		var c warehouse.Column
		if err := rows.Scan(&t, &c.Name, &c.Type); err != nil {
			return nil, fmt.Errorf("read the warehouse's columns: %w", err)
		}
		cat[t] = append(cat[t], c)
	}
	return cat, rows.Err()
}

// merge compares this run's findings with the state before: it carries first seen and the
// group a record was in over, and returns the findings that were open and are gone, as
// resolved. Only findings of rules and tables that ran, in the environments audited, can
// be resolved.
func (r *run) merge(prev map[string]*Finding) []*Finding {
	for _, f := range r.order {
		f.LastSeen = r.o.AsOf
		p := prev[f.ID]
		if p == nil {
			f.FirstSeen, f.New = r.o.AsOf, true
			continue
		}
		f.FirstSeen, f.New = p.FirstSeen, p.Status != StatusOpen
		switch {
		case p.Group != "" && p.Group != f.Group:
			f.Supersedes = p.Group
		case p.Group == f.Group:
			f.Supersedes = p.Supersedes
		}
	}
	var out []*Finding
	for _, p := range prev {
		if p.Status != StatusOpen || r.cur[p.ID] != nil || !r.ran[p.RuleID][p.Table] || !r.inScope(p.Environment) {
			continue
		}
		p.Status, p.ResolvedAt, p.New = StatusResolved, r.o.AsOf, false
		p.Values = parseValuesJSON(p.valuesJSON)
		out = append(out, p)
	}
	return out
}

// severityRank orders severities, most severe first.
func severityRank(s string) int {
	if i := slices.Index(Severities, s); i >= 0 {
		return i
	}
	return len(Severities)
}

func sortFindings(fs []*Finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		for _, c := range [][2]string{{a.RuleID, b.RuleID}, {a.Table, b.Table}, {a.Environment, b.Environment}, {a.Group, b.Group},
			{a.RecordID, b.RecordID}, {a.Field, b.Field}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return a.Status < b.Status
	})
}

// ErrNotMigrated says the warehouse lacks the audit's tables.
var ErrNotMigrated = errors.New("the warehouse has no dq_findings table; run ampel migrate")
