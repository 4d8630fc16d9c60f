package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/serve"
)

// runID and took match the run ids and durations the commands print,
// which differ from one warehouse to the other.
var (
	runID = regexp.MustCompile(`run [0-9a-zA-Z-]{8,}`)
	took  = regexp.MustCompile(` in [0-9.]+(ns|µs|ms|s|m[0-9.]+s)\b`)
)

// TestCommandsThroughRunningProcess: while ampel serve holds an embedded
// warehouse, ampel kpi, audit and score run through it (the local
// endpoint) as separate processes, and print what they print on a twin
// warehouse they open themselves, with the same exit codes; a command
// line the running process does not take is refused with one line.
func TestCommandsThroughRunningProcess(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 35, Scale: 40})
	// the twin: a second warehouse synced from the same simulator, on which
	// every command runs alone
	// (beside the first: the config names files there)
	dir := filepath.Dir(x.config)
	twin := filepath.Join(dir, "twin.yaml")
	data, err := os.ReadFile(x.config)
	require.NoError(t, err)
	text := strings.Replace(string(data), filepath.Join(dir, "warehouse"), filepath.Join(dir, "twin-warehouse"), 1)
	require.NoError(t, os.WriteFile(twin, []byte(text), 0o600))
	x.ampel("sync")
	_, errOut, code := runAmpel(t, "sync", "--config", twin)
	require.Equal(t, 0, code, errOut)

	// the finding to review: ids are hashes of rule, record and field, the
	// same in both warehouses
	commands := [][]string{
		{"kpi", "run", "--as-of", "2026-11-30"},
		{"kpi", "list"},
		{"audit", "--as-of", "2026-11-30"},
		{"review"}, // audit review of the first finding, filled in below
		{"score", "run", "--as-of", "2026-11-30"},
		{"score", "list"},
		{"kpi", "show", "no_such_kpi"},
		{"kpi", "run", "--as-of", "2026-11-30", "--fail-on", "red"},
	}
	// the exit codes alone: 0 but for these
	codes := []int{0, 0, 0, 0, 0, 0, exitUsage, exitKPIGate}
	type result struct {
		out  string
		errs string
		code int
	}
	runAll := func(config string) []result {
		var rs []result
		for _, c := range commands {
			if c[0] == "review" {
				id, errOut, code := runAmpel(t, "sql", "--config", config, "--format", "csv",
					"SELECT finding_id FROM dq_findings ORDER BY finding_id LIMIT 1")
				require.Equal(t, 0, code, errOut)
				id = strings.TrimSpace(strings.TrimPrefix(id, "finding_id\n"))
				require.NotEmpty(t, id)
				c = []string{"audit", "review", id, "--mark", "reviewed", "--by", "tester"}
			}
			args := append(append(c[:1:1], "--config", config), c[1:]...)
			out, errOut, code := runAmpel(t, args...)
			r := result{out: took.ReplaceAllString(runID.ReplaceAllString(out, "run ID"), " in D"), code: code}
			if code != 0 {
				r.errs = lastLine(errOut) // the error line; the rest is the log
			}
			rs = append(rs, r)
		}
		return rs
	}
	alone := runAll(twin)
	for i, r := range alone {
		require.Equal(t, codes[i], r.code, "%v alone: %s", commands[i], r.errs)
	}
	require.Contains(t, alone[2].out, "FINDING") // the findings table
	require.Contains(t, alone[3].out, "marked finding ")
	require.Contains(t, alone[6].errs, "no_such_kpi")

	x.appendConfig("serve:\n  keys:\n    - name: powerbi\n      key: " + feedKey + "\n")
	d := x.startDaemon("serve", "--addr", "127.0.0.1:0")
	d.feedAddr()
	d.await("the local endpoint", time.Minute, func(lines []map[string]any) bool {
		return countIn(lines, msgIs("local endpoint", "")) == 1
	})
	through := runAll(x.config)
	for i := range commands {
		require.Equal(t, alone[i], through[i], "%v through the running process", commands[i])
	}
	// they ran in the serving process, not here
	require.Equal(t, len(commands), d.count(msgIs("local command", "")), d.log())

	// ampel doctor checks the warehouse through the serving process (it
	// would wait for the engine's lock and fail) and the environments
	// itself: the same checks as on the twin alone
	out, errOut, code := runAmpel(t, "doctor", "--config", twin)
	require.Equal(t, 0, code, errOut)
	aloneChecks, aloneSummary := doctorChecks(t, out)
	out, errOut, code = runAmpel(t, "doctor", "--config", x.config)
	require.Equal(t, 0, code, errOut)
	throughChecks, throughSummary := doctorChecks(t, out)
	require.Equal(t, aloneSummary, throughSummary)
	require.ElementsMatch(t, keys(aloneChecks), keys(throughChecks), out)
	for name, c := range throughChecks {
		require.Equal(t, aloneChecks[name][0], c[0], "%s: %s", name, c[1])
		if name == "warehouse" {
			require.True(t, strings.HasSuffix(c[1], heldBy), c[1])
			require.True(t, strings.HasPrefix(aloneChecks[name][1], strings.TrimSuffix(c[1], heldBy)+" ("), "%s against %s", c[1], aloneChecks[name][1])
			continue
		}
		require.Equal(t, aloneChecks[name][1], c[1], name)
	}
	require.Equal(t, len(commands)+1, d.count(msgIs("local command", "")), d.log())

	// a command that needs the warehouse to itself is refused at once,
	// with what to do, not after waiting for the engine's lock (whose
	// error says "waited 10s")
	for _, cmd := range []string{"migrate", "sync"} {
		_, errOut, code = runAmpel(t, cmd, "--config", x.config)
		require.Equal(t, 1, code, errOut)
		requireOneLine(t, cmd, lastLine(errOut)+"\n", "open embedded warehouse: the warehouse is in use by another process: a running ampel run, serve or demo holds "+
			filepath.Join(dir, "warehouse")+"; stop it first (ampel sql, kpi, audit, score and doctor run through it meanwhile)")
	}

	// a flag the running process does not take is refused with one line
	_, errOut, code = runAmpel(t, "audit", "--config", x.config, "--out", filepath.Join(t.TempDir(), "f.csv"))
	require.Equal(t, exitUsage, code)
	require.Equal(t, "ampel: refused by the running process: --out is not taken by ampel audit sent to the running process (it runs on its own config and writes to you)\n", errOut)

	// and so is any command line not on the allow-list, sent by any client
	socket := filepath.Join(dir, "warehouse", serve.LocalSocket)
	for _, args := range [][]string{
		{"sql", "SELECT 1"},
		{"kpi", "release", "lead_conversion@v1"},
		{"kpi", "run", "--config", "/etc/other.yaml"},
		{"audit", "import-rules", "--dir", "/tmp"},
		{"score", "run", "--data", "/tmp"},
		{"migrate"},
		{"doctor"},
		{"doctor", "warehouse", "--config", "/etc/other.yaml"},
	} {
		var out, errs bytes.Buffer
		code, err := serve.LocalRun(context.Background(), socket, args, &out, &errs)
		require.NoError(t, err)
		require.Equal(t, exitUsage, code, "%v", args)
		require.Empty(t, out.String())
		require.Equal(t, 1, strings.Count(errs.String(), "\n"), errs.String())
		require.True(t, strings.HasPrefix(errs.String(), "ampel: refused by the running process: "), errs.String())
	}

	d.stop(30 * time.Second)
	var errs bytes.Buffer
	_, err = serve.LocalRun(context.Background(), socket, []string{"kpi", "list"}, &errs, &errs)
	require.ErrorIs(t, err, serve.ErrNoLocal)
}

