package scoring

// SetBefore makes the compiler write the scoring statement as it was
// before the last performance changes (on) or as it is (off), for
// BenchmarkScoring's before figure; it returns the previous setting.
func SetBefore(on bool) bool {
	was := before
	before = on
	return was
}
