package cockpit

import (
	"context"
	"encoding/csv"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/kpis"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"icon": func(status string) string {
		switch status {
		case "green":
			return "✓"
		case "amber":
			return "!"
		case "red":
			return "✕"
		}
		return "–"
	},
	"num": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return formatNum(*v)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"rfc":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"full": optNum,
	// day is a period's day in the zone its run cut it in (inRunZones)
	"day":  func(t time.Time) string { return t.Format("2006-01-02") },
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	"ms":   func(v uint64) string { return (time.Duration(v) * time.Millisecond).String() },
	"list": func(s ...string) []string { return s },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			m[k] = kv[i+1]
		}
		return m
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
}

// formatNum shows a value with at most two decimals.
func formatNum(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// overview is the management view.
func (rq *request) overview() {
	k, err := rq.c.latest(rq.r.Context())
	if err != nil {
		rq.failed("the KPI results", err)
		return
	}
	data := map[string]any{"HasRun": k.ok, "Run": k.run}
	if k.ok {
		data["Phases"] = phases(kpis.Phases, latestPeriod(current(k.results)), k.defs)
	}
	rq.render(http.StatusOK, "overview", "management", data)
}

// leadRow is one line of the project-lead view.
type leadRow struct {
	result
	Title, Phase string
	Spark        chart
	// First: the first line of its phase, which gets the phase's heading.
	First bool
	// Versions are the definition versions of the history, oldest first,
	// when more than one produced it ("v1 → v2"); "" otherwise.
	Versions string
}

// lead is the project-lead view: every KPI per environment and dimension.
func (rq *request) lead(asCSV bool) {
	ctx := rq.r.Context()
	k, err := rq.c.latest(ctx)
	if err != nil {
		rq.failed("the KPI results", err)
		return
	}
	run, ok, cur, defs := k.run, k.ok, k.results, k.defs
	var rows []leadRow
	if ok {
		hist, err := rq.c.recentResults(ctx)
		if err != nil {
			rq.failed("kpi_results", err)
			return
		}
		series := map[string][]result{}
		for _, h := range hist {
			key := h.KPI + "\x00" + h.Environment + "\x00" + h.Dimensions
			series[key] = append(series[key], h)
		}
		for _, r := range current(cur) {
			d := defs[r.KPI]
			hs := series[r.KPI+"\x00"+r.Environment+"\x00"+r.Dimensions]
			ps := trend(hs, run.ID)
			rows = append(rows, leadRow{result: r, Title: d.Title, Phase: d.Phase, Spark: draw(ps, 120, 28, 3, formatNum), Versions: versions(hs)})
		}
		order := map[string]int{}
		for i, p := range kpis.Phases {
			order[p] = i
		}
		slices.SortStableFunc(rows, func(a, b leadRow) int { return order[a.Phase] - order[b.Phase] })
		for i := range rows {
			rows[i].First = i == 0 || rows[i].Phase != rows[i-1].Phase
		}
	}
	if asCSV {
		rq.csv("kpis", []string{"phase", "kpi_id", "title", "environment", "dimensions", "period_start", "period_end", "value", "numerator", "denominator", "unit", "status", "version", "draft"},
			len(rows), func(i int) []string {
				r := rows[i]
				return []string{r.Phase, r.KPI, r.Title, r.Environment, r.Dimensions, r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339),
					optNum(r.Value), optNum(r.Numerator), optNum(r.Denominator), r.Unit, r.Status, strconv.FormatUint(r.Version, 10), strconv.FormatUint(r.Draft, 10)}
			})
		return
	}
	rq.render(http.StatusOK, "lead", "lead", map[string]any{"HasRun": ok, "Run": run, "Rows": rows})
}

