package connector_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/odata"
	"github.com/ampel/ampel/warehouse"
)

// envSimChild makes the test binary serve a simulator instead of running
// tests (see TestMain): the benchmarks below start one in its own process,
// as a remote Dataverse is, so the sync's CPU is measured apart from the
// source's.
const envSimChild = "AMPEL_BENCH_DVSIM"

// simChildOptions are the simulator's options on the wire to the child.
type simChildOptions struct {
	Seed     int64          `json:"seed"`
	Scale    int            `json:"scale"`
	Faults   dvsim.Faults   `json:"faults"`
	Throttle dvsim.Throttle `json:"throttle"`
}

// simChildInfo is what the child tells the parent: where it is and how
// to get in.
type simChildInfo struct {
	URL, Authority, TenantID, ClientID, ClientSecret string
	CAPEM                                            []byte
}

// serveSimChild runs in the child: it starts the simulator, writes its
// info as one JSON line to stdout and serves until stdin closes (the
// parent ended or stopped it).
func serveSimChild(spec string) int {
	var o simChildOptions
	if err := json.Unmarshal([]byte(spec), &o); err != nil {
		fmt.Fprintln(os.Stderr, "dvsim child:", err)
		return 2
	}
	sim, err := dvsim.Start(dvsim.Options{Seed: o.Seed, Scale: o.Scale, Faults: o.Faults, Throttle: o.Throttle})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dvsim child:", err)
		return 2
	}
	defer sim.Close()
	b, _ := json.Marshal(simChildInfo{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), CAPEM: sim.CACertPEM()})
	fmt.Println(string(b))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// remoteSim is a simulator in a child process, driven over HTTP.
type remoteSim struct {
	info simChildInfo
	http *http.Client
	pid  int
}

// startRemoteSim starts the child and waits for its info line.
func startRemoteSim(tb testing.TB, o simChildOptions) *remoteSim {
	tb.Helper()
	spec, err := json.Marshal(o)
	require.NoError(tb, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSimChild+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(tb, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(tb, err)
	require.NoError(tb, cmd.Start())
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	require.NoError(tb, err, "the simulator process said nothing")
	r := &remoteSim{pid: cmd.Process.Pid}
	require.NoError(tb, json.Unmarshal(line, &r.info))
	pool := x509.NewCertPool()
	require.True(tb, pool.AppendCertsFromPEM(r.info.CAPEM))
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 64
	r.http = &http.Client{Transport: tr}
	return r
}

// environment is a Runner's environment for the remote simulator.
func (r *remoteSim) environment(name string, pageSize int) connector.Environment {
	return connector.Environment{Name: name, Client: dataverse.Config{URL: r.info.URL, Authority: r.info.Authority,
		TenantID: r.info.TenantID, ClientID: r.info.ClientID, ClientSecret: r.info.ClientSecret, HTTPClient: r.http, PageSize: pageSize}}
}

// control calls a /_sim endpoint and decodes its answer into v (if not nil).
func (r *remoteSim) control(tb testing.TB, method, path string, v any) {
	tb.Helper()
	req, err := http.NewRequest(method, r.info.URL+path, nil)
	require.NoError(tb, err)
	resp, err := r.http.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Less(tb, resp.StatusCode, 300, "%s %s: %s", method, path, body)
	if v != nil {
		require.NoError(tb, json.Unmarshal(body, v), string(body))
	}
}

// cpu is the simulator process's user+system CPU time so far (its
// /proc/<pid>/stat, in clock ticks of 1/100 s: what Linux reports).
func (r *remoteSim) cpu(tb testing.TB) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.pid))
	require.NoError(tb, err)
	// the fields after the command's name in parentheses; utime and
	// stime are the 14th and 15th of the line
	_, rest, ok := strings.Cut(string(b), ") ")
	require.True(tb, ok, "unexpected /proc stat line %q", b)
	f := strings.Fields(rest)
	require.Greater(tb, len(f), 12)
	var ut, st int64
	_, err = fmt.Sscan(f[11]+" "+f[12], &ut, &st)
	require.NoError(tb, err)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (r *remoteSim) stats(tb testing.TB) dvsim.Stats {
	var s dvsim.Stats
	r.control(tb, http.MethodGet, "/_sim/stats", &s)
	return s
}

