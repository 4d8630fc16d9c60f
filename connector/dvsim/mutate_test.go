package dvsim

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// trackedSets lists every entity set with its key and logical name.
func trackedSets(s *Server) [][3]string {
	var out [][3]string
	for _, t := range s.tables {
		out = append(out, [3]string{t.set, t.pk, t.logical})
	}
	return out
}

func TestMutateAllTablesAndDelta(t *testing.T) {
	s := start(t, Options{Seed: 21, Scale: 600})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	api := s.URL() + "/api/data/v9.2/"
	links := map[string]string{}
	maxVer := map[string]int64{}
	for _, st := range trackedSets(s) {
		ids, delta, _ := walk(t, s, tok, api+st[0]+"?$select=modifiedon,versionnumber", "odata.track-changes, odata.maxpagesize=500", st[1])
		if delta == "" || len(ids) != len(s.Records(st[2])) {
			t.Fatalf("%s: baseline %d rows, deltaLink %q", st[0], len(ids), delta)
		}
		links[st[0]] = delta
		for _, r := range s.Records(st[2]) {
			v, _ := r["versionnumber"].(json.Number).Int64()
			maxVer[st[0]] = max(maxVer[st[0]], v)
		}
	}
	before := s.Truth()
	res := s.Mutate(40, 40, 22)

	// every table is reached; system users are only updated
	for _, st := range trackedSets(s) {
		name := st[2]
		if name == "systemuser" {
			if len(res.Created[name])+len(res.Deleted[name]) != 0 || len(res.Updated[name]) == 0 {
				t.Fatalf("systemuser: %d created, %d updated, %d deleted", len(res.Created[name]), len(res.Updated[name]), len(res.Deleted[name]))
			}
			continue
		}
		if name == "phonecall" || name == "email" || name == "task" || name == "appointment" {
			continue // the activity types share the batch's activity operations
		}
		if len(res.Created[name]) == 0 || len(res.Updated[name]) == 0 || len(res.Deleted[name]) == 0 {
			t.Fatalf("%s: %d created, %d updated, %d deleted", name, len(res.Created[name]), len(res.Updated[name]), len(res.Deleted[name]))
		}
	}
	// the delta of every set returns exactly the changes, with new versions
	for _, st := range trackedSets(s) {
		set, key, name := st[0], st[1], st[2]
		want := map[string]bool{}
		for _, id := range append(slices.Clone(res.Created[name]), res.Updated[name]...) {
			want[id] = true
		}
		for _, id := range res.Deleted[name] {
			if want[id] {
				t.Fatalf("%s: %s both changed and deleted", name, id)
			}
			want["deleted:"+id] = true
		}
		var got []string
		u := links[set]
		for u != "" {
			r := get(t, s, tok, u, "odata.maxpagesize=9")
			if r.status != 200 {
				t.Fatalf("%s: %d %s", set, r.status, r.raw)
			}
			for _, v := range r.body["value"].([]any) {
				m := v.(map[string]any)
				if id, ok := m[key].(string); ok {
					got = append(got, id)
					if ver := int64(m["versionnumber"].(float64)); ver <= maxVer[set] {
						t.Fatalf("%s %s: versionnumber %d not above the baseline's %d", set, id, ver, maxVer[set])
					}
				} else {
					if !strings.HasSuffix(m["@odata.context"].(string), "$metadata#"+set+"/$deletedEntity") || m["reason"] != "deleted" {
						t.Fatalf("%s: deleted entry %v", set, m)
					}
					got = append(got, "deleted:"+m["id"].(string))
				}
			}
			u, _ = r.body["@odata.nextLink"].(string)
		}
		gotSet := map[string]bool{}
		for _, id := range got {
			if gotSet[id] {
				t.Fatalf("%s: %s twice in the delta", set, id)
			}
			gotSet[id] = true
		}
		for id := range want {
			if !gotSet[id] {
				t.Fatalf("%s: delta misses %s", set, id)
			}
		}
		if len(gotSet) != len(want) {
			t.Fatalf("%s: delta has %d entries, want %d", set, len(gotSet), len(want))
		}
	}
	// referential sanity: no live row points at a deleted one
	for _, tb := range s.tables {
		if tb.owner != tb {
			continue
		}
		for _, c := range tb.storage() {
			if c.kind != kLookup {
				continue
			}
			for row := int32(0); row < tb.n; row++ {
				if tb.deleted[row] {
					continue
				}
				if tgt, idx := c.lookup(row); tgt != nil && !tgt.alive(idx) {
					t.Fatalf("%s %s.%s points at deleted %s %s", tb.logical, tb.guid(row), c.name, tgt.logical, tgt.guid(idx))
				}
			}
		}
	}
	// the truth follows
	after := s.Truth()
	for _, st := range trackedSets(s) {
		if n := len(s.Records(st[2])); after.Tables[st[2]].Count != n {
			t.Fatalf("truth %s: count %d, records %d", st[2], after.Tables[st[2]].Count, n)
		}
	}
	if after.Tables["lead"].Count == before.Tables["lead"].Count && after.Conversions == before.Conversions {
		t.Fatal("truth did not change")
	}
	if len(after.Duplicates["lead"]) <= len(before.Duplicates["lead"])-len(res.Deleted["lead"]) {
		t.Fatalf("lead duplicate groups: %d before, %d after", len(before.Duplicates["lead"]), len(after.Duplicates["lead"]))
	}
	for name, groups := range after.Duplicates {
		for _, g := range groups {
			for _, id := range g.IDs {
				if s.byLogical[name].rowOf(id) < 0 || !s.byLogical[name].alive(s.byLogical[name].rowOf(id)) {
					t.Fatalf("duplicate group %s lists dead %s", name, id)
				}
			}
		}
	}

	// determinism: same seed, same Now, same clock → same batch
	clock := func() time.Time { return s.now.Add(10 * time.Hour) }
	a := start(t, Options{Seed: 21, Scale: 300, Now: s.now, Clock: clock})
	b := start(t, Options{Seed: 21, Scale: 300, Now: s.now, Clock: clock})
	ra, _ := json.Marshal(a.Mutate(30, 30, 15))
	rb, _ := json.Marshal(b.Mutate(30, 30, 15))
	if string(ra) != string(rb) {
		t.Fatal("same seed, different batches")
	}
	ja, _ := json.Marshal(a.Truth())
	jb, _ := json.Marshal(b.Truth())
	if string(ja) != string(jb) {
		t.Fatal("same batches, different truth")
	}
}

