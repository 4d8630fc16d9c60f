package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Operator is a duplicate rule condition's operator, numbered as Dataverse's
// duplicaterulecondition.operatorcode.
type Operator int

// Dataverse's condition operators.
const (
	OpExactMatch          Operator = 0 // the whole value
	OpSameFirstCharacters Operator = 1 // the first Param characters
	OpSameLastCharacters  Operator = 2 // the last Param characters
	OpSameDate            Operator = 3 // the date (in the rule's time zone)
	OpSameDateAndTime     Operator = 4 // date and time, to the second
	OpPicklistLabel       Operator = 5 // a choice's label (the <attribute>name column)
	OpPicklistValue       Operator = 6 // a choice's value
)

// Condition is one condition of a Rule (Dataverse's duplicaterulecondition).
type Condition struct {
	// Attribute is the column (baseattributename; the matching attribute is the same, as
	// rules here match a table against itself).
	Attribute string
	// Operator and its Param (operatorparam: N of the first/last N characters).
	Operator Operator
	Param    int
	// IgnoreBlank: a blank value never matches (ignoreblankvalues). Without it blanks match
	// each other, except in a rule of one condition, where a blank never matches.
	IgnoreBlank bool
}

// Rule is a duplicate detection rule as Dynamics 365 defines it (duplicaterule with its
// conditions): two records of Table are duplicates when every condition holds for them
// (AND). Values are compared as stored — case-insensitively unless CaseSensitive — and a
// value of nothing but spaces is blank. Whether Dynamics trims spaces in matchcodes is not
// documented (VERIFY); Ampel does not, so " a@x.com" and "a@x.com" differ, as the stored
// texts do. A value shorter than N characters is compared whole by first/last N (VERIFY).
type Rule struct {
	// ID names the rule in groups and findings, e.g. "lead_same_email".
	ID string
	// Name is the rule's name as Dynamics shows it.
	Name string
	// Table is the base (and matching) table and Key its primary key column.
	Table, Key string
	// CaseSensitive is iscasesensitive.
	CaseSensitive bool
	// ExcludeInactive is excludeinactiverecords: only records with statecode 0 (active,
	// open) take part.
	ExcludeInactive bool
	// TimeZone is the zone dates are compared in by OpSameDate (default UTC; which zone
	// Dynamics uses is not documented: VERIFY).
	TimeZone *time.Location
	// Conditions must all hold.
	Conditions []Condition
}

// DefaultRules returns Dynamics 365's out-of-the-box duplicate detection rules, as
// published in a new organisation (Microsoft Dynamics CRM 2011 Unleashed, ch. 7: "two for
// Accounts, one for Contacts, and one for Leads"): accounts with the same account name,
// accounts with the same e-mail address, contacts with the same e-mail address, leads with
// the same e-mail address. Case-insensitive, blanks never match.
func DefaultRules() []Rule {
	one := func(id, name, table, key, attr string) Rule {
		return Rule{ID: id, Name: name, Table: table, Key: key,
			Conditions: []Condition{{Attribute: attr, Operator: OpExactMatch, IgnoreBlank: true}}}
	}
	return []Rule{
		one("account_same_name", "Accounts with the same Account Name", "account", "accountid", "name"),
		one("account_same_email", "Accounts with the same e-mail address", "account", "accountid", "emailaddress1"),
		one("contact_same_email", "Contacts with the same e-mail address", "contact", "contactid", "emailaddress1"),
		one("lead_same_email", "Leads with the same e-mail address", "lead", "leadid", "emailaddress1"),
	}
}

func (r *Rule) validate() error {
	if r.ID == "" || r.Table == "" || r.Key == "" {
		return fmt.Errorf("duplicate rule %q: id, table and key are required", r.Name)
	}
	if len(r.Conditions) == 0 {
		return fmt.Errorf("duplicate rule %s: no conditions", r.ID)
	}
	for _, c := range r.Conditions {
		if c.Attribute == "" {
			return fmt.Errorf("duplicate rule %s: a condition names no attribute", r.ID)
		}
		switch c.Operator {
		case OpSameFirstCharacters, OpSameLastCharacters:
			if c.Param <= 0 {
				return fmt.Errorf("duplicate rule %s: condition on %s: first/last characters need a count of 1 or more", r.ID, c.Attribute)
			}
		case OpExactMatch, OpSameDate, OpSameDateAndTime, OpPicklistLabel, OpPicklistValue:
		default:
			return fmt.Errorf("duplicate rule %s: condition on %s: operator %d is not one of Dataverse's 0–6", r.ID, c.Attribute, c.Operator)
		}
	}
	return nil
}

// matchcode appends record r's matchcode under rule (its values per condition, as the rule
// compares them) to buf, or reports false when the record takes no part (inactive, or a
// blank that never matches).
func (rule *Rule) matchcode(d *dataset, r int32, buf []byte) ([]byte, bool) {
	if rule.ExcludeInactive && strings.TrimSpace(d.rawValue(r, "statecode")) != "0" {
		return buf, false
	}
	buf = append(buf, d.envs[d.env[r]]...)
	for _, c := range rule.Conditions {
		col := c.Attribute
		if c.Operator == OpPicklistLabel {
			col += "name"
		}
		v := d.rawValue(r, col)
		buf = append(buf, 0x1f)
		if strings.TrimSpace(v) == "" {
			if c.IgnoreBlank || len(rule.Conditions) == 1 {
				return buf, false
			}
			continue
		}
		if !rule.CaseSensitive && c.Operator != OpSameDate && c.Operator != OpSameDateAndTime {
			v = strings.ToLower(v)
		}
		switch c.Operator {
		case OpSameFirstCharacters:
			if n := utf8.RuneCountInString(v); n > c.Param {
				v = string([]rune(v)[:c.Param])
			}
		case OpSameLastCharacters:
			if rs := []rune(v); len(rs) > c.Param {
				v = string(rs[len(rs)-c.Param:])
			}
		case OpSameDate:
			t, err := parseWarehouseTime(v)
			if err != nil {
				return buf, false
			}
			tz := rule.TimeZone
			if tz == nil {
				tz = time.UTC
			}
			v = t.In(tz).Format(time.DateOnly)
		}
		buf = append(buf, v...)
	}
	return buf, true
}

