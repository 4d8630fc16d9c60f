package dvsim

import (
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Planted duplicates with realistic noise, and look-alikes that are not duplicates.
//
// After the main data set is generated, plantDuplicates adds records of its own to lead,
// contact and account, drawn from a random stream of their own (seeded from Options.Seed),
// so the rest of the data set does not depend on them:
//
//   - duplicate groups of 2 to 4 records (about 70 % pairs, 20 % triples, 10 % of four): an
//     original and variants of it, each variant with one to three kinds of noise — case,
//     whitespace, phone format, legal form, transliteration (ü/ue, ß/ss, or the umlaut
//     dropped), one or two typos, swapped first and last name, a missing field, or an exact
//     copy. A variant always keeps enough to be recognised by a careful person: a typo hits
//     one field, two typos two fields, names may be swapped, and of e-mail, phone and company
//     (accounts: phone and website) at least one is unchanged up to case, spaces, format,
//     legal form or transliteration.
//   - look-alikes: records that resemble each other but are different people or companies —
//     the same (common) name at another company, the same company with another person (and
//     its switchboard number), family members sharing a phone, and for accounts the same
//     word in another business or a name one letter apart with other phone, website and city.
//
// Group and look-alike kinds name the noise: the sorted kinds of noise of all variants joined
// by "+" (e.g. "phone_format+typo").

// Names with umlauts and ß. Within each list every name has its own Kölner Phonetik code,
// and no look-alike is built from two names with one code.
var dupFirstNames = []string{"Jürgen", "Björn", "Günther", "Sören", "Jörg", "Maximilian", "Katharina", "Michael", "Sabine", "Ursula", "Claudia", "Petra", "Wolfgang", "Monika", "Frank", "Dörte", "Käthe", "Jens", "Birgit", "Heike", "Ole", "Till", "Gesa", "Rüdiger"}
var dupLastNames = []string{"Müller", "Weiß", "Groß", "Strauß", "Schäfer", "Krämer", "Köhler", "Jäger", "Böhm", "Schröder", "Meißner", "Voß", "Hoffmann", "Zimmermann", "Lorenz", "Hartmann", "Kühn", "Vogt", "Pfeiffer", "Dietrich", "Seidel", "Brandt", "Haas", "Büttner"}
var dupPrefixes = []string{"", "", "", "Süßwaren", "Bäckerei", "Möbelhaus", "Gärtnerei", "Brückenbau", "Schlüsseldienst", "Hörgeräte"}
var dupCities = []string{"München", "Köln", "Düsseldorf", "Nürnberg", "Lübeck", "Gießen", "Frankfurt", "Hamburg", "Würzburg", "Osnabrück"}
var dupAreas = []string{"69", "89", "40", "221", "711", "211", "341", "911", "931", "541"}
var privateDomains = []string{"web.example", "gmx.example", "t-online.example", "posteo.example"}

// legalVariants maps a legal form to other ways people write it; dropping it is always one more.
var legalVariants = map[string][]string{
	"GmbH":                     {"G.m.b.H.", "Gmbh", "Gesellschaft mit beschränkter Haftung"},
	"AG":                       {"Aktiengesellschaft", "A.G."},
	"KG":                       {"K.G.", "Kommanditgesellschaft"},
	"OHG":                      {"oHG", "O.H.G."},
	"GbR":                      {"G.b.R."},
	"UG (haftungsbeschränkt)":  {"UG", "UG (haftungsbeschraenkt)"},
	"e.K.":                     {"eK", "e. K."},
	"e.V.":                     {"eV", "e. V."},
	"SE":                       {"S.E."},
	"KGaA":                     {"KG a.A."},
	"GmbH & Co. KG":            {"GmbH & Co KG", "GmbH u. Co. KG", "GmbH+Co. KG"},
	"Ltd":                      {"Ltd.", "Limited"},
	"Inc":                      {"Inc.", "Incorporated"},
	"LLC":                      {"L.L.C."},
	"Corp":                     {"Corp.", "Corporation"},
	"S.A.":                     {"SA", "S.A"},
	"S.r.l.":                   {"Srl", "S.R.L."},
	"B.V.":                     {"BV", "B.V"},
	"GmbH & Co. KGaA":          {"GmbH & Co KGaA"},
	"Aktiengesellschaft & Co.": {"AG & Co."},
}
var dupLegalForms = []string{"GmbH", "GmbH", "GmbH", "AG", "KG", "OHG", "GbR", "UG (haftungsbeschränkt)", "e.K.", "e.V.", "SE", "KGaA", "GmbH & Co. KG", "Ltd", "Inc", "LLC", "Corp", "S.A.", "S.r.l.", "B.V."}

// dupPerson is the matchable part of a lead or contact.
type dupPerson struct {
	first, last, company, email, phone, mobile, city string
	legal                                            string // legal form at the end of company, "" when none
	parent                                           int32  // contact: parent account row, -1 none
}

// dupFirm is the matchable part of an account.
type dupFirm struct {
	name, legal, phone, web, email, city string
}

// planter plants duplicate groups and look-alikes with its own random stream.
type planter struct {
	s   *Server
	g   *gen // the user weights of the main generator, this stream's rng
	rng *mrand.Rand
	k   int // running number: company names, phones, e-mails
	now time.Time
}

// plantDuplicates adds the planted duplicate groups and look-alikes (see the top of this
// file) after the main data set: about n/50 lead groups, n/150 contact and account groups,
// and as many look-alikes.
func (s *Server) plantDuplicates(g *gen, p *planted) {
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), 0xd0b1e5))
	pl := &planter{s: s, g: &gen{s: s, rng: rng, cum: g.cum}, rng: rng, now: s.now}
	n := s.opts.Scale
	start := s.now.AddDate(-3, 0, 0)
	for i := 0; i < max(8, n/50); i++ {
		pl.leadGroup(p, start)
	}
	for i := 0; i < max(6, n/150); i++ {
		pl.contactGroup(p, start)
	}
	for i := 0; i < max(6, n/150); i++ {
		pl.accountGroup(p, start)
	}
	for i := 0; i < max(6, n/50); i++ {
		pl.personLookalike(p, s.leads, start, i)
	}
	for i := 0; i < max(6, n/150); i++ {
		pl.personLookalike(p, s.contacts, start, i)
	}
	for i := 0; i < max(6, n/150); i++ {
		pl.firmLookalike(p, start, i)
	}
}

