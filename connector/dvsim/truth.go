package dvsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

type dupGroup struct {
	Kind string
	rows []int32
}

type planted struct {
	dups    map[string][]dupGroup
	look    map[string][]dupGroup // look-alikes: not duplicates
	invalid map[string]map[string][]int32
	inputs  Inputs // the KPI inputs file, made once after the data
}

// removeInvalid forgets a planted invalid value that Mutate replaced by a valid one.
func (p *planted) removeInvalid(table, field string, row int32) {
	if rows := p.invalid[table][field]; rows != nil {
		p.invalid[table][field] = slices.DeleteFunc(rows, func(r int32) bool { return r == row })
	}
}

func (p *planted) addInvalid(table, field string, row int32) {
	if p.invalid[table] == nil {
		p.invalid[table] = map[string][]int32{}
	}
	p.invalid[table][field] = append(p.invalid[table][field], row)
}

// DupGroup is one planted duplicate group.
type DupGroup struct {
	Kind string   `json:"kind"`
	IDs  []string `json:"ids"`
}

// Truth is the planted truth; see the package comment for the meaning of each section.
type Truth struct {
	Now          string                         `json:"now"`
	GoLive       string                         `json:"go_live"`
	Tables       map[string]TableTruth          `json:"tables"`
	Duplicates   map[string][]DupGroup          `json:"duplicates"`
	Lookalikes   map[string][]DupGroup          `json:"lookalikes"`
	Completeness map[string]map[string]float64  `json:"completeness"`
	Invalid      map[string]map[string][]string `json:"invalid"`
	Retention    map[string]RetentionTruth      `json:"retention"`
	WonRevenue   map[string]float64             `json:"won_revenue_by_month"`
	TicketsWeek  []int                          `json:"tickets_per_week_after_go_live"`
	ActiveUsers  map[string]int                 `json:"active_users_by_month"`
	Users        UsersTruth                     `json:"users"`
	Conversions  ConversionTruth                `json:"conversions"`
	Overdue      map[string]int                 `json:"overdue_activities"`
	KPIs         map[string][]KPIValue          `json:"kpis"`
	Scoring      *ScoringTruth                  `json:"scoring"`
	// The audit's other checks (quality.go).
	Incomplete       map[string][]string                      `json:"incomplete"`
	Inactive         map[string]RetentionTruth                `json:"inactive"`
	ImplausibleDates map[string]map[string][]string           `json:"implausible_dates"`
	NegativeAmounts  map[string]map[string][]string           `json:"negative_amounts"`
	UnknownChoices   map[string]map[string][]string           `json:"unknown_choices"`
	Consistency      map[string][]string                      `json:"consistency"`
	Stale            map[string][]string                      `json:"stale"`
	Extra            map[string]map[string]map[string]float64 `json:"-"`
}

// TableTruth counts live rows.
type TableTruth struct {
	Count int `json:"count"`
}

// RetentionTruth lists records past the retention age.
type RetentionTruth struct {
	Policy string   `json:"policy"`
	Cutoff string   `json:"cutoff"`
	IDs    []string `json:"ids"`
}

// UsersTruth describes system users.
type UsersTruth struct {
	Licensed   int `json:"licensed"` // enabled, non-application users
	Active28d  int `json:"active_last_28_days"`
	NeverActve int `json:"never_active"`
}

// ConversionTruth holds the sales-funnel counts.
type ConversionTruth struct {
	LeadsOpen            int     `json:"leads_open"`
	LeadsQualified       int     `json:"leads_qualified"`
	LeadsDisqualified    int     `json:"leads_disqualified"`
	LeadConversionRate   float64 `json:"lead_conversion_rate"` // qualified / (qualified + disqualified)
	OppsOpen             int     `json:"opportunities_open"`
	OppsWon              int     `json:"opportunities_won"`
	OppsLost             int     `json:"opportunities_lost"`
	WinRate              float64 `json:"win_rate"` // won / (won + lost)
	QuotesNonRevised     int     `json:"quotes_non_revised"`
	QuotesWithOrder      int     `json:"quotes_with_order"`
	QuoteToOrderRate     float64 `json:"quote_to_order_rate"`     // with order / non-revised
	SalesCycleMedianDays float64 `json:"sales_cycle_median_days"` // won: actualclosedate - createdon
}

