package dvsim

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KPIValue is the expected result of one catalog KPI for the simulated
// environment: its dimensions, its period (RFC 3339, empty for a snapshot)
// and numerator and denominator (ratios) or value. Value is the number the
// KPI shows: for a ratio numerator/denominator times the unit's scale (100
// for percent and per-100-users), nil when the denominator is zero.
type KPIValue struct {
	Dims        map[string]string `json:"dims,omitempty"`
	PeriodStart string            `json:"period_start,omitempty"`
	PeriodEnd   string            `json:"period_end,omitempty"`
	Numerator   *float64          `json:"numerator,omitempty"`
	Denominator *float64          `json:"denominator,omitempty"`
	Value       *float64          `json:"value,omitempty"`
}

// KPICriticalFields are the fields the completeness truth checks: the
// defaults of package kpis, written out here on their own.
var KPICriticalFields = map[string][]string{
	"lead":        {"firstname", "lastname", "companyname", "emailaddress1", "telephone1", "subject", "jobtitle"},
	"contact":     {"firstname", "lastname", "emailaddress1", "telephone1", "jobtitle"},
	"account":     {"name", "telephone1", "websiteurl", "address1_city", "accountnumber"},
	"opportunity": {"name", "estimatedvalue", "estimatedclosedate", "parentcontactid"},
	"quote":       {"name", "opportunityid", "totalamount"},
	"salesorder":  {"name", "quoteid", "totalamount"},
	"invoice":     {"name", "salesorderid", "totalamount", "duedate"},
}

func f64(x float64) *float64 { return &x }

func ratio(num, den int, scale float64) KPIValue {
	v := KPIValue{Numerator: f64(float64(num)), Denominator: f64(float64(den))}
	if den != 0 {
		v.Value = f64(scale * float64(num) / float64(den))
	}
	return v
}

func (v KPIValue) with(dims ...string) KPIValue {
	v.Dims = map[string]string{}
	for i := 0; i+1 < len(dims); i += 2 {
		v.Dims[dims[i]] = dims[i+1]
	}
	return v
}

func (v KPIValue) period(start, end time.Time) KPIValue {
	v.PeriodStart, v.PeriodEnd = start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)
	return v
}

// upperMedian is the median as the KPIs define it: the upper of the two
// middle values for an even count (ClickHouse's quantileExact(0.5)).
func upperMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

var nonSpace = regexp.MustCompile(`\S`)

// filled is the completeness rule: not null and, as text, not only whitespace.
func (t *table) filled(c *column, row int32) bool {
	if c.isNull(t, row) {
		return false
	}
	switch c.kind {
	case kString, kGUIDString:
		b, _ := c.str(row)
		return nonSpace.Match(b)
	}
	return true
}

// userEvents calls fn for every createdby/createdon and modifiedby/modifiedon
// of a live record of the tables users work in (not system users, not the
// application user).
func (s *Server) userEvents(fn func(user int32, at time.Time)) {
	for _, t := range s.tables {
		if t.owner != t || t == s.users {
			continue
		}
		cb, mb := t.byName["createdby"], t.byName["modifiedby"]
		co, mo := t.byName["createdon"], t.byName["modifiedon"]
		t.liveRows(func(row int32) {
			if u := cb.i32[row]; u >= 0 && u != s.appRow && co.u32[row] != 0 {
				fn(u, fromStamp(co.u32[row]))
			}
			if u := mb.i32[row]; u >= 0 && u != s.appRow && mo.u32[row] != 0 {
				fn(u, fromStamp(mo.u32[row]))
			}
		})
	}
}

// liveRows calls fn for every live row of t.
func (t *table) liveRows(fn func(row int32)) {
	for p := 0; p < t.count(); p++ {
		if row := t.rowAt(p); t.alive(row) {
			fn(row)
		}
	}
}

// localDay is the calendar day (YYYY-MM-DD) of the moment t in loc.
func localDay(t time.Time, loc *time.Location) string { return t.In(loc).Format(dayFmt) }

