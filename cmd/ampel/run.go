package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/metrics"
	"github.com/ampel/ampel/schedule"
	"github.com/ampel/ampel/schedule/lease"
	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
)

// runRun syncs every table group once at start and then on its cron
// schedule, until SIGTERM or SIGINT, and after each successful sync runs
// the audit, scores the leads and runs the KPI catalog and publishes the BI marts. A group never
// overlaps itself: a run that comes due while the last is going is skipped
// and logged. On a signal the running syncs finish their current batch and
// stop; their state stays at the last complete read, so the next start
// goes on from there.
//
// On a ClickHouse server each group's run first takes the group's lease
// (package schedule/lease; schedules[].lease), so that a second ampel run
// on the same config — a second pod — never syncs the group at the same
// time: its run is skipped and logged with the holder, and when the
// holder dies it takes the group over once the lease has run out.
//
// Meanwhile it serves: the feed, /healthz and /metrics when serve.keys
// names a key (see ampel serve; without keys no feed, so that a config
// without a serve section runs as before), and on an embedded warehouse
// the local endpoint through which ampel sql reads, and ampel kpi, audit
// and score run (local.go), while this process holds the warehouse.
func runRun(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("run", "run --config FILE [--addr HOST:PORT]")
	var c commonFlags
	c.register(fs)
	addr := fs.String("addr", "", "where to serve the feed (default: the config's serve.addr); served only when serve.keys names a key")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if err := setAddr(cfg, *addr); err != nil {
		return err
	}
	if len(cfg.Environments) == 0 {
		return errNoEnvironments(cfg)
	}
	log := e.logger(cfg.Log)
	s, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	schedules := cfg.Schedules
	if len(schedules) == 0 {
		schedules = []config.Schedule{{Name: "all", Cron: "@every 1h", Lease: config.Duration(config.DefaultLease)}}
		log.Info("no schedules configured: syncing every table every hour")
	}
	// one runner for all groups: each environment's client, its token and
	// the tables' metadata carry over from one scheduled sync to the next
	runner := newRunner(cfg, s, cfg.Environments, log)
	m := metrics.New()
	pub, err := newPublisher(cfg, s, log)
	if err != nil {
		return err
	}
	// on a server, another ampel run on the same config (a second pod) may
	// be running: each group's run takes the group's lease first. The
	// embedded engine admits one process, so it needs none.
	var leases *lease.Manager
	if cfg.Warehouse.Driver == "clickhouse" {
		leases = lease.New(s, lease.Holder(), log)
		log.Info("schedule groups run under leases", "holder", leases.Holder())
	}
	var jobs []schedule.Job
	for _, sc := range schedules {
		tables, err := selectTables(cfg, strings.Join(sc.Tables, ","))
		if err != nil {
			return configError{err}
		}
		glog := log.With("group", sc.Name)
		run := groupSync(cfg, s, runner, pub, tables, m, glog)
		if leases != nil {
			run = leased(leases, sc.Name, sc.Lease.D(), glog, run)
		}
		jobs = append(jobs, schedule.Job{Name: sc.Name, Spec: sc.Cron, Logger: glog, Run: run})
		log.Info("scheduled", "group", sc.Name, "cron", sc.Cron, "tables", len(tables))
	}
	// every group runs once at start: after a restart or a pause the
	// warehouse catches up now, not at the next scheduled time
	sched, err := schedule.New(jobs, schedule.Options{RunAtStart: true, Logger: log})
	if err != nil {
		return configError{err}
	}
	stopping := make(chan struct{})
	go func() {
		<-ctx.Done()
		log.Info("stopping: finishing the running syncs")
		close(stopping)
	}()
	// the scheduler runs until SIGTERM or SIGINT, and the running syncs
	// have stopped; the feed (with keys) and the local endpoint (embedded)
	// are served meanwhile
	var srv *serve.Server
	var ln net.Listener
	if len(cfg.Serve.Keys) == 0 {
		log.Info("not serving the feed: serve.keys names no key")
		srv, err = newServer(cfg, s, pub, m, log)
	} else {
		srv, ln, err = startServer(cfg, s, pub, m, log)
	}
	if err != nil {
		return err
	}
	err = serveWhile(ctx, cfg, srv, ln, sched.Run)
	<-stopping
	log.Info("stopped")
	return err
}

// leased runs a group's job under the group's lease (package
// schedule/lease): a run whose lease another process holds is skipped and
// logged, with who holds it and until when; one whose lease cannot be read
// or written is skipped and logged as an error.
func leased(m *lease.Manager, group string, ttl time.Duration, log *slog.Logger, run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		ran := false
		err := m.Run(ctx, group, ttl, func(ctx context.Context) error {
			ran = true
			return run(ctx)
		})
		var held *lease.HeldError
		switch {
		case errors.As(err, &held):
			log.Info("run skipped: "+held.Error(), "holder", held.Holder, "until", held.Until.UTC())
			return nil
		case err != nil && !ran && ctx.Err() == nil:
			log.Error("run skipped: the group's lease could not be taken", "error", oneLine(err.Error()))
		}
		return err
	}
}

// groupSync is one schedule group's job: sync its tables, log the
// outcome and record it in m, and after a sync that succeeded audit, score
// the leads, run the KPI catalog, each timed in m, and publish the BI
// marts (one publisher for all groups: it publishes one snapshot at a time).
func groupSync(cfg *config.Config, s warehouse.Store, runner *connector.Runner, pub *marts.Publisher, tables []connector.Table, m *metrics.Metrics, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		start := time.Now()
		log.Info("sync group started")
		results, err := runner.Sync(ctx, connector.Request{Tables: tables, Progress: connector.LogProgress(log, 10*time.Second)})
		var rows uint64
		for _, r := range results {
			rows += r.Upserted + r.Deleted
			m.Sync(metrics.TableSync{
				Environment: r.Environment, Table: r.Table, Rows: r.Upserted + r.Deleted,
				Duration: r.Finished.Sub(r.Started), Throttled: r.Throttled, Retries: r.Retries,
				OK: r.Status == connector.StatusOK, Finished: r.Finished,
			})
		}
		took := time.Since(start).Round(time.Millisecond)
		switch {
		case err != nil && ctx.Err() != nil:
			// SIGTERM: the rows read so far landed, a full load saved where it
			// stands, and a delta's state stays: the next start goes on from there.
			log.Info("sync group stopped", "rows", rows, "duration", took)
			return err
		case err != nil:
			log.Error("sync group failed", "rows", rows, "duration", took, "error", oneLine(err.Error()))
			return err
		}
		log.Info("sync group done", "rows", rows, "duration", took)
		timed := func(job string, run func()) {
			t0 := time.Now()
			run()
			m.Run(job, time.Since(t0))
		}
		timed("audit", func() { runAuditAfterSync(ctx, cfg, s, log) }) // first: the duplicate density KPI reads it
		timed("score", func() { runScoring(ctx, cfg, s, log) })
		timed("kpi", func() { runCatalog(ctx, cfg, s, log) })
		publishAfterRun(ctx, pub, log, "run")
		return nil
	}
}
