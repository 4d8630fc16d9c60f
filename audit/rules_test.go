package audit

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// testData builds a dataset of one environment from rows of column values.
func testData(table string, cols []string, rows ...[]string) *dataset {
	d := &dataset{table: table, envs: []string{"prod"}, colIdx: map[string]int{}, missing: map[string]bool{},
		code: map[int]*strCol{}, count: map[int][]int32{}, columns: cols, raw: make([]strCol, len(cols))}
	for i, c := range cols {
		d.colIdx[c] = i
	}
	for i, r := range rows {
		d.ids = append(d.ids, uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)))
		d.env = append(d.env, 0)
		for j := range cols {
			d.raw[j].add(r[j])
		}
	}
	return d
}

// groupsOf returns each group's members by row number, sorted.
func groupsOf(gs []*Group) [][]int {
	var out [][]int
	for _, g := range gs {
		var rows []int
		for _, m := range g.Members {
			var n int
			fmt.Sscanf(m.ID[24:], "%d", &n)
			rows = append(rows, n)
		}
		out = append(out, rows)
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

func TestExactRules(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cols := []string{"emailaddress1", "lastname", "telephone1", "statecode", "createdon"}
	d := testData("contact", cols,
		[]string{"a@x.com", "Weber", "0301", "0", "2026-01-01 23:30:00"},  // 0
		[]string{"A@X.COM", "weber", "9301", "0", "2026-01-02 08:00:00"},  // 1: case differs
		[]string{" a@x.com", "Weber", "0301", "0", "2026-01-03 08:00:00"}, // 2: a leading space is another value
		[]string{"  ", "Weber", "", "0", "2026-01-02 22:30:00"},           // 3: blank e-mail
		[]string{"", "Schulz", "", "1", "2026-01-02 23:30:00"},            // 4: blank, inactive
		[]string{"b@x.com", "Schulz", "5301", "1", "2026-01-05 10:00:00"}, // 5: inactive
		[]string{"B@x.com", "SCHULZ", "6302", "0", "2026-01-06 10:00:00"}, // 6
		[]string{"", "Weber", "", "0", "2026-02-01 12:00:00"},             // 7: blank e-mail and phone
	)
	cond := func(attr string, op Operator, n int, ignore bool) Condition {
		return Condition{Attribute: attr, Operator: op, Param: n, IgnoreBlank: ignore}
	}
	rule := func(cs ...Condition) Rule { return Rule{ID: "r", Table: "contact", Key: "contactid", Conditions: cs} }
	for _, tc := range []struct {
		name string
		rule Rule
		want [][]int
	}{
		{"exact, case-insensitive, one condition ignores blanks", rule(cond("emailaddress1", OpExactMatch, 0, false)), [][]int{{0, 1}, {5, 6}}},
		{"case-sensitive", func() Rule { r := rule(cond("emailaddress1", OpExactMatch, 0, true)); r.CaseSensitive = true; return r }(), nil},
		{"active records only", func() Rule {
			r := rule(cond("emailaddress1", OpExactMatch, 0, true))
			r.ExcludeInactive = true
			return r
		}(), [][]int{{0, 1}}},
		{"two conditions ANDed", rule(cond("emailaddress1", OpExactMatch, 0, true), cond("telephone1", OpSameLastCharacters, 3, true)), [][]int{{0, 1}}},
		{"first characters", rule(cond("lastname", OpSameFirstCharacters, 3, true)), [][]int{{0, 1, 2, 3, 7}, {4, 5, 6}}},
		{"blanks match blanks when not ignored", rule(cond("lastname", OpExactMatch, 0, true), cond("telephone1", OpExactMatch, 0, false)), [][]int{{0, 2}, {3, 7}}},
		{"blanks ignored", rule(cond("lastname", OpExactMatch, 0, true), cond("telephone1", OpExactMatch, 0, true)), [][]int{{0, 2}}},
		{"same date in UTC", rule(cond("createdon", OpSameDate, 0, true)), [][]int{{1, 3, 4}}},
		{"same date in Berlin", func() Rule { r := rule(cond("createdon", OpSameDate, 0, true)); r.TimeZone = berlin; return r }(), [][]int{{0, 1, 3}, {2, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.rule.validate(); err != nil {
				t.Fatal(err)
			}
			got := groupsOf(exactGroups(d, []Rule{tc.rule}))
			if !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("groups %v, want %v", got, tc.want)
			}
		})
	}
	if err := (&Rule{ID: "x", Table: "t", Key: "k", Conditions: []Condition{{Attribute: "a", Operator: OpSameFirstCharacters}}}).validate(); err == nil {
		t.Fatal("first characters without a count validated")
	}
	if err := (&Rule{ID: "x", Table: "t", Key: "k", Conditions: []Condition{{Attribute: "a", Operator: 9}}}).validate(); err == nil {
		t.Fatal("operator 9 validated")
	}
}