// midnight is the start, in loc, of the calendar day d (a date; its clock and
// zone are ignored) plus days: go-live's midnight and the days after it, as
// ClickHouse's addDays(toDateTime(date, tz), n) counts them — calendar days,
// so a day across a DST change is 23 or 25 hours long.
func midnight(d time.Time, days int, loc *time.Location) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+days, 0, 0, 0, 0, loc)
}

// localMonth is the month (YYYY-MM) of the moment t in loc.
func localMonth(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01") }

// daysBetween counts the calendar days from the date a to the date b (UTC
// midnights).
func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours()+12) / 24 }

// kpiTruth computes the expected value of every catalog KPI, as of s.now,
// from the records (and the inputs file), in Go, with every period boundary,
// day and month taken in loc as the definitions' counting text says
// (kpis.timezone): the as-of day and month are those of s.now in loc; the
// go-live windows start at go-live's midnight in loc and are counted in
// calendar days; a record's month is the month of its createdon in loc; a
// date-only column (actualclosedate) starts at its midnight in loc. The
// caller holds s.mu.
func (s *Server) kpiTruth(loc *time.Location) map[string][]KPIValue {
	out := map[string][]KPIValue{}
	asOf := s.now
	asOfDay := localDay(asOf, loc)
	in := s.truth.inputs
	day := func(d string) time.Time { t, _ := time.Parse(dayFmt, d); return t }
	// onOrBefore tells whether an inputs-file date is on or before the as-of day.
	onOrBefore := func(d string) bool { return d != "" && d <= asOfDay }

	// field_completeness: per table and field
	for name, fields := range KPICriticalFields {
		t := s.byLogical[name]
		live := t.liveCount()
		if live == 0 {
			continue
		}
		for _, f := range fields {
			c := t.byName[f]
			n := 0
			t.liveRows(func(row int32) {
				if t.filled(c, row) {
					n++
				}
			})
			out["field_completeness"] = append(out["field_completeness"], ratio(n, live, 100).with("table", name, "field", f))
		}
	}

	// lead_conversion_rate
	l := s.leads
	q, d := 0, 0
	l.liveRows(func(row int32) {
		switch l.byName["statecode"].i32[row] {
		case 1:
			q++
		case 2:
			d++
		}
	})
	out["lead_conversion_rate"] = []KPIValue{ratio(q, q+d, 100)}

	// sales_cycle_length: won opportunities, createdon → actualclosedate (its midnight in loc)
	o := s.opps
	var cycles []float64
	o.liveRows(func(row int32) {
		if o.byName["statecode"].i32[row] == 1 && o.byName["actualclosedate"].u32[row] != 0 {
			closed := midnight(fromStamp(o.byName["actualclosedate"].u32[row]), 0, loc)
			cycles = append(cycles, float64(closed.Unix()-fromStamp(o.byName["createdon"].u32[row]).Unix())/86400)
		}
	})
	if len(cycles) > 0 {
		out["sales_cycle_length"] = []KPIValue{{Value: f64(upperMedian(cycles)), Denominator: f64(float64(len(cycles)))}}
	}

	// key_user_training_rate: trained on or before the as-of day
	trained := 0
	for _, u := range in.KeyUsers {
		if onOrBefore(u.TrainedOn) {
			trained++
		}
	}
	if len(in.KeyUsers) > 0 {
		out["key_user_training_rate"] = []KPIValue{ratio(trained, len(in.KeyUsers), 100)}
	}
	// record_completeness: all critical fields of the table filled
	for name, fields := range KPICriticalFields {
		t := s.byLogical[name]
		live, n := 0, 0
		t.liveRows(func(row int32) {
			live++
			for _, f := range fields {
				if !t.filled(t.byName[f], row) {
					return
				}
			}
			n++
		})
		if live > 0 {
			out["record_completeness"] = append(out["record_completeness"], ratio(n, live, 100).with("table", name))
		}
	}

	// duplicate_density (v2): the audit's duplicate rules over live records not merged into
	// another. Its fuzzy models find the planted groups; Dynamics' out-of-the-box rules
	// group by the value lower-cased (not trimmed), a blank one never matching.
	dups, _ := s.dupTruth()
	for _, name := range []string{"lead", "contact", "account"} {
		t := s.byLogical[name]
		eligible, excess := 0, 0
		t.liveRows(func(row int32) {
			if !t.merged(row) {
				eligible++
			}
		})
		for _, g := range dups[name] {
			excess += len(g.IDs) - 1
		}
		if eligible > 0 {
			out["duplicate_density"] = append(out["duplicate_density"], ratio(excess, eligible, 100).with("table", name, "rule", "fuzzy_"+name))
		}
	}
	for _, r := range []struct{ table, field, rule string }{
		{"lead", "emailaddress1", "lead_same_email"}, {"contact", "emailaddress1", "contact_same_email"},
		{"account", "emailaddress1", "account_same_email"}, {"account", "name", "account_same_name"},
	} {
		t := s.byLogical[r.table]
		c := t.byName[r.field]
		seen := map[string]bool{}
		eligible := 0
		t.liveRows(func(row int32) {
			b, ok := c.str(row)
			if !ok || strings.TrimSpace(string(b)) == "" || t.merged(row) {
				return
			}
			eligible++
			seen[strings.ToLower(string(b))] = true
		})
		if eligible > 0 {
			out["duplicate_density"] = append(out["duplicate_density"], ratio(eligible-len(seen), eligible, 100).with("table", r.table, "rule", r.rule))
		}
	}

	// validity_rate: well-formed emails and phone numbers among the filled ones
	email := regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	phone := regexp.MustCompile(`^\+?[0-9]{6,15}$`)
	phoneJunk := strings.NewReplacer(" ", "", "\t", "", "\n", "", "\f", "", "\r", "", "(", "", ")", "", ".", "", "/", "", "-", "")
	for _, r := range []struct{ table, field string }{
		{"lead", "emailaddress1"}, {"lead", "telephone1"}, {"contact", "emailaddress1"}, {"contact", "telephone1"}, {"account", "telephone1"},
	} {
		t := s.byLogical[r.table]
		c := t.byName[r.field]
		filled, valid := 0, 0
		t.liveRows(func(row int32) {
			b, ok := c.str(row)
			if !ok || !nonSpace.Match(b) {
				return
			}
			filled++
			if strings.HasPrefix(r.field, "email") {
				if email.MatchString(strings.Trim(string(b), " \t\n\f\r")) {
					valid++
				}
			} else if phone.MatchString(phoneJunk.Replace(string(b))) {
				valid++
			}
		})
		if filled > 0 {
			out["validity_rate"] = append(out["validity_rate"], ratio(valid, filled, 100).with("table", r.table, "field", r.field))
		}
	}

	// migration_error_rate: from the inputs, per object
	for _, m := range in.Migration {
		out["migration_error_rate"] = append(out["migration_error_rate"], ratio(m.Rejected, m.Migrated, 100).with("object", m.Object))
	}

	// win_rate
	won, lost := 0, 0
	o.liveRows(func(row int32) {
		switch o.byName["statecode"].i32[row] {
		case 1:
			won++
		case 2:
			lost++
		}
	})
	out["win_rate"] = []KPIValue{ratio(won, won+lost, 100)}

	// quote_to_order_rate: activated, not revised quotes that an order points at
	ordered := map[int32]bool{}
	s.orders.liveRows(func(row int32) {
		if _, q := s.orders.byName["quoteid"].lookup(row); q >= 0 {
			ordered[q] = true
		}
	})
	quotes, withOrder, wonQuotes, revisions := 0, 0, 0, 0
	qt := s.quotes
	qt.liveRows(func(row int32) {
		st := qt.byName["statecode"].i32[row]
		if st >= 1 && st <= 3 && qt.byName["statuscode"].i32[row] != 7 {
			quotes++
			if ordered[row] {
				withOrder++
			}
		}
		if st == 2 {
			wonQuotes++
			if rn := qt.byName["revisionnumber"].i32[row]; rn != nullI32 {
				revisions += int(rn)
			}
		}
	})
	if quotes > 0 {
		out["quote_to_order_rate"] = []KPIValue{ratio(withOrder, quotes, 100)}
	}
	if wonQuotes > 0 {
		out["revisions_per_won_quote"] = []KPIValue{ratio(revisions, wonQuotes, 1)}
	}

	// open_pipeline_value: estimatedvalue_base of open opportunities
	var pipeline int64
	open := 0
	o.liveRows(func(row int32) {
		if o.byName["statecode"].i32[row] == 0 {
			open++
			if v := o.byName["estimatedvalue_base"].baseCents(row); v != nullI64 {
				pipeline += v
			}
		}
	})
	if open > 0 {
		out["open_pipeline_value"] = []KPIValue{{Value: f64(float64(pipeline) / 100), Denominator: f64(float64(open))}}
	}

	// hypercare: cases (not merged) per 30-day window and per week after go-live,
	// before as-of, over the licensed users of the inputs file
	if len(in.Environments) > 0 && in.Environments[0].GoLive != "" {
		e := in.Environments[0]
		goLive := day(e.GoLive)
		k := s.cases
		var created []time.Time
		k.liveRows(func(row int32) {
			if k.byName["statuscode"].i32[row] != 2000 && k.byName["createdon"].u32[row] != 0 {
				created = append(created, fromStamp(k.byName["createdon"].u32[row]))
			}
		})
		windows := func(id string, n, days int, dim string, label func(i int) string) {
			for i := 0; i < n; i++ {
				from, to := midnight(goLive, i*days, loc), midnight(goLive, (i+1)*days, loc)
				if !from.Before(asOf) {
					break
				}
				c := 0
				for _, t := range created {
					if !t.Before(from) && t.Before(to) && t.Before(asOf) {
						c++
					}
				}
				out[id] = append(out[id], ratio(c, e.LicensedUsers, 100).with(dim, label(i)).period(from, to))
			}
		}
		windows("hypercare_tickets_per_100_users", 3, 30, "days_after_go_live", func(i int) string { return strconv.Itoa(30 * (i + 1)) })
		windows("hypercare_tickets_weekly", 13, 7, "week_after_go_live", func(i int) string { return strconv.Itoa(i + 1) })

		// adoption: distinct users who created or modified a live record in the window,
		// the window by the calendar day of the event in loc
		active := make([]map[int32]bool, 3)
		gl := midnight(goLive, 0, loc)
		s.userEvents(func(u int32, at time.Time) {
			if at.Before(gl) || !at.Before(asOf) {
				return
			}
			if w := daysBetween(goLive, day(localDay(at, loc))) / 30; w < 3 {
				if active[w] == nil {
					active[w] = map[int32]bool{}
				}
				active[w][u] = true
			}
		})
		for w := 0; w < 3; w++ {
			from, to := midnight(goLive, 30*w, loc), midnight(goLive, 30*w+30, loc)
			if !from.Before(asOf) {
				break
			}
			out["adoption_rate"] = append(out["adoption_rate"], ratio(len(active[w]), e.LicensedUsers, 100).
				with("days_after_go_live", strconv.Itoa(30*(w+1))).period(from, to))
		}
	}
	if len(in.Environments) > 0 && in.Environments[0].LicensedUsers > 0 {
		recent := map[int32]bool{}
		since := asOf.Add(-28 * 24 * time.Hour)
		s.userEvents(func(u int32, at time.Time) {
			if !at.Before(since) && at.Before(asOf) {
				recent[u] = true
			}
		})
		out["active_usage"] = []KPIValue{ratio(len(recent), in.Environments[0].LicensedUsers, 100)}
	}

	// sla_breach_rate: Noncompliant over decided (Succeeded or Noncompliant), merged cases out
	breached, decided := 0, 0
	s.cases.liveRows(func(row int32) {
		if s.cases.byName["statuscode"].i32[row] == 2000 {
			return
		}
		switch s.cases.byName["resolvebyslastatus"].i32[row] {
		case 4:
			breached++
			decided++
		case 3:
			decided++
		}
	})
	out["sla_breach_rate"] = []KPIValue{ratio(breached, decided, 100)}

	// finance from the inputs: months up to the as-of month; marketing is not a CRM cost
	month := func(m string) time.Time { t, _ := time.Parse("2006-01", m); return t }
	asOfMonth := month(localMonth(asOf, loc))
	marketing := map[string]float64{}
	var marketingTotal float64
	firstMarketing := ""
	crmCost, benefit := 0.0, 0.0
	net := map[string]float64{}
	var tcoFirst string
	for _, c := range in.Costs {
		if c.Category == "marketing" {
			marketing[c.Month] += c.Amount
			marketingTotal += c.Amount
			if firstMarketing == "" || c.Month < firstMarketing {
				firstMarketing = c.Month
			}
			continue
		}
		if tcoFirst == "" || c.Month < tcoFirst {
			tcoFirst = c.Month
		}
		if !month(c.Month).After(asOfMonth) {
			crmCost += c.Amount
			net[c.Month] -= c.Amount
		}
	}
	for _, b := range in.Benefits {
		if !month(b.Month).After(asOfMonth) {
			benefit += b.Amount
			net[b.Month] += b.Amount
		}
	}
	if len(in.Costs) > 0 && len(in.Benefits) > 0 && crmCost > 0 {
		out["roi"] = []KPIValue{{Numerator: f64(benefit - crmCost), Denominator: f64(crmCost), Value: f64(100 * (benefit - crmCost) / crmCost)}}
		out["roi_ratio"] = []KPIValue{{Numerator: f64(benefit), Denominator: f64(crmCost), Value: f64(benefit / crmCost)}}
	}
	if len(net) > 0 {
		months := make([]string, 0, len(net))
		for m := range net {
			months = append(months, m)
		}
		slices.Sort(months)
		v := KPIValue{}
		sum := 0.0
		for _, m := range months {
			sum += net[m]
			if sum >= 0 {
				a, b := month(months[0]), month(m)
				v.Value = f64(float64((b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month()) + 1))
				break
			}
		}
		out["payback_period"] = []KPIValue{v}
	}
	if tcoFirst != "" && len(in.Environments) > 0 && in.Environments[0].TCOYears > 0 {
		end := month(tcoFirst).AddDate(in.Environments[0].TCOYears, 0, 0)
		total := 0.0
		for _, c := range in.Costs {
			if c.Category != "marketing" && month(c.Month).Before(end) {
				total += c.Amount
			}
		}
		out["tco"] = []KPIValue{{Value: f64(total)}}
	}
	// cost per lead: months with marketing cost, leads created in the month before as-of
	leadsByMonth := map[string]int{}
	l.liveRows(func(row int32) {
		if c := l.byName["createdon"].u32[row]; c != 0 && fromStamp(c).Before(asOf) {
			leadsByMonth[localMonth(fromStamp(c), loc)]++
		}
	})
	for m, cost := range marketing {
		v := KPIValue{Numerator: f64(cost), Denominator: f64(float64(leadsByMonth[m]))}
		if leadsByMonth[m] > 0 {
			v.Value = f64(cost / float64(leadsByMonth[m]))
		}
		out["cost_per_lead"] = append(out["cost_per_lead"], v.period(monthStart(m, 0, loc), monthStart(m, 1, loc)))
	}
	// ROMI: won revenue (base) of lead-originated opportunities closed from the first marketing month to the as-of day
	if marketingTotal > 0 && len(in.Environments) > 0 {
		from, revenue := firstMarketing+"-01", 0.0
		o.liveRows(func(row int32) {
			cd := o.byName["actualclosedate"].u32[row]
			if o.byName["statecode"].i32[row] != 1 || cd == 0 || o.byName["originatingleadid"].i32[row] < 0 {
				return
			}
			if d := fromStamp(cd).Format(dayFmt); d >= from && d <= asOfDay {
				if v := o.byName["actualvalue_base"].baseCents(row); v != nullI64 {
					revenue += float64(v) / 100
				}
			}
		})
		num := revenue*in.Environments[0].GrossMargin - marketingTotal
		out["romi"] = []KPIValue{{Numerator: f64(num), Denominator: f64(marketingTotal), Value: f64(100 * num / marketingTotal)}}
	}

	// surveys: the latest of each kind on or before the as-of day
	var lastNPS, lastUES *InputSurvey
	for i := range in.Surveys {
		sv := &in.Surveys[i]
		if !onOrBefore(sv.Date) {
			continue
		}
		switch {
		case sv.Kind == "nps" && (lastNPS == nil || sv.Date > lastNPS.Date):
			lastNPS = sv
		case sv.Kind == "ues" && (lastUES == nil || sv.Date > lastUES.Date):
			lastUES = sv
		}
	}
	if lastNPS != nil {
		out["nps"] = []KPIValue{ratio(lastNPS.Promoters-lastNPS.Detractors, lastNPS.Promoters+lastNPS.Passives+lastNPS.Detractors, 100)}
	}
	if lastUES != nil {
		out["user_effort_score"] = []KPIValue{{Value: f64(lastUES.Average), Denominator: f64(float64(lastUES.Responses))}}
	}

	// milestones due by the as-of day, done on time
	due, onTime := 0, 0
	for _, m := range in.Milestones {
		if !onOrBefore(m.Due) {
			continue
		}
		due++
		if m.Done != "" && m.Done <= m.Due {
			onTime++
		}
	}
	if due > 0 {
		out["milestone_adherence"] = []KPIValue{ratio(onTime, due, 100)}
	}

	// partners: revenue by lead source, registrations, enablement from the inputs
	for id, source := range map[string]int32{"partner_sourced_revenue": 4, "partner_influenced_revenue": 3} {
		var cents int64
		deals := 0
		o.liveRows(func(row int32) {
			if o.byName["statecode"].i32[row] != 1 {
				return
			}
			lt, lr := o.byName["originatingleadid"].lookup(row)
			if lr < 0 || !lt.alive(lr) || lt.byName["leadsourcecode"].i32[lr] != source {
				return
			}
			deals++
			if v := o.byName["actualvalue_base"].baseCents(row); v != nullI64 {
				cents += v
			}
		})
		if deals > 0 {
			out[id] = []KPIValue{{Value: f64(float64(cents) / 100), Denominator: f64(float64(deals))}}
		}
	}
	regs := map[string]int{}
	l.liveRows(func(row int32) {
		c := l.byName["createdon"].u32[row]
		if l.byName["leadsourcecode"].i32[row] == 4 && c != 0 && fromStamp(c).Before(asOf) {
			regs[localMonth(fromStamp(c), loc)]++
		}
	})
	for m, n := range regs {
		out["deal_registrations"] = append(out["deal_registrations"], KPIValue{Value: f64(float64(n))}.period(monthStart(m, 0, loc), monthStart(m, 1, loc)))
	}
	var firstDeal []float64
	started, completed, onboarded, certified := 0, 0, 0, 0
	reached := onOrBefore
	for _, p := range in.Partners {
		if p.OnboardingStarted != "" && reached(p.FirstDeal) {
			firstDeal = append(firstDeal, day(p.FirstDeal).Sub(day(p.OnboardingStarted)).Hours()/24)
		}
		if reached(p.OnboardingStarted) {
			started++
			if reached(p.OnboardingCompleted) {
				completed++
			}
		}
		if reached(p.OnboardingCompleted) {
			onboarded++
			if reached(p.Certified) {
				certified++
			}
		}
	}
	if len(firstDeal) > 0 {
		out["partner_time_to_first_deal"] = []KPIValue{{Value: f64(upperMedian(firstDeal)), Denominator: f64(float64(len(firstDeal)))}}
	}
	if started > 0 {
		out["partner_onboarding_completion"] = []KPIValue{ratio(completed, started, 100)}
	}
	if onboarded > 0 {
		out["partner_certification_rate"] = []KPIValue{ratio(certified, onboarded, 100)}
	}

	for _, vs := range out {
		slices.SortFunc(vs, func(a, b KPIValue) int { return strings.Compare(a.sortKey(), b.sortKey()) })
	}
	return out
}

// monthStart is the midnight in loc that begins the month m (YYYY-MM) plus add months.
func monthStart(m string, add int, loc *time.Location) time.Time {
	t, _ := time.Parse("2006-01", m)
	return time.Date(t.Year(), t.Month()+time.Month(add), 1, 0, 0, 0, 0, loc)
}

// sortKey orders a KPI's values: by period, then dimensions.
func (v KPIValue) sortKey() string {
	keys := make([]string, 0, len(v.Dims))
	for k := range v.Dims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := strings.Builder{}
	b.WriteString(v.PeriodStart)
	for _, k := range keys {
		b.WriteString("|" + k + "=" + v.Dims[k])
	}
	return b.String()
}
