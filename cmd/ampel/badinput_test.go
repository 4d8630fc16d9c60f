package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// Bad input through the binary: every case ends with its exit code and
// one line on stderr that says what to fix, and prints no secret.

// secretValue is what ${AMPEL_TEST_SECRET} holds in these tests.
const secretValue = "Xy7~qR2sT9uVwZ4aB6cD"

// ampelWith runs the binary with extra environment variables.
func ampelWith(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return ampelRun(t, nil, env, args...)
}

// ampelRun runs the binary with stdin (nil: none) and extra environment
// variables.
func ampelRun(t *testing.T, stdin io.Reader, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), ampelBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "run ampel: %v", err)
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// requireOneLine checks that stderr is one line from ampel cmd containing
// want, without the test secret.
func requireOneLine(t *testing.T, cmd, stderr, want string) {
	t.Helper()
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.True(t, strings.HasPrefix(stderr, "ampel "+cmd+": "), stderr)
	require.Contains(t, stderr, want)
	require.NotContains(t, stderr, secretValue)
}

func TestBadCommandLines(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		// arguments a command does not take (they used to be ignored:
		// "ampel sync --config f extra" synced everything)
		{[]string{"sync", "--config", "f.yaml", "extra"}, `unexpected argument "extra": ampel sync takes flags only`},
		{[]string{"sync", "lead", "--full"}, `unexpected argument "lead"`},
		{[]string{"migrate", "--config", "f.yaml", "now"}, `unexpected argument "now"`},
		{[]string{"doctor", "x"}, `unexpected argument "x"`},
		{[]string{"run", "--config", "f.yaml", "x"}, `unexpected argument "x"`},
		{[]string{"demo", "x"}, `unexpected argument "x"`},
		{[]string{"simulate", "x"}, `unexpected argument "x"`},
		{[]string{"audit", "x"}, `"x" is not an audit subcommand: use run, review, list, release or import-rules`},
		{[]string{"audit", "run", "x"}, `unexpected argument "x"`},
		{[]string{"audit", "--format", "xml"}, `--format "xml": use table, csv or json`},
		{[]string{"audit", "review", "--mark", "reviewed"}, "name one finding or group"},
		{[]string{"audit", "review", "f1", "--mark", "maybe"}, `--mark: mark "maybe": use reviewed, not-duplicate or will-fix`},
		{[]string{"serve", "x"}, `unexpected argument "x"`},
		{[]string{"demo", "--addr", "0.0.0.0:8080"}, "--addr 0.0.0.0:8080 would serve plain HTTP beyond this machine"},
		{[]string{"version", "x"}, `unexpected argument "x"`},
		{[]string{"sql", "--config", "f.yaml", "SELECT 1", "SELECT 2"}, "give one query, quoted"},
		// simulator settings out of range
		{[]string{"simulate", "--faults", "errors=2"}, "--faults errors=2: a share between 0 and 1"},
		{[]string{"simulate", "--faults", "drop=-0.1"}, "--faults drop=-0.1: a share between 0 and 1"},
		{[]string{"simulate", "--faults", "latency=-1s"}, "--faults latency=-1s: a duration"},
		{[]string{"simulate", "--faults", "no-read=leads"}, `--faults no-read=leads: "leads" is not a simulated table`},
		{[]string{"simulate", "--faults", "no-change-tracking=incident+Lead"}, `"Lead" is not a simulated table`},
		{[]string{"simulate", "--faults", "no-app-user=maybe"}, "--faults no-app-user=maybe: not true or false"},
		{[]string{"simulate", "--faults", "errrors=0.1"}, "--faults errrors=0.1: unknown setting"},
		{[]string{"simulate", "--throttle", "requests=-5"}, "--throttle requests=-5: a whole number, 0 or more"},
		{[]string{"simulate", "--throttle", "window=5m"}, "needs requests=N"},
		{[]string{"simulate", "--throttle", "concurrent"}, `"concurrent" is not key=value`},
		{[]string{"simulate", "--scale", "-5"}, "--scale -5: the number of leads, at least 100"},
		{[]string{"simulate", "--scale", "20"}, "--scale 20"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			out, errOut, code := ampelWith(t, nil, tc.args...)
			require.Equal(t, exitUsage, code, "stdout: %s\nstderr: %s", out, errOut)
			requireOneLine(t, tc.args[0], errOut, tc.want)
		})
	}
}

// TestBadConfigFiles runs every bad config of the config package's
// testdata through ampel sync: exit 3, one line naming the file.
func TestBadConfigFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "testdata", "*.bad.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 20)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			_, errOut, code := ampelWith(t, []string{"AMPEL_TEST_SECRET=" + secretValue}, "sync", "--config", file)
			require.Equal(t, exitConfig, code, errOut)
			requireOneLine(t, "sync", errOut, file+":")
		})
	}
}

