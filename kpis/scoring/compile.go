package scoring

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// The views a model reads.
const (
	leadView     = "lead"
	activityView = "activitypointer"
	oppView      = "opportunity"
)

// The zero GUID: what a lead without a qualifying opportunity joins on.
const zeroUUID = "toUUID('00000000-0000-0000-0000-000000000000')"

// compiler turns one model into SQL for one engine.
type compiler struct {
	dialect warehouse.Dialect
	// hasOpp says whether the opportunity view exists with createdon, so
	// that a qualified lead's decision time can be its opportunity's
	// creation.
	hasOpp bool

	cols  []string // lead columns read, in first-use order
	kinds map[string]kind
	// forms are the values the lead side computes from the columns, in
	// first-use order: a column's normalized value and, for text, the
	// cheaper forms some rules need (see form).
	forms []colForm
	// viewKinds are the kinds of the lead view's columns, for columns the
	// known list does not have (custom columns).
	viewKinds map[string]kind
	// viewStrings are the lead view's String columns.
	viewStrings map[string]bool
	// lowCard are the String columns of few distinct values, which the
	// normalized form lower-cases through LowCardinality.
	lowCard map[string]bool
	aggs    []string // activity aggregates; aggs[i] is __a<i>
	types   []string // activity types read
	// asOf is the SQL of the moment a score is computed for: a DateTime
	// literal, or the column decided_at in the backtest; asOfConst is the
	// run's as-of literal.
	asOf, asOfConst string
	nr, ng          int // rules and groups numbered so far (__r<i>, __g<i>)
	// lead, when set, is the UUID literal of the one lead to score.
	lead string
	// env, when set, is the literal of the one environment to score:
	// both sides read only its rows and join on leadid alone.
	env string
}

// term is one entry of a lead's explanation: a rule or a group's cap.
type term struct {
	name string
	expr string // Float64 SQL over the level-1 columns
}

// plan is a model compiled to its levels: rule values (level 1), group
// totals (level 2), the explanation and the score (level 3).
type plan struct {
	rules  []string // level 1: "<expr> AS __r<i>"
	groups []string // level 2: "<expr> AS __g<i>_raw", "<expr> AS __g<i>"
	terms  []term
	score  string
}

func quote(s string) string {
	lit, _ := warehouse.Literal(s)
	return lit
}

func num(f float64) string {
	lit, _ := warehouse.Literal(f)
	return lit
}

// form is how the lead side hands a column to the rules. Lower-casing
// text costs about as much as reading it, so a text rule gets only what
// it needs: equals and in compare the normalized value; present and
// blank ask whether the value without the spaces around it is empty,
// which lower case does not change; contains searches case-insensitively
// in the value as it is, or without the spaces around it when the
// searched text begins or ends with a space (only then can a match reach
// into those spaces).
type form uint8

const (
	formNormalized form = iota // text lower-cased and trimmed, numbers Float64, true/false 0/1
	formTrimmed                // text without the spaces around it
	formRaw                    // text as it is
)

// colForm is one value of the lead side: a column in a form.
type colForm struct {
	name string
	form form
}

// alias is the level-1 name of the value.
func (f colForm) alias() string {
	return [...]string{"__c_", "__t_", "__s_"}[f.form] + f.name
}

// column returns the level-1 name of a lead column's normalized value:
// text lower-cased with the spaces around it removed, numbers as Float64,
// true/false as 0/1; NULL stays NULL.
func (c *compiler) column(name string, k kind) string {
	return c.columnAs(name, k, formNormalized)
}

// columnAs returns the level-1 name of a lead column in form f (a text
// column's; the others have only the normalized form).
func (c *compiler) columnAs(name string, k kind, f form) string {
	if !slices.Contains(c.cols, name) {
		c.cols = append(c.cols, name)
		c.kinds[name] = k
	}
	cf := colForm{name: name, form: f}
	if !slices.Contains(c.forms, cf) {
		c.forms = append(c.forms, cf)
	}
	return cf.alias()
}

