package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dataverse/dataversetest"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/warehouse"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func leadEntity(t *testing.T) *dataverse.Entity {
	t.Helper()
	c, _ := dataversetest.NewClient(t, dataversetest.MetadataHandler("../dataverse/testdata/metadata"), nil)
	e, err := c.EntityDefinition(context.Background(), "lead")
	require.NoError(t, err)
	return e
}

var modern = warehouse.Dialect{Driver: "embedded", Version: warehouse.Version{Major: 26, Minor: 7}}

func TestMapLead(t *testing.T) {
	t.Parallel()
	m, err := schema.Map(leadEntity(t), schema.Options{Dialect: modern})
	require.NoError(t, err)
	require.Equal(t, []warehouse.Column{
		{Name: "leadid", Type: "UUID"},
		{Name: "createdon", Type: "Nullable(DateTime('UTC'))"},
		{Name: "customerid", Type: "Nullable(UUID)"},
		{Name: "customeridname", Type: "Nullable(String)"},
		{Name: "customeridtype", Type: "Nullable(String)"},
		{Name: "description", Type: "Nullable(String)"},
		{Name: "donotemail", Type: "Nullable(Bool)"},
		{Name: "emailaddress1", Type: "Nullable(String)"},
		{Name: "estimatedamount", Type: "Nullable(Decimal(19, 4))"},
		{Name: "estimatedamount_base", Type: "Nullable(Decimal(19, 4))"},
		{Name: "estimatedclosedate", Type: "Nullable(Date)"},
		{Name: "exchangerate", Type: "Nullable(Decimal(23, 10))"},
		{Name: "fullname", Type: "Nullable(String)"},
		{Name: "leadsourcecode", Type: "Nullable(Int32)"},
		{Name: "leadsourcecodename", Type: "Nullable(String)"},
		{Name: "modifiedon", Type: "Nullable(DateTime('UTC'))"},
		{Name: "new_interests", Type: "Array(Int32)"},
		{Name: "new_interestsname", Type: "Array(String)"},
		{Name: "new_score", Type: "Nullable(Float64)"},
		{Name: "numberofemployees", Type: "Nullable(Int32)"},
		{Name: "ownerid", Type: "Nullable(UUID)"},
		{Name: "owneridname", Type: "Nullable(String)"},
		{Name: "owneridtype", Type: "Nullable(String)"},
		{Name: "parentaccountid", Type: "Nullable(UUID)"},
		{Name: "parentaccountidname", Type: "Nullable(String)"},
		{Name: "processid", Type: "Nullable(UUID)"},
		{Name: "statecode", Type: "Nullable(Int32)"},
		{Name: "statecodename", Type: "Nullable(String)"},
		{Name: "statuscode", Type: "Nullable(Int32)"},
		{Name: "statuscodename", Type: "Nullable(String)"},
		{Name: "subject", Type: "Nullable(String)"},
		{Name: "transactioncurrencyid", Type: "Nullable(UUID)"},
		{Name: "transactioncurrencyidname", Type: "Nullable(String)"},
		{Name: "versionnumber", Type: "UInt64"},
	}, m.Columns())
	require.Equal(t, []string{"leadid", "createdon", "_customerid_value", "description", "donotemail", "emailaddress1", "estimatedamount",
		"estimatedamount_base", "estimatedclosedate", "exchangerate", "fullname", "leadsourcecode", "modifiedon", "new_interests", "new_score",
		"numberofemployees", "_ownerid_value", "_parentaccountid_value", "processid", "statecode", "statuscode", "subject",
		"_transactioncurrencyid_value", "versionnumber"}, m.Select())
	skipped := map[string]string{}
	for _, s := range m.Skipped {
		skipped[s.Attribute] = s.Reason
	}
	require.Contains(t, skipped, "owneridyominame")
	require.Contains(t, skipped, "entityimage")
	require.Contains(t, skipped, "new_secret")
	require.Contains(t, skipped, "customerid_partylist")
	require.Equal(t, "lead", m.Landing().Name)
	require.Equal(t, "leadid", m.Landing().Key)
	require.True(t, m.ChangeTracking)
	require.True(t, m.HasModifiedOn)

	old := warehouse.Dialect{Driver: "clickhouse", Version: warehouse.Version{Major: 18, Minor: 16}}
	m18, err := schema.Map(leadEntity(t), schema.Options{Dialect: old, Columns: []string{"donotemail"}})
	require.NoError(t, err)
	require.Equal(t, []warehouse.Column{{Name: "leadid", Type: "UUID"}, {Name: "createdon", Type: "Nullable(DateTime('UTC'))"},
		{Name: "donotemail", Type: "Nullable(UInt8)"}, {Name: "modifiedon", Type: "Nullable(DateTime('UTC'))"}, {Name: "versionnumber", Type: "UInt64"}}, m18.Columns())
}

