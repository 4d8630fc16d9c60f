package scoring_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

func builtin(tb testing.TB) *scoring.Set {
	tb.Helper()
	s, err := scoring.Load(ampelsql.Scoring, "", nil)
	require.NoError(tb, err)
	return s
}

// userModels writes a user's model directory and loads it beside the
// built-in models: half combines the demo model at weight 0.5; custom
// reads a custom column the simulator does not have.
func userModels(tb testing.TB) *scoring.Set {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"half/v1.yaml": `id: half
version: 1
title: Half the demo
description: the demo model at weight 0.5
owner: tests
source: tests
grades:
  - {name: hot, min: 20}
  - {name: cold, max: 20}
combine:
  - {model: demo@v1, weight: 0.5}
`,
		"custom/v1.yaml": `id: custom
version: 1
title: Custom
description: reads a custom column
owner: tests
source: tests
grades:
  - {name: hot, min: 10}
  - {name: cold, max: 10}
rules:
  - name: rated
    column: new_rating
    range: {min: 3}
    points: 10
`,
	}
	for name, text := range files {
		require.NoError(tb, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(tb, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	s, err := scoring.Load(ampelsql.Scoring, dir, os.DirFS(dir))
	require.NoError(tb, err)
	return s
}

// compareHalf checks the combined model half against the truth: half the
// demo score, the demo's rules prefixed with demo. at half their points,
// and half's own grades.
func compareHalf(t *testing.T, st warehouse.Store, run string, truth dvsim.Truth) {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT toString(leadid), score, grade, rules, points FROM lead_scores WHERE run_id = ? AND model = 'half'", run)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, grade string
		var score float64
		var rules []string
		var points any
		require.NoError(t, rows.Scan(&id, &score, &grade, &rules, &points))
		want := truth.Scoring.Leads[id]
		require.True(t, near(score, 0.5*want.Score), "half of %s: %v, truth %v", id, score, 0.5*want.Score)
		wantGrade := "cold"
		if 0.5*want.Score >= 20 {
			wantGrade = "hot"
		}
		require.Equal(t, wantGrade, grade, id)
		require.Len(t, rules, len(want.Rules), id)
		for i, r := range want.Rules {
			require.Equal(t, "demo."+r, rules[i], id)
			require.True(t, near(points.([]any)[i].(float64), 0.5*want.Points[i]), id)
		}
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(truth.Scoring.Leads), n)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// compareScores checks every lead's score of run against the simulator's
// truth for the demo model: the same leads, score to 1e-9, grade and
// stage exactly, the same rules with their points.
func compareScores(t *testing.T, stage string, st warehouse.Store, run string, truth dvsim.Truth) {
	t.Helper()
	compareEnvScores(t, stage, st, run, kpistest.Env, truth)
}

// compareEnvScores compares the demo model's scores of one environment
// in a run with the truth.
func compareEnvScores(t *testing.T, stage string, st warehouse.Store, run, environment string, truth dvsim.Truth) {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT toString(leadid), environment, score, grade, stage, rules, points FROM lead_scores "+
		"WHERE run_id = ? AND model = 'demo' AND version = 1 AND environment = ?", run, environment)
	require.NoError(t, err)
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id, env, grade, stg string
		var score float64
		var rules []string
		var raw any
		require.NoError(t, rows.Scan(&id, &env, &score, &grade, &stg, &rules, &raw))
		points := make([]float64, len(raw.([]any)))
		for i, p := range raw.([]any) {
			points[i] = p.(float64)
		}
		want, ok := truth.Scoring.Leads[id]
		require.True(t, ok, "%s: lead %s is scored but not in the truth", stage, id)
		msg := fmt.Sprintf("%s: lead %s", stage, id)
		require.Equal(t, environment, env, msg)
		require.True(t, near(score, want.Score), "%s: score %v, truth %v (%v %v / %v %v)", msg, score, want.Score, rules, points, want.Rules, want.Points)
		require.Equal(t, want.Grade, grade, msg)
		require.Equal(t, want.Stage, stg, msg)
		require.Equal(t, want.Rules, nonNil(rules), msg)
		require.Len(t, points, len(want.Points), msg)
		for i := range points {
			require.True(t, near(points[i], want.Points[i]), "%s: %s points %v, truth %v", msg, rules[i], points[i], want.Points[i])
		}
		seen++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, len(truth.Scoring.Leads), seen, "%s: leads scored", stage)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// compareBacktest checks the run's backtest of the demo model against the
// truth: per grade decided and qualified leads, and the AUC counts.
func compareBacktest(t *testing.T, stage string, rep *scoring.Report, truth dvsim.Truth) {
	t.Helper()
	require.Empty(t, rep.Failed, stage)
	var mr *scoring.ModelReport
	for i := range rep.Models {
		if rep.Models[i].Model.Ref() == "demo@v1" {
			mr = &rep.Models[i]
		}
	}
	require.NotNil(t, mr, "%s: demo@v1 was not scored", stage)
	require.Len(t, mr.Backtests, 1, stage)
	b := mr.Backtests[0]
	want := truth.Scoring.Backtest
	require.Equal(t, want.WindowStart, b.WindowStart.Format(time.RFC3339), stage)
	require.Equal(t, want.WindowEnd, b.AsOf.Format(time.RFC3339), stage)
	require.Len(t, b.Grades, len(want.Grades), stage)
	for i, g := range want.Grades {
		require.Equal(t, g.Grade, b.Grades[i].Grade, stage)
		require.Equal(t, uint64(g.Decided), b.Grades[i].Decided, "%s: grade %s decided", stage, g.Grade)
		require.Equal(t, uint64(g.Qualified), b.Grades[i].Qualified, "%s: grade %s qualified", stage, g.Grade)
	}
	require.Equal(t, uint64(want.Positives), b.Positives, stage)
	require.Equal(t, uint64(want.Negatives), b.Negatives, stage)
	require.Equal(t, want.Concordant, b.Concordant, "%s: concordant pairs", stage)
	auc, ok := b.AUC()
	require.Equal(t, want.AUC != nil, ok, stage)
	if ok {
		require.True(t, near(auc, *want.AUC), "%s: AUC %v, truth %v", stage, auc, *want.AUC)
	}
	lift, ok := b.Lift()
	require.Equal(t, want.Lift != nil, ok, stage)
	if ok {
		require.True(t, near(lift, *want.Lift), "%s: lift %v, truth %v", stage, lift, *want.Lift)
	}
	require.Equal(t, uint64(len(truth.Scoring.Leads)), mr.Leads, stage)
	fired, qualified := map[string]uint64{}, map[string]uint64{}
	for _, d := range want.Leads {
		for _, r := range d.Rules {
			fired[r]++
			if d.Qualified {
				qualified[r]++
			}
		}
	}
	require.Len(t, b.Rules, len(mr.Model.TermNames()), stage)
	for _, r := range b.Rules {
		require.Equal(t, fired[r.Rule], r.Fired, "%s: rule %s fired", stage, r.Rule)
		require.Equal(t, qualified[r.Rule], r.Qualified, "%s: rule %s qualified", stage, r.Rule)
	}
	require.NotZero(t, fired["trade_show"], "%s: trade_show fires in the window", stage)
}

// explain checks Explain on a decided lead (by its email address) and an
// open one (by its id) against the truth: the current score and its rules,
// the history, and the score at the decision.
func explain(t *testing.T, st warehouse.Store, models *scoring.Set, truth dvsim.Truth) {
	t.Helper()
	ctx := context.Background()
	var decided, open string
	for id, d := range truth.Scoring.Backtest.Leads {
		if d.Qualified && d.Score > 0 && (decided == "" || id < decided) {
			decided = id
		}
	}
	for id := range truth.Scoring.Leads {
		if _, closed := truth.Scoring.Backtest.Leads[id]; !closed && (open == "" || id < open) {
			open = id
		}
	}
	require.NotEmpty(t, decided)
	var email string
	rows, err := st.Query(ctx, "SELECT ifNull(emailaddress1, '') FROM lead WHERE leadid = toUUID(?)", decided)
	require.NoError(t, err)
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&email))
	rows.Close()

	for _, lead := range []string{decided, open} {
		ref := lead
		if lead == decided && strings.Contains(email, "@") {
			ref = strings.ToUpper(email) // found by email address, whatever its case
		}
		e, err := scoring.Explain(ctx, st, models, ref)
		require.NoError(t, err)
		require.Equal(t, lead, e.LeadID)
		require.Equal(t, kpistest.Env, e.Environment)
		var cur *scoring.Scored
		for i := range e.Current {
			if e.Current[i].Model == "demo@v1" {
				cur = &e.Current[i]
			}
		}
		require.NotNil(t, cur, lead)
		want := truth.Scoring.Leads[lead]
		require.True(t, near(cur.Score, want.Score), lead)
		require.Equal(t, want.Rules, nonNil(cur.Rules), lead)
		require.NotEmpty(t, e.History, lead)
		if lead == open {
			require.Equal(t, 0, e.State)
			require.Empty(t, e.AtDecision)
			continue
		}
		d := truth.Scoring.Backtest.Leads[lead]
		require.Equal(t, 1, e.State)
		var at *scoring.Scored
		for i := range e.AtDecision {
			if e.AtDecision[i].Model == "demo@v1" {
				at = &e.AtDecision[i]
			}
		}
		require.NotNil(t, at, lead)
		require.Equal(t, d.DecidedAt, at.DecidedAt.Format(time.RFC3339), lead)
		require.True(t, near(at.Score, d.Score), "%s: score at the decision %v, truth %v", lead, at.Score, d.Score)
		require.Equal(t, d.Grade, at.Grade, lead)
	}
	_, err = scoring.Explain(ctx, st, models, "nobody@example.org")
	require.ErrorContains(t, err, "no lead has the email address nobody@example.org")
	_, err = scoring.Explain(ctx, st, models, "00000000-0000-0000-0000-00000000abcd")
	require.ErrorContains(t, err, "no lead 00000000-0000-0000-0000-00000000abcd in the warehouse")
}

