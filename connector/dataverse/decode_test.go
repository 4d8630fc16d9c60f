package dataverse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const samplePage = `{
  "@odata.context": "https://org.crm.dynamics.com/api/data/v9.2/$metadata#leads(leadid,fullname,_ownerid_value,statecode,revenue,createdon,new_flag)",
  "value": [
    {
      "@odata.etag": "W/\"1208773\"",
      "leadid": "7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11",
      "fullname": "Zoë \"Z\" O\u2019Neil\n",
      "_ownerid_value@OData.Community.Display.V1.FormattedValue": "Ann Smith",
      "_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty": "ownerid",
      "_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "systemuser",
      "_ownerid_value": "0c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e",
      "statecode@OData.Community.Display.V1.FormattedValue": "Open",
      "statecode": 0,
      "revenue@OData.Community.Display.V1.FormattedValue": "$1,000,000.12",
      "revenue": 1000000.1234,
      "createdon": "2024-03-15T10:20:30Z",
      "new_flag": true,
      "new_nested": {"a": [1, 2, {"b": null}]},
      "description": null
    },
    {"@odata.etag":"W/\"1208774\"","leadid":"8b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11","fullname":"B","_ownerid_value":null,"statecode":1,"revenue":-2E3,"createdon":"2024-03-16","new_flag":false,"description":"x","_ownerid_value@OData.Community.Display.V1.FormattedValue":"late"}
  ],
  "@odata.nextLink": "https://org.crm.dynamics.com/api/data/v9.2/leads?$select=leadid&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%22%20istracking=%22False%22%20/%3E"
}`

func TestDecodePage(t *testing.T) {
	t.Parallel()
	var p Page
	require.NoError(t, decodePage([]byte(samplePage), &p, false))
	require.Len(t, p.Records, 2)
	require.Empty(t, p.Deleted)
	require.Contains(t, p.NextLink, "$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie")
	require.Empty(t, p.DeltaLink)

	r := p.Records[0]
	require.Equal(t, `W/"1208773"`, r.ETag)
	v, ok := r.Version()
	require.True(t, ok)
	require.EqualValues(t, 1208773, v)
	require.Equal(t, "Zoë \"Z\" O\u2019Neil\n", r.Field("fullname").Value.Text)
	owner := r.Field("_ownerid_value")
	require.Equal(t, Value{Kind: KindString, Text: "0c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e"}, owner.Value)
	require.Equal(t, "Ann Smith", owner.Formatted)
	require.Equal(t, "systemuser", owner.LookupLogicalName)
	require.Equal(t, Value{Kind: KindNumber, Text: "0"}, r.Field("statecode").Value)
	require.Equal(t, "Open", r.Field("statecode").Formatted)
	require.Equal(t, "1000000.1234", r.Field("revenue").Value.Text)
	require.True(t, r.Field("new_flag").Value.Bool())
	require.Equal(t, KindRaw, r.Field("new_nested").Value.Kind)
	require.Equal(t, `{"a": [1, 2, {"b": null}]}`, r.Field("new_nested").Value.Text)
	require.True(t, r.Field("description").Value.IsNull())
	require.Nil(t, r.Field("nope"))
	require.Len(t, r.Fields, 9)

	r2 := p.Records[1]
	require.True(t, r2.Field("_ownerid_value").Value.IsNull())
	require.Equal(t, "late", r2.Field("_ownerid_value").Formatted, "annotation after its property")
	require.Equal(t, "-2E3", r2.Field("revenue").Value.Text)
	tm, err := r2.Field("createdon").Value.Time()
	require.NoError(t, err)
	require.Equal(t, "2024-03-16T00:00:00Z", tm.Format("2006-01-02T15:04:05Z07:00"))
}