const leadRecord = `{"value":[{
 "@odata.etag":"W/\"5512\"","leadid":"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11",
 "createdon@OData.Community.Display.V1.FormattedValue":"3/15/2024 11:20 AM","createdon":"2024-03-15T10:20:30Z",
 "_customerid_value@OData.Community.Display.V1.FormattedValue":"Fabrikam","_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"contact","_customerid_value":"1a2b3c4d-0000-4000-8000-000000000001",
 "description":null,"donotemail@OData.Community.Display.V1.FormattedValue":"Allow","donotemail":false,"emailaddress1":"a@b.example",
 "estimatedamount@OData.Community.Display.V1.FormattedValue":"$1,234.57","estimatedamount":1234.5678,"estimatedamount_base":1234.56789,
 "estimatedclosedate":"2024-06-30","exchangerate":1.0000000000,"fullname":"Ann Lee",
 "leadsourcecode@OData.Community.Display.V1.FormattedValue":"Partner (new)","leadsourcecode":11,
 "modifiedon":"2024-03-16T00:00:00Z","new_interests@OData.Community.Display.V1.FormattedValue":"CRM; BI","new_interests":"100000000,100000002",
 "new_score":0.75,"numberofemployees":120,
 "_ownerid_value@OData.Community.Display.V1.FormattedValue":"Sales Team","_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"team","_ownerid_value":"1a2b3c4d-0000-4000-8000-000000000002",
 "_parentaccountid_value":null,"processid":null,
 "statecode@OData.Community.Display.V1.FormattedValue":"Offen","statecode":0,"statuscode@OData.Community.Display.V1.FormattedValue":"Neu","statuscode":1,
 "subject":"Interested","_transactioncurrencyid_value@OData.Community.Display.V1.FormattedValue":"US Dollar","_transactioncurrencyid_value":"1a2b3c4d-0000-4000-8000-000000000003",
 "versionnumber":5512}]}`

