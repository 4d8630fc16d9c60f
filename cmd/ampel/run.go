package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/warehouse"
)

// runRun syncs every table group once at start and then on its cron
// schedule, until SIGTERM or SIGINT, and runs the audit and the KPI catalog
// after each successful sync. A group never overlaps itself: a run that comes due while the
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
	clients := newClientPool()
	c2 := cron.New(cron.WithLogger(cronLogger{log}), cron.WithChain(cron.Recover(cronLogger{log})))
	var running, first sync.WaitGroup
	for _, sc := range schedules {
		tables, err := selectTables(cfg, strings.Join(sc.Tables, ","))
		if err != nil {
			return configError{err}
		}
		job := &groupJob{ctx: ctx, e: e, cfg: cfg, store: s, clients: clients, log: log.With("group", sc.Name), name: sc.Name, tables: tables, wg: &running}
		if _, err := c2.AddJob(sc.Cron, job); err != nil {
			return configError{fmt.Errorf("schedule %s: %w", sc.Name, err)}
		}
		log.Info("scheduled", "group", sc.Name, "cron", sc.Cron, "tables", len(tables))
		// every group runs once at start: after a restart or a pause the
		// warehouse catches up now, not at the next scheduled time
		first.Add(1)
		go func() { defer first.Done(); job.Run() }()
	}
	c2.Start()
	<-ctx.Done()
	log.Info("stopping: finishing the running syncs")
	<-c2.Stop().Done()
	first.Wait()
	running.Wait()
	log.Info("stopped")
	return nil
}

// groupJob is one schedule's sync.
type groupJob struct {
	ctx     context.Context
	e       *env
	cfg     *config.Config
	store   warehouse.Store
	clients *clientPool // shared by the groups
	log     *slog.Logger
	name    string
	tables  []connector.Table
	wg      *sync.WaitGroup

	mu      sync.Mutex
	running bool
}

func (j *groupJob) Run() {
	j.mu.Lock()
	if j.running {
		j.mu.Unlock()
		j.log.Warn("run missed: the previous run of this group is still going")
		return
	}
	if j.ctx.Err() != nil {
		j.mu.Unlock()
		return
	}
	j.running = true
	j.wg.Add(1)
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.running = false
		j.mu.Unlock()
		j.wg.Done()
	}()
	start := time.Now()
	j.log.Info("sync group started")
	quiet := *j.e
	quiet.isTerminal = false
	results, err := syncAll(j.ctx, &quiet, j.cfg, j.store, j.clients, j.cfg.Environments, j.tables, false, j.log)
	var rows uint64
	for _, r := range results {
		rows += r.Upserted + r.Deleted
	}
	switch {
	case err != nil && j.ctx.Err() != nil:
		// SIGTERM: the rows read so far landed, a full load saved where it
		// stands, and a delta's state stays: the next start goes on from there.
		j.log.Info("sync group stopped", "rows", rows, "duration", time.Since(start).Round(time.Millisecond))
		return
	case err != nil:
		j.log.Error("sync group failed", "rows", rows, "duration", time.Since(start).Round(time.Millisecond), "error", oneLine(err.Error()))
		return
	}
	j.log.Info("sync group done", "rows", rows, "duration", time.Since(start).Round(time.Millisecond))
	runAuditAfterSync(j.ctx, j.cfg, j.store, j.log) // first: the duplicate density KPI reads it
	runCatalog(j.ctx, j.cfg, j.store, j.log)
}

// cronLogger sends robfig/cron's logs to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
