package audit

// Metrics are pairwise precision, recall and F1 of found groups against true groups: over
// groups of n records there are n(n−1)/2 pairs.
type Metrics struct {
	// TruePairs are the pairs in the true groups, FoundPairs those in the found groups,
	// CorrectPairs those in both.
	TruePairs, FoundPairs, CorrectPairs int
	// Precision = correct / found (1 when nothing was found), Recall = correct / true (1 when
	// there is nothing to find), F1 their harmonic mean.
	Precision, Recall, F1 float64
}

// Evaluate compares found groups with true groups, both as lists of record ids. A record
// should be in at most one true group.
func Evaluate(found, truth [][]string) Metrics {
	var m Metrics
	group := map[string]int{}
	for i, g := range truth {
		m.TruePairs += len(g) * (len(g) - 1) / 2
		for _, id := range g {
			group[id] = i + 1
		}
	}
	for _, g := range found {
		m.FoundPairs += len(g) * (len(g) - 1) / 2
		per := map[int]int{}
		for _, id := range g {
			if t := group[id]; t > 0 {
				per[t]++
			}
		}
		for _, k := range per {
			m.CorrectPairs += k * (k - 1) / 2
		}
	}
	m.Precision, m.Recall = 1, 1
	if m.FoundPairs > 0 {
		m.Precision = float64(m.CorrectPairs) / float64(m.FoundPairs)
	}
	if m.TruePairs > 0 {
		m.Recall = float64(m.CorrectPairs) / float64(m.TruePairs)
	}
	if m.Precision+m.Recall > 0 {
		m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
	}
	return m
}

// GroupIDs returns the member ids of groups, for Evaluate.
func GroupIDs(groups []*Group) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		out[i] = g.IDs()
	}
	return out
}
