package scoring

// SetStringJoinKey makes the compiler join leads and activities on
// (_environment, leadid) as it did before envKey (on) or not (off), for
// BenchmarkScoring's before figure; it returns the previous setting.
func SetStringJoinKey(on bool) bool {
	was := stringJoinKey
	stringJoinKey = on
	return was
}