func (pl *planter) pick(list []string) string { return list[pl.rng.IntN(len(list))] }

func (pl *planter) groupSize() int {
	switch x := pl.rng.IntN(10); {
	case x < 7:
		return 2
	case x < 9:
		return 3
	}
	return 4
}

// company returns a new company: an optional trade word, a generated word unique to it, an
// industry, and a legal form.
func (pl *planter) company() (name, legal, domain string) {
	pl.k++
	word := pseudoWord(20_000_000 + pl.k)
	ind := industries[pl.rng.IntN(len(industries))]
	legal = pl.pick(dupLegalForms)
	name = word + " " + ind
	if pre := pl.pick(dupPrefixes); pre != "" {
		name = pre + " " + name
	}
	return name + " " + legal, legal, domainFor(word + " " + ind)
}

// phone returns a new number, unique to this planter, in a random format.
func (pl *planter) phone() string {
	pl.k++
	area := dupAreas[pl.k%len(dupAreas)]
	sub := fmt.Sprintf("%07d", (uint64(pl.k)*7919+3000017)%9000000+1000000)
	return formatPhone(area, sub, pl.rng.IntN(len(phoneFormats)))
}

var phoneFormats = []func(area, sub string) string{
	func(a, s string) string { return "+49 " + a + " " + s },
	func(a, s string) string { return "0" + a + " " + s },
	func(a, s string) string { return "+49 (" + a + ") " + s[:3] + " " + s[3:5] + " " + s[5:] },
	func(a, s string) string { return "0049 " + a + " " + s },
	func(a, s string) string { return "+49 (0)" + a + " " + s },
	func(a, s string) string { return "0" + a + "/" + s },
	func(a, s string) string { return "(0" + a + ") " + s[:3] + " " + s[3:5] + " " + s[5:] },
	func(a, s string) string { return "+49-" + a + "-" + s },
	func(a, s string) string { return "+49" + a + s },
}

func formatPhone(area, sub string, f int) string { return phoneFormats[f](area, sub) }

// splitPhone recovers area code and subscriber number of a number phone() made, in any format.
func splitPhone(p string) (area, sub string, ok bool) {
	var d []byte
	for i := 0; i < len(p); i++ {
		if p[i] >= '0' && p[i] <= '9' {
			d = append(d, p[i])
		}
	}
	s := string(d)
	switch {
	case strings.HasPrefix(s, "0049"):
		s = s[4:]
	case strings.HasPrefix(s, "490"): // +49 (0)69
		s = s[3:]
	case strings.HasPrefix(s, "49"):
		s = s[2:]
	case strings.HasPrefix(s, "0"):
		s = s[1:]
	}
	if len(s) < 9 {
		return "", "", false
	}
	return s[:len(s)-7], s[len(s)-7:], true
}

