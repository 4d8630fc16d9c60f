package kpis

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExampleInputs(t *testing.T) {
	t.Parallel()
	in, err := LoadInputs("inputs.example.yaml", []string{"prod"})
	require.NoError(t, err)
	require.Equal(t, "2026-06-01", in.Environments[0].GoLive)
	require.Equal(t, 250, in.Environments[0].LicensedUsers)
	require.Len(t, in.KeyUsers, 2)
	require.Equal(t, "", in.KeyUsers[1].TrainedOn)
	for _, k := range InputKeys {
		require.True(t, in.Has(k), "the example shows every key: %s", k)
	}
	require.Len(t, in.Checksum, 64)
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ text, want string }{
		"unknown env":   {"environments:\n  - name: qa\n", `in.yaml:2: environments[0].name: "qa" is not an environment of the config (prod)`},
		"bad date":      {"environments:\n  - name: prod\n    go_live: 1.6.2026\n", `in.yaml:3: environments[0].go_live: "1.6.2026" is not a date such as 2026-06-01`},
		"bad month":     {"costs:\n  - {environment: prod, month: June, category: x, amount: 1}\n", `in.yaml:2: costs[0].month: "June" is not a month`},
		"unknown key":   {"key_users:\n  - {environment: prod, nam: A}\n", "in.yaml:2: key_users[0].nam: unknown key"},
		"rejected":      {"migration:\n  - environment: prod\n    object: lead\n    migrated: 5\n    rejected: 9\n", "in.yaml:5: migration[0].rejected: must be between 0 and migrated (5)"},
		"survey kind":   {"surveys:\n  - {environment: prod, kind: csat, date: 2026-01-01}\n", `in.yaml:2: surveys[0].kind: "csat" is not a survey kind`},
		"ues range":     {"surveys:\n  - {environment: prod, kind: ues, date: 2026-01-01, responses: 3, average: 9}\n", "in.yaml:2: surveys[0].average: the average user effort score is between 1"},
		"not a number":  {"costs:\n  - {environment: prod, month: 2026-01, category: x, amount: lots}\n", `in.yaml:2: costs[0].amount: "lots" is not a number`},
		"margin":        {"environments:\n  - {name: prod, gross_margin: 35}\n", "in.yaml:2: environments[0].gross_margin: a share between 0 and 1"},
		"no env":        {"milestones:\n  - {name: UAT, due: 2026-01-01}\n", "in.yaml:2: milestones[0].environment: required"},
		"not yaml":      {"costs: [\n", "in.yaml: not valid YAML"},
		"list expected": {"costs: 5\n", "in.yaml:1: costs: want a list"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseInputs(filepath.Join("in.yaml"), []byte(c.text), []string{"prod"})
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}