func TestRow(t *testing.T) {
	t.Parallel()
	m, err := schema.Map(leadEntity(t), schema.Options{Dialect: modern})
	require.NoError(t, err)
	p := decode(t, leadRecord)
	row, err := m.Row(&p.Records[0], nil)
	require.NoError(t, err)
	got := map[string]any{}
	for i, c := range m.Columns() {
		got[c.Name] = row[i]
		typ, err := warehouse.ParseType(c.Type)
		require.NoError(t, err)
		_, err = warehouse.Coerce(typ, row[i])
		require.NoError(t, err, "column %s value %#v", c.Name, row[i])
	}
	require.Equal(t, uuid.MustParse("7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11"), got["leadid"])
	require.Equal(t, time.Date(2024, 3, 15, 10, 20, 30, 0, time.UTC), got["createdon"])
	require.Equal(t, uuid.MustParse("1a2b3c4d-0000-4000-8000-000000000001"), got["customerid"])
	require.Equal(t, "Fabrikam", got["customeridname"])
	require.Equal(t, "contact", got["customeridtype"])
	require.Nil(t, got["description"])
	require.Equal(t, false, got["donotemail"])
	require.True(t, decimal.RequireFromString("1234.5678").Equal(got["estimatedamount"].(decimal.Decimal)))
	require.True(t, decimal.RequireFromString("1234.5679").Equal(got["estimatedamount_base"].(decimal.Decimal)), "rounded to 4 places")
	require.Equal(t, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), got["estimatedclosedate"])
	require.Equal(t, 11, got["leadsourcecode"])
	require.Equal(t, "Partner (new)", got["leadsourcecodename"], "a value missing from metadata takes FormattedValue")
	require.Equal(t, []int64{100000000, 100000002}, got["new_interests"])
	require.Equal(t, []string{"CRM", "BI"}, got["new_interestsname"])
	require.Equal(t, 0.75, got["new_score"])
	require.Equal(t, 120, got["numberofemployees"])
	require.Equal(t, "Sales Team", got["owneridname"])
	require.Equal(t, "team", got["owneridtype"])
	require.Nil(t, got["parentaccountid"])
	require.Nil(t, got["parentaccountidname"])
	require.Equal(t, "Open", got["statecodename"], "labels from metadata, not the caller's language")
	require.Equal(t, "New", got["statuscodename"])
	require.Equal(t, "US Dollar", got["transactioncurrencyidname"])
	require.Equal(t, uint64(5512), got["versionnumber"])
	v, ok := p.Records[0].Version()
	require.True(t, ok)
	require.EqualValues(t, 5512, v)
	require.Equal(t, "leadid", m.Key())
	require.Equal(t, uuid.MustParse("7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11"), row[0], "the primary key comes first")

	// a record with only some properties, in another order
	p = decode(t, `{"value":[{"versionnumber":7,"leadid":"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e12","new_interests":null}]}`)
	row, err = m.Row(&p.Records[0], row)
	require.NoError(t, err)
	require.Len(t, row, len(m.Columns()))
	require.Equal(t, []int64{}, row[16])

	p = decode(t, `{"value":[{"leadid":"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e12","createdon":"yesterday"}]}`)
	_, err = m.Row(&p.Records[0], row)
	require.ErrorContains(t, err, "lead 7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e12: column createdon")
}

func decode(t *testing.T, body string) *dataverse.Page {
	t.Helper()
	c, _ := dataversetest.NewClient(t, httpBody(body), nil)
	r := c.Read(context.Background(), dataverse.Query{EntitySet: "leads"})
	defer r.Close()
	p, err := r.Next(context.Background())
	require.NoError(t, err)
	return p
}

func TestExcludeColumns(t *testing.T) {
	t.Parallel()
	lead := leadEntity(t)
	// a typo refuses the table, naming the column it probably meant
	_, err := schema.Map(lead, schema.Options{Dialect: modern, Exclude: []string{"emailadress1"}})
	require.EqualError(t, err, "exclude_columns: emailadress1 is not a column of lead (did you mean emailaddress1?)")
	// nothing near enough: no guess
	_, err = schema.Map(lead, schema.Options{Dialect: modern, Exclude: []string{"salary"}})
	require.EqualError(t, err, "exclude_columns: salary is not a column of lead")
	_, err = schema.Map(lead, schema.Options{Dialect: modern, Exclude: []string{"leadid"}})
	require.EqualError(t, err, "exclude_columns: leadid is the primary key of lead and cannot be left out")

	// attributes and derived columns can be left out; a lookup's name
	// without its id
	m, err := schema.Map(lead, schema.Options{Dialect: modern, Exclude: []string{"emailaddress1", "owneridname", "parentaccountid", "new_secret"}})
	require.NoError(t, err)
	var names []string
	for _, c := range m.Columns() {
		names = append(names, c.Name)
	}
	for _, gone := range []string{"emailaddress1", "owneridname", "parentaccountid", "parentaccountidname"} {
		require.NotContains(t, names, gone)
	}
	require.Contains(t, names, "ownerid")
	require.Contains(t, names, "owneridtype")
	require.NotContains(t, m.Select(), "emailaddress1")
	require.NotContains(t, m.Select(), "_parentaccountid_value")
	require.Contains(t, m.Select(), "_ownerid_value", "the id is still read")
}
