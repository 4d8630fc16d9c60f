package audit

import (
	"bytes"
	"slices"
)

// edge is a matched pair.
type edge struct {
	a, b  int32
	score float64
}

// cluster forms groups from matched pairs: connected components, built from the strongest
// pair down, where two parts join only when the whole of each fits the other — no pair
// across them scores below zero, and their mean score is at least half the threshold — and
// the group stays within MaxGroup, and no two records a steward marked as no duplicates
// (see Review) end up in one group. So A~B and B~C do not make A, B, C
// one group when A and C are plainly different people. It returns each group's members and
// the pairs that joined it, both in a stable order.
func cluster(d *dataset, m *Model, edges []edge) [][]edge {
	slices.SortFunc(edges, func(x, y edge) int {
		switch {
		case x.score > y.score:
			return -1
		case x.score < y.score:
			return 1
		}
		if c := bytes.Compare(d.ids[x.a][:], d.ids[y.a][:]); c != 0 {
			return c
		}
		return bytes.Compare(d.ids[x.b][:], d.ids[y.b][:])
	})
	parent := map[int32]int32{}
	members := map[int32][]int32{}
	links := map[int32][]edge{}
	find := func(x int32) int32 {
		if _, ok := parent[x]; !ok {
			parent[x] = x
			members[x] = []int32{x}
		}
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, e := range edges {
		ra, rb := find(e.a), find(e.b)
		if ra == rb {
			continue
		}
		A, B := members[ra], members[rb]
		if len(A)+len(B) > m.MaxGroup || d.cannot.across(A, B) {
			continue
		}
		if len(A)+len(B) > 2 && !fits(d, m, A, B) {
			continue
		}
		if len(A) < len(B) {
			ra, rb, A, B = rb, ra, B, A
		}
		parent[rb] = ra
		members[ra] = append(A, B...)
		links[ra] = append(append(links[ra], links[rb]...), e)
		delete(members, rb)
		delete(links, rb)
	}
	var out [][]edge
	for _, ls := range links {
		out = append(out, ls)
	}
	return out
}

// fits reports whether every record of A fits every record of B (see cluster).
func fits(d *dataset, m *Model, A, B []int32) bool {
	sum := 0.0
	for _, x := range A {
		for _, y := range B {
			c := compare(d, m, x, y, false)
			if c.score < 0 {
				return false
			}
			sum += c.score
		}
	}
	return sum/float64(len(A)*len(B)) >= m.Threshold/2
}
