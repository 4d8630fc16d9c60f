package cockpit_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/cockpit"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// testKey is the key the tests log in with.
const testKey = "cockpit-test-key-0123456789abcdef"

// fixture is a warehouse with a synced simulator, an audit, lead scores
// and a KPI run, served by a serve.Server with the cockpit over real HTTP.
type fixture struct {
	st    warehouse.Store
	url   string
	truth dvsim.Truth
	cat   *kpis.Catalog
	logs  *syncBuffer
	sim   *dvsim.Server
	in    *kpis.Inputs
	asOf  time.Time
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newFixture(t *testing.T, cfg warehouse.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	st := kpistest.OpenMigrated(t, cfg)
	sim, err := dvsim.Start(dvsim.Options{Seed: 16, Scale: 600})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	kpistest.Sync(t, st, kpistest.Client(t, sim), "s1")
	truth := sim.Truth()
	asOf, err := time.Parse(time.RFC3339, truth.Now)
	require.NoError(t, err)

	acat, err := audit.LoadCatalog(ampelsql.Audits, "", nil)
	require.NoError(t, err)
	arep, err := audit.Run(ctx, audit.RunOptions{Store: st, Catalog: acat, AsOf: asOf, CriticalFields: kpis.DefaultCriticalFields})
	require.NoError(t, err)
	require.Empty(t, arep.Failed)
	models, err := scoring.Load(ampelsql.Scoring, "", nil)
	require.NoError(t, err)
	srep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, AsOf: asOf})
	require.NoError(t, err)
	require.Empty(t, srep.Failed)

	file := filepath.Join(t.TempDir(), "inputs.yaml")
	require.NoError(t, sim.WriteInputs(file, kpistest.Env))
	in, err := kpis.LoadInputs(file, []string{kpistest.Env})
	require.NoError(t, err)
	cat, err := kpis.LoadCatalog(ampelsql.KPIs, "", nil)
	require.NoError(t, err)
	rep, err := kpis.Run(ctx, kpis.Options{Store: st, Catalog: cat, Inputs: in, AsOf: asOf})
	require.NoError(t, err)
	require.Empty(t, rep.Failed)

	// a second sync: incident without change tracking, invoice not
	// readable (the app user's role lacks the privilege) — the sync page's
	// untracked tables and errors with hints
	sim.SetFaults(dvsim.Faults{NoChangeTracking: []string{"incident"}, NoReadPrivilege: []string{"invoice"}})
	_, err = connector.Sync(ctx, connector.Options{Store: st, Client: kpistest.Client(t, sim), Environment: kpistest.Env,
		Tables: []connector.Table{{Name: "incident"}, {Name: "invoice"}}, RunID: "s2"})
	require.Error(t, err, "the sync of invoice should fail")
	sim.SetFaults(dvsim.Faults{NoChangeTracking: []string{}})

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := serve.New(serve.Options{Store: st, Keys: []serve.Key{serve.KeyFromSecret("tests", testKey)}, Logger: log})
	require.NoError(t, err)
	_, err = cockpit.Mount(srv, cockpit.Options{Store: st, Logger: log, Catalog: cat})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &fixture{st: st, url: hs.URL, truth: truth, cat: cat, logs: logs, sim: sim, in: in, asOf: asOf}
}

// noRedirect is a client that shows redirects instead of following them.
func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a client with a session.
func (f *fixture) login(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(f.url+"/cockpit/login", url.Values{"key": {testKey}, "next": {"/"}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `id="phases"`)
	return c
}

// get fetches a page and returns its body; it requires 200.
func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, b)
	return string(b)
}

