package serve_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// canon writes a value of the feed's JSON as comparable text.
func canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		d, err := decimal.NewFromString(x.String())
		if err != nil {
			return "bad number " + x.String()
		}
		return d.String()
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprintf("%T %v", v, v)
}

// want is a lead as the feed must serve it, each value as canon writes it.
func want(l lead, boolType string) map[string]string {
	m := map[string]string{
		"lead_id":  l.id.String(),
		"name":     l.name,
		"email":    "null",
		"revenue":  l.revenue.String(),
		"created":  l.created.Format("2006-01-02"),
		"modified": l.modified.Format(time.RFC3339),
		"score":    strconv.FormatInt(l.score, 10),
		"rating":   decimal.NewFromFloat(l.rating).String(),
		"owner_id": "null",
	}
	if l.email != nil {
		m["email"] = *l.email
	}
	if l.owner != nil {
		m["owner_id"] = l.owner.String()
	}
	m["active"] = strconv.FormatBool(l.active)
	if boolType == "UInt8" {
		m["active"] = map[bool]string{true: "1", false: "0"}[l.active]
	}
	return m
}

func canonRow(r map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range r {
		out[k] = canon(v)
	}
	return out
}

// readAll reads a collection the way Power BI does: the URL as given,
// then every @odata.nextLink until there is none. It checks the headers
// of every page.
func readAll(t *testing.T, u string, hdr ...string) (rows []map[string]string, pages int) {
	t.Helper()
	for u != "" {
		r := get(t, u, hdr...)
		require.Equal(t, []string{"4.0"}, r.header.Values("OData-Version"), "exactly one OData-Version header")
		require.Equal(t, "application/json; odata.metadata=minimal", r.header.Get("Content-Type"))
		p := decodePage(t, r)
		for _, v := range p.Value {
			rows = append(rows, canonRow(v))
		}
		pages++
		require.Less(t, pages, 10000, "the nextLinks never end")
		u = p.NextLink
	}
	return rows, pages
}

// requireLeads checks that rows are the leads of snapshot n, each once.
func requireLeads(t *testing.T, f *fixture, n uint64, rows []map[string]string) {
	t.Helper()
	truth := map[string]map[string]string{}
	for _, l := range f.leads[n] {
		truth[l.id.String()] = want(l, f.st.Dialect().Bool())
	}
	served := map[string]map[string]string{}
	for _, row := range rows {
		require.NotContains(t, served, row["lead_id"], "a row served twice")
		served[row["lead_id"]] = row
	}
	require.Equal(t, truth, served)
}

// metadataDoc is the part of CSDL the client reads.
type metadataDoc struct {
	XMLName      xml.Name `xml:"Edmx"`
	Version      string   `xml:"Version,attr"`
	DataServices struct {
		Schema struct {
			Namespace   string `xml:"Namespace,attr"`
			EntityTypes []struct {
				Name string `xml:"Name,attr"`
				Key  struct {
					Refs []struct {
						Name string `xml:"Name,attr"`
					} `xml:"PropertyRef"`
				} `xml:"Key"`
				Properties []struct {
					Name      string `xml:"Name,attr"`
					Type      string `xml:"Type,attr"`
					Nullable  string `xml:"Nullable,attr"`
					Precision string `xml:"Precision,attr"`
					Scale     string `xml:"Scale,attr"`
				} `xml:"Property"`
			} `xml:"EntityType"`
			Container struct {
				Name string `xml:"Name,attr"`
				Sets []struct {
					Name       string `xml:"Name,attr"`
					EntityType string `xml:"EntityType,attr"`
				} `xml:"EntitySet"`
			} `xml:"EntityContainer"`
		} `xml:"Schema"`
	} `xml:"DataServices"`
}