// peerSync is the hand-written single-threaded peer Ampel is compared
// with: get a token, then page every table in turn (all columns, 5000 rows
// a page, following @odata.nextLink) and insert each page as JSON rows,
// one INSERT per page, into a table with one String column. It knows the
// entity sets beforehand, as a script written for one organisation does.
func peerSync(tb testing.TB, r *remoteSim, st warehouse.Store, sets []string) (rows int) {
	tb.Helper()
	ctx := context.Background()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {r.info.ClientID},
		"client_secret": {r.info.ClientSecret}, "scope": {r.info.URL + "/.default"}}
	resp, err := r.http.PostForm(strings.TrimRight(r.info.Authority, "/")+"/oauth2/v2.0/token", form)
	require.NoError(tb, err)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(tb, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	require.NotEmpty(tb, tok.AccessToken)
	for _, set := range sets {
		table := "peer_" + set
		require.NoError(tb, st.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (doc String) ENGINE = MergeTree ORDER BY tuple()"))
		next := r.info.URL + dataverse.APIPath + set
		for next != "" {
			req, err := http.NewRequest(http.MethodGet, next, nil)
			require.NoError(tb, err)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Accept", "application/json")
			req.Header.Set(odata.HeaderPrefer, "odata.maxpagesize=5000")
			resp, err := r.http.Do(req)
			require.NoError(tb, err)
			var page struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			}
			require.NoError(tb, json.NewDecoder(resp.Body).Decode(&page))
			resp.Body.Close()
			b, err := st.PrepareInsert(ctx, table, []string{"doc"})
			require.NoError(tb, err)
			for _, rec := range page.Value {
				require.NoError(tb, b.Append(string(bytes.TrimSpace(rec))))
			}
			require.NoError(tb, b.Send(ctx))
			rows += len(page.Value)
			next = page.NextLink
		}
	}
	return rows
}

