package odata

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

func TestParseFilterIn(t *testing.T) {
	t.Parallel()
	n, err := ParseFilter("name in ('a', 'b''c') and n in (1,2)")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.String(), "((name in ('a','b''c')) and (n in (1,2)))"; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	for _, bad := range []string{"name in 'a'", "name in (a)", "name in ('a' 'b')", "name in ('a',", "in eq 1"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func testModel() Model {
	return Model{Namespace: "Ampel", Container: "Ampel", Types: []EntityType{{
		Name: "leads", Key: []string{"id"},
		Properties: []PropertyDef{
			{Name: "id", Type: EdmGuid},
			{Name: "revenue", Type: EdmDecimal, Nullable: true, Precision: 18, Scale: 2, HasScale: true},
			{Name: "tags", Type: "Collection(Edm.String)"},
		},
	}}}
}

func TestWriteMetadata(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteMetadata(&b, testModel()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version string `xml:"Version,attr"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil || doc.Version != "4.0" {
		t.Fatalf("%v %q\n%s", err, doc.Version, b.String())
	}
	for _, want := range []string{
		`<Property Name="revenue" Type="Edm.Decimal" Nullable="true" Precision="18" Scale="2"/>`,
		`<PropertyRef Name="id"/>`,
		`<EntitySet Name="leads" EntityType="Ampel.leads"/>`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
}

func TestModelCheck(t *testing.T) {
	t.Parallel()
	for want, change := range map[string]func(m *Model){
		"has no key":                        func(m *Model) { m.Types[0].Key = nil },
		"is not a primitive type":           func(m *Model) { m.Types[0].Properties[1].Type = "Edm.Money" },
		"key property nope is not one":      func(m *Model) { m.Types[0].Key = []string{"nope"} },
		"key property revenue is nullable":  func(m *Model) { m.Types[0].Key = []string{"revenue"} },
		"key property tags is a collection": func(m *Model) { m.Types[0].Key = []string{"tags"} },
		"is not a simple identifier":        func(m *Model) { m.Types[0].Properties[0].Name = "a b" },
		"declared twice":                    func(m *Model) { m.Types = append(m.Types, m.Types[0]) },
	} {
		m := testModel()
		m.Types[0].Properties = append([]PropertyDef(nil), m.Types[0].Properties...)
		change(&m)
		err := m.Check()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r\x00\x1f", "Zoë Ångström", "\u2028\u2029", "bad \xff utf8", "</script>"} {
		out := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, out, err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q → %s → %q", s, out, back)
		}
	}
}

func TestServiceDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		Context string `json:"@odata.context"`
		Value   []struct{ Name, Kind, URL string }
	}
	if err := json.Unmarshal(ServiceDocument("https://h/odata/$metadata", []string{"a"}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Context != "https://h/odata/$metadata" || len(doc.Value) != 1 || doc.Value[0].Kind != "EntitySet" || doc.Value[0].URL != "a" {
		t.Fatalf("%+v", doc)
	}
}
