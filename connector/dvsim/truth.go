package dvsim

import (
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

type dupGroup struct {
	Kind string
	rows []int32
}

type planted struct {
	dups    map[string][]dupGroup
	invalid map[string]map[string][]int32
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
	Now          string                                   `json:"now"`
	GoLive       string                                   `json:"go_live"`
	Tables       map[string]TableTruth                    `json:"tables"`
	Duplicates   map[string][]DupGroup                    `json:"duplicates"`
	Completeness map[string]map[string]float64            `json:"completeness"`
	Invalid      map[string]map[string][]string           `json:"invalid"`
	Retention    map[string]RetentionTruth                `json:"retention"`
	WonRevenue   map[string]float64                       `json:"won_revenue_by_month"`
	TicketsWeek  []int                                    `json:"tickets_per_week_after_go_live"`
	ActiveUsers  map[string]int                           `json:"active_users_by_month"`
	Users        UsersTruth                               `json:"users"`
	Conversions  ConversionTruth                          `json:"conversions"`
	Overdue      map[string]int                           `json:"overdue_activities"`
	Extra        map[string]map[string]map[string]float64 `json:"-"`
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
	LeadsOpen, LeadsQualified, LeadsDisqualified int
	LeadConversionRate                           float64 `json:"lead_conversion_rate"`
	OppsOpen, OppsWon, OppsLost                  int
	WinRate                                      float64 `json:"win_rate"`
	QuotesNonRevised, QuotesWithOrder            int
	QuoteToOrderRate                             float64 `json:"quote_to_order_rate"`
	SalesCycleMedianDays                         float64 `json:"sales_cycle_median_days"`
}

var criticalFields = map[string][]string{
	"lead":        {"firstname", "lastname", "companyname", "emailaddress1", "telephone1", "subject", "jobtitle"},
	"contact":     {"firstname", "lastname", "emailaddress1", "telephone1", "jobtitle"},
	"account":     {"name", "telephone1", "websiteurl", "address1_city", "accountnumber"},
	"opportunity": {"name", "estimatedvalue", "estimatedclosedate", "parentcontactid"},
}

// Truth computes the planted truth over the live data.
func (s *Server) Truth() Truth {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tr := Truth{Now: s.now.Format(time.RFC3339), GoLive: s.goLive.Format("2006-01-02"), Tables: map[string]TableTruth{},
		Duplicates: map[string][]DupGroup{}, Completeness: map[string]map[string]float64{}, Invalid: map[string]map[string][]string{},
		Retention: map[string]RetentionTruth{}, WonRevenue: map[string]float64{}, ActiveUsers: map[string]int{}, Overdue: map[string]int{}}
	for _, t := range s.tables {
		tr.Tables[t.logical] = TableTruth{Count: t.liveCount()}
	}
	for name, groups := range s.truth.dups {
		t := s.byLogical[name]
		for _, g := range groups {
			var ids []string
			for _, r := range g.rows {
				if t.alive(r) {
					ids = append(ids, t.guid(r))
				}
			}
			if len(ids) > 1 {
				tr.Duplicates[name] = append(tr.Duplicates[name], DupGroup{Kind: g.Kind, IDs: ids})
			}
		}
	}
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
	return tr
}

// MutateResult lists the ids changed by Mutate, per logical name.
type MutateResult struct {
	Created map[string][]string `json:"created"`
	Updated map[string][]string `json:"updated"`
	Deleted map[string][]string `json:"deleted"`
}

// Mutate applies a deterministic batch (given the seed and the number of earlier batches):
// creates are new leads (with a phone call each on every second one), updates touch leads,
// opportunities, contacts and activities, deletes remove open leads (and their activities)
// or activities.
func (s *Server) Mutate(creates, updates, deletes int) MutateResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mutations++
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), uint64(1000+s.mutations)))
	g := &gen{s: s, rng: rng, cum: s.userWeights()}
	res := MutateResult{Created: map[string][]string{}, Updated: map[string][]string{}, Deleted: map[string][]string{}}
	now := time.Now().UTC().Truncate(time.Second)
	add := func(m map[string][]string, t *table, row int32) {
		m[t.logical] = append(m[t.logical], t.guid(row))
		if t.owner != t {
			m[t.owner.logical] = append(m[t.owner.logical], t.guid(row))
		}
	}
	for i := 0; i < creates; i++ {
		l := s.leads
		row := l.newRow()
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		idx := 10_000_000 + int(s.mutations)*100_000 + i
		base, legal := companyName(idx)
		s.stamp(l, row, now, now, g.user(), 0, 1)
		set(l, row, "firstname", first)
		set(l, row, "lastname", last)
		set(l, row, "companyname", base+" "+legal)
		set(l, row, "emailaddress1", emailFor(first, last, idx, domainFor(base)))
		set(l, row, "telephone1", phoneFor(idx))
		set(l, row, "subject", "Neue Anfrage "+products[rng.IntN(len(products))])
		setI(l, row, "leadsourcecode", 8)
		add(res.Created, l, row)
	}
	pickLive := func(t *table, ok func(int32) bool) int32 {
		for try := 0; try < 200; try++ {
			row := t.rowAt(rng.IntN(t.count()))
			if t.alive(row) && (ok == nil || ok(row)) {
				return row
			}
		}
		return -1
	}
	for i := 0; i < updates; i++ {
		var t *table
		switch x := rng.IntN(10); {
		case x < 5:
			t = s.leads
		case x < 7:
			t = s.opps
		case x < 9:
			t = s.contacts
		default:
			t = s.acts.views[rng.IntN(len(s.acts.views))]
		}
		row := pickLive(t, nil)
		if row < 0 {
			continue
		}
		switch t.owner {
		case s.leads:
			set(t, row, "subject", "Aktualisiert "+products[rng.IntN(len(products))])
			if t.byName["statecode"].i32[row] == 0 {
				setI(t, row, "statuscode", 2)
			}
		case s.opps:
			setI(t, row, "closeprobability", int32(10*rng.IntN(10)))
		case s.contacts:
			set(t, row, "jobtitle", jobTitles[rng.IntN(len(jobTitles))])
		default:
			setI(t, row, "prioritycode", int32(rng.IntN(3)))
		}
		s.touch(t, row, now, g.user())
		add(res.Updated, t, row)
	}
	for i := 0; i < deletes; i++ {
		if rng.IntN(2) == 0 {
			row := pickLive(s.leads, func(r int32) bool { return s.leads.byName["statecode"].i32[r] == 0 })
			if row < 0 {
				continue
			}
			s.remove(s.leads, row)
			add(res.Deleted, s.leads, row)
			reg := s.acts.byName["regardingobjectid"]
			for r := int32(0); r < s.acts.n; r++ {
				if t, idx := reg.lookup(r); t == s.leads && idx == row && s.acts.alive(r) {
					s.remove(s.acts, r)
					add(res.Deleted, s.acts.views[s.acts.typeCol.i32[r]], r)
				}
			}
			continue
		}
		v := s.acts.views[rng.IntN(len(s.acts.views))]
		row := pickLive(v, nil)
		if row < 0 {
			continue
		}
		s.remove(s.acts, row)
		add(res.Deleted, v, row)
	}
	for _, m := range []map[string][]string{res.Created, res.Updated, res.Deleted} {
		for k, ids := range m {
			slices.Sort(ids)
			m[k] = slices.Compact(ids)
		}
	}
	return res
}

func (s *Server) userWeights() []float64 {
	var cum []float64
	prev := 0.0
	for i := int32(0); i < s.users.n; i++ {
		w := 0.0
		if i != s.appRow && s.users.byName["isdisabled"].i32[i] == 0 {
			w = 1 / float64(i+1)
		}
		prev += w
		cum = append(cum, prev)
	}
	return cum
}

func (s *Server) touch(t *table, row int32, now time.Time, by int32) {
	s.version++
	o := t.owner
	o.version.i64[row] = s.version
	o.byName["modifiedon"].u32[row] = toStamp(now)
	o.byName["modifiedby"].i32[row] = by
}

func (s *Server) remove(t *table, row int32) {
	s.version++
	t.owner.deleted[row] = true
	t.owner.deletes = append(t.owner.deletes, delRec{row: row, ver: s.version})
}

// Records returns the live rows of a table (by logical name) as the Web API returns them
// without annotations, decoded by encoding/json (numbers as float64). Nil for an unknown table.
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
	_ = json.Unmarshal(buf, &out)
	for _, m := range out {
		delete(m, "@odata.etag")
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

var _ = sort.Ints