// normalized is the SQL that makes a lead column's value in its form.
func (c *compiler) normalized(cf colForm) string {
	id := warehouse.QuoteIdentifier(cf.name)
	switch c.kinds[cf.name] {
	case kindText:
		if !c.viewStrings[cf.name] {
			id = "toString(" + id + ")"
		}
		if cf.form == formRaw {
			return id
		}
		trimmed := fmt.Sprintf("replaceRegexpAll(%s, '^ +| +$', '')", id)
		if c.dialect.ModernSQL() {
			trimmed = fmt.Sprintf("trimBoth(%s)", id)
		}
		if cf.form == formTrimmed {
			return trimmed
		}
		if c.lowCard[cf.name] { // String columns, on ModernSQL engines only
			// a column of few distinct values: lowerUTF8 and trimBoth
			// run once per value of its dictionary (see lowCardinality)
			return fmt.Sprintf("lowerUTF8(trimBoth(toLowCardinality(%s)))", id)
		}
		return "lowerUTF8(" + trimmed + ")"
	case kindBool:
		return fmt.Sprintf("toUInt8(%s)", id)
	default:
		return fmt.Sprintf("toFloat64(%s)", id)
	}
}

// textValue normalizes a value as normalized does a text column.
func textValue(v string) string { return strings.ToLower(strings.Trim(v, " ")) }

// agg adds an activity aggregate and returns its level-1 name.
func (c *compiler) agg(expr string) string {
	if i := slices.Index(c.aggs, expr); i >= 0 {
		return "__a" + strconv.Itoa(i)
	}
	c.aggs = append(c.aggs, expr)
	return "__a" + strconv.Itoa(len(c.aggs)-1)
}

// condition is the 0/1 SQL of a column rule.
func (c *compiler) condition(r *Rule) string {
	k := r.columnKind
	if k == kindUnknown {
		k = c.viewKinds[r.Column]
	}
	var cond string
	switch r.op {
	case "present", "blank":
		var present string
		if k == kindText {
			present = "ifNull(" + c.columnAs(r.Column, k, formTrimmed) + " != '', 0)"
		} else {
			present = c.column(r.Column, k) + " IS NOT NULL"
		}
		if r.op == "blank" {
			return "NOT " + present
		}
		return present
	case "contains":
		needle := strings.ToLower(r.Contains)
		f := formRaw
		if strings.Trim(needle, " ") != needle {
			f = formTrimmed
		}
		cond = fmt.Sprintf("positionCaseInsensitiveUTF8(%s, %s) > 0", c.columnAs(r.Column, k, f), quote(needle))
	case "range":
		col := c.column(r.Column, k)
		var parts []string
		if r.lo != nil {
			parts = append(parts, col+" >= "+num(*r.lo))
		}
		if r.hi != nil {
			parts = append(parts, col+" < "+num(*r.hi))
		}
		cond = strings.Join(parts, " AND ")
	case "equals", "in":
		vals := r.In
		if r.op == "equals" {
			vals = []string{r.Equals}
		}
		lits := make([]string, len(vals))
		for i, v := range vals {
			switch k {
			case kindText:
				lits[i] = quote(textValue(v))
			case kindBool:
				b, _ := strconv.ParseBool(strings.TrimSpace(v))
				lits[i] = map[bool]string{true: "1", false: "0"}[b]
			default:
				f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
				lits[i] = num(f)
			}
		}
		col := c.column(r.Column, k)
		if len(lits) == 1 {
			cond = col + " = " + lits[0]
		} else {
			cond = col + " IN (" + strings.Join(lits, ", ") + ")"
		}
	}
	return "ifNull(" + cond + ", 0)"
}

