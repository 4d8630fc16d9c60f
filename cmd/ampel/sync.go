package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

func runSync(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("sync", "sync --config FILE [--tables a,b] [--full] [--environment NAME]")
	var c commonFlags
	c.register(fs)
	tables := fs.String("tables", "", "comma-separated logical `names` of the tables to sync (default: sync.tables of the config)")
	full := fs.Bool("full", false, "reload every table in full instead of reading changes")
	envName := fs.String("environment", "", "sync only this environment (default: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	sel, err := selectTables(cfg, *tables)
	if err != nil {
		return usageError{err}
	}
	envs := cfg.Environments
	if *envName != "" {
		env, ok := cfg.Environment(*envName)
		if !ok {
			return usageError{fmt.Errorf("--environment %q is not in the config", *envName)}
		}
		envs = []config.Environment{env}
	}
	if len(envs) == 0 {
		return errNoEnvironments(cfg)
	}
	if _, set := e.getenv("GOMEMLIMIT"); !set && e.setMemoryLimit != nil {
		e.setMemoryLimit(syncMemoryLimit(cfg.Sync.MemoryBudgetMB))
	}
	log := e.logger(cfg.Log)
	if e.setMemoryLimit != nil {
		// -1 reads the limit in force, the config's or GOMEMLIMIT's
		log.Debug("go memory limit", "mb", e.setMemoryLimit(-1)>>20)
	}
	s, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	results, err := newRunner(cfg, s, envs, log).Sync(ctx, connector.Request{Tables: sel, Full: *full, Progress: e.progress(log)})
	// the summary goes to stdout, on a terminal or not (logs and the live
	// progress go to stderr)
	printResults(e.stdout, results)
	return err
}

// syncMemoryLimit is the Go memory limit (runtime/debug.SetMemoryLimit)
// `ampel sync` runs under unless GOMEMLIMIT sets one: twice the memory
// budget of sync.memory_budget_mb (megabytes) and 32 MB, 160 MB at the
// default 64. The budget bounds the pages, the sync's largest use of
// memory, and the batches are a share of it. The collector (GOGC 100)
// lets the heap grow to twice what is live, so a moment when pages,
// batches and HTTP/2 buffers peak together (115–140 MB live at 1M
// leads, against 70–90 most of the time) sets the heap's largest size:
// 217 MB at 1M against 128 at 10k, 1.70x (BenchmarkSyncPeakRSS;
// docs/performance.md). Under the limit the
// collector runs earlier at such moments instead, and as usual the rest
// of the time: 157–160 MB at 1M against 116 at 10k, 1.37x, where the
// same code without the limit gave 205 and 125 MB, with the sync's CPU
// within the runs' spread. The engine allocates outside the Go heap: the
// limit is not its. Past the limit the runtime caps the collector at
// half the CPU rather than fail, so a heap that needs more only runs
// slower.
func syncMemoryLimit(budgetMB int) int64 {
	return (2*int64(budgetMB) + 32) << 20
}

// newRunner wires the sync of envs into s.
func newRunner(cfg *config.Config, s warehouse.Store, envs []config.Environment, log *slog.Logger) *connector.Runner {
	rc := connector.RunnerConfig{
		Store:           s,
		ParallelTables:  cfg.Sync.ParallelTables,
		ParallelRanges:  cfg.Sync.ParallelRanges,
		Overlap:         cfg.Sync.Overlap.D(),
		CheckpointEvery: cfg.Sync.CheckpointEvery.D(),
		Reconcile: connector.ReconcilePolicy{
			Every:      cfg.Sync.Reconcile.Every.D(),
			LargeKeys:  uint64(cfg.Sync.Reconcile.LargeKeys),
			LargeEvery: cfg.Sync.Reconcile.LargeEvery.D(),
		},
		Logger: log,
	}
	for _, env := range envs {
		rc.Environments = append(rc.Environments, connector.Environment{Name: env.Name, Client: clientConfig(cfg, env, log)})
	}
	return connector.NewRunner(rc)
}

// progress is how a sync shows its progress: redrawn lines on a terminal,
// log lines every 10 s elsewhere.
func (e *env) progress(log *slog.Logger) connector.Progress {
	if e.isTerminal {
		return connector.TerminalProgress(e.stderr, 200*time.Millisecond)
	}
	return connector.LogProgress(log, 10*time.Second)
}

// clientConfig is the Dataverse client's configuration for env.
func clientConfig(cfg *config.Config, env config.Environment, log *slog.Logger) dataverse.Config {
	return dataverse.Config{
		URL:             env.URL,
		Authority:       env.Authority,
		TenantID:        env.TenantID,
		ClientID:        env.ClientID,
		ClientSecret:    env.ClientSecret,
		CertificateFile: env.CertificateFile,
		KeyFile:         env.KeyFile,
		CAFile:          env.CAFile,
		MaxConcurrency:  env.MaxConcurrency,
		MaxWait:         cfg.Sync.MaxWait.D(),
		PageSize:        cfg.Sync.PageSize,
		MemoryBudget:    int64(cfg.Sync.MemoryBudgetMB) << 20,
		Logger:          log.With("environment", env.Name),
	}
}

// selectTables picks the tables named in list (all configured ones when
// empty).
func selectTables(cfg *config.Config, list string) ([]connector.Table, error) {
	byName := map[string]config.Table{}
	for _, t := range cfg.Sync.Tables {
		byName[t.Name] = t
	}
	var names []string
	if list == "" {
		names = cfg.TableNames()
	} else {
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	out := make([]connector.Table, 0, len(names))
	for _, n := range names {
		t, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("--tables: %q is not in sync.tables of the config", n)
		}
		out = append(out, connector.Table{Name: t.Name, ExcludeColumns: t.ExcludeColumns})
	}
	return out, nil
}

// printResults writes a table of what each table's sync did, then each
// error once, numbered: the rows refer to it, so a cause the whole
// environment shares (credentials, DNS, the warehouse) is one line, not
// one per row.
func printResults(w io.Writer, results []connector.TableResult) {
	if len(results) == 0 {
		return
	}
	groups := connector.GroupErrors(results)
	ref := map[[2]string]int{}
	for i, g := range groups {
		for _, t := range g.Tables {
			ref[[2]string{g.Environment, t}] = i + 1
		}
	}
	// an environment whose every table failed with one cause before
	// doing anything is one row, not one per table
	whole := map[string]*connector.ErrorGroup{}
	for _, g := range groups {
		if len(g.Tables) == g.Of && g.Of > 1 && idle(results, g) {
			whole[g.Environment] = g
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tTABLE\tMODE\tSTATUS\tUPSERTED\tDELETED\tPAGES\tREQUESTS\tTHROTTLED\tRETRIES\tTIME\tNOTE")
	said := map[string]bool{}
	for _, r := range results {
		if g := whole[r.Environment]; g != nil {
			if !said[r.Environment] {
				said[r.Environment] = true
				var req, thr, ret uint32
				var took time.Duration
				for _, x := range results {
					if x.Environment == r.Environment {
						req, thr, ret, took = req+x.Requests, thr+x.Throttled, ret+x.Retries, max(took, x.Finished.Sub(x.Started))
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t0\t0\t0\t%d\t%d\t%d\t%s\terror %d\n", r.Environment, g.Which(), groupMode(results, g), r.Status,
					req, thr, ret, took.Round(time.Millisecond), ref[[2]string{r.Environment, r.Table}])
			}
			continue
		}
		note := r.Note
		if n := ref[[2]string{r.Environment, r.Table}]; n > 0 {
			if note != "" {
				note += "; "
			}
			note += fmt.Sprintf("error %d", n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Environment, r.Table, r.Mode, r.Status,
			r.Upserted, r.Deleted, r.Pages, r.Requests, r.Throttled, r.Retries, r.Finished.Sub(r.Started).Round(time.Millisecond), note)
	}
	tw.Flush()
	for i, g := range groups {
		fmt.Fprintf(w, "error %d (%s: %s): %s\n", i+1, g.Environment, g.Which(), oneLine(g.Err.Error()))
	}
}

// idle reports whether every table of g read and wrote nothing.
func idle(results []connector.TableResult, g *connector.ErrorGroup) bool {
	for _, r := range results {
		if r.Environment == g.Environment && (r.Pages > 0 || r.Upserted > 0 || r.Deleted > 0) {
			return false
		}
	}
	return true
}

// groupMode is the mode of g's tables when they share one, else "-".
func groupMode(results []connector.TableResult, g *connector.ErrorGroup) string {
	mode := ""
	for _, r := range results {
		if r.Environment != g.Environment {
			continue
		}
		if mode != "" && r.Mode != mode {
			return "-"
		}
		mode = r.Mode
	}
	return mode
}
