package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/metrics"
	"github.com/ampel/ampel/schedule"
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
		schedules = []config.Schedule{{Name: "all", Cron: "@every 1h"}}
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
	var jobs []schedule.Job
	for _, sc := range schedules {
		tables, err := selectTables(cfg, strings.Join(sc.Tables, ","))
		if err != nil {
			return configError{err}
		}
		glog := log.With("group", sc.Name)
		jobs = append(jobs, schedule.Job{Name: sc.Name, Spec: sc.Cron, Logger: glog, Run: groupSync(cfg, s, runner, pub, tables, m, glog)})
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
