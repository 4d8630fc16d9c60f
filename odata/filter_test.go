package odata

import (
	"net/http"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
	}{
		{"modifiedon ge 2024-05-01T00:00:00Z", "(modifiedon ge 2024-05-01T00:00:00Z)"},
		{"statecode eq 1 and (revenue gt 10.5 or name eq 'O''Brien')", "((statecode eq 1) and ((revenue gt 10.5) or (name eq 'O''Brien')))"},
		{"_ownerid_value eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301", "(_ownerid_value eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301)"},
		{"emailaddress1 ne null", "(emailaddress1 ne null)"},
		{"not (a eq 1)", "(not (a eq 1))"},
		{"a eq 1 or b eq 2 and c eq 3", "((a eq 1) or ((b eq 2) and (c eq 3)))"},
		{"contains(fullname,'smith')", "contains(fullname,'smith')"},
		{"CanChangeTrackingBeEnabled/Value eq false", "(CanChangeTrackingBeEnabled/Value eq false)"},
		{"AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'", "(AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')"},
		{"createdon lt 2024-03-15", "(createdon lt 2024-03-15)"},
		{"x le -5", "(x le -5)"},
	}
	for _, c := range cases {
		n, err := ParseFilter(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := n.String(); got != c.want {
			t.Errorf("%q: got %s want %s", c.in, got, c.want)
		}
	}
}

func TestParseFilterLiterals(t *testing.T) {
	t.Parallel()
	n, err := ParseFilter("modifiedon ge 2024-05-01T10:00:00+02:00")
	if err != nil {
		t.Fatal(err)
	}
	lit := n.(*BinaryExpr).Right.(*Literal)
	if lit.Kind != DateTime || !lit.Value.(time.Time).Equal(time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %v %v", lit.Kind, lit.Value)
	}
	n, _ = ParseFilter("id eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301")
	if lit := n.(*BinaryExpr).Right.(*Literal); lit.Kind != GUID || lit.Value != "3f2504e0-4f89-11d3-9a0c-0305e82c3301" {
		t.Fatalf("guid: %v %v", lit.Kind, lit.Value)
	}
	n, _ = ParseFilter("n eq 42")
	if lit := n.(*BinaryExpr).Right.(*Literal); lit.Kind != Int || lit.Value != int64(42) {
		t.Fatalf("int: %v %v", lit.Kind, lit.Value)
	}
	n, _ = ParseFilter("n eq 'a b'")
	if lit := n.(*BinaryExpr).Right.(*Literal); lit.Kind != String || lit.Value != "a b" {
		t.Fatalf("string: %v %v", lit.Kind, lit.Value)
	}
}

func TestParseFilterErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "a eq", "(a eq 1", "a eq 'x", "a eq 1)", "eq 1", "a eq 1 and", "foo(a)", "a eq 2024-13-45", "a # b", "contains(a)"} {
		if _, err := ParseFilter(in); err == nil {
			t.Errorf("%q: want error", in)
		}
	}
	deep := ""
	for i := 0; i < 1000; i++ {
		deep += "("
	}
	if _, err := ParseFilter(deep + "a eq 1"); err == nil {
		t.Error("deep nesting: want error")
	}
}

func TestParseOrderBySelect(t *testing.T) {
	t.Parallel()
	ob, err := ParseOrderBy("modifiedon asc, leadid desc,name")
	if err != nil || len(ob) != 3 || ob[0].Desc || !ob[1].Desc || ob[2].Property != "name" {
		t.Fatalf("%v %v", ob, err)
	}
	if _, err := ParseOrderBy("a sideways"); err == nil {
		t.Fatal("want error")
	}
	if s := ParseSelect(" a, b ,,c"); len(s) != 3 || s[1] != "b" {
		t.Fatal(s)
	}
}

func TestParsePrefer(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Add("Prefer", `odata.maxpagesize=4; odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*"`)
	h.Add("Prefer", "odata.track-changes")
	p := ParsePrefer(h)
	if p.MaxPageSize != 4 || !p.TrackChanges || len(p.IncludeAnnotations) != 2 {
		t.Fatalf("%+v", p)
	}
	h = http.Header{}
	h.Set("Prefer", `odata.track-changes,odata.maxpagesize=100, odata.include-annotations="*"`)
	p = ParsePrefer(h)
	if p.MaxPageSize != 100 || !p.TrackChanges || p.IncludeAnnotations[0] != "*" {
		t.Fatalf("%+v", p)
	}
	if !AnnotationIncluded(p.IncludeAnnotations, "Microsoft.Dynamics.CRM.lookuplogicalname") {
		t.Fatal("* should include")
	}
	pats := []string{"Microsoft.Dynamics.CRM.*", "-Microsoft.Dynamics.CRM.associatednavigationproperty"}
	if !AnnotationIncluded(pats, "Microsoft.Dynamics.CRM.lookuplogicalname") || AnnotationIncluded(pats, "Microsoft.Dynamics.CRM.associatednavigationproperty") || AnnotationIncluded(pats, "OData.Community.Display.V1.FormattedValue") {
		t.Fatal("pattern matching")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"modifiedon ge 2024-05-01T00:00:00Z and statecode eq 0",
		"(a eq 'x''y') or not (b ne null)",
		"contains(name,'c') and _ownerid_value eq 3F2504E0-4F89-11D3-9A0C-0305E82C3301",
		"AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'",
		"x le -1.5e3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseFilter(s)
		if err != nil {
			return
		}
		// A parsed expression prints to a form that parses again to the same tree.
		again, err := ParseFilter(n.String())
		if err != nil {
			t.Fatalf("reparse of %q (%q): %v", s, n.String(), err)
		}
		if again.String() != n.String() {
			t.Fatalf("round trip: %q -> %q", n.String(), again.String())
		}
	})
}
