package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// findingColumns are dq_findings' columns in the order writeFindings and readFindings use.
var findingColumns = []string{"finding_id", "seq", "run_id", "environment", "rule_id", "rule_version", "severity", "kind",
	"table_name", "record_id", "field", "field_values", "detail", "group_id", "supersedes", "link", "status", "first_seen",
	"last_seen", "resolved_at", "review_mark", "review_comment", "reviewed_by", "reviewed_at"}

const insertChunk = 50_000

// insertRows writes rows to table in batches.
func insertRows(ctx context.Context, st warehouse.Store, table string, cols []string, n int, row func(i int) []any) error {
	for lo := 0; lo < n; lo += insertChunk {
		b, err := st.PrepareInsert(ctx, table, cols)
		if err != nil {
			if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
				return fmt.Errorf("write %s: %w: %w", table, ErrNotMigrated, err)
			}
			return fmt.Errorf("write %s: %w", table, err)
		}
		for i := lo; i < min(n, lo+insertChunk); i++ {
			if err := b.Append(row(i)...); err != nil {
				_ = b.Abort()
				return fmt.Errorf("write %s: %w", table, err)
			}
		}
		if err := b.Send(ctx); err != nil {
			return fmt.Errorf("write %s: %w", table, err)
		}
	}
	return nil
}

func findingRow(f *Finding, runID string, seq uint64) []any {
	var mark, comment, by string
	var at time.Time
	if f.Review != nil {
		mark, comment, by, at = string(f.Review.Mark), f.Review.Comment, f.Review.Reviewer, f.Review.At
	}
	values := f.valuesJSON
	if values == "" {
		values = ValuesJSON(f.Values)
	}
	return []any{f.ID, seq, runID, f.Environment, f.RuleID, uint64(f.RuleVersion), f.Severity, f.Kind, f.Table, f.RecordID,
		f.Field, values, f.Detail, f.Group, f.Supersedes, f.Link, f.Status, utc(f.FirstSeen), utc(f.LastSeen),
		orNull(f.ResolvedAt), mark, comment, by, orNull(at)}
}

// utc is t in UTC to the second.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// orNull is utc(t), or NULL for the zero time.
func orNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return utc(t)
}

func writeFindings(ctx context.Context, st warehouse.Store, runID string, seq uint64, fs []*Finding) error {
	return insertRows(ctx, st, "dq_findings", findingColumns, len(fs), func(i int) []any { return findingRow(fs[i], runID, seq) })
}

// readFindings reads the latest state of every finding of the rules (any version), open
// or resolved, by id.
func readFindings(ctx context.Context, st warehouse.Store, rules []string) (map[string]*Finding, error) {
	out := map[string]*Finding{}
	if len(rules) == 0 {
		return out, nil
	}
	args := make([]any, len(rules))
	for i, r := range rules {
		args[i] = r
	}
	q := "SELECT " + strings.Join(findingColumns, ", ") + " FROM dq_findings_current WHERE rule_id IN (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(rules)), ", ") + ")"
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
			return nil, fmt.Errorf("read findings: %w: %w", ErrNotMigrated, err)
		}
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("read findings: %w", err)
		}
		out[f.ID] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	return out, nil
}

// scanFinding reads a row of findingColumns.
func scanFinding(rows warehouse.Rows) (*Finding, error) {
	f := &Finding{}
	var seq, version uint64
	var values, mark, comment, by string
	var resolved, at *time.Time
	if err := rows.Scan(&f.ID, &seq, &f.runID, &f.Environment, &f.RuleID, &version, &f.Severity, &f.Kind, &f.Table, &f.RecordID,
		&f.Field, &values, &f.Detail, &f.Group, &f.Supersedes, &f.Link, &f.Status, &f.FirstSeen, &f.LastSeen, &resolved,
		&mark, &comment, &by, &at); err != nil {
		return nil, err
	}
	f.RuleVersion = int(version)
	f.valuesJSON = values // parsed when the finding goes to a report (resolved, marked)
	if resolved != nil {
		f.ResolvedAt = *resolved
	}
	if mark != "" && at != nil {
		f.Review = &ReviewMark{Mark: Mark(mark), Comment: comment, Reviewer: by, At: *at}
	}
	return f, nil
}

