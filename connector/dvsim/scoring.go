package dvsim

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Lead scoring: the simulator plants leads whose chance to be qualified
// depends on some of their features, and reports what the demo scoring
// model (sql/scoring/demo/v1.yaml) must compute for them.
//
// Planted: every generated lead gets a company size (numberofemployees,
// 10 to 10,000, log-uniform), an industry (industrycode, uniform) and a
// country (address1_country), besides the job title, lead source and
// estimated amount the generator gives it, and an engagement level that
// makes 0 to 4 completed interactions regarding it (phone calls, emails,
// an appointment) in the 150 days before its decision (or before now for
// an open lead). A lead older than 30 days is decided with probability
// 0.75; it is qualified with the probability
//
//	logistic(-1.9 + 1.0·decision maker + 0.7·≥500 employees + 0.5·amount_base ≥ 100,000
//	         + 0.9·referral or partner source − 1.0·trade show source
//	         + 0.6·a phone call in the 90 days before the decision
//	         + 1.2·an appointment in the 180 days before it)
//
// so some of the demo model's rules help (decision maker, company size,
// deal size, referral, calls, meetings), some do nothing (industry,
// country, CRM in the subject, emails, no email address), and one hurts:
// the model gives trade show leads points, yet they convert worse. Three
// in ten qualified leads get an appointment 1 to 10 days after the
// decision: a backtest that looked past the decision would see it.
// The generator's random activities regarding leads (one lead in seven
// gets one) are noise, before and after decisions alike.

var leadCountries = []string{"Deutschland", "Deutschland", "Deutschland", "Deutschland", "Deutschland", "Deutschland",
	"Österreich", "Österreich", "Schweiz", "Niederlande"}

// industryOptions are the industrycode choices (the account's, as in Dataverse).
var industryOptions = opts(1, "Accounting", 2, "Agriculture and Non-petrol Natural Resource Extraction", 3, "Broadcasting Printing and Publishing",
	4, "Brokers", 5, "Building Supply Retail", 6, "Business Services", 7, "Consulting", 8, "Consumer Services",
	9, "Design, Direction and Creative Management", 10, "Distributors, Dispatchers and Processors", 11, "Doctor's Offices and Clinics",
	12, "Durable Manufacturing")

// scoringColumns adds the lead columns scoring models read that the
// generator does not otherwise fill.
func scoringColumns(l *table) {
	l.addCol(&column{name: "industrycode", kind: kChoice, attrType: "Picklist", options: industryOptions})
	l.addCol(&column{name: "numberofemployees", kind: kInt, attrType: "Integer", format: "None"})
	l.addCol(&column{name: "address1_country", kind: kString, attrType: "String", format: "Text"})
}

// leadRand is a lead's own random stream (splitmix64), so that planting
// does not move the generator's stream.
type leadRand struct{ x uint64 }

func (r *leadRand) next() uint64          { r.x += 0x9E3779B97F4A7C15; return splitmix(r.x) }
func (r *leadRand) float() float64        { return float64(r.next()>>11) / (1 << 53) }
func (r *leadRand) intn(n int) int        { return int(r.next() % uint64(n)) }
func (r *leadRand) chance(p float64) bool { return r.float() < p }

// Activity type indexes (activityTypes).
const (
	actPhoneCall   = 0
	actEmail       = 1
	actAppointment = 3
)

var decisionMakers = []string{"Geschäftsführer", "CFO", "IT-Leiter"}

