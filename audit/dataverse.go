package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/ampel/ampel/versioned"
)

// dvRule is a duplicaterule as the Web API returns it with its conditions expanded:
// GET duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions.
type dvRule struct {
	ID                     string        `json:"duplicateruleid"`
	Name                   string        `json:"name"`
	BaseEntityName         string        `json:"baseentityname"`
	MatchingEntityName     string        `json:"matchingentityname"`
	IsCaseSensitive        bool          `json:"iscasesensitive"`
	ExcludeInactiveRecords bool          `json:"excludeinactiverecords"`
	StatusCode             *int          `json:"statuscode"`
	Conditions             []dvCondition `json:"DuplicateRule_DuplicateRuleConditions"`
}

type dvCondition struct {
	BaseAttributeName     string `json:"baseattributename"`
	MatchingAttributeName string `json:"matchingattributename"`
	OperatorCode          int    `json:"operatorcode"`
	OperatorParam         *int   `json:"operatorparam"`
	IgnoreBlankValues     bool   `json:"ignoreblankvalues"`
}

// statusPublished is duplicaterule.statuscode Published (0 Unpublished, 1 Publishing, 2
// Published — VERIFY against the environment's metadata); only published rules run.
const statusPublished = 2

// SkippedRule is a Dataverse rule ParseDataverseRules did not carry over, and why.
type SkippedRule struct {
	Name, Reason string
}