// TestScoresMatchTruth syncs a simulator into each engine, scores its
// leads with the demo model and compares every lead's score and the
// backtest with the simulator's truth; then again after a mutation and a
// delta sync. The current-score view shows the second run only.
func TestScoresMatchTruth(t *testing.T) {
	ctx := context.Background()
	models := userModels(t)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 12, Scale: 600})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := kpistest.Client(t, sim)
			kpistest.Sync(t, st, client, "s1")
			truth := sim.Truth()
			asOf, err := time.Parse(time.RFC3339, truth.Now)
			require.NoError(t, err)
			rep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"demo@v1", "custom", "half"}, AsOf: asOf, RunID: "r1"})
			require.NoError(t, err)
			// a model that cannot run fails alone, naming file, line and key
			require.Len(t, rep.Failed, 1)
			require.Equal(t, "custom@v1", rep.Failed[0].Ref)
			require.ErrorContains(t, rep.Failed[0].Err, "custom/v1.yaml:12: rules[0].column: new_rating is not a column of the view lead")
			rep.Failed = nil
			rows, err := st.Query(ctx, "SELECT status, error FROM score_runs WHERE model = 'custom'")
			require.NoError(t, err)
			require.True(t, rows.Next())
			var status, msg string
			require.NoError(t, rows.Scan(&status, &msg))
			rows.Close()
			require.Equal(t, "failed", status)
			require.Contains(t, msg, "new_rating is not a column of the view lead")
			compareScores(t, "first load", st, "r1", truth)
			compareBacktest(t, "first load", rep, truth)
			compareHalf(t, st, "r1", truth)

			explain(t, st, models, truth)

			sim.Mutate(60, 120, 30)
			kpistest.Sync(t, st, client, "s2")
			truth = sim.Truth()
			rep, err = scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"demo@v1"}, AsOf: asOf, RunID: "r2"})
			require.NoError(t, err)
			compareScores(t, "after mutate", st, "r2", truth)
			compareBacktest(t, "after mutate", rep, truth)

			// a lead deleted in the source is explained from the scores kept
			var gone string
			rows, err = st.Query(ctx, "SELECT toString(leadid) FROM lead_scores WHERE run_id = 'r1' AND model = 'demo' AND leadid NOT IN (SELECT leadid FROM lead) ORDER BY leadid LIMIT 1")
			require.NoError(t, err)
			for rows.Next() {
				require.NoError(t, rows.Scan(&gone))
			}
			require.NoError(t, rows.Err())
			rows.Close()
			require.NotEmpty(t, gone, "the mutate deleted a scored lead")
			_, inTruth := truth.Scoring.Leads[gone]
			require.False(t, inTruth, "%s is deleted in the source", gone)
			e, err := scoring.Explain(ctx, st, models, gone)
			require.NoError(t, err)
			require.True(t, e.Gone, gone)
			require.NotEmpty(t, e.History, gone)
			for _, cur := range e.Current {
				require.NotEqual(t, "demo@v1", cur.Model, "%s is not in demo's second run", gone)
			}

			// history is kept; the current-score view shows the latest run
			rows, err = st.Query(ctx, "SELECT uniqExact(run_id), countIf(run_id = 'r2') FROM lead_scores WHERE model = 'demo'")
			require.NoError(t, err)
			require.True(t, rows.Next())
			var runs, second uint64
			require.NoError(t, rows.Scan(&runs, &second))
			rows.Close()
			require.Equal(t, uint64(2), runs)
			rows, err = st.Query(ctx, "SELECT count(), uniqExact(run_id), any(run_id) FROM lead_score WHERE model = 'demo'")
			require.NoError(t, err)
			require.True(t, rows.Next())
			var n, nruns uint64
			var run string
			require.NoError(t, rows.Scan(&n, &nruns, &run))
			rows.Close()
			require.Equal(t, second, n)
			require.Equal(t, uint64(1), nruns)
			require.Equal(t, "r2", run)
		})
	}
}

