package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestScoreCommand drives ampel score through the binary on both engines:
// run scores every lead with the demo model and prints its backtest and
// the backtest KPIs as the truth has them; list shows the models; show
// explains a lead; a user's model with an unknown column is refused with
// one line naming file, line and key (exit 3); a user's draft runs and is
// released.
func TestScoreCommand(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 5, Scale: 300})
			x.ampel("sync")
			truth := x.sim.Truth()
			bt := truth.Scoring.Backtest

			out := x.ampel("score", "run", "--as-of", truth.Now)
			require.Contains(t, out, fmt.Sprintf("demo@v1 (released): %d leads scored", len(truth.Scoring.Leads)))
			decided := bt.Positives + bt.Negatives
			require.Contains(t, out, fmt.Sprintf("backtest sim: %d leads decided", decided))
			for _, g := range bt.Grades {
				if g.Rate != nil {
					require.Contains(t, out, fmt.Sprintf(" %s %.1f %% of %d,", g.Grade, 100**g.Rate, g.Decided))
				}
			}
			require.Regexp(t, `lead_score_auc@v1 +sim .* model=demo@v1 +`+regexp.QuoteMeta(fmt.Sprintf("%.2f", *bt.AUC)), out)
			rows := x.query("SELECT grade, count() AS n FROM lead_score WHERE model = 'demo' GROUP BY grade ORDER BY grade")
			want := map[string]int{}
			for _, l := range truth.Scoring.Leads {
				want[l.Grade]++
			}
			got := map[string]int{}
			for _, r := range rows {
				var n int
				fmt.Sscan(fmt.Sprint(r["n"]), &n)
				got[r["grade"].(string)] = n
			}
			require.Equal(t, want, got)

			out = x.ampel("score", "list")
			require.Regexp(t, `demo +v1 +v1 +13 +A B C +Demo lead score`, out)

			// a decided lead: its current score, and its score at the decision
			var ids []string
			for id := range bt.Leads {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			id := ids[0]
			out = x.ampel("score", "show", id)
			require.Contains(t, out, "lead "+id)
			require.Contains(t, out, fmt.Sprintf("demo@v1: score %s, grade %s", scoreText(truth.Scoring.Leads[id].Score), truth.Scoring.Leads[id].Grade))
			require.Contains(t, out, fmt.Sprintf("score %s, grade %s — what the backtest counts", scoreText(bt.Leads[id].Score), bt.Leads[id].Grade))
			for _, r := range truth.Scoring.Leads[id].Rules {
				require.Contains(t, out, "    "+r+" ")
			}
			// a lead the warehouse does not have: one line that says so
			_, errOut, err := x.run(context.Background(), "score", "show", "00000000-0000-0000-0000-00000000abcd")
			require.Error(t, err)
			require.Equal(t, "ampel score: no lead 00000000-0000-0000-0000-00000000abcd in the warehouse and no score of it: "+
				"check the id, or sync the lead table first (ampel sync)\n", errOut)

			// a user's model directory: a draft that runs, then a wrong one
			dir := filepath.Join(filepath.Dir(x.config), "my-models")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "titles"), 0o755))
			model := `id: titles
version: 1
title: Titles
description: decision makers
owner: me
source: a test
grades:
  - {name: hot, min: 10}
  - {name: cold, max: 10}
rules:
  - name: chief
    column: jobtitle
    contains: führer
    points: 10
`
			file := filepath.Join(dir, "titles", "v1.yaml")
			require.NoError(t, os.WriteFile(file, []byte(model), 0o644))
			cfg, err := os.ReadFile(x.config)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(x.config, []byte(string(cfg)+"scoring:\n  dir: my-models\n"), 0o600))
			out = x.ampel("score", "run", "--model", "titles")
			require.Contains(t, out, "titles@v1 (draft)")
			rows = x.query("SELECT count() AS n, min(draft) AS lo FROM lead_scores WHERE model = 'titles'")
			require.Equal(t, fmt.Sprint(len(truth.Scoring.Leads)), fmt.Sprint(rows[0]["n"]))
			require.Equal(t, "1", fmt.Sprint(rows[0]["lo"]), "a draft's scores are marked draft")
			out = x.ampel("score", "release", "titles@v1")
			require.Contains(t, out, "released titles@v1")
			require.Contains(t, x.ampel("score", "list"), "titles  v1       v1  ")

			require.NoError(t, os.MkdirAll(filepath.Join(dir, "typo"), 0o755))
			bad := strings.NewReplacer("id: titles", "id: typo", "column: jobtitle", "column: jobtitel").Replace(model)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "typo", "v1.yaml"), []byte(bad), 0o644))
			_, errOut, code := x.exec("score", "run")
			require.Equal(t, exitConfig, code, errOut)
			require.Contains(t, errOut, filepath.Join(dir, "typo", "v1.yaml")+`:12: rules[0].column: "jobtitel" is not a lead column (did you mean jobtitle?)`)
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line")
		})
	}
}
