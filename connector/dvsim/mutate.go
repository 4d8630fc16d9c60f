package dvsim

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// MutateResult lists the ids changed by Mutate, per logical name. Activities are listed
// under their concrete type (phonecall, …) and under activitypointer. Created holds rows
// created by the batch that are still live, Updated live rows that existed before the batch
// and changed (including lookups cleared because their target was deleted), Deleted every
// row deleted by the batch, cascades included (a row created and deleted within the batch is
// only in Deleted, as a delta shows it only as a $deletedEntity).
type MutateResult struct {
	Created map[string][]string `json:"created"`
	Updated map[string][]string `json:"updated"`
	Deleted map[string][]string `json:"deleted"`
}

// Referential behaviour when Mutate deletes a record (VERIFY: chosen from the standard
// relationships' documented cascade configuration, not checked on a live environment).
// Parental relationships cascade the delete: activities regarding the record, a customer's
// contacts, opportunities, quotes, orders, invoices and cases, an opportunity's quotes.
// Every other lookup to the deleted record is cleared (RemoveLink), which is an update of
// the referencing row: new versionnumber, modifiedon and modifiedby. System users are never
// deleted.
var cascadeDelete = map[string]bool{
	"activitypointer.regardingobjectid": true,
	"contact.parentcustomerid":          true,
	"opportunity.customerid":            true,
	"quote.customerid":                  true,
	"quote.opportunityid":               true,
	"salesorder.customerid":             true,
	"invoice.customerid":                true,
	"incident.customerid":               true,
}

type rowRef struct {
	t   *table // storage owner
	row int32
}

type mutation struct {
	s                         *Server
	rng                       *mrand.Rand
	g                         *gen
	now                       time.Time
	created, updated, deleted map[rowRef]bool
	order                     []rowRef // every touched row in first-touch order (deterministic output)
	lastLead, lastAccount     int32
	leadParts                 [6]string
	leadCreates, accCreates   int
}

func (m *mutation) note(set map[rowRef]bool, t *table, row int32) {
	r := rowRef{t.owner, row}
	if !m.created[r] && !m.updated[r] && !m.deleted[r] {
		m.order = append(m.order, r)
	}
	set[r] = true
}

// Mutation cycles: each batch starts at a position derived from the batch number, so any
// batch of at least len(cycle) operations reaches every table.
var (
	createCycle = []string{"lead", "activitypointer", "contact", "opportunity", "account", "lead", "incident", "quote", "activitypointer", "salesorder", "invoice", "lead", "contact"}
	updateCycle = []string{"lead", "opportunity", "contact", "activitypointer", "account", "quote", "incident", "lead", "salesorder", "invoice", "activitypointer", "systemuser", "opportunity"}
	deleteCycle = []string{"activitypointer", "lead", "contact", "incident", "opportunity", "invoice", "activitypointer", "quote", "salesorder", "lead", "account"}
)

// Mutate applies a deterministic batch (given the seed, the number of earlier batches and
// the simulator's clock) of creates, updates and deletes spread over every table (system
// users are only updated), with the referential behaviour described at cascadeDelete. New
// and changed rows get new versionnumbers and modifiedon = the clock; the truth follows
// because it is computed over the live rows, and planted duplicates and invalid values are
// kept current (some created leads and accounts are planted duplicates of the record
// created just before them; filling a planted invalid value removes it from the truth).
func (s *Server) Mutate(creates, updates, deletes int) MutateResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.newMutation()
	off := int(s.mutations)
	for i := 0; i < creates; i++ {
		m.create(createCycle[(off+i)%len(createCycle)])
	}
	for i := 0; i < updates; i++ {
		m.update(updateCycle[(off+i)%len(updateCycle)])
	}
	m.mutateDuplicates(creates, updates)
	var roots []rowRef
	for i := 0; i < deletes; i++ {
		if r, ok := m.pickDelete(deleteCycle[(off+i)%len(deleteCycle)]); ok {
			m.del(r)
			roots = append(roots, r)
		}
	}
	m.cascade(roots)
	return m.result()
}

