package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// storedReview is the latest mark on one target.
type storedReview struct {
	env, table, kind, target string
	members                  []string
	mark                     ReviewMark
}

// markOrder orders the marks of one target in dq_reviews, the latest last:
// by reviewed_at, then within its second by reviewed_ns (0 in marks stored
// before sql/schema/0016_review_order.sql), so that two marks of one second
// do not leave the choice to the order rows are read in.
const markOrder = "toUInt64(reviewed_at) * 1000000000 + reviewed_ns % 1000000000"

// readReviews reads the latest mark of every target in dq_reviews.
func readReviews(ctx context.Context, st warehouse.Store) ([]storedReview, error) {
	rows, err := st.Query(ctx, `SELECT environment, table_name, target_kind, target_id, argMax(members, `+markOrder+`),
			argMax(mark, `+markOrder+`), argMax(comment, `+markOrder+`), argMax(reviewer, `+markOrder+`), max(reviewed_at)
		FROM dq_reviews GROUP BY environment, table_name, target_kind, target_id`)
	if err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	defer rows.Close()
	var out []storedReview
	for rows.Next() {
		var r storedReview
		var mark string
		if err := rows.Scan(&r.env, &r.table, &r.kind, &r.target, &r.members, &mark, &r.mark.Comment, &r.mark.Reviewer, &r.mark.At); err != nil {
			return nil, fmt.Errorf("read reviews: %w", err)
		}
		r.mark.Mark = Mark(mark)
		out = append(out, r)
	}
	return out, rows.Err()
}

