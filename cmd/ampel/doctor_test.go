package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector/dvsim"
)

// withConfig returns x with a copy of its config file, edited by edit.
func (x *e2e) withConfig(name string, edit func(string) string) *e2e {
	x.t.Helper()
	data, err := os.ReadFile(x.config)
	require.NoError(x.t, err)
	text := edit(string(data))
	require.NotEqual(x.t, string(data), text, "the edit changed the config")
	file := filepath.Join(filepath.Dir(x.config), name+".yaml")
	require.NoError(x.t, os.WriteFile(file, []byte(text), 0o600))
	y := *x
	y.config = file
	return &y
}

// exec runs ampel and returns stdout, stderr and the exit code.
func (x *e2e) exec(args ...string) (stdout, stderr string, code int) {
	x.t.Helper()
	stdout, stderr, err := x.run(context.Background(), args...)
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(x.t, ok, "run ampel: %v", err)
		code = ee.ExitCode()
	}
	return stdout, stderr, code
}

var doctorLine = regexp.MustCompile(`^(ok|warn|FAIL)  +(\S.*?)  +(\S.*)$`)

// doctorChecks parses doctor's output: check name → status and detail. It
// requires every line but the summary (printed when no check failed) to be
// a check line.
func doctorChecks(t *testing.T, out string) (checks map[string][2]string, summary string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	if last := lines[len(lines)-1]; !doctorLine.MatchString(last) {
		summary, lines = last, lines[:len(lines)-1]
	}
	checks = map[string][2]string{}
	for _, l := range lines {
		m := doctorLine.FindStringSubmatch(l)
		require.NotNil(t, m, "not a check line: %q\n%s", l, out)
		_, dup := checks[m[2]]
		require.False(t, dup, "check %q twice\n%s", m[2], out)
		checks[m[2]] = [2]string{m[1], m[3]}
	}
	return checks, summary
}

func TestDoctorAllOK(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 31, Scale: 100})
			// before migrate: the pending migrations are a warning, not a failure
			out, errOut, code := x.exec("doctor")
			require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut, out)
			checks, _ := doctorChecks(t, out)
			require.Equal(t, "warn", checks["migrations"][0], out)
			require.Contains(t, checks["migrations"][1], "ampel migrate")

			x.ampel("migrate")
			out, errOut, code = x.exec("doctor")
			require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errOut, out)
			require.Empty(t, errOut)
			checks, summary := doctorChecks(t, out)
			want := []string{"warehouse", "migrations", "sim: token and app user"}
			for _, table := range config.DefaultTables {
				want = append(want, "sim/"+table)
			}
			require.ElementsMatch(t, want, keys(checks), out)
			for name, c := range checks {
				require.Equal(t, "ok", c[0], "%s: %s", name, c[1])
			}
			require.Contains(t, checks["sim/lead"][1], "change tracking on")
			require.Contains(t, checks["sim: token and app user"][1], x.sim.URL())
			require.Equal(t, "all 17 checks passed", summary)
			require.NotContains(t, out, x.sim.ClientSecret())
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDoctorChangeTrackingOff(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 32, Scale: 100, Faults: dvsim.Faults{NoChangeTracking: []string{"incident"}}})
	x.ampel("migrate")
	out, errOut, code := x.exec("doctor")
	require.Equal(t, 0, code, "a warning is no failure; stderr: %s\nstdout: %s", errOut, out)
	checks, summary := doctorChecks(t, out)
	require.Equal(t, "warn", checks["sim/incident"][0], out)
	require.Contains(t, checks["sim/incident"][1], "deletes found by reading every key")
	require.Contains(t, checks["sim/incident"][1], "Track changes")
	for name, c := range checks {
		if name != "sim/incident" {
			require.Equal(t, "ok", c[0], "%s: %s", name, c[1])
		}
	}
	require.Equal(t, "all 17 checks passed, 1 with a warning", summary)
}