func (m *mutation) result() MutateResult {
	s := m.s
	res := MutateResult{Created: map[string][]string{}, Updated: map[string][]string{}, Deleted: map[string][]string{}}
	add := func(dst map[string][]string, r rowRef) {
		id := r.t.guid(r.row)
		dst[r.t.logical] = append(dst[r.t.logical], id)
		if r.t == s.acts {
			v := s.acts.views[s.acts.typeCol.i32[r.row]]
			dst[v.logical] = append(dst[v.logical], id)
		}
	}
	for _, r := range m.order {
		switch {
		case m.deleted[r]:
			add(res.Deleted, r)
		case m.created[r]:
			add(res.Created, r)
		case m.updated[r]:
			add(res.Updated, r)
		}
	}
	for _, mp := range []map[string][]string{res.Created, res.Updated, res.Deleted} {
		for _, ids := range mp {
			slices.Sort(ids)
		}
	}
	return res
}

// pick returns a live row of t (a view picks rows of its type) for which ok holds, or -1.
func (m *mutation) pick(t *table, ok func(int32) bool) int32 {
	n := t.count()
	if n == 0 {
		return -1
	}
	for try := 0; try < 64; try++ {
		row := t.rowAt(m.rng.IntN(n))
		if t.alive(row) && (ok == nil || ok(row)) {
			return row
		}
	}
	st := m.rng.IntN(n)
	for i := 0; i < n; i++ {
		row := t.rowAt((st + i) % n)
		if t.alive(row) && (ok == nil || ok(row)) {
			return row
		}
	}
	return -1
}

// pickPreferring picks a live row of t that ok accepts, or any live row
// when none does; -1 when t has none.
func (m *mutation) pickPreferring(t *table, ok func(int32) bool) int32 {
	if row := m.pick(t, ok); row >= 0 {
		return row
	}
	return m.pick(t, nil)
}

func (m *mutation) state(t *table, want ...int32) func(int32) bool {
	c := t.owner.byName["statecode"]
	return func(r int32) bool { return slices.Contains(want, c.i32[r]) }
}

func (m *mutation) nextIdx() int {
	m.s.createSeq++
	return 10_000_000 + int(m.s.createSeq)
}

// newFollowUp creates a row of t (an order or invoice) that follows row pr
// of parent: it points at it through lookup, takes its opportunity,
// customer and total, and gets name and its number column.
func (m *mutation) newFollowUp(t *table, lookup string, parent *table, pr int32, name, numberCol, number string) int32 {
	row := m.newRow(t, 0, 1)
	set(t, row, "name", name)
	set(t, row, numberCol, number)
	setL(t, row, lookup, parent, pr)
	copyLookup(t, row, "opportunityid", parent, pr, "opportunityid")
	copyLookup(t, row, "customerid", parent, pr, "customerid")
	setM(t, row, "totalamount", max(0, parent.byName["totalamount"].i64[pr]))
	return row
}

// setState sets a row's statecode and statuscode.
func setState(t *table, row, state, status int32) {
	setI(t, row, "statecode", state)
	setI(t, row, "statuscode", status)
}

func copyLookup(dst *table, drow int32, dname string, src *table, srow int32, sname string) {
	t, idx := src.owner.allByName(sname).lookup(srow)
	c := dst.owner.allByName(dname)
	if t == nil || !t.alive(idx) {
		c.setNull(drow)
		return
	}
	c.setLookup(drow, t, idx)
}

func (m *mutation) newRow(t *table, state, status int32) int32 {
	row := t.newRow()
	m.s.stamp(t, row, m.now, m.now, m.g.user(), state, status)
	m.note(m.created, t, row)
	return row
}

