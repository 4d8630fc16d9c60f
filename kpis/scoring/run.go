package scoring

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

// Options say what Run scores.
type Options struct {
	// Store is the warehouse, migrated (it has the scoring tables).
	Store warehouse.Store
	// Models holds the model files.
	Models *Set
	// Refs are the models to score, ID or ID@vN; empty scores the default
	// version of every model.
	Refs []string
	// AsOf is the moment the scores are computed for: interactions after
	// it do not count. Zero is now.
	AsOf time.Time
	// RunID names the run; empty makes one.
	RunID string
	// Logger receives a line per model; nil discards.
	Logger *slog.Logger
}

// Report is what one run did.
type Report struct {
	RunID  string
	AsOf   time.Time
	Models []ModelReport
	Failed []Failure
}

// Failure is a model that could not be scored.
type Failure struct {
	Ref string
	Err error
}

// ModelReport is one model's outcome in a run.
type ModelReport struct {
	Model *Model
	// Leads is how many leads were scored; Counts splits them.
	Leads  uint64
	Counts []Count
	// Backtests holds one backtest per environment with decided leads.
	Backtests []Backtest
	// Took is the model's whole time; ScoreTook the scoring statement's
	// (writing every lead's score), BacktestTook the backtest's.
	Took, ScoreTook, BacktestTook time.Duration
}

// Count is how many leads of an environment got a grade and stage.
type Count struct {
	Environment, Grade, Stage string
	Leads                     uint64
}

// Backtest judges a model on the leads of one environment decided in the
// window [WindowStart, AsOf): their score as of the decision against
// whether they were qualified.
type Backtest struct {
	Environment       string
	WindowStart, AsOf time.Time
	Grades            []GradeOutcome // from the top grade down
	Positives         uint64         // decided and qualified
	Negatives         uint64         // decided and disqualified
	Concordant        float64        // (qualified, disqualified) pairs ordered right by score; ties half
	// Rules count, per rule (and group cap) of the model in its order, the
	// decided leads it fired for as of their decision and the qualified
	// ones among them: a rule whose leads convert worse than the others
	// takes points it should give, or the other way round.
	Rules []RuleOutcome
}

// RuleOutcome counts the decided leads a rule fired for.
type RuleOutcome struct {
	Rule      string
	Fired     uint64
	Qualified uint64
}

// GradeOutcome counts the decided leads of one grade.
type GradeOutcome struct {
	Grade     string
	Decided   uint64
	Qualified uint64
}

// Rate is the grade's conversion rate (qualified ÷ decided); false when
// no lead of the grade was decided.
func (g GradeOutcome) Rate() (float64, bool) {
	if g.Decided == 0 {
		return 0, false
	}
	return float64(g.Qualified) / float64(g.Decided), true
}

// AUC is the area under the ROC curve of the score: the chance that a
// qualified lead scored higher than a disqualified one (ties half);
// false without both.
func (b Backtest) AUC() (float64, bool) {
	if b.Positives == 0 || b.Negatives == 0 {
		return 0, false
	}
	return b.Concordant / (float64(b.Positives) * float64(b.Negatives)), true
}

// Lift is the top grade's conversion rate over the bottom grade's; false
// when either grade has no decided lead or the bottom one converted none.
func (b Backtest) Lift() (float64, bool) {
	top, ok1 := b.Grades[0].Rate()
	bottom, ok2 := b.Grades[len(b.Grades)-1].Rate()
	if !ok1 || !ok2 || bottom == 0 {
		return 0, false
	}
	return top / bottom, true
}

// NewRunID makes a run id: the time and a random suffix.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "score-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// views is what the warehouse offers the models.
type views struct {
	dialect warehouse.Dialect
	lead    map[string]kind // the lead view's columns
	// strings are the lead view's columns of type (Nullable) String,
	// which text rules read as they are; others go through toString.
	strings map[string]bool
	hasLead bool
	// activities says whether activitypointer has what activity rules read.
	activities bool
	hasOpp     bool
	// landingLead says whether the lead view's landing table is there to
	// list the environments by.
	landingLead bool
	// envs are the environments of the lead landing table when Run read
	// them (landingLead): each is scored by a statement of its own.
	envs []string
	// lowCard are the text columns that equals and in rules compare and
	// that have few distinct values (see lowCardinality).
	lowCard map[string]bool
}

