package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/warehouse"
)

// Mark is a data steward's verdict on a duplicate group or pair.
type Mark string

// Marks a steward can set.
const (
	// MarkReviewed: looked at, nothing to say.
	MarkReviewed Mark = "reviewed"
	// MarkNotDuplicate: the records are different; no two of them are grouped again.
	MarkNotDuplicate Mark = "not_a_duplicate"
	// MarkWillFix: real duplicates, someone will merge them in Dynamics.
	MarkWillFix Mark = "will_fix"
)

// ParseMark reads a mark as a steward writes it: reviewed, not-duplicate (or
// not_a_duplicate), will-fix (or will_fix).
func ParseMark(s string) (Mark, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_") {
	case "reviewed":
		return MarkReviewed, nil
	case "not_duplicate", "not_a_duplicate":
		return MarkNotDuplicate, nil
	case "will_fix":
		return MarkWillFix, nil
	}
	return "", fmt.Errorf("mark %q: use reviewed, not-duplicate or will-fix", s)
}

// Review is one mark, as kept in the dq_reviews table (sql/schema/0005_audit.sql). The
// latest mark per target counts, so a later mark undoes an earlier one.
type Review struct {
	Environment, Table string
	// Group is the group's id; Finding a finding's id; both empty for a review of a pair.
	Group, Finding string
	// Members are the records the mark covers: the group's members, the two of a pair, or
	// the finding's record.
	Members  []string
	Mark     Mark
	Comment  string
	Reviewer string
	// At is when; zero means now.
	At time.Time
}

// ReviewOf returns a review of group g.
func ReviewOf(g *Group, mark Mark, comment, reviewer string) Review {
	return Review{Environment: g.Environment, Table: g.Table, Group: g.ID, Members: g.IDs(), Mark: mark, Comment: comment, Reviewer: reviewer}
}

// target returns the review's kind and id.
func (r Review) target() (kind, id string) {
	if r.Finding != "" {
		return "finding", r.Finding
	}
	if r.Group != "" {
		return "group", r.Group
	}
	m := slices.Clone(r.Members)
	slices.Sort(m)
	return "pair", "pair:" + strings.Join(m, "|")
}

func (r Review) validate() error {
	switch r.Mark {
	case MarkReviewed, MarkNotDuplicate, MarkWillFix:
	default:
		return fmt.Errorf("review mark %q: use %s, %s or %s", r.Mark, MarkReviewed, MarkNotDuplicate, MarkWillFix)
	}
	if strings.TrimSpace(r.Reviewer) == "" {
		return fmt.Errorf("review: say who reviews")
	}
	if r.Environment == "" || r.Table == "" {
		return fmt.Errorf("review: environment and table are required")
	}
	switch {
	case r.Finding != "" && (r.Group != "" || len(r.Members) != 1):
		return fmt.Errorf("review of finding %s: it covers its one record", r.Finding)
	case r.Finding != "" && r.Mark == MarkNotDuplicate:
		return fmt.Errorf("review of finding %s: mark the pairs or the group not a duplicate, not the finding", r.Finding)
	case r.Finding == "" && r.Group == "" && len(r.Members) != 2:
		return fmt.Errorf("review: name a group, or the two records of a pair (got %d)", len(r.Members))
	case r.Finding == "" && len(r.Members) < 2:
		return fmt.Errorf("review of group %s: it names no members", r.Group)
	}
	for _, id := range r.Members {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("review: record id %q is no GUID", id)
		}
	}
	return nil
}

// RecordReview stores a mark in dq_reviews.
func RecordReview(ctx context.Context, st warehouse.Store, r Review) error {
	if err := r.validate(); err != nil {
		return err
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	kind, id := r.target()
	b, err := st.PrepareInsert(ctx, "dq_reviews", []string{"reviewed_at", "environment", "table_name", "target_kind", "target_id",
		"members", "mark", "comment", "reviewer", "reviewed_ns"})
	if err != nil {
		return fmt.Errorf("record review: %w", err)
	}
	if err := b.Append(r.At.UTC().Truncate(time.Second), r.Environment, r.Table, kind, id, r.Members, string(r.Mark), r.Comment, r.Reviewer,
		uint64(r.At.UnixNano())); err != nil {
		_ = b.Abort()
		return fmt.Errorf("record review: %w", err)
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("record review: %w", err)
	}
	return nil
}

// cannotLink holds, per record, the records it must not be grouped with.
type cannotLink map[int32][]int32

func (c cannotLink) has(a, b int32) bool { return slices.Contains(c[a], b) }

// across reports whether some record of A must not be grouped with some record of B.
func (c cannotLink) across(A, B []int32) bool {
	if len(c) == 0 {
		return false
	}
	for _, x := range A {
		for _, y := range c[x] {
			if slices.Contains(B, y) {
				return true
			}
		}
	}
	return false
}

// readCannotLinks reads the table's latest marks and returns the pairs of records marked
// not a duplicate (every pair of a group so marked), as record numbers of d.
func readCannotLinks(ctx context.Context, st warehouse.Store, d *dataset) (cannotLink, error) {
	rows, err := st.Query(ctx, `SELECT environment, argMax(mark, `+markOrder+`), argMax(members, `+markOrder+`)
		FROM dq_reviews WHERE table_name = ? GROUP BY environment, target_id`, d.table)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
			return nil, fmt.Errorf("read reviews: the warehouse has no dq_reviews table; run ampel migrate: %w", err)
		}
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	defer rows.Close()
	type marked struct {
		env     string
		members []string
	}
	var sets []marked
	want := map[uuid.UUID]bool{}
	for rows.Next() {
		v := rows.Values()
		if v[1].(string) != string(MarkNotDuplicate) {
			continue
		}
		ms, _ := v[2].([]string)
		for _, x := range ms {
			if id, err := uuid.Parse(x); err == nil {
				want[id] = true
			}
		}
		sets = append(sets, marked{v[0].(string), ms})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read reviews: %w", err)
	}
	if len(sets) == 0 {
		return nil, nil
	}
	rec := map[string]int32{} // env|id → record
	for r, id := range d.ids {
		if want[id] {
			rec[d.envs[d.env[r]]+"|"+id.String()] = int32(r)
		}
	}
	c := cannotLink{}
	for _, s := range sets {
		var rs []int32
		for _, id := range s.members {
			if r, ok := rec[s.env+"|"+id]; ok {
				rs = append(rs, r)
			}
		}
		for i, a := range rs {
			for _, b := range rs[i+1:] {
				if !c.has(a, b) {
					c[a] = append(c[a], b)
					c[b] = append(c[b], a)
				}
			}
		}
	}
	return c, nil
}
