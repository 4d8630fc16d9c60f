package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
)

// openStore opens the configured warehouse. An embedded warehouse that
// ampel run, serve or demo holds (its local endpoint answers) is refused
// at once, not after waiting for the engine's lock: they hold it until
// they stop.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (warehouse.Store, error) {
	wc := cfg.WarehouseConfig()
	wc.Logger = log
	if wc.Driver == "embedded" && serve.LocalServed(ctx, filepath.Join(wc.Path, serve.LocalSocket)) {
		return nil, fmt.Errorf("open embedded warehouse: %w: a running ampel run, serve or demo holds %s; stop it first "+
			"(ampel sql, kpi, audit, score and doctor run through it meanwhile)", warehouse.ErrInUse, wc.Path)
	}
	s, err := warehouse.Open(ctx, wc)
	if errors.Is(err, warehouse.ErrInUse) {
		return nil, fmt.Errorf("open %s warehouse: %w: wait for the ampel command that holds it to end", wc.Driver, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s warehouse: %w", wc.Driver, err)
	}
	return s, nil
}

// openExisting opens the configured warehouse for reading: a warehouse
// that is not there is an error saying how to make one, not an empty new
// one.
func openExisting(ctx context.Context, cfg *config.Config, log *slog.Logger) (warehouse.Store, error) {
	wc := cfg.WarehouseConfig()
	wc.Logger = log
	wc.MustExist = true
	s, err := warehouse.Open(ctx, wc)
	if errors.Is(err, warehouse.ErrNoWarehouse) {
		return nil, fmt.Errorf("%w: run ampel sync or ampel migrate first", err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s warehouse: %w", wc.Driver, err)
	}
	// a newer Ampel's warehouse is refused here too, as migrate.Up does
	// for the writing commands
	var newer *migrate.NewerError
	if _, _, err := migrate.Status(ctx, s, ampelsql.Schema); errors.As(err, &newer) {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openMigrated opens the warehouse and applies pending migrations, as
// every command that writes does on start.
func openMigrated(ctx context.Context, cfg *config.Config, log *slog.Logger) (warehouse.Store, error) {
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if _, err := migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{Logger: log, Hook: crashHook()}); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}