// plantLead gives lead row (the i-th generated) its planted features and
// interactions and decides it: it returns the statecode (0 open, 1
// qualified, 2 disqualified) and sets statecode and statuscode. modified
// is the lead's modifiedon: the moment of its decision.
func (s *Server) plantLead(row int32, i int, created, modified, now time.Time) int32 {
	l := s.leads
	r := &leadRand{x: uint64(s.opts.Seed)*0x5851F42D4C957F2D ^ uint64(i)*0x14057B7EF767814F}
	setI(l, row, "numberofemployees", int32(math.Round(math.Pow(10, 1+3*r.float()))))
	setI(l, row, "industrycode", int32(1+r.intn(12)))
	set(l, row, "address1_country", leadCountries[r.intn(len(leadCountries))])

	decided := now.Sub(created) > 30*24*time.Hour && r.chance(0.75)
	end := now.Add(-time.Hour)
	if decided {
		end = modified
	}
	// engagement before the decision (or now)
	var times []time.Time
	var types []int
	from := created
	if f := end.Add(-150 * 24 * time.Hour); f.After(from) {
		from = f
	}
	add := func(typ int) {
		if end.Sub(from) < time.Hour {
			return
		}
		t := from.Add(time.Duration(r.next()%uint64(end.Sub(from)/time.Second)) * time.Second)
		times, types = append(times, t), append(types, typ)
	}
	switch x := r.float(); {
	case x < 0.60:
	case x < 0.88:
		if r.chance(0.6) {
			add(actEmail)
		} else {
			add(actPhoneCall)
		}
	default:
		add(actPhoneCall)
		add(actAppointment)
		if r.chance(0.5) {
			add(actEmail)
		}
		if r.chance(0.5) {
			add(actPhoneCall)
		}
	}
	for k, t := range times {
		s.interaction(l, row, types[k], t)
	}
	if !decided {
		return 0
	}
	title, _ := l.byName["jobtitle"].str(row)
	src := l.byName["leadsourcecode"].i32[row]
	logit := -1.9
	if slices.Contains(decisionMakers, string(title)) {
		logit += 1.0
	}
	if l.byName["numberofemployees"].i32[row] >= 500 {
		logit += 0.7
	}
	if c := l.byName["estimatedamount_base"].baseCents(row); c != nullI64 && c >= 100_000*100 {
		logit += 0.5
	}
	switch src {
	case 2, 4:
		logit += 0.9
	case 7:
		logit -= 1.0
	}
	call, meeting := false, false
	for k, t := range times {
		age := end.Sub(t)
		call = call || types[k] == actPhoneCall && age <= 90*24*time.Hour
		meeting = meeting || types[k] == actAppointment && age <= 180*24*time.Hour
	}
	if call {
		logit += 0.6
	}
	if meeting {
		logit += 1.2
	}
	if r.float() < 1/(1+math.Exp(-logit)) {
		setState(l, row, 1, 3)
		if r.chance(0.3) { // the meeting after the qualification
			if t := modified.Add(time.Duration(24+r.intn(9*24)) * time.Hour); t.Before(now) {
				s.interaction(l, row, actAppointment, t)
			}
		}
		return 1
	}
	setState(l, row, 2, int32(4+r.intn(4)))
	return 2
}

// interaction adds a completed activity of type typ regarding lead row,
// done (actualend) at t.
func (s *Server) interaction(l *table, row int32, typ int, t time.Time) {
	v := s.acts.views[typ]
	a := v.newRow()
	s.stamp(v, a, t, t, l.byName["ownerid"].i32[row], 1, 2)
	set(v, a, "subject", []string{"Anruf", "E-Mail", "Aufgabe", "Termin"}[typ]+": Interessent")
	setL(v, a, "regardingobjectid", l, row)
	setD(v, a, "scheduledstart", t.Add(-time.Hour))
	setD(v, a, "scheduledend", t)
	setD(v, a, "actualend", t)
	setI(v, a, "prioritycode", 1)
	switch typ {
	case actPhoneCall:
		set(v, a, "phonenumber", phoneFor(int(row)))
		setI(v, a, "directioncode", 1)
	case actEmail:
		setI(v, a, "directioncode", 1)
		set(v, a, "sender", "vertrieb@ampel-sim.example")
		set(v, a, "torecipients", "kunde@example.org")
	case actAppointment:
		set(v, a, "location", cities[int(row)%len(cities)])
	}
}

// ScoringTruth is what the demo scoring model (sql/scoring/demo/v1.yaml)
// must compute, in Go from the records, as of the truth's now.
type ScoringTruth struct {
	// Model is the model the truth is for.
	Model string `json:"model"`
	// Leads holds every live lead's expected score, grade, stage and the
	// rules that fired with their points, by lead id.
	Leads map[string]LeadScore `json:"leads"`
	// Backtest is the expected backtest: leads decided in the window,
	// scored as of their decision.
	Backtest BacktestTruth `json:"backtest"`
}