// activity compiles an activity rule to its level-1 value.
func (c *compiler) activity(r *Rule, halfLife float64) string {
	for _, t := range r.Activity {
		if !slices.Contains(c.types, t) {
			c.types = append(c.types, t)
		}
	}
	age := "(toInt64(" + c.asOf + ") - toInt64(t))"
	var conds []string
	if len(r.Activity) == 1 {
		conds = append(conds, "atype = "+quote(r.Activity[0]))
	} else {
		lits := make([]string, len(r.Activity))
		for i, t := range r.Activity {
			lits[i] = quote(t)
		}
		conds = append(conds, "atype IN ("+strings.Join(lits, ", ")+")")
	}
	if r.WithinDays > 0 {
		conds = append(conds, fmt.Sprintf("%s <= %d", age, r.WithinDays*86400))
	}
	cond := strings.Join(conds, " AND ")
	between := func(x string) string {
		var parts []string
		if r.lo != nil {
			parts = append(parts, x+" >= "+num(*r.lo))
		}
		if r.hi != nil {
			parts = append(parts, x+" < "+num(*r.hi))
		}
		return strings.Join(parts, " AND ")
	}
	switch r.op {
	case "count":
		n := c.agg("countIf(" + cond + ")")
		return fmt.Sprintf("if(%s, %s, 0.)", between(n), num(r.points))
	case "days_since_last":
		n := c.agg("countIf(" + cond + ")")
		last := c.agg("minIf(" + age + ", " + cond + ")")
		return fmt.Sprintf("if(%s > 0 AND %s, %s, 0.)", n, between("intDiv("+last+", 86400)"), num(r.points))
	default: // points_each
		if halfLife > 0 {
			w := c.agg(fmt.Sprintf("sumIf(pow(0.5, %s / 86400 / %s), %s)", age, num(halfLife), cond))
			return num(r.points) + " * " + w
		}
		return num(r.points) + " * " + c.agg("countIf("+cond+")")
	}
}

// plan compiles a model's rules, groups and (for a combined model) its
// components into levels; prefix names the rules of a component.
func (c *compiler) plan(m *Model) plan {
	var p plan
	if m.Combined() {
		comps, weights := m.Components()
		var score string
		for i, comp := range comps {
			sub := c.planRules(comp, comp.ID+".")
			p.rules = append(p.rules, sub.rules...)
			p.groups = append(p.groups, sub.groups...)
			w := num(weights[i])
			for _, t := range sub.terms {
				p.terms = append(p.terms, term{name: t.name, expr: w + " * (" + t.expr + ")"})
			}
			s := w + " * (" + sub.score + ")"
			if score == "" {
				score = s
			} else {
				score = "(" + score + ") + " + s
			}
		}
		p.score = score
		return p
	}
	return c.planRules(m, "")
}

// planRules compiles one rule model; prefix goes before its rule names.
func (c *compiler) planRules(m *Model, prefix string) plan {
	var p plan
	rule := func(r *Rule) string {
		var v string
		if r.Column != "" {
			v = fmt.Sprintf("if(%s, %s, 0.)", c.condition(r), num(r.points))
		} else {
			v = c.activity(r, m.halfLife)
		}
		name := fmt.Sprintf("__r%d", c.nr)
		c.nr++
		p.rules = append(p.rules, "toFloat64("+v+") AS "+name)
		p.terms = append(p.terms, term{name: prefix + r.Name, expr: name})
		return name
	}
	var parts []string
	for i := range m.Rules {
		parts = append(parts, rule(&m.Rules[i]))
	}
	for gi := range m.Groups {
		g := &m.Groups[gi]
		var names []string
		for ri := range g.Rules {
			names = append(names, rule(&g.Rules[ri]))
		}
		raw := fold(names)
		capV, floor := g.capV, g.floor
		if capV == nil && floor == nil {
			parts = append(parts, "("+raw+")")
			continue
		}
		n := c.ng
		c.ng++
		rawName, total := fmt.Sprintf("__g%d_raw", n), fmt.Sprintf("__g%d", n)
		expr := rawName
		if floor != nil {
			expr = fmt.Sprintf("greatest(%s, %s)", expr, num(*floor))
		}
		if capV != nil {
			expr = fmt.Sprintf("least(%s, %s)", expr, num(*capV))
		}
		p.groups = append(p.groups, raw+" AS "+rawName, expr+" AS "+total)
		p.terms = append(p.terms, term{name: prefix + g.Name + ":cap", expr: total + " - " + rawName})
		parts = append(parts, total)
	}
	p.score = fold(parts)
	return p
}

// fold adds the terms left to right: ((a + b) + c), the order the Go
// evaluations in tests follow too.
func fold(xs []string) string {
	if len(xs) == 0 {
		return "0."
	}
	s := xs[0]
	for _, x := range xs[1:] {
		s = "(" + s + ") + " + x
	}
	return s
}

