package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

// Environment is one Dataverse environment a Runner syncs.
type Environment struct {
	// Name names the environment; its rows carry it in _environment.
	Name string
	// Client configures its Dataverse client.
	Client dataverse.Config
}

// RunnerConfig says where a Runner syncs to, what from, and how.
type RunnerConfig struct {
	// Store is the warehouse, migrated.
	Store warehouse.Store
	// Environments are synced one after the other, in this order.
	Environments []Environment
	// ParallelTables, ParallelRanges, Overlap and CheckpointEvery are
	// those of Options; zero takes their defaults.
	ParallelTables  int
	ParallelRanges  int
	Overlap         time.Duration
	CheckpointEvery time.Duration
	// Reconcile is Options.Reconcile: when tables without change tracking
	// have their keys reconciled.
	Reconcile ReconcilePolicy
	// Logger gets the logs; nil discards them.
	Logger *slog.Logger
}

// Request is one sync of a Runner.
type Request struct {
	// Tables to sync in every environment.
	Tables []Table
	// Full forces a full load of every table.
	Full bool
	// Progress hears about progress; nil reports nothing.
	Progress Progress
}

// Runner syncs tables of several environments into one warehouse: every
// environment one after the other, each with Sync. It keeps one client
// per environment for its life, so that the token and the tables'
// metadata (read in full again only when the environment's metadata
// version changes) carry over from one sync to the next — ampel run keeps
// one Runner for all its scheduled syncs. A Runner is safe for concurrent
// use: two schedules may sync at once.
type Runner struct {
	cfg RunnerConfig
	log *slog.Logger

	mu      sync.Mutex
	clients map[string]*dataverse.Client
}

// NewRunner returns a Runner for cfg. It connects to nothing before the
// first Sync.
func NewRunner(cfg RunnerConfig) *Runner {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, log: log, clients: map[string]*dataverse.Client{}}
}

// Sync syncs the tables of req in every environment, one environment after
// the other, under one run id, and returns every table's result in that
// order. One request per environment first proves the token and the
// application user, so that a refusal (wrong secret, unknown tenant, no
// application user) is said once for the environment and recorded in
// sync_runs as a failed row for each of its tables; the other environments
// go on. The error joins each environment's, prefixed with its name. A
// canceled ctx stops after the environment that is syncing.
func (r *Runner) Sync(ctx context.Context, req Request) ([]TableResult, error) {
	runID := uuid.NewString()
	var all []TableResult
	var errs []error
	for _, env := range r.cfg.Environments {
		// a refusal before any table starts is said once for the
		// environment, and in sync_runs for each table
		failed := func(err error) {
			errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
			results, rerr := RecordFailure(ctx, r.cfg.Store, runID, env.Name, req.Tables, req.Full, err)
			all = append(all, results...)
			if rerr != nil {
				errs = append(errs, rerr)
			}
		}
		client, err := r.client(ctx, env)
		if err != nil {
			failed(err)
			continue
		}
		results, err := Sync(ctx, Options{
			Store:           r.cfg.Store,
			Client:          client,
			Environment:     env.Name,
			Tables:          req.Tables,
			Full:            req.Full,
			ParallelTables:  r.cfg.ParallelTables,
			ParallelRanges:  r.cfg.ParallelRanges,
			Overlap:         r.cfg.Overlap,
			CheckpointEvery: r.cfg.CheckpointEvery,
			Reconcile:       r.cfg.Reconcile,
			RunID:           runID,
			Progress:        req.Progress,
			Logger:          r.log,
			// WhoAmI: the cheapest check that the token is accepted
			// and the application user exists, beside the metadata read
			Check: func(ctx context.Context) error { _, err := client.WhoAmI(ctx); return err },
		})
		var check *CheckError
		if errors.As(err, &check) {
			if ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, check.Err))
				break
			}
			failed(check.Err)
			continue
		}
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

// client returns the environment's client, made on first use.
func (r *Runner) client(ctx context.Context, env Environment) (*dataverse.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[env.Name]; ok {
		return c, nil
	}
	c, err := dataverse.New(ctx, env.Client)
	if err != nil {
		return nil, err
	}
	r.clients[env.Name] = c
	return c, nil
}