func personEmail(first, last, domain string) string {
	return asciiFold(strings.ReplaceAll(first, " ", "")) + "." + asciiFold(strings.ReplaceAll(last, " ", "")) + "@" + domain
}

// newPerson returns an original person at a new company.
func (pl *planter) newPerson() dupPerson {
	first, last := pl.pick(dupFirstNames), pl.pick(dupLastNames)
	company, legal, domain := pl.company()
	p := dupPerson{first: first, last: last, company: company, legal: legal, email: personEmail(first, last, domain),
		phone: pl.phone(), city: pl.pick(dupCities), parent: -1}
	if pl.rng.IntN(2) == 0 {
		p.mobile = pl.phone()
	}
	return p
}

// noise kinds
const (
	nExact    = "exact"
	nCase     = "case"
	nSpace    = "whitespace"
	nPhone    = "phone_format"
	nLegal    = "legal_form"
	nTranslit = "transliteration"
	nTypo     = "typo"
	nSwap     = "swapped_names"
	nMissing  = "missing_field"
	nWebsite  = "website_format"
)

type weighted struct {
	kind string
	w    int
}

var personNoise = []weighted{{nCase, 4}, {nSpace, 4}, {nPhone, 4}, {nLegal, 3}, {nTranslit, 3}, {nTypo, 5}, {nSwap, 1}, {nMissing, 3}}
var firmNoise = []weighted{{nCase, 4}, {nSpace, 4}, {nPhone, 4}, {nLegal, 5}, {nTranslit, 2}, {nTypo, 4}, {nWebsite, 3}, {nMissing, 3}}

