package scoring_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis/scoring"
	ampelsql "github.com/ampel/ampel/sql"
)

// base is a valid model; the cases below break it one key at a time.
const base = `id: m
version: 1
title: M
description: d
owner: o
source: s
grades:
  - {name: A, min: 50}
  - {name: B, min: 20, max: 50}
  - {name: C, max: 20}
qualification:
  marketing_qualified: 30
  sales_ready: 60
groups:
  - name: fit
    cap: 40
    rules:
      - name: big
        column: numberofemployees
        range: {min: 500}
        points: 10
      - name: source
        column: leadsourcecode
        in: [2, 4]
        points: 5
  - name: engagement
    rules:
      - name: calls
        activity: [phonecall]
        within_days: 90
        points_each: 5
`

func load(files map[string]string) (*scoring.Set, error) {
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return scoring.Load(fsys, "", nil)
}

// TestModelRefusals: a model that is wrong is refused with one line
// naming file, line and key and saying what to fix.
func TestModelRefusals(t *testing.T) {
	t.Parallel()
	_, err := load(map[string]string{"m/v1.yaml": base})
	require.NoError(t, err)
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"unknown column", "column: numberofemployees", "column: numberofemployes",
			`sql/scoring/m/v1.yaml:19: groups[0].rules[0].column: "numberofemployes" is not a lead column (did you mean numberofemployees?)`},
		{"money in its own currency", "column: numberofemployees\n        range: {min: 500}", "column: estimatedamount\n        range: {min: 500}",
			"sql/scoring/m/v1.yaml:19: groups[0].rules[0].column: estimatedamount is in each record's own currency: use estimatedamount_base"},
		{"impossible band", "{name: B, min: 20, max: 50}", "{name: B, min: 60, max: 50}",
			"sql/scoring/m/v1.yaml:9: grades[1].min: grade B [60, 50) is impossible: min must be below max"},
		{"overlapping grades", "{name: B, min: 20, max: 50}", "{name: B, min: 20, max: 55}",
			"sql/scoring/m/v1.yaml:9: grades[1].max: grade B [20, 55) overlaps A [50, ∞): its max must be A's min"},
		{"a gap between grades", "{name: B, min: 20, max: 50}", "{name: B, min: 20, max: 45}",
			"sql/scoring/m/v1.yaml:9: grades[1].max: scores from 45 to 50 have no grade"},
		{"a top grade with a max", "{name: A, min: 50}", "{name: A, min: 50, max: 100}",
			"sql/scoring/m/v1.yaml:8: grades[0].max: the top grade A has no max"},
		{"one grade", "  - {name: B, min: 20, max: 50}\n  - {name: C, max: 20}\n", "",
			"sql/scoring/m/v1.yaml:7: grades: required: two or more bands"},
		{"two conditions", "        in: [2, 4]\n", "        in: [2, 4]\n        equals: 2\n",
			"sql/scoring/m/v1.yaml:24: groups[0].rules[1].in: a rule has one condition (it has equals and in)"},
		{"unknown key", "        points: 10", "        pionts: 10",
			"sql/scoring/m/v1.yaml:21: groups[0].rules[0].pionts: unknown key"},
		{"a choice given its label", "in: [2, 4]", "in: [Partner]",
			`sql/scoring/m/v1.yaml:24: groups[0].rules[1].in: leadsourcecode is a number, "Partner" is not (a choice compares its option value; for the label use leadsourcecodename)`},
		{"no points", "        points: 5\n", "",
			"sql/scoring/m/v1.yaml:22: groups[0].rules[1].points: required"},
		{"stages upside down", "sales_ready: 60", "sales_ready: 25",
			"sql/scoring/m/v1.yaml:13: qualification.sales_ready: 25 is not above marketing_qualified 30"},
		{"unknown activity", "activity: [phonecall]", "activity: [meeting]",
			`sql/scoring/m/v1.yaml:29: groups[1].rules[0].activity[0]: "meeting" is not an activity type`},
		{"a range on text", "column: numberofemployees", "column: jobtitle",
			"sql/scoring/m/v1.yaml:20: groups[0].rules[0].range: jobtitle is text"},
		{"a rule name twice", "- name: source", "- name: big",
			`sql/scoring/m/v1.yaml:22: groups[0].rules[1].name: "big" is also the name of groups[0].rules[0]`},
		{"floor above cap", "    cap: 40\n", "    cap: 40\n    floor: 50\n",
			"sql/scoring/m/v1.yaml:17: groups[0].floor: 50 is not below cap 40"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Contains(t, base, c.old)
			_, err := load(map[string]string{"m/v1.yaml": strings.Replace(base, c.old, c.new, 1)})
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// TestCombinedModels: a combined model names rule models with their
// version; it is refused otherwise, naming file, line and key.
func TestCombinedModels(t *testing.T) {
	t.Parallel()
	combined := func(refs string) string {
		return `id: both
version: 1
title: Both
description: d
owner: o
source: s
grades:
  - {name: hot, min: 30}
  - {name: cold, max: 30}
combine:
` + refs
	}
	set, err := load(map[string]string{"m/v1.yaml": base, "both/v1.yaml": combined("  - {model: m@v1, weight: 0.5}\n")})
	require.NoError(t, err)
	m, err := set.Resolve("both")
	require.NoError(t, err)
	require.True(t, m.Combined())
	require.Equal(t, 3, m.RuleCount())

	for _, c := range []struct{ name, refs, want string }{
		{"no version", "  - {model: m, weight: 0.5}\n", "both/v1.yaml:11: combine[0].model: name a version (m@v1)"},
		{"unknown model", "  - {model: x@v1, weight: 0.5}\n", "both/v1.yaml:11: combine[0].model: no definition x"},
		{"no weight", "  - {model: m@v1}\n", "both/v1.yaml:11: combine[0].weight: required: a positive weight"},
	} {
		_, err := load(map[string]string{"m/v1.yaml": base, "both/v1.yaml": combined(c.refs)})
		require.Error(t, err, c.name)
		require.Contains(t, err.Error(), c.want, c.name)
	}
	_, err = load(map[string]string{"m/v1.yaml": base, "both/v1.yaml": combined("  - {model: m@v1, weight: 1}\n"),
		"nested/v1.yaml": strings.Replace(combined("  - {model: both@v1, weight: 1}\n"), "id: both", "id: nested", 1)})
	require.ErrorContains(t, err, "nested/v1.yaml:11: combine[0].model: both@v1 combines models itself")
}

// TestBuiltinModels: every built-in model loads and its default version
// is released, so that it never changes under the scores it made.
func TestBuiltinModels(t *testing.T) {
	t.Parallel()
	set, err := scoring.Load(ampelsql.Scoring, "", nil)
	require.NoError(t, err)
	require.NotEmpty(t, set.IDs())
	for _, m := range set.Defaults() {
		require.True(t, m.File.Released, "%s is a draft: release it with make score-release MODEL=%s", m.Ref(), m.Ref())
	}
}
