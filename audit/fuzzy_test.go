package audit

import (
	"slices"
	"testing"
)

var leadCols = []string{"firstname", "lastname", "emailaddress1", "telephone1", "mobilephone", "companyname", "address1_city"}

// fuzzy runs the default lead model over rows (columns leadCols) and returns its groups.
func fuzzy(t *testing.T, rows ...[]string) ([]*Group, Stats) {
	t.Helper()
	m := DefaultModels()[0].withDefaults()
	d := testData("lead", leadCols, rows...)
	var st Stats
	gs, err := fuzzyGroups(t.Context(), d, m, func(string) string { return "49" }, 2, &st)
	if err != nil {
		t.Fatal(err)
	}
	return gs, st
}

// filler rows make the names common and the test's values rare, as in a real table.
func filler(n int) [][]string {
	var out [][]string
	for i := 0; i < n; i++ {
		first := []string{"Anna", "Peter", "Julia", "Max"}[i%4]
		out = append(out, []string{first, "Weber", "", "", "", "", "Berlin"})
	}
	return out
}

func TestFuzzyMatchesNoiseAndExplains(t *testing.T) {
	rows := [][]string{
		{"Jürgen", "Weiß", "juergen.weiss@bamoku.example", "+49 (69) 303 03 03", "", "Bamoku Systems GmbH", "Köln"},
		{"Weiss", "Juergen", "", "069 3030303", "", "BAMOKU SYSTEMS", "Koeln"}, // swapped, transliterated, no e-mail
		{"Jürgen", "Weiss", "juergen.weiss@bamoku.example", "", "", "Bamokku Systems G.m.b.H.", ""},
	}
	gs, st := fuzzy(t, append(rows, filler(40)...)...)
	if got := groupsOf(gs); !slices.EqualFunc(got, [][]int{{0, 1, 2}}, slices.Equal) {
		t.Fatalf("groups %v", got)
	}
	if st.PairsCompared == 0 || st.PairsCompared > 10 {
		t.Fatalf("%d pairs compared for 43 records, 3 of them alike", st.PairsCompared)
	}
	g := gs[0]
	if len(g.Members) != 3 || g.Members[1].Values["lastname"] != "Juergen" || g.ID == "" || len(g.Rules) != 1 {
		t.Fatalf("group %+v", g)
	}
	swapped := false
	for _, l := range g.Links {
		if l.Score < 10 || len(l.Fields) != 6 {
			t.Fatalf("link %+v", l)
		}
		swapped = swapped || l.Swapped
		for _, f := range l.Fields {
			if f.Field == "phone" && f.A != "" && f.B != "" && f.Level != Exact {
				t.Fatalf("phones %q and %q: %s", f.A, f.B, f.Level)
			}
		}
	}
	if !swapped {
		t.Fatal("no link says the names are swapped")
	}
}

func TestFuzzyLookalikesAndChains(t *testing.T) {
	rows := [][]string{
		// family at home: one surname, one phone, other first names
		{"Björn", "Voß", "bjoern.voss@web.example", "040 1234567", "", "", "Hamburg"},
		{"Gesa", "Voß", "", "040 1234567", "", "", "Hamburg"},
		// one company, its switchboard, two people
		{"Till", "Haas", "till.haas@kofa.example", "+49 711 7654321", "", "Kofa Technik AG", "Stuttgart"},
		{"Heike", "Brandt", "heike.brandt@kofa.example", "+49 711 7654321", "", "Kofa Technik AG", "Stuttgart"},
		// a chain: 4~5 by e-mail (no first name in 5), 5~6 by phone, 4≁6 (other first names)
		{"Ole", "Vogt", "ole.vogt@lavo.example", "", "", "", ""},
		{"", "Vogt", "ole.vogt@lavo.example", "0911 5556667", "", "", ""},
		{"Petra", "Vogt", "petra.vogt@lavo.example", "0911 5556667", "", "", ""},
	}
	gs, _ := fuzzy(t, append(rows, filler(400)...)...)
	if got := groupsOf(gs); !slices.EqualFunc(got, [][]int{{4, 5}}, slices.Equal) {
		t.Fatalf("groups %v, want only [4 5]", got)
	}
}

func TestNotDuplicateMarksSplitGroups(t *testing.T) {
	m := DefaultModels()[0].withDefaults()
	rows := [][]string{
		{"Jürgen", "Weiß", "juergen.weiss@bamoku.example", "+49 69 3030303", "", "Bamoku Systems GmbH", "Köln"},
		{"Juergen", "Weiss", "juergen.weiss@bamoku.example", "069 3030303", "", "Bamoku Systems", "Köln"},
		{"Jürgen", "Weiss", "JUERGEN.WEISS@bamoku.example", "", "", "Bamoku Systems AG", "Köln"},
	}
	d := testData("lead", leadCols, append(rows, filler(400)...)...)
	d.cannot = cannotLink{0: {2}, 2: {0}}
	var st Stats
	gs, err := fuzzyGroups(t.Context(), d, m, func(string) string { return "49" }, 1, &st)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groupsOf(gs) {
		if slices.Contains(g, 0) && slices.Contains(g, 2) {
			t.Fatalf("records 0 and 2 grouped though marked: %v", groupsOf(gs))
		}
	}
	if len(gs) != 1 || len(gs[0].Members) != 2 {
		t.Fatalf("groups %v: want one pair", groupsOf(gs))
	}
	// the exact rule (same e-mail, case-insensitive) keeps them apart too
	x := exactGroups(d, []Rule{DefaultRules()[3]})
	if got := groupsOf(x); !slices.EqualFunc(got, [][]int{{0, 1}}, slices.Equal) {
		t.Fatalf("exact groups %v, want [[0 1]]", got)
	}
}
