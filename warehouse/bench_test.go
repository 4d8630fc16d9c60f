package warehouse_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// leadColumns are 30 columns shaped like Dataverse's lead table: GUIDs,
// names and free text of realistic length, Nullable strings, times,
// money, choices with their labels, flags and a string array.
func leadColumns(d warehouse.Dialect) []warehouse.Column {
	return []warehouse.Column{
		{Name: "leadid", Type: "UUID"},
		{Name: "fullname", Type: "String"},
		{Name: "firstname", Type: "Nullable(String)"},
		{Name: "lastname", Type: "String"},
		{Name: "emailaddress1", Type: "Nullable(String)"},
		{Name: "telephone1", Type: "Nullable(String)"},
		{Name: "companyname", Type: "Nullable(String)"},
		{Name: "jobtitle", Type: "Nullable(String)"},
		{Name: "subject", Type: "String"},
		{Name: "description", Type: "Nullable(String)"},
		{Name: "createdon", Type: "DateTime('UTC')"},
		{Name: "modifiedon", Type: "DateTime('UTC')"},
		{Name: "estimatedclosedate", Type: "Date"},
		{Name: "estimatedamount", Type: "Decimal(18, 2)"},
		{Name: "revenue", Type: "Nullable(Decimal(18, 2))"},
		{Name: "numberofemployees", Type: "Nullable(Int32)"},
		{Name: "statecode", Type: "Int32"},
		{Name: "statuscode", Type: "Int32"},
		{Name: "statuscodename", Type: "LowCardinality(String)"},
		{Name: "leadsourcecode", Type: "Nullable(Int32)"},
		{Name: "leadsourcecodename", Type: "LowCardinality(String)"},
		{Name: "ownerid", Type: "UUID"},
		{Name: "owneridname", Type: "String"},
		{Name: "parentaccountid", Type: "Nullable(UUID)"},
		{Name: "donotemail", Type: d.Bool()},
		{Name: "donotphone", Type: d.Bool()},
		{Name: "versionnumber", Type: "Int64"},
		{Name: "tags", Type: "Array(String)"},
		{Name: "address1_city", Type: "Nullable(String)"},
		{Name: "_version", Type: "UInt64"},
	}
}

// leadRows makes lead-shaped rows; row fills dst with row i. Values come
// from small pools so that generating them costs little next to the insert.
type leadRows struct {
	first, last, companies, titles, cities, subjects, descriptions []string
	owners                                                         []uuid.UUID
	ownerNames                                                     []string
	statuses, sources                                              []string
	base                                                           time.Time
}

func newLeadRows() *leadRows {
	g := &leadRows{base: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 200 {
		g.first = append(g.first, fmt.Sprintf("Firstname%03d", i))
		g.last = append(g.last, fmt.Sprintf("Lastname-%03d", i))
		g.companies = append(g.companies, fmt.Sprintf("Contoso Subsidiary %03d GmbH & Co. KG", i))
		g.titles = append(g.titles, fmt.Sprintf("Head of Procurement %d", i%17))
		g.cities = append(g.cities, fmt.Sprintf("München-%d", i%50))
		g.subjects = append(g.subjects, fmt.Sprintf("Interested in product line %d (web form)", i))
		g.descriptions = append(g.descriptions, strings.Repeat(fmt.Sprintf("Lead %d asked about pricing, delivery times and support; ", i), 3))
	}
	for i := range 50 {
		g.owners = append(g.owners, uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)}))
		g.ownerNames = append(g.ownerNames, fmt.Sprintf("Sales Rep %02d", i))
	}
	g.statuses = []string{"New", "Contacted", "Qualified", "Lost", "Cannot Contact", "No Longer Interested", "Canceled"}
	g.sources = []string{"Advertisement", "Employee Referral", "External Referral", "Partner", "Public Relations", "Seminar", "Trade Show", "Web", "Word of Mouth", "Other"}
	return g
}

