package audit_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// currentMark reads a finding's mark from dq_findings_current.
func currentMark(t *testing.T, st warehouse.Store, id string) string {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT review_mark FROM dq_findings_current WHERE finding_id = ?", id)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "finding %s is in dq_findings", id)
	var m string
	require.NoError(t, rows.Scan(&m))
	return m
}

func byID(rep *audit.Report, id string) *audit.Finding {
	for _, f := range rep.Findings {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// density runs the duplicate_density KPI as of the audit's moment and returns the excess
// records (its numerator) of a table's rule.
func density(t *testing.T, st warehouse.Store, asOf time.Time, table, rule string) int {
	t.Helper()
	kc, err := kpis.LoadCatalog(ampelsql.KPIs, "", nil)
	require.NoError(t, err)
	rep, err := kpis.Run(context.Background(), kpis.Options{Store: st, Catalog: kc, AsOf: asOf, Refs: []string{"duplicate_density"}})
	require.NoError(t, err)
	for _, r := range rep.Results {
		if r.Dim("table") == table && r.Dim("rule") == rule {
			return int(*r.Numerator)
		}
	}
	t.Fatalf("duplicate_density has no result for %s %s", table, rule)
	return 0
}

// TestFindingMarks: a steward's marks on findings and groups, on both engines. A will-fix
// mark shows in dq_findings at once and stays on the finding in later runs; a group marked
// not a duplicate is not grouped again — its findings are resolved, and the excess records
// of the duplicate_density KPI drop by the group's size less one; a
// finding marked not a duplicate takes its record out of its group; a group's mark carries
// over to the group that supersedes it when a new member joins, on every finding of it.
func TestFindingMarks(t *testing.T) {
	ctx := context.Background()
	sim, err := dvsim.Start(dvsim.Options{Seed: 23, Scale: 1200})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	cat := loadRules(t)
	rules := []string{"fuzzy_lead", "lead_same_email", "invalid_email"}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			client := simClient(t, sim)
			syncTables(t, st, client, "lead", "activitypointer")
			rep := runAudit(t, st, sim, cat, rules...)
			before := density(t, st, rep.AsOf, "lead", "fuzzy_lead")

			var bad *audit.Finding
			groups := map[string][]*audit.Finding{}
			for _, f := range rep.Findings {
				switch {
				case f.RuleID == "invalid_email" && bad == nil:
					bad = f
				case f.RuleID == "fuzzy_lead":
					groups[f.Group] = append(groups[f.Group], f)
				}
			}
			require.NotNil(t, bad)
			m, err := audit.MarkFinding(ctx, st, bad.ID, audit.MarkWillFix, "typo in the domain", "steward@example.org", time.Time{})
			require.NoError(t, err)
			require.Equal(t, "finding", m.Kind)
			require.Equal(t, 1, m.Findings)
			require.Equal(t, string(audit.MarkWillFix), currentMark(t, st, bad.ID), "the mark shows at once")

			// the largest fuzzy group is marked not a duplicate as a group; one member of a pair
			// as a finding. Both are chosen in the order of the group ids: several groups
			// share the largest size, and picking one in map order marked, in some runs, the
			// group the new member below joins
			var g1, g2 string
			ids := slices.Sorted(maps.Keys(groups))
			for _, id := range ids {
				if g1 == "" || len(groups[id]) > len(groups[g1]) {
					g1 = id
				}
			}
			for _, id := range ids {
				if id != g1 && len(groups[id]) == 2 {
					g2 = id
					break
				}
			}
			require.NotEmpty(t, g2)
			require.Greater(t, len(groups[g1]), 2)
			m, err = audit.MarkFinding(ctx, st, g1, audit.MarkNotDuplicate, "a family", "steward@example.org", time.Time{})
			require.NoError(t, err)
			require.Equal(t, "group", m.Kind)
			require.Len(t, m.Records, len(groups[g1]))
			loner := groups[g2][0]
			_, err = audit.MarkFinding(ctx, st, loner.ID, audit.MarkNotDuplicate, "another person", "steward@example.org", time.Time{})
			require.NoError(t, err)
			_, err = audit.MarkFinding(ctx, st, bad.ID, audit.MarkNotDuplicate, "", "steward@example.org", time.Time{})
			require.ErrorContains(t, err, "not of a duplicate group")
			_, err = audit.MarkFinding(ctx, st, "f0000", audit.MarkReviewed, "", "steward@example.org", time.Time{})
			require.ErrorContains(t, err, "no finding or group f0000")

			next := runAudit(t, st, sim, cat, rules...)
			f := byID(next, bad.ID)
			require.NotNil(t, f)
			require.NotNil(t, f.Review, "the mark survives the run")
			require.Equal(t, audit.MarkWillFix, f.Review.Mark)
			require.Equal(t, "steward@example.org", f.Review.Reviewer)
			require.Equal(t, string(audit.MarkWillFix), currentMark(t, st, bad.ID))
			for _, x := range groups[g1] {
				require.Equal(t, audit.StatusResolved, byID(next, x.ID).Status, "a group marked not a duplicate is gone")
			}
			for _, x := range next.Findings {
				if x.Status == audit.StatusOpen && x.RuleID == "fuzzy_lead" {
					require.NotEqual(t, loner.RecordID, x.RecordID, "the record marked not a duplicate is in no group")
				}
			}
			// the group marked not a duplicate had size-1 excess records, the loner's pair one
			lost := len(groups[g1]) - 1 + 1
			require.Equal(t, before-lost, density(t, st, next.AsOf, "lead", "fuzzy_lead"),
				"the duplicate density's excess records drop by what the marks took apart")
			for _, r := range next.Rules {
				if r.Def.ID == "invalid_email" {
					require.Equal(t, 1, r.Marked)
				}
			}

			// mark every open lead group reviewed; a new member joins a planted group (Mutate
			// adds one with ten creates or more): the bigger group supersedes the old one and
			// carries its mark
			marked := map[string]bool{}
			for _, x := range next.Findings {
				if x.Status == audit.StatusOpen && x.RuleID == "fuzzy_lead" && !marked[x.Group] {
					marked[x.Group] = true
					_, err := audit.MarkFinding(ctx, st, x.Group, audit.MarkReviewed, "checked", "lead@example.org", time.Time{})
					require.NoError(t, err)
				}
			}
			created := sim.Mutate(20, 0, 0).Created["lead"]
			syncTables(t, st, client, "lead", "activitypointer")
			last := runAudit(t, st, sim, cat, rules...)
			superseding := 0
			for _, x := range last.Findings {
				if x.Status != audit.StatusOpen || x.RuleID != "fuzzy_lead" || x.Supersedes == "" {
					continue
				}
				if marked[x.Group] {
					// unchanged since it was marked: it still names the group it
					// superseded in an earlier run (the marks above split some)
					continue
				}
				superseding++
				require.True(t, marked[x.Supersedes], "%s supersedes %s, not an open group marked after the run before", x.Group, x.Supersedes)
				require.NotNil(t, x.Review, "the superseding group carries the mark")
				require.Equal(t, audit.MarkReviewed, x.Review.Mark)
			}
			require.Positive(t, superseding, "a group gained a member")
			grown(t, sim.Truth(), created, next, last, marked)
		})
	}
}

