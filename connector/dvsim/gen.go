package dvsim

import (
	"fmt"
	"math"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"time"
)

var firstNames = []string{"Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ivan", "Julia", "Karl", "Lena", "Max", "Nina", "Oskar", "Paula", "Quentin", "Rosa", "Stefan", "Tina", "Uwe", "Vera", "Walter", "Xenia", "Yusuf", "Zoe", "Maria", "Thomas", "Sophie", "Lukas"}
var lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs"}
var consonants = "bdfgklmnprstvwz"
var vowels = "aeiou"
var industries = []string{"Systems", "Logistik", "Consulting", "Solutions", "Technik", "Handel", "Bau", "Medien", "Software", "Energie"}
var legalForms = []string{"GmbH", "AG", "KG", "GmbH & Co. KG", "e.V.", "Ltd", "Inc", "LLC", "SA", "BV"}
var cities = []string{"Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Stuttgart", "Düsseldorf", "Leipzig", "Dortmund", "Bremen"}
var jobTitles = []string{"Einkaufsleiter", "Geschäftsführer", "IT-Leiter", "Vertriebsleiterin", "Projektmanager", "CFO", "Assistenz der Geschäftsführung"}
var products = []string{"CRM-Einführung", "Lizenzen", "Support-Vertrag", "Schulung", "Datenmigration", "Integration"}

// pseudoWord is unique per i (< 15·5^… combos): consonant-vowel syllables, so a doubled
// consonant (the planted typo) never spells another generated word.
func pseudoWord(i int) string {
	x := uint64(i)*2654435761%(75*75*75*75) + 0
	var b strings.Builder
	for k := 0; k < 4; k++ {
		syl := x % 75
		x /= 75
		c := consonants[syl/5]
		if k == 0 {
			c -= 32
		}
		b.WriteByte(c)
		b.WriteByte(vowels[syl%5])
	}
	return b.String()
}

// companyName is unique after removing the legal form and case folding.
func companyName(i int) (base, legal string) {
	return pseudoWord(i) + " " + industries[i%len(industries)], legalForms[(i/7)%len(legalForms)]
}

func phoneFor(i int) string {
	d := uint64(i)*7919 + 1000003
	return fmt.Sprintf("+49 30 %08d", d%100000000)
}

var foldReplacer = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue")

func asciiFold(s string) string { return strings.ToLower(foldReplacer.Replace(s)) }

func emailFor(first, last string, i int, domain string) string {
	return fmt.Sprintf("%s.%s.%s@%s", asciiFold(first), asciiFold(last), strings.ToLower(fmt.Sprint(i)), domain)
}

func domainFor(company string) string {
	return strings.ToLower(strings.ReplaceAll(company, " ", "-")) + ".example"
}

type gen struct {
	s   *Server
	rng *mrand.Rand
	cum []float64 // user activity weights, cumulative
}

func (g *gen) user() int32 {
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	lo, hi := 0, len(g.cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if g.cum[m] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return int32(lo)
}

func (g *gen) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(g.rng.Int64N(int64(b.Sub(a)/time.Second))) * time.Second)
}

// stamp sets the common columns of a new row.
func (s *Server) stamp(t *table, row int32, created, modified time.Time, owner int32, state, status int32) {
	s.version++
	o := t.owner
	o.byName["createdon"].u32[row] = toStamp(created)
	o.byName["modifiedon"].u32[row] = toStamp(modified)
	o.version.i64[row] = s.version
	if owner >= 0 {
		o.byName["createdby"].i32[row] = owner
		o.byName["modifiedby"].i32[row] = owner
		if c := o.byName["ownerid"]; c != nil {
			c.i32[row] = owner
		}
	}
	if c := o.byName["statecode"]; c != nil {
		c.i32[row] = state
		o.byName["statuscode"].i32[row] = status
	}
	if c := o.byName["exchangerate"]; c != nil {
		// one record in five is in a second currency (1.25 per base unit), so
		// that sums of transaction amounts and of _base amounts differ
		c.i64[row] = 100
		if splitmix(o.salt^uint64(row))%5 == 0 {
			c.i64[row] = 125
		}
	}
}