func TestMutateHTTP(t *testing.T) {
	s := start(t, Options{Seed: 22, Scale: 200})
	r, err := s.Client().Post(s.URL()+"/_sim/mutate?creates=13&updates=13&deletes=11", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var res MutateResult
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || r.StatusCode != 200 {
		t.Fatalf("%d %v", r.StatusCode, err)
	}
	if len(res.Created) < 9 || len(res.Updated) < 10 || len(res.Deleted) < 9 {
		t.Fatalf("tables reached: created %d updated %d deleted %d", len(res.Created), len(res.Updated), len(res.Deleted))
	}
}

var snakeKey = regexp.MustCompile(`^[a-z0-9_-]+$`)

func TestTruthKeysSnakeCase(t *testing.T) {
	s := start(t, Options{Seed: 23, Scale: 300})
	b, _ := json.Marshal(s.Truth())
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var check func(path string, v any)
	check = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if !snakeKey.MatchString(k) {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				check(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				check(path+"[]", e)
			}
		}
	}
	check("truth", m)
	conv := m["conversions"].(map[string]any)
	for _, k := range []string{"leads_open", "leads_qualified", "leads_disqualified", "lead_conversion_rate", "opportunities_open",
		"opportunities_won", "opportunities_lost", "win_rate", "quotes_non_revised", "quotes_with_order", "quote_to_order_rate", "sales_cycle_median_days"} {
		if _, ok := conv[k]; !ok {
			t.Errorf("conversions.%s missing: %v", k, conv)
		}
	}
	if conv["leads_qualified"].(float64) == 0 {
		t.Errorf("conversions: %v", conv)
	}
}

