package dvsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRestore: a restore brings back every row as it was at the snapshot —
// values and (lower) versionnumbers, deletes undone, creates gone — and
// the truth; delta and paging links from before are refused, new ones
// work, and changes after the restore reuse version numbers.
func TestRestore(t *testing.T) {
	s := start(t, Options{Seed: 24, Scale: 300})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	api := s.URL() + "/api/data/v9.2/"
	records := func() map[string][]map[string]any {
		out := map[string][]map[string]any{}
		for _, st := range trackedSets(s) {
			out[st[2]] = s.Records(st[2])
		}
		return out
	}
	s.Mutate(10, 10, 5)
	snap := s.Snapshot()
	before, truthBefore := records(), s.Truth()
	_, oldDelta, _ := walk(t, s, tok, api+"leads?$select=subject,versionnumber", "odata.track-changes", "leadid")
	first := get(t, s, tok, api+"leads?$select=subject", "odata.track-changes, odata.maxpagesize=50")
	oldNext, _ := first.body["@odata.nextLink"].(string)
	if oldDelta == "" || oldNext == "" {
		t.Fatalf("no links: delta %q next %q", oldDelta, oldNext)
	}

	mutated := s.Mutate(30, 40, 20)
	maxAfterMutate := maxVersion(t, s.Records("lead"))
	res := s.Restore(snap, RestoreOptions{})
	if !reflect.DeepEqual(before, records()) {
		t.Fatal("records differ from the snapshot's")
	}
	if !reflect.DeepEqual(truthBefore, s.Truth()) {
		t.Fatal("truth differs from the snapshot's")
	}
	for _, name := range []string{"lead", "contact", "opportunity"} {
		if res.Reverted[name] == 0 || res.Dropped[name] == 0 {
			t.Errorf("%s: restore result %+v", name, res)
		}
	}
	undeleted := 0
	for name := range mutated.Deleted {
		undeleted += res.Undeleted[name]
	}
	if undeleted == 0 {
		t.Errorf("no delete undone: %+v", res)
	}

	// links from before are refused as Dataverse refuses an expired token
	if r := get(t, s, tok, oldDelta, ""); r.status != 400 || !strings.Contains(r.raw, codeExpiredVersion) {
		t.Fatalf("old delta link: %d %s", r.status, r.raw)
	}
	if r := get(t, s, tok, oldNext, "odata.track-changes, odata.maxpagesize=50"); r.status != 400 || !strings.Contains(r.raw, "skiptoken") {
		t.Fatalf("old next link: %d %s", r.status, r.raw)
	}

	// a new baseline works and its delta link too, at once
	ids, delta, _ := walk(t, s, tok, api+"leads?$select=subject,versionnumber", "odata.track-changes, odata.maxpagesize=100", "leadid")
	if len(ids) != len(before["lead"]) || delta == "" {
		t.Fatalf("baseline after restore: %d rows (want %d), delta %q", len(ids), len(before["lead"]), delta)
	}
	if r := get(t, s, tok, delta, ""); r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Fatalf("delta right after the restore: %d %s", r.status, r.raw)
	}
	// new changes take version numbers used before the restore
	s.Mutate(5, 30, 0)
	var changed []string
	for _, r := range s.Records("lead") {
		if v, _ := r["versionnumber"].(json.Number).Int64(); v > maxVersion(t, before["lead"]) {
			changed = append(changed, fmt.Sprint(r["leadid"]))
			if v > maxAfterMutate {
				t.Fatalf("version %d after the restore is above every version before it (%d)", v, maxAfterMutate)
			}
		}
	}
	if len(changed) == 0 {
		t.Fatal("no lead changed after the restore")
	}
	ids, _, _ = walk(t, s, tok, delta, "", "leadid")
	if len(ids) != len(changed) {
		t.Fatalf("delta after the restore: %d rows, %d changed", len(ids), len(changed))
	}
}

func maxVersion(t *testing.T, recs []map[string]any) int64 {
	t.Helper()
	var m int64
	for _, r := range recs {
		v, err := r["versionnumber"].(json.Number).Int64()
		if err != nil {
			t.Fatal(err)
		}
		m = max(m, v)
	}
	return m
}

func TestRestoreHTTP(t *testing.T) {
	s := start(t, Options{Seed: 25, Scale: 200})
	post := func(path string) (int, map[string]any) {
		r, err := s.Client().Post(s.URL()+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		return r.StatusCode, body
	}
	before := s.Records("lead")
	code, body := post("/_sim/snapshot")
	if code != http.StatusOK || body["snapshot"] != 1.0 {
		t.Fatalf("snapshot: %d %v", code, body)
	}
	s.Mutate(10, 20, 10)
	if code, body := post("/_sim/restore"); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body), "snapshot=") {
		t.Fatalf("restore without a snapshot: %d %v", code, body)
	}
	if code, _ := post("/_sim/restore?snapshot=2"); code != http.StatusBadRequest {
		t.Fatalf("restore of an unknown snapshot: %d", code)
	}
	code, body = post("/_sim/restore?snapshot=1")
	if code != http.StatusOK || body["snapshot"] != 1.0 || body["reverted"] == nil {
		t.Fatalf("restore: %d %v", code, body)
	}
	if !reflect.DeepEqual(before, s.Records("lead")) {
		t.Fatal("leads differ from the snapshot's")
	}
}

// TestRestoreKeepingLinks: with KeepLinks a delta link from before the
// restore is answered by its version: nothing above it, and a next link at
// the current, lower version.
func TestRestoreKeepingLinks(t *testing.T) {
	s := start(t, Options{Seed: 26, Scale: 200})
	tok := s.testToken(t, s.URL(), time.Now().Add(time.Hour))
	snap := s.Snapshot()
	s.Mutate(10, 30, 5)
	_, old, _ := walk(t, s, tok, s.URL()+"/api/data/v9.2/leads?$select=subject", "odata.track-changes", "leadid")
	s.Restore(snap, RestoreOptions{KeepLinks: true})
	s.Mutate(2, 5, 0)
	r := get(t, s, tok, old, "")
	if r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Fatalf("old delta link: %d %s", r.status, r.raw)
	}
	next, _ := r.body["@odata.deltaLink"].(string)
	v := func(link string) int64 {
		tok, _ := url.QueryUnescape(link[strings.Index(link, "$deltatoken=")+len("$deltatoken="):])
		n, err := strconv.ParseInt(tok[:strings.IndexByte(tok, '!')], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if v(next) >= v(old) {
		t.Fatalf("next token version %d, old %d", v(next), v(old))
	}
}
