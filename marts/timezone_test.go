package marts_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// idColumn is the primary key attribute of each source table of a mart
// with a created_date.
var idColumn = map[string]string{
	"account": "accountid", "contact": "contactid", "lead": "leadid", "opportunity": "opportunityid",
	"quote": "quoteid", "salesorder": "salesorderid", "invoice": "invoiceid",
	"activitypointer": "activityid", "incident": "incidentid",
}

// TestDatesInTimezone publishes the marts with marts.timezone (and
// kpis.timezone) Europe/Berlin: every created_date is the day the
// simulator's record was created on in Berlin, including the records the
// simulator planted on month edges (some of which are on another day in
// UTC: asserted), and every monthly KPI's period_date is the 1st of the
// Berlin month the simulator's truth in Berlin starts it in.
func TestDatesInTimezone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			s := setUp(t, cfg, 200)
			s.tz = berlin.String()
			rep := s.run(t, "r1")
			p := newPublisher(t, s.st, marts.Options{Timezone: berlin.String()})
			_, err := p.Publish(ctx, "test")
			require.NoError(t, err)

			// created_date against the simulator's records, in Berlin
			shifted := map[string]int{}
			for _, set := range []string{"dim_account", "dim_contact", "fact_lead", "fact_opportunity", "fact_quote", "fact_order", "fact_invoice", "fact_activity", "fact_case"} {
				src := source[set]
				want := map[string]string{}
				for _, r := range s.sim.Records(src) {
					key := kpistest.Env + "|" + strings.ToLower(fmt.Sprint(r[idColumn[src]]))
					want[key] = "1970-01-01" // a missing createdon
					if c, ok := r["createdon"].(string); ok {
						at, err := time.Parse(time.RFC3339, c)
						require.NoError(t, err, "%s.createdon", src)
						want[key] = at.In(berlin).Format(time.DateOnly)
						if want[key] != at.UTC().Format(time.DateOnly) {
							shifted[set]++
						}
					}
				}
				require.NotEmpty(t, want, src)
				got := map[string]string{}
				rows, err := s.st.Query(ctx, fmt.Sprintf("SELECT %s, toString(created_date) FROM %s", set[strings.Index(set, "_")+1:]+"_key", p.View(set)))
				require.NoError(t, err)
				for rows.Next() {
					var k, d string
					require.NoError(t, rows.Scan(&k, &d))
					got[k] = d
				}
				require.NoError(t, rows.Err())
				rows.Close()
				require.Equal(t, want, got, "%s.created_date: the day in Berlin", set)
			}
			require.Positive(t, shifted["fact_lead"], "the simulator plants leads on the evening before a month's first day (UTC): another day in Berlin")

			// monthly KPIs: period_date is the Berlin month's 1st, as the truth in Berlin has it
			truth := s.sim.TruthIn(berlin)
			monthly := map[string]bool{}
			for _, r := range rep.Results {
				if r.Def.Grain == "month" {
					monthly[r.Def.ID] = true
				}
			}
			require.NotEmpty(t, monthly, "a monthly KPI ran")
			for id := range monthly {
				want := map[string]bool{}
				for _, v := range truth.KPIs[id] {
					at, err := time.Parse(time.RFC3339, v.PeriodStart)
					require.NoError(t, err, "%s period_start", id)
					d := at.In(berlin)
					require.Equal(t, 1, d.Day(), "%s: the truth's month starts on the 1st in Berlin", id)
					want[d.Format(time.DateOnly)] = true
				}
				require.NotEmpty(t, want, id)
				got := map[string]bool{}
				for _, view := range []string{"bi_kpi_history", "bi_kpi_latest"} {
					rows, err := s.st.Query(ctx, "SELECT DISTINCT toString(period_date) FROM "+view+" WHERE kpi_id = ?", id)
					require.NoError(t, err)
					for rows.Next() {
						var d string
						require.NoError(t, rows.Scan(&d))
						require.True(t, strings.HasSuffix(d, "-01"), "%s.period_date of %s is %s, not a 1st", view, id, d)
						got[d] = true
					}
					require.NoError(t, rows.Err())
					rows.Close()
				}
				require.Equal(t, want, got, "%s: the months' 1st days", id)
			}

			// the dates of Ampel's own records: the days their times fall on in Berlin
			for _, c := range []struct{ view, at, date string }{
				{"bi_sync_runs", "started_at", "started_date"},
				{"bi_dq_findings", "first_seen", "first_seen_date"},
			} {
				rows, err := s.st.Query(ctx, fmt.Sprintf("SELECT %s, toString(%s) FROM %s", c.at, c.date, c.view))
				require.NoError(t, err)
				n := 0
				for rows.Next() {
					var at time.Time
					var d string
					require.NoError(t, rows.Scan(&at, &d))
					require.Equal(t, at.In(berlin).Format(time.DateOnly), d, "%s.%s of %s", c.view, c.date, at)
					n++
				}
				require.NoError(t, rows.Err())
				rows.Close()
				require.Positive(t, n, c.view)
			}
			// dim_date reaches past every date of the facts
			require.Zero(t, one[uint64](t, s.st, "SELECT count() FROM bi_fact_lead WHERE created_date NOT IN (SELECT date FROM bi_dim_date)"))
		})
	}
}

// TestUnknownTimezone: a zone the system does not know is refused when
// the publisher is made, before anything is built.
func TestUnknownTimezone(t *testing.T) {
	_, err := marts.New(warehousetest.Open(t, warehousetest.Embedded(t)), marts.Options{Timezone: "Europe/Berln"})
	require.ErrorContains(t, err, `time zone "Europe/Berln"`)
}
