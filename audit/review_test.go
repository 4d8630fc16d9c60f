package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestReviewsKeepPairsApart marks a found group "not a duplicate" on both engines: the next
// run groups none of its records together, under the fuzzy model or the exact rules; a later
// "reviewed" mark on the same group lifts it, also one made in the same second.
func TestReviewsKeepPairsApart(t *testing.T) {
	ctx := context.Background()
	sim, err := dvsim.Start(dvsim.Options{Seed: 15, Scale: 400})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			syncSim(t, st, sim, "sim")
			opts := audit.Options{Tables: []string{"lead"}}
			res, err := audit.Duplicates(ctx, st, opts)
			require.NoError(t, err)
			var g *audit.Group
			for _, x := range res.Table("lead").Fuzzy {
				if g == nil || x.Size() > g.Size() {
					g = x
				}
			}
			require.NotNil(t, g, "no lead group to review")
			marked := map[string]bool{}
			for _, id := range g.IDs() {
				marked[id] = true
			}
			together := func(r *audit.Result) int {
				n := 0
				tr := r.Table("lead")
				for _, x := range append(append([]*audit.Group{}, tr.Fuzzy...), tr.Exact...) {
					k := 0
					for _, id := range x.IDs() {
						if marked[id] {
							k++
						}
					}
					if k > 1 {
						n++
					}
				}
				return n
			}
			require.Positive(t, together(res))

			rv := audit.ReviewOf(g, audit.MarkNotDuplicate, "different people", "steward@example.org")
			rv.At = time.Now().Add(-time.Minute)
			require.NoError(t, audit.RecordReview(ctx, st, rv))
			res, err = audit.Duplicates(ctx, st, opts)
			require.NoError(t, err)
			require.Zero(t, together(res), "marked records grouped again")

			require.NoError(t, audit.RecordReview(ctx, st, audit.ReviewOf(g, audit.MarkReviewed, "they are the same after all", "lead@example.org")))
			res, err = audit.Duplicates(ctx, st, opts)
			require.NoError(t, err)
			require.Positive(t, together(res), "a later mark did not lift the first")

			// two marks in one second: the later one counts, whichever order the rows are read in
			sec := time.Now().Add(time.Minute).Truncate(time.Second)
			for i, marks := range [][2]audit.Mark{{audit.MarkReviewed, audit.MarkNotDuplicate}, {audit.MarkNotDuplicate, audit.MarkReviewed}} {
				at := sec.Add(time.Duration(i) * time.Second)
				first, second := audit.ReviewOf(g, marks[0], "first", "x"), audit.ReviewOf(g, marks[1], "second", "x")
				first.At, second.At = at.Add(100*time.Millisecond), at.Add(600*time.Millisecond)
				require.NoError(t, audit.RecordReview(ctx, st, first))
				require.NoError(t, audit.RecordReview(ctx, st, second))
				res, err = audit.Duplicates(ctx, st, opts)
				require.NoError(t, err)
				if marks[1] == audit.MarkNotDuplicate {
					require.Zero(t, together(res), "%s then %s in one second: the first counted", marks[0], marks[1])
				} else {
					require.Positive(t, together(res), "%s then %s in one second: the first counted", marks[0], marks[1])
				}
			}

			bad := audit.ReviewOf(g, "maybe", "", "x")
			require.ErrorContains(t, audit.RecordReview(ctx, st, bad), "use reviewed, not_a_duplicate or will_fix")
		})
	}
}