// attrs finds the elements that carry attribute first and returns, per
// element, the data-* attributes of its start tag.
func attrs(html, first string) []map[string]string {
	tag := regexp.MustCompile(`<[a-z]+ [^>]*` + regexp.QuoteMeta(first) + `="[^>]*>`)
	attr := regexp.MustCompile(`(data-[a-z]+)="([^"]*)"`)
	var out []map[string]string
	for _, m := range tag.FindAllString(html, -1) {
		a := map[string]string{}
		for _, kv := range attr.FindAllStringSubmatch(m, -1) {
			a[kv[1]] = unescape(kv[2])
		}
		out = append(out, a)
	}
	return out
}

// unescape undoes html/template's escaping of attribute values.
func unescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">", "&quot;", `"`)
	return r.Replace(s)
}

// csrf finds the page's CSRF token.
func csrf(t *testing.T, html string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(html)
	require.NotNil(t, m, "the page has no CSRF token")
	return m[1]
}

// expectedPhases computes the management view from kpi_results and
// kpi_definitions as read here: per phase, the worst status of the
// latest period of every KPI, environment and dimension set of the
// latest run, keeping per KPI and environment only the newest period.
func expectedPhases(t *testing.T, st warehouse.Store) map[string]string {
	t.Helper()
	run := warehousetest.QueryOne(t, st, "SELECT run_id FROM kpi_runs ORDER BY started_at DESC LIMIT 1").(string)
	phase := map[string]string{}
	for _, r := range warehousetest.QueryAll(t, st, "SELECT kpi_id, phase FROM kpi_definitions") {
		phase[r[0].(string)] = r[1].(string)
	}
	type latest struct {
		start  time.Time
		status string
	}
	cur := map[string]latest{}
	kpiOf := map[string]string{}
	for _, r := range warehousetest.QueryAll(t, st, "SELECT kpi_id, environment, dimensions, period_start, status FROM kpi_results WHERE run_id = ?", run) {
		k := r[0].(string) + "\x00" + r[1].(string) + "\x00" + r[2].(string)
		start := r[3].(time.Time)
		if old, ok := cur[k]; !ok || start.After(old.start) {
			cur[k] = latest{start, r[4].(string)}
		}
		kpiOf[k] = r[0].(string)
	}
	// per KPI and environment only its newest period counts
	newest := map[string]time.Time{}
	for k, l := range cur {
		ke := k[:strings.LastIndex(k, "\x00")]
		if t, ok := newest[ke]; !ok || l.start.After(t) {
			newest[ke] = l.start
		}
	}
	rank := map[string]int{"none": 0, "green": 1, "amber": 2, "red": 3}
	out := map[string]string{}
	for k, l := range cur {
		if !l.start.Equal(newest[k[:strings.LastIndex(k, "\x00")]]) {
			continue
		}
		p := phase[kpiOf[k]]
		if s, ok := out[p]; !ok || rank[l.status] > rank[s] {
			out[p] = l.status
		}
	}
	return out
}

// truthStatus is the status the simulator's truth gives a KPI's result
// for dims (readable: "a=b, c=d") and period start (RFC 3339), and the
// truth's value; ok false when the truth has no such result.
func (f *fixture) truthStatus(t *testing.T, id string, version int, dims, start string) (status string, value *float64, den *float64, ok bool) {
	t.Helper()
	want := map[string]string{}
	if dims != "" {
		for _, part := range strings.Split(dims, ", ") {
			k, v, _ := strings.Cut(part, "=")
			want[k] = v
		}
	}
	var def *kpis.Definition
	for _, d := range f.cat.Versions(id) {
		if d.Version == version {
			def = d
		}
	}
	require.NotNil(t, def, "%s v%d is not in the catalog", id, version)
	for _, w := range f.truth.KPIs[id] {
		if w.PeriodStart != "" && w.PeriodStart != start || len(w.Dims) != len(want) {
			continue
		}
		same := true
		for k, v := range want {
			same = same && w.Dims[k] == v
		}
		if !same {
			continue
		}
		if w.Value == nil {
			return kpis.None, nil, w.Denominator, true
		}
		return def.Status(*w.Value), w.Value, w.Denominator, true
	}
	return "", nil, nil, false
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err)
	return v
}