// BenchmarkRemoteSync models a remote Dataverse: the simulator runs in
// its own process and answers each request after a latency. At one scale
// (AMPEL_BENCH_LEADS, 20k leads by default, 2k with -short; about 90k rows
// over the 14 tables at 20k) and in one run it measures:
//
//   - peer:    the hand-written single-threaded script (peerSync) at 250 ms;
//   - cold:    a first ampel sync (a new Runner: WhoAmI, metadata, pages)
//     at 250 ms, and its speed-up over the peer;
//   - oneshot: after a 1 % mutate, a sync with a new Runner (a new process
//     starts with the warehouse's metadata cache), beside the cold sync's
//     time, and its requests per table — right after the cold sync,
//     whatever phase its tables are in (a), and in the steady state (b):
//     after the syncs that end every table's tracked read, and one more
//     1 % mutate;
//   - latency100: a cold sync at 100 ms;
//   - latency500: a cold sync at 500 ms beside issue 17's bound
//     (latencyBound): the lesser of the requests that can be in flight
//     (max_concurrency ÷ latency × rows per page) and the slower of
//     decode-only and insert-only of the same pages in the same run;
//   - limits: a cold sync at 250 ms with 1000-row pages under a request
//     limit (60 per 20 s, 52 concurrent), beside the least time the
//     limit allows for its requests; 0 failed tables.
//
// With AMPEL_BENCH_COLD_ONLY set it stops after the cold sync (peer and
// cold only): what a change to the first load's speed needs; with
// AMPEL_BENCH_LATENCY_ONLY set it measures latency500 alone. With
// AMPEL_BENCH_TIMELINE=<file> the cold sync writes its timeline there
// (timeline_bench_test.go): where it waits.
func BenchmarkRemoteSync(b *testing.B) {
	scale := benchLeads(b, 20_000, 2_000)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if os.Getenv("AMPEL_BENCH_LATENCY_ONLY") != "" {
			t500, rows500, bound := latencyBound(b, scale)
			b.Logf("scale %d leads: 500 ms: %d rows in %.1fs, %.0f rows/s: %.2f of the bound %.0f rows/s (in flight %.0f, decode-only %.0f, insert-only %.0f)",
				scale, rows500, t500.Seconds(), float64(rows500)/t500.Seconds(), float64(rows500)/t500.Seconds()/bound.rate(),
				bound.rate(), bound.requests, bound.decode.rate(), bound.insert.rate())
			continue
		}
		lat := 250 * time.Millisecond
		sim := startRemoteSim(b, simChildOptions{Seed: 3, Scale: scale, Faults: dvsim.Faults{Latency: lat}})
		// the peer knows the entity sets beforehand (not timed)
		c, err := dataverse.New(ctx, sim.environment("peer", 0).Client)
		require.NoError(b, err)
		var names, sets []string
		for _, t := range tableList() {
			names = append(names, t.Name)
		}
		md, err := c.EntityDefinitions(ctx, names, nil)
		require.NoError(b, err)
		for _, n := range names {
			sets = append(sets, md.Entities[n].EntitySetName)
		}

		st := openStore(b)
		start := time.Now()
		var peerRows int
		labeled("peer", func() { peerRows = peerSync(b, sim, st, sets) })
		peerTime := time.Since(start)

		sync := func(st warehouse.Store, env connector.Environment) (time.Duration, []connector.TableResult) {
			// as the binary syncs: large tables' first loads in ranges
			r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{env}, ParallelRanges: connector.DefaultParallelRanges})
			start := time.Now()
			res, err := r.Sync(ctx, connector.Request{Tables: tableList()})
			require.NoError(b, err)
			return time.Since(start), res
		}
		cold := func(st warehouse.Store, env connector.Environment) (time.Duration, []connector.TableResult) {
			path := os.Getenv("AMPEL_BENCH_TIMELINE")
			if path == "" {
				return sync(st, env)
			}
			// the cold sync with every request, INSERT and statement
			// recorded, and both processes' CPU sampled
			tl := newTimeline()
			hc := *env.Client.HTTPClient
			hc.Transport = tl.transport(hc.Transport)
			env.Client.HTTPClient = &hc
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() { defer close(sampled); tl.sampleCPU(b, sim, stop) }()
			r := connector.NewRunner(connector.RunnerConfig{Store: timedStore{Store: st, t: tl}, Environments: []connector.Environment{env},
				ParallelRanges: connector.DefaultParallelRanges})
			start := time.Now()
			res, err := r.Sync(ctx, connector.Request{Tables: tableList(), Progress: timelineProgress{t: tl}})
			took := time.Since(start)
			close(stop)
			<-sampled
			require.NoError(b, err)
			tl.add(time.Now(), "end", "", "", took)
			tl.write(b, path)
			return took, res
		}
		rowsOf := func(res []connector.TableResult) (n uint64) {
			for _, x := range res {
				require.Equal(b, connector.StatusOK, x.Status, x.Table)
				n += x.Upserted
			}
			return n
		}
		st = openStore(b)
		var coldTime time.Duration
		var res []connector.TableResult
		// pprof label phase=cold (-cpuprofile, go tool pprof -tagfocus)
		labeled("cold", func() { coldTime, res = cold(st, sim.environment("bench", 0)) })
		coldRows := rowsOf(res)
		b.ReportMetric(float64(peerRows)/peerTime.Seconds(), "peer_rows/s")
		b.ReportMetric(float64(coldRows)/coldTime.Seconds(), "cold_rows/s")
		b.ReportMetric(peerTime.Seconds()/coldTime.Seconds(), "cold_speedup_vs_peer")
		if os.Getenv("AMPEL_BENCH_COLD_ONLY") != "" {
			b.Logf("scale %d leads: peer %d rows in %.1fs; cold %d rows in %.1fs", scale, peerRows, peerTime.Seconds(), coldRows, coldTime.Seconds())
			continue
		}

		sim.control(b, http.MethodPost, fmt.Sprintf("/_sim/mutate?creates=%d&updates=%d&deletes=%d", scale/300, scale/300, scale/300), nil)
		before := sim.stats(b)
		deltaTime, res := sync(st, sim.environment("bench", 0))
		rowsOf(res)
		after := sim.stats(b)
		b.ReportMetric(deltaTime.Seconds()/coldTime.Seconds(), "oneshot_delta/cold_time")
		b.ReportMetric(float64(after.Requests-before.Requests)/float64(len(res)), "oneshot_requests/table")

		b.Logf("scale %d leads: peer %d rows in %.1fs; cold %d rows in %.1fs; one-shot delta %.2fs, %d requests %v",
			scale, peerRows, peerTime.Seconds(), coldRows, coldTime.Seconds(), deltaTime.Seconds(), after.Requests-before.Requests, diffKinds(before, after))

		// the steady state: syncs until no table's tracked read goes on,
		// then the one-shot again
		syncs := 0
		for last := syncOnce(b, sim, st); tracking(last); last = syncOnce(b, sim, st) {
			syncs++
			require.Less(b, syncs, 200, "the tracked reads did not end")
		}
		sim.control(b, http.MethodPost, fmt.Sprintf("/_sim/mutate?creates=%d&updates=%d&deletes=%d", scale/300, scale/300, scale/300), nil)
		before = sim.stats(b)
		steady := syncOnce(b, sim, st)
		after = sim.stats(b)
		b.ReportMetric(steady.took.Seconds()/coldTime.Seconds(), "oneshot_steady/cold_time")
		b.ReportMetric(float64(steady.requests)/float64(len(steady.res)), "oneshot_steady_requests/table")
		b.ReportMetric(steady.ownPerUnchanged(), "oneshot_steady_requests/unchanged_table")
		b.Logf("steady state (after %d more syncs): one-shot delta %.2fs, %d requests %v; %d unchanged tables with %.2f requests each",
			syncs+1, steady.took.Seconds(), steady.requests, diffKinds(before, after), steady.unchanged, steady.ownPerUnchanged())

		fast := startRemoteSim(b, simChildOptions{Seed: 3, Scale: scale, Faults: dvsim.Faults{Latency: 100 * time.Millisecond}})
		t100, res := sync(openStore(b), fast.environment("bench", 0))
		b.ReportMetric(float64(rowsOf(res))/t100.Seconds(), "latency100_rows/s")

		t500, rows500, bound := latencyBound(b, scale)

		const limReq, limWindow, page = 60, 20 * time.Second, 1000
		limited := startRemoteSim(b, simChildOptions{Seed: 3, Scale: scale, Faults: dvsim.Faults{Latency: 250 * time.Millisecond},
			Throttle: dvsim.Throttle{Requests: limReq, Window: limWindow, Concurrent: 52}})
		tl, res := sync(openStore(b), limited.environment("bench", page))
		rowsL := rowsOf(res)
		ls := limited.stats(b)
		// a sliding window lets no more than limReq requests start in any
		// window: m admitted requests need at least floor((m-1)/limReq)
		// windows (for many windows that is the bound, allowed
		// requests per second × rows per page)
		admitted := ls.Requests - ls.Throttled
		boundTime := float64((admitted-1)/limReq) * limWindow.Seconds()
		b.ReportMetric(float64(rowsL)/tl.Seconds(), "limits_rows/s")
		if boundTime > 0 {
			b.ReportMetric(boundTime/tl.Seconds(), "limits/bound")
		}
		b.Logf("100 ms: %.1fs; 500 ms: %d rows in %.1fs (bound %.0f rows/s, in flight %.0f, decode %.0f, insert %.0f); limits %d/%s: %d rows in %.1fs, %d requests, %d answered 429, peak %d in flight (bound time %.1fs)",
			t100.Seconds(), rows500, t500.Seconds(), bound.rate(), bound.requests, bound.decode.rate(), bound.insert.rate(), limReq, limWindow, rowsL, tl.Seconds(), ls.Requests, ls.Throttled, ls.PeakInFlight, boundTime)
	}
}

