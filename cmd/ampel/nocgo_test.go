package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestServerOnlyBuild builds ampel without cgo, as for a static binary or
// a distroless image: it syncs into a ClickHouse server, and a config that
// asks for the embedded engine fails with one line saying how to get a
// build that has it.
func TestServerOnlyBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ampel-nocgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "CGO_ENABLED=0 go build: %s", out)
	info, err := exec.Command("go", "version", "-m", bin).Output()
	require.NoError(t, err)
	require.Contains(t, string(info), "CGO_ENABLED=0")

	run := func(config string, args ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(bin, append(append(args[:1:1], "--config", config), args[1:]...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}

	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 91, Scale: 100})
	_, stderr, err := run(x.config, "sync", "--tables", "lead,contact")
	require.NoError(t, err, stderr)
	require.Equal(t, "ok", x.lastRuns()["lead"]["status"])
	rows := x.query("SELECT count() AS n FROM lead")
	require.Equal(t, int64(len(x.sim.Records("lead"))), num(rows[0]["n"]))

	embedded := filepath.Join(t.TempDir(), "ampel.yaml")
	require.NoError(t, os.WriteFile(embedded, []byte("warehouse:\n  driver: embedded\n  path: warehouse\n"), 0o600))
	_, stderr, err = run(embedded, "migrate")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, exitFailed, exit.ExitCode())
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.Contains(t, stderr, "ampel migrate: open embedded warehouse: this ampel was built without cgo and has no embedded engine")
	require.Contains(t, stderr, "CGO_ENABLED=1")
	require.NoDirExists(t, filepath.Join(filepath.Dir(embedded), "warehouse"), "nothing was created")
}