// applyReviews sets the Review of each finding (of one rule): the latest of the marks on
// the finding, on its group, and on any group whose members are all in its group — a group
// it supersedes with the records that mark covered unchanged. Such a mark is its group's:
// every finding of the group carries it, a new member's too. Marks of the same second go
// to the finding's own, then its group's, then the superseded group with the lowest id.
func (r *run) applyReviews(fs []*Finding) {
	reviews := r.reviews
	if len(reviews) == 0 {
		return
	}
	byTarget := map[string]*storedReview{}
	groupsByRecord := map[string][]*storedReview{} // env|table|record → group reviews covering it
	for i := range reviews {
		rv := &reviews[i]
		byTarget[rv.kind+"|"+rv.target] = rv
		if rv.kind == "group" {
			for _, m := range rv.members {
				k := rv.env + "|" + rv.table + "|" + m
				groupsByRecord[k] = append(groupsByRecord[k], rv)
			}
		}
	}
	members := map[string][]string{} // group id → its records (this run)
	where := map[string]string{}     // group id → env|table|
	for _, f := range fs {
		if f.Group != "" {
			members[f.Group] = append(members[f.Group], f.RecordID)
			where[f.Group] = f.Environment + "|" + f.Table + "|"
		}
	}
	// carried: per group of this run, the latest mark on a group it supersedes
	carried := map[string]*storedReview{}
	for g, recs := range members {
		var best *storedReview
		for _, rec := range recs {
			for _, rv := range groupsByRecord[where[g]+rec] {
				if rv.target == g || !subset(rv.members, recs) {
					continue
				}
				if best == nil || rv.mark.At.After(best.mark.At) || rv.mark.At.Equal(best.mark.At) && rv.target < best.target {
					best = rv
				}
			}
		}
		if best != nil {
			carried[g] = best
		}
	}
	for _, f := range fs {
		var best *ReviewMark
		take := func(r *storedReview) {
			if r != nil && (best == nil || r.mark.At.After(best.At)) {
				m := r.mark
				best = &m
			}
		}
		take(byTarget["finding|"+f.ID])
		if f.Group != "" {
			take(byTarget["group|"+f.Group])
			take(carried[f.Group])
		}
		f.Review = best
	}
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Marked says what MarkFinding marked.
type Marked struct {
	// Kind is finding or group; ID the finding's or group's id.
	Kind, ID           string
	Environment, Table string
	// Records are the records the mark covers; Findings the open findings that carry it now.
	Records  []string
	Findings int
}

// MarkFinding records a steward's mark on a finding or a duplicate group, named by its id
// (a finding_id or group_id of dq_findings), in dq_reviews, and writes the open findings it
// covers anew to dq_findings with the mark, so the warehouse shows it before the next run.
// A group marked not a duplicate is never grouped again (see Duplicates); a finding of a
// duplicate group marked not a duplicate says its record is none of the others: a pair
// mark for each other member. Other findings take reviewed and will fix only.
func MarkFinding(ctx context.Context, st warehouse.Store, id string, mark Mark, comment, reviewer string, at time.Time) (*Marked, error) {
	if at.IsZero() {
		at = time.Now()
	}
	exact := at // RecordReview keeps its nanoseconds to order marks of one second
	at = at.UTC().Truncate(time.Second)
	rows, err := st.Query(ctx, "SELECT "+joinColumns()+" FROM dq_findings_current WHERE finding_id = ? OR group_id = ?", id, id)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
			return nil, fmt.Errorf("mark %s: %w: %w", id, ErrNotMigrated, err)
		}
		return nil, fmt.Errorf("mark %s: %w", id, err)
	}
	var found []*Finding
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("mark %s: %w", id, err)
		}
		found = append(found, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mark %s: %w", id, err)
	}
	var self *Finding
	for _, f := range found {
		if f.ID == id {
			self = f
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no finding or group %s in dq_findings: ampel audit lists their ids", id)
	}
	m := &Marked{Kind: "group", ID: id, Environment: found[0].Environment, Table: found[0].Table}
	var reviews []Review
	var covered []*Finding
	if self != nil {
		m.Kind = "finding"
		m.Records = []string{self.RecordID}
		if mark == MarkNotDuplicate {
			if self.Group == "" {
				return nil, fmt.Errorf("finding %s is not of a duplicate group: mark it reviewed or will-fix", id)
			}
			others, err := groupRecords(ctx, st, self.Group, self.RecordID)
			if err != nil {
				return nil, err
			}
			// the record is none of the others: a pair mark each keeps them apart
			for _, o := range others {
				reviews = append(reviews, Review{Environment: self.Environment, Table: self.Table, Members: []string{self.RecordID, o},
					Mark: mark, Comment: comment, Reviewer: reviewer, At: exact})
			}
		} else {
			reviews = append(reviews, Review{Environment: self.Environment, Table: self.Table, Finding: id, Members: m.Records,
				Mark: mark, Comment: comment, Reviewer: reviewer, At: exact})
		}
		if self.Status == StatusOpen {
			covered = []*Finding{self}
		}
	} else {
		for _, f := range found {
			if f.Status == StatusOpen {
				covered = append(covered, f)
				if !slices.Contains(m.Records, f.RecordID) {
					m.Records = append(m.Records, f.RecordID)
				}
			}
		}
		if len(m.Records) < 2 {
			return nil, fmt.Errorf("group %s is no longer open: ampel audit lists the groups of the last run", id)
		}
		slices.Sort(m.Records)
		reviews = append(reviews, Review{Environment: m.Environment, Table: m.Table, Group: id, Members: m.Records,
			Mark: mark, Comment: comment, Reviewer: reviewer, At: exact})
	}
	for _, r := range reviews {
		if err := RecordReview(ctx, st, r); err != nil {
			return nil, err
		}
	}
	shown := ReviewMark{Mark: mark, Comment: comment, Reviewer: reviewer, At: at}
	for _, f := range covered {
		f.Review = &shown
	}
	m.Findings = len(covered)
	if len(covered) > 0 {
		// the rows keep their run; a higher seq makes them the findings' state
		seq := uint64(time.Now().UnixNano())
		if err := insertRows(ctx, st, "dq_findings", findingColumns, len(covered), func(i int) []any {
			return findingRow(covered[i], covered[i].runID, seq)
		}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func joinColumns() string { return strings.Join(findingColumns, ", ") }

// groupRecords lists the records of a group's open findings, but one.
func groupRecords(ctx context.Context, st warehouse.Store, group, except string) ([]string, error) {
	rows, err := st.Query(ctx, "SELECT DISTINCT record_id FROM dq_findings_current WHERE group_id = ? AND status = 'open' AND record_id != ? ORDER BY record_id", group, except)
	if err != nil {
		return nil, fmt.Errorf("read group %s: %w", group, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read group %s: %w", group, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
