package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// feedKey is the key the serve tests configure.
const feedKey = "feed-key-of-the-cmd-tests-0123456789"

// startDaemon starts an ampel command that runs until SIGTERM (run,
// serve) with the test's config, JSON logs and args, and follows its log.
func (x *e2e) startDaemon(command string, args ...string) *daemon {
	x.t.Helper()
	cmd := exec.Command(ampelBin, append([]string{command, "--config", x.config, "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(x.t, err)
	d := &daemon{t: x.t, cmd: cmd, exited: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	require.NoError(x.t, cmd.Start())
	go d.read(stderr)
	x.t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

// feedAddr waits for the "serving" line and returns the feed's URL.
func (d *daemon) feedAddr() string {
	d.t.Helper()
	var url string
	d.await("serving", time.Minute, func(lines []map[string]any) bool {
		for _, l := range lines {
			if l["msg"] == "serving" {
				url, _ = l["feed"].(string)
				return true
			}
		}
		return false
	})
	require.True(d.t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	return url
}

// fetch GETs url, with key as the Basic password unless it is "".
func fetch(t *testing.T, url, key string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.SetBasicAuth("powerbi", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// TestServe runs ampel serve on a synced warehouse: the feed needs the
// key, /healthz shows the environment's last sync, /metrics answers, the
// key is not in the log, and SIGTERM ends it with exit code 0.
func TestServe(t *testing.T) {
	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 31, Scale: 50})
	x.ampel("sync")
	x.appendConfig("serve:\n  keys:\n    - name: powerbi\n      key: " + feedKey + "\n")
	d := x.startDaemon("serve", "--addr", "127.0.0.1:0")
	feed := d.feedAddr()
	base := strings.TrimSuffix(feed, "/odata/")

	code, h, body := fetch(t, feed, feedKey)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []string{"4.0"}, h.Values("OData-Version"))
	require.Contains(t, body, `"@odata.context":"`+feed+`$metadata"`)
	code, h, _ = fetch(t, feed, "wrong-key")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, `Basic realm="Ampel", charset="UTF-8"`, h.Get("WWW-Authenticate"))
	code, _, body = fetch(t, feed+"$metadata", feedKey)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `<EntityContainer Name="Ampel">`)

	code, _, body = fetch(t, base+"/healthz", "")
	require.Equal(t, http.StatusOK, code, body)
	var health struct {
		Status       string
		Environments []struct {
			Name        string
			LastStatus  string    `json:"last_status"`
			LastSuccess time.Time `json:"last_success"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	require.Equal(t, "ok", health.Status)
	require.Len(t, health.Environments, 1)
	require.Equal(t, "sim", health.Environments[0].Name)
	require.Equal(t, "ok", health.Environments[0].LastStatus)
	require.WithinDuration(t, time.Now(), health.Environments[0].LastSuccess, 10*time.Minute)

	code, _, body = fetch(t, base+"/metrics", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `ampel_feed_requests_total{code="200",set=""} 2`)

	d.stop(30 * time.Second)
	require.NotContains(t, d.log(), feedKey)
	require.Contains(t, d.log(), `"key":"powerbi"`)
}

// TestRunServes: ampel run with serve.keys serves while it syncs, and
// /metrics shows each table's sync and the KPI and audit run times.
func TestRunServes(t *testing.T) {
	x := newE2E(t, "clickhouse", dvsim.Options{Seed: 32, Scale: 50})
	x.appendConfig("serve:\n  keys:\n    - name: ops\n      key: " + feedKey + "\nschedules:\n  - name: all\n    cron: \"@every 1h\"\n")
	d := x.startDaemon("run", "--addr", "127.0.0.1:0")
	feed := d.feedAddr()
	// the marts are published after the KPI run's time is recorded: once
	// they are, every figure below is in /metrics
	d.await("the first sync, its KPIs and the marts", 2*time.Minute, func(lines []map[string]any) bool {
		return countIn(lines, msgIs("marts published", "")) >= 1
	})
	base := strings.TrimSuffix(feed, "/odata/")
	code, _, body := fetch(t, base+"/metrics", "")
	require.Equal(t, http.StatusOK, code)
	leads := len(x.sim.Records("lead"))
	for _, want := range []string{
		`ampel_sync_rows_total{environment="sim",table="lead"} ` + strconv.Itoa(leads),
		`ampel_sync_last_success_timestamp_seconds{environment="sim",table="lead"} `,
		`ampel_sync_throttles_total{environment="sim",table="lead"} 0`,
		`ampel_sync_duration_seconds_count{environment="sim",table="lead"} 1`,
		`ampel_run_duration_seconds{job="kpi"} `,
		`ampel_run_duration_seconds{job="audit"} `,
	} {
		require.Contains(t, body, want)
	}
	code, _, _ = fetch(t, feed, feedKey)
	require.Equal(t, http.StatusOK, code)
	d.stop(30 * time.Second)
}

// startDemo starts ampel demo and waits for the feed's URL and key.
func startDemo(t *testing.T, args ...string) (cmd *exec.Cmd, feed, key string, stdout *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(ampelBin, append([]string{"demo"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	stdout = &bytes.Buffer{}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(3 * time.Minute)
	for key == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("ampel demo ended before serving:\n%s\nstderr: %s", stdout, stderr.String())
			}
			stdout.WriteString(line + "\n")
			if rest, ok := strings.CutPrefix(line, "OData feed: "); ok {
				feed = rest
			}
			if rest, ok := strings.CutPrefix(line, "demo key: "); ok {
				key, _, _ = strings.Cut(rest, " ")
			}
		case <-timeout:
			t.Fatalf("ampel demo did not serve in 3 minutes:\n%s\nstderr: %s", stdout, stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()
	return cmd, feed, key, stdout
}

// stopDemo sends SIGTERM and requires exit code 0.
func stopDemo(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait())
}

// TestSQLThroughRunningProcess: while ampel serve holds an embedded
// warehouse, ampel sql reads through it (the local endpoint) with the same
// read-only refusals; once it stopped, ampel sql opens the warehouse
// itself again.
func TestSQLThroughRunningProcess(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 33, Scale: 40})
	x.ampel("sync")
	leads := strconv.Itoa(len(x.sim.Records("lead")))
	x.appendConfig("serve:\n  keys:\n    - name: powerbi\n      key: " + feedKey + "\n")
	d := x.startDaemon("serve", "--addr", "127.0.0.1:0")
	d.feedAddr()
	d.await("the local endpoint", time.Minute, func(lines []map[string]any) bool {
		return countIn(lines, msgIs("local endpoint", "")) == 1
	})

	out, errOut, code := runAmpel(t, "sql", "--config", x.config, "SELECT count() AS n FROM lead")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "n\n"+leads+"\n", out)
	out, errOut, code = runAmpel(t, "sql", "--config", x.config, "--format", "json", "SELECT count() AS n FROM lead")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `[{"n":`+leads+`}]`, out)
	_, errOut, code = runAmpel(t, "sql", "--config", x.config, "SELECT file('/etc/passwd')")
	require.Equal(t, 1, code)
	require.Equal(t, "ampel sql: refused: file() reads files; ampel sql reads the warehouse's tables only\n", errOut)
	_, errOut, code = runAmpel(t, "sql", "--config", x.config, "SELECT 1 FORMAT JSON")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "refused: a FORMAT clause; ampel sql chooses the output format")

	d.stop(30 * time.Second)
	out, errOut, code = runAmpel(t, "sql", "--config", x.config, "SELECT count() AS n FROM lead")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "n\n"+leads+"\n", out)
}

// TestKeptReads: the feed's kept statements never take more than half the
// warehouse's connections.
func TestKeptReads(t *testing.T) {
	for conns, want := range map[int]int{1: -1, 2: 1, 3: 1, 8: 4, 64: 4} {
		require.Equal(t, want, keptReads(conns), "max_conns %d", conns)
	}
}