var criticalFields = map[string][]string{
	"lead":        {"firstname", "lastname", "companyname", "emailaddress1", "telephone1", "subject", "jobtitle"},
	"contact":     {"firstname", "lastname", "emailaddress1", "telephone1", "jobtitle"},
	"account":     {"name", "telephone1", "websiteurl", "address1_city", "accountnumber"},
	"opportunity": {"name", "estimatedvalue", "estimatedclosedate", "parentcontactid"},
}

// Truth computes the planted truth over the live data, its KPI section with
// periods cut in UTC.
func (s *Server) Truth() Truth { return s.TruthIn(time.UTC) }

// TruthIn computes the planted truth over the live data, its KPI section
// (Truth.KPIs) with every period boundary, day and month taken in loc, as
// the KPIs compute them with kpis.timezone set to loc's name. The other
// sections do not depend on a zone.
func (s *Server) TruthIn(loc *time.Location) Truth {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tr := Truth{Now: s.now.Format(time.RFC3339), GoLive: s.goLive.Format("2006-01-02"), Tables: map[string]TableTruth{},
		Duplicates: map[string][]DupGroup{}, Completeness: map[string]map[string]float64{}, Invalid: map[string]map[string][]string{},
		Retention: map[string]RetentionTruth{}, WonRevenue: map[string]float64{}, ActiveUsers: map[string]int{}, Overdue: map[string]int{}}
	for _, t := range s.tables {
		tr.Tables[t.logical] = TableTruth{Count: t.liveCount()}
	}
	tr.Duplicates, tr.Lookalikes = s.dupTruth()
	for name, fields := range criticalFields {
		t := s.byLogical[name]
		tr.Completeness[name] = map[string]float64{}
		live := t.liveCount()
		for _, f := range fields {
			c := t.byName[f]
			n := 0
			for p := 0; p < t.count(); p++ {
				row := t.rowAt(p)
				if !t.alive(row) || c.isNull(t, row) {
					continue
				}
				if c.kind == kString {
					if b, _ := c.str(row); strings.TrimSpace(string(b)) == "" {
						continue
					}
				}
				n++
			}
			if live > 0 {
				tr.Completeness[name][f] = float64(n) / float64(live)
			}
		}
	}
	for name, fields := range s.truth.invalid {
		t := s.byLogical[name]
		tr.Invalid[name] = map[string][]string{}
		for f, rows := range fields {
			for _, r := range rows {
				if b, ok := t.byName[f].str(r); t.alive(r) && ok && len(b) > 0 {
					tr.Invalid[name][f] = append(tr.Invalid[name][f], t.guid(r))
				}
			}
		}
	}
	cutoff := s.now.AddDate(-2, 0, 0)
	for _, name := range []string{"lead", "contact"} {
		t := s.byLogical[name]
		rt := RetentionTruth{Policy: "statecode != 0 and modifiedon < now - 2 years", Cutoff: cutoff.Format(time.RFC3339), IDs: []string{}}
		st, mod := t.byName["statecode"], t.byName["modifiedon"]
		for p := 0; p < t.count(); p++ {
			row := t.rowAt(p)
			if t.alive(row) && st.i32[row] != 0 && fromStamp(mod.u32[row]).Before(cutoff) {
				rt.IDs = append(rt.IDs, t.guid(row))
			}
		}
		tr.Retention[name] = rt
	}
	// won revenue per month of actualclosedate
	o := s.opps
	var cycles []float64
	for row := int32(0); row < o.n; row++ {
		if !o.alive(row) {
			continue
		}
		switch o.byName["statecode"].i32[row] {
		case 0:
			tr.Conversions.OppsOpen++
		case 1:
			tr.Conversions.OppsWon++
			cd := fromStamp(o.byName["actualclosedate"].u32[row])
			tr.WonRevenue[cd.Format("2006-01")] += float64(o.byName["actualvalue"].i64[row]) / 100
			cycles = append(cycles, cd.Sub(fromStamp(o.byName["createdon"].u32[row])).Hours()/24)
		case 2:
			tr.Conversions.OppsLost++
		}
	}
	slices.Sort(cycles)
	if n := len(cycles); n > 0 {
		tr.Conversions.SalesCycleMedianDays = cycles[n/2]
		if n%2 == 0 {
			tr.Conversions.SalesCycleMedianDays = (cycles[n/2-1] + cycles[n/2]) / 2
		}
	}
	if d := tr.Conversions.OppsWon + tr.Conversions.OppsLost; d > 0 {
		tr.Conversions.WinRate = float64(tr.Conversions.OppsWon) / float64(d)
	}
	l := s.leads
	for row := int32(0); row < l.n; row++ {
		if !l.alive(row) {
			continue
		}
		switch l.byName["statecode"].i32[row] {
		case 0:
			tr.Conversions.LeadsOpen++
		case 1:
			tr.Conversions.LeadsQualified++
		case 2:
			tr.Conversions.LeadsDisqualified++
		}
	}
	if d := tr.Conversions.LeadsQualified + tr.Conversions.LeadsDisqualified; d > 0 {
		tr.Conversions.LeadConversionRate = float64(tr.Conversions.LeadsQualified) / float64(d)
	}
	ordered := map[int32]bool{}
	for row := int32(0); row < s.orders.n; row++ {
		if s.orders.alive(row) {
			if _, q := s.orders.byName["quoteid"].lookup(row); q >= 0 {
				ordered[q] = true
			}
		}
	}
	for row := int32(0); row < s.quotes.n; row++ {
		if s.quotes.alive(row) && s.quotes.byName["statuscode"].i32[row] != 7 {
			tr.Conversions.QuotesNonRevised++
			if ordered[row] {
				tr.Conversions.QuotesWithOrder++
			}
		}
	}
	if tr.Conversions.QuotesNonRevised > 0 {
		tr.Conversions.QuoteToOrderRate = float64(tr.Conversions.QuotesWithOrder) / float64(tr.Conversions.QuotesNonRevised)
	}
	// tickets per week after go-live (excluding merged cases)
	k := s.cases
	for row := int32(0); row < k.n; row++ {
		c := fromStamp(k.byName["createdon"].u32[row])
		if !k.alive(row) || k.byName["statuscode"].i32[row] == 2000 || c.Before(s.goLive) {
			continue
		}
		wk := int(c.Sub(s.goLive) / (7 * 24 * time.Hour))
		for len(tr.TicketsWeek) <= wk {
			tr.TicketsWeek = append(tr.TicketsWeek, 0)
		}
		tr.TicketsWeek[wk]++
	}
	// active users: created or modified a record in the period (application user excluded)
	months := map[string]map[int32]bool{}
	recent := map[int32]bool{}
	since := s.now.AddDate(0, 0, -28)
	mark := func(u int32, at time.Time) {
		if u < 0 || u == s.appRow {
			return
		}
		m := at.Format("2006-01")
		if months[m] == nil {
			months[m] = map[int32]bool{}
		}
		months[m][u] = true
		if !at.Before(since) {
			recent[u] = true
		}
	}
	for _, t := range s.tables {
		if t.owner != t || t == s.users {
			continue
		}
		cb, mb := t.byName["createdby"], t.byName["modifiedby"]
		co, mo := t.byName["createdon"], t.byName["modifiedon"]
		for row := int32(0); row < t.n; row++ {
			if t.alive(row) {
				mark(cb.i32[row], fromStamp(co.u32[row]))
				mark(mb.i32[row], fromStamp(mo.u32[row]))
			}
		}
	}
	ever := map[int32]bool{}
	for m, us := range months {
		tr.ActiveUsers[m] = len(us)
		for u := range us {
			ever[u] = true
		}
	}
	tr.Users.Active28d = len(recent)
	for row := int32(0); row < s.users.n; row++ {
		if row != s.appRow && s.users.byName["isdisabled"].i32[row] == 0 {
			tr.Users.Licensed++
			if !ever[row] {
				tr.Users.NeverActve++
			}
		}
	}
	for _, v := range s.acts.views {
		n := 0
		st, due := v.byName["statecode"], v.byName["scheduledend"]
		for _, row := range v.rows {
			if v.alive(row) && (st.i32[row] == 0 || st.i32[row] == 3) && due.u32[row] != 0 && fromStamp(due.u32[row]).Before(s.now) {
				n++
			}
		}
		tr.Overdue[v.logical] = n
	}
	tr.KPIs = s.kpiTruth(loc)
	tr.Scoring = s.scoringTruth()
	tr.Scoring.addKPIs(tr.KPIs)
	s.qualityTruth(&tr)
	return tr
}

