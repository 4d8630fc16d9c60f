package dvsim

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlantedDuplicates checks the planted groups and look-alikes: every kind of noise and
// of look-alike occurs, groups of three and four exist on every table, the same seed plants
// the same truth, and after Mutate merged and deleted records have left their groups while
// a lead group gained a member.
func TestPlantedDuplicates(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now.Add(5 * time.Hour) }
	s := start(t, Options{Seed: 8, Scale: 2000, Now: now, Clock: clock})
	tr := s.Truth()
	kinds := map[string]bool{}
	for _, table := range []string{"lead", "contact", "account"} {
		big := 0
		for _, g := range tr.Duplicates[table] {
			for _, k := range strings.Split(g.Kind, "+") {
				kinds[k] = true
			}
			if len(g.IDs) >= 3 {
				big++
			}
		}
		if big == 0 {
			t.Errorf("%s: no group of three or more", table)
		}
		look := map[string]bool{}
		for _, g := range tr.Lookalikes[table] {
			look[g.Kind] = true
			if len(g.IDs) != 2 {
				t.Fatalf("%s look-alike %v", table, g)
			}
		}
		want := []string{"same_name_other_company", "same_company_other_person", "family_shared_phone"}
		if table == "account" {
			want = []string{"same_word_other_business", "similar_name"}
		}
		for _, k := range want {
			if !look[k] {
				t.Errorf("%s: no look-alike %s", table, k)
			}
		}
	}
	for _, k := range []string{nExact, nCase, nSpace, nPhone, nLegal, nTranslit, nTypo, nSwap, nMissing, nWebsite} {
		if !kinds[k] {
			t.Errorf("no planted group with noise %s", k)
		}
	}
	// the same seed plants the same truth
	again := start(t, Options{Seed: 8, Scale: 2000, Now: now, Clock: clock})
	a, _ := json.Marshal(tr.Duplicates)
	b, _ := json.Marshal(again.Truth().Duplicates)
	if string(a) != string(b) || !reflect.DeepEqual(tr.Lookalikes, again.Truth().Lookalikes) {
		t.Fatal("same seed, other planted truth")
	}

	res := s.Mutate(40, 60, 20)
	after := s.Truth()
	merged := 0
	for _, table := range []string{"lead", "contact", "account"} {
		live := map[string]map[string]any{}
		for _, r := range s.Records(table) {
			live[r[table+"id"].(string)] = r
			if r["merged"] == true {
				merged++
				if r["_masterid_value"] == nil {
					t.Fatalf("%s %v merged without masterid", table, r[table+"id"])
				}
			}
		}
		for _, g := range after.Duplicates[table] {
			if len(g.IDs) < 2 {
				t.Fatalf("%s group %v", table, g)
			}
			for _, id := range g.IDs {
				r, ok := live[id]
				if !ok || r["merged"] == true {
					t.Fatalf("%s group lists %s, deleted or merged", table, id)
				}
			}
		}
	}
	if merged == 0 {
		t.Fatal("Mutate merged nothing")
	}
	grown := false
	for _, g := range after.Duplicates["lead"] {
		for _, id := range g.IDs {
			if slices.Contains(res.Created["lead"], id) && len(g.IDs) >= 2 {
				grown = true
			}
		}
	}
	if !grown {
		t.Fatal("no created lead joined a planted group")
	}
}