func (m *mutation) create(kind string) {
	s, rng := m.s, m.rng
	switch kind {
	case "lead":
		m.createLead()
	case "account":
		m.createAccount()
	case "contact":
		acc := m.pick(s.accounts, nil)
		idx := m.nextIdx()
		c := s.contacts
		row := m.newRow(c, 0, 1)
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		set(c, row, "firstname", first)
		set(c, row, "lastname", last)
		set(c, row, "emailaddress1", emailFor(first, last, idx, "kontakt.example"))
		set(c, row, "telephone1", phoneFor(idx))
		set(c, row, "jobtitle", jobTitles[rng.IntN(len(jobTitles))])
		set(c, row, "address1_city", cities[rng.IntN(len(cities))])
		if acc >= 0 {
			setL(c, row, "parentcustomerid", s.accounts, acc)
		}
	case "opportunity":
		acc := m.pick(s.accounts, nil)
		o := s.opps
		row := m.newRow(o, 0, 1)
		set(o, row, "name", products[rng.IntN(len(products))]+" (neu)")
		set(o, row, "stepname", "1-Qualify")
		if acc >= 0 {
			setL(o, row, "customerid", s.accounts, acc)
			setL(o, row, "parentaccountid", s.accounts, acc)
			if t, con := s.accounts.byName["primarycontactid"].lookup(acc); t != nil && t.alive(con) {
				setL(o, row, "parentcontactid", t, con)
			}
		}
		setM(o, row, "estimatedvalue", int64(5000+rng.IntN(250000))*100)
		setD(o, row, "estimatedclosedate", day(m.now.AddDate(0, 0, 30+rng.IntN(90))))
		setI(o, row, "closeprobability", int32(10*rng.IntN(10)))
		setI(o, row, "salesstage", 0)
	case "quote":
		opp := m.pick(s.opps, m.state(s.opps, 0))
		if opp < 0 {
			return
		}
		q := s.quotes
		row := m.newRow(q, 0, 1)
		name, _ := s.opps.byName["name"].str(opp)
		set(q, row, "name", "Angebot "+string(name))
		set(q, row, "quotenumber", fmt.Sprintf("QUO-M%07d-AA", m.nextIdx()))
		setI(q, row, "revisionnumber", 0)
		setL(q, row, "opportunityid", s.opps, opp)
		copyLookup(q, row, "customerid", s.opps, opp, "customerid")
		est := s.opps.byName["estimatedvalue"].i64[opp]
		if est == nullI64 {
			est = 100000
		}
		setM(q, row, "totalamount", est)
		setD(q, row, "effectivefrom", day(m.now))
		setD(q, row, "effectiveto", day(m.now.AddDate(0, 1, 0)))
	case "salesorder":
		quote := m.pickPreferring(s.quotes, m.state(s.quotes, 2))
		if quote < 0 {
			return
		}
		idx := m.nextIdx()
		m.newFollowUp(s.orders, "quoteid", s.quotes, quote, fmt.Sprintf("Auftrag M%d", idx), "ordernumber", fmt.Sprintf("ORD-M%07d", idx))
	case "invoice":
		ord := m.pickPreferring(s.orders, m.state(s.orders, 1, 3, 4))
		if ord < 0 {
			return
		}
		idx := m.nextIdx()
		row := m.newFollowUp(s.invoices, "salesorderid", s.orders, ord, fmt.Sprintf("Rechnung M%d", idx), "invoicenumber", fmt.Sprintf("INV-M%07d", idx))
		setD(s.invoices, row, "duedate", day(m.now.AddDate(0, 0, 30)))
	case "activitypointer":
		typ := rng.IntN(len(s.acts.views))
		v := s.acts.views[typ]
		var regT *table
		switch rng.IntN(5) {
		case 0, 1:
			regT = s.leads
		case 2:
			regT = s.opps
		case 3:
			regT = s.contacts
		default:
			regT = s.cases
		}
		reg := m.pick(regT, nil)
		row := m.newRow(v, 0, 1)
		due := m.now.Add(time.Duration(48+rng.IntN(30*24)) * time.Hour)
		set(v, row, "subject", []string{"Anruf", "E-Mail", "Aufgabe", "Termin"}[typ]+": "+products[rng.IntN(len(products))])
		if reg >= 0 {
			setL(v, row, "regardingobjectid", regT, reg)
		}
		setD(v, row, "scheduledend", due)
		setD(v, row, "scheduledstart", due.Add(-time.Hour))
		setI(v, row, "prioritycode", int32(rng.IntN(3)))
		switch typ {
		case 0:
			set(v, row, "phonenumber", phoneFor(m.nextIdx()))
			setI(v, row, "directioncode", int32(rng.IntN(2)))
		case 1:
			setI(v, row, "directioncode", 1)
			set(v, row, "sender", "vertrieb@ampel-sim.example")
			set(v, row, "torecipients", "kunde@example.org")
		case 2:
			setI(v, row, "percentcomplete", 0)
		case 3:
			set(v, row, "location", cities[rng.IntN(len(cities))])
		}
	case "incident":
		acc := m.pick(s.accounts, nil)
		k := s.cases
		row := m.newRow(k, 0, 1)
		set(k, row, "title", []string{"Login funktioniert nicht", "Feld fehlt im Formular", "Report zeigt falsche Zahlen", "Synchronisierung Outlook", "Berechtigung fehlt"}[rng.IntN(5)])
		set(k, row, "ticketnumber", fmt.Sprintf("CAS-M%07d", m.nextIdx()))
		if acc >= 0 {
			setL(k, row, "customerid", s.accounts, acc)
		}
		setI(k, row, "prioritycode", int32(1+rng.IntN(3)))
		setI(k, row, "caseorigincode", []int32{1, 2, 3}[rng.IntN(3)])
		setI(k, row, "casetypecode", int32(1+rng.IntN(3)))
		setI(k, row, "resolvebyslastatus", 1)
	}
}