// gradeSQL is the grade of the score column.
func gradeSQL(m *Model) string {
	var b strings.Builder
	b.WriteString("multiIf(")
	for _, g := range m.grades[:len(m.grades)-1] {
		fmt.Fprintf(&b, "score >= %s, %s, ", num(*g.lo), quote(g.name))
	}
	b.WriteString(quote(m.grades[len(m.grades)-1].name) + ")")
	return b.String()
}

// Stages a lead can be in.
const (
	StageSalesReady         = "sales_ready"
	StageMarketingQualified = "marketing_qualified"
	StageNotQualified       = "not_qualified"
)

// stageSQL is the qualification stage of the score column (” when the
// model sets no thresholds).
func stageSQL(m *Model) string {
	var parts []string
	if m.sr != nil {
		parts = append(parts, "score >= "+num(*m.sr), quote(StageSalesReady))
	}
	if m.mq != nil {
		parts = append(parts, "score >= "+num(*m.mq), quote(StageMarketingQualified))
	}
	if len(parts) == 0 {
		return "''"
	}
	return "multiIf(" + strings.Join(parts, ", ") + ", " + quote(StageNotQualified) + ")"
}

// leadSide is the lead subquery: every lead (asOf a constant) or the
// decided leads of the backtest window, with the columns in the forms
// the rules read.
func (c *compiler) leadSide(backtest bool, windowStart string) string {
	var cols []string
	for _, cf := range c.forms {
		cols = append(cols, c.normalized(cf)+" AS "+cf.alias())
	}
	sel := strings.Join(append([]string{"_environment", "leadid"}, cols...), ", ")
	if !backtest {
		var where []string
		if c.env != "" {
			where = append(where, "_environment = "+c.env)
		}
		if c.lead != "" {
			where = append(where, "leadid = "+c.lead)
		}
		if len(where) > 0 {
			return "SELECT " + sel + " FROM " + leadView + " WHERE " + strings.Join(where, " AND ")
		}
		return "SELECT " + sel + " FROM " + leadView
	}
	return "SELECT " + sel + ", qualified, decided_at FROM (" + c.decided(windowStart) + ")"
}

// decided is the backtest's leads: closed as qualified (statecode 1) or
// disqualified (2), with the moment of the decision in the window. A
// closed lead is read-only in Dynamics 365, so its modifiedon is the
// decision (or a later system change); a qualified lead's opportunity is
// created at the decision, so the earlier of the two is taken.
func (c *compiler) decided(windowStart string) string {
	raw := []string{"_environment", "leadid"}
	for _, name := range c.cols {
		raw = append(raw, warehouse.QuoteIdentifier(name))
	}
	from := fmt.Sprintf("(SELECT %s, toUInt8(statecode = 1) AS qualified, assumeNotNull(modifiedon) AS modified FROM %s "+
		"WHERE statecode IN (1, 2) AND modifiedon IS NOT NULL%s)", strings.Join(raw, ", "), leadView, c.leadFilter("leadid"))
	decidedAt := "modified"
	if c.hasOpp {
		from = fmt.Sprintf("(SELECT %s, toUInt8(statecode = 1) AS qualified, assumeNotNull(modifiedon) AS modified, "+
			"if(statecode = 1, ifNull(qualifyingopportunityid, %s), %s) AS opportunityid FROM %s "+
			"WHERE statecode IN (1, 2) AND modifiedon IS NOT NULL%s)", strings.Join(raw, ", "), zeroUUID, zeroUUID, leadView, c.leadFilter("leadid"))
		from += " AS d ANY LEFT JOIN (SELECT _environment, opportunityid, assumeNotNull(createdon) AS opp_created FROM " + oppView +
			" WHERE createdon IS NOT NULL) AS o USING (_environment, opportunityid)"
		decidedAt = "if(toUInt32(opp_created) > 0 AND opp_created < modified, opp_created, modified)"
	}
	return fmt.Sprintf("SELECT %s, qualified, %s AS decided_at FROM %s WHERE decided_at >= %s AND decided_at < %s",
		strings.Join(raw, ", "), decidedAt, from, windowStart, c.asOfConst)
}

// leadFilter restricts a WHERE to the one lead, when there is one.
func (c *compiler) leadFilter(col string) string {
	if c.lead == "" {
		return ""
	}
	return " AND " + col + " = " + c.lead
}