// TestPowerBIReadsEverySet is Power BI's refresh: the service document,
// $metadata, then every entity set without $top, following every
// nextLink; it gets exactly the rows of the current snapshot, on both
// engines, with a page size that splits the set unevenly.
func TestPowerBIReadsEverySet(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			f.publish(t, 1, makeLeads(60, " v1"))
			f.publish(t, 2, makeLeads(131, ""))
			ts := startServer(t, f, serve.Options{PageSize: 25})

			r := get(t, ts.url+"/odata/")
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			require.Equal(t, []string{"4.0"}, r.header.Values("OData-Version"))
			var svc struct {
				Context string `json:"@odata.context"`
				Value   []struct{ Name, Kind, URL string }
			}
			require.NoError(t, json.Unmarshal(r.body, &svc))
			require.Equal(t, ts.url+"/odata/$metadata", svc.Context)

			r = get(t, ts.url+"/odata/$metadata")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, []string{"4.0"}, r.header.Values("OData-Version"))
			require.Equal(t, "application/xml", r.header.Get("Content-Type"))
			var md metadataDoc
			require.NoError(t, xml.Unmarshal(r.body, &md), "%s", r.body)
			require.Equal(t, "4.0", md.Version)
			types := map[string]map[string]string{}
			for _, et := range md.DataServices.Schema.EntityTypes {
				require.NotEmpty(t, et.Key.Refs, "entity type %s has a key", et.Name)
				props := map[string]string{}
				for _, p := range et.Properties {
					props[p.Name] = p.Type + " nullable=" + p.Nullable + " " + p.Precision + "," + p.Scale
				}
				for _, k := range et.Key.Refs {
					require.Contains(t, props, k.Name)
				}
				types[et.Name] = props
			}
			boolEdm := "Edm.Boolean"
			if f.st.Dialect().Bool() == "UInt8" {
				boolEdm = "Edm.Int32"
			}
			assert.Equal(t, map[string]string{
				"lead_id":  "Edm.Guid nullable=false ,",
				"name":     "Edm.String nullable=false ,",
				"email":    "Edm.String nullable=true ,",
				"revenue":  "Edm.Decimal nullable=false 18,2",
				"created":  "Edm.Date nullable=false ,",
				"modified": "Edm.DateTimeOffset nullable=false ,",
				"score":    "Edm.Int64 nullable=false ,",
				"active":   boolEdm + " nullable=false ,",
				"rating":   "Edm.Double nullable=false ,",
				"owner_id": "Edm.Guid nullable=true ,",
			}, types["leads"], "Edm types follow the ClickHouse columns; _snapshot is not served")

			got := map[string]int{}
			for _, set := range md.DataServices.Schema.Container.Sets {
				require.Equal(t, "Ampel."+set.Name, set.EntityType)
				rows, pages := readAll(t, ts.url+"/odata/"+set.Name)
				got[set.Name] = len(rows)
				if set.Name != "leads" {
					require.Empty(t, rows)
					continue
				}
				require.Equal(t, 6, pages, "131 rows in pages of 25")
				requireLeads(t, f, 2, rows)
			}
			require.Equal(t, map[string]int{"leads": 131, "empty": 0}, got)
			require.Len(t, svc.Value, 2)
		})
	}
}