// createLead adds an open lead; every fourth created lead is a planted duplicate of the lead
// created just before it in the batch (clean by construction and in no other group).
func (m *mutation) createLead() {
	s, rng, l := m.s, m.rng, m.s.leads
	m.leadCreates++
	if m.leadCreates%4 == 0 && m.lastLead >= 0 {
		src, p := m.lastLead, m.leadParts
		kind := dupKinds[(m.leadCreates/4+int(s.mutations))%len(dupKinds)]
		f2, l2, c2, e2, ph2 := variant(kind, p[0], p[1], p[2], p[3], p[4], p[5])
		row := m.newRow(l, 0, 1)
		set(l, row, "firstname", f2)
		set(l, row, "lastname", l2)
		set(l, row, "companyname", c2)
		set(l, row, "emailaddress1", e2)
		set(l, row, "telephone1", ph2)
		set(l, row, "subject", "Anfrage "+products[rng.IntN(len(products))])
		setI(l, row, "leadsourcecode", 8)
		s.truth.dups["lead"] = append(s.truth.dups["lead"], dupGroup{Kind: kind, rows: []int32{src, row}})
		m.lastLead = -1
		return
	}
	idx := m.nextIdx()
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	base, legal := companyName(idx)
	email, phone := emailFor(first, last, idx, domainFor(base)), phoneFor(idx)
	row := m.newRow(l, 0, 1)
	set(l, row, "firstname", first)
	set(l, row, "lastname", last)
	set(l, row, "companyname", base+" "+legal)
	set(l, row, "emailaddress1", email)
	set(l, row, "telephone1", phone)
	set(l, row, "subject", "Neue Anfrage "+products[rng.IntN(len(products))])
	set(l, row, "jobtitle", jobTitles[rng.IntN(len(jobTitles))])
	set(l, row, "address1_city", cities[rng.IntN(len(cities))])
	setI(l, row, "leadsourcecode", 8)
	setI(l, row, "leadqualitycode", int32(1+rng.IntN(3)))
	setI(l, row, "donotemail", 0)
	setM(l, row, "estimatedamount", int64(1000+rng.IntN(200000))*100)
	m.lastLead, m.leadParts = row, [6]string{first, last, base, legal, email, phone}
}

// createAccount adds an account; every third created account is a planted duplicate
// (exact, case or legal suffix dropped) of the account created before it.
func (m *mutation) createAccount() {
	s, rng, a := m.s, m.rng, m.s.accounts
	m.accCreates++
	idx := m.nextIdx()
	base, legal := companyName(idx)
	if m.accCreates%3 == 0 && m.lastAccount >= 0 {
		src := m.lastAccount
		kind := []string{"exact", "case", "suffix"}[(m.accCreates/3+int(s.mutations))%3]
		n, _ := a.byName["name"].str(src)
		name := string(n)
		switch kind {
		case "case":
			name = strings.ToUpper(name)
		case "suffix":
			for _, lf := range legalForms {
				if strings.HasSuffix(name, " "+lf) {
					name = strings.TrimSuffix(name, " "+lf)
					break
				}
			}
		}
		ph, _ := a.byName["telephone1"].str(src)
		row := m.newRow(a, 0, 1)
		set(a, row, "name", name)
		set(a, row, "telephone1", string(ph))
		set(a, row, "address1_city", cities[rng.IntN(len(cities))])
		s.truth.dups["account"] = append(s.truth.dups["account"], dupGroup{Kind: kind, rows: []int32{src, row}})
		m.lastAccount = -1
		return
	}
	row := m.newRow(a, 0, 1)
	set(a, row, "name", base+" "+legal)
	set(a, row, "accountnumber", fmt.Sprintf("ACC-%07d", idx))
	set(a, row, "telephone1", phoneFor(idx))
	set(a, row, "websiteurl", "https://www."+domainFor(base))
	set(a, row, "address1_city", cities[rng.IntN(len(cities))])
	set(a, row, "address1_country", "Deutschland")
	setI(a, row, "industrycode", int32(1+rng.IntN(12)))
	setI(a, row, "numberofemployees", int32(5+rng.IntN(5000)))
	setM(a, row, "revenue", int64(100000+rng.IntN(50000000))*100)
	m.lastAccount = row
}