// Records returns the live rows of a table (by logical name) as the Web API returns them
// without annotations (and without @odata.etag), decoded by encoding/json with UseNumber:
// numbers are json.Number holding the exact text the API sends (integers such as
// versionnumber as digits, money and decimals with at most two fraction digits), so
// Int64() and String() compare exactly. Nil for an unknown table.
func (s *Server) Records(logical string) []map[string]any {
	s.mu.RLock()
	t := s.byLogical[logical]
	if t == nil {
		s.mu.RUnlock()
		return nil
	}
	buf := []byte{'['}
	first := true
	for p := 0; p < t.count(); p++ {
		row := t.rowAt(p)
		if !t.alive(row) {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendRow(buf, t, row, t.cols, ann{})
	}
	s.mu.RUnlock()
	buf = append(buf, ']')
	out := []map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	_ = dec.Decode(&out)
	for _, m := range out {
		delete(m, odata.KeyETag)
	}
	return out
}

var addTypes = map[string]kind{"String": kString, "Memo": kString, "Integer": kInt, "Boolean": kBool, "Money": kMoney,
	"Decimal": kDecimal, "DateTime": kDateTime, "Picklist": kChoice}

// AddColumn adds a column at run time (String, Memo, Integer, Boolean, Money, Decimal,
// DateTime or Picklist). Existing rows get deterministic values (about 70 % filled) without
// a new versionnumber — as on Dataverse, a new column reaches a client only through a new
// baseline.
func (s *Server) AddColumn(tableName, logicalName, attributeType string) error {
	k, ok := addTypes[attributeType]
	if !ok {
		return fmt.Errorf("dvsim: unsupported attribute type %q", attributeType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byLogical[tableName]
	if t == nil {
		return fmt.Errorf("%w: %s", errUnknownTable, tableName)
	}
	if t.byName[logicalName] != nil {
		return fmt.Errorf("dvsim: column %s.%s exists", tableName, logicalName)
	}
	c := &column{name: logicalName, kind: k, attrType: attributeType, custom: true, format: "Text"}
	switch k {
	case kBool:
		c.options = yesNo
	case kChoice:
		c.options = opts(100000000, "Option A", 100000001, "Option B", 100000002, "Option C")
	case kInt:
		c.format = "None"
	case kDateTime:
		c.format = "DateAndTime"
	}
	o := t.owner
	if o.allCols != nil {
		o.allCols = append(o.allCols, c)
		for i := int32(0); i < o.n; i++ {
			c.grow()
		}
		t.addCol(c)
	} else {
		o.addCol(c)
	}
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), uint64(len(logicalName))*7))
	for row := int32(0); row < o.n; row++ {
		if rng.IntN(10) >= 7 || !t.has(row) {
			continue
		}
		switch k {
		case kString:
			c.setStr(row, fmt.Sprintf("%s %d", logicalName, row))
		case kInt:
			c.i32[row] = int32(rng.IntN(1000))
		case kBool:
			c.i32[row] = int32(rng.IntN(2))
		case kChoice:
			c.i32[row] = 100000000 + int32(rng.IntN(3))
		case kMoney, kDecimal:
			c.i64[row] = int64(rng.IntN(1_000_000))
		case kDateTime:
			c.u32[row] = toStamp(s.now.Add(-time.Duration(rng.IntN(1000)) * time.Hour))
		}
	}
	s.metadataVersion++
	return nil
}
