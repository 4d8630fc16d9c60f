package audit

import (
	"unicode/utf8"
	"unsafe"
)

// JaroWinkler returns the Jaro–Winkler similarity of a and b (0 to 1, 1 = equal), over
// runes, with the usual prefix scale 0.1 and a common prefix of at most 4. Two empty
// strings are 1; an empty string against another is 0.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	if isASCII(a) && isASCII(b) {
		return jaroWinkler(bytesOf(a), bytesOf(b))
	}
	return jaroWinkler([]rune(a), []rune(b))
}

func jaroWinkler[T byte | rune](ra, rb []T) float64 {
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	// the common prefix, before the two may swap
	p := 0
	for p < 4 && p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	window := max(0, len(rb)/2-1)
	var ma, mb [64]bool
	var fa, fb []bool
	if len(rb) <= 64 {
		fa, fb = ma[:len(ra)], mb[:len(rb)]
	} else {
		fa, fb = make([]bool, len(ra)), make([]bool, len(rb))
	}
	m := 0
	for i, c := range ra {
		lo, hi := max(0, i-window), min(len(rb)-1, i+window)
		for j := lo; j <= hi; j++ {
			if !fb[j] && rb[j] == c {
				fa[i], fb[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, j := 0, 0
	for i := range ra {
		if !fa[i] {
			continue
		}
		for !fb[j] {
			j++
		}
		if ra[i] != rb[j] {
			t++
		}
		j++
	}
	mf := float64(m)
	jaro := (mf/float64(len(ra)) + mf/float64(len(rb)) + (mf-float64(t/2))/mf) / 3
	return jaro + float64(p)*0.1*(1-jaro)
}

// EditDistance returns the optimal-string-alignment Damerau–Levenshtein distance of a and b
// over runes: insertions, deletions, substitutions and transpositions of two neighbours each
// cost 1 (no substring is edited twice). With limit >= 0 it stops early and returns limit+1
// once the distance must exceed limit.
func EditDistance(a, b string, limit int) int {
	if a == b {
		return 0
	}
	if isASCII(a) && isASCII(b) {
		return editDistance(bytesOf(a), bytesOf(b), limit)
	}
	return editDistance([]rune(a), []rune(b), limit)
}

func editDistance[T byte | rune](ra, rb []T, limit int) int {
	n, m := len(ra), len(rb)
	if limit >= 0 && abs(n-m) > limit {
		return limit + 1
	}
	if n == 0 || m == 0 {
		return max(n, m)
	}
	var buf [3 * 64]int
	var rows []int
	if m < 64 {
		rows = buf[:3*(m+1)]
	} else {
		rows = make([]int, 3*(m+1))
	}
	prev2, prev, cur := rows[:m+1], rows[m+1:2*(m+1)], rows[2*(m+1):]
	for j := 0; j <= m; j++ {
		prev[j] = j
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		best := i
		for j := 1; j <= m; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if limit >= 0 && best > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[m]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// bytesOf views the bytes of s without copying; the callers only read them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
