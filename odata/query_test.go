package odata

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestQueryEncode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		q    Query
		want string
	}{
		{Query{}, ""},
		{Query{Select: []string{"leadid", "_ownerid_value"}}, "$select=leadid,_ownerid_value"},
		{Query{Select: []string{"a"}, Filter: "modifiedon ge 2024-05-01T00:00:00Z", OrderBy: "modifiedon asc,leadid asc"},
			"$select=a&$filter=modifiedon%20ge%202024-05-01T00%3A00%3A00Z&$orderby=modifiedon%20asc,leadid%20asc"},
		{Query{Select: []string{"LogicalName"}, Expand: "OptionSet,GlobalOptionSet"}, "$select=LogicalName&$expand=OptionSet,GlobalOptionSet"},
		{Query{Filter: "name eq 'a+b&c'", Top: 5, Count: true}, "$filter=name%20eq%20%27a%2Bb%26c%27&$top=5&$count=true"},
	}
	for _, c := range cases {
		got := c.q.Encode()
		if got != c.want {
			t.Errorf("%+v: got %q, want %q", c.q, got, c.want)
		}
		// what a server reads back is what was meant
		v, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		if c.q.Filter != "" && v.Get(OptionFilter) != c.q.Filter {
			t.Errorf("%q: $filter reads back as %q", got, v.Get(OptionFilter))
		}
		if len(c.q.Select) > 0 && !reflect.DeepEqual(ParseSelect(v.Get(OptionSelect)), c.q.Select) {
			t.Errorf("%q: $select reads back as %q", got, v.Get(OptionSelect))
		}
	}
}

func TestPreferString(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p    Prefer
		want string
	}{
		{Prefer{}, ""},
		{Prefer{MaxPageSize: 5000, IncludeAnnotations: []string{AnnotationFormattedValue, AnnotationLookupLogicalName}, TrackChanges: true},
			`odata.maxpagesize=5000,odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.lookuplogicalname",odata.track-changes`},
		{Prefer{IncludeAnnotations: []string{AnnotationGlobalMetadataVersion}}, `odata.include-annotations="Microsoft.Dynamics.CRM.globalmetadataversion"`},
		{Prefer{IncludeAnnotations: []string{}}, `odata.include-annotations=""`},
		{Prefer{ReturnRepresentation: true}, "return=representation"},
	}
	for _, c := range cases {
		got := c.p.String()
		if got != c.want {
			t.Errorf("%+v: got %q, want %q", c.p, got, c.want)
		}
		// ParsePrefer reads back what String writes
		back := ParsePrefer(http.Header{HeaderPrefer: {got}})
		if !reflect.DeepEqual(back, c.p) {
			t.Errorf("%q reads back as %+v, want %+v", got, back, c.p)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	t.Parallel()
	code, msg, ok := ParseErrorBody(MarshalError("0x80060888", "Resource not found for the segment 'leadz'."))
	if !ok || code != "0x80060888" || msg != "Resource not found for the segment 'leadz'." {
		t.Errorf("round trip: %q %q %v", code, msg, ok)
	}
	for _, body := range []string{``, `<html>502 Bad Gateway</html>`, `{"error":{}}`, `{"message":"x"}`, `not json`} {
		if _, _, ok := ParseErrorBody([]byte(body)); ok {
			t.Errorf("%q: read as an error body", body)
		}
	}
}
