//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device; on Linux
// (terminal.go) it asks for the terminal's settings instead, which tells
// /dev/null from a terminal.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