// LeadScore is one lead's expected score.
type LeadScore struct {
	Score  float64   `json:"score"`
	Grade  string    `json:"grade"`
	Stage  string    `json:"stage"`
	Rules  []string  `json:"rules"`
	Points []float64 `json:"points"`
}

// BacktestTruth is the expected backtest of the demo model.
type BacktestTruth struct {
	WindowStart string       `json:"window_start"`
	WindowEnd   string       `json:"window_end"`
	Grades      []GradeTruth `json:"grades"` // from the top grade down
	Positives   int          `json:"positives"`
	Negatives   int          `json:"negatives"`
	Concordant  float64      `json:"concordant"` // pairs ordered right by score, ties half
	AUC         *float64     `json:"auc,omitempty"`
	Lift        *float64     `json:"lift,omitempty"`
	// Leads are the decided leads of the window by id: when each was
	// decided and what it scored then.
	Leads map[string]DecidedLead `json:"leads"`
}

// DecidedLead is one lead of the backtest: the moment of its decision
// (RFC 3339), its score, grade and fired rules as of then, and whether it
// was qualified.
type DecidedLead struct {
	DecidedAt string   `json:"decided_at"`
	Score     float64  `json:"score"`
	Grade     string   `json:"grade"`
	Rules     []string `json:"rules"`
	Qualified bool     `json:"qualified"`
}

// GradeTruth is the expected conversion of one grade: the decided leads
// of the grade, the qualified ones and their rate (nil without decided
// leads).
type GradeTruth struct {
	Grade     string   `json:"grade"`
	Decided   int      `json:"decided"`
	Qualified int      `json:"qualified"`
	Rate      *float64 `json:"rate,omitempty"`
}

// The demo model's grades (top down) and their lower bounds; stage thresholds.
var (
	demoGrades    = []string{"A", "B", "C"}
	demoGradeMins = []float64{45, 20}
	demoMQ        = 30.0
	demoSR        = 55.0
	demoWindow    = 365 * 24 * time.Hour
)

// demoLead is what the demo model reads of one lead.
type demoLead struct {
	jobtitle, country, subject, email, source string
	employees, industry, sourceCode           int32
	baseCents                                 int64
	acts                                      []demoAct
}

type demoAct struct {
	typ int32
	at  time.Time
}

