package audit

import "strings"

// comparison is the outcome of comparing two records under a model.
type comparison struct {
	score   float64
	pass    bool // the model's gate holds
	swapped bool // first and last name agree crosswise
	levels  []Level
	weights []float64
}

// compare compares records a and b field by field. levels and weights are filled only when
// explain is set (the hot path needs the score and the gate).
func compare(d *dataset, m *Model, a, b int32, explain bool) comparison {
	var c comparison
	if explain {
		c.levels = make([]Level, len(m.Fields))
		c.weights = make([]float64, len(m.Fields))
	}
	fFirst, fLast := -1, -1
	var lFirst, lLast Level
	for fi := range m.Fields {
		f := &m.Fields[fi]
		switch f.Kind {
		case KindFirstName:
			fFirst = fi
			continue
		case KindLastName:
			fLast = fi
			continue
		}
		va, vb := d.norm[fi].get(a), d.norm[fi].get(b)
		l := compareValues(f.Kind, va, vb)
		w := f.levelWeight(l)
		if l == Exact {
			w = f.exactWeight(d.countOf(fi, a), d.n())
		}
		c.score += w
		if explain {
			c.levels[fi], c.weights[fi] = l, w
		}
		if f.Kind == KindEmail && l == Exact {
			c.pass = true
		}
		if f.Kind == KindCompany && m.iLast < 0 && l >= Close {
			c.pass = true
		}
	}
	if fFirst < 0 || fLast < 0 {
		return c
	}
	// names, straight and crosswise
	fa, fb := d.norm[fFirst].get(a), d.norm[fFirst].get(b)
	la, lb := d.norm[fLast].get(a), d.norm[fLast].get(b)
	ca, cb := d.code[fFirst], d.code[fLast]
	lFirst = compareName(fa, fb, ca.get(a), ca.get(b))
	lLast = compareName(la, lb, cb.get(a), cb.get(b))
	if lFirst < Close || lLast < Close {
		x1 := compareName(fa, lb, ca.get(a), cb.get(b))
		x2 := compareName(la, fb, cb.get(a), ca.get(b))
		if x1 >= Close && x2 >= Close && fa != "" && la != "" && (x1+x2 > lFirst+lLast || lFirst < Close && lLast < Close) {
			lFirst, lLast, c.swapped = x1, x2, true
		}
	}
	wFirst := m.Fields[fFirst].levelWeight(lFirst)
	if lFirst == Exact {
		wFirst = m.Fields[fFirst].exactWeight(d.countOf(fFirst, a), d.n())
	}
	wLast := m.Fields[fLast].levelWeight(lLast)
	if lLast == Exact {
		wLast = m.Fields[fLast].exactWeight(d.countOf(fLast, a), d.n())
	}
	c.score += wFirst + wLast
	if explain {
		c.levels[fFirst], c.weights[fFirst] = lFirst, wFirst
		c.levels[fLast], c.weights[fLast] = lLast, wLast
	}
	if lLast >= Close && (lFirst >= Close || lFirst == Blank) {
		c.pass = true
	}
	return c
}

// countOf returns how many records share record r's value of field fi (0 when not counted).
func (d *dataset) countOf(fi int, r int32) int {
	if c, ok := d.count[fi]; ok {
		return int(c[r])
	}
	return 0
}

func (m *Model) match(c comparison) bool { return c.pass && c.score >= m.Threshold }

// compareValues compares two normalised values of a field that is not a name.
func compareValues(k Kind, a, b string) Level {
	if a == "" || b == "" {
		return Blank
	}
	if a == b {
		return Exact
	}
	switch k {
	case KindEmail:
		ia, ib := strings.IndexByte(a, '@'), strings.IndexByte(b, '@')
		if ia < 0 || ib < 0 {
			return Different
		}
		if a[ia:] == b[ib:] && EditDistance(a[:ia], b[:ib], 2) <= 2 && min(ia, ib) >= 4 {
			return Close
		}
		if a[:ia] == b[:ib] && EditDistance(a[ia+1:], b[ib+1:], 1) <= 1 {
			return Close
		}
	case KindPhone:
		best := Different
		for _, pa := range strings.Fields(a) {
			for _, pb := range strings.Fields(b) {
				switch {
				case pa == pb:
					return Exact
				case len(pa) >= 8 && len(pb) >= 8 && pa[len(pa)-8:] == pb[len(pb)-8:],
					len(pa) == len(pb) && EditDistance(pa, pb, 1) <= 1:
					best = Close
				}
			}
		}
		return best
	case KindCompany:
		limit := 2
		if min(len(a), len(b)) < 8 {
			limit = 1
		}
		if EditDistance(a, b, limit) <= limit || JaroWinkler(a, b) >= 0.92 || tokenSimilarity(a, b) >= 0.9 {
			return Close
		}
	case KindCity:
		if EditDistance(a, b, 1) <= 1 {
			return Close
		}
	}
	return Different
}

// tokenSimilarity is the Monge–Elkan similarity of two names' words: for each word of the
// name with fewer words, the best Jaro–Winkler similarity to a word of the other, averaged.
// Names whose word counts differ by more than one are 0 apart. So a typo in each of two
// words, or a word added at the end, still leaves two names close.
func tokenSimilarity(a, b string) float64 {
	ta, tb := strings.Fields(a), strings.Fields(b)
	if len(ta) > len(tb) {
		ta, tb = tb, ta
	}
	if len(ta) == 0 || len(tb)-len(ta) > 1 {
		return 0
	}
	sum := 0.0
	for _, x := range ta {
		best := 0.0
		for _, y := range tb {
			best = max(best, JaroWinkler(x, y))
		}
		sum += best
	}
	return sum / float64(len(ta))
}

// compareName compares two folded names and their Kölner Phonetik codes: close is the same
// code, Jaro–Winkler ≥ 0.92, at most one edit (two from eight letters), or an initial that
// fits.
func compareName(a, b, ca, cb string) Level {
	if a == "" || b == "" {
		return Blank
	}
	if a == b {
		return Exact
	}
	if ca != "" && ca == cb {
		return Close
	}
	if len(a) == 1 || len(b) == 1 {
		if a[0] == b[0] {
			return Close
		}
		return Different
	}
	limit := 1
	if min(len(a), len(b)) >= 8 {
		limit = 2
	}
	if EditDistance(a, b, limit) <= limit || JaroWinkler(a, b) >= 0.92 {
		return Close
	}
	return Different
}