// touch marks an update: new versionnumber, modifiedon and modifiedby.
func (m *mutation) touch(t *table, row int32) {
	m.s.touch(t, row, m.now, m.g.user())
	if !m.created[rowRef{t.owner, row}] {
		m.note(m.updated, t, row)
	}
}

func blank(c *column, row int32) bool {
	b, ok := c.str(row)
	return !ok || strings.TrimSpace(string(b)) == ""
}

func (m *mutation) update(kind string) {
	s, rng := m.s, m.rng
	x := rng.IntN(4)
	switch kind {
	case "lead":
		l := s.leads
		row := m.pick(l, m.state(l, 0))
		if row < 0 {
			return
		}
		switch {
		case x == 0 && blank(l.byName["emailaddress1"], row):
			f, _ := l.byName["firstname"].str(row)
			la, _ := l.byName["lastname"].str(row)
			set(l, row, "emailaddress1", emailFor(string(f), string(la), m.nextIdx(), "nachgetragen.example"))
			s.truth.removeInvalid("lead", "emailaddress1", row)
		case x == 1:
			setI(l, row, "statecode", 2)
			setI(l, row, "statuscode", int32(4+rng.IntN(4)))
		default:
			set(l, row, "subject", "Aktualisiert "+products[rng.IntN(len(products))])
			setI(l, row, "statuscode", 2)
		}
		m.touch(l, row)
	case "contact":
		c := s.contacts
		row := m.pick(c, nil)
		if row < 0 {
			return
		}
		if x == 0 {
			set(c, row, "mobilephone", phoneFor(m.nextIdx()))
		} else {
			set(c, row, "jobtitle", jobTitles[rng.IntN(len(jobTitles))])
		}
		m.touch(c, row)
	case "account":
		a := s.accounts
		row := m.pick(a, nil)
		if row < 0 {
			return
		}
		setI(a, row, "numberofemployees", int32(5+rng.IntN(5000)))
		setM(a, row, "revenue", int64(100000+rng.IntN(50000000))*100)
		m.touch(a, row)
	case "opportunity":
		o := s.opps
		row := m.pick(o, m.state(o, 0))
		if row < 0 {
			return
		}
		switch x {
		case 0: // won today
			setState(o, row, 1, 3)
			est := o.byName["estimatedvalue"].i64[row]
			if est == nullI64 {
				est = 100000
			}
			setM(o, row, "actualvalue", est)
			setD(o, row, "actualclosedate", day(m.now))
		case 1: // lost
			setState(o, row, 2, 4)
			setD(o, row, "actualclosedate", day(m.now))
		default:
			setI(o, row, "closeprobability", int32(10*rng.IntN(10)))
		}
		m.touch(o, row)
	case "quote":
		q := s.quotes
		row := m.pickPreferring(q, m.state(q, 0))
		if row < 0 {
			return
		}
		if q.byName["statecode"].i32[row] == 0 {
			setState(q, row, 1, 3)
		} else {
			setD(q, row, "effectiveto", day(m.now.AddDate(0, 1, 0)))
		}
		m.touch(q, row)
	case "salesorder":
		so := s.orders
		row := m.pickPreferring(so, m.state(so, 0, 1))
		if row < 0 {
			return
		}
		if st := so.byName["statecode"].i32[row]; st == 0 || st == 1 {
			setState(so, row, 3, 100001)
			setD(so, row, "datefulfilled", m.now)
		} else {
			set(so, row, "name", fmt.Sprintf("Auftrag M%d", m.nextIdx()))
		}
		m.touch(so, row)
	case "invoice":
		iv := s.invoices
		row := m.pickPreferring(iv, m.state(iv, 0))
		if row < 0 {
			return
		}
		if iv.byName["statecode"].i32[row] == 0 {
			setState(iv, row, 2, 100001)
			setD(iv, row, "datedelivered", m.now)
		} else {
			setD(iv, row, "duedate", day(m.now.AddDate(0, 0, 14)))
		}
		m.touch(iv, row)
	case "activitypointer":
		v := s.acts.views[rng.IntN(len(s.acts.views))]
		row := m.pick(v, nil)
		if row < 0 {
			return
		}
		if st := v.byName["statecode"]; x < 2 && (st.i32[row] == 0 || st.i32[row] == 3) {
			setState(v, row, 1, 2)
			setD(v, row, "actualend", m.now)
		} else {
			setI(v, row, "prioritycode", int32(rng.IntN(3)))
		}
		m.touch(v, row)
	case "incident":
		k := s.cases
		row := m.pickPreferring(k, m.state(k, 0))
		if row < 0 {
			return
		}
		if k.byName["statecode"].i32[row] == 0 && x < 2 {
			setState(k, row, 1, 5)
		} else {
			setI(k, row, "prioritycode", int32(1+rng.IntN(3)))
		}
		m.touch(k, row)
	case "systemuser":
		u := s.users
		row := m.pick(u, func(r int32) bool { return r != s.appRow })
		if row < 0 {
			return
		}
		if x == 0 {
			setI(u, row, "isdisabled", 1-u.byName["isdisabled"].i32[row])
		} else {
			set(u, row, "internalemailaddress", fmt.Sprintf("user%d@ampel-sim.example", m.nextIdx()))
		}
		m.touch(u, row)
	}
}

