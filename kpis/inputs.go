package kpis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/warehouse"
)

// Inputs is the inputs file: what Dataverse does not hold. It is versioned
// in git by its owner, named in the config (kpis.inputs) and loaded into
// the kpi_input_* tables on every run, so each run's results rest on the
// inputs it saw. Dates are YYYY-MM-DD, months YYYY-MM. See
// kpis/inputs.example.yaml for every key.
type Inputs struct {
	Environments []EnvironmentInputs `yaml:"environments"`
	Costs        []MoneyInput        `yaml:"costs"`
	Benefits     []MoneyInput        `yaml:"benefits"`
	Surveys      []SurveyInput       `yaml:"surveys"`
	KeyUsers     []KeyUserInput      `yaml:"key_users"`
	Migration    []MigrationInput    `yaml:"migration"`
	Milestones   []MilestoneInput    `yaml:"milestones"`
	Partners     []PartnerInput      `yaml:"partners"`

	// File and Checksum (sha256 of the file) are set by LoadInputs.
	File     string `yaml:"-"`
	Checksum string `yaml:"-"`
}

// EnvironmentInputs are the facts of one Dataverse environment.
type EnvironmentInputs struct {
	Name          string  `yaml:"name"`
	GoLive        string  `yaml:"go_live"`
	LicensedUsers int     `yaml:"licensed_users"`
	GrossMargin   float64 `yaml:"gross_margin"`
	TCOYears      int     `yaml:"tco_years"`
}

// MoneyInput is a cost or a benefit of one month, in the organisation's
// base currency.
type MoneyInput struct {
	Environment string  `yaml:"environment"`
	Month       string  `yaml:"month"`
	Category    string  `yaml:"category"`
	Amount      float64 `yaml:"amount"`
}

// SurveyInput is one survey's result: kind nps (promoters 9–10, passives
// 7–8, detractors 0–6) or ues (responses and their average user effort
// score, 1 = very easy … 7 = very hard).
type SurveyInput struct {
	Environment string  `yaml:"environment"`
	Kind        string  `yaml:"kind"`
	Date        string  `yaml:"date"`
	Promoters   int     `yaml:"promoters"`
	Passives    int     `yaml:"passives"`
	Detractors  int     `yaml:"detractors"`
	Responses   int     `yaml:"responses"`
	Average     float64 `yaml:"average"`
}

// KeyUserInput is one key user planned for training; TrainedOn is empty
// until the training is done.
type KeyUserInput struct {
	Environment string `yaml:"environment"`
	Name        string `yaml:"name"`
	TrainedOn   string `yaml:"trained_on"`
}

// MigrationInput counts migrated and rejected rows of one object.
type MigrationInput struct {
	Environment string `yaml:"environment"`
	Object      string `yaml:"object"`
	Migrated    int    `yaml:"migrated"`
	Rejected    int    `yaml:"rejected"`
}

// MilestoneInput is a project milestone; Done is empty while open.
type MilestoneInput struct {
	Environment string `yaml:"environment"`
	Name        string `yaml:"name"`
	Due         string `yaml:"due"`
	Done        string `yaml:"done"`
}

// PartnerInput is one partner's enablement: onboarding, certification and
// first deal (dates; empty while not reached).
type PartnerInput struct {
	Environment         string `yaml:"environment"`
	Name                string `yaml:"name"`
	OnboardingStarted   string `yaml:"onboarding_started"`
	OnboardingCompleted string `yaml:"onboarding_completed"`
	Certified           string `yaml:"certified"`
	FirstDeal           string `yaml:"first_deal"`
}

// LoadInputs reads and validates the inputs file. environments are the
// configured environment names: every entry must name one of them.
// Problems are one line: file:line: key: what to fix.
func LoadInputs(file string, environments []string) (*Inputs, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("kpi inputs: %w", err)
	}
	return ParseInputs(file, data, environments)
}

// ParseInputs is LoadInputs for a file already read.
func ParseInputs(file string, data []byte, environments []string) (*Inputs, error) {
	in := &Inputs{File: file}
	sum := sha256.Sum256([]byte(strings.ReplaceAll(string(data), "\r\n", "\n")))
	in.Checksum = hex.EncodeToString(sum[:])
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &config.Error{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) == 0 {
		return in, nil
	}
	root := doc.Content[0]
	if err := config.DecodeNode(file, root, in, nil); err != nil {
		return nil, err
	}
	v := inputsValidator{file: file, root: root, envs: environments}
	return in, v.validate(in)
}

type inputsValidator struct {
	file string
	root *yaml.Node
	envs []string
	err  error
}

func (v *inputsValidator) fail(key, format string, args ...any) {
	if v.err == nil {
		v.err = &config.Error{File: v.file, Line: nodeLine(v.root, key), Key: key, Msg: fmt.Sprintf(format, args...)}
	}
}

var (
	datePattern  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	monthPattern = regexp.MustCompile(`^\d{4}-\d{2}$`)
)

