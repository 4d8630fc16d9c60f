package check

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// systemdAnalyze is systemd's own checker (Debian's systemd package).
const systemdAnalyze = "/usr/bin/systemd-analyze"

// TestSystemdUnit checks deploy/systemd/ampel.service with systemd-analyze:
// verify (syntax, directives, the command line) and security, whose
// exposure score must stay "OK" (at most 2.0 of 10). verify insists that
// ExecStart names an executable, so it checks a copy whose ExecStart points
// at this test binary instead of /usr/local/bin/ampel. Then the unit is
// read for what the README promises: a dedicated user, a read-only system
// with the state directory writable, secrets from an EnvironmentFile, a
// restart policy and time to stop gracefully.
func TestSystemdUnit(t *testing.T) {
	unit := read(t, "deploy", "systemd", "ampel.service")
	_, err := os.Stat(systemdAnalyze)
	require.NoError(t, err, "systemd-analyze is needed (apt-get install systemd; deploy/install-test-deps.sh does it)")

	self, err := os.Executable()
	require.NoError(t, err)
	copyPath := filepath.Join(t.TempDir(), "ampel.service")
	require.Contains(t, unit, "ExecStart=/usr/local/bin/ampel run --config /etc/ampel/ampel.yaml\n")
	require.NoError(t, os.WriteFile(copyPath, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/ampel ", "ExecStart="+self+" ", 1)), 0o644))

	out, err := exec.Command(systemdAnalyze, "verify", "--man=no", copyPath).CombinedOutput()
	assert.NoError(t, err, "systemd-analyze verify:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify prints nothing for a clean unit")

	out, err = exec.Command(systemdAnalyze, "security", "--offline=true", "--threshold=20", copyPath).CombinedOutput()
	assert.NoError(t, err, "systemd-analyze security above 2.0:\n%s", out)
	m := regexp.MustCompile(`Overall exposure level for ampel\.service: ([0-9.]+) (\w+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	score, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	assert.LessOrEqual(t, score, 2.0)
	assert.Equal(t, "OK", string(m[2]))

	d := directives(unit)
	for key, want := range map[string]string{
		"User":            "ampel",
		"Group":           "ampel",
		"ProtectSystem":   "strict",
		"ProtectHome":     "yes",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
		"StateDirectory":  "ampel",
		"ReadWritePaths":  "/var/lib/ampel",
		"EnvironmentFile": "/etc/ampel/ampel.env",
		"Restart":         "on-failure",
		"KillSignal":      "SIGTERM",
		"UMask":           "0077",
		"WantedBy":        "multi-user.target",
	} {
		assert.Equal(t, []string{want}, d[key], key)
	}
	stop, err := strconv.Atoi(d["TimeoutStopSec"][0])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, stop, 60, "a sync needs time to store its state on SIGTERM")
	assert.Equal(t, []string{"2 3"}, d["RestartPreventExitStatus"], "usage and configuration errors (README exit codes) are not restarted")
	assert.Equal(t, []string{"XDG_CACHE_HOME=/usr/local/lib"}, d["Environment"], "libchdb where the install comment puts it")
}

// directives maps each key of a unit file to its values in order.
func directives(unit string) map[string][]string {
	d := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			d[k] = append(d[k], v)
		}
	}
	return d
}