func (m *mutation) pickDelete(kind string) (rowRef, bool) {
	s := m.s
	var t *table
	var ok func(int32) bool
	switch kind {
	case "lead":
		t, ok = s.leads, m.state(s.leads, 0, 2) // qualified leads stay: their opportunity points at them
	case "contact":
		t = s.contacts
	case "account":
		t = s.accounts
	case "opportunity":
		t = s.opps
	case "quote":
		t = s.quotes
	case "salesorder":
		t = s.orders
	case "invoice":
		t = s.invoices
	case "activitypointer":
		t = s.acts.views[m.rng.IntN(len(s.acts.views))]
	case "incident":
		t = s.cases
	default:
		return rowRef{}, false
	}
	row := m.pick(t, ok)
	if row < 0 {
		return rowRef{}, false
	}
	return rowRef{t.owner, row}, true
}

func (m *mutation) del(r rowRef) {
	m.s.remove(r.t, r.row)
	m.note(m.deleted, r.t, r.row)
}

// cascade applies the referential behaviour of the deletes: it scans every lookup that can
// point at a table with deleted rows, deletes parental children (repeating for their own
// children) and clears the other lookups.
func (m *mutation) cascade(roots []rowRef) {
	s := m.s
	gone := map[*table]map[int32]bool{}
	for _, r := range roots {
		if gone[r.t] == nil {
			gone[r.t] = map[int32]bool{}
		}
		gone[r.t][r.row] = true
	}
	for len(gone) > 0 {
		next := map[*table]map[int32]bool{}
		for _, t := range s.tables {
			if t.owner != t {
				continue
			}
			for _, c := range t.storage() {
				if c.kind != kLookup || !slices.ContainsFunc(c.targets, func(x *table) bool { return gone[x] != nil }) {
					continue
				}
				casc := cascadeDelete[t.logical+"."+c.name]
				for row := int32(0); row < t.n; row++ {
					if t.deleted[row] || c.i32[row] < 0 {
						continue
					}
					tgt, idx := c.lookup(row)
					if !gone[tgt][idx] {
						continue
					}
					if casc {
						m.del(rowRef{t, row})
						if next[t] == nil {
							next[t] = map[int32]bool{}
						}
						next[t][row] = true
						continue
					}
					c.setNull(row)
					m.touch(t, row)
				}
			}
		}
		gone = next
	}
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
