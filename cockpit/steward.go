package cockpit

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/warehouse"
)

// finding is a row of dq_findings_current.
type finding struct {
	ID, Environment, Rule, Severity, Kind, Table string
	Record, Field, Values, Detail, Group, Link   string
	Status                                       string
	FirstSeen, LastSeen                          time.Time
	Mark, Comment, By                            string
	MarkedAt                                     *time.Time
}

const findingCols = `finding_id, environment, rule_id, severity, kind, table_name, record_id, field, field_values, detail, group_id, link,
	status, first_seen, last_seen, review_mark, review_comment, reviewed_by, reviewed_at`

func scanFinding(r warehouse.Rows) (finding, error) {
	var f finding
	err := r.Scan(&f.ID, &f.Environment, &f.Rule, &f.Severity, &f.Kind, &f.Table, &f.Record, &f.Field, &f.Values, &f.Detail,
		&f.Group, &f.Link, &f.Status, &f.FirstSeen, &f.LastSeen, &f.Mark, &f.Comment, &f.By, &f.MarkedAt)
	return f, err
}

// ruleCount is a rule's line of the findings page.
type ruleCount struct {
	Rule, Severity, Kind string
	Open, Resolved       uint64
	New, ResolvedLast    uint64
	Groups               uint64
}

// filter is the findings page's filter, from the query.
type filter struct {
	Rule, Env, Table, Severity, Status, Mark string
	// Since is "last": only the findings the last run found first (open)
	// or resolved (resolved).
	Since string
	// lastAsOf is the last audit run's as_of, which Since compares with.
	lastAsOf time.Time
}

func readFilter(r *http.Request) filter {
	q := r.URL.Query()
	f := filter{Rule: q.Get("rule"), Env: q.Get("env"), Table: q.Get("table"), Severity: q.Get("severity"), Status: q.Get("status"), Mark: q.Get("mark"),
		Since: q.Get("since")}
	if f.Status == "" {
		f.Status = audit.StatusOpen
	}
	return f
}

// where is the filter as a condition with bound values.
func (f filter) where() (string, []any) {
	conds := []string{"1 = 1"}
	var args []any
	add := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	add("rule_id", f.Rule)
	add("environment", f.Env)
	add("table_name", f.Table)
	add("severity", f.Severity)
	if f.Status != "any" {
		add("status", f.Status)
	}
	if f.Since == "last" {
		switch f.Status {
		case audit.StatusOpen:
			conds = append(conds, "first_seen >= ?")
			args = append(args, f.lastAsOf)
		case audit.StatusResolved:
			conds = append(conds, "resolved_at >= ?")
			args = append(args, f.lastAsOf)
		}
	}
	switch f.Mark {
	case "":
	case "none":
		conds = append(conds, "review_mark = ''")
	default:
		add("review_mark", f.Mark)
	}
	return strings.Join(conds, " AND "), args
}

// query is the filter as a URL query.
func (f filter) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"rule": f.Rule, "env": f.Env, "table": f.Table, "severity": f.Severity, "status": f.Status, "mark": f.Mark, "since": f.Since} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// shownFindings is the most findings a page lists; CSV has all.
const shownFindings = 200