// grown checks, from the simulator's truth, the planted lead group that Mutate gave a new
// member: its records were in an open group marked reviewed after the run before (so the
// choice of the groups marked not a duplicate left it alone), and the group the new member
// is found in now supersedes that group and carries its mark.
func grown(t *testing.T, tr dvsim.Truth, created []string, next, last *audit.Report, marked map[string]bool) {
	t.Helper()
	groupOf := func(rep *audit.Report, record string) string {
		if f := byRecord(rep, "fuzzy_lead", record); f != nil {
			return f.Group
		}
		return ""
	}
	var newcomer string
	before := map[string]string{} // record → its group in next
	for _, g := range tr.Duplicates["lead"] {
		for _, id := range g.IDs {
			if slices.Contains(created, id) {
				newcomer = id
			}
		}
		if newcomer != "" {
			for _, id := range g.IDs {
				if p := groupOf(next, id); p != "" {
					before[id] = p
				}
			}
			break
		}
	}
	require.NotEmpty(t, newcomer, "a planted lead group gained a member")
	require.NotEmpty(t, before, "the planted group the new member joins was found before")
	now := groupOf(last, newcomer)
	require.NotEmpty(t, now, "the audit groups the new member")
	for id, p := range before {
		require.True(t, marked[p], "the group %s the new member joins was open and marked reviewed", p)
		f := byRecord(last, "fuzzy_lead", id)
		require.NotNil(t, f)
		require.Equal(t, now, f.Group, "record %s is in the new member's group", id)
		require.Equal(t, p, f.Supersedes, "the grown group supersedes the marked group")
		require.NotNil(t, f.Review, "the grown group carries the mark")
		require.Equal(t, audit.MarkReviewed, f.Review.Mark)
	}
	f := byRecord(last, "fuzzy_lead", newcomer)
	require.Equal(t, "", f.Supersedes, "the new member was in no group")
	require.NotNil(t, f.Review, "the new member's finding carries the group's mark")
	require.Equal(t, audit.MarkReviewed, f.Review.Mark)
}

// byRecord returns the open finding of a rule on a record.
func byRecord(rep *audit.Report, rule, record string) *audit.Finding {
	for _, f := range rep.Findings {
		if f.Status == audit.StatusOpen && f.RuleID == rule && f.RecordID == record {
			return f
		}
	}
	return nil
}