// TestScoresPerEnvironment syncs one simulator into two environments,
// the second after a mutate, so that the same leads have other fields
// and activities there: each environment's scores match its own truth
// (leads and activities are joined per environment).
func TestScoresPerEnvironment(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			sim, err := dvsim.Start(dvsim.Options{Seed: 13, Scale: 400})
			require.NoError(t, err)
			t.Cleanup(func() { sim.Close() })
			client := kpistest.Client(t, sim)
			kpistest.Sync(t, st, client, "s1")
			first := sim.Truth()
			sim.Mutate(40, 150, 20)
			var tables []connector.Table
			for _, n := range config.DefaultTables {
				tables = append(tables, connector.Table{Name: n})
			}
			_, err = connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "other", Tables: tables, RunID: "s2"})
			require.NoError(t, err)
			second := sim.Truth()
			differ := 0
			for id, want := range second.Scoring.Leads {
				if was, ok := first.Scoring.Leads[id]; ok && !near(was.Score, want.Score) {
					differ++
				}
			}
			require.Positive(t, differ, "the mutate changes the score of some lead in both environments")
			asOf, err := time.Parse(time.RFC3339, first.Now)
			require.NoError(t, err)
			require.Equal(t, first.Now, second.Now, "the simulator's clock")
			rep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: builtin(t), Refs: []string{"demo@v1"}, AsOf: asOf, RunID: "r1"})
			require.NoError(t, err)
			require.Empty(t, rep.Failed)
			compareEnvScores(t, "environment "+kpistest.Env, st, "r1", kpistest.Env, first)
			compareEnvScores(t, "environment other", st, "r1", "other", second)
		})
	}
}

// TestMigrationRunsTwice runs every statement of 0006_scoring.sql again
// on a migrated database of each engine: each is safe to run twice.
func TestMigrationRunsTwice(t *testing.T) {
	ctx := context.Background()
	all, err := migrate.Load(ampelsql.Schema)
	require.NoError(t, err)
	i := slices.IndexFunc(all, func(m migrate.Migration) bool { return m.Name == "0006_scoring.sql" })
	require.GreaterOrEqual(t, i, 0)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			script, err := ampelsql.RenderText(all[i].Name, all[i].Body, map[string]any{"Dialect": st.Dialect().TemplateData()})
			require.NoError(t, err)
			stmts := warehouse.SplitStatements(script)
			require.Len(t, stmts, 6)
			for _, s := range stmts {
				require.NoError(t, st.Exec(ctx, s))
			}
		})
	}
}
