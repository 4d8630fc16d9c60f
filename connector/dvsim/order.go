package dvsim

import (
	"bytes"
	"cmp"
	"slices"
	"sync"
)

// Ordered paging ($orderby) needs the matching rows sorted. Sorting on every page made a
// walk over N rows O(N²/pagesize · log N); the sorted rows of a query are kept instead, keyed
// by the table, $filter, $orderby and the data version they were sorted at. A page whose
// query and data are unchanged since the previous page continues in the kept order (a
// binary search finds the cookie's last row); when any row changed in between, the rows are
// sorted again, so results are the same as re-sorting every page — only faster.
type orderCache struct {
	mu      sync.Mutex
	tick    uint64
	entries []*orderEntry
	sorts   int // full sorts done (tests check that a walk sorts once)
}

type orderEntry struct {
	table   int
	query   string
	version int64
	meta    int64
	rows    []int32
	used    uint64
}

const orderCacheSize = 4

func (oc *orderCache) get(table int, query string, version, meta int64) []int32 {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	for _, e := range oc.entries {
		if e.table == table && e.query == query && e.version == version && e.meta == meta {
			oc.tick++
			e.used = oc.tick
			return e.rows
		}
	}
	return nil
}

func (oc *orderCache) put(e *orderEntry) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.tick++
	oc.sorts++
	e.used = oc.tick
	// drop entries of the same query at older versions, then the least recently used.
	oc.entries = slices.DeleteFunc(oc.entries, func(x *orderEntry) bool { return x.table == e.table && x.query == e.query })
	if len(oc.entries) >= orderCacheSize {
		lru := 0
		for i, x := range oc.entries {
			if x.used < oc.entries[lru].used {
				lru = i
			}
		}
		oc.entries = slices.Delete(oc.entries, lru, lru+1)
	}
	oc.entries = append(oc.entries, e)
}

// orderedPage returns the page after the cookie's last row in $orderby order (key as the
// last tiebreaker). The caller holds s.mu for reading.
func (s *Server) orderedPage(t *table, cur cookie, query string, filter pred, order []*column, desc []bool, size int, emit func(int32)) *cookie {
	cmp := func(a, b int32) int {
		for i, c := range order {
			if r := compareRows(t, c, a, b); r != 0 {
				if desc[i] {
					return -r
				}
				return r
			}
		}
		return cmp.Compare(int64(a), int64(b))
	}
	rows := s.orderCache.get(t.idx, query, s.version, s.metadataVersion)
	if rows == nil {
		rows = make([]int32, 0, t.count())
		for p := 0; p < t.count(); p++ {
			if row := t.rowAt(p); t.alive(row) && (filter == nil || filter(row)) {
				rows = append(rows, row)
			}
		}
		slices.SortFunc(rows, cmp)
		rows = slices.Clip(rows)
		s.orderCache.put(&orderEntry{table: t.idx, query: query, version: s.version, meta: s.metadataVersion, rows: rows})
	}
	start := 0
	if cur.last != "" {
		if lr := t.rowOf(cur.last); lr >= 0 {
			i, found := slices.BinarySearchFunc(rows, lr, cmp)
			start = i
			if found {
				start = i + 1
			}
		}
	}
	end := min(start+size, len(rows))
	for _, row := range rows[start:end] {
		emit(row)
	}
	if end < len(rows) {
		return &cookie{page: cur.page + 1, last: t.guid(rows[end-1])}
	}
	return nil
}

// comparePK compares the GUIDs of two rows without allocating.
func comparePK(t *table, a, b int32) int {
	var x, y [36]byte
	return bytes.Compare(t.appendGUID(x[:0], a), t.appendGUID(y[:0], b))
}
