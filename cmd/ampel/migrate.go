package main

import (
	"context"
	"fmt"
	"time"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse/migrate"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("migrate", "migrate --config FILE [--status]")
	var c commonFlags
	c.register(fs)
	status := fs.Bool("status", false, "list applied and pending migrations; apply nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	log := e.logger(cfg.Log)
	s, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()

	if *status {
		applied, pending, err := migrate.Status(ctx, s, ampelsql.Schema)
		if err != nil {
			return err
		}
		for _, a := range applied {
			fmt.Fprintf(e.stdout, "applied  %s  %s\n", a.AppliedAt.Format(time.RFC3339), a.Name)
		}
		for _, p := range pending {
			fmt.Fprintf(e.stdout, "pending  %-20s  %s\n", "", p.Name)
		}
		return nil
	}
	done, err := migrate.Up(ctx, s, ampelsql.Schema, migrate.Options{Logger: log, Hook: crashHook()})
	for _, m := range done {
		fmt.Fprintf(e.stdout, "applied %s\n", m.Name)
	}
	if err != nil {
		return err
	}
	if len(done) == 0 {
		fmt.Fprintln(e.stdout, "the warehouse is up to date")
	}
	return nil
}