// kinds draws one to three distinct kinds of noise, or an exact copy one time in twelve.
func (pl *planter) kinds(from []weighted) []string {
	if pl.rng.IntN(12) == 0 {
		return []string{nExact}
	}
	total := 0
	for _, k := range from {
		total += k.w
	}
	want := 1 + pl.rng.IntN(3)
	var out []string
	for len(out) < want {
		x := pl.rng.IntN(total)
		for _, k := range from {
			if x -= k.w; x < 0 {
				if !slices.Contains(out, k.kind) {
					out = append(out, k.kind)
				}
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// variant applies kinds of noise to p and returns the kinds that changed what is stored.
// It reports false when the result would leave none of e-mail, phone and company
// recognisable (the caller draws again). A contact (parent >= 0) takes its company from its
// account, so the company's spelling is not its to change; only a missing account is.
func (pl *planter) variant(p dupPerson, kinds []string) (dupPerson, []string, bool) {
	v := p
	contact := p.parent >= 0
	var applied []string
	weak := map[string]bool{} // identifying fields changed beyond normalisation
	for _, k := range kinds {
		before := v
		switch k {
		case nCase:
			for _, f := range []*string{&v.first, &v.last, &v.company, &v.email} {
				if pl.rng.IntN(2) == 0 {
					*f = pl.recase(*f)
				}
			}
			if v.first == before.first && v.last == before.last {
				v.last = strings.ToUpper(v.last)
			}
		case nSpace:
			fs := []*string{&v.first, &v.last, &v.email, &v.city}
			if !contact {
				fs = append(fs, &v.company)
			}
			for n := 1 + pl.rng.IntN(2); n > 0; n-- {
				f := fs[pl.rng.IntN(len(fs))]
				*f = pl.respace(*f)
			}
		case nPhone:
			v.phone = pl.reformat(v.phone)
		case nLegal:
			v.company = pl.relegal(v.company, v.legal)
		case nTranslit:
			v.first, v.last, v.company, v.city = pl.translit(v.first), pl.translit(v.last), pl.translit(v.company), pl.translit(v.city)
			if v.email != "" && pl.rng.IntN(3) == 0 {
				// some people write ü as u in their address too: müller → muller, not mueller
				v.email = strings.Replace(v.email, "ue", "u", 1)
				weak["email"] = weak["email"] || v.email != before.email
			}
		case nTypo:
			// one typo, or two in two different fields
			fields := []int{0, 0, 0, 1, 1, 2, 2, 3}
			if contact || v.company == "" {
				fields = []int{0, 0, 0, 1, 1, 3}
			}
			if v.email == "" {
				fields = slices.DeleteFunc(fields, func(f int) bool { return f == 3 })
			}
			first := fields[pl.rng.IntN(len(fields))]
			picked := []int{first}
			if pl.rng.IntN(2) == 0 {
				if rest := slices.DeleteFunc(slices.Clone(fields), func(f int) bool { return f == first }); len(rest) > 0 {
					picked = append(picked, rest[pl.rng.IntN(len(rest))])
				}
			}
			for _, f := range picked {
				switch f {
				case 0:
					v.last = typoAt(pl.rng, v.last)
				case 1:
					v.first = typoAt(pl.rng, v.first)
				case 2:
					v.company = typoAt(pl.rng, v.company)
					weak["company"] = true
				case 3:
					at := strings.IndexByte(v.email, '@')
					v.email = typoAt(pl.rng, v.email[:at]) + v.email[at:]
					weak["email"] = true
				}
			}
		case nSwap:
			v.first, v.last = v.last, v.first
		case nMissing:
			switch pl.rng.IntN(3) {
			case 0:
				v.email = ""
				weak["email"] = true
			case 1:
				v.phone, v.mobile = "", ""
				weak["phone"] = true
			default:
				v.company, v.parent = "", -1
				weak["company"] = true
			}
		}
		if storedPerson(before, contact) != storedPerson(v, contact) {
			applied = append(applied, k)
		}
	}
	if slices.Equal(kinds, []string{nExact}) {
		return v, kinds, true
	}
	strong := 0
	for _, f := range []string{"email", "phone", "company"} {
		if !weak[f] && (f != "email" || v.email != "") && (f != "phone" || v.phone != "") && (f != "company" || v.company != "") {
			strong++
		}
	}
	return v, applied, strong > 0 && len(applied) > 0
}

// storedPerson is what a lead or contact stores of p.
func storedPerson(p dupPerson, contact bool) [7]string {
	c := p.company
	if contact {
		c = fmt.Sprint(p.parent)
	}
	return [7]string{p.first, p.last, c, p.email, p.phone, p.mobile, p.city}
}

// firmVariant applies kinds of noise to an account; at least one of phone and website
// stays recognisable.
func (pl *planter) firmVariant(f dupFirm, kinds []string) (dupFirm, []string, bool) {
	v := f
	weak := map[string]bool{}
	var applied []string
	for _, k := range kinds {
		before := v
		switch k {
		case nCase:
			v.name = pl.recase(v.name)
			if pl.rng.IntN(2) == 0 {
				v.web = strings.ToUpper(v.web)
			}
		case nSpace:
			v.name = pl.respace(v.name)
		case nPhone:
			v.phone = pl.reformat(v.phone)
		case nLegal:
			v.name = pl.relegal(v.name, v.legal)
		case nTranslit:
			v.name, v.city = pl.translit(v.name), pl.translit(v.city)
		case nTypo:
			for n := 1 + pl.rng.IntN(2); n > 0; n-- {
				v.name = typoAt(pl.rng, v.name)
			}
		case nWebsite:
			v.web = pl.reweb(v.web)
		case nMissing:
			if pl.rng.IntN(2) == 0 {
				v.phone = ""
				weak["phone"] = true
			} else {
				v.web = ""
				weak["web"] = true
			}
		}
		if before != v {
			applied = append(applied, k)
		}
	}
	if slices.Equal(kinds, []string{nExact}) {
		return v, kinds, true
	}
	ok := (!weak["phone"] && v.phone != "") || (!weak["web"] && v.web != "")
	return v, applied, ok && len(applied) > 0
}

func (pl *planter) recase(s string) string {
	switch pl.rng.IntN(3) {
	case 0:
		return strings.ToUpper(s)
	case 1:
		return strings.ToLower(s)
	}
	// every word capitalised differently: first letter lower, the rest as is
	var b strings.Builder
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			b.WriteByte(' ')
		}
		if w != "" {
			r := []rune(w)
			if r[0] >= 'A' && r[0] <= 'Z' {
				r[0] += 'a' - 'A'
			} else if r[0] >= 'a' && r[0] <= 'z' {
				r[0] -= 'a' - 'A'
			}
			w = string(r)
		}
		b.WriteString(w)
	}
	return b.String()
}

func (pl *planter) respace(s string) string {
	switch pl.rng.IntN(3) {
	case 0:
		return " " + s
	case 1:
		return s + "  "
	}
	if i := strings.IndexByte(s, ' '); i > 0 {
		return s[:i] + "  " + s[i:]
	}
	return s + " "
}

// reformat writes a planted number in another format.
func (pl *planter) reformat(p string) string {
	area, sub, ok := splitPhone(p)
	if !ok {
		return p
	}
	for {
		if q := formatPhone(area, sub, pl.rng.IntN(len(phoneFormats))); q != p {
			return q
		}
	}
}

// relegal writes the legal form at the end of name another way, or drops it.
func (pl *planter) relegal(name, legal string) string {
	if legal == "" || !strings.HasSuffix(strings.TrimSpace(name), legal) {
		return name
	}
	base := strings.TrimSuffix(strings.TrimSpace(name), legal)
	alts := legalVariants[legal]
	if x := pl.rng.IntN(len(alts) + 1); x < len(alts) {
		return base + alts[x]
	}
	return strings.TrimSpace(base)
}

var translitFull = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue")
var translitDrop = strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss", "Ä", "A", "Ö", "O", "Ü", "U")

// translit writes umlauts and ß the way a keyboard without them does: ü as ue (or, one
// time in three, as u), ß as ss.
func (pl *planter) translit(s string) string {
	if pl.rng.IntN(3) == 0 {
		return translitDrop.Replace(s)
	}
	return translitFull.Replace(s)
}

func (pl *planter) reweb(w string) string {
	if w == "" {
		return w
	}
	host := strings.TrimPrefix(strings.TrimPrefix(w, "https://"), "http://")
	switch pl.rng.IntN(4) {
	case 0:
		return "http://" + host
	case 1:
		return strings.TrimPrefix(host, "www.")
	case 2:
		return w + "/"
	}
	return "https://" + strings.ToUpper(host[:1]) + host[1:] + "/de/"
}

// qwertz lists neighbouring keys for typos by substitution.
var qwertz = map[byte]string{'a': "sqy", 'b': "vn", 'c': "xv", 'd': "sf", 'e': "wr", 'f': "dg", 'g': "fh", 'h': "gj", 'i': "uo", 'j': "hk",
	'k': "jl", 'l': "k", 'm': "n", 'n': "bm", 'o': "ip", 'p': "o", 'q': "wa", 'r': "et", 's': "ad", 't': "rz", 'u': "zi", 'v': "cb", 'w': "qe",
	'x': "yc", 'y': "xa", 'z': "tu"}

// typoAt makes one typo in s — a neighbouring key, two letters swapped, a letter left out or
// typed twice — never in the first letter, and only at ASCII letters.
func typoAt(rng *mrand.Rand, s string) string {
	var pos []int
	for i := 1; i < len(s); i++ {
		c := s[i] | 0x20
		if c >= 'a' && c <= 'z' && s[i-1] != ' ' {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return s + "e"
	}
	for try := 0; try < 8; try++ {
		i := pos[rng.IntN(len(pos))]
		var out string
		switch rng.IntN(4) {
		case 0:
			nb := qwertz[s[i]|0x20]
			c := nb[rng.IntN(len(nb))]
			if s[i] < 'a' {
				c -= 'a' - 'A'
			}
			out = s[:i] + string(c) + s[i+1:]
		case 1:
			if i+1 >= len(s) || s[i+1] == ' ' || s[i+1] >= 0x80 {
				continue
			}
			out = s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
		case 2:
			out = s[:i] + s[i+1:]
		default:
			out = s[:i+1] + s[i:]
		}
		if out != s {
			return out
		}
	}
	return s[:pos[0]+1] + s[pos[0]:]
}

// personVariants draws size-1 variants of p and their noise kinds.
func (pl *planter) personVariants(p dupPerson, size int) ([]dupPerson, string) {
	var vs []dupPerson
	var all []string
	for len(vs) < size-1 {
		for try := 0; ; try++ {
			kinds := pl.kinds(personNoise)
			if try == 10 {
				kinds = []string{nCase}
			}
			if v, applied, ok := pl.variant(p, kinds); ok {
				vs = append(vs, v)
				all = append(all, applied...)
				break
			}
		}
	}
	return vs, kindOf(all)
}

func kindOf(kinds []string) string {
	slices.Sort(kinds)
	return strings.Join(slices.Compact(kinds), "+")
}

// created returns a creation time and the row's owner.
func (pl *planter) created(start time.Time) time.Time {
	return pl.g.between(start, pl.now.Add(-time.Hour))
}

func (pl *planter) addLead(p dupPerson, created time.Time, state, status int32) int32 {
	s, l := pl.s, pl.s.leads
	row := l.newRow()
	s.stamp(l, row, created, pl.g.between(created, pl.now.Add(-time.Hour)), pl.g.user(), state, status)
	setStrs(l, row, map[string]string{"firstname": p.first, "lastname": p.last, "companyname": p.company,
		"emailaddress1": p.email, "telephone1": p.phone, "address1_city": p.city})
	set(l, row, "subject", "Anfrage "+products[pl.rng.IntN(len(products))])
	set(l, row, "jobtitle", jobTitles[pl.rng.IntN(len(jobTitles))])
	setI(l, row, "leadsourcecode", int32(1+pl.rng.IntN(10)))
	setI(l, row, "leadqualitycode", int32(1+pl.rng.IntN(3)))
	setM(l, row, "estimatedamount", int64(1000+pl.rng.IntN(200000))*100)
	return row
}

func setStrs(t *table, row int32, vals map[string]string) {
	for _, k := range []string{"firstname", "lastname", "companyname", "emailaddress1", "telephone1", "mobilephone", "address1_city", "name", "websiteurl"} {
		if v, ok := vals[k]; ok && v != "" {
			set(t, row, k, v)
		}
	}
}

func (pl *planter) addContact(p dupPerson, created time.Time) int32 {
	s, c := pl.s, pl.s.contacts
	row := c.newRow()
	s.stamp(c, row, created, pl.g.between(created, pl.now.Add(-time.Hour)), pl.g.user(), 0, 1)
	setStrs(c, row, map[string]string{"firstname": p.first, "lastname": p.last, "emailaddress1": p.email,
		"telephone1": p.phone, "mobilephone": p.mobile, "address1_city": p.city})
	set(c, row, "jobtitle", jobTitles[pl.rng.IntN(len(jobTitles))])
	if p.parent >= 0 {
		setL(c, row, "parentcustomerid", s.accounts, p.parent)
	}
	return row
}

func (pl *planter) addAccount(f dupFirm, created time.Time) int32 {
	s, a := pl.s, pl.s.accounts
	row := a.newRow()
	s.stamp(a, row, created, pl.g.between(created, pl.now.Add(-time.Hour)), pl.g.user(), 0, 1)
	setStrs(a, row, map[string]string{"name": f.name, "telephone1": f.phone, "websiteurl": f.web, "address1_city": f.city})
	if f.email != "" {
		set(a, row, "emailaddress1", f.email)
	}
	set(a, row, "address1_country", "Deutschland")
	setI(a, row, "industrycode", int32(1+pl.rng.IntN(12)))
	setI(a, row, "numberofemployees", int32(5+pl.rng.IntN(5000)))
	setM(a, row, "revenue", int64(100000+pl.rng.IntN(50000000))*100)
	pl.k++
	set(a, row, "accountnumber", fmt.Sprintf("ACC-D%07d", pl.k))
	return row
}

func (pl *planter) newFirm() dupFirm {
	name, legal, domain := pl.company()
	f := dupFirm{name: name, legal: legal, phone: pl.phone(), web: "https://www." + domain, city: pl.pick(dupCities)}
	if pl.rng.IntN(3) == 0 {
		f.email = "info@" + domain
	}
	return f
}

func (pl *planter) leadGroup(p *planted, start time.Time) {
	orig := pl.newPerson()
	vs, kind := pl.personVariants(orig, pl.groupSize())
	created := pl.created(start)
	state, status := int32(0), int32(1)
	if pl.rng.IntN(10) < 3 {
		state, status = 2, int32(4+pl.rng.IntN(4))
	}
	rows := []int32{pl.addLead(orig, created, state, status)}
	for _, v := range vs {
		rows = append(rows, pl.addLead(v, pl.created(created), 0, 1))
	}
	p.dups["lead"] = append(p.dups["lead"], dupGroup{Kind: kind, rows: rows})
}

func (pl *planter) contactGroup(p *planted, start time.Time) {
	orig := pl.newPerson()
	f := pl.newFirm()
	f.name, f.legal = orig.company, orig.legal
	orig.parent = pl.addAccount(f, pl.created(start))
	vs, kind := pl.personVariants(orig, pl.groupSize())
	created := pl.created(start)
	rows := []int32{pl.addContact(orig, created)}
	for _, v := range vs {
		if v.company != "" {
			v.parent = orig.parent // a contact's company is its account: the name is not theirs to misspell
		}
		rows = append(rows, pl.addContact(v, pl.created(created)))
	}
	p.dups["contact"] = append(p.dups["contact"], dupGroup{Kind: kind, rows: rows})
}

func (pl *planter) accountGroup(p *planted, start time.Time) {
	orig := pl.newFirm()
	created := pl.created(start)
	rows := []int32{pl.addAccount(orig, created)}
	var all []string
	for len(rows) < pl.groupSize() {
		for try := 0; ; try++ {
			kinds := pl.kinds(firmNoise)
			if try == 10 {
				kinds = []string{nCase}
			}
			if v, applied, ok := pl.firmVariant(orig, kinds); ok {
				rows = append(rows, pl.addAccount(v, pl.created(created)))
				all = append(all, applied...)
				break
			}
		}
	}
	p.dups["account"] = append(p.dups["account"], dupGroup{Kind: kindOf(all), rows: rows})
}

// otherName returns a name of list that is not name (the lists hold distinct phonetic codes).
func (pl *planter) otherName(list []string, name string) string {
	for {
		if o := pl.pick(list); o != name {
			return o
		}
	}
}

// personLookalike plants two leads or contacts that look alike and are different people.
func (pl *planter) personLookalike(p *planted, t *table, start time.Time, i int) {
	a := pl.newPerson()
	b := pl.newPerson()
	var kind string
	switch i % 3 {
	case 0: // the same name at another company
		kind = "same_name_other_company"
		b.first, b.last = a.first, a.last
		b.email = personEmail(b.first, b.last, b.email[strings.IndexByte(b.email, '@')+1:])
	case 1: // the same company, its switchboard number, another person
		kind = "same_company_other_person"
		b.company, b.legal, b.phone, b.city = a.company, a.legal, a.phone, a.city
		b.first, b.last = pl.otherName(dupFirstNames, a.first), pl.otherName(dupLastNames, a.last)
		b.email = personEmail(b.first, b.last, a.email[strings.IndexByte(a.email, '@')+1:])
	default: // family members at home: one surname, one phone, one town
		kind = "family_shared_phone"
		b.last, b.phone, b.city, b.mobile = a.last, a.phone, a.city, ""
		b.first = pl.otherName(dupFirstNames, a.first)
		b.company = ""
		pl.k++ // a private address is the person's own: first.last plus a number
		b.email = personEmail(b.first, b.last+fmt.Sprint(pl.k%1000), pl.pick(privateDomains))
		if pl.rng.IntN(2) == 0 {
			b.email = ""
		}
	}
	var rows []int32
	if t == pl.s.leads {
		rows = []int32{pl.addLead(a, pl.created(start), 0, 1), pl.addLead(b, pl.created(start), 0, 1)}
	} else {
		fa := pl.newFirm()
		fa.name, fa.legal = a.company, a.legal
		a.parent = pl.addAccount(fa, pl.created(start))
		switch {
		case b.company == a.company:
			b.parent = a.parent
		case b.company != "":
			fb := pl.newFirm()
			fb.name, fb.legal = b.company, b.legal
			b.parent = pl.addAccount(fb, pl.created(start))
		}
		rows = []int32{pl.addContact(a, pl.created(start)), pl.addContact(b, pl.created(start))}
	}
	p.addLookalike(t.logical, kind, rows)
}

// firmLookalike plants two accounts that look alike and are different companies.
func (pl *planter) firmLookalike(p *planted, start time.Time, i int) {
	a := pl.newFirm()
	b := pl.newFirm()
	word := strings.Fields(strings.TrimSuffix(a.name, " "+a.legal))
	var kind string
	if i%2 == 0 { // the same word in another business
		kind = "same_word_other_business"
		w := word[len(word)-2]
		ind := pl.otherName(industries, word[len(word)-1])
		b.name = w + " " + ind + " " + b.legal
	} else { // a name one letter apart
		kind = "similar_name"
		w := word[len(word)-2]
		c := []byte(w)
		i := len(c) - 1
		c[i] = vowels[(strings.IndexByte(vowels, c[i])+1+pl.rng.IntN(4))%len(vowels)]
		word[len(word)-2] = string(c)
		b.name, b.legal = strings.Join(word, " ")+" "+a.legal, a.legal
	}
	rows := []int32{pl.addAccount(a, pl.created(start)), pl.addAccount(b, pl.created(start))}
	p.addLookalike("account", kind, rows)
}

func (p *planted) addLookalike(table, kind string, rows []int32) {
	if p.look == nil {
		p.look = map[string][]dupGroup{}
	}
	p.look[table] = append(p.look[table], dupGroup{Kind: kind, rows: rows})
}

// merged reports whether row was merged into another record (Dataverse's merged flag).
func (t *table) merged(row int32) bool {
	c := t.owner.byName["merged"]
	return c != nil && c.i32[row] == 1
}

// dupTruth lists the planted groups and look-alikes over live records that were not merged
// into another; a group left with one such record is no group.
func (s *Server) dupTruth() (dups, look map[string][]DupGroup) {
	list := func(src map[string][]dupGroup) map[string][]DupGroup {
		out := map[string][]DupGroup{}
		for name, groups := range src {
			t := s.byLogical[name]
			for _, g := range groups {
				var ids []string
				for _, r := range g.rows {
					if t.alive(r) && !t.merged(r) {
						ids = append(ids, t.guid(r))
					}
				}
				if len(ids) > 1 {
					out[name] = append(out[name], DupGroup{Kind: g.Kind, IDs: ids})
				}
			}
		}
		return out
	}
	return list(s.truth.dups), list(s.truth.look)
}

// mutateDuplicates is Mutate's part on planted duplicates: one update in fifteen merges a
// planted group's last live member into its first, as Dynamics' Merge does (merged = true,
// masterid = the master, deactivated — VERIFY: for a lead Dynamics is taken to set
// Disqualified/Canceled), and a batch with creates adds a new noisy member to a planted
// lead group, so groups grow past two after a sync too.
func (m *mutation) mutateDuplicates(creates, updates int) {
	s := m.s
	tables := []*table{s.leads, s.contacts, s.accounts}
	for i := 0; i < updates/15; i++ {
		t := tables[(int(s.mutations)+i)%len(tables)]
		groups := s.truth.dups[t.logical]
		if len(groups) == 0 {
			continue
		}
		for try := 0; try < 16; try++ {
			g := groups[m.rng.IntN(len(groups))]
			var live []int32
			for _, r := range g.rows {
				if t.alive(r) && !t.merged(r) && !m.deleted[rowRef{t, r}] {
					live = append(live, r)
				}
			}
			if len(live) < 2 {
				continue
			}
			master, sub := live[0], live[len(live)-1]
			setI(t, sub, "merged", 1)
			setL(t, sub, "masterid", t, master)
			if t == s.leads {
				setState(t, sub, 2, 7)
			} else {
				setState(t, sub, 1, 2)
			}
			m.touch(t, sub)
			break
		}
	}
	if creates < 10 || len(s.truth.dups["lead"]) == 0 {
		return
	}
	pl := &planter{s: s, g: m.g, rng: m.rng, now: m.now, k: 5_000_000 + int(s.mutations)*1000}
	l := s.leads
	for try := 0; try < 16; try++ {
		gi := m.rng.IntN(len(s.truth.dups["lead"]))
		g := &s.truth.dups["lead"][gi]
		orig := g.rows[0]
		if !l.alive(orig) || l.merged(orig) {
			continue
		}
		p := personOfLead(l, orig)
		vs, kind := pl.personVariants(p, 2)
		row := m.newRow(l, 0, 1)
		setStrs(l, row, map[string]string{"firstname": vs[0].first, "lastname": vs[0].last, "companyname": vs[0].company,
			"emailaddress1": vs[0].email, "telephone1": vs[0].phone, "address1_city": vs[0].city})
		set(l, row, "subject", "Anfrage "+products[m.rng.IntN(len(products))])
		setI(l, row, "leadsourcecode", 8)
		g.rows = append(g.rows, row)
		g.Kind = kindOf(append(strings.Split(g.Kind, "+"), strings.Split(kind, "+")...))
		return
	}
}

// personOfLead reads the matchable fields of a lead row.
func personOfLead(l *table, row int32) dupPerson {
	get := func(name string) string {
		b, _ := l.byName[name].str(row)
		return string(b)
	}
	p := dupPerson{first: get("firstname"), last: get("lastname"), company: get("companyname"), email: get("emailaddress1"),
		phone: get("telephone1"), city: get("address1_city"), parent: -1}
	for _, lf := range append(slices.Clone(dupLegalForms), legalForms...) {
		if strings.HasSuffix(p.company, " "+lf) {
			p.legal = lf
			break
		}
	}
	return p
}