func (v *inputsValidator) date(key, s string, required bool) {
	if s == "" {
		if required {
			v.fail(key, "required: a date such as 2026-06-01")
		}
		return
	}
	if _, err := time.Parse("2006-01-02", s); err != nil || !datePattern.MatchString(s) {
		v.fail(key, "%q is not a date such as 2026-06-01", s)
	}
}

func (v *inputsValidator) env(key, name string) {
	switch {
	case name == "":
		v.fail(key, "required: the environment's name as in the config (%s)", strings.Join(v.envs, ", "))
	case v.envs != nil && !slices.Contains(v.envs, name):
		v.fail(key, "%q is not an environment of the config (%s)", name, strings.Join(v.envs, ", "))
	}
}

func (v *inputsValidator) nonNegative(key string, n float64) {
	if n < 0 {
		v.fail(key, "must not be negative")
	}
}

func (v *inputsValidator) validate(in *Inputs) error {
	seen := map[string]bool{}
	for i, e := range in.Environments {
		k := fmt.Sprintf("environments[%d]", i)
		v.env(k+".name", e.Name)
		if seen[e.Name] {
			v.fail(k+".name", "%q is listed twice", e.Name)
		}
		seen[e.Name] = true
		v.date(k+".go_live", e.GoLive, false)
		v.nonNegative(k+".licensed_users", float64(e.LicensedUsers))
		if e.GrossMargin < 0 || e.GrossMargin > 1 {
			v.fail(k+".gross_margin", "a share between 0 and 1, e.g. 0.35 for 35 %%")
		}
		v.nonNegative(k+".tco_years", float64(e.TCOYears))
	}
	for name, list := range map[string][]MoneyInput{"costs": in.Costs, "benefits": in.Benefits} {
		for i, m := range list {
			k := fmt.Sprintf("%s[%d]", name, i)
			v.env(k+".environment", m.Environment)
			if _, err := time.Parse("2006-01", m.Month); err != nil || !monthPattern.MatchString(m.Month) {
				v.fail(k+".month", "%q is not a month such as 2026-06", m.Month)
			}
			if strings.TrimSpace(m.Category) == "" {
				v.fail(k+".category", "required, e.g. licences, implementation, staff, support, training, marketing")
			}
			v.nonNegative(k+".amount", m.Amount)
		}
	}
	for i, s := range in.Surveys {
		k := fmt.Sprintf("surveys[%d]", i)
		v.env(k+".environment", s.Environment)
		v.date(k+".date", s.Date, true)
		switch s.Kind {
		case "nps":
			for _, f := range []struct {
				key string
				n   int
			}{{"promoters", s.Promoters}, {"passives", s.Passives}, {"detractors", s.Detractors}} {
				v.nonNegative(k+"."+f.key, float64(f.n))
			}
			if s.Responses != 0 || s.Average != 0 {
				v.fail(k+".kind", "an nps survey gives promoters, passives and detractors, not responses or average")
			}
		case "ues":
			v.nonNegative(k+".responses", float64(s.Responses))
			if s.Average < 1 || s.Average > 7 {
				v.fail(k+".average", "the average user effort score is between 1 (very easy) and 7 (very hard)")
			}
			if s.Promoters != 0 || s.Passives != 0 || s.Detractors != 0 {
				v.fail(k+".kind", "a ues survey gives responses and average, not promoters, passives or detractors")
			}
		default:
			v.fail(k+".kind", "%q is not a survey kind: use nps or ues", s.Kind)
		}
	}
	for i, u := range in.KeyUsers {
		k := fmt.Sprintf("key_users[%d]", i)
		v.env(k+".environment", u.Environment)
		if strings.TrimSpace(u.Name) == "" {
			v.fail(k+".name", "required")
		}
		v.date(k+".trained_on", u.TrainedOn, false)
	}
	for i, m := range in.Migration {
		k := fmt.Sprintf("migration[%d]", i)
		v.env(k+".environment", m.Environment)
		if strings.TrimSpace(m.Object) == "" {
			v.fail(k+".object", "required: the migrated table, e.g. lead")
		}
		v.nonNegative(k+".migrated", float64(m.Migrated))
		if m.Rejected < 0 || m.Rejected > m.Migrated {
			v.fail(k+".rejected", "must be between 0 and migrated (%d)", m.Migrated)
		}
	}
	for i, m := range in.Milestones {
		k := fmt.Sprintf("milestones[%d]", i)
		v.env(k+".environment", m.Environment)
		if strings.TrimSpace(m.Name) == "" {
			v.fail(k+".name", "required")
		}
		v.date(k+".due", m.Due, true)
		v.date(k+".done", m.Done, false)
	}
	for i, p := range in.Partners {
		k := fmt.Sprintf("partners[%d]", i)
		v.env(k+".environment", p.Environment)
		if strings.TrimSpace(p.Name) == "" {
			v.fail(k+".name", "required")
		}
		v.date(k+".onboarding_started", p.OnboardingStarted, false)
		v.date(k+".onboarding_completed", p.OnboardingCompleted, false)
		v.date(k+".certified", p.Certified, false)
		v.date(k+".first_deal", p.FirstDeal, false)
	}
	return v.err
}

