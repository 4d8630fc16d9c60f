package kpis

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

// Definition is one version of one KPI: its header and its SQL.
type Definition struct {
	ID          string `yaml:"id"`
	Version     int    `yaml:"version"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	Owner       string `yaml:"owner"`
	// Level is operational, tactical or strategic.
	Level string `yaml:"level"`
	// Phase is pre-go-live, hypercare, business-impact, data-quality,
	// finance or partner.
	Phase string `yaml:"phase"`
	// Type is ratio (the SQL returns numerator and denominator) or value
	// (the SQL returns value, and may return denominator: the number of
	// observations the value rests on).
	Type string `yaml:"type"`
	// Unit is percent, ratio, count, days, months, currency, per_100_users,
	// points (a net promoter score, -100 to 100) or score. percent,
	// per_100_users and points scale a ratio by 100.
	Unit string `yaml:"unit"`
	// Direction is higher_better or lower_better.
	Direction  string     `yaml:"direction"`
	Thresholds Thresholds `yaml:"thresholds"`
	// MinDenominator: below it the status is none and there is no value.
	MinDenominator float64 `yaml:"min_denominator"`
	// Grain is how the SQL cuts periods: snapshot (one value as of the
	// run), week, month, go_live_30_60_90 or go_live_week.
	Grain string `yaml:"grain"`
	// Dimensions are the group-bys besides environment, which is always one;
	// the SQL returns each as a column dim_<name>.
	Dimensions []string `yaml:"dimensions"`
	// Sources are the warehouse views the SQL reads.
	Sources []string `yaml:"sources"`
	// Inputs are the inputs-file keys the KPI needs (see InputKeys).
	Inputs []string `yaml:"inputs"`
	// Counting says in words which records count (catalog page).
	Counting string `yaml:"counting"`
	// Formula is the formula in words (catalog page).
	Formula string `yaml:"formula"`
	// Source cites where the definition and thresholds come from.
	Source string `yaml:"source"`
	// Changes says what changed against the previous version.
	Changes      string   `yaml:"changes"`
	Aliases      []string `yaml:"aliases"`
	DeprecatedOn string   `yaml:"deprecated_on"`
	SupersededBy string   `yaml:"superseded_by"`

	// File is the definition file: path, checksum, released, SQL body.
	File *versioned.File `yaml:"-"`
}

// Thresholds set the traffic light: a value meeting Green is green, else
// one meeting Amber is amber, else red. Each is a comparison with the side
// that is included written out: ">= 95", "> 0", "< 3", "<= 10". Without
// thresholds the status is none.
type Thresholds struct {
	Green string `yaml:"green"`
	Amber string `yaml:"amber"`
}

// Status values of a result.
const (
	Green = "green"
	Amber = "amber"
	Red   = "red"
	None  = "none"
)

// Allowed header values.
var (
	Levels     = []string{"operational", "tactical", "strategic"}
	Phases     = []string{"pre-go-live", "hypercare", "business-impact", "data-quality", "finance", "partner"}
	Types      = []string{"ratio", "value"}
	Units      = []string{"percent", "ratio", "count", "days", "months", "currency", "per_100_users", "points", "score"}
	Directions = []string{"higher_better", "lower_better"}
	Grains     = []string{"snapshot", "week", "month", "go_live_30_60_90", "go_live_week"}
	// InputKeys are the inputs-file keys a definition may require.
	InputKeys = []string{"go_live", "licensed_users", "gross_margin", "tco_years", "costs", "benefits",
		"nps", "ues", "key_users", "migration", "milestones", "partners"}
)

// Ref is ID@vN.
func (d *Definition) Ref() string { return fmt.Sprintf("%s@v%d", d.ID, d.Version) }

// Scale is what a ratio is multiplied by: 100 for percent,
// per_100_users and points, else 1.
func (d *Definition) Scale() float64 {
	if d.Unit == "percent" || d.Unit == "per_100_users" || d.Unit == "points" {
		return 100
	}
	return 1
}

// Catalog is a loaded set of definitions, parsed.
type Catalog = versioned.Catalog[*Definition]

// Builtin names the tree of built-in definitions in messages.
const Builtin = "sql/kpis"

// LoadCatalog reads the built-in definitions (builtin, normally
// ampelsql.KPIs) and, when dir is not empty, the user's from dir. Every
// header is decoded strictly and validated; the first problem is returned
// as one line naming file, line and key.
func LoadCatalog(builtin fs.FS, dir string, userFS fs.FS) (*Catalog, error) {
	return versioned.LoadCatalog(parseDefinition, versioned.Trees(Builtin, builtin, dir, userFS)...)
}

func parseDefinition(f *versioned.File) (*Definition, error) {
	d := &Definition{File: f}
	if f.Ext != "sql" {
		return nil, &versioned.Error{Path: f.Path, Msg: "a KPI definition is a .sql file"}
	}
	if err := config.DecodeNode(f.Path, f.Header, d, nil); err != nil {
		return nil, err
	}
	return d, d.validate()
}

func (d *Definition) errorf(key, format string, args ...any) error {
	return &versioned.Error{Path: d.File.Path, Line: headerLine(d.File, key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// headerLine is the line of a top-level header key (or of its parent
// mapping's first key for a dotted key), or of the header.
func headerLine(f *versioned.File, key string) int {
	h := f.Header
	parts := strings.Split(key, ".")
	line := h.Line
	for _, p := range parts {
		found := false
		for i := 0; i+1 < len(h.Content); i += 2 {
			if h.Content[i].Value == p {
				line, h, found = h.Content[i].Line, h.Content[i+1], true
				break
			}
		}
		if !found {
			break
		}
	}
	return line
}

func oneOf(v string, allowed []string) bool { return slices.Contains(allowed, v) }

func (d *Definition) validate() error {
	required := map[string]string{"title": d.Title, "description": d.Description, "owner": d.Owner,
		"level": d.Level, "phase": d.Phase, "type": d.Type, "unit": d.Unit, "direction": d.Direction,
		"grain": d.Grain, "formula": d.Formula, "counting": d.Counting, "source": d.Source}
	for _, key := range []string{"title", "description", "owner", "level", "phase", "type", "unit", "direction", "grain", "formula", "counting", "source"} {
		if strings.TrimSpace(required[key]) == "" {
			return d.errorf(key, "required")
		}
	}
	for key, c := range map[string]struct {
		v       string
		allowed []string
	}{"level": {d.Level, Levels}, "phase": {d.Phase, Phases}, "type": {d.Type, Types}, "unit": {d.Unit, Units},
		"direction": {d.Direction, Directions}, "grain": {d.Grain, Grains}} {
		if !oneOf(c.v, c.allowed) {
			return d.errorf(key, "%q is not one of %s", c.v, strings.Join(c.allowed, ", "))
		}
	}
	if len(d.Sources) == 0 && len(d.Inputs) == 0 {
		return d.errorf("sources", "required: the views the SQL reads (or inputs, for a KPI of the inputs file alone)")
	}
	for i, s := range d.Sources {
		if !warehouse.ValidIdentifier(s) {
			return d.errorf("sources", "sources[%d] %q is not a view name", i, s)
		}
	}
	for i, dim := range d.Dimensions {
		switch {
		case dim == "environment":
			return d.errorf("dimensions", "environment is always a dimension: leave it out of the list")
		case !warehouse.ValidIdentifier(dim) || strings.ToLower(dim) != dim:
			return d.errorf("dimensions", "dimensions[%d] %q is not a snake_case name", i, dim)
		case slices.Index(d.Dimensions, dim) != i:
			return d.errorf("dimensions", "%q is listed twice", dim)
		}
	}
	for i, in := range d.Inputs {
		if !oneOf(in, InputKeys) {
			return d.errorf("inputs", "inputs[%d] %q is not an inputs-file key (%s)", i, in, strings.Join(InputKeys, ", "))
		}
	}
	if d.MinDenominator < 0 {
		return d.errorf("min_denominator", "must not be negative")
	}
	if strings.HasPrefix(d.Grain, "go_live") && !slices.Contains(d.Inputs, "go_live") {
		return d.errorf("inputs", "grain %s needs the input go_live", d.Grain)
	}
	g, err := parseCondition(d.Thresholds.Green)
	if err != nil {
		return d.errorf("thresholds.green", "%v", err)
	}
	a, err := parseCondition(d.Thresholds.Amber)
	if err != nil {
		return d.errorf("thresholds.amber", "%v", err)
	}
	if (g == nil) != (a == nil) && g == nil {
		return d.errorf("thresholds.green", "required when amber is given")
	}
	for key, c := range map[string]*condition{"thresholds.green": g, "thresholds.amber": a} {
		if c == nil {
			continue
		}
		if up := c.op[0] == '>'; up != (d.Direction == "higher_better") {
			return d.errorf(key, "%q does not fit direction %s: use %s", c.text, d.Direction,
				map[bool]string{true: "> or >=", false: "< or <="}[d.Direction == "higher_better"])
		}
	}
	if g != nil && a != nil {
		if d.Direction == "higher_better" && a.bound > g.bound || d.Direction == "lower_better" && a.bound < g.bound {
			return d.errorf("thresholds.amber", "%q is stricter than green %q: amber must be reachable by a value that is not green", a.text, g.text)
		}
	}
	return nil
}

// condition is a parsed threshold: op bound.
type condition struct {
	op    string
	bound float64
	text  string
}

func parseCondition(s string) (*condition, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, op := range []string{">=", "<=", ">", "<"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			b, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "%")), 64)
			if err != nil {
				break
			}
			return &condition{op: op, bound: b, text: s}, nil
		}
	}
	return nil, fmt.Errorf("%q is not a comparison such as \">= 95\" or \"< 3\" (the side that is included written out)", s)
}

func (c *condition) holds(v float64) bool {
	switch c.op {
	case ">=":
		return v >= c.bound
	case ">":
		return v > c.bound
	case "<=":
		return v <= c.bound
	default:
		return v < c.bound
	}
}

// Judge computes value and status of one result. For a ratio the value is
// Scale·numerator/denominator; a zero denominator, or one below
// MinDenominator, gives no value and status none. A value KPI whose
// denominator (observations) is below MinDenominator has no value either.
func (d *Definition) Judge(value, numerator, denominator *float64) (*float64, string) {
	if denominator != nil && (*denominator < d.MinDenominator || d.Type == "ratio" && *denominator == 0) {
		return nil, None
	}
	if d.Type == "ratio" {
		if numerator == nil || denominator == nil {
			return nil, None
		}
		v := d.Scale() * *numerator / *denominator
		value = &v
	}
	if value == nil {
		return nil, None
	}
	return value, d.Status(*value)
}

// Status is the traffic light of a value.
func (d *Definition) Status(v float64) string {
	g, _ := parseCondition(d.Thresholds.Green)
	a, _ := parseCondition(d.Thresholds.Amber)
	switch {
	case g == nil:
		return None
	case g.holds(v):
		return Green
	case a != nil && a.holds(v):
		return Amber
	default:
		return Red
	}
}
