package audit

import (
	"slices"
	"strings"
)

// fnv is FNV-1a, 64 bits: blocking keys and value counts are hashes, so that no map of
// strings is built over a large table (collisions only add a pair to compare).
type fnv uint64

const fnvOffset fnv = 14695981039346656037

func (h fnv) str(s string) fnv {
	for i := 0; i < len(s); i++ {
		h ^= fnv(s[i])
		h *= 1099511628211
	}
	h ^= 0xff // separator
	h *= 1099511628211
	return h
}

func (h fnv) u16(v uint16) fnv {
	h ^= fnv(v & 0xff)
	h *= 1099511628211
	h ^= fnv(v >> 8)
	h *= 1099511628211
	return h
}

type entry struct {
	h uint64
	r int32
}

// sortEntries sorts entries by hash (an LSD radix sort, 16 bits a pass); the order within
// one hash does not matter to the callers.
func sortEntries(es []entry) {
	if len(es) < 256 {
		slices.SortFunc(es, func(a, b entry) int {
			switch {
			case a.h < b.h:
				return -1
			case a.h > b.h:
				return 1
			}
			return int(a.r - b.r)
		})
		return
	}
	tmp := make([]entry, len(es))
	src, dst := es, tmp
	var count [1 << 16]int
	for shift := 0; shift < 64; shift += 16 {
		clear(count[:])
		for _, e := range src {
			count[(e.h>>shift)&0xffff]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, e := range src {
			k := (e.h >> shift) & 0xffff
			dst[count[k]] = e
			count[k]++
		}
		src, dst = dst, src
	}
	// four passes: the sorted entries are back in es
}

// runs calls fn for every run of entries with one hash.
func runs(es []entry, fn func(run []entry)) {
	for i := 0; i < len(es); {
		j := i + 1
		for j < len(es) && es[j].h == es[i].h {
			j++
		}
		fn(es[i:j])
		i = j
	}
}

// prepare normalises the model's fields of every record, computes the phonetic codes of
// names and, for term-frequency adjusted fields, how many records share each value.
func prepare(d *dataset, m *Model, country func(env string) string) {
	n := d.n()
	d.norm = make([]strCol, len(m.Fields))
	for fi, f := range m.Fields {
		col := &d.norm[fi]
		col.end = make([]uint32, 0, n)
		if i, ok := d.colIdx[f.Columns[0]]; ok { // normalised values are no longer than raw ones, give or take
			col.buf = make([]byte, 0, len(d.raw[i].buf)+len(d.raw[i].buf)/16)
		}
		var codes *strCol
		if f.Kind == KindFirstName || f.Kind == KindLastName {
			codes = &strCol{end: make([]uint32, 0, n)}
			d.code[fi] = codes
		}
		var idx []int
		for _, c := range f.Columns {
			if i, ok := d.colIdx[c]; ok {
				idx = append(idx, i)
			}
		}
		var phones []string
		for r := int32(0); r < int32(n); r++ {
			var v string
			if f.Kind == KindPhone {
				phones = phones[:0]
				cc := country(d.envs[d.env[r]])
				for _, i := range idx {
					if p := NormalizePhone(d.raw[i].get(r), cc); p != "" && !slices.Contains(phones, p) {
						phones = append(phones, p)
					}
				}
				v = strings.Join(phones, " ")
			} else {
				for _, i := range idx {
					if v = normalize(f.Kind, d.raw[i].get(r)); v != "" {
						break
					}
				}
			}
			col.add(v)
			if codes != nil {
				codes.add(Koelner(v))
			}
		}
		if f.ExactMin != f.ExactMax {
			d.count[fi] = countValues(col, n)
		}
	}
}

func normalize(k Kind, s string) string {
	switch k {
	case KindFirstName, KindLastName, KindCity:
		return NormalizeName(s)
	case KindEmail:
		return NormalizeEmail(s)
	case KindCompany:
		return NormalizeCompany(s)
	case KindWebsite:
		return NormalizeWebsite(s)
	}
	return strings.TrimSpace(s)
}

// countValues returns, per record, how many records have its (non-blank) value.
func countValues(col *strCol, n int) []int32 {
	es := make([]entry, 0, n)
	for r := int32(0); r < int32(n); r++ {
		if v := col.get(r); v != "" {
			es = append(es, entry{uint64(fnvOffset.str(v)), r})
		}
	}
	sortEntries(es)
	out := make([]int32, n)
	runs(es, func(run []entry) {
		for _, e := range run {
			out[e.r] = int32(len(run))
		}
	})
	return out
}

// blockStats counts what blocking did.
type blockStats struct {
	blocks, skippedBlocks, skippedRecords int
}

// candidates returns the record pairs that share at least one blocking key, each once, as
// a<<32|b with a < b. Keys (all within one environment):
//
//   - the normalised e-mail address, each phone number, the website;
//   - for companies (not persons) the normalised name;
//   - each distinctive token of the company name (one that at most MaxTokenCount records
//     share), for persons together with the phonetic code of the first or of the last name
//     (two keys, so a typo in one name or swapped names still meet);
//   - for persons the distinctive e-mail domain with the first or the last name's code.
//
// A key shared by more than MaxBlock records makes no pairs. Every key's blocks stay small
// as the table grows, so the pairs grow with the records, not with their square.
func candidates(d *dataset, m *Model) ([]uint64, blockStats) {
	var st blockStats
	n := d.n()
	var pairs []uint64
	block := func(es []entry) {
		sortEntries(es)
		runs(es, func(run []entry) {
			if len(run) < 2 {
				return
			}
			if len(run) > m.MaxBlock {
				st.skippedBlocks++
				st.skippedRecords += len(run)
				return
			}
			st.blocks++
			for i := 0; i < len(run); i++ {
				for j := i + 1; j < len(run); j++ {
					a, b := run[i].r, run[j].r
					if a == b {
						continue
					}
					if a > b {
						a, b = b, a
					}
					pairs = append(pairs, uint64(a)<<32|uint64(b))
				}
			}
		})
	}
	person := m.person()
	fFirst, fLast := m.field(KindFirstName), m.field(KindLastName)
	nameCodes := func(r int32) (string, string) {
		if !person {
			return "", ""
		}
		return d.code[fFirst].get(r), d.code[fLast].get(r)
	}
	es := make([]entry, 0, n)
	// identifiers
	for fi, f := range m.Fields {
		if f.Kind != KindEmail && f.Kind != KindPhone && f.Kind != KindWebsite && (person || f.Kind != KindCompany) {
			continue
		}
		es = es[:0]
		for r := int32(0); r < int32(n); r++ {
			v := d.norm[fi].get(r)
			if v == "" {
				continue
			}
			h := fnvOffset.str(string(rune('0' + fi))).u16(d.env[r])
			if f.Kind == KindPhone {
				for _, p := range strings.Fields(v) {
					es = append(es, entry{uint64(h.str(p)), r})
				}
				continue
			}
			es = append(es, entry{uint64(h.str(v)), r})
		}
		block(es)
	}
	// distinctive tokens of the company name and the e-mail domain, with a name code
	distinctive := func(fi int, tokens func(string) []string) {
		es = es[:0]
		for r := int32(0); r < int32(n); r++ {
			for _, t := range tokens(d.norm[fi].get(r)) {
				es = append(es, entry{uint64(fnvOffset.str(t)), r})
			}
		}
		sortEntries(es)
		keys := make([]entry, 0, 2*len(es))
		runs(es, func(run []entry) {
			if len(run) > m.MaxTokenCount {
				return
			}
			for _, e := range run {
				h := fnvOffset.str("t"+string(rune('0'+fi))).u16(d.env[e.r]) ^ fnv(e.h)
				h *= 1099511628211
				if !person {
					keys = append(keys, entry{uint64(h), e.r})
					continue
				}
				c1, c2 := nameCodes(e.r)
				if c1 != "" {
					keys = append(keys, entry{uint64(h.str(c1)), e.r})
				}
				if c2 != "" && c2 != c1 {
					keys = append(keys, entry{uint64(h.str(c2)), e.r})
				}
			}
		})
		block(keys)
	}
	if fi := m.field(KindCompany); fi >= 0 {
		distinctive(fi, companyTokens)
	}
	if fi := m.field(KindEmail); fi >= 0 && person {
		distinctive(fi, func(e string) []string {
			if dom := emailDomain(e); dom != "" {
				return []string{dom}
			}
			return nil
		})
	}
	slices.Sort(pairs)
	return slices.Compact(pairs), st
}

// companyTokens returns the words of a normalised company name of three letters or more,
// each once.
func companyTokens(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, t := range strings.Fields(s) {
		if len(t) >= 3 && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