func TestRecordsExactNumbers(t *testing.T) {
	s := start(t, Options{Seed: 24, Scale: 200})
	recs := s.Records("opportunity")
	if len(recs) == 0 {
		t.Fatal("no opportunities")
	}
	for _, r := range recs {
		v, ok := r["versionnumber"].(json.Number)
		if !ok {
			t.Fatalf("versionnumber is %T", r["versionnumber"])
		}
		if _, err := v.Int64(); err != nil {
			t.Fatal(err)
		}
		if ev, ok := r["estimatedvalue"].(json.Number); ok && strings.Count(ev.String(), ".") > 0 && len(strings.Split(ev.String(), ".")[1]) > 2 {
			t.Fatalf("estimatedvalue %s", ev)
		}
	}
}

func TestOrderedPagingSortsOnce(t *testing.T) {
	s := start(t, Options{Seed: 25, Scale: 3000})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	for _, q := range []string{"$orderby=modifiedon desc", "$orderby=statecode asc,companyname desc&$filter=statecode ne 1", "$orderby=_ownerid_value,estimatedamount desc"} {
		sortsBefore := s.orderCache.sorts
		u := s.URL() + "/api/data/v9.2/leads?$select=modifiedon,statecode,companyname&" + strings.NewReplacer(" ", "%20").Replace(q)
		ids, _, pages := walk(t, s, tok, u, "odata.maxpagesize=101", "leadid")
		if n := s.orderCache.sorts - sortsBefore; n != 1 {
			t.Fatalf("%s: %d sorts for %d pages", q, n, pages)
		}
		// every matching row exactly once
		want := 0
		for _, r := range s.Records("lead") {
			if !strings.Contains(q, "statecode ne 1") || r["statecode"].(json.Number).String() != "1" {
				want++
			}
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s: %s twice", q, id)
			}
			seen[id] = true
		}
		if len(ids) != want || pages < 10 {
			t.Fatalf("%s: %d rows in %d pages, want %d", q, len(ids), pages, want)
		}
	}
	// a change between pages re-sorts (same results as sorting every page) and keeps going
	u := s.URL() + "/api/data/v9.2/leads?$select=modifiedon&$orderby=modifiedon%20asc,leadid%20asc"
	r := get(t, s, tok, u, "odata.maxpagesize=500")
	next, _ := r.body["@odata.nextLink"].(string)
	sortsBefore := s.orderCache.sorts
	s.Mutate(5, 5, 0)
	ids, _, _ := walk(t, s, tok, next, "odata.maxpagesize=500", "leadid")
	if s.orderCache.sorts-sortsBefore != 1 || len(ids) == 0 {
		t.Fatalf("after a change: %d sorts, %d rows", s.orderCache.sorts-sortsBefore, len(ids))
	}
}