// TestDoctorAuthFailures: each way the app can be refused gives doctor and
// sync the same one-line error that names what to fix, a different one for
// each, with no secret in the output.
func TestDoctorAuthFailures(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 33, Scale: 100})
	x.ampel("migrate")
	secret := x.sim.ClientSecret()
	const wrongSecret = "wrong~secret~0123456789abcdef"
	wrongTenant := "6b1b4c6e-0000-4000-8000-00000000dead"
	cases := []struct {
		name   string
		setup  func() *e2e
		faults dvsim.Faults
		check  string // the doctor check that fails
		want   []string
	}{
		{
			name: "wrong secret",
			setup: func() *e2e {
				return x.withConfig("wrong-secret", func(s string) string { return strings.ReplaceAll(s, secret, wrongSecret) })
			},
			check: "sim: token and app user",
			want:  []string{"AADSTS7000215", "client secret", "create a new one"},
		},
		{
			name: "unknown tenant",
			setup: func() *e2e {
				return x.withConfig("wrong-tenant", func(s string) string { return strings.ReplaceAll(s, x.sim.TenantID(), wrongTenant) })
			},
			check: "sim: token and app user",
			want:  []string{"AADSTS90002", wrongTenant, "tenant ID is wrong"},
		},
		{
			name:   "no application user",
			setup:  func() *e2e { return x },
			faults: dvsim.Faults{NoAppUser: true},
			check:  "sim: token and app user",
			want:   []string{"0x80072560", "not a member of the organization", "application user of this environment"},
		},
		{
			name:   "no read privilege",
			setup:  func() *e2e { return x },
			faults: dvsim.Faults{NoReadPrivilege: []string{"lead"}},
			check:  "sim/lead",
			want:   []string{"0x80040220", "prvReadLead", "organization-level Read on leads"},
		},
	}
	seen := map[string]string{} // stderr line → case
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.setup()
			y.t = t
			x.sim.SetFaults(tc.faults)
			defer x.sim.SetFaults(dvsim.Faults{})

			out, errOut, code := y.exec("doctor")
			require.Equal(t, 1, code, "stderr: %s\nstdout: %s", errOut, out)
			checks, _ := doctorChecks(t, out)
			require.Equal(t, "FAIL", checks[tc.check][0], out)
			failed := 0
			for name, c := range checks {
				if c[0] == "FAIL" {
					failed++
					require.Equal(t, tc.check, name, "only %s fails\n%s", tc.check, out)
				}
			}
			require.Equal(t, 1, failed)
			detail := checks[tc.check][1]
			for _, w := range tc.want {
				require.Contains(t, detail, w)
			}
			// stderr: one line that carries the failure
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line on stderr: %q", errOut)
			require.True(t, strings.HasPrefix(errOut, "ampel doctor: "), errOut)
			require.Contains(t, errOut, detail)
			prev, dup := seen[detail]
			require.False(t, dup, "%s gives the same message as %s: %s", tc.name, prev, detail)
			seen[detail] = tc.name

			// sync meets the same refusal and says the same
			y.markRuns()
			sout, serr, scode := y.exec("sync")
			require.Equal(t, 1, scode, "stderr: %s\nstdout: %s", serr, sout)
			// (after the log lines) the last line of stderr is the error
			lines := strings.Split(strings.TrimSuffix(serr, "\n"), "\n")
			last := lines[len(lines)-1]
			require.True(t, strings.HasPrefix(last, "ampel sync: "), serr)
			require.Equal(t, 1, strings.Count(last, detail), "said once: %s", last)
			// and sync_runs says it for every table
			runs := y.lastRuns()
			require.Len(t, runs, len(config.DefaultTables))
			for table, r := range runs {
				if tc.check == "sim/lead" && table != "lead" {
					require.Equal(t, "ok", r["status"], table)
					continue
				}
				require.Equal(t, "failed", r["status"], table)
				require.Contains(t, r["error"], detail, table)
			}

			for _, s := range []string{secret, wrongSecret} {
				for _, text := range []string{out, errOut, sout, serr} {
					require.NotContains(t, text, s, "a secret in the output")
				}
			}
		})
	}
	require.Len(t, seen, len(cases))
}