// writeRuleRows writes a dq_run_rules row per rule, table and environment.
func (r *run) writeRuleRows(ctx context.Context) error {
	keys := slices.SortedFunc(maps.Keys(r.stats), func(a, b statKey) int {
		return strings.Compare(a.rule+"\x00"+a.table+"\x00"+a.env, b.rule+"\x00"+b.table+"\x00"+b.env)
	})
	at := time.Now().UTC()
	cols := []string{"run_id", "seq", "computed_at", "environment", "rule_id", "version", "checksum", "draft", "kind", "severity",
		"table_name", "checked", "findings", "new_findings", "resolved", "groups", "excess"}
	return insertRows(ctx, r.o.Store, "dq_run_rules", cols, len(keys), func(i int) []any {
		k := keys[i]
		s := r.stats[k]
		d := r.byRuleID[k.rule]
		return []any{r.o.RunID, r.seq, at, k.env, k.rule, uint64(d.Version), d.File.Checksum, b2u(!d.File.Released), d.Kind, d.Severity,
			k.table, uint64(s.checked), uint64(s.findings), uint64(s.new), uint64(s.resolved), uint64(s.groups), uint64(s.excess)}
	})
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func (r *run) writeRun(ctx context.Context, started time.Time) error {
	status, msg := "ok", ""
	if len(r.rep.Failed) > 0 {
		status = "failed"
		var parts []string
		for _, f := range r.rep.Failed {
			parts = append(parts, f.Err.Error())
		}
		msg = strings.Join(parts, "; ")
	}
	var note []string
	for _, s := range r.rep.Skipped {
		note = append(note, s.Ref+" on "+s.Table+": "+s.Reason)
	}
	var open, newF, resolved uint64
	for _, f := range r.rep.Findings {
		switch {
		case f.Status == StatusResolved:
			resolved++
		case f.New:
			open++
			newF++
		default:
			open++
		}
	}
	cols := []string{"run_id", "seq", "started_at", "finished_at", "as_of", "rules", "failed", "skipped", "findings", "new_findings",
		"resolved", "status", "error", "note"}
	return insertRows(ctx, r.o.Store, "dq_runs", cols, 1, func(int) []any {
		return []any{r.o.RunID, r.seq, started, time.Now().UTC(), r.o.AsOf, uint64(len(r.defs)), uint64(len(r.rep.Failed)),
			uint64(len(r.rep.Skipped)), open, newF, resolved, status, msg, strings.Join(note, "; ")}
	})
}

// summarise fills the report's per-rule results, with the trend of the last runs.
func (r *run) summarise(ctx context.Context) error {
	trend, err := readTrend(ctx, r.o.Store, r.o.RunID)
	if err != nil {
		return err
	}
	byRule := map[string]*RuleResult{}
	for _, d := range r.defs {
		byRule[d.ID] = &RuleResult{Def: d}
	}
	for k, s := range r.stats {
		rr := byRule[k.rule]
		if !slices.Contains(rr.Tables, k.table) {
			rr.Tables = append(rr.Tables, k.table)
		}
		rr.Checked += s.checked
		rr.Findings += s.findings
		rr.New += s.new
		rr.Resolved += s.resolved
		rr.Groups += s.groups
		rr.Excess += s.excess
	}
	for _, f := range r.rep.Findings {
		if f.Status == StatusOpen && f.Review != nil {
			byRule[f.RuleID].Marked++
		}
	}
	for _, d := range r.defs {
		rr := byRule[d.ID]
		slices.Sort(rr.Tables)
		rr.Trend = trend[d.ID]
		r.rep.Rules = append(r.rep.Rules, *rr)
	}
	return nil
}

// readTrend reads, per rule, the open findings of the last TrendRuns runs up to and
// including runID, oldest first. A run in which a rule did not run has no entry.
func readTrend(ctx context.Context, st warehouse.Store, runID string) (map[string][]int, error) {
	rows, err := st.Query(ctx, `SELECT run_id, seq, rule_id, findings
		FROM
		(
			SELECT run_id, seq FROM dq_runs
			WHERE seq <= (SELECT max(seq) FROM dq_runs WHERE run_id = ?)
			ORDER BY seq DESC LIMIT ?
		) AS r
		ALL INNER JOIN
		(
			SELECT run_id, rule_id, sum(findings) AS findings FROM dq_run_rules GROUP BY run_id, rule_id
		) AS x USING (run_id)
		ORDER BY seq, rule_id`, runID, TrendRuns)
	if err != nil {
		return nil, fmt.Errorf("read the audit trend: %w", err)
	}
	defer rows.Close()
	out := map[string][]int{}
	for rows.Next() {
		var run, rule string
		var seq, n uint64
		if err := rows.Scan(&run, &seq, &rule, &n); err != nil {
			return nil, fmt.Errorf("read the audit trend: %w", err)
		}
		out[rule] = append(out[rule], int(n))
	}
	return out, rows.Err()
}

// QueryFindings streams the findings a run wrote, in their latest state (with the marks
// recorded since), most severe first: the columns of dq_findings a steward reads.
func QueryFindings(ctx context.Context, st warehouse.Store, runID string) (warehouse.Rows, error) {
	rows, err := st.Query(ctx, `SELECT finding_id, status, severity, rule_id, rule_version, environment, table_name, record_id,
			field, field_values, detail, group_id, supersedes, review_mark, review_comment, reviewed_by, first_seen, last_seen,
			resolved_at, link
		FROM dq_findings_current WHERE run_id = ?
		ORDER BY multiIf(severity = 'error', 0, severity = 'warning', 1, 2), rule_id, table_name, environment, group_id,
			record_id, field, status`, runID)
	if err != nil {
		return nil, fmt.Errorf("read the findings of run %s: %w", runID, err)
	}
	return rows, nil
}
