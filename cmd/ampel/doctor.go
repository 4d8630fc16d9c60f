package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector/dataverse"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse/migrate"
)

// runDoctor checks what a sync needs, one line per check: the warehouse
// (reachable, migrations), and per environment the token, the application
// user, and per table the metadata, read privilege and change tracking.
// It changes nothing. Exit 1 when a check failed.
func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("doctor", "doctor --config FILE")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	log := e.logger(cfg.Log)
	d := &doctor{w: e.stdout}

	// the warehouse
	func() {
		start := time.Now()
		s, err := openStore(ctx, cfg, log)
		if err != nil {
			d.fail("warehouse", err)
			return
		}
		defer s.Close()
		d.ok("warehouse", fmt.Sprintf("%s driver, ClickHouse %s, database %s (%s)", cfg.Warehouse.Driver, s.Dialect().Version, cfg.Warehouse.Database, time.Since(start).Round(time.Millisecond)))
		applied, pending, err := migrate.Status(ctx, s, ampelsql.Schema)
		switch {
		case err != nil:
			d.fail("migrations", err)
		case len(pending) > 0:
			d.warn("migrations", fmt.Sprintf("%d applied, %d pending: run ampel migrate (sync does it on start)", len(applied), len(pending)))
		default:
			d.ok("migrations", fmt.Sprintf("%d applied, none pending", len(applied)))
		}
	}()

	for _, env := range cfg.Environments {
		d.environment(ctx, cfg, env, e)
	}
	if d.failed > 0 {
		return fmt.Errorf("%d of %d checks failed", d.failed, d.checks)
	}
	fmt.Fprintf(e.stdout, "all %d checks passed\n", d.checks)
	return nil
}

type doctor struct {
	w              io.Writer
	checks, failed int
}

func (d *doctor) ok(what, detail string) {
	d.checks++
	fmt.Fprintf(d.w, "ok    %-32s %s\n", what, detail)
}

func (d *doctor) warn(what, detail string) {
	d.checks++
	fmt.Fprintf(d.w, "warn  %-32s %s\n", what, detail)
}

func (d *doctor) fail(what string, err error) {
	d.checks++
	d.failed++
	fmt.Fprintf(d.w, "FAIL  %-32s %s\n", what, oneLine(err.Error()))
}

func (d *doctor) environment(ctx context.Context, cfg *config.Config, env config.Environment, e *env) {
	name := "environment " + env.Name
	client, err := dataverse.New(ctx, clientConfig(cfg, env, e.logger(cfg.Log)))
	if err != nil {
		d.fail(name, err)
		return
	}
	who, err := client.WhoAmI(ctx)
	if err != nil {
		d.fail(name+": token and app user", err)
		return
	}
	d.ok(name+": token and app user", fmt.Sprintf("%s reached as user %s", env.URL, who.UserID))
	for _, t := range cfg.Sync.Tables {
		what := env.Name + "/" + t.Name
		ent, err := client.EntityDefinition(ctx, t.Name)
		if err != nil {
			d.fail(what, err)
			continue
		}
		// one row proves the read privilege
		r := client.Read(ctx, dataverse.Query{EntitySet: ent.EntitySetName, Select: []string{ent.PrimaryIDAttribute}, PageSize: 1})
		_, err = r.Next(ctx)
		r.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			d.fail(what, err)
			continue
		}
		if !ent.ChangeTrackingEnabled {
			d.warn(what, "readable; change tracking is off: synced by modifiedon, deletes cannot be seen (enable Track changes on the table)")
			continue
		}
		d.ok(what, "readable, change tracking on")
	}
}