// activitySide is the activity subquery: per lead, the aggregates over
// its completed interactions before the as-of moment (the run's, or the
// lead's decision in the backtest).
func (c *compiler) activitySide(backtest bool, windowStart string) string {
	lits := make([]string, len(c.types))
	for i, t := range c.types {
		lits[i] = quote(t)
	}
	var aggs []string
	for i, a := range c.aggs {
		aggs = append(aggs, fmt.Sprintf("%s AS __a%d", a, i))
	}
	src := "SELECT _environment, assumeNotNull(regardingobjectid) AS leadid, assumeNotNull(activitytypecode) AS atype, assumeNotNull(actualend) AS t FROM " +
		activityView + " WHERE regardingobjectidtype = 'lead' AND regardingobjectid IS NOT NULL AND statecode = 1 AND actualend IS NOT NULL" +
		" AND activitytypecode IN (" + strings.Join(lits, ", ") + ")" + c.leadFilter("regardingobjectid")
	if !backtest {
		src += " AND actualend < " + c.asOf
		if c.env != "" {
			return "SELECT leadid, " + strings.Join(aggs, ", ") + " FROM (" + src + " AND _environment = " + c.env + ") GROUP BY leadid"
		}
		return "SELECT _environment, leadid, " + strings.Join(aggs, ", ") + " FROM (" + src + ") GROUP BY _environment, leadid"
	}
	return "SELECT _environment, leadid, " + strings.Join(aggs, ", ") + " FROM (" + src + ") AS i ALL INNER JOIN (SELECT _environment, leadid, decided_at FROM (" +
		c.decided(windowStart) + ")) AS d USING (_environment, leadid) WHERE t < decided_at GROUP BY _environment, leadid"
}

// before makes Run score as it did before this package's last
// performance change (main at bc6aca0: the INSERT's blocks squashed to
// the engine's default of about a million rows), which BenchmarkScoring
// measures beside it in the same run (set in tests only).
var before bool

// scoreSettings is the SETTINGS clause of the scoring and backtest
// statements: on engines with ModernSQL (the embedded engine, servers
// from 21.9), no JIT compilation of expressions. The embedded engine
// compiled the rules' expressions anew for many statements, in the
// pipeline's build, before a row is read and on one thread
// (CompileExpressionsMicroseconds 0.12–0.38 s at 1M leads, of a
// statement of 2–3 s), and the compiled rules ran no faster than the
// engine's vectorized functions (the SELECT took 2.41 CPU-s with
// compilation, of them 0.18 compiling, and 2.38 without). The 18.16
// server's statements stay as they were, without a clause.
func scoreSettings(d warehouse.Dialect) string {
	if !d.ModernSQL() {
		return ""
	}
	return " SETTINGS compile_expressions = 0"
}

// insertBlockRows is the most rows the scoring INSERT squashes into one
// block (min_insert_block_size_rows; the engine's default is 1,048,449).
const insertBlockRows = 524288

// insertSettings are the settings the scoring INSERT adds to
// scoreSettings' on engines with ModernSQL: two sinks (max_insert_threads
// = 2), and blocks of at most insertBlockRows rows. Squashing the
// query's blocks into blocks of a million rows took more than the
// writing: at 1M leads on the embedded engine (2026-12-02, medians of
// five alternated rounds, process CPU-s) the INSERT into a Null table
// took 1.76–2.18 s and 3.0–3.9 CPU-s with the default, 1.08–1.11 s and
// 2.05–2.08 with blocks of 262,144 rows or none squashed, against 1.07 s
// and 2.0 for the SELECT alone; into a copy of lead_scores 2.76 s and
// 4.39 CPU-s against 1.71 s and 3.09 with blocks of 524,288, where both
// sinks write: three parts instead of two, whose merge into one took 1.0
// CPU-s against 0.65 (OPTIMIZE … FINAL), so the statement and the merge
// together take less CPU too. Session 14's blocks of 131,072 rows wrote
// nine parts, whose merges cost more than they saved.
func insertSettings(d warehouse.Dialect) string {
	if !d.ModernSQL() {
		return ""
	}
	if before {
		return ", max_insert_threads = 2"
	}
	return fmt.Sprintf(", max_insert_threads = 2, min_insert_block_size_rows = %d", insertBlockRows)
}

