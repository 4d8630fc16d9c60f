package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

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
	log := e.logger(cfg.Log)
	s, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	results, err := syncAll(ctx, e, cfg, s, nil, envs, sel, *full, log)
	// the summary goes to stdout, on a terminal or not (logs and the live
	// progress go to stderr)
	printResults(e.stdout, results)
	return err
}

// clientPool keeps one Dataverse client per environment for the life of
// `ampel run`, so that its token and the tables' metadata (read in full
// again only when the environment's metadata version changes) carry over
// from one scheduled sync to the next. A nil pool makes a client per call.
type clientPool struct {
	mu      sync.Mutex
	clients map[string]*dataverse.Client
}

func newClientPool() *clientPool {
	return &clientPool{clients: map[string]*dataverse.Client{}}
}

func (p *clientPool) client(ctx context.Context, cfg *config.Config, env config.Environment, log *slog.Logger) (*dataverse.Client, error) {
	if p == nil {
		return dataverse.New(ctx, clientConfig(cfg, env, log))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[env.Name]; ok {
		return c, nil
	}
	c, err := dataverse.New(ctx, clientConfig(cfg, env, log))
	if err != nil {
		return nil, err
	}
	p.clients[env.Name] = c
	return c, nil
}

// syncAll syncs tables of every environment in envs, one environment after
// the other, and returns every table's result. Clients come from pool
// (nil: new ones).
func syncAll(ctx context.Context, e *env, cfg *config.Config, s warehouse.Store, pool *clientPool, envs []config.Environment, tables []connector.Table, full bool, log *slog.Logger) ([]connector.TableResult, error) {
	var progress connector.Progress
	if e.isTerminal {
		progress = connector.TerminalProgress(e.stderr, 200*time.Millisecond)
	} else {
		progress = connector.LogProgress(log, 10*time.Second)
	}
	runID := uuid.NewString()
	var all []connector.TableResult
	var errs []error
	for _, env := range envs {
		// a refusal before any table starts is said once for the
		// environment, and in sync_runs for each table
		failed := func(err error) {
			errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
			results, rerr := connector.RecordFailure(ctx, s, runID, env.Name, tables, full, err)
			all = append(all, results...)
			if rerr != nil {
				errs = append(errs, rerr)
			}
		}
		client, err := pool.client(ctx, cfg, env, log)
		if err != nil {
			failed(err)
			continue
		}
		// One request proves the token and the application user, so a
		// refusal (wrong secret, unknown tenant, no application user) is
		// said once for the environment, not once per table.
		if _, err := client.WhoAmI(ctx); err != nil {
			if ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
				break
			}
			failed(err)
			continue
		}
		results, err := connector.Sync(ctx, connector.Options{
			Store:           s,
			Client:          client,
			Environment:     env.Name,
			Tables:          tables,
			Full:            full,
			ParallelTables:  cfg.Sync.ParallelTables,
			Overlap:         cfg.Sync.Overlap.D(),
			CheckpointEvery: cfg.Sync.CheckpointEvery.D(),
			RunID:           runID,
			Progress:        progress,
			Logger:          log,
		})
		all = append(all, results...)
		if err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	return all, errors.Join(errs...)
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
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tTABLE\tMODE\tSTATUS\tUPSERTED\tDELETED\tPAGES\tREQUESTS\tTHROTTLED\tRETRIES\tTIME\tNOTE")
	for _, r := range results {
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
