package scoring

// SetStringOutput makes the compiler select the texts of a score as
// String as it did before they were LowCardinality (on) or not (off), for
// BenchmarkScoring's before figure; it returns the previous setting.
func SetStringOutput(on bool) bool {
	was := stringOutput
	stringOutput = on
	return was
}
