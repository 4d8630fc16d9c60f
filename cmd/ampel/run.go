package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/schedule"
	"github.com/ampel/ampel/warehouse"
)

// runRun syncs every table group once at start and then on its cron
// schedule, until SIGTERM or SIGINT, and after each successful sync runs
// the audit, scores the leads, runs the KPI catalog and publishes the BI
// marts. A group never overlaps itself: a run that comes due while the
// last is going is skipped and logged. On a signal the running syncs finish
// their current batch and stop; their state stays at the last complete
// read, so the next start goes on from there.
func runRun(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("run", "run --config FILE")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
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
		jobs = append(jobs, schedule.Job{Name: sc.Name, Spec: sc.Cron, Logger: glog, Run: groupSync(cfg, s, runner, pub, tables, glog)})
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
	err = sched.Run(ctx) // until SIGTERM or SIGINT, and the running syncs have stopped
	<-stopping
	log.Info("stopped")
	return err
}

// groupSync is one schedule group's job: sync its tables, log the
// outcome, and after a sync that succeeded audit, score the leads, run
// the KPI catalog and publish the BI marts (one publisher for all groups:
// it publishes one snapshot at a time).
func groupSync(cfg *config.Config, s warehouse.Store, runner *connector.Runner, pub *marts.Publisher, tables []connector.Table, log *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		start := time.Now()
		log.Info("sync group started")
		results, err := runner.Sync(ctx, connector.Request{Tables: tables, Progress: connector.LogProgress(log, 10*time.Second)})
		var rows uint64
		for _, r := range results {
			rows += r.Upserted + r.Deleted
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
		runAuditAfterSync(ctx, cfg, s, log) // first: the duplicate density KPI reads it
		runScoring(ctx, cfg, s, log)
		runCatalog(ctx, cfg, s, log)
		publishAfterRun(ctx, pub, log, "run")
		return nil
	}
}
