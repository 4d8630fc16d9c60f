package audit

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fold lower-cases s, writes German umlauts and ß as ae, oe, ue and ss (so Müller and
// Mueller agree), then removes the remaining diacritics (é → e, ł → l, ø → o) and turns
// every character that is neither a letter nor a digit into one space; spaces are
// collapsed and trimmed. Transliteration comes before diacritics removal, or Müller would
// become Muller. A decomposed umlaut (u followed by U+0308) is transliterated too.
func Fold(s string) string {
	out := make([]byte, 0, len(s)+4)
	space := false
	emit := func(t string) {
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, t...)
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			default:
				space = true
				continue
			}
			if space && len(out) > 0 {
				out = append(out, ' ')
			}
			space = false
			out = append(out, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == 0x308 { // combining diaeresis after a, o or u: the umlaut's e
			if k := len(out); k > 0 && (out[k-1] == 'a' || out[k-1] == 'o' || out[k-1] == 'u') {
				out = append(out, 'e')
			}
			continue
		}
		if unicode.Is(unicode.Mn, r) { // other combining marks
			continue
		}
		lr := unicode.ToLower(r)
		if t, ok := foldTable[lr]; ok {
			emit(t)
			continue
		}
		if unicode.IsLetter(lr) || unicode.IsDigit(lr) {
			emit(string(lr))
		} else {
			space = true
		}
	}
	return string(out)
}

// foldTable maps lower-case letters with diacritics to ASCII (German ones transliterated).
var foldTable = func() map[rune]string {
	m := map[rune]string{'ä': "ae", 'ö': "oe", 'ü': "ue", 'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'đ': "d", 'ð': "d",
		'ł': "l", 'þ': "th", 'ı': "i", 'ŀ': "l", 'ŉ': "n", 'ſ': "s"}
	groups := map[string]string{
		"a": "àáâãåāăąǎ", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ", "i": "ìíîïĩīĭįǐ", "j": "ĵ",
		"k": "ķ", "l": "ĺļľ", "n": "ñńņňŋ", "o": "òóôõōŏőǒ", "r": "ŕŗř", "s": "śŝşšș", "t": "ţťŧț", "u": "ùúûũūŭůűųǔ",
		"w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	}
	for to, from := range groups {
		for _, r := range from {
			m[r] = to
		}
	}
	return m
}()

// NormalizeEmail trims an e-mail address and lower-cases it. Dots and +tags stay: whether
// they matter is the provider's business. An address without exactly one @ and a dot after
// it is blank.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || !strings.Contains(s[at+1:], ".") || strings.ContainsAny(s, " \t,;") {
		return ""
	}
	return s
}

// NormalizePhone returns the E.164 digits of a phone number (no +): a number written with
// + or 00 keeps its country code, a national number (trunk 0) gets country (the calling
// code of the environment's default country, e.g. "49"), "(0)" after a country code is
// dropped, and so are spaces, dashes, slashes, dots and brackets. An extension (x, ext,
// "Durchwahl" written as -) cannot be told apart and stays. Anything that is not 7 to 15
// digits then, or holds letters, is blank.
func NormalizePhone(s, country string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	s = strings.Replace(s, "(0)", "", 1)
	plus := strings.HasPrefix(s, "+")
	var d []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case c == ' ' || c == '-' || c == '/' || c == '.' || c == '(' || c == ')' || c == '+' && i == 0:
		default:
			return ""
		}
	}
	out := string(d)
	switch {
	case plus:
	case strings.HasPrefix(out, "00"):
		out = out[2:]
	case strings.HasPrefix(out, "0"):
		out = country + out[1:]
	default:
		out = country + out
	}
	if len(out) < 7 || len(out) > 15 {
		return ""
	}
	return out
}

// legalForms are the legal forms NormalizeCompany drops, folded (see Fold) and longest
// first, so that "gmbh co kg" goes before "kg".
var legalForms = sortedLongestFirst([]string{
	"gmbh co kgaa", "gmbh co kg", "gmbh und co kg", "gmbh u co kg", "ag co kg", "aktiengesellschaft co", "ug haftungsbeschraenkt",
	"ug haftungsbeschrankt", "gesellschaft mit beschraenkter haftung", "gesellschaft mit beschrankter haftung", "aktiengesellschaft",
	"kommanditgesellschaft", "kommanditgesellschaft auf aktien", "offene handelsgesellschaft", "eingetragener kaufmann",
	"eingetragener verein", "g m b h", "gmbh", "mbh", "ag", "a g", "kg", "k g", "ohg", "o h g", "gbr", "g b r", "ug", "e k", "ek",
	"e v", "ev", "se", "s e", "kgaa", "kg a a", "ltd", "limited", "inc", "incorporated", "llc", "l l c", "corp", "corporation",
	"co", "plc", "s a", "sa", "s r l", "srl", "sarl", "s a r l", "b v", "bv", "n v", "nv", "oy", "ab", "as", "a s", "aps", "spa", "s p a",
})