// demoScore is the demo model, written out in Go (an evaluation of its own,
// independent of the SQL Ampel compiles from the file), as of asOf: only
// interactions before asOf count.
func demoScore(d *demoLead, asOf time.Time) LeadScore {
	norm := func(s string) string { return strings.ToLower(strings.Trim(s, " ")) }
	pts := func(cond bool, p float64) float64 {
		if cond {
			return p
		}
		return 0
	}
	var calls, emails float64
	var meetings, any int
	var lastAge int64 = -1
	for _, a := range d.acts {
		if !a.at.Before(asOf) {
			continue
		}
		age := asOf.Unix() - a.at.Unix()
		w := math.Pow(0.5, float64(age)/86400/30)
		switch a.typ {
		case actPhoneCall:
			if age <= 90*86400 {
				calls += w
			}
		case actEmail:
			if age <= 90*86400 {
				emails += w
			}
		case actAppointment:
			if age <= 180*86400 {
				meetings++
			}
		default:
			continue
		}
		any++
		if lastAge < 0 || age < lastAge {
			lastAge = age
		}
	}
	title := norm(d.jobtitle)
	type entry struct {
		name string
		v    float64
	}
	group := func(entries []entry, floor, capV float64) (float64, float64, []entry) {
		raw := entries[0].v
		for _, e := range entries[1:] {
			raw += e.v
		}
		total := math.Min(math.Max(raw, floor), capV)
		return raw, total, entries
	}
	fit := []entry{
		{"decision_maker", pts(title == "geschäftsführer" || title == "cfo" || title == "it-leiter", 15)},
		{"large_company", pts(d.employees != nullI32 && float64(d.employees) >= 500, 10)},
		{"big_deal", pts(d.baseCents != nullI64 && float64(d.baseCents)/100 >= 100000, 10)},
		{"target_industry", pts(d.industry == 6 || d.industry == 7, 5)},
		{"dach", pts(slices.Contains([]string{"deutschland", "österreich", "schweiz"}, norm(d.country)), 5)},
		{"crm_interest", pts(strings.Contains(norm(d.subject), "crm"), 5)},
		{"no_email", pts(norm(d.email) == "", -5)},
	}
	source := []entry{
		{"referral", pts(d.sourceCode == 2 || d.sourceCode == 4, 15)},
		{"trade_show", pts(norm(d.source) == "trade show", 10)},
	}
	engagement := []entry{
		{"calls", 6 * calls},
		{"meeting", pts(meetings >= 1, 20)},
		{"emails", 2 * emails},
		{"gone_quiet", pts(any > 0 && lastAge/86400 >= 60, -10)},
	}
	out := LeadScore{Rules: []string{}, Points: []float64{}}
	score := 0.0
	for gi, g := range []struct {
		name        string
		entries     []entry
		floor, capV float64
	}{{"fit", fit, math.Inf(-1), 40}, {"source", source, math.Inf(-1), 20}, {"engagement", engagement, -10, 40}} {
		raw, total, entries := group(g.entries, g.floor, g.capV)
		for _, e := range entries {
			if e.v != 0 {
				out.Rules, out.Points = append(out.Rules, e.name), append(out.Points, e.v)
			}
		}
		if adj := total - raw; adj != 0 {
			out.Rules, out.Points = append(out.Rules, g.name+":cap"), append(out.Points, adj)
		}
		if gi == 0 {
			score = total
		} else {
			score += total
		}
	}
	out.Score = score
	out.Grade = demoGrades[len(demoGrades)-1]
	for k, m := range demoGradeMins {
		if score >= m {
			out.Grade = demoGrades[k]
			break
		}
	}
	switch {
	case score >= demoSR:
		out.Stage = "sales_ready"
	case score >= demoMQ:
		out.Stage = "marketing_qualified"
	default:
		out.Stage = "not_qualified"
	}
	return out
}

// demoLeads reads what the demo model needs of every live lead, by row.
func (s *Server) demoLeads() map[int32]*demoLead {
	l := s.leads
	str := func(name string, row int32) string {
		b, _ := l.byName[name].str(row)
		return string(b)
	}
	out := map[int32]*demoLead{}
	src, ind := l.byName["leadsourcecode"], l.byName["industrycode"]
	l.liveRows(func(row int32) {
		d := &demoLead{jobtitle: str("jobtitle", row), country: str("address1_country", row), subject: str("subject", row),
			email: str("emailaddress1", row), employees: l.byName["numberofemployees"].i32[row],
			industry: ind.i32[row], sourceCode: src.i32[row], baseCents: l.byName["estimatedamount_base"].baseCents(row)}
		if d.sourceCode != nullI32 {
			d.source = src.label(d.sourceCode)
		}
		out[row] = d
	})
	a := s.acts
	st, end, reg := a.byName["statecode"], a.byName["actualend"], a.byName["regardingobjectid"]
	for row := int32(0); row < a.n; row++ {
		if !a.alive(row) || st.i32[row] != 1 || end.u32[row] == 0 {
			continue
		}
		t, idx := reg.lookup(row)
		if t != l || idx < 0 {
			continue
		}
		if d := out[idx]; d != nil {
			d.acts = append(d.acts, demoAct{typ: a.typeCol.i32[row], at: fromStamp(end.u32[row])})
		}
	}
	return out
}