// eligible counts per environment the records that have a matchcode under the rule.
func (rule *Rule) eligible(d *dataset) map[string]int {
	out := map[string]int{}
	var buf []byte
	for r := int32(0); r < int32(d.n()); r++ {
		var ok bool
		if buf, ok = rule.matchcode(d, r, buf[:0]); ok {
			out[d.envs[d.env[r]]]++
		}
	}
	return out
}

// parseWarehouseTime reads a DateTime or Date as toString writes it (UTC).
func parseWarehouseTime(s string) (time.Time, error) {
	if len(s) == len(time.DateOnly) {
		return time.Parse(time.DateOnly, s)
	}
	return time.Parse(time.DateTime, s)
}

// exactGroups applies a table's rules and returns their groups: records that share a
// matchcode under any rule, joined across rules (as Dynamics lists a record's duplicates
// under every published rule).
func exactGroups(d *dataset, rules []Rule) []*Group {
	uf := newUnionFind()
	var links []exactLink
	var buf []byte
	for ri := range rules {
		rule := &rules[ri]
		// matchcodes are hashed and sorted as hashes; records with one hash are then told
		// apart by their matchcodes, so a collision costs nothing but time
		var es []entry
		for r := int32(0); r < int32(d.n()); r++ {
			var ok bool
			if buf, ok = rule.matchcode(d, r, buf[:0]); ok {
				es = append(es, entry{uint64(fnvOffset.str(unsafe.String(unsafe.SliceData(buf), len(buf)))), r})
			}
		}
		sortEntries(es)
		runs(es, func(run []entry) {
			if len(run) < 2 {
				return
			}
			type coded struct {
				code string
				r    int32
			}
			cs := make([]coded, len(run))
			for i, e := range run {
				buf, _ = rule.matchcode(d, e.r, buf[:0])
				cs[i] = coded{string(buf), e.r}
			}
			slices.SortFunc(cs, func(x, y coded) int {
				if c := strings.Compare(x.code, y.code); c != 0 {
					return c
				}
				return int(x.r - y.r)
			})
			for i := 0; i < len(cs); {
				j := i + 1
				for j < len(cs) && cs[j].code == cs[i].code {
					// join the first earlier record of the run it may be grouped with
					for k := i; k < j; k++ {
						if uf.join(cs[k].r, cs[j].r, d.cannot) {
							links = append(links, exactLink{rule: ri, a: cs[k].r, b: cs[j].r})
							break
						}
					}
					j++
				}
				i = j
			}
		})
	}
	byRoot := map[int32][]exactLink{}
	for _, l := range links {
		root := uf.find(l.a)
		byRoot[root] = append(byRoot[root], l)
	}
	var out []*Group
	for _, ls := range byRoot {
		g := &Group{Table: d.table, Environment: d.envs[d.env[ls[0].a]]}
		var recs []int32
		seen := map[string]bool{}
		for _, l := range ls {
			rule := &rules[l.rule]
			if !seen[rule.ID] {
				seen[rule.ID] = true
				g.Rules = append(g.Rules, rule.ID)
			}
			link := Link{A: d.ids[l.a].String(), B: d.ids[l.b].String(), Rule: rule.ID}
			for _, c := range rule.Conditions {
				col := c.Attribute
				if c.Operator == OpPicklistLabel {
					col += "name"
				}
				link.Fields = append(link.Fields, FieldMatch{Field: col, Level: Exact, A: d.rawValue(l.a, col), B: d.rawValue(l.b, col)})
			}
			g.Links = append(g.Links, link)
			recs = append(recs, l.a, l.b)
		}
		slices.Sort(g.Rules)
		var cols []string
		for _, rule := range rules {
			for _, c := range rule.Conditions {
				if !slices.Contains(cols, c.Attribute) {
					cols = append(cols, c.Attribute)
				}
			}
		}
		g.finish(d, recs, cols)
		out = append(out, g)
	}
	sortGroups(out)
	return out
}

type exactLink struct {
	rule int
	a, b int32
}

// unionFind joins records into groups.
type unionFind struct {
	parent  map[int32]int32
	members map[int32][]int32 // per root
}

func newUnionFind() *unionFind {
	return &unionFind{parent: map[int32]int32{}, members: map[int32][]int32{}}
}

func (u *unionFind) find(x int32) int32 {
	p, ok := u.parent[x]
	if !ok {
		u.parent[x] = x
		u.members[x] = []int32{x}
		return x
	}
	if p == x {
		return x
	}
	root := u.find(p)
	u.parent[x] = root
	return root
}

// join puts a and b in one group unless records of their groups must not be grouped
// (cannot), and reports whether they are in one group now.
func (u *unionFind) join(a, b int32, cannot cannotLink) bool {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return true
	}
	A, B := u.members[ra], u.members[rb]
	if cannot.across(A, B) {
		return false
	}
	if len(A) < len(B) {
		ra, rb, A, B = rb, ra, B, A
	}
	u.parent[rb] = ra
	u.members[ra] = append(A, B...)
	delete(u.members, rb)
	return true
}
