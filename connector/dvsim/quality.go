package dvsim

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// plantQuality plants what the data-quality audit's other checks look for, after the rest of the
// data and from a random stream of its own (so the data before it stays as it was): postcodes on
// leads, contacts and accounts in the form of the record's country (about 1 % malformed, 4 %
// blank), birthdates and estimated close dates decades ahead, negative estimated values, lead
// sources that are not in the option set, invoices whose total differs from their order's, quote
// revisions numbered out of order, and won opportunities without any quote. The truth of each is
// computed from the records (qualityTruth), so Mutate keeps it current; the malformed postcodes
// are also listed in invalid, as the planted e-mails and phones are.
func (s *Server) plantQuality(p *planted) {
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), 0x9a11e7))
	for _, t := range []*table{s.leads, s.contacts, s.accounts} {
		c := t.byName["address1_postalcode"]
		for row := int32(0); row < t.n; row++ {
			form := postcodeForm(t, row)
			switch x := rng.IntN(100); {
			case x < 4:
			case x < 5:
				c.setStr(row, form.malformed[rng.IntN(len(form.malformed))])
				p.addInvalid(t.logical, "address1_postalcode", row)
			default:
				c.setStr(row, form.valid(1067+rng.IntN(98000)))
			}
		}
	}
	ahead := func(years int) time.Time {
		return time.Date(s.now.Year()+years, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	}
	c := s.contacts
	for row := int32(0); row < c.n; row++ {
		if c.byName["birthdate"].u32[row] != 0 && rng.IntN(50) == 0 {
			setD(c, row, "birthdate", ahead(60+rng.IntN(15)))
		}
	}
	o := s.opps
	for row := int32(0); row < o.n; row++ {
		switch x := rng.IntN(200); {
		case x == 0 && o.byName["estimatedclosedate"].u32[row] != 0:
			setD(o, row, "estimatedclosedate", ahead(70+rng.IntN(5)))
		case x < 3 && o.byName["estimatedvalue"].i64[row] > 0:
			o.byName["estimatedvalue"].i64[row] = -o.byName["estimatedvalue"].i64[row]
		}
	}
	l := s.leads
	for row := int32(0); row < l.n; row++ {
		if rng.IntN(120) == 0 {
			setI(l, row, "leadsourcecode", 99) // no such option
		}
	}
	iv := s.invoices
	for row := int32(0); row < iv.n; row++ {
		if tot := iv.byName["totalamount"].i64[row]; tot != nullI64 && rng.IntN(40) == 0 {
			iv.byName["totalamount"].i64[row] = tot * 9 / 10
		}
	}
	// quote chains are consecutive rows sharing a quotenumber: swap the first two numbers
	q := s.quotes
	num, rev := q.byName["quotenumber"], q.byName["revisionnumber"]
	for row := int32(0); row+1 < q.n; {
		end := row + 1
		a, _ := num.str(row)
		for end < q.n {
			b, _ := num.str(end)
			if string(a) != string(b) {
				break
			}
			end++
		}
		if end-row >= 2 && rng.IntN(12) == 0 {
			rev.i32[row], rev.i32[row+1] = rev.i32[row+1], rev.i32[row]
		}
		row = end
	}
	// deals closed without a quote
	accounts := s.accounts
	for i := 0; i < max(2, s.opts.Scale/300); i++ {
		acc := int32(rng.IntN(int(accounts.n)))
		created := s.now.AddDate(0, 0, -(60 + rng.IntN(600)))
		closed := day(created.AddDate(0, 0, 20+rng.IntN(40)))
		row := o.newRow()
		s.stamp(o, row, created, closed.Add(10*time.Hour), -1, 1, 3)
		owner := accounts.byName["ownerid"].i32[acc]
		for _, col := range []string{"createdby", "modifiedby", "ownerid"} {
			o.byName[col].i32[row] = owner
		}
		name, _ := accounts.byName["name"].str(acc)
		set(o, row, "name", "Direktverkauf an "+string(name))
		setL(o, row, "customerid", accounts, acc)
		setL(o, row, "parentaccountid", accounts, acc)
		if _, con := accounts.byName["primarycontactid"].lookup(acc); con >= 0 {
			setL(o, row, "parentcontactid", s.contacts, con)
		}
		est := int64(2000+rng.IntN(50000)) * 100
		setM(o, row, "estimatedvalue", est)
		setM(o, row, "actualvalue", est)
		setD(o, row, "estimatedclosedate", closed)
		setD(o, row, "actualclosedate", closed)
		setI(o, row, "closeprobability", 100)
		setI(o, row, "salesstage", 3)
	}
}