func TestDecodeDeltaPage(t *testing.T) {
	t.Parallel()
	body := `{"@odata.context":"https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name)/$delta",
	"@odata.deltaLink":"https://org.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44",
	"value":[
	 {"@odata.etag":"W/\"1\"","name":"Monte Orton","accountid":"60c4e274-0d87-e711-80e5-00155db19e6d"},
	 {"@odata.context":"https://org.crm.dynamics.com/api/data/v9.2/$metadata#accounts/$deletedEntity","id":"2e451703-c686-e711-80e5-00155db19e6d","reason":"deleted"},
	 {"@removed":{"reason":"changed"},"@id":"https://org/api/data/v9.2/accounts(3e451703-c686-e711-80e5-00155db19e6d)"}
	]}`
	var p Page
	require.NoError(t, decodePage([]byte(body), &p, false))
	require.True(t, IsDeltaContext(p.Context))
	require.Len(t, p.Records, 1)
	require.Equal(t, "Monte Orton", p.Records[0].Field("name").Value.Text)
	require.Equal(t, []Deleted{{ID: "2e451703-c686-e711-80e5-00155db19e6d", Reason: "deleted"}, {ID: "3e451703-c686-e711-80e5-00155db19e6d", Reason: "deleted"}}, p.Deleted)
	require.Contains(t, p.DeltaLink, "$deltatoken=919042%2108%2f22%2f2017")
	require.True(t, p.Last())
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"empty":         ``,
		"truncated":     `{"value":[{"a":1},{"b":`,
		"no value":      `{"@odata.context":"x"}`,
		"trailing":      `{"value":[]} x`,
		"bad literal":   `{"value":[{"a":tru}]}`,
		"value not arr": `{"value":{}}`,
		"bare":          `[1,2]`,
		"control char":  "{\"value\":[{\"a\":\"x\ny\"}]}",
		"deleted no id": `{"value":[{"@odata.context":"$metadata#a/$deletedEntity"}]}`,
		"html":          `<html><body>Service Unavailable</body></html>`,
	}
	for name, body := range cases {
		var p Page
		err := decodePage([]byte(body), &p, false)
		require.Error(t, err, name)
		t.Log(name, err)
		if name != "deleted no id" { // a row's content is not looked at
			require.Error(t, decodePage([]byte(body), &p, true), name+", links only")
		}
	}
}

// TestDecodeLinksOnly: a walk's page keeps its links and drops its rows.
func TestDecodeLinksOnly(t *testing.T) {
	t.Parallel()
	body := string(leadPage(3))
	body = body[:len(body)-1] + `,"@odata.nextLink":"https://x/api/data/v9.2/leads?$skiptoken=n","@odata.deltaLink":"d"}`
	var p Page
	require.NoError(t, decodePage([]byte(body), &p, true))
	require.Empty(t, p.Records)
	require.Zero(t, p.decoded)
	require.Equal(t, "https://x/api/data/v9.2/leads?$skiptoken=n", p.NextLink)
	require.Equal(t, "d", p.DeltaLink)
	var full Page
	require.NoError(t, decodePage([]byte(body), &full, false))
	require.Len(t, full.Records, 3)
	require.Equal(t, full.NextLink, p.NextLink)
}

func TestDecodeEmpty(t *testing.T) {
	t.Parallel()
	var p Page
	require.NoError(t, decodePage([]byte(`{"@odata.context":"x/$delta","value":[],"@odata.deltaLink":"d"}`), &p, false))
	require.Empty(t, p.Records)
	require.Equal(t, "d", p.DeltaLink)
}

