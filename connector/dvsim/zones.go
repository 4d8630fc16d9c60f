package dvsim

import "time"

// plantZoneEdges moves some records' createdon onto the edges that a KPI
// time zone (kpis.timezone) decides, so that a period cut in the wrong zone
// changes a KPI's result (kpitruth.go computes the truth in any zone):
//
//   - leads: every third lead with the lead source Partner, and one lead in
//     25, to 23:00–23:49 UTC on the last day of the month before their own —
//     the next month's first day in Europe/Berlin (UTC+1 or +2) — and as
//     many to 01:00–02:59 UTC on the first day of their month — the month
//     before in America/New_York (UTC−5 or −4); deal_registrations and
//     cost_per_lead count leads by month;
//   - cases: one in four of those created after go-live to 30 minutes before
//     the week or 30-day boundary after go-live that it follows (midnight
//     UTC; the next week in a zone east of UTC), one in four to 01:00–01:59
//     UTC after it (the week before in a zone west of UTC);
//     hypercare_tickets_weekly and hypercare_tickets_per_100_users count
//     cases by week and 30-day window after go-live's midnight.
//
// A createdon only moves earlier, and not before the data's start, so
// modifiedon and the records made after it stay later. Deterministic: the
// choice depends on the rows and their data only. sales_cycle_length (the
// close date's midnight in the zone) and the as-of day (plantAsOfEdge)
// depend on the zone without it.
func (s *Server) plantZoneEdges(start time.Time) {
	l := s.leads
	lc, src := l.byName["createdon"], l.byName["leadsourcecode"]
	partner := 0
	for row := int32(0); row < l.n; row++ {
		c := lc.u32[row]
		if c == 0 {
			continue
		}
		created := fromStamp(c)
		first := time.Date(created.Year(), created.Month(), 1, 0, 0, 0, 0, time.UTC)
		east := first.Add(-time.Hour + time.Duration(row%50)*time.Minute)
		west := first.Add(time.Hour + time.Duration(row%120)*time.Minute)
		var to time.Time
		switch {
		case src.i32[row] == 4:
			switch partner % 3 {
			case 0:
				to = east
			case 1:
				to = west
			}
			partner++
		case row%25 == 0:
			to = east
		case row%25 == 12:
			to = west
		}
		if !to.IsZero() && to.Before(created) && to.After(start) {
			lc.u32[row] = toStamp(to)
		}
	}

	k := s.cases
	kc := k.byName["createdon"]
	for row := int32(0); row < k.n; row++ {
		created := fromStamp(kc.u32[row])
		if kc.u32[row] == 0 || row%2 != 0 || created.Before(s.goLive.AddDate(0, 0, 7)) {
			continue
		}
		days := int(created.Sub(s.goLive) / (24 * time.Hour))
		edge := days / 7 * 7
		if d := days / 30 * 30; d > edge && d <= 90 {
			edge = d
		}
		at := s.goLive.AddDate(0, 0, edge)
		to := at.Add(-30 * time.Minute)
		if row%4 == 2 {
			to = at.Add(time.Hour + time.Duration(row%60)*time.Minute)
		}
		if to.Before(created) {
			kc.u32[row] = toStamp(to)
		}
	}
}

// plantAsOfEdge makes the last key user of the inputs file trained on the
// day of now in UTC: on or before the as-of day in UTC and in zones east of
// it, the day after it in a zone west of UTC (now is midnight UTC by
// default), so key_user_training_rate depends on the zone of the as-of day.
func (s *Server) plantAsOfEdge(in *Inputs) {
	if n := len(in.KeyUsers); n > 0 {
		in.KeyUsers[n-1].TrainedOn = s.now.Format(dayFmt)
	}
}
