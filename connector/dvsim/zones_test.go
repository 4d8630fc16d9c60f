package dvsim

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestTruthInZone checks GET /_sim/truth?tz=: the KPI section in a zone
// east and one west of UTC differs from the UTC one in every KPI that cuts
// days, weeks or months (the planted edges decide them), its go-live
// windows start at go-live's midnight in the zone and are calendar days
// long across the DST change; an unknown zone is refused with one line.
func TestTruthInZone(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	// go-live 2026-08-10: the 90 days after it cross the end of summer
	// time in Europe (2026-10-25) and in the US (2026-11-01)
	s := start(t, Options{Seed: 12, Scale: 600, Now: now})
	utc := s.Truth().KPIs

	code, body := control(t, s, "GET", "/_sim/truth", "")
	if code != 200 || !reflect.DeepEqual(decodeJSON[Truth](t, body).KPIs, roundTrip(t, utc)) {
		t.Fatalf("truth without tz: %d, not the UTC truth", code)
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "../etc/passwd"} {
		code, body := control(t, s, "GET", "/_sim/truth?tz="+bad, "")
		if code != 400 || strings.Count(strings.TrimSpace(body), "\n") != 0 || !strings.Contains(body, "IANA time zone") {
			t.Errorf("tz=%s: %d %q, want 400 and one line", bad, code, body)
		}
	}

	zoneDependent := []string{"deal_registrations", "cost_per_lead", "hypercare_tickets_weekly",
		"hypercare_tickets_per_100_users", "sales_cycle_length"}
	for _, zone := range []string{"Europe/Berlin", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		code, body := control(t, s, "GET", "/_sim/truth?tz="+zone, "")
		if code != 200 {
			t.Fatalf("tz=%s: %d %s", zone, code, body)
		}
		kpis := decodeJSON[Truth](t, body).KPIs
		if !reflect.DeepEqual(kpis, roundTrip(t, s.TruthIn(loc).KPIs)) {
			t.Errorf("tz=%s: the endpoint's truth is not TruthIn", zone)
		}
		ids := zoneDependent
		if zone == "America/New_York" {
			// now is midnight UTC: the as-of day is the day before
			ids = append(ids, "key_user_training_rate")
		}
		for _, id := range ids {
			if len(kpis[id]) == 0 {
				t.Errorf("tz=%s: no truth of %s", zone, id)
			}
			if reflect.DeepEqual(kpis[id], roundTrip(t, utc)[id]) {
				t.Errorf("tz=%s: %s is the same as in UTC: a period cut in the wrong zone would pass", zone, id)
			}
		}
		goLive, _ := time.Parse(dayFmt, s.Inputs("sim").Environments[0].GoLive)
		lengths := map[time.Duration]bool{}
		for _, v := range kpis["hypercare_tickets_weekly"] {
			from, _ := time.Parse(time.RFC3339, v.PeriodStart)
			to, _ := time.Parse(time.RFC3339, v.PeriodEnd)
			if h, m, sec := from.In(loc).Clock(); h+m+sec != 0 {
				t.Errorf("tz=%s: week from %s is not a midnight in the zone", zone, v.PeriodStart)
			}
			lengths[to.Sub(from)] = true
		}
		first := kpis["hypercare_tickets_weekly"][0].PeriodStart
		if want := time.Date(goLive.Year(), goLive.Month(), goLive.Day(), 0, 0, 0, 0, loc).UTC().Format(time.RFC3339); first != want {
			t.Errorf("tz=%s: the first week starts %s, want go-live's midnight %s", zone, first, want)
		}
		if !lengths[7*24*time.Hour] || !lengths[7*24*time.Hour+time.Hour] {
			t.Errorf("tz=%s: week lengths %v: want 168 h and, across the DST change, 169 h", zone, lengths)
		}
	}
}

// roundTrip returns v as it comes back from JSON.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
