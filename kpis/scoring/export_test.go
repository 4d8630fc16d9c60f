package scoring

// SetBefore makes Run score as main did at 521095d, before the last
// performance change (on: the statements without scoreSettings), or as
// it does (off), for BenchmarkScoring's before figure; it returns the
// previous setting.
func SetBefore(on bool) bool {
	was := before
	before = on
	return was
}