// nodeLine finds the line of a dotted key with [i] indexes, or of the
// nearest part of it that exists.
func nodeLine(n *yaml.Node, key string) int {
	line := n.Line
	for _, part := range strings.Split(key, ".") {
		name, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
			idx, _ = strconv.Atoi(strings.TrimSuffix(part[i+1:], "]"))
		}
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// Has reports whether the inputs give key (one of InputKeys) for at least
// one environment.
func (in *Inputs) Has(key string) bool {
	if in == nil {
		return false
	}
	anyEnv := func(ok func(EnvironmentInputs) bool) bool { return slices.ContainsFunc(in.Environments, ok) }
	anySurvey := func(kind string) bool {
		return slices.ContainsFunc(in.Surveys, func(s SurveyInput) bool { return s.Kind == kind })
	}
	switch key {
	case "go_live":
		return anyEnv(func(e EnvironmentInputs) bool { return e.GoLive != "" })
	case "licensed_users":
		return anyEnv(func(e EnvironmentInputs) bool { return e.LicensedUsers > 0 })
	case "gross_margin":
		return anyEnv(func(e EnvironmentInputs) bool { return e.GrossMargin > 0 })
	case "tco_years":
		return anyEnv(func(e EnvironmentInputs) bool { return e.TCOYears > 0 })
	case "costs":
		return len(in.Costs) > 0
	case "benefits":
		return len(in.Benefits) > 0
	case "nps":
		return anySurvey("nps")
	case "ues":
		return anySurvey("ues")
	case "key_users":
		return len(in.KeyUsers) > 0
	case "migration":
		return len(in.Migration) > 0
	case "milestones":
		return len(in.Milestones) > 0
	case "partners":
		return len(in.Partners) > 0
	}
	return false
}

// date turns a validated date into a value for a Nullable(Date) column.
func date(s string) any {
	if s == "" {
		return nil
	}
	t, _ := time.Parse("2006-01-02", s)
	return t
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return uint64(n)
}

func nullFloat(f float64) any {
	if f == 0 {
		return nil
	}
	return f
}

// write loads the inputs into the kpi_input_* tables under runID.
func (in *Inputs) write(ctx context.Context, s warehouse.Store, runID string) error {
	type table struct {
		name string
		cols []string
		rows [][]any
	}
	var tables []table
	t := table{name: "kpi_input_environments", cols: []string{"run_id", "environment", "go_live", "licensed_users", "gross_margin", "tco_years"}}
	for _, e := range in.Environments {
		t.rows = append(t.rows, []any{runID, e.Name, date(e.GoLive), nullInt(e.LicensedUsers), nullFloat(e.GrossMargin), nullInt(e.TCOYears)})
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_money", cols: []string{"run_id", "environment", "kind", "month", "category", "amount"}}
	for kind, list := range map[string][]MoneyInput{"cost": in.Costs, "benefit": in.Benefits} {
		for _, m := range list {
			month, _ := time.Parse("2006-01", m.Month)
			t.rows = append(t.rows, []any{runID, m.Environment, kind, month, m.Category, m.Amount})
		}
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_surveys", cols: []string{"run_id", "environment", "kind", "taken_on", "responses", "promoters", "passives", "detractors", "average"}}
	for _, s := range in.Surveys {
		responses := s.Responses
		if s.Kind == "nps" {
			responses = s.Promoters + s.Passives + s.Detractors
		}
		t.rows = append(t.rows, []any{runID, s.Environment, s.Kind, date(s.Date), uint64(responses), uint64(s.Promoters), uint64(s.Passives), uint64(s.Detractors), s.Average})
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_key_users", cols: []string{"run_id", "environment", "name", "trained_on"}}
	for _, u := range in.KeyUsers {
		t.rows = append(t.rows, []any{runID, u.Environment, u.Name, date(u.TrainedOn)})
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_migration", cols: []string{"run_id", "environment", "object", "migrated", "rejected"}}
	for _, m := range in.Migration {
		t.rows = append(t.rows, []any{runID, m.Environment, m.Object, uint64(m.Migrated), uint64(m.Rejected)})
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_milestones", cols: []string{"run_id", "environment", "name", "due", "done"}}
	for _, m := range in.Milestones {
		t.rows = append(t.rows, []any{runID, m.Environment, m.Name, date(m.Due), date(m.Done)})
	}
	tables = append(tables, t)
	t = table{name: "kpi_input_partners", cols: []string{"run_id", "environment", "name", "onboarding_started", "onboarding_completed", "certified", "first_deal"}}
	for _, p := range in.Partners {
		t.rows = append(t.rows, []any{runID, p.Environment, p.Name, date(p.OnboardingStarted), date(p.OnboardingCompleted), date(p.Certified), date(p.FirstDeal)})
	}
	tables = append(tables, t)
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		if err := warehouse.InsertRows(ctx, s, t.name, t.cols, t.rows); err != nil {
			return fmt.Errorf("load inputs into %s: %w", t.name, err)
		}
	}
	return nil
}
