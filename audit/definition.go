package audit

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

// Severities of a rule's findings, most severe first.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
	SeverityInfo    = "info"
)

// Rule kinds: what a rule file holds.
const (
	// KindDuplicateRule is a Dynamics-like duplicate detection rule (a .yaml file): its
	// conditions are a Rule.
	KindDuplicateRule = "duplicate_rule"
	// KindDuplicateModel is the fuzzy duplicate matcher's settings for one table (a .yaml
	// file): a Model.
	KindDuplicateModel = "duplicate_model"
	// KindSQL is a check written as one SELECT (a .sql file) that returns a row per finding.
	KindSQL = "sql"
)

// Severities and Kinds list the allowed header values.
var (
	Severities = []string{SeverityError, SeverityWarning, SeverityInfo}
	Kinds      = []string{KindDuplicateRule, KindDuplicateModel, KindSQL}
)

// Definition is one version of one audit rule, read from its file. Every kind has the
// common header keys; the keys of the other kinds are refused.
type Definition struct {
	ID          string `yaml:"id"`
	Version     int    `yaml:"version"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Severity is error, warning or info.
	Severity string `yaml:"severity"`
	// Kind is duplicate_rule, duplicate_model or sql.
	Kind string `yaml:"kind"`
	// Table is the view the rule checks; Tables lists several for an sql rule, whose
	// statement then runs once per table. One of the two is required.
	Table  string   `yaml:"table"`
	Tables []string `yaml:"tables"`
	// Changes says what changed against the previous version.
	Changes string `yaml:"changes"`

	// Key is the table's primary key column; default <table>id (duplicate kinds).
	Key string `yaml:"key"`

	// duplicate_rule: as Dataverse's duplicaterule.
	CaseSensitive   bool            `yaml:"case_sensitive"`
	ExcludeInactive bool            `yaml:"exclude_inactive"`
	TimeZone        string          `yaml:"time_zone"`
	Conditions      []ConditionSpec `yaml:"conditions"`

	// duplicate_model: see Model.
	Threshold     float64     `yaml:"threshold"`
	MaxBlock      int         `yaml:"max_block"`
	MaxTokenCount int         `yaml:"max_token_count"`
	MaxGroup      int         `yaml:"max_group"`
	Fields        []FieldSpec `yaml:"fields"`

	// Params of an sql rule: names and values the statement sees as {{.Params.<name>}}
	// (text). A new value is a new version of the rule.
	Params map[string]string `yaml:"-"`

	// File is the rule file: path, checksum, released, body.
	File *versioned.File `yaml:"-"`

	rule  *Rule  // duplicate_rule
	model *Model // duplicate_model
}

// ConditionSpec is one condition of a duplicate_rule file.
type ConditionSpec struct {
	// Attribute is the column compared.
	Attribute string `yaml:"attribute"`
	// Operator is exact, same_first_characters, same_last_characters, same_date,
	// same_date_and_time, choice_label or choice_value (Dataverse's operatorcode 0–6).
	Operator string `yaml:"operator"`
	// Characters is the N of same first / last N characters.
	Characters int `yaml:"characters"`
	// IgnoreBlank: a blank value never matches.
	IgnoreBlank bool `yaml:"ignore_blank"`
}

// FieldSpec is one compared field of a duplicate_model file (see Field).
type FieldSpec struct {
	Name    string   `yaml:"name"`
	Columns []string `yaml:"columns"`
	// Kind is first_name, last_name, email, phone, company, city or website.
	Kind      string  `yaml:"kind"`
	ExactMin  float64 `yaml:"exact_min"`
	ExactMax  float64 `yaml:"exact_max"`
	Close     float64 `yaml:"close"`
	Different float64 `yaml:"different"`
}

var operatorNames = map[string]Operator{"exact": OpExactMatch, "same_first_characters": OpSameFirstCharacters,
	"same_last_characters": OpSameLastCharacters, "same_date": OpSameDate, "same_date_and_time": OpSameDateAndTime,
	"choice_label": OpPicklistLabel, "choice_value": OpPicklistValue}

var fieldKindNames = map[string]Kind{"first_name": KindFirstName, "last_name": KindLastName, "email": KindEmail,
	"phone": KindPhone, "company": KindCompany, "city": KindCity, "website": KindWebsite}

// Ref is ID@vN.
func (d *Definition) Ref() string { return fmt.Sprintf("%s@v%d", d.ID, d.Version) }

// TableList is the tables the rule checks.
func (d *Definition) TableList() []string {
	if d.Table != "" {
		return []string{d.Table}
	}
	return d.Tables
}

// Rule returns the Dynamics-like rule of a duplicate_rule definition, nil for other kinds.
func (d *Definition) Rule() *Rule { return d.rule }

// Model returns the fuzzy model of a duplicate_model definition, nil for other kinds.
func (d *Definition) Model() *Model { return d.model }

// Catalog is a loaded set of definitions, parsed.
type Catalog = versioned.Catalog[*Definition]

// Builtin names the tree of built-in rules in messages.
const Builtin = "sql/audits"

// LoadCatalog reads the built-in rules (builtin, normally ampelsql.Audits) and, when dir is
// not empty, the user's from userFS (the directory dir, named so in messages). Loading,
// checksums, releases.lock and ID@vN references are package versioned's; every header is
// decoded strictly and validated here, and the first problem is one line naming file, line
// and key.
func LoadCatalog(builtin fs.FS, dir string, userFS fs.FS) (*Catalog, error) {
	return versioned.LoadCatalog(parseDefinition, versioned.Trees(Builtin, builtin, dir, userFS)...)
}

func parseDefinition(f *versioned.File) (*Definition, error) {
	d := &Definition{File: f}
	header := f.Header
	if p, _ := lookupKey(header, "params"); p != nil {
		if f.Ext != "sql" {
			return nil, d.errorf("params", "only sql rules take params")
		}
		if p.Kind != yaml.MappingNode {
			return nil, d.errorf("params", "want a mapping of names to values")
		}
		d.Params = map[string]string{}
		for i := 0; i+1 < len(p.Content); i += 2 {
			k, v := p.Content[i], p.Content[i+1]
			if !warehouse.ValidIdentifier(k.Value) || v.Kind != yaml.ScalarNode {
				return nil, &versioned.Error{Path: f.Path, Line: k.Line, Key: "params." + k.Value, Msg: "a param is a snake_case name with one value"}
			}
			d.Params[k.Value] = v.Value
		}
		header = withoutKey(header, "params")
	}
	if err := config.DecodeNode(f.Path, header, d, nil); err != nil {
		return nil, err
	}
	return d, d.validate()
}

// lookupKey finds key in a mapping node: its value and the key's line.
func lookupKey(m *yaml.Node, key string) (*yaml.Node, int) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1], m.Content[i].Line
		}
	}
	return nil, 0
}

// withoutKey returns a copy of mapping m without key.
func withoutKey(m *yaml.Node, key string) *yaml.Node {
	c := *m
	c.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			c.Content = append(c.Content, m.Content[i], m.Content[i+1])
		}
	}
	return &c
}

func (d *Definition) errorf(key, format string, args ...any) error {
	line := d.File.Header.Line
	if _, l := lookupKey(d.File.Header, strings.Split(key, ".")[0]); l > 0 {
		line = l
	}
	return &versioned.Error{Path: d.File.Path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (d *Definition) validate() error {
	for key, v := range map[string]string{"title": d.Title, "description": d.Description, "severity": d.Severity, "kind": d.Kind} {
		if strings.TrimSpace(v) == "" {
			return d.errorf(key, "required")
		}
	}
	if !slices.Contains(Severities, d.Severity) {
		return d.errorf("severity", "%q is not one of %s", d.Severity, strings.Join(Severities, ", "))
	}
	if !slices.Contains(Kinds, d.Kind) {
		return d.errorf("kind", "%q is not one of %s", d.Kind, strings.Join(Kinds, ", "))
	}
	if (d.Kind == KindSQL) != (d.File.Ext == "sql") {
		if d.Kind == KindSQL {
			return d.errorf("kind", "an sql rule is a .sql file: a YAML header in /* */, then the SELECT")
		}
		return d.errorf("kind", "a %s rule is a .yaml file", d.Kind)
	}
	switch {
	case d.Table == "" && len(d.Tables) == 0:
		return d.errorf("table", "required: the view the rule checks (or tables: [a, b] for an sql rule)")
	case d.Table != "" && len(d.Tables) > 0:
		return d.errorf("tables", "give table or tables, not both")
	case len(d.Tables) > 0 && d.Kind != KindSQL:
		return d.errorf("tables", "a %s rule checks one table: write table", d.Kind)
	}
	for i, t := range d.TableList() {
		if !warehouse.ValidIdentifier(t) || strings.ToLower(t) != t {
			key := "table"
			if d.Table == "" {
				key = fmt.Sprintf("tables[%d]", i)
			}
			return d.errorf(key, "%q is not a table logical name", t)
		}
		if slices.Index(d.TableList(), t) != i {
			return d.errorf("tables", "%q is listed twice", t)
		}
	}
	explicitKey := d.Key != ""
	if d.Key == "" && d.Table != "" {
		d.Key = keyOf(d.Table)
	}
	dupKeys := map[string]bool{"case_sensitive": d.CaseSensitive, "exclude_inactive": d.ExcludeInactive, "time_zone": d.TimeZone != "",
		"conditions": len(d.Conditions) > 0}
	modelKeys := map[string]bool{"threshold": d.Threshold != 0, "max_block": d.MaxBlock != 0, "max_token_count": d.MaxTokenCount != 0,
		"max_group": d.MaxGroup != 0, "fields": len(d.Fields) > 0}
	refuse := func(keys map[string]bool) error {
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if keys[k] {
				return d.errorf(k, "not a key of a %s rule", d.Kind)
			}
		}
		return nil
	}
	switch d.Kind {
	case KindDuplicateRule:
		if err := refuse(modelKeys); err != nil {
			return err
		}
		return d.buildRule()
	case KindDuplicateModel:
		if err := refuse(dupKeys); err != nil {
			return err
		}
		return d.buildModel()
	default:
		dupKeys["key"] = explicitKey
		if err := refuse(dupKeys); err != nil {
			return err
		}
		return refuse(modelKeys)
	}
}

// keyOf is the primary key column of a table's view: <table>id, activityid for activities.
func keyOf(table string) string {
	switch table {
	case "activitypointer", "phonecall", "email", "task", "appointment", "letter", "fax":
		return "activityid"
	}
	return table + "id"
}

func (d *Definition) buildRule() error {
	if len(d.Conditions) == 0 {
		return d.errorf("conditions", "required: the conditions that must all hold")
	}
	r := &Rule{ID: d.ID, Name: d.Title, Table: d.Table, Key: d.Key, CaseSensitive: d.CaseSensitive, ExcludeInactive: d.ExcludeInactive}
	if d.TimeZone != "" {
		loc, err := time.LoadLocation(d.TimeZone)
		if err != nil {
			return d.errorf("time_zone", "%q is not a time zone such as UTC or Europe/Berlin", d.TimeZone)
		}
		r.TimeZone = loc
	}
	for i, c := range d.Conditions {
		key := fmt.Sprintf("conditions[%d]", i)
		op, ok := operatorNames[c.Operator]
		if !ok {
			return d.errorf(key+".operator", "%q is not one of %s", c.Operator, strings.Join(slices.Sorted(maps.Keys(operatorNames)), ", "))
		}
		if !warehouse.ValidIdentifier(c.Attribute) {
			return d.errorf(key+".attribute", "%q is not a column logical name", c.Attribute)
		}
		r.Conditions = append(r.Conditions, Condition{Attribute: c.Attribute, Operator: op, Param: c.Characters, IgnoreBlank: c.IgnoreBlank})
	}
	if err := r.validate(); err != nil {
		return d.errorf("conditions", "%v", err)
	}
	d.rule = r
	return nil
}

func (d *Definition) buildModel() error {
	if len(d.Fields) == 0 {
		return d.errorf("fields", "required: the compared fields")
	}
	if d.Threshold <= 0 {
		return d.errorf("threshold", "required: the score a pair must reach (above 0)")
	}
	m := &Model{ID: d.ID, Table: d.Table, Key: d.Key, Threshold: d.Threshold, MaxBlock: d.MaxBlock, MaxTokenCount: d.MaxTokenCount, MaxGroup: d.MaxGroup}
	for i, f := range d.Fields {
		key := fmt.Sprintf("fields[%d]", i)
		k, ok := fieldKindNames[f.Kind]
		if !ok {
			return d.errorf(key+".kind", "%q is not one of first_name, last_name, email, phone, company, city, website", f.Kind)
		}
		if f.ExactMax < f.ExactMin {
			return d.errorf(key+".exact_max", "%v is below exact_min %v", f.ExactMax, f.ExactMin)
		}
		for j, c := range f.Columns {
			if !warehouse.ValidIdentifier(c) {
				return d.errorf(fmt.Sprintf("%s.columns[%d]", key, j), "%q is not a column logical name", c)
			}
		}
		m.Fields = append(m.Fields, Field{Name: f.Name, Columns: f.Columns, Kind: k, ExactMin: f.ExactMin, ExactMax: f.ExactMax,
			Close: f.Close, Different: f.Different})
	}
	if err := m.validate(); err != nil {
		return d.errorf("fields", "%v", err)
	}
	d.model = m
	return nil
}