// syncBound is issue 17's bound of a cold sync when latency binds: the
// lesser of the rows the requests in flight can bring (requests, rows/s)
// and the slower of decode-only and insert-only of the same pages.
type syncBound struct {
	requests       float64
	decode, insert benchPhase
}

func (sb syncBound) rate() float64 { return min(sb.requests, sb.decode.rate(), sb.insert.rate()) }

// latencyBound syncs every table of tableList at scale leads from a
// simulator in its own process that answers in 500 ms, as the binary
// does (parallel_ranges 8), into a new warehouse; then it measures the
// bound in the same run: decode-only and insert-only (BenchmarkSync's
// baselines) of the same pages from a simulator without latency. It
// reports latency500_rows/s, the bound's parts and latency500/bound (the
// issue's target: at least 0.8).
func latencyBound(b *testing.B, scale int) (time.Duration, uint64, syncBound) {
	b.Helper()
	const lat = 500 * time.Millisecond
	slow := startRemoteSim(b, simChildOptions{Seed: 3, Scale: scale, Faults: dvsim.Faults{Latency: lat}})
	r := connector.NewRunner(connector.RunnerConfig{Store: openStore(b), Environments: []connector.Environment{slow.environment("bench", 0)},
		ParallelRanges: connector.DefaultParallelRanges})
	start := time.Now()
	res, err := r.Sync(context.Background(), connector.Request{Tables: tableList()})
	took := time.Since(start)
	require.NoError(b, err)
	var rows uint64
	for _, x := range res {
		require.Equal(b, connector.StatusOK, x.Status, x.Table)
		rows += x.Upserted
	}
	bl := newBaselines(b, startRemoteSim(b, simChildOptions{Seed: 3, Scale: scale}))
	bound := syncBound{requests: float64(dataverse.DefaultMaxConcurrency) / lat.Seconds() * 5000, decode: bl.decode(), insert: bl.insert()}
	require.EqualValues(b, rows, bound.decode.rows, "the sync and decode-only read other rows")
	rate := float64(rows) / took.Seconds()
	b.ReportMetric(rate, "latency500_rows/s")
	b.ReportMetric(bound.decode.rate(), "latency500_decode_rows/s")
	b.ReportMetric(bound.insert.rate(), "latency500_insert_rows/s")
	b.ReportMetric(rate/bound.requests, "latency500/requests_bound")
	b.ReportMetric(rate/bound.rate(), "latency500/bound")
	return took, rows, bound
}