func TestDeltaTokenRetention(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := start(t, Options{Seed: 26, Scale: 200, Clock: clock})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	_, delta, _ := walk(t, s, tok, s.URL()+"/api/data/v9.2/leads?$select=modifiedon", "odata.track-changes", "leadid")
	tokText, _ := url.QueryUnescape(delta[strings.Index(delta, "$deltatoken=")+len("$deltatoken="):])
	if want := now.Format("01/02/2006 15:04:05"); !strings.HasSuffix(tokText, want) {
		t.Fatalf("token %q, want the clock's %s", tokText, want)
	}
	advance(6 * 24 * time.Hour)
	res := s.Mutate(3, 0, 0)
	got, next, _ := walk(t, s, tok, delta, "", "leadid")
	if next == "" || len(got) != len(res.Created["lead"]) {
		t.Fatalf("6 days old: %d rows, want %d", len(got), len(res.Created["lead"]))
	}
	advance(2 * 24 * time.Hour) // the first token is 8 days old, the second 2
	if r := get(t, s, tok, delta, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
		t.Fatalf("8 days old: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, next, ""); r.status != 200 {
		t.Fatalf("2 days old: %d %s", r.status, r.raw)
	}
	s2 := start(t, Options{Seed: 26, Scale: 100, Clock: clock, ChangeRetention: time.Hour})
	tok2 := s2.testToken(t, s2.URL(), time.Now().Add(time.Hour))
	_, d2, _ := walk(t, s2, tok2, s2.URL()+"/api/data/v9.2/leads?$select=modifiedon", "odata.track-changes", "leadid")
	advance(2 * time.Hour)
	if r := get(t, s2, tok2, d2, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
		t.Fatalf("retention 1h, 2h old: %d %s", r.status, r.raw)
	}
}

func TestChangeTrackingSwitches(t *testing.T) {
	s := start(t, Options{Seed: 27, Scale: 100, Faults: Faults{NoChangeTracking: []string{"incident"}}})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	api := s.URL() + "/api/data/v9.2/"
	untracked := func(set string) bool {
		r := get(t, s, tok, api+set+"?$select=createdon", "odata.track-changes")
		return r.status == 400 && strings.Contains(r.raw, "isn't enabled for change tracking")
	}
	s.SetFaults(Faults{ErrorRate: 0}) // nil list: tracking as it was
	if !untracked("incidents") || untracked("leads") {
		t.Fatal("SetFaults without a list changed change tracking")
	}
	_, leadDelta, _ := walk(t, s, tok, api+"leads?$select=createdon", "odata.track-changes", "leadid")
	if err := s.SetChangeTracking("lead", false); err != nil {
		t.Fatal(err)
	}
	if !untracked("leads") {
		t.Fatal("lead still tracked")
	}
	if err := s.SetChangeTracking("lead", true); err != nil || untracked("leads") {
		t.Fatal("lead not tracked again")
	}
	if r := get(t, s, tok, leadDelta, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
		t.Fatalf("token from before tracking was turned on again: %d %s", r.status, r.raw)
	}
	s.SetFaults(Faults{NoChangeTracking: []string{}})
	if untracked("incidents") {
		t.Fatal("an empty list did not turn tracking on")
	}
	s.SetFaults(Faults{NoChangeTracking: []string{"account"}})
	if !untracked("accounts") || untracked("incidents") {
		t.Fatal("a list did not set tracking exactly")
	}
	if err := s.SetChangeTracking("nosuch", true); err == nil {
		t.Fatal("unknown table accepted")
	}
}

// TestVersionsFollowModifiedOn: in a fresh simulator, as in Dataverse
// (rowversion), a row modified later has a higher versionnumber, across
// every table; so does a row a mutation changes afterwards.
func TestVersionsFollowModifiedOn(t *testing.T) {
	s := start(t, Options{Seed: 23, Scale: 400})
	type stamp struct {
		mod   time.Time
		ver   int64
		where string
	}
	read := func() []stamp {
		var all []stamp
		for _, st := range trackedSets(s) {
			for _, r := range s.Records(st[2]) {
				v, err := r["versionnumber"].(json.Number).Int64()
				if err != nil {
					t.Fatalf("%s: versionnumber %v: %v", st[2], r["versionnumber"], err)
				}
				m, err := time.Parse(time.RFC3339, r["modifiedon"].(string))
				if err != nil {
					t.Fatalf("%s: modifiedon %v: %v", st[2], r["modifiedon"], err)
				}
				all = append(all, stamp{m, v, st[2] + " " + r[st[1]].(string)})
			}
		}
		slices.SortFunc(all, func(a, b stamp) int { return int(a.ver - b.ver) })
		return all
	}
	check := func(stage string, all []stamp) {
		if len(all) < 1000 {
			t.Fatalf("%s: only %d rows", stage, len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].mod.Before(all[i-1].mod) {
				t.Fatalf("%s: %s (version %d) modified %s, before %s (version %d) modified %s",
					stage, all[i].where, all[i].ver, all[i].mod, all[i-1].where, all[i-1].ver, all[i-1].mod)
			}
		}
	}
	before := read()
	check("generated", before)
	s.Mutate(20, 30, 10)
	after := read()
	check("after a mutation", after)
	if after[len(after)-1].ver <= before[len(before)-1].ver {
		t.Fatalf("a mutation left the newest version at %d (was %d)", after[len(after)-1].ver, before[len(before)-1].ver)
	}
}