// lastLine is the last line of s, without its newline.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestSplitLocal: the allow-list of command lines the running process runs.
func TestSplitLocal(t *testing.T) {
	for _, c := range []struct {
		args     []string
		ok, here bool // here: the command runs in the calling process
	}{
		{[]string{"kpi", "run", "--kpi", "a,b", "--fail-on=red", "--as-of", "2026-11-30"}, true, false},
		{[]string{"kpi", "--log-level", "debug", "list"}, true, false},
		{[]string{"kpi", "show", "lead_conversion@v1"}, true, false},
		{[]string{"kpi", "show", "a", "b"}, false, false},
		{[]string{"kpi", "release", "a@v2"}, false, true},
		{[]string{"kpi"}, false, true},
		{[]string{"kpi", "run", "--config", "other.yaml"}, false, false},
		{[]string{"kpi", "run", "--kpi"}, false, false},
		{[]string{"audit"}, true, false},
		{[]string{"audit", "--format", "json", "--rule", "x"}, true, false},
		{[]string{"audit", "--out", "f"}, false, false},
		{[]string{"audit", "review", "abc", "--mark", "reviewed", "--comment", "fine", "--by", "me"}, true, false},
		{[]string{"audit", "import-rules"}, false, true},
		{[]string{"score", "run", "--model", "m@v1"}, true, false},
		{[]string{"score", "release", "m@v1", "--dir", "d"}, false, true},
		{[]string{"sql", "SELECT 1"}, false, true},
		{[]string{"run"}, false, true},
	} {
		_, err := splitLocal(c.args)
		require.Equal(t, c.ok, err == nil, "%v: %v", c.args, err)
		var nl notLocal
		require.Equal(t, c.here, errors.As(err, &nl), "%v: %v", c.args, err)
	}
}