// TestSyncSummaryAndRefusals: the summary reaches stdout when stderr is
// /dev/null; an environment-wide failure is said once on each stream,
// with a mode in sync_runs; an exclude_columns typo refuses its table,
// and doctor says so too.
func TestSyncSummaryAndRefusals(t *testing.T) {
	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 41, Scale: 100})
	x.markRuns() // the configs below share x's record of runs seen
	bad := x.withConfig("badsecret", func(s string) string {
		return strings.Replace(s, "client_secret: ", "client_secret: \"wrong\" # ", 1)
	})
	typo := x.withConfig("typo", func(s string) string {
		return s + "sync:\n  tables:\n    - name: lead\n      exclude_columns: [emailadress1]\n    - contact\n"
	})

	// stderr to /dev/null (a character device, but no terminal)
	cmd := exec.Command(ampelBin, "sync", "--config", x.config)
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Run())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 15, out.String())
	require.True(t, strings.HasPrefix(lines[0], "ENVIRONMENT  TABLE"), lines[0])
	require.Regexp(t, `^sim +lead +full +ok +\d+`, lines[1])

	// a wrong secret: refused before any table starts
	x.markRuns()
	stdout, stderr, code := bad.exec("sync")
	require.Equal(t, exitFailed, code)
	requireOneLine(t, "sync", stderr, "environment sim: token request")
	require.Equal(t, 1, strings.Count(stderr, "AADSTS7000215"), stderr)
	require.Equal(t, 1, strings.Count(stdout, "AADSTS7000215"), "the summary says it once:\n%s", stdout)
	require.Contains(t, stdout, "error 1 (sim: all 14 tables): token request")
	require.Equal(t, 1, strings.Count(stdout, "  error 1\n"), "one row for the environment, not one per table:\n%s", stdout)
	require.Regexp(t, `(?m)^sim +all 14 tables +delta +failed +0 +0 +0 +0 +0 +0 +\S+ +error 1$`, stdout)
	for table, r := range bad.lastRuns() {
		require.Equal(t, "delta", r["mode"], "%s was due for a delta", table)
		require.Equal(t, "failed", r["status"], table)
	}

	// the Go memory limit: from sync.memory_budget_mb (twice the default
	// 64 MB and 32 MB), unless GOMEMLIMIT sets one; the sync says which
	// limit is in force, read back from the runtime
	_, stderr, _ = ampelWith(t, nil, "sync", "--config", bad.config, "--log-level", "debug")
	require.Regexp(t, `go memory limit.*mb=160\b`, stderr)
	_, stderr, _ = ampelWith(t, []string{"GOMEMLIMIT=300MiB"}, "sync", "--config", bad.config, "--log-level", "debug")
	require.Regexp(t, `go memory limit.*mb=300\b`, stderr)
	x.markRuns()

	// an exclude_columns typo: lead is refused before anything of it is
	// written; the other tables sync
	_, stderr, code = typo.exec("sync", "--full", "--log-level", "warn")
	require.Equal(t, exitFailed, code)
	// the log line of the failed table, then the command's line
	last := stderr[strings.LastIndex(strings.TrimSuffix(stderr, "\n"), "\n")+1:]
	requireOneLine(t, "sync", last, "environment sim: lead: exclude_columns: emailadress1 is not a column of lead (did you mean emailaddress1?)")
	runs := typo.lastRuns()
	require.Equal(t, "failed", runs["lead"]["status"])
	require.Equal(t, "full", runs["lead"]["mode"])
	require.Equal(t, "ok", runs["contact"]["status"])
	stdout, _, code = typo.exec("doctor")
	require.Equal(t, exitFailed, code)
	checks, _ := doctorChecks(t, stdout)
	require.Equal(t, [2]string{"FAIL", "exclude_columns: emailadress1 is not a column of lead (did you mean emailaddress1?)"}, checks["sim/lead"])
	require.Equal(t, "ok", checks["sim/contact"][0])
}

// TestIsTerminal: /dev/null is a character device but no terminal; a
// pseudo-terminal is one.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	require.False(t, isTerminal(null))
	file, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer file.Close()
	require.False(t, isTerminal(file))
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err)
	defer pty.Close()
	require.True(t, isTerminal(pty))
}

// TestSyncWrongURLOrAuthority: a new user's wrong url or authority fails
// with one line that keeps the cause and names the setting to fix, and the
// summary shows the environment's one failure as one row.
func TestSyncWrongURLOrAuthority(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 43, Scale: 100})
	url := x.withConfig("wrongurl", func(s string) string {
		return strings.Replace(s, "url: "+x.sim.URL(), "url: https://org.ampel.invalid", 1)
	})
	authority := x.withConfig("wrongauthority", func(s string) string {
		return strings.Replace(s, "authority: "+x.sim.Authority(), "authority: https://login.ampel.invalid/"+x.sim.TenantID(), 1)
	})
	x.ampel("migrate") // its log lines go before the tests
	stdout, stderr, code := url.exec("sync")
	require.Equal(t, exitFailed, code)
	requireOneLine(t, "sync", stderr, "environment sim: token request to "+x.sim.Authority()+" failed: AADSTS500011: The resource principal named https://org.ampel.invalid was not found")
	require.Contains(t, stderr, " — check url: Entra ID knows no Dataverse environment by that URL in this tenant")
	require.Regexp(t, `(?m)^sim +all 14 tables +full +failed +0 +0 +0 +0 +0 +0 +\S+ +error 1$`, stdout)

	_, stderr, code = authority.exec("sync")
	require.Equal(t, exitFailed, code)
	requireOneLine(t, "sync", stderr, "environment sim: token request to https://login.ampel.invalid/"+x.sim.TenantID()+
		" failed: lookup login.ampel.invalid: no such host — check authority: the host name does not resolve (leave authority out for https://login.microsoftonline.com/<tenant_id>)")
}