func set(t *table, row int32, name, v string) { t.owner.allByName(name).setStr(row, v) }
func setI(t *table, row int32, name string, v int32) {
	t.owner.allByName(name).i32[row] = v
}
func setM(t *table, row int32, name string, cents int64) { t.owner.byName[name].i64[row] = cents }
func setD(t *table, row int32, name string, tm time.Time) {
	t.owner.allByName(name).u32[row] = toStamp(tm)
}
func setL(t *table, row int32, name string, target *table, idx int32) {
	t.owner.allByName(name).setLookup(row, target, idx)
}

func (t *table) allByName(name string) *column {
	if c := t.byName[name]; c != nil {
		return c
	}
	for _, c := range t.storage() {
		if c.name == name {
			return c
		}
	}
	panic("dvsim: no column " + name + " on " + t.logical)
}

func day(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// generate builds the data set and plants the truth.
func (s *Server) generate() {
	n := s.opts.Scale
	g := &gen{s: s, rng: mrand.New(mrand.NewPCG(uint64(s.opts.Seed), 1))}
	p := &planted{dups: map[string][]dupGroup{}, invalid: map[string]map[string][]int32{}}
	s.truth = p
	now, start := s.now, s.now.AddDate(-3, 0, 0)

	// users
	nu := max(5, n/200)
	for i := 0; i < nu; i++ {
		row := s.users.newRow()
		f, l := firstNames[i%len(firstNames)], lastNames[(i*7+i/len(firstNames))%len(lastNames)]
		s.stamp(s.users, row, start.AddDate(0, 0, -30), start.AddDate(0, 0, -30), -1, 0, 0)
		set(s.users, row, "firstname", f)
		set(s.users, row, "lastname", l)
		set(s.users, row, "internalemailaddress", fmt.Sprintf("%s.%s%d@ampel-sim.example", asciiFold(f), asciiFold(l), i))
		set(s.users, row, "domainname", fmt.Sprintf("%s.%s%d@ampel-sim.example", asciiFold(f), asciiFold(l), i))
		set(s.users, row, "azureactivedirectoryobjectid", s.users.guid(row)[0:8]+idFromSeed(s.opts.Seed, uint64(100+i))[8:])
		dis := int32(0)
		if i%17 == 16 {
			dis = 1
		}
		setI(s.users, row, "isdisabled", dis)
		setI(s.users, row, "accessmode", 0)
		// users differ in activity: Zipf-like weights, every tenth user inactive.
		w := 1 / math.Pow(float64(i+1), 0.8)
		if i%10 == 9 || dis == 1 {
			w = 0
		}
		prev := 0.0
		if i > 0 {
			prev = g.cum[i-1]
		}
		g.cum = append(g.cum, prev+w)
	}
	app := s.users.newRow()
	s.stamp(s.users, app, start, start, -1, 0, 0)
	set(s.users, app, "firstname", "#")
	set(s.users, app, "lastname", "Ampel Sync")
	set(s.users, app, "applicationid", s.clientID)
	set(s.users, app, "azureactivedirectoryobjectid", s.appUserOID)
	setI(s.users, app, "isdisabled", 0)
	setI(s.users, app, "accessmode", 4)
	s.appUserID = s.users.guid(app)
	s.appRow = app

	dupEvery := 30 // about 3% of leads get a duplicate
	sample := -1
	if n >= 32_000 {
		sample = n / 16
	}
	for i := 0; i < n; i++ {
		if i == sample {
			s.reserveProjected(float64(n) / float64(i))
		}
		if sample > 0 && i%sample == sample-1 {
			// the reserved columns make the heap goal twice their size: collect the
			// generator's garbage before it gets there (peak RSS, not speed).
			runtime.GC()
		}
		s.genLead(g, p, i, start, now, dupEvery)
	}
	// accounts and contacts that did not come from leads (migrated data), with duplicates.
	extra := max(10, n/20)
	s.accounts.reserve(int(s.accounts.n) + extra + extra/10 + 16)
	s.contacts.reserve(int(s.contacts.n) + extra/5 + 16)
	for j := 0; j < extra; j++ {
		s.genAccount(g, p, n+j, start, now, true)
	}
	// cases: hypercare tickets after go-live rising then falling off.
	nc := max(50, n/50)
	s.cases.reserve(nc)
	liveAcc := s.accounts.count()
	for i := 0; i < nc; i++ {
		var created time.Time
		if g.rng.Float64() < 0.1 {
			created = g.between(start, s.goLive)
		} else {
			for {
				wk := g.rng.IntN(26)
				weight := float64(wk+1) * math.Exp(-float64(wk)/3) / 3.0
				if g.rng.Float64() > weight {
					continue
				}
				created = s.goLive.Add(time.Duration(wk)*7*24*time.Hour + time.Duration(g.rng.Int64N(7*24*3600))*time.Second)
				if created.Before(now) {
					break
				}
			}
		}
		row := s.cases.newRow()
		state, status := int32(0), int32(1)
		switch x := g.rng.Float64(); {
		case created.After(now.AddDate(0, 0, -14)) && x < 0.7:
		case x < 0.8:
			state, status = 1, 5
		case x < 0.85:
			state, status = 1, 1000
		case x < 0.88:
			state, status = 2, 2000
		case x < 0.92:
			state, status = 2, 6
		}
		s.stamp(s.cases, row, created, g.between(created, now), g.user(), state, status)
		set(s.cases, row, "title", []string{"Login funktioniert nicht", "Feld fehlt im Formular", "Report zeigt falsche Zahlen", "Synchronisierung Outlook", "Berechtigung fehlt"}[g.rng.IntN(5)])
		set(s.cases, row, "ticketnumber", fmt.Sprintf("CAS-%05d-%c%c%c", i+1, 'A'+g.rng.IntN(26), 'A'+g.rng.IntN(26), 'A'+g.rng.IntN(26)))
		setL(s.cases, row, "customerid", s.accounts, int32(g.rng.IntN(liveAcc)))
		setI(s.cases, row, "prioritycode", int32(1+g.rng.IntN(3)))
		setI(s.cases, row, "caseorigincode", []int32{1, 2, 3}[g.rng.IntN(3)])
		setI(s.cases, row, "casetypecode", int32(1+g.rng.IntN(3)))
		setI(s.cases, row, "resolvebyslastatus", []int32{1, 3, 3, 3, 4}[g.rng.IntN(5)])
	}
	s.plantDuplicates(g, p)
	s.plantQuality(p)
	s.plantZoneEdges(start)
	p.inputs = s.genInputs()
	s.plantAsOfEdge(&p.inputs)
	s.renumberVersions()
}

// renumberVersions gives the generated rows version numbers in the order of
// their modifiedon, as Dataverse's rowversion has them: a row modified later
// has the higher number. The generator stamps rows in the order it makes
// them (a lead, then the account, contact and opportunity it turns into),
// not in time order; without this, the rows a modifiedon watermark reads
// again would carry lower numbers than the newest the last sync saw, and
// the sync would take the source for restored. Ties keep the order of
// generation. The numbers stay dense (1…rows) and the counter is left as it
// is, so later changes get higher ones. Only the versionnumber column
// changes: the data and the planted truth are as generated.
func (s *Server) renumberVersions() {
	// one key per row: modifiedon above the generation order, sorted; a
	// row's new number is its key's rank (8 bytes a row, no map)
	n := 0
	for _, t := range s.tables {
		if t.owner == t && t.version != nil {
			n += int(t.n)
		}
	}
	keys := make([]uint64, 0, n)
	for _, t := range s.tables {
		if t.owner != t || t.version == nil {
			continue
		}
		mod := t.byName["modifiedon"]
		for row := int32(0); row < t.n; row++ {
			if v := t.version.i64[row]; v != nullI64 {
				keys = append(keys, versionKey(mod.u32[row], v))
			}
		}
	}
	slices.Sort(keys)
	for _, t := range s.tables {
		if t.owner != t || t.version == nil {
			continue
		}
		mod := t.byName["modifiedon"]
		for row := int32(0); row < t.n; row++ {
			if v := t.version.i64[row]; v != nullI64 {
				rank, _ := slices.BinarySearch(keys, versionKey(mod.u32[row], v))
				t.version.i64[row] = int64(rank) + 1
			}
		}
	}
}

// versionKey orders a generated row by modifiedon, then by the version
// number it was stamped with (below 2^32: one per generated row).
func versionKey(modified uint32, version int64) uint64 {
	return uint64(modified)<<32 | uint64(uint32(version))
}

// reserveProjected sizes every table for f times its rows so far (plus a margin): the
// tables grow in proportion to the leads generated.
func (s *Server) reserveProjected(f float64) {
	for _, t := range s.tables {
		if t == s.users {
			continue
		}
		t.reserve(int(float64(t.count())*f*1.04) + 1024)
	}
}

func (s *Server) genLead(g *gen, p *planted, i int, start, now time.Time, dupEvery int) {
	l := s.leads
	created := g.between(start, now.Add(-time.Hour))
	first, last := firstNames[g.rng.IntN(len(firstNames))], lastNames[g.rng.IntN(len(lastNames))]
	base, legal := companyName(i)
	company := base + " " + legal
	email := emailFor(first, last, i, domainFor(base))
	phone := phoneFor(i)
	owner := g.user()
	modified := g.between(created, minTime(now.Add(-time.Hour), created.Add(60*24*time.Hour)))
	row := l.newRow()
	s.stamp(l, row, created, modified, owner, 0, int32(1+g.rng.IntN(2)))
	set(l, row, "firstname", first)
	set(l, row, "lastname", last)
	set(l, row, "subject", "Interesse an "+products[g.rng.IntN(len(products))])
	set(l, row, "jobtitle", jobTitles[g.rng.IntN(len(jobTitles))])
	set(l, row, "address1_city", cities[g.rng.IntN(len(cities))])
	setI(l, row, "leadsourcecode", int32(1+g.rng.IntN(10)))
	setI(l, row, "leadqualitycode", int32(1+g.rng.IntN(3)))
	setI(l, row, "donotemail", int32(g.rng.IntN(10)/9))
	setM(l, row, "estimatedamount", int64(1000+g.rng.IntN(200000))*100)
	// planted gaps and invalid values (rates are documented in the package comment).
	x := g.rng.Float64()
	switch {
	case x < 0.04:
	case x < 0.05:
		set(l, row, "emailaddress1", "  ")
	case x < 0.065:
		bad := []string{strings.Split(email, "@")[0] + "@", strings.Replace(email, "@", ".", 1), strings.Replace(email, ".", " ", 1)}[g.rng.IntN(3)]
		set(l, row, "emailaddress1", bad)
		p.addInvalid("lead", "emailaddress1", row)
	default:
		set(l, row, "emailaddress1", email)
	}
	y := g.rng.Float64()
	switch {
	case y < 0.08:
	case y < 0.09:
		set(l, row, "telephone1", []string{"12", "0000", "+49 30 12ab"}[g.rng.IntN(3)])
		p.addInvalid("lead", "telephone1", row)
	default:
		set(l, row, "telephone1", phone)
	}
	if g.rng.Float64() >= 0.02 {
		set(l, row, "companyname", company)
	}
	clean := x >= 0.065 && y >= 0.09
	// planted scoring features and interactions decide the lead (scoring.go)
	if state := s.plantLead(row, i, created, modified, now); state == 1 {
		s.qualify(g, row, first, last, base, legal, email, phone, i, modified, now, owner)
	}
	s.genActivities(g, l, row, created, now, g.rng.IntN(7)/6) // noise beside the planted interactions
	// duplicates of this lead (only from clean originals so every group is unambiguous).
	if clean && i%dupEvery == dupEvery-1 && l.byName["companyname"].ref[row] != nullRef {
		kind := dupKinds[(i/dupEvery)%len(dupKinds)]
		f2, l2, c2, e2, ph2 := variant(kind, first, last, base, legal, email, phone)
		d := l.newRow()
		dc := g.between(created, now.Add(-time.Hour))
		s.stamp(l, d, dc, dc, g.user(), 0, 1)
		set(l, d, "firstname", f2)
		set(l, d, "lastname", l2)
		set(l, d, "companyname", c2)
		set(l, d, "emailaddress1", e2)
		set(l, d, "telephone1", ph2)
		set(l, d, "subject", "Anfrage "+products[g.rng.IntN(len(products))])
		setI(l, d, "leadsourcecode", 8)
		p.dups["lead"] = append(p.dups["lead"], dupGroup{Kind: kind, rows: []int32{row, d}})
	}
}

var dupKinds = []string{"exact", "case", "whitespace", "phone", "typo", "suffix"}

// variant returns the planted near-duplicate of a lead of the given kind.
func variant(kind, first, last, base, legal, email, phone string) (f2, l2, c2, e2, ph2 string) {
	company := base + " " + legal
	f2, l2, c2, e2, ph2 = first, last, company, email, phone
	switch kind {
	case "case":
		f2, l2, c2, e2 = strings.ToUpper(first), strings.ToLower(last), strings.ToUpper(company), strings.ToUpper(email)
	case "whitespace":
		f2, l2, c2, e2 = " "+first, last+"  ", strings.Replace(company, " ", "  ", 1)+" ", " "+email
	case "phone":
		digits := strings.ReplaceAll(strings.TrimPrefix(phone, "+49 "), " ", "")
		ph2 = "0" + digits[:2] + "/" + digits[2:]
	case "typo":
		l2 = typo(last)
		c2 = typo(base) + " " + legal
	case "suffix":
		c2 = base
	}
	return
}

// typo doubles the first inner consonant (a pattern generated names never contain).
func typo(s string) string {
	for i := 1; i < len(s); i++ {
		if strings.IndexByte(consonants, s[i]) >= 0 {
			return s[:i+1] + s[i:]
		}
	}
	return s + "e"
}

func (s *Server) genAccount(g *gen, p *planted, i int, start, now time.Time, withDup bool) int32 {
	a := s.accounts
	base, legal := companyName(i)
	created := g.between(start, now.Add(-time.Hour))
	row := a.newRow()
	s.stamp(a, row, created, g.between(created, now.Add(-time.Hour)), g.user(), 0, 1)
	set(a, row, "name", base+" "+legal)
	set(a, row, "accountnumber", fmt.Sprintf("ACC-%07d", i))
	set(a, row, "telephone1", phoneFor(i))
	set(a, row, "websiteurl", "https://www."+domainFor(base))
	set(a, row, "address1_city", cities[g.rng.IntN(len(cities))])
	set(a, row, "address1_country", "Deutschland")
	setI(a, row, "industrycode", int32(1+g.rng.IntN(12)))
	setI(a, row, "numberofemployees", int32(5+g.rng.IntN(5000)))
	setM(a, row, "revenue", int64(100000+g.rng.IntN(50000000))*100)
	if withDup && i%10 == 0 {
		kind := []string{"exact", "case", "whitespace", "typo", "suffix", "phone"}[(i/10)%6]
		name, phone := base+" "+legal, phoneFor(i)
		switch kind {
		case "case":
			name = strings.ToUpper(name)
		case "whitespace":
			name = " " + strings.Replace(name, " ", "  ", 1)
		case "typo":
			name = typo(base) + " " + legal
		case "suffix":
			name = base
		case "phone":
			name = base + " " + legal
			phone = strings.ReplaceAll(phone, " ", "")
		}
		d := a.newRow()
		dc := g.between(created, now.Add(-time.Hour))
		s.stamp(a, d, dc, dc, g.user(), 0, 1)
		set(a, d, "name", name)
		set(a, d, "telephone1", phone)
		set(a, d, "address1_city", cities[g.rng.IntN(len(cities))])
		p.dups["account"] = append(p.dups["account"], dupGroup{Kind: kind, rows: []int32{row, d}})
		// a contact duplicate next to it
		c := s.contacts
		f, l := firstNames[i%len(firstNames)], lastNames[(i/3)%len(lastNames)]
		email := emailFor(f, l, i, domainFor(base))
		c1 := c.newRow()
		s.stamp(c, c1, created, created, g.user(), 0, 1)
		set(c, c1, "firstname", f)
		set(c, c1, "lastname", l)
		set(c, c1, "emailaddress1", email)
		set(c, c1, "telephone1", phoneFor(i))
		setL(c, c1, "parentcustomerid", a, row)
		c2 := c.newRow()
		s.stamp(c, c2, dc, dc, g.user(), 0, 1)
		f2, l2, e2 := f, l, email
		switch kind {
		case "case":
			f2, l2, e2 = strings.ToUpper(f), strings.ToUpper(l), strings.ToUpper(email)
		case "whitespace":
			f2, e2 = f+" ", email+" "
		case "typo", "suffix":
			l2 = typo(l)
		}
		set(c, c2, "firstname", f2)
		set(c, c2, "lastname", l2)
		set(c, c2, "emailaddress1", e2)
		set(c, c2, "telephone1", phone)
		setL(c, c2, "parentcustomerid", a, d)
		ck := kind
		if kind == "suffix" {
			ck = "typo"
		}
		p.dups["contact"] = append(p.dups["contact"], dupGroup{Kind: ck, rows: []int32{c1, c2}})
	}
	return row
}

// qualify creates the account, contact and opportunity of a qualified lead, and quotes,
// orders and invoices down the process.
func (s *Server) qualify(g *gen, lead int32, first, last, base, legal, email, phone string, i int, at, now time.Time, owner int32) {
	acc := s.genAccount(g, nil, i, at, at.Add(time.Hour), false)
	c := s.contacts
	con := c.newRow()
	s.stamp(c, con, at, at, owner, 0, 1)
	set(c, con, "firstname", first)
	set(c, con, "lastname", last)
	if g.rng.Float64() >= 0.05 {
		set(c, con, "emailaddress1", email)
	}
	set(c, con, "telephone1", phone)
	set(c, con, "jobtitle", jobTitles[g.rng.IntN(len(jobTitles))])
	set(c, con, "address1_city", cities[g.rng.IntN(len(cities))])
	setL(c, con, "parentcustomerid", s.accounts, acc)
	if g.rng.IntN(3) == 0 {
		setD(c, con, "birthdate", day(time.Date(1960+g.rng.IntN(40), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC)))
	}
	setL(s.accounts, acc, "primarycontactid", c, con)
	o := s.opps
	opp := o.newRow()
	est := int64(5000+g.rng.IntN(250000)) * 100
	state, status := int32(0), int32(1)
	closeAt := day(at.Add(time.Duration(10+g.rng.IntN(110)) * 24 * time.Hour))
	if closeAt.Before(now.AddDate(0, 0, -1)) {
		switch x := g.rng.Float64(); {
		case x < 0.45:
			state, status = 1, 3
		case x < 0.85:
			state, status = 2, int32(4+g.rng.IntN(2))
		}
	}
	mod := at
	if state != 0 {
		mod = closeAt.Add(time.Duration(9+g.rng.IntN(8)) * time.Hour)
	}
	s.stamp(o, opp, at, mod, owner, state, status)
	set(o, opp, "name", products[g.rng.IntN(len(products))]+" für "+base)
	set(o, opp, "stepname", []string{"1-Qualify", "2-Develop", "3-Propose", "4-Close"}[g.rng.IntN(4)])
	setL(o, opp, "customerid", s.accounts, acc)
	setL(o, opp, "parentaccountid", s.accounts, acc)
	setL(o, opp, "parentcontactid", c, con)
	setL(o, opp, "originatingleadid", s.leads, lead)
	setM(o, opp, "estimatedvalue", est)
	setD(o, opp, "estimatedclosedate", closeAt)
	setI(o, opp, "closeprobability", int32(10*g.rng.IntN(10)))
	setI(o, opp, "salesstage", int32(g.rng.IntN(4)))
	if state != 0 {
		setD(o, opp, "actualclosedate", closeAt)
	}
	var actual int64
	if state == 1 {
		actual = est * int64(80+g.rng.IntN(41)) / 100
		setM(o, opp, "actualvalue", actual)
	}
	l := s.leads
	setL(l, lead, "parentaccountid", s.accounts, acc)
	setL(l, lead, "parentcontactid", c, con)
	setL(l, lead, "customerid", s.accounts, acc)
	setL(l, lead, "qualifyingopportunityid", o, opp)
	s.genActivities(g, o, opp, at, now, 1+g.rng.IntN(2))

	// quotes with revisions
	nq := 0
	switch {
	case state == 1:
		nq = 1 + g.rng.IntN(3)
	case g.rng.IntN(2) == 0:
		nq = 1 + g.rng.IntN(2)
	}
	q := s.quotes
	qnum := fmt.Sprintf("QUO-%06d-%c%c", i, 'A'+g.rng.IntN(26), 'A'+g.rng.IntN(26))
	qat := at.Add(24 * time.Hour)
	for rev := 0; rev < nq; rev++ {
		row := q.newRow()
		lastRev := rev == nq-1
		qs, qst := int32(3), int32(7) // Closed / Revised
		if lastRev {
			switch state {
			case 1:
				qs, qst = 2, 4
			case 2:
				qs, qst = 3, 5
			default:
				qs, qst = int32(g.rng.IntN(2)), int32(1+g.rng.IntN(2))
				if qs == 1 {
					qst = 3
				}
			}
		}
		qend := qat.Add(time.Duration(1+g.rng.IntN(10)) * 24 * time.Hour)
		if lastRev && state != 0 {
			qend = closeAt.Add(8 * time.Hour)
		}
		if qend.After(now) {
			qend = now.Add(-time.Hour)
		}
		s.stamp(q, row, qat, qend, owner, qs, qst)
		set(q, row, "name", "Angebot "+base)
		set(q, row, "quotenumber", qnum)
		setI(q, row, "revisionnumber", int32(rev))
		setL(q, row, "opportunityid", o, opp)
		setL(q, row, "customerid", s.accounts, acc)
		total := est * int64(90+g.rng.IntN(21)) / 100
		if lastRev && state == 1 {
			total = actual
		}
		setM(q, row, "totalamount", total)
		setD(q, row, "effectivefrom", day(qat))
		setD(q, row, "effectiveto", day(qat.AddDate(0, 1, 0)))
		if qs >= 2 {
			setD(q, row, "closedon", day(qend))
		}
		if lastRev && state == 1 {
			s.genOrder(g, row, opp, acc, total, closeAt, now, owner, i)
		}
		qat = qend
	}
}

func (s *Server) genOrder(g *gen, quote, opp, acc int32, total int64, at, now time.Time, owner int32, i int) {
	so := s.orders
	row := so.newRow()
	st, sst := int32(3), int32(100001)
	switch x := g.rng.Float64(); {
	case x < 0.1:
		st, sst = 0, 1
	case x < 0.15:
		st, sst = 2, 4
	case x < 0.2:
		st, sst = 3, 100002
	case x < 0.45:
		st, sst = 4, 100003
	}
	ordered := at.Add(10 * time.Hour)
	mod := minTime(ordered.Add(time.Duration(g.rng.IntN(20*24))*time.Hour), now.Add(-time.Hour))
	s.stamp(so, row, ordered, mod, owner, st, sst)
	set(so, row, "name", fmt.Sprintf("Auftrag %d", i))
	set(so, row, "ordernumber", fmt.Sprintf("ORD-%06d", i))
	setL(so, row, "quoteid", s.quotes, quote)
	setL(so, row, "opportunityid", s.opps, opp)
	setL(so, row, "customerid", s.accounts, acc)
	setM(so, row, "totalamount", total)
	if st == 3 || st == 4 {
		setD(so, row, "datefulfilled", mod)
	}
	if st == 0 || st == 2 {
		return
	}
	iv := s.invoices
	inv := iv.newRow()
	is, ist := int32(2), int32(100001)
	switch x := g.rng.Float64(); {
	case x < 0.2:
		is, ist = 0, 1
	case x < 0.3:
		is, ist = 3, 100003
	case x < 0.35:
		is, ist = 2, 100002
	}
	s.stamp(iv, inv, mod, minTime(mod.Add(time.Duration(g.rng.IntN(30*24))*time.Hour), now.Add(-time.Hour)), owner, is, ist)
	set(iv, inv, "name", fmt.Sprintf("Rechnung %d", i))
	set(iv, inv, "invoicenumber", fmt.Sprintf("INV-%06d", i))
	setL(iv, inv, "salesorderid", so, row)
	setL(iv, inv, "opportunityid", s.opps, opp)
	setL(iv, inv, "customerid", s.accounts, acc)
	setM(iv, inv, "totalamount", total)
	setD(iv, inv, "duedate", day(mod.AddDate(0, 0, 30)))
	setD(iv, inv, "datedelivered", mod)
}

// genActivities adds k activities regarding a record. Open ones are either overdue (due
// before now-2d) or due at least two days ahead, so "overdue" does not flip within a day.
func (s *Server) genActivities(g *gen, regT *table, reg int32, from, now time.Time, k int) {
	for j := 0; j < k; j++ {
		typ := []int{0, 0, 1, 1, 1, 2, 2, 3}[g.rng.IntN(8)]
		v := s.acts.views[typ]
		row := v.newRow()
		created := g.between(from, now.Add(-time.Hour))
		due := created.Add(time.Duration(1+g.rng.IntN(14*24)) * time.Hour)
		state, status := int32(1), int32(2)
		if due.After(now.AddDate(0, 0, -2)) {
			state, status = 0, 1
			due = now.Add(time.Duration(48+g.rng.IntN(30*24)) * time.Hour)
		} else if g.rng.Float64() < 0.12 {
			state, status = 0, 1 // overdue
		} else if g.rng.Float64() < 0.05 {
			state, status = 2, 3
		}
		mod := created
		if state != 0 {
			mod = minTime(due, now.Add(-time.Hour))
		}
		s.stamp(v, row, created, mod, g.user(), state, status)
		set(v, row, "subject", []string{"Anruf", "E-Mail", "Aufgabe", "Termin"}[typ]+": "+products[g.rng.IntN(len(products))])
		setL(v, row, "regardingobjectid", regT, reg)
		setD(v, row, "scheduledend", due)
		setD(v, row, "scheduledstart", due.Add(-time.Hour))
		setI(v, row, "prioritycode", int32(g.rng.IntN(3)))
		if state == 1 {
			setD(v, row, "actualend", mod)
		}
		switch typ {
		case 0:
			set(v, row, "phonenumber", phoneFor(int(reg)))
			setI(v, row, "directioncode", int32(g.rng.IntN(2)))
		case 1:
			setI(v, row, "directioncode", 1)
			set(v, row, "sender", "vertrieb@ampel-sim.example")
			set(v, row, "torecipients", "kunde@example.org")
		case 2:
			setI(v, row, "percentcomplete", int32(g.rng.IntN(101)))
		case 3:
			set(v, row, "location", cities[g.rng.IntN(len(cities))])
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