func diffKinds(before, after dvsim.Stats) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after.ByKind {
		if d := v - before.ByKind[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// BenchmarkRangedLoad: the first load of one large table (lead, about as
// many rows as the scale) from the simulator in its own process at 250 ms
// a request, in one tracked read (parallel_ranges 1) and in ranges (the
// binary's default cap), alternating, three rounds; the medians, their
// ratio, the sync's CPU per million rows, and a one-shot sync after a
// 1 % mutate as a share of each load. AMPEL_BENCH_SCALE sets the scale
// (default 100,000; 10,000 with -short), AMPEL_BENCH_PAGE the page size
// (default 5000; smaller pages make the load bound by round trips on a
// machine whose CPU would bind it first).
func BenchmarkRangedLoad(b *testing.B) {
	scale := 100_000
	if testing.Short() {
		scale = 10_000
	}
	if s := os.Getenv("AMPEL_BENCH_SCALE"); s != "" {
		_, err := fmt.Sscan(s, &scale)
		require.NoError(b, err)
	}
	page := 0
	if s := os.Getenv("AMPEL_BENCH_PAGE"); s != "" {
		_, err := fmt.Sscan(s, &page)
		require.NoError(b, err)
	}
	// AMPEL_BENCH_RANGES_ONLY=1: the ranged loads alone, without the
	// one-shot syncs after them (for profiles)
	rangesOnly := os.Getenv("AMPEL_BENCH_RANGES_ONLY") != ""
	ctx := context.Background()
	sim := startRemoteSim(b, simChildOptions{Seed: 5, Scale: scale, Faults: dvsim.Faults{Latency: 250 * time.Millisecond}})
	tables := []connector.Table{{Name: "lead"}}
	type run struct {
		load, delta, cpu, simCPU time.Duration
		rows                     uint64
		note                     string
		deltaRequests            int64
		engine                   counters
	}
	once := func(ranges int) run {
		st := openStore(b)
		r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{sim.environment("bench", page)}, ParallelRanges: ranges})
		c0 := readCounters(b, st)
		cpu0, sim0, start := cpuTime(), sim.cpu(b), time.Now()
		res, err := r.Sync(ctx, connector.Request{Tables: tables})
		require.NoError(b, err)
		out := run{load: time.Since(start), rows: res[0].Upserted, note: res[0].Note}
		// the merges the load started are its CPU too
		settle(b, st)
		out.cpu, out.simCPU = cpuTime()-cpu0, sim.cpu(b)-sim0
		out.engine = readCounters(b, st).minus(c0)
		if rangesOnly {
			return out
		}
		sim.control(b, http.MethodPost, fmt.Sprintf("/_sim/mutate?creates=%d&updates=%d&deletes=%d", scale/300, scale/300, scale/300), nil)
		before := sim.stats(b)
		start = time.Now()
		_, err = connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{sim.environment("bench", page)}, ParallelRanges: ranges}).
			Sync(ctx, connector.Request{Tables: tables})
		require.NoError(b, err)
		out.delta = time.Since(start)
		out.deltaRequests = sim.stats(b).Requests - before.Requests
		return out
	}
	median := func(xs []time.Duration) time.Duration {
		s := append([]time.Duration(nil), xs...)
		slices.Sort(s)
		return s[len(s)/2]
	}
	for i := 0; i < b.N; i++ {
		var oneLoad, oneDelta, oneCPU, manyLoad, manyDelta, manyCPU, manySim []time.Duration
		var rows uint64
		for round := 0; round < 3; round++ {
			var one run
			if !rangesOnly {
				one = once(1)
			}
			many := once(connector.DefaultParallelRanges)
			require.Contains(b, many.note, "createdon ranges")
			b.Logf("round %d: one read %d rows in %.2fs (cpu %.2fs, simulator %.2fs), one-shot after it %.2fs (%d requests); ranges %d rows in %.2fs (cpu %.2fs, simulator %.2fs), one-shot after it %.2fs (%d requests); %s",
				round, one.rows, one.load.Seconds(), one.cpu.Seconds(), one.simCPU.Seconds(), one.delta.Seconds(), one.deltaRequests,
				many.rows, many.load.Seconds(), many.cpu.Seconds(), many.simCPU.Seconds(), many.delta.Seconds(), many.deltaRequests, many.note)
			b.Logf("round %d: ranged load's engine and Go runtime: %s", round, many.engine)
			oneLoad, oneDelta, oneCPU = append(oneLoad, one.load), append(oneDelta, one.delta), append(oneCPU, one.cpu)
			manyLoad, manyDelta, manyCPU, manySim = append(manyLoad, many.load), append(manyDelta, many.delta), append(manyCPU, many.cpu), append(manySim, many.simCPU)
			rows = many.rows
		}
		b.ReportMetric(median(manyLoad).Seconds(), "ranges_s")
		b.ReportMetric(median(manyCPU).Seconds()/float64(rows)*1e6, "ranges_cpu_s/1M_rows")
		b.ReportMetric(median(manySim).Seconds()/float64(rows)*1e6, "ranges_sim_cpu_s/1M_rows")
		b.ReportMetric(median(manyDelta).Seconds()/median(manyLoad).Seconds(), "oneshot/ranged_load")
		if rangesOnly {
			continue
		}
		b.ReportMetric(median(oneLoad).Seconds(), "one_read_s")
		b.ReportMetric(median(oneLoad).Seconds()/median(manyLoad).Seconds(), "ranges_speedup")
		b.ReportMetric(median(oneDelta).Seconds()/median(oneLoad).Seconds(), "oneshot/one_read_load")
		b.ReportMetric(median(oneCPU).Seconds()/float64(rows)*1e6, "one_read_cpu_s/1M_rows")
	}
}

