package scoring

import (
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/versioned"
)

// Model is one version of one scoring model, as its file says. A model
// either has rules (Rules and Groups) or combines other models (Combine).
type Model struct {
	ID          string `yaml:"id"`
	Version     int    `yaml:"version"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Owner       string `yaml:"owner"`
	// Source says where the rules and their points come from.
	Source string `yaml:"source"`
	// Changes says what changed against the previous version.
	Changes string `yaml:"changes"`
	// Decay makes points_each interaction points lose weight with age.
	Decay Decay `yaml:"decay"`
	// Grades are the bands from the top down; together they cover every
	// score exactly once.
	Grades []Grade `yaml:"grades"`
	// Qualification holds the stage thresholds.
	Qualification Qualification `yaml:"qualification"`
	// Backtest says which decided leads the backtest looks at.
	Backtest BacktestSettings `yaml:"backtest"`
	// Rules are rules outside any group; Groups hold the others.
	Rules  []Rule  `yaml:"rules"`
	Groups []Group `yaml:"groups"`
	// Combine makes the model a weighted sum of other models' scores.
	Combine []Component `yaml:"combine"`

	// File is the model file: path, checksum, released.
	File *versioned.File `yaml:"-"`

	components []*Model // resolved Combine, same order
	// numbers parsed from the text fields, set by validate
	grades   []band
	mq, sr   *float64
	halfLife float64
}

// Decay halves a points_each interaction's points every HalfLifeDays
// days of its age; 0 means no decay.
type Decay struct {
	HalfLifeDays float64 `yaml:"half_life_days"`
}

// Grade is one band: scores s with Min ≤ s < Max get it. The top grade has
// no Max, the bottom grade no Min.
type Grade struct {
	Name string `yaml:"name"`
	Min  string `yaml:"min"`
	Max  string `yaml:"max"`
}

// Qualification holds the scores from which a lead is marketing-qualified
// and sales-ready (each optional).
type Qualification struct {
	MarketingQualified string `yaml:"marketing_qualified"`
	SalesReady         string `yaml:"sales_ready"`
}

// BacktestSettings say which decided leads the backtest looks at: those
// decided in the WindowDays days before the run's as-of moment (default
// 365).
type BacktestSettings struct {
	WindowDays int `yaml:"window_days"`
}

// Group is a set of rules whose points together are held between Floor
// and Cap (each optional).
type Group struct {
	Name  string `yaml:"name"`
	Cap   string `yaml:"cap"`
	Floor string `yaml:"floor"`
	Rules []Rule `yaml:"rules"`

	capV, floor *float64 // parsed by validate
}

// Rule adds Points (negative: takes them away) when its condition holds.
// A column rule tests one lead column with exactly one of Equals, In,
// Range, Contains, Present or Blank. An activity rule tests the lead's
// interactions of the types in Activity (completed activities regarding
// it, at their actualend) within the last WithinDays days with exactly
// one of Count, DaysSinceLast or PointsEach (points per interaction,
// decayed with age).
type Rule struct {
	Name string `yaml:"name"`

	Column   string   `yaml:"column"`
	Equals   string   `yaml:"equals"`
	In       []string `yaml:"in"`
	Range    Range    `yaml:"range"`
	Contains string   `yaml:"contains"`
	Present  bool     `yaml:"present"`
	Blank    bool     `yaml:"blank"`

	Activity      []string `yaml:"activity"`
	WithinDays    int      `yaml:"within_days"`
	Count         Range    `yaml:"count"`
	DaysSinceLast Range    `yaml:"days_since_last"`
	PointsEach    string   `yaml:"points_each"`

	Points string `yaml:"points"`

	// set by validate
	op         string // equals, in, range, contains, present, blank, count, days_since_last, points_each
	points     float64
	lo, hi     *float64
	key        string // dotted key of the rule, for messages
	columnKind kind   // from the known list or, at run time, the view
}

// Range is min ≤ value < max; either end may be left out.
type Range struct {
	Min string `yaml:"min"`
	Max string `yaml:"max"`
}

// Component is one model of a combined model and its weight.
type Component struct {
	Model  string  `yaml:"model"`
	Weight float64 `yaml:"weight"`
}

// band is a parsed grade: lo ≤ s < hi, nil for an open end.
type band struct {
	name   string
	lo, hi *float64
}

// ActivityTypes are the interaction types an activity rule may name: the
// activitytypecode values of Dataverse's activities.
var ActivityTypes = []string{"phonecall", "email", "appointment", "task"}

// Ref is ID@vN.
func (m *Model) Ref() string { return fmt.Sprintf("%s@v%d", m.ID, m.Version) }

// Combined reports whether the model combines other models.
func (m *Model) Combined() bool { return len(m.Combine) > 0 }

// GradeNames lists the grades from the top down.
func (m *Model) GradeNames() []string {
	out := make([]string, len(m.Grades))
	for i, g := range m.Grades {
		out[i] = g.Name
	}
	return out
}

// WindowDays is the backtest window in days.
func (m *Model) WindowDays() int {
	if m.Backtest.WindowDays == 0 {
		return 365
	}
	return m.Backtest.WindowDays
}

// RuleCount counts the model's rules (a combined model's, its components').
func (m *Model) RuleCount() int {
	n := len(m.Rules)
	for _, g := range m.Groups {
		n += len(g.Rules)
	}
	for _, c := range m.components {
		n += c.RuleCount()
	}
	return n
}

// TermNames lists the names a lead's explanation may show, in the
// model's order: rules, and <group>:cap after a group with a cap or
// floor; a combined model's are prefixed with the model's id and a dot.
func (m *Model) TermNames() []string {
	if m.Combined() {
		var out []string
		for _, c := range m.components {
			for _, n := range c.TermNames() {
				out = append(out, c.ID+"."+n)
			}
		}
		return out
	}
	var out []string
	for _, r := range m.Rules {
		out = append(out, r.Name)
	}
	for _, g := range m.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Name)
		}
		if g.capV != nil || g.floor != nil {
			out = append(out, g.Name+":cap")
		}
	}
	return out
}

// Components lists the resolved models of a combined model with their
// weights, in the file's order.
func (m *Model) Components() ([]*Model, []float64) {
	ws := make([]float64, len(m.Combine))
	for i, c := range m.Combine {
		ws[i] = c.Weight
	}
	return m.components, ws
}

// Set is a loaded set of models, parsed.
type Set = versioned.Catalog[*Model]

// Builtin names the tree of built-in models in messages.
const Builtin = "sql/scoring"

// Load reads the built-in models (builtin, normally ampelsql.Scoring)
// and, when dir is not empty, the user's from userFS. Every file is
// decoded strictly and validated; the first problem is returned as one
// line naming file, line and key.
func Load(builtin fs.FS, dir string, userFS fs.FS) (*Set, error) {
	s, err := versioned.LoadCatalog(parseModel, versioned.Trees(Builtin, builtin, dir, userFS)...)
	if err != nil {
		return nil, err
	}
	// combined models resolve their components once every file is parsed
	for _, m := range s.All() {
		if err := resolve(s, m); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func parseModel(f *versioned.File) (*Model, error) {
	if f.Ext != "yaml" {
		return nil, &versioned.Error{Path: f.Path, Msg: "a scoring model is a .yaml file"}
	}
	m := &Model{File: f}
	if err := config.DecodeNode(f.Path, f.Header, m, nil); err != nil {
		return nil, err
	}
	return m, m.validate()
}

func (m *Model) errorf(key, format string, args ...any) error {
	return &versioned.Error{Path: m.File.Path, Line: lineOf(m.File.Header, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// lineOf finds the line of a dotted key such as groups[1].rules[0].in in
// the mapping node h: the line of its deepest part that exists.
func lineOf(h *yaml.Node, key string) int {
	line := h.Line
	n := h
	for _, part := range strings.Split(key, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		v, l := child(n, name)
		if v == nil {
			return line
		}
		line, n = l, v
		if idx >= 0 {
			if v.Kind != yaml.SequenceNode || idx >= len(v.Content) {
				return line
			}
			n = v.Content[idx]
			line = n.Line
		}
	}
	return line
}

// child returns the value of key in mapping n and the key's line.
func child(n *yaml.Node, key string) (*yaml.Node, int) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}

// has reports whether the dotted key is written in the file.
func (m *Model) has(key string) bool {
	n := m.File.Header
	for _, part := range strings.Split(key, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(part[i+1 : len(part)-1])
		}
		v, _ := child(n, name)
		if v == nil {
			return false
		}
		n = v
		if idx >= 0 {
			if idx >= len(v.Content) {
				return false
			}
			n = v.Content[idx]
		}
	}
	return true
}

// number parses an optional number written as text ("" is none).
func (m *Model) number(key, text string) (*float64, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, m.errorf(key, "%q is not a number", text)
	}
	return &f, nil
}

func showBound(f *float64, inf string) string {
	if f == nil {
		return inf
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

func (m *Model) validate() error {
	for key, v := range map[string]string{"title": m.Title, "description": m.Description, "owner": m.Owner, "source": m.Source} {
		if strings.TrimSpace(v) == "" {
			return m.errorf(key, "required")
		}
	}
	if err := m.validateGrades(); err != nil {
		return err
	}
	var err error
	if m.mq, err = m.number("qualification.marketing_qualified", m.Qualification.MarketingQualified); err != nil {
		return err
	}
	if m.sr, err = m.number("qualification.sales_ready", m.Qualification.SalesReady); err != nil {
		return err
	}
	if m.mq != nil && m.sr != nil && *m.sr <= *m.mq {
		return m.errorf("qualification.sales_ready", "%s is not above marketing_qualified %s: a sales-ready lead is marketing-qualified first",
			showBound(m.sr, ""), showBound(m.mq, ""))
	}
	if m.Backtest.WindowDays < 0 {
		return m.errorf("backtest.window_days", "must be positive")
	}
	if m.Decay.HalfLifeDays < 0 {
		return m.errorf("decay.half_life_days", "must be positive (or left out: no decay)")
	}
	m.halfLife = m.Decay.HalfLifeDays
	if m.Combined() {
		if len(m.Rules) > 0 || len(m.Groups) > 0 {
			return m.errorf("combine", "a combined model has no rules of its own: put them in a model it combines")
		}
		if m.has("decay") {
			return m.errorf("decay", "a combined model takes the decay of the models it combines")
		}
		for i, c := range m.Combine {
			key := fmt.Sprintf("combine[%d]", i)
			id, v, err := versioned.ParseRef(c.Model)
			switch {
			case err != nil:
				return m.errorf(key+".model", "%v", err)
			case v == 0:
				return m.errorf(key+".model", "name a version (%s@v1): a combined model must not change when a model it combines gets a new version", id)
			case id == m.ID:
				return m.errorf(key+".model", "a model cannot combine itself")
			case c.Weight <= 0 || math.IsInf(c.Weight, 0):
				return m.errorf(key+".weight", "required: a positive weight such as 0.5")
			}
			for j := 0; j < i; j++ {
				if m.Combine[j].Model == c.Model {
					return m.errorf(key+".model", "%s is combined twice", c.Model)
				}
			}
		}
		return nil
	}
	if len(m.Rules) == 0 && len(m.Groups) == 0 {
		return m.errorf("rules", "required: a model has rules (or groups of rules, or combines other models)")
	}
	names := map[string]string{}
	for i := range m.Rules {
		if err := m.validateRule(&m.Rules[i], fmt.Sprintf("rules[%d]", i), names); err != nil {
			return err
		}
	}
	groups := map[string]bool{}
	for gi := range m.Groups {
		g := &m.Groups[gi]
		key := fmt.Sprintf("groups[%d]", gi)
		switch {
		case !snake(g.Name):
			return m.errorf(key+".name", "required: a snake_case name such as engagement")
		case groups[g.Name]:
			return m.errorf(key+".name", "%q is the name of another group too", g.Name)
		case len(g.Rules) == 0:
			return m.errorf(key+".rules", "required: the group's rules")
		}
		groups[g.Name] = true
		var err error
		if g.capV, err = m.number(key+".cap", g.Cap); err != nil {
			return err
		}
		if g.floor, err = m.number(key+".floor", g.Floor); err != nil {
			return err
		}
		if g.capV != nil && g.floor != nil && *g.floor >= *g.capV {
			return m.errorf(key+".floor", "%s is not below cap %s: the group's points could never lie between them", g.Floor, g.Cap)
		}
		for ri := range g.Rules {
			if err := m.validateRule(&g.Rules[ri], fmt.Sprintf("%s.rules[%d]", key, ri), names); err != nil {
				return err
			}
		}
	}
	return nil
}

func snake(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// validateGrades checks the bands: at least two, from the top down, each
// possible (min below max), touching the next with no gap or overlap.
func (m *Model) validateGrades() error {
	if len(m.Grades) < 2 {
		return m.errorf("grades", "required: two or more bands from the top down, e.g. A (min 50), B (min 20, max 50), C (max 20)")
	}
	seen := map[string]bool{}
	for i, g := range m.Grades {
		key := fmt.Sprintf("grades[%d]", i)
		if strings.TrimSpace(g.Name) == "" {
			return m.errorf(key+".name", "required: the grade's name, such as A or hot")
		}
		if seen[g.Name] {
			return m.errorf(key+".name", "%q is the name of another grade too", g.Name)
		}
		seen[g.Name] = true
		lo, err := m.number(key+".min", g.Min)
		if err != nil {
			return err
		}
		hi, err := m.number(key+".max", g.Max)
		if err != nil {
			return err
		}
		b := band{name: g.Name, lo: lo, hi: hi}
		if lo != nil && hi != nil && *lo >= *hi {
			return m.errorf(key+".min", "grade %s [%s, %s) is impossible: min must be below max", g.Name, g.Min, g.Max)
		}
		last := i == len(m.Grades)-1
		switch {
		case i == 0 && hi != nil:
			return m.errorf(key+".max", "the top grade %s has no max: it takes every score from its min up", g.Name)
		case !last && lo == nil:
			return m.errorf(key+".min", "required: only the bottom grade is open below (grades go from the top down)")
		case last && lo != nil:
			return m.errorf(key+".min", "the bottom grade %s has no min: it takes every score below its max", g.Name)
		case i > 0 && hi == nil:
			prev := m.grades[i-1]
			return m.errorf(key+".max", "required: %s, the min of %s above", showBound(prev.lo, ""), prev.name)
		}
		if i > 0 {
			prev := m.grades[i-1]
			switch {
			case *hi > *prev.lo:
				return m.errorf(key+".max", "grade %s [%s, %s) overlaps %s [%s, %s): its max must be %s's min",
					g.Name, showBound(lo, "-∞"), showBound(hi, ""), prev.name, showBound(prev.lo, ""), showBound(prev.hi, "∞"), prev.name)
			case *hi < *prev.lo:
				return m.errorf(key+".max", "scores from %s to %s have no grade: %s's max must be %s's min %s",
					showBound(hi, ""), showBound(prev.lo, ""), g.Name, prev.name, showBound(prev.lo, ""))
			}
		}
		m.grades = append(m.grades, b)
	}
	return nil
}

// validateRule checks one rule; names collects the rule names so far.
func (m *Model) validateRule(r *Rule, key string, names map[string]string) error {
	r.key = key
	if !snake(r.Name) {
		return m.errorf(key+".name", "required: a snake_case name such as decision_maker (it is what a lead's explanation shows)")
	}
	if other, dup := names[r.Name]; dup {
		return m.errorf(key+".name", "%q is also the name of %s", r.Name, other)
	}
	names[r.Name] = key
	isColumn, isActivity := r.Column != "", len(r.Activity) > 0
	switch {
	case isColumn && isActivity:
		return m.errorf(key+".activity", "a rule tests a column or activities, not both: split it in two")
	case !isColumn && !isActivity:
		if m.has(key + ".activity") {
			return m.errorf(key+".activity", "required: the activity types, e.g. [phonecall, appointment]")
		}
		return m.errorf(key+".column", "required: the lead column the rule tests (or activity: the interactions it counts)")
	}
	var ops []string
	for _, op := range []string{"equals", "in", "range", "contains", "present", "blank", "count", "days_since_last", "points_each"} {
		if m.has(key + "." + op) {
			ops = append(ops, op)
		}
	}
	var allowed []string
	if isColumn {
		allowed = []string{"equals", "in", "range", "contains", "present", "blank"}
	} else {
		allowed = []string{"count", "days_since_last", "points_each"}
	}
	for _, op := range ops {
		if !slices.Contains(allowed, op) {
			what := "a column rule"
			if isActivity {
				what = "an activity rule"
			}
			return m.errorf(key+"."+op, "%s takes one of %s", what, strings.Join(allowed, ", "))
		}
	}
	if len(ops) != 1 {
		if len(ops) == 0 {
			return m.errorf(key, "say what the rule tests: one of %s", strings.Join(allowed, ", "))
		}
		return m.errorf(key+"."+ops[1], "a rule has one condition (it has %s): split it in two", strings.Join(ops, " and "))
	}
	r.op = ops[0]
	if r.op == "points_each" {
		if m.has(key + ".points") {
			return m.errorf(key+".points", "a points_each rule adds points per interaction: leave points out")
		}
		p, err := m.number(key+".points_each", r.PointsEach)
		if err != nil {
			return err
		}
		if p == nil || *p == 0 {
			return m.errorf(key+".points_each", "required: the points each interaction adds (negative: takes away)")
		}
		r.points = *p
	} else {
		p, err := m.number(key+".points", r.Points)
		if err != nil {
			return err
		}
		if p == nil || *p == 0 {
			return m.errorf(key+".points", "required: the points the rule adds (negative: takes away), not 0")
		}
		r.points = *p
	}
	if isActivity {
		return m.validateActivity(r, key)
	}
	if m.has(key + ".within_days") {
		return m.errorf(key+".within_days", "within_days belongs to activity rules")
	}
	if err := m.checkKnownColumn(r, key); err != nil {
		return err
	}
	switch r.op {
	case "equals":
		if strings.TrimSpace(r.Equals) == "" {
			return m.errorf(key+".equals", "required: the value (for an empty value use blank: true)")
		}
	case "in":
		if len(r.In) == 0 {
			return m.errorf(key+".in", "required: a list of values, e.g. [CFO, Geschäftsführer]")
		}
	case "contains":
		if strings.TrimSpace(r.Contains) == "" {
			return m.errorf(key+".contains", "required: the text to look for")
		}
	case "present":
		if !r.Present {
			return m.errorf(key+".present", "write present: true (or blank: true for the opposite)")
		}
	case "blank":
		if !r.Blank {
			return m.errorf(key+".blank", "write blank: true (or present: true for the opposite)")
		}
	case "range":
		lo, hi, err := m.rangeOf(key+".range", r.Range)
		if err != nil {
			return err
		}
		r.lo, r.hi = lo, hi
	}
	return m.checkValues(r, key)
}

// rangeOf parses a range: at least one end, min below max.
func (m *Model) rangeOf(key string, rg Range) (*float64, *float64, error) {
	lo, err := m.number(key+".min", rg.Min)
	if err != nil {
		return nil, nil, err
	}
	hi, err := m.number(key+".max", rg.Max)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case lo == nil && hi == nil:
		return nil, nil, m.errorf(key, "give min, max or both (min ≤ value < max)")
	case lo != nil && hi != nil && *lo >= *hi:
		return nil, nil, m.errorf(key+".min", "the range [%s, %s) is impossible: min must be below max", rg.Min, rg.Max)
	}
	return lo, hi, nil
}

func (m *Model) validateActivity(r *Rule, key string) error {
	for i, t := range r.Activity {
		if !slices.Contains(ActivityTypes, t) {
			return m.errorf(fmt.Sprintf("%s.activity[%d]", key, i), "%q is not an activity type (%s)", t, strings.Join(ActivityTypes, ", "))
		}
		if slices.Index(r.Activity, t) != i {
			return m.errorf(fmt.Sprintf("%s.activity[%d]", key, i), "%q is listed twice", t)
		}
	}
	if r.WithinDays < 0 || m.has(key+".within_days") && r.WithinDays == 0 {
		return m.errorf(key+".within_days", "a positive number of days (or left out: every interaction counts)")
	}
	switch r.op {
	case "count":
		lo, hi, err := m.rangeOf(key+".count", r.Count)
		if err != nil {
			return err
		}
		if lo != nil && *lo <= 0 && hi == nil {
			return m.errorf(key+".count.min", "every lead has at least %s interactions: the rule would always fire", r.Count.Min)
		}
		r.lo, r.hi = lo, hi
	case "days_since_last":
		lo, hi, err := m.rangeOf(key+".days_since_last", r.DaysSinceLast)
		if err != nil {
			return err
		}
		r.lo, r.hi = lo, hi
	case "points_each":
		if m.halfLife == 0 && r.WithinDays == 0 {
			return m.errorf(key+".within_days", "required for points_each without decay: how many days back interactions count")
		}
	}
	return nil
}

// resolve finds in s the models a combined model names; they must be
// rule models (not combined ones), so there are no cycles.
func resolve(s *Set, m *Model) error {
	m.components = nil
	for i, c := range m.Combine {
		key := fmt.Sprintf("combine[%d].model", i)
		comp, err := s.Resolve(c.Model)
		if err != nil {
			return m.errorf(key, "%v", err)
		}
		if comp.Combined() {
			return m.errorf(key, "%s combines models itself: combine rule models only", comp.Ref())
		}
		m.components = append(m.components, comp)
	}
	return nil
}