// ParseDataverseRules reads an organisation's duplicate detection rules as the Web API
// returns them — the JSON of GET duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions
// ({"value": [...]}, or a plain array) — and returns them as Rules, so a steward gets the
// groups their own Dynamics rules would find. Rules not published are skipped, and so are
// rules that match one table against another (lead against contact) and conditions that
// match one attribute against another: this audit compares a table with itself. A rule's
// key column is its table's logical name + "id", Dataverse's convention.
func ParseDataverseRules(r io.Reader) ([]Rule, []SkippedRule, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("read duplicate rules: %w", err)
	}
	var list []dvRule
	var wrapped struct {
		Value *[]dvRule `json:"value"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Value != nil {
		list = *wrapped.Value
	} else if err := json.Unmarshal(data, &list); err != nil {
		return nil, nil, fmt.Errorf("duplicate rules: want the JSON of GET duplicaterules?$expand=DuplicateRule_DuplicateRuleConditions: %w", err)
	}
	var rules []Rule
	var skipped []SkippedRule
	for _, dr := range list {
		skip := func(format string, args ...any) {
			skipped = append(skipped, SkippedRule{dr.Name, fmt.Sprintf(format, args...)})
		}
		switch {
		case dr.StatusCode != nil && *dr.StatusCode != statusPublished:
			skip("not published (statuscode %d)", *dr.StatusCode)
			continue
		case dr.BaseEntityName == "":
			skip("no baseentityname")
			continue
		case dr.MatchingEntityName != "" && !strings.EqualFold(dr.MatchingEntityName, dr.BaseEntityName):
			skip("matches %s against %s; only rules within one table are supported", dr.BaseEntityName, dr.MatchingEntityName)
			continue
		case len(dr.Conditions) == 0:
			skip("no conditions (expand DuplicateRule_DuplicateRuleConditions)")
			continue
		}
		table := strings.ToLower(dr.BaseEntityName)
		rule := Rule{ID: ruleID(dr), Name: dr.Name, Table: table, Key: table + "id", CaseSensitive: dr.IsCaseSensitive,
			ExcludeInactive: dr.ExcludeInactiveRecords}
		ok := true
		for _, c := range dr.Conditions {
			if c.MatchingAttributeName != "" && !strings.EqualFold(c.MatchingAttributeName, c.BaseAttributeName) {
				skip("condition matches %s against %s; only one attribute against itself is supported", c.BaseAttributeName, c.MatchingAttributeName)
				ok = false
				break
			}
			cond := Condition{Attribute: strings.ToLower(c.BaseAttributeName), Operator: Operator(c.OperatorCode), IgnoreBlank: c.IgnoreBlankValues}
			if c.OperatorParam != nil {
				cond.Param = *c.OperatorParam
			}
			rule.Conditions = append(rule.Conditions, cond)
		}
		if !ok {
			continue
		}
		if err := rule.validate(); err != nil {
			skip("%v", err)
			continue
		}
		rules = append(rules, rule)
	}
	return rules, skipped, nil
}

// ruleID makes a rule id from the rule's name ("Leads with the same e-mail address" →
// dynamics_leads_with_the_same_e_mail_address), or its GUID when it has no name.
func ruleID(dr dvRule) string {
	var b strings.Builder
	b.WriteString("dynamics_")
	last := byte('_')
	for _, r := range Fold(dr.Name) {
		c := byte('_')
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			c = byte(r)
		}
		if c == '_' && last == '_' {
			continue
		}
		b.WriteByte(c)
		last = c
	}
	id := strings.TrimSuffix(b.String(), "_")
	if id == "dynamics" {
		return "dynamics_" + dr.ID
	}
	return id
}

// ruleFile is a duplicate_rule file, in the order its keys are written.
type ruleFile struct {
	ID              string          `yaml:"id"`
	Version         int             `yaml:"version"`
	Title           string          `yaml:"title"`
	Description     string          `yaml:"description"`
	Severity        string          `yaml:"severity"`
	Kind            string          `yaml:"kind"`
	Table           string          `yaml:"table"`
	Key             string          `yaml:"key,omitempty"`
	CaseSensitive   bool            `yaml:"case_sensitive"`
	ExcludeInactive bool            `yaml:"exclude_inactive"`
	TimeZone        string          `yaml:"time_zone,omitempty"`
	Conditions      []ConditionSpec `yaml:"conditions"`
}

// RuleFileText writes r as version version of a duplicate_rule file (severity warning).
func RuleFileText(r Rule, version int) ([]byte, error) {
	f := ruleFile{ID: r.ID, Version: version, Title: r.Name, Severity: SeverityWarning, Kind: KindDuplicateRule, Table: r.Table,
		CaseSensitive: r.CaseSensitive, ExcludeInactive: r.ExcludeInactive,
		Description: "Carried over from Dynamics 365: the organisation's published duplicate detection rule \"" + r.Name + "\"."}
	if f.Title == "" {
		f.Title = r.ID
	}
	if r.Key != keyOf(r.Table) {
		f.Key = r.Key
	}
	if r.TimeZone != nil {
		f.TimeZone = r.TimeZone.String()
	}
	for _, c := range r.Conditions {
		var op string
		for name, o := range operatorNames {
			if o == c.Operator {
				op = name
			}
		}
		f.Conditions = append(f.Conditions, ConditionSpec{Attribute: c.Attribute, Operator: op, Characters: c.Param, IgnoreBlank: c.IgnoreBlank})
	}
	var b bytes.Buffer
	b.WriteString("# Imported by ampel audit import-rules; a change is a new version (ampel audit release ID@vN locks it).\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("write rule %s: %w", r.ID, err)
	}
	return b.Bytes(), enc.Close()
}

// Imported says what ImportRules did with one rule: Status is added (v1), changed (a new
// version beside the old) or unchanged.
type Imported struct {
	ID      string
	Version int
	Path    string
	Status  string
}

// ImportRules writes rules (from ParseDataverseRules) as duplicate_rule files into dir, a
// user's rule directory (audit.dir), creating it if need be: a rule dir does not have yet
// as <id>/v1.yaml, a rule whose newest version there has other conditions as the next
// version, an unchanged one not at all. The files are drafts until released.
func ImportRules(dir string, rules []Rule) ([]Imported, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("import rules: %w", err)
	}
	set, err := versioned.Load(versioned.Tree{Name: dir, FS: os.DirFS(dir)})
	if err != nil {
		return nil, fmt.Errorf("import rules: %w", err)
	}
	var out []Imported
	for _, r := range rules {
		im := Imported{ID: r.ID, Version: 1, Status: "added"}
		if vs := set.Versions(r.ID); len(vs) > 0 {
			last, err := parseDefinition(vs[len(vs)-1])
			if err != nil {
				return nil, fmt.Errorf("import rules: %w", err)
			}
			if last.rule != nil && reflect.DeepEqual(*last.rule, r) {
				out = append(out, Imported{ID: r.ID, Version: last.Version, Path: filepath.Join(dir, filepath.FromSlash(last.File.Name)), Status: "unchanged"})
				continue
			}
			im.Version, im.Status = last.Version+1, "changed"
		}
		text, err := RuleFileText(r, im.Version)
		if err != nil {
			return nil, err
		}
		im.Path = filepath.Join(dir, r.ID, fmt.Sprintf("v%d.yaml", im.Version))
		if err := os.MkdirAll(filepath.Dir(im.Path), 0o755); err != nil {
			return nil, fmt.Errorf("import rules: %w", err)
		}
		if err := os.WriteFile(im.Path, text, 0o644); err != nil {
			return nil, fmt.Errorf("import rules: %w", err)
		}
		out = append(out, im)
	}
	return out, nil
}