// benchLeads is the scale of a benchmark: AMPEL_BENCH_LEADS, else def
// (short with -short).
func benchLeads(tb testing.TB, def, short int) int {
	tb.Helper()
	if testing.Short() {
		def = short
	}
	if s := os.Getenv("AMPEL_BENCH_LEADS"); s != "" {
		_, err := fmt.Sscan(s, &def)
		require.NoError(tb, err)
	}
	return def
}

// oneShot is what a one-shot sync (a new Runner, as a new process) did.
type oneShot struct {
	took time.Duration
	res  []connector.TableResult
	// requests: all requests the source answered; own: those the
	// unchanged tables made themselves, per table (the rest are the run's:
	// token, WhoAmI, metadata version, counts)
	requests       int64
	unchanged, own int
	note           string
}

func (o oneShot) ownPerUnchanged() float64 {
	if o.unchanged == 0 {
		return 0
	}
	return float64(o.own) / float64(o.unchanged)
}

// syncOnce syncs every table of tableList with a new Runner as the binary
// does (parallel_ranges 8) and counts the requests the source answered.
func syncOnce(tb testing.TB, sim *remoteSim, st warehouse.Store) oneShot {
	tb.Helper()
	return syncOnceCapped(tb, sim, st, 0)
}

// syncOnceCapped is syncOnce with max_concurrency maxConc (0: the
// default). The client's adaptive limit of requests in flight is shared
// by the clients of one environment, app and max_concurrency in a
// process, so a value not used before in the process starts it afresh, at
// its initial 4 — as in a new process.
func syncOnceCapped(tb testing.TB, sim *remoteSim, st warehouse.Store, maxConc int) oneShot {
	tb.Helper()
	env := sim.environment("bench", 0)
	env.Client.MaxConcurrency = maxConc
	r := connector.NewRunner(connector.RunnerConfig{Store: st, Environments: []connector.Environment{env}, ParallelRanges: connector.DefaultParallelRanges})
	before := sim.stats(tb)
	start := time.Now()
	res, err := r.Sync(context.Background(), connector.Request{Tables: tableList()})
	took := time.Since(start)
	require.NoError(tb, err)
	o := oneShot{took: took, res: res, requests: sim.stats(tb).Requests - before.Requests}
	for _, x := range res {
		require.Equal(tb, connector.StatusOK, x.Status, x.Table)
		if x.Upserted == 0 && x.Deleted == 0 {
			o.unchanged++
			o.own += int(x.Requests)
		}
		if x.Mode == connector.ModeTracking || strings.Contains(x.Note, "ranges") {
			o.note += fmt.Sprintf("[%s %s: %s] ", x.Table, x.Mode, x.Note)
		}
	}
	return o
}