// addYears adds years as ClickHouse's addYears does: a 29 February becomes 28 February in a
// year that has none.
func addYears(t time.Time, years int) time.Time {
	y, m, d := t.Date()
	if m == time.February && d == 29 && !isLeap(y+years) {
		d = 28
	}
	return time.Date(y+years, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// Audit truth: the tables each check looks at, as the built-in audit rules list them.
var (
	auditDateTables   = []string{"lead", "contact", "account", "opportunity", "quote", "salesorder", "invoice"}
	auditMoneyTables  = []string{"lead", "account", "opportunity", "quote", "salesorder", "invoice"}
	auditChoiceTables = []string{"lead", "contact", "account", "opportunity", "quote", "salesorder", "invoice", "incident"}
)

// RetentionDays is the retention period of the inactive truth (the audit's default).
const RetentionDays = 730

// OrderInvoiceDays is how many days an order may go without an invoice in the consistency
// truth (the audit rule's default).
const OrderInvoiceDays = 30

// qualityTruth computes the truth of the audit's checks from the live records. The caller
// holds s.mu.
func (s *Server) qualityTruth(tr *Truth) {
	tr.Incomplete = map[string][]string{}
	for name, fields := range KPICriticalFields {
		t := s.byLogical[name]
		ids := []string{}
		t.liveRows(func(row int32) {
			for _, f := range fields {
				if !t.filled(t.byName[f], row) {
					ids = append(ids, t.guid(row))
					return
				}
			}
		})
		tr.Incomplete[name] = ids
	}

	// retention: the last activity of a lead or contact is its own modifiedon or the latest
	// actualend or modifiedon of a live activity regarding it
	last := map[*table]map[int32]uint32{s.leads: {}, s.contacts: {}}
	a := s.acts
	reg, end, mod := a.byName["regardingobjectid"], a.byName["actualend"], a.byName["modifiedon"]
	a.liveRows(func(row int32) {
		t, idx := reg.lookup(row)
		if m := last[t]; m != nil {
			m[idx] = max(m[idx], end.u32[row], mod.u32[row])
		}
	})
	cutoff := s.now.AddDate(0, 0, -RetentionDays)
	tr.Inactive = map[string]RetentionTruth{}
	for _, t := range []*table{s.leads, s.contacts} {
		rt := RetentionTruth{Policy: fmt.Sprintf("no activity (own modifiedon, activities' actualend and modifiedon) for %d days", RetentionDays),
			Cutoff: cutoff.Format(time.RFC3339), IDs: []string{}}
		mo := t.byName["modifiedon"]
		t.liveRows(func(row int32) {
			if fromStamp(max(mo.u32[row], last[t][row])).Before(cutoff) {
				rt.IDs = append(rt.IDs, t.guid(row))
			}
		})
		tr.Inactive[t.logical] = rt
	}

	// validity: dates more than 30 years ahead (none before 1971: the simulator's dates begin
	// in 2000), negative amounts, choice values without a label
	limit := addYears(s.now, 30)
	byField := func(tables []string, bad func(t *table, c *column, row int32) bool, kinds ...kind) map[string]map[string][]string {
		out := map[string]map[string][]string{}
		for _, name := range tables {
			t := s.byLogical[name]
			out[name] = map[string][]string{}
			for _, c := range t.cols {
				if !slices.Contains(kinds, c.kind) {
					continue
				}
				t.liveRows(func(row int32) {
					if bad(t, c, row) {
						out[name][c.name] = append(out[name][c.name], t.guid(row))
					}
				})
			}
		}
		return out
	}
	tr.ImplausibleDates = byField(auditDateTables, func(t *table, c *column, row int32) bool {
		v := c.u32[row]
		return v != 0 && day(fromStamp(v)).After(limit)
	}, kDateTime, kDateOnly)
	tr.NegativeAmounts = byField(auditMoneyTables, func(t *table, c *column, row int32) bool {
		v := c.i64[row]
		return v != nullI64 && v < 0
	}, kMoney)
	tr.UnknownChoices = byField(auditChoiceTables, func(t *table, c *column, row int32) bool {
		v := c.i32[row]
		return v != nullI32 && c.label(v) == ""
	}, kChoice)

	// consistency along the sales process
	tr.Consistency = map[string][]string{}
	quoted := map[int32]bool{}
	q := s.quotes
	q.liveRows(func(row int32) {
		if _, o := q.byName["opportunityid"].lookup(row); o >= 0 {
			quoted[o] = true
		}
	})
	won := []string{}
	o := s.opps
	o.liveRows(func(row int32) {
		if o.byName["statecode"].i32[row] == 1 && !quoted[row] {
			won = append(won, o.guid(row))
		}
	})
	tr.Consistency["won_opportunity_without_quote"] = won
	invoiced := map[int32]bool{}
	iv := s.invoices
	iv.liveRows(func(row int32) {
		if _, so := iv.byName["salesorderid"].lookup(row); so >= 0 {
			invoiced[so] = true
		}
	})
	late, due := []string{}, s.now.AddDate(0, 0, -OrderInvoiceDays)
	so := s.orders
	so.liveRows(func(row int32) {
		c := so.byName["createdon"].u32[row]
		if so.byName["statecode"].i32[row] != 2 && c != 0 && fromStamp(c).Before(due) && !invoiced[row] {
			late = append(late, so.guid(row))
		}
	})
	tr.Consistency["order_without_invoice"] = late
	differs := []string{}
	iv.liveRows(func(row int32) {
		_, ord := iv.byName["salesorderid"].lookup(row)
		it := iv.byName["totalamount"].i64[row]
		if ord < 0 || it == nullI64 || !so.alive(ord) {
			return
		}
		if ot := so.byName["totalamount"].i64[ord]; ot != nullI64 && ot != it {
			differs = append(differs, iv.guid(row))
		}
	})
	tr.Consistency["invoice_total_differs"] = differs
	type rev struct {
		row     int32
		n       int32
		created uint32
	}
	chains := map[string][]rev{}
	num, rn, co := q.byName["quotenumber"], q.byName["revisionnumber"], q.byName["createdon"]
	q.liveRows(func(row int32) {
		b, ok := num.str(row)
		if ok && rn.i32[row] != nullI32 && co.u32[row] != 0 {
			chains[string(b)] = append(chains[string(b)], rev{row, rn.i32[row], co.u32[row]})
		}
	})
	disorder := []string{}
	for _, ch := range chains {
		for _, x := range ch {
			for _, p := range ch {
				if p.created < x.created && p.n >= x.n {
					disorder = append(disorder, q.guid(x.row))
					break
				}
			}
		}
	}
	slices.Sort(disorder)
	tr.Consistency["quote_revision_out_of_order"] = disorder

	// staleness
	tr.Stale = map[string][]string{}
	past := []string{}
	o.liveRows(func(row int32) {
		d := o.byName["estimatedclosedate"].u32[row]
		if o.byName["statecode"].i32[row] == 0 && d != 0 && fromStamp(d).Before(s.now) {
			past = append(past, o.guid(row))
		}
	})
	tr.Stale["opportunity_past_close_date"] = past
	overdue := []string{}
	st, sched := a.byName["statecode"], a.byName["scheduledend"]
	a.liveRows(func(row int32) {
		if x := st.i32[row]; (x == 0 || x == 3) && sched.u32[row] != 0 && fromStamp(sched.u32[row]).Before(s.now) {
			overdue = append(overdue, a.guid(row))
		}
	})
	tr.Stale["overdue_activity"] = overdue
}

// Update sets text columns of one live record, as a PATCH of the Web API does (a new
// versionnumber, modifiedon by Clock, modifiedby the application user): a steward fixing
// what the audit found. An empty value clears the column. A planted invalid value it
// replaces leaves the truth.
func (s *Server) Update(logical, id string, values map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byLogical[logical]
	if t == nil {
		return fmt.Errorf("%w: %s", errUnknownTable, logical)
	}
	row := t.rowOf(id)
	if row < 0 || !t.has(row) || !t.alive(row) {
		return fmt.Errorf("dvsim: no live %s %s", logical, id)
	}
	for name := range values {
		c := t.byName[name]
		if c == nil || c.kind != kString {
			return fmt.Errorf("dvsim: %s.%s is not a text column", logical, name)
		}
	}
	for name, v := range values {
		t.byName[name].setStr(row, v)
		s.truth.removeInvalid(logical, name, row)
	}
	s.touch(t, row, s.clock().UTC().Truncate(time.Second), s.appRow)
	return nil
}

// postcodeKind is how postcodes of one country look: a well-formed one made
// from a number, and malformed ones.
type postcodeKind struct {
	valid     func(n int) string
	malformed []string
}

var (
	germanPostcodes = postcodeKind{func(n int) string { return fmt.Sprintf("%05d", n) },
		[]string{"1234", "D-10115", "123456", "ABCDE", "10 115"}}
	alpinePostcodes = postcodeKind{func(n int) string { return fmt.Sprintf("%04d", 1000+n%9000) }, // Austria, Switzerland
		[]string{"123", "A-1010", "12345", "CH 8001", "10 10"}}
	otherPostcodes = postcodeKind{func(n int) string { return fmt.Sprintf("%04d AB", 1000+n%9000) }, // e.g. the Netherlands
		[]string{"1", "12", "#4711", "1234 AB 5678 CD", "AB-"}}
)

// postcodeForm is the form of postcode that fits row's address1_country: German
// where the table has no country or it is blank or Germany, as the audit's
// invalid_postcode rule reads it.
func postcodeForm(t *table, row int32) postcodeKind {
	c := t.byName["address1_country"]
	if c == nil {
		return germanPostcodes
	}
	v, _ := c.str(row)
	switch strings.ToLower(strings.TrimSpace(string(v))) {
	case "", "deutschland", "germany", "de":
		return germanPostcodes
	case "österreich", "oesterreich", "austria", "at", "schweiz", "switzerland", "suisse", "svizzera", "ch":
		return alpinePostcodes
	}
	return otherPostcodes
}
