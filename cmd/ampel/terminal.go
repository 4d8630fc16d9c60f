package main

import "os"

// isTerminal reports whether f is a character device (a terminal), where
// progress is drawn instead of logged.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
