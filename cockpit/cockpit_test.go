package cockpit_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestCockpit drives the cockpit over real HTTP on both engines, on a
// synced simulator with an audit and a KPI run.
func TestCockpit(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			t.Run("login", f.testLogin)
			t.Run("management", f.testManagement)
			t.Run("lead", f.testLead)
			t.Run("kpi", f.testKPI)
			t.Run("findings", f.testFindings)
			t.Run("review", f.testReview)
			t.Run("csrf", f.testCSRF)
			t.Run("sync", f.testSync)
			t.Run("language", f.testLanguage)
			t.Run("hostile", f.testHostile)
			t.Run("zone", f.testZone) // last: it adds a KPI run
			require.NotContains(t, f.logs.String(), testKey, "a key in the log")
		})
	}
}

func (f *fixture) testLogin(t *testing.T) {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := noRedirect(jar)
	for _, page := range []string{"/", "/cockpit/lead", "/cockpit/findings?rule=x", "/cockpit/sync"} {
		resp, err := c.Get(f.url + page)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, page)
		require.Equal(t, "/cockpit/login?next="+url.QueryEscape(page), resp.Header.Get("Location"), page)
	}
	// a wrong key: refused, no cookie
	resp, err := c.PostForm(f.url+"/cockpit/login", url.Values{"key": {"not-the-key"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Empty(t, resp.Cookies())
	require.Contains(t, string(body), "This key is not valid")
	// a forged cookie does not let in
	u, _ := url.Parse(f.url)
	jar.SetCookies(u, []*http.Cookie{{Name: "ampel_session", Value: "dGVzdHM.9999999999.AAAA.forged"}})
	resp, err = c.Get(f.url + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// the key: a session cookie that is not the key, then the page asked for
	resp, err = c.PostForm(f.url+"/cockpit/login", url.Values{"key": {testKey}, "next": {"/cockpit/sync"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/cockpit/sync", resp.Header.Get("Location"))
	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.Equal(t, "ampel_session", ck.Name)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.NotContains(t, ck.Value, testKey)
	resp, err = c.Get(f.url + "/cockpit/sync")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// a redirect target off the cockpit is not followed
	resp, err = c.PostForm(f.url+"/cockpit/login", url.Values{"key": {testKey}, "next": {"https://evil.example/"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "/cockpit/", resp.Header.Get("Location"))
}

func (f *fixture) testManagement(t *testing.T) {
	c := f.login(t)
	want := expectedPhases(t, f.st)
	require.NotEmpty(t, want)
	got := map[string]string{}
	for _, a := range attrs(get(t, c, f.url+"/"), "data-phase") {
		got[a["data-phase"]] = a["data-status"]
	}
	require.Equal(t, want, got)
}

// testLead compares every line of the project-lead view with the
// simulator's truth: the value and the status its thresholds give.
func (f *fixture) testLead(t *testing.T) {
	c := f.login(t)
	rows := attrs(get(t, c, f.url+"/cockpit/lead"), "data-kpi")
	require.NotEmpty(t, rows)
	n := warehousetest.QueryOne(t, f.st, `SELECT count() FROM (SELECT DISTINCT kpi_id, environment, dimensions FROM kpi_results
		WHERE run_id = (SELECT run_id FROM kpi_runs ORDER BY started_at DESC LIMIT 1))`)
	require.EqualValues(t, n, len(rows))
	checked := 0
	for _, r := range rows {
		version := int(parseFloat(t, r["data-version"]))
		status, value, den, ok := f.truthStatus(t, r["data-kpi"], version, r["data-dims"], r["data-start"])
		if !ok {
			continue // a KPI of the inputs file alone, which the truth does not plant
		}
		checked++
		msg := r["data-kpi"] + " " + r["data-dims"] + " " + r["data-start"]
		if r["data-status"] == "none" && status != "none" {
			// withheld below min_denominator: the truth's denominator says so
			require.NotNil(t, den, msg)
			continue
		}
		require.Equal(t, status, r["data-status"], msg)
		if value != nil {
			require.True(t, near(parseFloat(t, r["data-value"]), *value), "%s: %s, truth %v", msg, r["data-value"], *value)
		}
	}
	require.Greater(t, checked, len(rows)/2, "most lines have a truth")
	// the CSV has the same lines
	resp, err := c.Get(f.url + "/cockpit/lead.csv")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	recs, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, len(rows)+1)
}

func (f *fixture) testKPI(t *testing.T) {
	c := f.login(t)
	page := get(t, c, f.url+"/cockpit/kpi/adoption_rate")
	require.True(t, strings.Contains(page, "<polyline"), "no history chart")
	body := f.cat.Versions("adoption_rate")[0].File.Body
	m := regexp.MustCompile(`(?s)<pre class="sql"[^>]*><code>(.*?)</code></pre>`).FindStringSubmatch(page)
	require.NotNil(t, m, "no SQL on the page")
	require.Equal(t, strings.TrimSpace(body), strings.TrimSpace(html.UnescapeString(m[1])), "the definition's SQL")
	views := attrs(page, "data-env")
	require.NotEmpty(t, views)
	for _, v := range views {
		require.Contains(t, []string{"green", "amber", "red", "none"}, v["data-status"])
	}
	resp, err := c.Get(f.url + "/cockpit/kpi/no_such_kpi")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// openRule is a rule with between 1 and 100 open findings.
func (f *fixture) openRule(t *testing.T, grouped bool) string {
	t.Helper()
	cond := ""
	if grouped {
		cond = " AND group_id != ''"
	}
	rows := warehousetest.QueryAll(t, f.st, "SELECT rule_id, count() AS n FROM dq_findings FINAL WHERE status = 'open'"+cond+
		" GROUP BY rule_id HAVING n BETWEEN 1 AND 100 ORDER BY n DESC, rule_id LIMIT 1")
	require.NotEmpty(t, rows, "no rule with a few open findings")
	return rows[0][0].(string)
}

func (f *fixture) testFindings(t *testing.T) {
	c := f.login(t)
	rule := f.openRule(t, false)
	want := map[string]bool{}
	for _, r := range warehousetest.QueryAll(t, f.st, "SELECT finding_id FROM dq_findings FINAL WHERE rule_id = ? AND status = 'open'", rule) {
		want[r[0].(string)] = true
	}
	got := map[string]bool{}
	for _, a := range attrs(get(t, c, f.url+"/cockpit/findings?rule="+url.QueryEscape(rule)), "data-finding") {
		require.Equal(t, "open", a["data-status"])
		got[a["data-finding"]] = true
	}
	require.Equal(t, want, got)
	// new in the last run: as many as the audit counted for the rule
	news := 0
	for _, a := range attrs(get(t, c, f.url+"/cockpit/findings?since=last&rule="+url.QueryEscape(rule)), "data-finding") {
		require.True(t, want[a["data-finding"]], "not an open finding of the rule")
		news++
	}
	last := warehousetest.QueryOne(t, f.st, "SELECT run_id FROM dq_runs ORDER BY seq DESC LIMIT 1")
	require.EqualValues(t, warehousetest.QueryOne(t, f.st, "SELECT sum(new_findings) FROM dq_run_rules WHERE run_id = ? AND rule_id = ?", last, rule), news)
	// the counts by rule
	page := get(t, c, f.url+"/cockpit/findings")
	for _, a := range attrs(page, "data-rule") {
		n := warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_findings FINAL WHERE rule_id = ? AND status = 'open'", a["data-rule"])
		require.EqualValues(t, n, parseFloat(t, a["data-open"]), a["data-rule"])
	}
	// the CSV export has the same findings
	resp, err := c.Get(f.url + "/cockpit/findings.csv?rule=" + url.QueryEscape(rule))
	require.NoError(t, err)
	defer resp.Body.Close()
	recs, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "finding_id", recs[0][0])
	csvIDs := map[string]bool{}
	for _, r := range recs[1:] {
		csvIDs[r[0]] = true
	}
	require.Equal(t, want, csvIDs)
	// groups: every member of the shown groups is an open finding of the rule
	grule := f.openRule(t, true)
	gpage := get(t, c, f.url+"/cockpit/groups?rule="+url.QueryEscape(grule))
	groups := attrs(gpage, "data-group")
	require.NotEmpty(t, groups)
	for _, g := range groups {
		n := warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_findings FINAL WHERE group_id = ? AND status = 'open'", g["data-group"])
		require.Greater(t, n, uint64(1), "a group of one")
	}
	require.Contains(t, gpage, `class="same"`, "the shared values are highlighted")
}

// testReview marks a finding and a group through the forms and checks the
// marks survive a reload and are in dq_findings.
func (f *fixture) testReview(t *testing.T) {
	c := f.login(t)
	rule := f.openRule(t, false)
	page := get(t, c, f.url+"/cockpit/findings?rule="+url.QueryEscape(rule))
	id := attrs(page, "data-finding")[0]["data-finding"]
	back := "/cockpit/findings?rule=" + url.QueryEscape(rule)
	resp, err := c.PostForm(f.url+"/cockpit/review", url.Values{"csrf": {csrf(t, page)}, "id": {id}, "mark": {"will_fix"},
		"comment": {"merging in Dynamics"}, "action": {"mark"}, "back": {back}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	marked := func(html, attr, id string) string {
		for _, a := range attrs(html, attr) {
			if a[attr] == id {
				return a["data-mark"]
			}
		}
		t.Fatalf("%s %s is not on the page", attr, id)
		return ""
	}
	require.Equal(t, "will_fix", marked(string(body), "data-finding", id))
	require.Equal(t, "will_fix", marked(get(t, c, f.url+back), "data-finding", id), "after a reload")
	row := warehousetest.QueryAll(t, f.st, "SELECT review_mark, review_comment, reviewed_by FROM dq_findings FINAL WHERE finding_id = ?", id)
	require.Equal(t, []any{"will_fix", "merging in Dynamics", "cockpit:tests"}, row[0])

	// the comment action keeps the mark
	resp, err = c.PostForm(f.url+"/cockpit/review", url.Values{"csrf": {csrf(t, page)}, "id": {id}, "current": {"will_fix"},
		"comment": {"ticket 42"}, "action": {"comment"}, "back": {back}})
	require.NoError(t, err)
	resp.Body.Close()
	row = warehousetest.QueryAll(t, f.st, "SELECT review_mark, review_comment FROM dq_findings FINAL WHERE finding_id = ?", id)
	require.Equal(t, []any{"will_fix", "ticket 42"}, row[0])

	// a group marked not a duplicate: every member carries it
	grule := f.openRule(t, true)
	gback := "/cockpit/groups?rule=" + url.QueryEscape(grule)
	gpage := get(t, c, f.url+gback)
	gid := attrs(gpage, "data-group")[0]["data-group"]
	resp, err = c.PostForm(f.url+"/cockpit/review", url.Values{"csrf": {csrf(t, gpage)}, "id": {gid}, "mark": {"not_a_duplicate"},
		"action": {"mark"}, "back": {gback}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "not_a_duplicate", marked(get(t, c, f.url+gback), "data-group", gid))
	n := warehousetest.QueryOne(t, f.st, "SELECT countIf(review_mark != 'not_a_duplicate') FROM dq_findings FINAL WHERE group_id = ? AND status = 'open'", gid)
	require.EqualValues(t, 0, n)

	// a bad mark: one line, nothing written
	resp, err = c.PostForm(f.url+"/cockpit/review", url.Values{"csrf": {csrf(t, page)}, "id": {id}, "mark": {"burn"}, "back": {back}})
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(body), "use reviewed, not-duplicate or will-fix")
}

func (f *fixture) testCSRF(t *testing.T) {
	c := f.login(t)
	rule := f.openRule(t, false)
	page := get(t, c, f.url+"/cockpit/findings?rule="+url.QueryEscape(rule))
	id := attrs(page, "data-finding")[0]["data-finding"]
	before := warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_reviews")
	for _, token := range []string{"", "forged" + csrf(t, page)} {
		resp, err := c.PostForm(f.url+"/cockpit/review", url.Values{"csrf": {token}, "id": {id}, "mark": {"reviewed"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	}
	require.Equal(t, before, warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_reviews"), "a refused review wrote a mark")
	// a POST to a page that only reads is refused
	resp, err := c.PostForm(f.url+"/cockpit/sync", url.Values{"csrf": {csrf(t, page)}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	// logging out ends the session
	resp, err = c.PostForm(f.url+"/cockpit/logout", url.Values{"csrf": {csrf(t, page)}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/cockpit/login", resp.Request.URL.Path)
	resp, err = noRedirect(c.Jar).Get(f.url + "/cockpit/sync")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	// without a session, a POST goes to the login form
	resp, err = noRedirect(nil).PostForm(f.url+"/cockpit/review", url.Values{"csrf": {csrf(t, page)}, "id": {id}, "mark": {"reviewed"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func (f *fixture) testSync(t *testing.T) {
	c := f.login(t)
	page := get(t, c, f.url+"/cockpit/sync")
	got := map[string]string{}
	for _, a := range attrs(page, "data-table") {
		got[a["data-env"]+"|"+a["data-table"]] = a["data-rows"] + " " + a["data-status"]
	}
	want := map[string]string{}
	wantUntracked := map[string]bool{}
	for _, r := range warehousetest.QueryAll(t, f.st, `SELECT environment, table_name, argMax(rows_upserted, started_at), argMax(status, started_at),
		argMax(note, started_at) FROM sync_runs GROUP BY environment, table_name`) {
		k := r[0].(string) + "|" + r[1].(string)
		want[k] = fmt.Sprint(r[2]) + " " + r[3].(string)
		if strings.Contains(r[4].(string), "change tracking is off") {
			wantUntracked[k] = true
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, "0 failed", got["sim|invoice"], "the failed sync of invoice")
	untracked := map[string]bool{}
	for _, a := range attrs(page, "data-untracked") {
		untracked[a["data-untracked"]] = true
	}
	require.Equal(t, map[string]bool{"sim|incident": true}, wantUntracked)
	require.Equal(t, wantUntracked, untracked)
	hints := attrs(page, "data-hint")
	require.Len(t, hints, 1)
	require.Equal(t, "hint_privilege", hints[0]["data-hint"], "the hint for a missing read privilege")
}

func (f *fixture) testLanguage(t *testing.T) {
	c := f.login(t)
	req, err := http.NewRequest(http.MethodGet, f.url+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	resp, err := c.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), `<html lang="de">`)
	require.Contains(t, string(b), "Management-Sicht")
	// the switch wins over the header
	resp, err = c.Get(f.url + "/cockpit/lang?l=en&next=/cockpit/sync")
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = c.Do(req)
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(b), "Management view")
}

// testHostile sends query parameters that try to leave their value — quotes,
// comments, table functions, settings, a second statement — to every page
// that filters: each is answered without a server error, lists nothing the
// value does not name, and shows no file's content; the findings are as
// they were.
func (f *fixture) testHostile(t *testing.T) {
	c := f.login(t)
	before := warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_findings")
	values := []string{
		"x' OR '1'='1",
		"x' OR 1=1 --",
		"') UNION ALL SELECT file('/etc/passwd') --",
		"x'; DROP TABLE dq_findings; --",
		"x' SETTINGS readonly=0 --",
		"x' FORMAT JSON --",
		"x\\' OR 1=1 /*",
		"url('http://127.0.0.1:1/')",
	}
	for _, v := range values {
		for _, page := range []string{"/cockpit/findings?rule=", "/cockpit/findings?env=", "/cockpit/findings?table=",
			"/cockpit/findings?severity=", "/cockpit/findings?mark=", "/cockpit/findings?since=last&rule=",
			"/cockpit/findings.csv?rule=", "/cockpit/groups?rule=", "/cockpit/groups?env=", "/cockpit/kpi/"} {
			u := f.url + page + url.QueryEscape(v)
			if strings.HasSuffix(page, "/") {
				u = f.url + page + url.PathEscape(v)
			}
			resp, err := c.Get(u)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Less(t, resp.StatusCode, 500, "%s: %s", u, b)
			require.NotContains(t, string(b), "root:x:0:0", u)
			if strings.Contains(page, "findings?") || strings.Contains(page, "groups?") {
				require.Empty(t, attrs(string(b), "data-finding"), "%s lists findings the value does not name", u)
				require.Empty(t, attrs(string(b), "data-group"), "%s lists groups the value does not name", u)
			}
		}
	}
	require.Equal(t, before, warehousetest.QueryOne(t, f.st, "SELECT count() FROM dq_findings"), "the findings are untouched")
}

// testZone runs the catalog again in Europe/Berlin: the project-lead view
// shows each period on its day in that zone (a Berlin month starts on the
// 1st, not on the last day of the month before in UTC), and the period
// starts are the Berlin truth's.
func (f *fixture) testZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	rep, err := kpis.Run(context.Background(), kpis.Options{Store: f.st, Catalog: f.cat, Inputs: f.in, AsOf: f.asOf, Timezone: "Europe/Berlin"})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)
	starts := map[string]bool{}
	for _, w := range f.sim.TruthIn(berlin).KPIs["deal_registrations"] {
		starts[w.PeriodStart] = true
	}
	require.NotEmpty(t, starts)
	c := f.login(t)
	page := get(t, c, f.url+"/cockpit/lead")
	days := attrs(page, "data-day")
	rows := attrs(page, "data-kpi")
	require.Len(t, days, len(rows))
	months := 0
	for i, r := range rows {
		start, err := time.Parse(time.RFC3339, r["data-start"])
		require.NoError(t, err)
		require.Equal(t, start.In(berlin).Format("2006-01-02"), days[i]["data-day"], "%s %s", r["data-kpi"], r["data-start"])
		if r["data-kpi"] == "deal_registrations" {
			months++
			require.True(t, starts[r["data-start"]], "%s is not a period start of the Berlin truth", r["data-start"])
			require.True(t, strings.HasSuffix(days[i]["data-day"], "-01"), "a month shown from %s", days[i]["data-day"])
		}
	}
	require.Positive(t, months)
}