// scoringTruth computes ScoringTruth as of s.now. The caller holds s.mu.
func (s *Server) scoringTruth() *ScoringTruth {
	now := s.now
	tr := &ScoringTruth{Model: "demo@v1", Leads: map[string]LeadScore{}}
	leads := s.demoLeads()
	l := s.leads
	for row, d := range leads {
		tr.Leads[l.guid(row)] = demoScore(d, now)
	}
	// the backtest: leads decided in [now - 365 days, now), scored as of
	// the decision: modifiedon, or a qualified lead's opportunity's
	// createdon when earlier.
	start := now.Add(-demoWindow)
	bt := BacktestTruth{WindowStart: start.Format(time.RFC3339), WindowEnd: now.Format(time.RFC3339), Leads: map[string]DecidedLead{}}
	for _, g := range demoGrades {
		bt.Grades = append(bt.Grades, GradeTruth{Grade: g})
	}
	type decided struct {
		score     float64
		qualified bool
	}
	var ds []decided
	state, mod, opp := l.byName["statecode"], l.byName["modifiedon"], l.byName["qualifyingopportunityid"]
	oppCreated := s.opps.byName["createdon"]
	for row, d := range leads {
		st := state.i32[row]
		if st != 1 && st != 2 || mod.u32[row] == 0 {
			continue
		}
		at := fromStamp(mod.u32[row])
		if st == 1 {
			if t, idx := opp.lookup(row); t != nil && idx >= 0 && t.alive(idx) && oppCreated.u32[idx] != 0 {
				if c := fromStamp(oppCreated.u32[idx]); c.Before(at) {
					at = c
				}
			}
		}
		if at.Before(start) || !at.Before(now) {
			continue
		}
		sc := demoScore(d, at)
		bt.Leads[l.guid(row)] = DecidedLead{DecidedAt: at.Format(time.RFC3339), Score: sc.Score, Grade: sc.Grade, Rules: sc.Rules, Qualified: st == 1}
		g := &bt.Grades[slices.Index(demoGrades, sc.Grade)]
		g.Decided++
		if st == 1 {
			g.Qualified++
			bt.Positives++
		} else {
			bt.Negatives++
		}
		ds = append(ds, decided{sc.Score, st == 1})
	}
	for i := range bt.Grades {
		if g := &bt.Grades[i]; g.Decided > 0 {
			g.Rate = f64(float64(g.Qualified) / float64(g.Decided))
		}
	}
	// AUC by ranks: the qualified leads' rank sum (ties get their mean rank)
	// minus its least possible value.
	sort.Slice(ds, func(i, j int) bool { return ds[i].score < ds[j].score })
	var rankSum float64
	for i := 0; i < len(ds); {
		j := i
		for j < len(ds) && ds[j].score == ds[i].score {
			j++
		}
		mean := float64(i+1+j) / 2 // ranks i+1 … j
		for k := i; k < j; k++ {
			if ds[k].qualified {
				rankSum += mean
			}
		}
		i = j
	}
	p, n := float64(bt.Positives), float64(bt.Negatives)
	bt.Concordant = rankSum - p*(p+1)/2
	if p > 0 && n > 0 {
		bt.AUC = f64(bt.Concordant / (p * n))
	}
	top, bottom := bt.Grades[0], bt.Grades[len(bt.Grades)-1]
	if top.Decided > 0 && bottom.Decided > 0 && bottom.Qualified > 0 {
		bt.Lift = f64((float64(top.Qualified) / float64(top.Decided)) / (float64(bottom.Qualified) / float64(bottom.Decided)))
	}
	tr.Backtest = bt
	return tr
}

// addKPIs adds the expected results of the backtest KPIs of the demo model
// to out (the catalog's truth).
func (tr *ScoringTruth) addKPIs(out map[string][]KPIValue) {
	bt := tr.Backtest
	end := bt.WindowEnd
	for _, g := range bt.Grades {
		v := ratio(g.Qualified, g.Decided, 100).with("model", tr.Model, "grade", g.Grade)
		v.PeriodEnd = end
		out["lead_score_conversion_by_grade"] = append(out["lead_score_conversion_by_grade"], v)
	}
	top, bottom := bt.Grades[0], bt.Grades[len(bt.Grades)-1]
	lift := KPIValue{Value: bt.Lift, Denominator: f64(float64(min(top.Decided, bottom.Decided)))}.with("model", tr.Model)
	lift.PeriodEnd = end
	out["lead_score_lift"] = append(out["lead_score_lift"], lift)
	auc := KPIValue{Numerator: f64(bt.Concordant), Denominator: f64(float64(bt.Positives) * float64(bt.Negatives)), Value: bt.AUC}.with("model", tr.Model)
	auc.PeriodEnd = end
	out["lead_score_auc"] = append(out["lead_score_auc"], auc)
}