// filterCases are $filter expressions and the same condition in Go.
var filterCases = []struct {
	filter string
	keep   func(l lead) bool
}{
	{"score eq 3", func(l lead) bool { return l.score == 3 }},
	{"score ne 3", func(l lead) bool { return l.score != 3 }},
	{"score gt 3 and score le 7", func(l lead) bool { return l.score > 3 && l.score <= 7 }},
	{"score lt -2 or score ge 10", func(l lead) bool { return l.score < -2 || l.score >= 10 }},
	{"not (score lt 0)", func(l lead) bool { return !(l.score < 0) }},
	{"-3 lt score", func(l lead) bool { return l.score > -3 }},
	{"name eq 'O''Brien'", func(l lead) bool { return l.name == "O'Brien" }},
	{"contains(name,'%')", func(l lead) bool { return strings.Contains(l.name, "%") }},
	{"contains(name,'_')", func(l lead) bool { return strings.Contains(l.name, "_") }},
	{`contains(name,'\')`, func(l lead) bool { return strings.Contains(l.name, `\`) }},
	{"startswith(name,'Sm')", func(l lead) bool { return strings.HasPrefix(l.name, "Sm") }},
	{"endswith(name,'ë')", func(l lead) bool { return strings.HasSuffix(l.name, "ë") }},
	{"startswith(tolower(name),'sm')", func(l lead) bool { return strings.HasPrefix(strings.ToLower(l.name), "sm") }},
	{"email eq null", func(l lead) bool { return l.email == nil }},
	{"email ne null", func(l lead) bool { return l.email != nil }},
	{"email ne 'lead1@example.com'", func(l lead) bool { return l.email == nil || *l.email != "lead1@example.com" }},
	{"not (email eq 'lead1@example.com')", func(l lead) bool { return l.email == nil || *l.email != "lead1@example.com" }},
	{"contains(email,'1')", func(l lead) bool { return l.email != nil && strings.Contains(*l.email, "1") }},
	{"modified ge 2024-05-20T00:00:00Z and modified lt 2024-06-10T00:00:00Z", func(l lead) bool {
		return !l.modified.Before(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)) && l.modified.Before(time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC))
	}},
	{"modified ge 2024-05-20T02:00:00+02:00", func(l lead) bool { return !l.modified.Before(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)) }},
	{"modified ge 2024-05-20T00:00:00.5Z", func(l lead) bool { return l.modified.After(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)) }},
	{"modified lt 2024-05-20T00:00:00.5Z", func(l lead) bool { return !l.modified.After(time.Date(2024, 5, 20, 0, 0, 0, 0, time.UTC)) }},
	{"created eq 2024-05-03", func(l lead) bool { return l.created.Equal(time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)) }},
	{"created lt 2024-05-10T12:00:00Z", func(l lead) bool { return !l.created.After(time.Date(2024, 5, 10, 0, 0, 0, 0, time.UTC)) }},
	{"revenue gt 500.5", func(l lead) bool { return l.revenue.GreaterThan(decimal.RequireFromString("500.5")) }},
	{"revenue le 100", func(l lead) bool { return l.revenue.LessThanOrEqual(decimal.NewFromInt(100)) }},
	{"rating ge 1.25", func(l lead) bool { return l.rating >= 1.25 }},
	{"lead_id eq " + makeLeads(8, "")[7].id.String(), func(l lead) bool { return l.id == makeLeads(8, "")[7].id }},
	{"owner_id eq " + strings.ToUpper(makeLeads(2, "")[1].owner.String()), func(l lead) bool {
		return l.owner != nil && *l.owner == *makeLeads(2, "")[1].owner
	}},
	{"owner_id ne " + makeLeads(2, "")[1].owner.String(), func(l lead) bool { return l.owner == nil || *l.owner != *makeLeads(2, "")[1].owner }},
	{"score in (1, 2, -5)", func(l lead) bool { return l.score == 1 || l.score == 2 || l.score == -5 }},
	{"name in ('Smith', 'Zoë')", func(l lead) bool { return l.name == "Smith" || l.name == "Zoë" }},
	{"active", func(l lead) bool { return l.active }},
	{"not active and score gt 0", func(l lead) bool { return !l.active && l.score > 0 }},
}

func TestQueryOptions(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			leads := makeLeads(97, "")
			f.publish(t, 1, leads)
			ts := startServer(t, f, serve.Options{PageSize: 10})
			big := startServer(t, f, serve.Options{PageSize: 1000}) // one page per filter: paging is tested below
			boolType := f.st.Dialect().Bool()
			byID := map[string]lead{}
			for _, l := range leads {
				byID[l.id.String()] = l
			}
			ids := func(rows []map[string]string) []string {
				var out []string
				for _, r := range rows {
					out = append(out, r["lead_id"])
				}
				sort.Strings(out)
				return out
			}

			t.Run("filter", func(t *testing.T) {
				for _, c := range filterCases {
					if c.filter == "active" && boolType == "UInt8" {
						continue // a UInt8 column is an Edm.Int32: not a condition
					}
					if strings.HasPrefix(c.filter, "not active") && boolType == "UInt8" {
						continue
					}
					var wantIDs []string
					for _, l := range leads {
						if c.keep(l) {
							wantIDs = append(wantIDs, l.id.String())
						}
					}
					sort.Strings(wantIDs)
					rows, _ := readAll(t, big.url+"/odata/leads?$filter="+url.QueryEscape(c.filter))
					assert.Equal(t, wantIDs, ids(rows), c.filter)
					r := get(t, big.url+"/odata/leads/$count?$filter="+url.QueryEscape(c.filter))
					require.Equal(t, http.StatusOK, r.status, "%s: %s", c.filter, r.body)
					assert.Equal(t, strconv.Itoa(len(wantIDs)), string(r.body), c.filter)
				}
			})

			t.Run("count", func(t *testing.T) {
				r := get(t, ts.url+"/odata/leads/$count")
				require.Equal(t, http.StatusOK, r.status)
				require.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
				require.Equal(t, []string{"4.0"}, r.header.Values("OData-Version"))
				require.Equal(t, "97", string(r.body))
				p := decodePage(t, get(t, ts.url+"/odata/leads?$count=true&$filter=score%20gt%200"))
				n := 0
				for _, l := range leads {
					if l.score > 0 {
						n++
					}
				}
				require.NotNil(t, p.Count)
				require.Equal(t, int64(n), *p.Count)
				require.Len(t, p.Value, 10)
				odataError(t, get(t, ts.url+"/odata/leads/$count?$top=1"), http.StatusBadRequest)
			})

			t.Run("select", func(t *testing.T) {
				rows, _ := readAll(t, ts.url+"/odata/leads?$select=name,score")
				require.Len(t, rows, len(leads))
				for _, r := range rows {
					require.Len(t, r, 2)
					require.Contains(t, r, "name")
					require.Contains(t, r, "score")
				}
				p := decodePage(t, get(t, ts.url+"/odata/leads?$select=name,score,name"))
				require.Equal(t, ts.url+"/odata/$metadata#leads(name,score)", p.Context, "a property named twice is served once")
				msg := odataError(t, get(t, ts.url+"/odata/leads?$select=nope"), http.StatusBadRequest)
				require.Contains(t, msg, "nope is not a property of leads")
			})

			t.Run("orderby", func(t *testing.T) {
				rows, pages := readAll(t, ts.url+"/odata/leads?$orderby="+url.QueryEscape("score desc,email"))
				require.Equal(t, 10, pages)
				sorted := append([]lead(nil), leads...)
				sort.SliceStable(sorted, func(i, j int) bool {
					a, b := sorted[i], sorted[j]
					if a.score != b.score {
						return a.score > b.score
					}
					if (a.email == nil) != (b.email == nil) {
						return b.email == nil // NULLs last
					}
					return a.email != nil && *a.email < *b.email
				})
				require.Len(t, rows, len(sorted))
				// ties are broken by the key, in the engine's order of UUIDs
				for i := range sorted {
					w := want(sorted[i], boolType)
					require.Equal(t, w["score"]+" "+w["email"], rows[i]["score"]+" "+rows[i]["email"], "row %d", i)
				}
				require.ElementsMatch(t, ids(rows), ids(func() (out []map[string]string) {
					for _, l := range leads {
						out = append(out, want(l, boolType))
					}
					return out
				}()))
				odataError(t, get(t, ts.url+"/odata/leads?$orderby=nope"), http.StatusBadRequest)
			})

			t.Run("top and skip", func(t *testing.T) {
				all, _ := readAll(t, ts.url+"/odata/leads?$orderby=modified")
				require.Len(t, all, 97)
				rows, pages := readAll(t, ts.url+"/odata/leads?$orderby=modified&$top=23&$skip=5")
				require.Equal(t, 3, pages, "23 rows in pages of 10")
				require.Equal(t, all[5:28], rows)
				rows, _ = readAll(t, ts.url+"/odata/leads?$top=0")
				require.Empty(t, rows)
				rows, _ = readAll(t, ts.url+"/odata/leads?$skip=95")
				require.Len(t, rows, 2)
				odataError(t, get(t, ts.url+"/odata/leads?$top=-1"), http.StatusBadRequest)
			})

			t.Run("maxpagesize", func(t *testing.T) {
				r := get(t, ts.url+"/odata/leads", "Prefer", "odata.maxpagesize=4")
				p := decodePage(t, r)
				require.Len(t, p.Value, 4)
				require.Equal(t, "odata.maxpagesize=4", r.header.Get("Preference-Applied"))
				rows, pages := readAll(t, ts.url+"/odata/leads", "Prefer", "odata.maxpagesize=40")
				require.Len(t, rows, 97)
				require.Equal(t, 10, pages, "the server's page size (10) is smaller than the client's")
			})

			t.Run("errors", func(t *testing.T) {
				for _, c := range []struct{ path, msg string }{
					{"/odata/nope", `"nope" is not an entity set`},
					{"/odata/leads?$expand=x", "$expand is not supported"},
					{"/odata/leads?$filter=" + url.QueryEscape("name eq"), "$filter: syntax error"},
					{"/odata/leads?$filter=" + url.QueryEscape("score eq 'x'"), "score is a Edm.Int64"},
					{"/odata/leads?$filter=" + url.QueryEscape("nope eq 1"), "nope is not a property"},
					{"/odata/leads?$filter=" + url.QueryEscape("length(name) eq 1"), `unknown function "length"`},
					{"/odata/leads?$filter=" + url.QueryEscape("trim(name) eq 'x'"), "trim is not supported"},
					{"/odata/leads?$skiptoken=garbage", "$skiptoken is not one this feed wrote"},
					{"/odata/leads(1)", "does not address single entities"},
					{"/odata/leads?$filter=" + url.QueryEscape(strings.Repeat("score eq 1 or ", 300)+"score eq 2"), "more than 200 conditions"},
				} {
					status := http.StatusBadRequest
					if strings.HasPrefix(c.msg, `"nope"`) {
						status = http.StatusNotFound
					}
					assert.Contains(t, odataError(t, get(t, ts.url+c.path), status), c.msg, c.path)
				}
			})
		})
	}
}

// TestSnapshotPaging: a read that started on one snapshot pages through
// it to the end though a newer one was published meanwhile; once its
// snapshot is dropped, its nextLink gets 410 saying to refresh.
func TestSnapshotPaging(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			f.publish(t, 1, makeLeads(50, " old"))
			ts := startServer(t, f, serve.Options{PageSize: 20})
			p := decodePage(t, get(t, ts.url+"/odata/leads?$select=lead_id,name"))
			require.Len(t, p.Value, 20)
			require.NotEmpty(t, p.NextLink)
			for _, v := range p.Value {
				require.True(t, strings.HasSuffix(v["name"].(string), " old"))
			}
			f.publish(t, 2, makeLeads(70, " new"))
			rows, _ := readAll(t, p.NextLink)
			require.Len(t, rows, 30, "the rest of snapshot 1's 50 rows")
			for _, r := range rows {
				require.True(t, strings.HasSuffix(r["name"], " old"), r["name"])
			}
			fresh, _ := readAll(t, ts.url+"/odata/leads")
			require.Len(t, fresh, 70, "a new read sees snapshot 2")

			f.drop(t, 1)
			msg := odataError(t, get(t, p.NextLink), http.StatusGone)
			require.Contains(t, msg, "refresh again")
		})
	}
}

// TestNothingPublished: before the first snapshot every set is empty.
func TestNothingPublished(t *testing.T) {
	f := newFixture(t, warehousetest.Embedded(t))
	ts := startServer(t, f, serve.Options{})
	p := decodePage(t, get(t, ts.url+"/odata/leads?$count=true"))
	require.Empty(t, p.Value)
	require.Equal(t, int64(0), *p.Count)
	require.Empty(t, p.NextLink)
}

// hostileOptions are query options that try to get SQL of their own into
// the feed's statements (the feed's rows of the hostile-statement table
// in warehouse/storetest): each is refused with 400 or reads nothing but
// its own entity set, and none has an effect.
var hostileOptions = []string{
	"$filter=" + url.QueryEscape("name eq 'x') OR 1=1 --"),
	"$filter=" + url.QueryEscape("name eq 'x'' OR ''1''=''1'"),
	"$filter=" + url.QueryEscape(`name eq 'x\' OR 1=1 --'`),
	"$filter=" + url.QueryEscape("name eq 'a'; DROP TABLE mart_leads"),
	"$filter=" + url.QueryEscape("file('/etc/passwd') eq 'x'"),
	"$filter=" + url.QueryEscape("`name` eq 'x'"),
	"$filter=" + url.QueryEscape("name eq 'x' SETTINGS readonly=0"),
	"$filter=" + url.QueryEscape("score eq 1 UNION ALL SELECT * FROM system.tables"),
	"$filter=" + url.QueryEscape("_snapshot eq 1"),
	"$filter=" + url.QueryEscape("contains(name,'%'' OR 1=1 --')"),
	"$orderby=" + url.QueryEscape("name; DROP TABLE mart_leads"),
	"$orderby=" + url.QueryEscape("(SELECT 1)"),
	"$orderby=" + url.QueryEscape("_snapshot"),
	"$select=" + url.QueryEscape("name, (SELECT * FROM system.users)"),
	"$select=" + url.QueryEscape("`name`"),
	"$select=_snapshot",
	"$top=" + url.QueryEscape("1; DROP TABLE mart_leads"),
	"$skip=" + url.QueryEscape("1 UNION SELECT 1"),
	"$skiptoken=" + url.QueryEscape("eyJzIjoxLCJrIjpbIicgT1IgMT0xIC0tIl0sInQiOi0xfQ"),
}

func TestHostileOptions(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			f := newFixture(t, cfg)
			leads := makeLeads(12, "")
			f.publish(t, 1, leads)
			ts := startServer(t, f, serve.Options{})
			names := map[string]bool{}
			for _, l := range leads {
				names[l.name] = true
			}
			for _, h := range hostileOptions {
				r := get(t, ts.url+"/odata/leads?"+h)
				if r.status == http.StatusOK {
					// only rows of the set, matching a filter that held literally
					p := decodePage(t, r)
					for _, v := range p.Value {
						require.True(t, names[fmt.Sprint(v["name"])], "%s: a row that is not a lead: %v", h, v)
					}
					require.Empty(t, p.Value, "%s matched rows", h)
					continue
				}
				odataError(t, r, http.StatusBadRequest)
			}
			require.Equal(t, uint64(12), warehousetest.QueryOne(t, f.st, "SELECT count() FROM mart_leads"), "the table is intact")
			require.Equal(t, uint64(1), warehousetest.QueryOne(t, f.st, "SELECT count() FROM mart_snapshots"))
			require.NotContains(t, ts.log.String(), "level=ERROR", "nothing reached the warehouse as an error")
		})
	}
}

// TestReadOnlyPath: every statement the feed and /healthz run is marked
// warehouse.ReadOnly, so the read-only checks of ampel sql hold for them.
func TestReadOnlyPath(t *testing.T) {
	f := newFixture(t, warehousetest.Embedded(t))
	f.publish(t, 1, makeLeads(30, ""))
	spy := &readOnlySpy{Store: f.st}
	ts := startServer(t, &fixture{st: spy, leads: f.leads}, serve.Options{Marts: marts{f}, PageSize: 7})
	rows, _ := readAll(t, ts.url+"/odata/leads?$count=true&$filter=score%20gt%200")
	require.NotEmpty(t, rows)
	require.Equal(t, "30", string(get(t, ts.url+"/odata/leads/$count").body))
	require.Equal(t, http.StatusOK, get(t, ts.url+"/healthz").status)
	require.Positive(t, spy.readOnly.Load())
	require.Zero(t, spy.other.Load(), "statements run without warehouse.ReadOnly")
}

// readOnlySpy is a real store that counts the statements run with and
// without warehouse.ReadOnly.
type readOnlySpy struct {
	warehouse.Store
	readOnly, other atomic.Int64
}

func (s *readOnlySpy) Query(ctx context.Context, q string, args ...any) (warehouse.Rows, error) {
	if warehouse.IsReadOnly(ctx) {
		s.readOnly.Add(1)
	} else {
		s.other.Add(1)
	}
	return s.Store.Query(ctx, q, args...)
}