// findings is the steward's findings page.
func (rq *request) findings(asCSV bool) {
	ctx := rq.r.Context()
	f := readFilter(rq.r)
	var counts []ruleCount
	err := rq.c.query(ctx, `SELECT rule_id, any(severity), any(kind), countIf(status = 'open'), countIf(status = 'resolved'),
		uniqExactIf(group_id, status = 'open' AND group_id != '') FROM dq_findings_current GROUP BY rule_id ORDER BY rule_id`, nil,
		func(r warehouse.Rows) error {
			var c ruleCount
			err := r.Scan(&c.Rule, &c.Severity, &c.Kind, &c.Open, &c.Resolved, &c.Groups)
			counts = append(counts, c)
			return err
		})
	if err != nil {
		rq.failed("dq_findings", err)
		return
	}
	var lastRun string
	var lastAt time.Time
	err = rq.c.query(ctx, "SELECT run_id, started_at, as_of FROM dq_runs ORDER BY seq DESC LIMIT 1", nil, func(r warehouse.Rows) error {
		return r.Scan(&lastRun, &lastAt, &f.lastAsOf)
	})
	if err != nil {
		rq.failed("dq_runs", err)
		return
	}
	if lastRun != "" {
		err = rq.c.query(ctx, "SELECT rule_id, sum(new_findings), sum(resolved) FROM dq_run_rules WHERE run_id = ? GROUP BY rule_id", []any{lastRun},
			func(r warehouse.Rows) error {
				var id string
				var n, res uint64
				if err := r.Scan(&id, &n, &res); err != nil {
					return err
				}
				for i := range counts {
					if counts[i].Rule == id {
						counts[i].New, counts[i].ResolvedLast = n, res
					}
				}
				return nil
			})
		if err != nil {
			rq.failed("dq_run_rules", err)
			return
		}
	}
	where, args := f.where()
	var total uint64
	if err := rq.c.query(ctx, "SELECT count() FROM dq_findings_current WHERE "+where, args, func(r warehouse.Rows) error { return r.Scan(&total) }); err != nil {
		rq.failed("dq_findings", err)
		return
	}
	q := "SELECT " + findingCols + " FROM dq_findings_current WHERE " + where + " ORDER BY rule_id, environment, table_name, record_id, field"
	if !asCSV {
		q += " LIMIT " + strconv.Itoa(shownFindings)
	}
	var list []finding
	err = rq.c.query(ctx, q, args, func(r warehouse.Rows) error {
		x, err := scanFinding(r)
		list = append(list, x)
		return err
	})
	if err != nil {
		rq.failed("dq_findings", err)
		return
	}
	if asCSV {
		rq.csv("findings", []string{"finding_id", "status", "severity", "rule_id", "environment", "table_name", "record_id", "field", "field_values", "detail",
			"group_id", "link", "first_seen", "last_seen", "review_mark", "review_comment", "reviewed_by"}, len(list), func(i int) []string {
			x := list[i]
			return []string{x.ID, x.Status, x.Severity, x.Rule, x.Environment, x.Table, x.Record, x.Field, x.Values, x.Detail, x.Group, x.Link,
				x.FirstSeen.UTC().Format(time.RFC3339), x.LastSeen.UTC().Format(time.RFC3339), x.Mark, x.Comment, x.By}
		})
		return
	}
	var envs, tables []string
	for _, x := range list {
		if !slices.Contains(envs, x.Environment) {
			envs = append(envs, x.Environment)
		}
		if !slices.Contains(tables, x.Table) {
			tables = append(tables, x.Table)
		}
	}
	rq.render(http.StatusOK, "findings", "findings", map[string]any{
		"Counts": counts, "LastRun": lastRun, "LastAt": lastAt, "Filter": f, "Query": template.URL(f.query()), "List": list, "Total": total,
		"Shown": len(list), "Marks": marks, "Saved": rq.r.URL.Query().Get("saved"), "Back": rq.r.URL.RequestURI(),
	})
}

// marks are the review marks a steward can set.
var marks = []string{string(audit.MarkReviewed), string(audit.MarkNotDuplicate), string(audit.MarkWillFix)}

// member is one record of a duplicate group, with its values.
type member struct {
	finding
	Fields []field
}

// field is one value of a member; Same: another member has it too.
type field struct {
	Name, Value string
	Same        bool
}

// group is a duplicate group.
type group struct {
	ID, Environment, Table, Mark, Comment string
	Members                               []member
}

// shownGroups is the most groups a page shows; CSV has all.
const shownGroups = 50