// leadPage renders n lead rows as Dataverse does with FormattedValue and
// lookuplogicalname annotations: about 45 properties, 2.3 KB per row.
func leadPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"@odata.context":"https://org.crm4.dynamics.com/api/data/v9.2/$metadata#leads(leadid,fullname)","value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.etag":"W/\"%d\"","leadid":"%08x-0c1d-ef11-9f89-000d3a5c4e11","fullname":"Lead Number %d","firstname":"Lead","lastname":"Number %d",`+
			`"subject":"Interested in product line %d","companyname":"Company %d GmbH","emailaddress1":"lead%d@example.com","telephone1":"+49 30 %07d",`+
			`"jobtitle":"Head of Purchasing","description":"Met at the trade fair; follow up in Q%d.","address1_city":"Berlin","address1_country":"Germany",`+
			`"statecode@OData.Community.Display.V1.FormattedValue":"Open","statecode":0,"statuscode@OData.Community.Display.V1.FormattedValue":"New","statuscode":1,`+
			`"leadsourcecode@OData.Community.Display.V1.FormattedValue":"Web","leadsourcecode":8,"industrycode@OData.Community.Display.V1.FormattedValue":"Consulting","industrycode":3,`+
			`"leadqualitycode@OData.Community.Display.V1.FormattedValue":"Warm","leadqualitycode":2,"prioritycode@OData.Community.Display.V1.FormattedValue":"Default Value","prioritycode":1,`+
			`"estimatedamount@OData.Community.Display.V1.FormattedValue":"€12,345.60","estimatedamount":12345.6000,"estimatedamount_base@OData.Community.Display.V1.FormattedValue":"€12,345.60","estimatedamount_base":12345.6000,`+
			`"exchangerate":1.0000000000,"numberofemployees":%d,"budgetamount":null,"budgetamount_base":null,`+
			`"createdon@OData.Community.Display.V1.FormattedValue":"3/15/2024 10:20 AM","createdon":"2024-03-15T10:20:30Z","modifiedon@OData.Community.Display.V1.FormattedValue":"3/16/2024 11:00 AM","modifiedon":"2024-03-16T11:00:00Z",`+
			`"estimatedclosedate@OData.Community.Display.V1.FormattedValue":"6/30/2024","estimatedclosedate":"2024-06-30","versionnumber":%d,"donotemail":false,"donotphone":true,`+
			`"_ownerid_value@OData.Community.Display.V1.FormattedValue":"Ann Smith","_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"systemuser","_ownerid_value":"0c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e",`+
			`"_owningbusinessunit_value@OData.Community.Display.V1.FormattedValue":"Contoso","_owningbusinessunit_value@Microsoft.Dynamics.CRM.lookuplogicalname":"businessunit","_owningbusinessunit_value":"1c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e",`+
			`"_parentaccountid_value@OData.Community.Display.V1.FormattedValue":"Company %d GmbH","_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"account","_parentaccountid_value":"2c7a5b1e-%04x-4e2d-8d4c-3f2a1b0c9d8e",`+
			`"_parentcontactid_value":null,"_customerid_value@OData.Community.Display.V1.FormattedValue":"Company %d GmbH","_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"account","_customerid_value":"2c7a5b1e-%04x-4e2d-8d4c-3f2a1b0c9d8e",`+
			`"_campaignid_value":null,"_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue":"Euro","_transactioncurrencyid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"transactioncurrency","_transactioncurrencyid_value":"3c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e",`+
			`"_createdby_value@OData.Community.Display.V1.FormattedValue":"Ann Smith","_createdby_value@Microsoft.Dynamics.CRM.lookuplogicalname":"systemuser","_createdby_value":"0c7a5b1e-1111-4e2d-8d4c-3f2a1b0c9d8e"}`,
			1000000+i, i, i, i, i%7, i, i, i, i%4+1, i%500, 1000000+i, i, i&0xffff, i, i&0xffff)
	}
	b.WriteString(`],"@odata.nextLink":"https://org.crm4.dynamics.com/api/data/v9.2/leads?$skiptoken=x"}`)
	return b.Bytes()
}

func TestLeadPageDecodes(t *testing.T) {
	t.Parallel()
	body := leadPage(10)
	var p Page
	require.NoError(t, decodePage(body, &p, false))
	require.Len(t, p.Records, 10)
	var generic struct{ Value []map[string]any }
	require.NoError(t, json.Unmarshal(body, &generic))
	for i, r := range p.Records {
		props := 0
		for k := range generic.Value[i] {
			if !strings.Contains(k, "@") {
				props++
			}
		}
		require.Len(t, r.Fields, props)
	}
}