// tracking reports whether a sync left a table in its tracking phase
// (its tracked read for the delta link goes on).
func tracking(o oneShot) bool {
	for _, x := range o.res {
		if (x.Mode == connector.ModeTracking || strings.Contains(x.Note, "ranges")) && !strings.Contains(x.Note, "delta syncs from the next run") {
			return true
		}
	}
	return false
}

// BenchmarkRemoteOneShot measures issue 17's one-shot delta: `ampel sync`
// as a new process (a new Runner) after a 1 % mutate, beside the cold
// first sync of the same round, with the simulator in its own process at
// 250 ms per request and AMPEL_BENCH_LEADS leads (default 100,000; 2,000
// with -short). Per round: a cold sync into a new warehouse, a 1 % mutate
// and the one-shot (a), whatever phase the tables are in; syncs until no
// table is in its tracking phase (counted); a 1 % mutate and the one-shot
// (b), the steady state; one more with no change at all; and one more 1 %
// mutate and one-shot whose client starts its adaptive concurrency limit
// afresh, at the initial limit, as a new process does (the others share the
// limit the cold sync raised, as syncs in one process do). Three rounds,
// medians: each one-shot as a share of its round's cold sync, requests per
// table, and with no change the requests each table made itself.
func BenchmarkRemoteOneShot(b *testing.B) {
	leads := benchLeads(b, 100_000, 2_000)
	sim := startRemoteSim(b, simChildOptions{Seed: 3, Scale: leads, Faults: dvsim.Faults{Latency: 250 * time.Millisecond}})
	mutate := func() {
		sim.control(b, http.MethodPost, fmt.Sprintf("/_sim/mutate?creates=%d&updates=%d&deletes=%d", leads/300, leads/300, leads/300), nil)
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	share := func(x, cold oneShot) float64 { return x.took.Seconds() / cold.took.Seconds() }
	perTable := func(x oneShot) float64 { return float64(x.requests) / float64(len(x.res)) }
	for i := 0; i < b.N; i++ {
		var aShare, aReq, bShare, bReq, nShare, nReq, nOwn, steady, fShare []float64
		for round := 0; round < 3; round++ {
			st := openStore(b)
			cold := syncOnce(b, sim, st)
			mutate()
			a := syncOnce(b, sim, st)
			syncs := 0
			for last := a; tracking(last); syncs++ {
				require.Less(b, syncs, 300, "the tracked reads did not end")
				last = syncOnce(b, sim, st)
			}
			mutate()
			before := sim.stats(b)
			sb := syncOnce(b, sim, st)
			kinds := diffKinds(before, sim.stats(b))
			before = sim.stats(b)
			still := syncOnce(b, sim, st)
			mutate()
			fresh := syncOnceCapped(b, sim, st, dataverse.DefaultMaxConcurrency-1-round)
			b.Logf("round %d: one-shot after a 1 %% mutate with a fresh concurrency limit %.2fs = %.1f %%, %d requests", round, fresh.took.Seconds(), 100*share(fresh, cold), fresh.requests)
			b.Logf("round %d: cold %.2fs (%d requests); one-shot (a) %.2fs = %.1f %%, %d requests %s; %d syncs to the steady state; one-shot (b) %.2fs = %.1f %%, %d requests %v; no change %.2fs = %.1f %%, %d requests %v, %d unchanged tables with %.2f requests each",
				round, cold.took.Seconds(), cold.requests, a.took.Seconds(), 100*share(a, cold), a.requests, a.note, syncs,
				sb.took.Seconds(), 100*share(sb, cold), sb.requests, kinds,
				still.took.Seconds(), 100*share(still, cold), still.requests, diffKinds(before, sim.stats(b)), still.unchanged, still.ownPerUnchanged())
			aShare, aReq = append(aShare, share(a, cold)), append(aReq, perTable(a))
			bShare, bReq = append(bShare, share(sb, cold)), append(bReq, perTable(sb))
			nShare, nReq, nOwn = append(nShare, share(still, cold)), append(nReq, perTable(still)), append(nOwn, still.ownPerUnchanged())
			steady = append(steady, float64(syncs))
			fShare = append(fShare, share(fresh, cold))
		}
		b.ReportMetric(median(aShare), "oneshot_a/cold")
		b.ReportMetric(median(aReq), "oneshot_a_requests/table")
		b.ReportMetric(median(steady), "syncs_to_steady")
		b.ReportMetric(median(bShare), "oneshot_b/cold")
		b.ReportMetric(median(bReq), "oneshot_b_requests/table")
		b.ReportMetric(median(nShare), "oneshot_nochange/cold")
		b.ReportMetric(median(nReq), "oneshot_nochange_requests/table")
		b.ReportMetric(median(nOwn), "oneshot_nochange_requests/unchanged_table")
		b.ReportMetric(median(fShare), "oneshot_b_fresh_limit/cold")
	}
}