// groups shows a duplicate rule's open groups, members side by side.
func (rq *request) groups(asCSV bool) {
	ctx := rq.r.Context()
	f := readFilter(rq.r)
	f.Status = audit.StatusOpen
	var rules []string
	err := rq.c.query(ctx, "SELECT DISTINCT rule_id FROM dq_findings_current WHERE group_id != '' AND status = 'open' ORDER BY rule_id", nil,
		func(r warehouse.Rows) error {
			var s string
			err := r.Scan(&s)
			rules = append(rules, s)
			return err
		})
	if err != nil {
		rq.failed("dq_findings", err)
		return
	}
	if f.Rule == "" && len(rules) > 0 {
		f.Rule = rules[0]
	}
	where, args := f.where()
	var list []finding
	err = rq.c.query(ctx, "SELECT "+findingCols+" FROM dq_findings_current WHERE "+where+" AND group_id != '' ORDER BY group_id, record_id", args,
		func(r warehouse.Rows) error {
			x, err := scanFinding(r)
			list = append(list, x)
			return err
		})
	if err != nil {
		rq.failed("dq_findings", err)
		return
	}
	if asCSV {
		rq.csv("groups", []string{"group_id", "rule_id", "environment", "table_name", "record_id", "field_values", "link", "review_mark", "review_comment"},
			len(list), func(i int) []string {
				x := list[i]
				return []string{x.Group, x.Rule, x.Environment, x.Table, x.Record, x.Values, x.Link, x.Mark, x.Comment}
			})
		return
	}
	var gs []group
	for _, x := range list {
		if n := len(gs); n == 0 || gs[n-1].ID != x.Group {
			gs = append(gs, group{ID: x.Group, Environment: x.Environment, Table: x.Table, Mark: x.Mark, Comment: x.Comment})
		}
		g := &gs[len(gs)-1]
		g.Members = append(g.Members, member{finding: x, Fields: values(x.Values)})
	}
	total := len(gs)
	if len(gs) > shownGroups {
		gs = gs[:shownGroups]
	}
	for i := range gs {
		highlight(gs[i].Members)
	}
	rq.render(http.StatusOK, "groups", "groups", map[string]any{"Rules": rules, "Filter": f, "Query": template.URL(f.query()), "Groups": gs,
		"Total": total, "Shown": len(gs), "Marks": marks, "Saved": rq.r.URL.Query().Get("saved"), "Back": rq.r.URL.RequestURI()})
}

// values reads field_values (a JSON object) in its order.
func values(s string) []field {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return out
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return out
		}
		name, _ := k.(string)
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case nil:
		default:
			b, _ := json.Marshal(x)
			text = string(b)
		}
		out = append(out, field{Name: name, Value: text})
	}
	return out
}

// norm is a value as the highlight compares it: trimmed, lower case.
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// highlight marks the fields whose value another member shares.
func highlight(ms []member) {
	seen := map[string]int{}
	for _, m := range ms {
		for _, f := range m.Fields {
			if norm(f.Value) != "" {
				seen[f.Name+"\x00"+norm(f.Value)]++
			}
		}
	}
	for i := range ms {
		for j := range ms[i].Fields {
			f := &ms[i].Fields[j]
			f.Same = norm(f.Value) != "" && seen[f.Name+"\x00"+norm(f.Value)] > 1
		}
	}
}

// review writes a steward's mark (audit.MarkFinding) and goes back to the
// page it came from. The comment action keeps the finding's mark, or
// marks it reviewed when it has none.
func (rq *request) review() {
	id := rq.r.PostFormValue("id")
	markText := rq.r.PostFormValue("mark")
	comment := strings.TrimSpace(rq.r.PostFormValue("comment"))
	if markText == "" || rq.r.PostFormValue("action") == "comment" {
		markText = rq.r.PostFormValue("current")
		if markText == "" {
			markText = string(audit.MarkReviewed)
		}
	}
	mark, err := audit.ParseMark(markText)
	if err == nil && id == "" {
		err = errNoID
	}
	var m *audit.Marked
	if err == nil {
		m, err = audit.MarkFinding(rq.r.Context(), rq.c.store, id, mark, comment, "cockpit:"+rq.sess.key, time.Time{})
	}
	if err != nil {
		rq.c.log.Warn("cockpit: review", "id", id, "err", err)
		rq.c.fail(rq.w, rq.r, rq.sess, http.StatusBadRequest, "markfailed", err.Error())
		return
	}
	rq.c.log.Info("cockpit review", "id", id, "mark", string(mark), "findings", m.Findings, "key", rq.sess.key)
	back := safeNext(rq.r.PostFormValue("back"))
	u, _ := url.Parse(back)
	q := u.Query()
	q.Set("saved", id)
	u.RawQuery = q.Encode()
	http.Redirect(rq.w, rq.r, u.String(), http.StatusSeeOther)
}

// errNoID is a review form without the finding's or group's id.
var errNoID = errors.New("say which finding or group: the form has no id")
