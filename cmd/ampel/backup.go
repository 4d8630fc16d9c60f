package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/backup"
	"github.com/ampel/ampel/warehouse/migrate"
)

func runBackup(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("backup", "backup --config FILE --to DIR")
	var c commonFlags
	c.register(fs)
	to := fs.String("to", "", "the `directory` to write the backup to; it must not exist yet")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return usageError{errors.New("--to DIR is required: the directory to write the backup to")}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if cfg.Warehouse.Driver != "embedded" {
		return backup.ErrNotSupported
	}
	s, err := openExisting(ctx, cfg, e.logger(cfg.Log))
	if errors.Is(err, warehouse.ErrInUse) {
		return fmt.Errorf("%w; ampel backup cannot go through a running ampel run yet: stop it, back up, start it again", err)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := backup.Create(ctx, s, *to, ampelsql.Schema, versionString())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backed up database %s (%d migrations applied) to %s in %s\n",
		m.Database, len(m.Migrations), *to, time.Duration(m.Took))
	return nil
}

func runRestore(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("restore", "restore --config FILE --from DIR")
	var c commonFlags
	c.register(fs)
	from := fs.String("from", "", "the `directory` ampel backup wrote")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return usageError{errors.New("--from DIR is required: the directory ampel backup wrote")}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if cfg.Warehouse.Driver != "embedded" {
		return backup.ErrNotSupported
	}
	// refused before the warehouse directory is made
	if _, err := backup.Check(*from, ampelsql.Schema); err != nil {
		return err
	}
	log := e.logger(cfg.Log)
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	m, err := backup.Restore(ctx, s, *from, ampelsql.Schema)
	if err != nil {
		return err
	}
	done, err := migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(e.stdout, "restored database %s from %s (taken %s by ampel %s) into %s in %s",
		m.Database, *from, m.Created.Format(time.RFC3339), m.Ampel, cfg.Warehouse.Path, time.Since(start).Round(time.Millisecond))
	if len(done) > 0 {
		fmt.Fprintf(e.stdout, "; applied %d newer migrations", len(done))
	}
	fmt.Fprintln(e.stdout)
	return nil
}
