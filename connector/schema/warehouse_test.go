package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/warehouse"
	_ "github.com/ampel/ampel/warehouse/embedded" // registers "embedded"
	"github.com/ampel/ampel/warehouse/landing"
	"github.com/ampel/ampel/warehouse/warehousetest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// TestLandsInWarehouse creates the landing table of the lead mapping on
// both drivers (ClickHouse 18.16 and the embedded engine), inserts mapped
// rows, reads them back, and checks that an added attribute is an added
// column while a changed type is refused.
func TestLandsInWarehouse(t *testing.T) {
	e := leadEntity(t)
	p := decode(t, leadRecord)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := warehousetest.Open(t, cfg)
			m, err := schema.New(e, st.Dialect(), nil)
			require.NoError(t, err)
			change, err := landing.Ensure(ctx, st, m.Landing(), nil)
			require.NoError(t, err)
			require.True(t, change.Created)

			lr, err := landing.NewRows(m.Landing(), "test")
			require.NoError(t, err)
			b, err := st.PrepareInsert(ctx, m.Landing().Table(), lr.Columns())
			require.NoError(t, err)
			row, err := m.Row(&p.Records[0], nil)
			require.NoError(t, err)
			version, _ := p.Records[0].Version()
			require.NoError(t, b.Append(lr.Live(row, version, time.Now())...))
			sparse := decode(t, `{"value":[{"leadid":"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e12","versionnumber":8}]}`)
			row, err = m.Row(&sparse.Records[0], row)
			require.NoError(t, err)
			require.NoError(t, b.Append(lr.Live(row, uint64(8), time.Now())...))
			require.NoError(t, b.Send(ctx))

			rows, err := st.Query(ctx, "SELECT toString(leadid), estimatedamount, estimatedclosedate, owneridtype, statecodename, new_interestsname FROM lead ORDER BY leadid")
			require.NoError(t, err)
			defer rows.Close()
			var got [][]any
			for rows.Next() {
				got = append(got, append([]any(nil), rows.Values()...))
			}
			require.NoError(t, rows.Err())
			require.Len(t, got, 2)
			require.Equal(t, "7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", got[0][0])
			require.Equal(t, "1234.5678", got[0][1].(interface{ String() string }).String())
			require.Equal(t, time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC), got[0][2])
			require.Equal(t, "team", got[0][3])
			require.Equal(t, "Open", got[0][4])
			require.Equal(t, []string{"CRM", "BI"}, got[0][5])
			require.Nil(t, got[1][1])
			require.Equal(t, []string{}, got[1][5])

			// a new attribute is an added column; a changed type is refused
			e2 := *e
			e2.Attributes = append(append([]dataverse.Attribute(nil), e.Attributes...), dataverse.Attribute{LogicalName: "new_region", Type: "String", IsValidForRead: true, Precision: -1})
			m2, err := schema.New(&e2, st.Dialect(), nil)
			require.NoError(t, err)
			have, err := warehouse.TableColumns(ctx, st, m2.Landing().Table())
			require.NoError(t, err)
			_, add, err := landing.Diff(m2.Landing().Table(), have, m2.Columns())
			require.NoError(t, err)
			require.Equal(t, []warehouse.Column{{Name: "new_region", Type: "Nullable(String)"}}, add)

			e3 := *e
			e3.Attributes = append([]dataverse.Attribute(nil), e.Attributes...)
			for i := range e3.Attributes {
				if e3.Attributes[i].LogicalName == "numberofemployees" {
					e3.Attributes[i].Type = "Decimal"
				}
			}
			m3, err := schema.New(&e3, st.Dialect(), nil)
			require.NoError(t, err)
			_, _, err = landing.Diff(m3.Landing().Table(), have, m3.Columns())
			var tce *landing.TypeChangeError
			require.ErrorAs(t, err, &tce)
			require.Equal(t, "numberofemployees", tce.Column)
			t.Log(err)
		})
	}
}