func (g *leadRows) row(i int, dst []any) {
	var id uuid.UUID
	binary.BigEndian.PutUint64(id[8:], uint64(i))
	id[0], id[6], id[8] = 0xa1, 0x40, id[8]|0x80
	k := i % 200
	var nullable = func(s string) any {
		if i%7 == 0 {
			return nil
		}
		return s
	}
	created := g.base.Add(time.Duration(i) * time.Minute)
	dst[0] = id
	dst[1] = g.first[k] + " " + g.last[(i/200)%200]
	dst[2] = nullable(g.first[k])
	dst[3] = g.last[(i/200)%200]
	dst[4] = nullable(fmt.Sprintf("lead%d@example.com", i))
	dst[5] = nullable("+49 89 1234 5678")
	dst[6] = nullable(g.companies[k])
	dst[7] = nullable(g.titles[k])
	dst[8] = g.subjects[k]
	dst[9] = nullable(g.descriptions[k])
	dst[10] = created
	dst[11] = created.Add(36 * time.Hour)
	dst[12] = created.AddDate(0, 3, 0)
	dst[13] = decimal.New(int64(i%1000000)*100+int64(i%100), -2)
	if i%3 == 0 {
		dst[14] = nil
	} else {
		dst[14] = decimal.New(int64(i%50000)*100, -2)
	}
	if i%5 == 0 {
		dst[15] = nil
	} else {
		dst[15] = int32(i % 5000)
	}
	dst[16] = int32(i % 3)
	dst[17] = int32(i % 7)
	dst[18] = g.statuses[i%7]
	dst[19] = int32(i % 10)
	dst[20] = g.sources[i%10]
	dst[21] = g.owners[i%50]
	dst[22] = g.ownerNames[i%50]
	if i%4 == 0 {
		dst[23] = nil
	} else {
		dst[23] = g.owners[(i+7)%50]
	}
	dst[24] = i%11 == 0
	dst[25] = i%13 == 0
	dst[26] = int64(i)
	dst[27] = []string{g.sources[i%10], g.statuses[i%7]}
	dst[28] = nullable(g.cities[k])
	dst[29] = uint64(i)
}

// BenchmarkLeads inserts lead-shaped rows (1,000,000; 100,000 under
// -short) through a Batch on each driver, then reads them all back with
// Query, and reports rows/s for each half. Run with -benchtime=1x.
func BenchmarkLeads(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	gen := newLeadRows()
	for _, cfg := range warehousetest.All(b) {
		b.Run(cfg.Driver, func(b *testing.B) {
			st := warehousetest.Open(b, cfg)
			ctx := context.Background()
			cols := leadColumns(st.Dialect())
			names := make([]string, len(cols))
			defs := make([]string, len(cols))
			for i, c := range cols {
				names[i], defs[i] = c.Name, warehouse.QuoteIdentifier(c.Name)+" "+c.Type
			}
			create := "CREATE TABLE bench_lead (" + strings.Join(defs, ", ") + ") ENGINE = ReplacingMergeTree(_version) ORDER BY leadid"
			row := make([]any, len(cols))

			b.Run("insert", func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					if err := st.Exec(ctx, "DROP TABLE IF EXISTS bench_lead"); err != nil {
						b.Fatal(err)
					}
					if err := st.Exec(ctx, create); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					batch, err := st.PrepareInsert(ctx, "bench_lead", names)
					if err != nil {
						b.Fatal(err)
					}
					for i := range n {
						gen.row(i, row)
						if err := batch.Append(row...); err != nil {
							b.Fatal(err)
						}
					}
					if err := batch.Send(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			})

			b.Run("read", func(b *testing.B) {
				for b.Loop() {
					rows, err := st.Query(ctx, "SELECT "+strings.Join(names, ", ")+" FROM bench_lead")
					if err != nil {
						b.Fatal(err)
					}
					got := 0
					for rows.Next() {
						if len(rows.Values()) != len(cols) {
							b.Fatal("short row")
						}
						got++
					}
					if err := rows.Err(); err != nil {
						b.Fatal(err)
					}
					rows.Close()
					if got != n {
						b.Fatalf("read %d rows, inserted %d", got, n)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		})
	}
}
