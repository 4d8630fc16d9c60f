package connector

// SetWalkAfterDone turns on or off that a tracking table's tracked read
// goes on after the table was done while the run's other tables sync
// (keepWalking), for the benchmarks to compare; it returns the undo.
func SetWalkAfterDone(on bool) (undo func()) {
	was := walkAfterDone
	walkAfterDone = on
	return func() { walkAfterDone = was }
}