// BenchmarkDecode measures decode-only throughput of 5,000-row lead pages:
// this package's scanner against encoding/json into map[string]any.
func BenchmarkDecode(b *testing.B) {
	body := leadPage(5000)
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var p Page
			if err := decodePage(body, &p, false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("links_only", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var p Page
			if err := decodePage(body, &p, true); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("encoding_json_map", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var p struct {
				Value []map[string]any `json:"value"`
			}
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&p); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(samplePage))
	f.Add(leadPage(2))
	f.Add([]byte(`{"value":[{"@odata.context":"$deletedEntity","id":"x","reason":"deleted"}]}`))
	f.Add([]byte(`{"value":[{"a\u0041":"\ud83d\ude00"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p, links Page
		err := decodePage(body, &p, false)
		if err == nil && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		lerr := decodePage(body, &links, true)
		if lerr == nil && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q, links only", body)
		}
		if err == nil && (lerr != nil || links.NextLink != p.NextLink || links.DeltaLink != p.DeltaLink) {
			t.Fatalf("links only: %v, links %q %q against %q %q", lerr, links.NextLink, links.DeltaLink, p.NextLink, p.DeltaLink)
		}
		if err != nil {
			return
		}
		for _, r := range p.Records {
			for _, f := range r.Fields {
				if f.Value.Kind == KindRaw && !json.Valid([]byte(f.Value.Text)) {
					t.Fatalf("raw value %q is not JSON", f.Value.Text)
				}
			}
		}
	})
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2024-03-15", "2024-02-29", "2024-03-15T10:20:30Z", "1999-12-31T23:59:59Z", "2024-03-15T10:20:30.123Z", "2024-03-15T10:20:30+02:00"} {
		got, err := ParseTime(s)
		require.NoError(t, err, s)
		layout := time.RFC3339Nano
		if len(s) == 10 {
			layout = time.DateOnly
		}
		want, _ := time.Parse(layout, s)
		require.True(t, want.Equal(got), s)
		require.Equal(t, time.UTC, got.Location(), s)
	}
	for _, s := range []string{"2023-02-29", "2024-13-01", "2024-03-15T24:00:00Z", "2024-03-1xT10:20:30Z", "yesterday", "2024-00-10"} {
		_, err := ParseTime(s)
		require.Error(t, err, s)
	}
}

func TestDecodeAnnotationsFarFromProperty(t *testing.T) {
	t.Parallel()
	var p Page
	body := `{"value":[{"x@OData.Community.Display.V1.FormattedValue":"X!","a":1,"b":2,"c":3,"d":4,"x":5,"y":6,"x@Microsoft.Dynamics.CRM.lookuplogicalname":"t"}]}`
	require.NoError(t, decodePage([]byte(body), &p, false))
	r := p.Records[0]
	require.Len(t, r.Fields, 6)
	x := r.Field("x")
	require.Equal(t, Field{Name: "x", Value: Value{Kind: KindNumber, Text: "5"}, Formatted: "X!", LookupLogicalName: "t"}, *x)
}

// specialIndex finds the same byte as a plain loop, for every byte value
// at every position of a word and past the words.
func TestSpecialIndex(t *testing.T) {
	t.Parallel()
	naive := func(s string, i int) int {
		for ; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
				return i
			}
		}
		return i
	}
	base := []byte("abcdefghijklmnopqrstuvwxyzé€0123")
	for c := 0; c < 256; c++ {
		for pos := 0; pos < len(base); pos++ {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			s := string(b)
			for start := 0; start < 10; start++ {
				require.Equal(t, naive(s, start), specialIndex(s, start), "byte %#x at %d from %d", c, pos, start)
			}
		}
	}
}
