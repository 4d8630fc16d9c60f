package audit_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	ampelsql "github.com/ampel/ampel/sql"
)

// TestBuiltinRules: every built-in rule loads and is released; the duplicate rule files
// are Dynamics' out-of-the-box rules and the default fuzzy models, as the Go defaults
// (DefaultRules, DefaultModels) that Duplicates runs without rule files.
func TestBuiltinRules(t *testing.T) {
	cat := loadRules(t)
	rules, models := map[string]audit.Rule{}, map[string]audit.Model{}
	for _, d := range cat.Defaults() {
		require.True(t, d.File.Released, "%s is released (sql/audits/releases.lock)", d.Ref())
		if r := d.Rule(); r != nil {
			rules[r.ID] = *r
		}
		if m := d.Model(); m != nil {
			models[m.ID] = *m
		}
	}
	require.Len(t, rules, len(audit.DefaultRules()))
	for _, r := range audit.DefaultRules() {
		got, ok := rules[r.ID]
		require.True(t, ok, "rule file %s", r.ID)
		got.Name = r.Name // the file's title is worded for the summary
		require.Equal(t, r, got)
	}
	require.Len(t, models, len(audit.DefaultModels()))
	for _, m := range audit.DefaultModels() {
		// the files write out the limits the Go defaults leave to withDefaults
		m.MaxBlock, m.MaxTokenCount, m.MaxGroup = 64, 32, 20
		require.Equal(t, m, models[m.ID], "rule file %s", m.ID)
	}
}

func TestRuleFileErrors(t *testing.T) {
	const sqlHead = "/*\nid: x\nversion: 1\ntitle: T\ndescription: D\nseverity: warning\nkind: sql\n"
	const yamlHead = "id: x\nversion: 1\ntitle: T\ndescription: D\nseverity: warning\n"
	for _, tc := range []struct {
		name, file, text, want string
	}{
		{"severity", "x/v1.sql", "/*\nid: x\nversion: 1\ntitle: T\ndescription: D\nseverity: high\nkind: sql\ntable: lead\n*/\nSELECT 1",
			`v1.sql:6: severity: "high" is not one of error, warning, info`},
		{"kind", "x/v1.yaml", yamlHead + "kind: regex\ntable: lead\n", `v1.yaml:6: kind: "regex" is not one of duplicate_rule, duplicate_model, sql`},
		{"sql in yaml", "x/v1.yaml", yamlHead + "kind: sql\ntable: lead\n", "kind: an sql rule is a .sql file"},
		{"no table", "x/v1.sql", sqlHead + "*/\nSELECT 1", "table: required"},
		{"both", "x/v1.sql", sqlHead + "table: lead\ntables: [contact]\n*/\nSELECT 1", "tables: give table or tables, not both"},
		{"upper case", "x/v1.sql", sqlHead + "tables: [lead, Contact]\n*/\nSELECT 1", `tables[1]: "Contact" is not a table logical name`},
		{"unknown key", "x/v1.sql", sqlHead + "table: lead\ntreshold: 3\n*/\nSELECT 1", "treshold"},
		{"key of another kind", "x/v1.sql", sqlHead + "table: lead\nthreshold: 3\n*/\nSELECT 1", "threshold: not a key of a sql rule"},
		{"params in yaml", "x/v1.yaml", yamlHead + "kind: duplicate_rule\ntable: lead\nparams: {a: 1}\n", "params: only sql rules take params"},
		{"operator", "x/v1.yaml", yamlHead + "kind: duplicate_rule\ntable: lead\nconditions:\n  - {attribute: emailaddress1, operator: fuzzy}\n",
			`conditions[0].operator: "fuzzy" is not one of choice_label, choice_value, exact,`},
		{"first n", "x/v1.yaml", yamlHead + "kind: duplicate_rule\ntable: lead\nconditions:\n  - {attribute: lastname, operator: same_first_characters}\n",
			"first/last characters need a count of 1 or more"},
		{"threshold", "x/v1.yaml", yamlHead + "kind: duplicate_model\ntable: lead\nfields:\n  - {name: n, columns: [lastname], kind: last_name}\n",
			"threshold: required"},
		{"field kind", "x/v1.yaml", yamlHead + "kind: duplicate_model\ntable: lead\nthreshold: 5\nfields:\n  - {name: n, columns: [lastname], kind: surname}\n",
			`fields[0].kind: "surname" is not one of first_name`},
		{"id", "x/v1.sql", "/*\nid: y\nversion: 1\n*/\nSELECT 1", `id: "y" differs from the folder name x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.LoadCatalog(ampelsql.Audits, "mine", fstest.MapFS{tc.file: {Data: []byte(tc.text)}})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "mine/"+tc.file)
		})
	}
}

// TestUserRules: a user's directory adds rules and new versions of built-in ones; a
// version the built-in tree has is refused, and a released file that changed too.
func TestUserRules(t *testing.T) {
	rule := "/*\nid: won_opportunity_without_quote\nversion: 2\ntitle: T\ndescription: D\nseverity: error\nkind: sql\ntable: opportunity\n*/\nSELECT 1"
	cat, err := audit.LoadCatalog(ampelsql.Audits, "mine", fstest.MapFS{"won_opportunity_without_quote/v2.sql": {Data: []byte(rule)}})
	require.NoError(t, err)
	d, err := cat.Resolve("won_opportunity_without_quote")
	require.NoError(t, err)
	require.Equal(t, 1, d.Version, "a draft does not replace a released default")
	d, err = cat.Resolve("won_opportunity_without_quote@v2")
	require.NoError(t, err)
	require.False(t, d.File.Released)
	require.Equal(t, "error", d.Severity)

	v1 := strings.Replace(rule, "version: 2", "version: 1", 1)
	_, err = audit.LoadCatalog(ampelsql.Audits, "mine", fstest.MapFS{"won_opportunity_without_quote/v1.sql": {Data: []byte(v1)}})
	require.ErrorContains(t, err, "defined twice")

	_, err = audit.LoadCatalog(ampelsql.Audits, "mine", fstest.MapFS{
		"x/v1.sql":      {Data: []byte("/*\nid: x\nversion: 1\ntitle: T\ndescription: D\nseverity: info\nkind: sql\ntable: lead\n*/\nSELECT 2")},
		"releases.lock": {Data: []byte("x/v1.sql 0000000000000000000000000000000000000000000000000000000000000000\n")},
	})
	require.ErrorContains(t, err, "changed after its release")
}