// legalByLastWord maps the last word of each legal form to the forms ending in it, longest
// first; longLegalForms are those of eight letters or more.
var legalByLastWord, longLegalForms = func() (map[string][]string, []string) {
	m := map[string][]string{}
	var long []string
	for _, lf := range legalForms {
		last := lf[strings.LastIndexByte(lf, ' ')+1:]
		m[last] = append(m[last], lf)
		if len(lf) >= 8 {
			long = append(long, lf)
		}
	}
	return m, long
}()

func sortedLongestFirst(l []string) []string {
	out := append([]string(nil), l...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// NormalizeCompany folds a company name (see Fold; & becomes "und") and removes legal forms
// (GmbH, AG, KG, OHG, GbR, UG (haftungsbeschränkt), e.K., e.V., SE, KGaA, GmbH & Co. KG,
// Ltd, Inc, LLC, Corp, S.A., S.r.l., B.V., … in their usual spellings) at the end of the
// name, repeatedly, so that "Contoso GmbH & Co. KG" and "CONTOSO" agree; a long one (eight
// letters or more) also with up to two typos. A name that is nothing but a legal form
// keeps it.
func NormalizeCompany(s string) string {
	f := Fold(s) // & and + are no letters: they become spaces
	if strings.Contains(f, " und ") {
		f = strings.ReplaceAll(f, " und ", " ")
	}
	for {
		cut := false
		for _, lf := range legalByLastWord[f[strings.LastIndexByte(f, ' ')+1:]] {
			if len(f) > len(lf)+1 && f[len(f)-len(lf)-1] == ' ' && strings.HasSuffix(f, lf) {
				f = f[:len(f)-len(lf)-1]
				cut = true
				break
			}
		}
		if !cut {
			return trimMisspelledLegalForm(f)
		}
	}
}

// trimMisspelledLegalForm drops a long legal form (eight letters or more, such as
// Kommanditgesellschaft or UG (haftungsbeschränkt)) that ends f with a typo or two.
func trimMisspelledLegalForm(f string) string {
	for _, lf := range longLegalForms {
		// the tail of f with as many words as lf
		i := len(f)
		for w := strings.Count(lf, " ") + 1; w > 0 && i > 0; w-- {
			i = strings.LastIndexByte(f[:i], ' ')
		}
		if i <= 0 {
			continue
		}
		if tail := f[i+1:]; abs(len(tail)-len(lf)) <= 2 && EditDistance(tail, lf, 2) <= 2 {
			return f[:i]
		}
	}
	return f
}

// NormalizeName folds a person's first or last name (see Fold) and drops salutations and
// academic titles in front of it (Herr, Frau, Dr., Prof., Dipl.-Ing., Mr, Mrs, Ms, …), so
// "Dr. Anna" and "Anna" agree. A name that is nothing but a title keeps it.
func NormalizeName(s string) string {
	f := Fold(s)
	for {
		i := strings.IndexByte(f, ' ')
		if i < 0 || !nameTitles[f[:i]] {
			return f
		}
		f = f[i+1:]
	}
}

var nameTitles = map[string]bool{"herr": true, "frau": true, "hr": true, "fr": true, "dr": true, "prof": true, "dipl": true, "ing": true,
	"med": true, "rer": true, "nat": true, "phil": true, "mr": true, "mrs": true, "ms": true, "miss": true, "sir": true}

// NormalizeWebsite returns the host of a website without scheme, "www." and path, lower-case.
func NormalizeWebsite(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimPrefix(s, "www.")
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if !strings.Contains(s, ".") {
		return ""
	}
	return s
}

// emailDomain returns the part of a normalised address after @.
func emailDomain(e string) string {
	if i := strings.IndexByte(e, '@'); i >= 0 {
		return e[i+1:]
	}
	return ""
}