// query says what scoredSQL selects.
type query struct {
	// asOf is the run's as-of moment.
	asOf time.Time
	// backtest scores the leads decided in [from, asOf) as of their
	// decision instead of every lead as of asOf.
	backtest bool
	from     time.Time
	// lead, when set, restricts the query to one lead (its GUID).
	lead string
	// env, when set, restricts the scoring of every lead (not the
	// backtest) to one environment's leads and activities, joined on
	// leadid alone: a one-column UUID key hashes and groups faster than
	// (environment number, leadid) (measured at 1M leads: 2.5 CPU-s for
	// the SELECT against 3.5).
	env string
}

// scoredSQL is the SELECT of every lead's score: environment, leadid,
// (qualified, decided_at in the backtest), score, grade, stage, rules,
// points.
func scoredSQL(m *Model, v views, q query) string {
	lit, _ := warehouse.Literal(q.asOf.UTC().Truncate(time.Second))
	c := &compiler{dialect: v.dialect, hasOpp: v.hasOpp, viewKinds: v.lead, viewStrings: v.strings, lowCard: v.lowCard, kinds: map[string]kind{}, asOf: lit, asOfConst: lit}
	windowStart, _ := warehouse.Literal(q.from.UTC().Truncate(time.Second))
	if q.backtest {
		c.asOf = "decided_at"
	}
	if q.lead != "" {
		c.lead = "toUUID(" + quote(q.lead) + ")"
	}
	if q.env != "" && !q.backtest {
		c.env = quote(q.env)
	}
	p := c.plan(m)
	extra := ""
	if q.backtest {
		extra = ", qualified, decided_at"
	}
	from := "(" + c.leadSide(q.backtest, windowStart) + ") AS l"
	if len(c.aggs) > 0 {
		// the engine's default join algorithms: at 200k and 1M leads no
		// other (hash, parallel_hash, grace_hash, partial_merge,
		// full_sorting_merge), no ALL strictness and no single GROUP BY
		// over lead and activity rows in place of the join took less
		// CPU (docs/performance.md)
		on := "_environment, leadid"
		if c.env != "" {
			on = "leadid"
		}
		from += " ANY LEFT JOIN (" + c.activitySide(q.backtest, windowStart) + ") AS a USING (" + on + ")"
	}
	level1 := "SELECT _environment AS environment, leadid" + extra
	if len(p.rules) > 0 {
		level1 += ", " + strings.Join(p.rules, ", ")
	}
	level1 += " FROM " + from
	level2 := "SELECT *"
	if len(p.groups) > 0 {
		level2 += ", " + strings.Join(p.groups, ", ")
	}
	level2 += " FROM (" + level1 + ")"
	names := make([]string, len(p.terms))
	exprs := make([]string, len(p.terms))
	for i, t := range p.terms {
		names[i] = quote(t.name)
		exprs[i] = "toFloat64(" + t.expr + ")"
	}
	level3 := fmt.Sprintf("SELECT environment, leadid%s, [%s] AS pts, toFloat64(%s) AS score FROM (%s)",
		extra, strings.Join(exprs, ", "), p.score, level2)
	env, grade, stage, ruleNames := "environment", gradeSQL(m), stageSQL(m), "["+strings.Join(names, ", ")+"]"
	if v.dialect.ModernSQL() {
		// lead_scores' types (sql/schema/0006_scoring.sql): the texts
		// are encoded while the streams run in parallel, not in the
		// INSERT's one sink, and the rule names are one small dictionary
		// whose copies per lead are bytes, not strings
		env, grade, stage = "toLowCardinality(environment)", "toLowCardinality("+grade+")", "toLowCardinality("+stage+")"
		ruleNames = "CAST(" + ruleNames + " AS Array(LowCardinality(String)))"
	}
	return fmt.Sprintf("SELECT %s AS environment, leadid%s, score, %s AS grade, %s AS stage, "+
		"arrayFilter((n, x) -> x != 0, %s, pts) AS rules, arrayFilter(x -> x != 0, pts) AS points FROM (%s)",
		env, extra, grade, stage, ruleNames, level3)
}
