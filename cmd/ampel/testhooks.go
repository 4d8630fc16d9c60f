package main

import (
	"fmt"
	"os"
	"syscall"
)

// Environment variables for crash tests only (cmd/ampel/crash_test.go):
// they make the binary kill itself at an exact point of its start-up, or
// list the points it passes. The points are those of
// migrate.Options.Hook: "locked", "<migration file>#<statement>",
// "<migration file>#recorded".
const (
	// envKillAt names a point at which the process sends itself SIGKILL.
	envKillAt = "AMPEL_TEST_KILL_AT"
	// envPoints names a file to which every point passed is appended.
	envPoints = "AMPEL_TEST_POINTS"
)

// crashHook returns the hook the environment asks for, or nil.
func crashHook() func(point string) {
	killAt, points := os.Getenv(envKillAt), os.Getenv(envPoints)
	if killAt == "" && points == "" {
		return nil
	}
	return func(point string) {
		if points != "" {
			if f, err := os.OpenFile(points, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
				fmt.Fprintln(f, point)
				f.Close()
			}
		}
		if point == killAt {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