func optNum(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// historyRuns is how many KPI runs the project-lead view's trends span.
const historyRuns = 24

// recentResults reads the results of the latest historyRuns KPI runs.
func (c *Cockpit) recentResults(ctx context.Context) ([]result, error) {
	return c.readResults(ctx, "run_id IN (SELECT run_id FROM kpi_runs ORDER BY started_at DESC LIMIT "+strconv.Itoa(historyRuns)+")")
}

// trend is the series a KPI's chart shows: the latest run's values per
// period when it has several periods, else the value of the latest period
// per run. rs are one KPI's results of one environment and dimension set.
func trend(rs []result, latestRun string) []point {
	var periods []point
	for _, r := range rs {
		if r.RunID == latestRun {
			periods = append(periods, point{Label: r.Start.Format("2006-01-02"), Value: r.Value, Status: r.Status})
		}
	}
	if len(periods) > 1 {
		return periods
	}
	byRun := map[string]result{}
	for _, r := range rs {
		if old, ok := byRun[r.RunID]; !ok || !r.Start.Before(old.Start) {
			byRun[r.RunID] = r
		}
	}
	runs := make([]result, 0, len(byRun))
	for _, r := range byRun {
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b result) int { return a.Computed.Compare(b.Computed) })
	var out []point
	for _, r := range runs {
		out = append(out, point{Label: r.Computed.UTC().Format("2006-01-02 15:04"), Value: r.Value, Status: r.Status})
	}
	return out
}

// kpiView is one environment and dimension set of the KPI page.
type kpiView struct {
	result
	Chart   chart
	History []point
}

// kpi is the KPI page.
func (rq *request) kpi(id string) {
	ctx := rq.r.Context()
	ds, err := rq.c.definitions(ctx, id)
	if err != nil {
		rq.failed("kpi_definitions", err)
		return
	}
	if len(ds) == 0 {
		rq.c.fail(rq.w, rq.r, rq.sess, http.StatusNotFound, "nokpi", id)
		return
	}
	run, _, err := rq.c.latestKPIRun(ctx)
	if err != nil {
		rq.failed("kpi_runs", err)
		return
	}
	all, err := rq.c.results(ctx, "", id)
	if err != nil {
		rq.failed("kpi_results", err)
		return
	}
	series := map[string][]result{}
	var latest []result
	for _, r := range all {
		k := r.Environment + "\x00" + r.Dimensions
		series[k] = append(series[k], r)
		if r.RunID == run.ID {
			latest = append(latest, r)
		}
	}
	var views []kpiView
	var syncRuns []string
	for _, r := range current(latest) {
		ps := trend(series[r.Environment+"\x00"+r.Dimensions], run.ID)
		views = append(views, kpiView{result: r, Chart: draw(ps, 640, 200, 24, formatNum), History: ps})
		for _, s := range r.SyncRuns {
			if !slices.Contains(syncRuns, s) {
				syncRuns = append(syncRuns, s)
			}
		}
	}
	slices.Sort(syncRuns)
	for i := range ds {
		ds[i].SQL = rq.c.sqlOf(ds[i])
	}
	def := ds[len(ds)-1]
	rq.render(http.StatusOK, "kpi", "kpi", map[string]any{"Def": def, "Versions": ds, "Views": views, "Run": run, "SyncRuns": syncRuns})
}

// csv writes a list as a CSV download.
func (rq *request) csv(name string, header []string, n int, row func(i int) []string) {
	rq.w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rq.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w := csv.NewWriter(rq.w)
	_ = w.Write(header)
	for i := range n {
		_ = w.Write(row(i))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		rq.c.log.Warn("cockpit: write csv", "list", name, "err", err)
	}
}

// sqlOf is the SQL of a definition version, from the catalog when it has
// the same file (by checksum); "" when not.
func (c *Cockpit) sqlOf(d definition) string {
	for _, v := range c.cat.Versions(d.ID) {
		if v.File != nil && uint64(v.Version) == d.Version && v.File.Checksum == d.Checksum {
			return v.File.Body
		}
	}
	return ""
}

// versions lists the definition versions of a KPI's results in the order
// they were computed, "v1 → v2", when there is more than one; "" else.
func versions(rs []result) string {
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b result) int { return a.Computed.Compare(b.Computed) })
	var out []string
	for _, r := range sorted {
		v := "v" + strconv.FormatUint(r.Version, 10)
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	if len(out) < 2 {
		return ""
	}
	return strings.Join(out, " → ")
}