func readViews(ctx context.Context, s warehouse.Store) (views, error) {
	cat, err := warehouse.ReadCatalog(ctx, s, leadView, activityView, oppView, landing.TableName(leadView))
	if err != nil {
		return views{}, fmt.Errorf("read the views scoring reads: %w", err)
	}
	v := views{dialect: s.Dialect(), lead: map[string]kind{}, strings: map[string]bool{}}
	for _, c := range cat[leadView] {
		v.lead[c.Name] = kindOf(c.Type)
		v.strings[c.Name] = strings.TrimSuffix(strings.TrimPrefix(c.Type, "Nullable("), ")") == "String"
	}
	v.hasLead = len(v.lead) > 0
	has := func(table string, cols ...string) bool {
		for _, want := range cols {
			if !slices.ContainsFunc(cat[table], func(c warehouse.Column) bool { return c.Name == want }) {
				return false
			}
		}
		return true
	}
	v.activities = has(activityView, "regardingobjectid", "regardingobjectidtype", "activitytypecode", "statecode", "actualend")
	v.landingLead = has(landing.TableName(leadView), "_environment")
	v.hasOpp = has(oppView, "opportunityid", "createdon") && has(leadView, "qualifyingopportunityid")
	return v, nil
}

// check refuses a model whose columns the lead view lacks, or whose
// values do not fit a column's type there; the error names file, line
// and key.
func (m *Model) check(v views) error {
	if !v.hasLead {
		return fmt.Errorf("%s: the warehouse has no view lead: sync the lead table first", m.File.Path)
	}
	for _, need := range []string{"statecode", "modifiedon"} {
		if _, ok := v.lead[need]; !ok {
			return fmt.Errorf("%s: the view lead has no column %s, which the backtest reads", m.File.Path, need)
		}
	}
	if m.Combined() {
		for _, c := range m.components {
			if err := c.check(v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range m.allRules() {
		if r.Column == "" {
			if !v.activities {
				return m.errorf(r.key+".activity", "the warehouse has no view activitypointer with regardingobjectid, activitytypecode, statecode and actualend: sync activitypointer")
			}
			continue
		}
		k, ok := v.lead[r.Column]
		if !ok {
			return m.errorf(r.key+".column", "%s is not a column of the view lead in the warehouse (is it synced, or left out by exclude_columns?)", r.Column)
		}
		if r.columnKind == kindUnknown {
			if k == kindUnknown {
				return m.errorf(r.key+".column", "%s has a type rules cannot compare (text, numbers and true/false can be)", r.Column)
			}
			tmp := *r
			tmp.columnKind = k
			if err := m.checkValues(&tmp, r.key); err != nil {
				return err
			}
			continue
		}
		if k != r.columnKind && !(r.columnKind == kindBool && k == kindNumber) {
			return m.errorf(r.key+".column", "%s is %s in the warehouse, not %s as in Dataverse's lead table", r.Column, k, r.columnKind)
		}
	}
	return nil
}

// eachModel calls fn for each of models and the models they combine,
// each once.
func eachModel(models []*Model, fn func(*Model)) {
	seen := map[*Model]bool{}
	var visit func(m *Model)
	visit = func(m *Model) {
		if seen[m] {
			return
		}
		seen[m] = true
		fn(m)
		for _, c := range m.components {
			visit(c)
		}
	}
	for _, m := range models {
		visit(m)
	}
}

// allRules lists the model's rules, ungrouped first.
func (m *Model) allRules() []*Rule {
	var out []*Rule
	for i := range m.Rules {
		out = append(out, &m.Rules[i])
	}
	for gi := range m.Groups {
		for ri := range m.Groups[gi].Rules {
			out = append(out, &m.Groups[gi].Rules[ri])
		}
	}
	return out
}

// Run scores the leads with each model, writes every score to
// lead_scores, runs the backtest and writes it to
// lead_score_backtest_grades and lead_score_backtest_auc, and records one
// row per model in score_runs. A model that cannot run (a column the
// warehouse lacks, a failing query) is a Failure in the report and does
// not stop the others; the error is for what keeps the run from being
// recorded.
func Run(ctx context.Context, o Options) (*Report, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	started := time.Now().UTC().Truncate(time.Second)
	if o.AsOf.IsZero() {
		o.AsOf = started
	}
	o.AsOf = o.AsOf.UTC().Truncate(time.Second)
	if o.RunID == "" {
		o.RunID = NewRunID(started)
	}
	models, err := o.models()
	if err != nil {
		return nil, err
	}
	v, err := readViews(ctx, o.Store)
	if err != nil {
		return nil, err
	}
	if v.landingLead {
		if v.envs, err = environments(ctx, o.Store); err != nil {
			return nil, err
		}
	}
	v.lowCard = lowCardinality(ctx, o.Store, v, models, log)
	if err := writeModels(ctx, o.Store, models, started); err != nil {
		return nil, err
	}
	rep := &Report{RunID: o.RunID, AsOf: o.AsOf}
	for _, m := range models {
		t0 := time.Now()
		mr, err := scoreModel(ctx, o, v, m, started)
		if err == nil {
			mr.Took = time.Since(t0)
			rep.Models = append(rep.Models, *mr)
			log.Debug("model scored", "model", m.Ref(), "leads", mr.Leads, "took", mr.Took.Round(time.Millisecond))
		} else {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Failed = append(rep.Failed, Failure{Ref: m.Ref(), Err: err})
			log.Warn("model failed", "model", m.Ref(), "error", err)
			mr = &ModelReport{Model: m}
		}
		if werr := writeRun(ctx, o, m, mr, err, started); werr != nil {
			return nil, werr
		}
	}
	return rep, nil
}

func (o Options) models() ([]*Model, error) {
	if len(o.Refs) == 0 {
		return o.Models.Defaults(), nil
	}
	var out []*Model
	for _, ref := range o.Refs {
		m, err := o.Models.Resolve(ref)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// scoreModel scores every lead with m and runs its backtest.
func scoreModel(ctx context.Context, o Options, v views, m *Model, started time.Time) (*ModelReport, error) {
	if err := m.check(v); err != nil {
		return nil, err
	}
	mr := &ModelReport{Model: m}
	meta := []any{o.RunID, started, o.AsOf}
	// one statement per environment of the landing table (see query.env),
	// else one for all
	queries := []query{{asOf: o.AsOf}}
	if v.landingLead {
		queries = queries[:0]
		for _, env := range v.envs {
			queries = append(queries, query{asOf: o.AsOf, env: env})
		}
	}
	t0 := time.Now()
	for _, sq := range queries {
		head := fmt.Sprintf("SELECT ?, ?, ?, environment, leadid, %s, %d, %s, %d, score, grade, stage, rules, points FROM (%s)",
			quote(m.ID), m.Version, quote(m.File.Checksum), b2u(!m.File.Released), scoredSQL(m, v, sq))
		q, err := warehouse.Bind("INSERT INTO lead_scores (run_id, scored_at, as_of, environment, leadid, model, version, checksum, draft, "+
			"score, grade, stage, rules, points) "+head+scoreSettings(v.dialect)+insertSettings(v.dialect), meta...)
		if err != nil {
			return nil, err
		}
		if err := o.Store.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("score %s (%s): %w", m.Ref(), m.File.Path, err)
		}
	}
	mr.ScoreTook = time.Since(t0)
	rows, err := o.Store.Query(ctx, "SELECT environment, grade, stage, count() FROM lead_scores WHERE model = ? AND version = ? AND run_id = ? "+
		"GROUP BY environment, grade, stage ORDER BY environment, grade, stage", m.ID, m.Version, o.RunID)
	if err != nil {
		return nil, fmt.Errorf("count the scores of %s: %w", m.Ref(), err)
	}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Environment, &c.Grade, &c.Stage, &c.Leads); err != nil {
			rows.Close()
			return nil, fmt.Errorf("count the scores of %s: %w", m.Ref(), err)
		}
		mr.Leads += c.Leads
		mr.Counts = append(mr.Counts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count the scores of %s: %w", m.Ref(), err)
	}
	t0 = time.Now()
	if mr.Backtests, err = backtest(ctx, o, v, m); err != nil {
		return nil, err
	}
	mr.BacktestTook = time.Since(t0)
	if err := writeBacktests(ctx, o, m, mr.Backtests); err != nil {
		return nil, err
	}
	return mr, nil
}

// decidedLead is one lead of the backtest.
type decidedLead struct {
	score     float64
	qualified bool
}

// backtest scores the leads decided in the window as of their decision
// and counts per environment and grade.
func backtest(ctx context.Context, o Options, v views, m *Model) ([]Backtest, error) {
	start := o.AsOf.Add(-time.Duration(m.WindowDays()) * 24 * time.Hour)
	q := "SELECT environment, score, grade, qualified, rules FROM (" + scoredSQL(m, v, query{asOf: o.AsOf, backtest: true, from: start}) + ")" + scoreSettings(v.dialect)
	rows, err := o.Store.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("backtest %s (%s): %w", m.Ref(), m.File.Path, err)
	}
	defer rows.Close()
	byEnv := map[string]*Backtest{}
	leads := map[string][]decidedLead{}
	rank := map[string]int{}
	for i, g := range m.Grades {
		rank[g.Name] = i
	}
	for rows.Next() {
		var env, grade string
		var score float64
		var qualified uint64
		var rules []string
		if err := rows.Scan(&env, &score, &grade, &qualified, &rules); err != nil {
			return nil, fmt.Errorf("backtest %s: %w", m.Ref(), err)
		}
		b := byEnv[env]
		if b == nil {
			b = &Backtest{Environment: env, WindowStart: start, AsOf: o.AsOf, Grades: make([]GradeOutcome, len(m.Grades))}
			for i, g := range m.Grades {
				b.Grades[i].Grade = g.Name
			}
			for _, name := range m.TermNames() {
				b.Rules = append(b.Rules, RuleOutcome{Rule: name})
			}
			byEnv[env] = b
		}
		for _, r := range rules {
			for i := range b.Rules {
				if b.Rules[i].Rule == r {
					b.Rules[i].Fired++
					if qualified == 1 {
						b.Rules[i].Qualified++
					}
				}
			}
		}
		g := &b.Grades[rank[grade]]
		g.Decided++
		if qualified == 1 {
			g.Qualified++
			b.Positives++
		} else {
			b.Negatives++
		}
		leads[env] = append(leads[env], decidedLead{score: score, qualified: qualified == 1})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backtest %s (%s): %w", m.Ref(), m.File.Path, err)
	}
	var out []Backtest
	for env, b := range byEnv {
		b.Concordant = concordant(leads[env])
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Environment < out[j].Environment })
	return out, nil
}

// concordant counts the (qualified, disqualified) pairs in which the
// qualified lead scored higher, ties counting half: the Mann–Whitney U of
// the qualified leads, whose share of all pairs is the AUC.
func concordant(leads []decidedLead) float64 {
	sort.Slice(leads, func(i, j int) bool { return leads[i].score < leads[j].score })
	var u float64
	var below uint64 // disqualified leads with a lower score
	for i := 0; i < len(leads); {
		j := i
		var pos, neg uint64
		for ; j < len(leads) && leads[j].score == leads[i].score; j++ {
			if leads[j].qualified {
				pos++
			} else {
				neg++
			}
		}
		u += float64(pos)*float64(below) + 0.5*float64(pos)*float64(neg)
		below += neg
		i = j
	}
	return u
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func writeBacktests(ctx context.Context, o Options, m *Model, bts []Backtest) error {
	if len(bts) == 0 {
		return nil
	}
	draft := b2u(!m.File.Released)
	var grades, aucs [][]any
	for _, b := range bts {
		for i, g := range b.Grades {
			grades = append(grades, []any{o.RunID, b.AsOf, b.WindowStart, b.Environment, m.ID, uint64(m.Version), m.File.Checksum, draft,
				g.Grade, uint64(i + 1), uint64(len(b.Grades)), g.Decided, g.Qualified})
		}
		aucs = append(aucs, []any{o.RunID, b.AsOf, b.WindowStart, b.Environment, m.ID, uint64(m.Version), m.File.Checksum, draft,
			b.Positives, b.Negatives, b.Concordant})
	}
	head := []string{"run_id", "as_of", "window_start", "environment", "model", "version", "checksum", "draft"}
	if err := warehouse.InsertRows(ctx, o.Store, "lead_score_backtest_grades", append(head, "grade", "grade_rank", "grades", "decided", "qualified"), grades); err != nil {
		return fmt.Errorf("write lead_score_backtest_grades: %w", err)
	}
	if err := warehouse.InsertRows(ctx, o.Store, "lead_score_backtest_auc", append(head, "positives", "negatives", "concordant"), aucs); err != nil {
		return fmt.Errorf("write lead_score_backtest_auc: %w", err)
	}
	return nil
}

func writeModels(ctx context.Context, s warehouse.Store, models []*Model, at time.Time) error {
	var rows [][]any
	eachModel(models, func(m *Model) {
		rows = append(rows, []any{m.ID, uint64(m.Version), m.File.Checksum, b2u(m.File.Released), m.Title, m.Description, m.Owner,
			m.Source, m.GradeNames(), uint64(m.RuleCount()), m.File.Path, m.File.Text, at})
	})
	err := warehouse.InsertRows(ctx, s, "score_models", []string{"model", "version", "checksum", "released", "title", "description",
		"owner", "source", "grades", "rules", "path", "text", "loaded_at"}, rows)
	if err != nil {
		return fmt.Errorf("write score_models: %w", err)
	}
	return nil
}

func writeRun(ctx context.Context, o Options, m *Model, mr *ModelReport, failed error, started time.Time) error {
	status, msg := "ok", ""
	if failed != nil {
		status, msg = "failed", strings.ReplaceAll(failed.Error(), "\n", " ")
	}
	var decided uint64
	for _, b := range mr.Backtests {
		decided += b.Positives + b.Negatives
	}
	start := o.AsOf.Add(-time.Duration(m.WindowDays()) * 24 * time.Hour)
	err := warehouse.InsertRows(ctx, o.Store, "score_runs", []string{"run_id", "model", "version", "checksum", "draft", "started_at",
		"finished_at", "as_of", "leads", "window_start", "decided", "status", "error"},
		[][]any{{o.RunID, m.ID, uint64(m.Version), m.File.Checksum, b2u(!m.File.Released), started, time.Now().UTC(), o.AsOf,
			mr.Leads, start, decided, status, msg}})
	if err != nil {
		return fmt.Errorf("write score_runs: %w", err)
	}
	return nil
}

// environments lists the environments of the lead landing table, each of
// which Run scores with a statement of its own. One that a sync adds while
// the run lists them is scored by the next run.
func environments(ctx context.Context, s warehouse.Store) ([]string, error) {
	rows, err := s.Query(ctx, "SELECT DISTINCT _environment FROM "+warehouse.QuoteIdentifier(landing.TableName(leadView))+" ORDER BY _environment")
	if err != nil {
		return nil, fmt.Errorf("list the environments of the leads: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var env string
		if err := rows.Scan(&env); err != nil {
			return nil, fmt.Errorf("list the environments of the leads: %w", err)
		}
		out = append(out, env)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the environments of the leads: %w", err)
	}
	return out, nil
}

// lowCardSample is how many leads lowCardinality looks at.
const lowCardSample = 65536

// lowCardinality returns the String columns of the lead view that the
// models' equals and in rules lower-case and that have at most one
// distinct value in four among the first lowCardSample leads (of the
// landing table when there is one: no FINAL to read through). The
// embedded engine's lowerUTF8 (ICU) costs more than reading the column
// (at 200k leads 0.015 CPU-s a column beside 0.032 for reading and
// trimming it); on the column made LowCardinality it runs once per
// distinct value: 0.002 for a job title of 7 values. Making a column of
// mostly distinct values LowCardinality costs more than it saves (a
// company name: 0.025 more), hence the sample. Only engines with
// ModernSQL; on a failing sample the rules lower-case every value, as
// before, and the run goes on.
func lowCardinality(ctx context.Context, s warehouse.Store, v views, models []*Model, log *slog.Logger) map[string]bool {
	if !v.dialect.ModernSQL() {
		return nil
	}
	var cols []string
	eachModel(models, func(m *Model) {
		for _, r := range m.allRules() {
			if (r.op == "equals" || r.op == "in") && v.strings[r.Column] && !slices.Contains(cols, r.Column) {
				cols = append(cols, r.Column)
			}
		}
	})
	if len(cols) == 0 {
		return nil
	}
	table := leadView
	if v.landingLead {
		table = landing.TableName(leadView)
	}
	quoted := make([]string, len(cols))
	uniq := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = warehouse.QuoteIdentifier(c)
		uniq[i] = "uniq(" + quoted[i] + ")"
	}
	q := fmt.Sprintf("SELECT count(), %s FROM (SELECT %s FROM %s LIMIT %d)", strings.Join(uniq, ", "), strings.Join(quoted, ", "),
		warehouse.QuoteIdentifier(table), lowCardSample)
	rows, err := s.Query(ctx, q)
	if err == nil {
		defer rows.Close()
		counts := make([]uint64, len(cols)+1)
		ptrs := make([]any, len(counts))
		for i := range counts {
			ptrs[i] = &counts[i]
		}
		for rows.Next() {
			err = rows.Scan(ptrs...)
		}
		if err == nil {
			err = rows.Err()
		}
		if err == nil {
			out := map[string]bool{}
			for i, c := range cols {
				if counts[i+1]*4 <= counts[0] {
					out[c] = true
				}
			}
			return out
		}
	}
	log.Warn("sample the lead columns rules lower-case", "error", err)
	return nil
}
