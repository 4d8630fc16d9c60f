package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/schema"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
)

// runDoctor checks what a sync needs, one line per check: the warehouse
// (reachable, migrations), and per environment the token, the application
// user, and per table the metadata, read privilege, change tracking and
// that each of its exclude_columns is a column of it. With the argument
// warehouse it checks the warehouse alone.
// It changes nothing. Exit 1 when a check failed.
//
// An embedded warehouse that ampel run, serve or demo holds (the engine
// admits one process) is checked by that process: its warehouse lines
// come through the local endpoint (doctor warehouse, run there), and the
// environments are checked here, with this config.
func runDoctor(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("doctor", "doctor --config FILE [warehouse]")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	warehouseOnly := fs.NArg() == 1
	if warehouseOnly && fs.Arg(0) != "warehouse" {
		return usageError{fmt.Errorf("unexpected argument %q: ampel doctor checks everything, ampel doctor warehouse the warehouse alone", fs.Arg(0))}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	log := e.logger(cfg.Log)
	d := &doctor{w: e.stdout, width: len("environments")}
	for _, env := range cfg.Environments {
		d.width = max(d.width, len(env.Name+tokenCheck))
		for _, t := range cfg.Sync.Tables {
			d.width = max(d.width, len(env.Name+"/"+t.Name))
		}
	}

	// the warehouse
	func() {
		if cfg.Warehouse.Driver == "embedded" && e.held == nil && d.viaHolder(ctx, cfg) {
			return
		}
		start := time.Now()
		var s warehouse.Store
		if e.held != nil {
			s = heldStore{e.held.store}
		} else if s, err = openStore(ctx, cfg, log); err != nil {
			d.fail("warehouse", err)
			return
		}
		defer s.Close()
		detail := fmt.Sprintf("%s driver, ClickHouse %s, database %s", cfg.Warehouse.Driver, s.Dialect().Version, cfg.Warehouse.Database)
		if e.held == nil {
			detail += fmt.Sprintf(" (%s)", time.Since(start).Round(time.Millisecond))
		}
		d.ok("warehouse", detail)
		d.migrations(ctx, s)
	}()

	if warehouseOnly {
		return d.summary(e.stdout)
	}
	if len(cfg.Environments) == 0 {
		d.warn("environments", "none configured: sync and run need one (see README, Configuration)")
	}
	for _, env := range cfg.Environments {
		d.environment(ctx, cfg, env, e)
	}
	return d.summary(e.stdout)
}

// summary ends the report: the error naming the first failed check, or
// the line saying that all passed.
func (d *doctor) summary(w io.Writer) error {
	switch {
	case d.failed == 1:
		return fmt.Errorf("1 of %d checks failed: %s: %s", d.checks, d.first, d.firstErr)
	case d.failed > 1:
		return fmt.Errorf("%d of %d checks failed, the first: %s: %s", d.failed, d.checks, d.first, d.firstErr)
	case d.warned > 0:
		fmt.Fprintf(w, "all %d checks passed, %d with a warning\n", d.checks, d.warned)
	default:
		fmt.Fprintf(w, "all %d checks passed\n", d.checks)
	}
	return nil
}

// heldBy is what a warehouse line checked by the running process adds.
const heldBy = "; held by the running ampel process, checked through its local endpoint"

// checkLine is one line of doctor's report: status, check, detail.
var checkLine = regexp.MustCompile(`^(ok|warn|FAIL) +(\S+)  +(.*)$`)

// viaHolder checks the embedded warehouse through the process that holds
// it, when one does: it runs doctor warehouse there and reports its check
// lines as its own. It returns false when no process holds the warehouse
// (the caller opens it).
func (d *doctor) viaHolder(ctx context.Context, cfg *config.Config) bool {
	var out, errs bytes.Buffer
	code, err := serve.LocalRun(ctx, filepath.Join(cfg.Warehouse.Path, serve.LocalSocket), []string{"doctor", "warehouse"}, &out, &errs)
	switch {
	case errors.Is(err, serve.ErrNoLocal):
		return false
	case err != nil:
		d.fail("warehouse", err)
		return true
	}
	lines := 0
	for l := range strings.Lines(out.String()) {
		m := checkLine.FindStringSubmatch(strings.TrimRight(l, "\n"))
		if m == nil {
			continue // the summary
		}
		lines++
		detail := m[3]
		if m[2] == "warehouse" {
			detail += heldBy
		}
		switch m[1] {
		case "ok":
			d.ok(m[2], detail)
		case "warn":
			d.warn(m[2], detail)
		default:
			d.fail(m[2], errors.New(detail))
		}
	}
	if lines == 0 || code != exitOK && d.failed == 0 {
		// a process that runs no doctor for others (an older Ampel) or
		// failed before it checked
		all := strings.Split(strings.TrimSpace(errs.String()), "\n")
		msg := strings.TrimSpace(all[len(all)-1])
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", code)
		}
		d.fail("warehouse", fmt.Errorf("the running ampel process holds it and could not check it: %s", msg))
	}
	return true
}

// migrations checks the warehouse's migrations and says what the state
// found needs: nothing, ampel migrate (which also finishes a migration an
// earlier run began, and takes over a lock its dead owner left), waiting
// for a migration that runs, or a fix by hand that the message names.
func (d *doctor) migrations(ctx context.Context, s warehouse.Store) {
	st, err := migrate.Inspect(ctx, s, ampelsql.Schema, migrate.Options{})
	if err != nil {
		d.fail("migrations", err)
		return
	}
	if st.Conflict != nil {
		d.fail("migrations", st.Conflict)
		return
	}
	counts := fmt.Sprintf("%d applied, %d pending", len(st.Applied), len(st.Pending))
	if len(st.Pending) == 0 {
		counts = fmt.Sprintf("%d applied, none pending", len(st.Applied))
	}
	lock := st.Lock
	if lock != nil && !lock.Stale {
		d.warn("migrations", fmt.Sprintf("%s; a migration is running (%s since %s): wait for it, or if no ampel runs there, drop table schema_migrations_lock",
			counts, lock.Owner, lock.Since.Format(time.RFC3339)))
		return
	}
	var notes []string
	for _, m := range st.Pending {
		if done := st.Begun[m.Name]; len(done) > 0 {
			notes = append(notes, fmt.Sprintf("%s was interrupted (%s)", m.Name, strings.Join(done, ", ")))
		}
	}
	if lock != nil {
		notes = append(notes, fmt.Sprintf("a lock left by a migrator that died (%s since %s)", lock.Owner, lock.Since.Format(time.RFC3339)))
	}
	switch {
	case len(st.Pending) > 0 && len(notes) > 0:
		d.warn("migrations", fmt.Sprintf("%s; %s: run ampel migrate to finish (sync does it on start)", counts, strings.Join(notes, "; ")))
	case len(st.Pending) > 0:
		d.warn("migrations", counts+": run ampel migrate (sync does it on start)")
	case lock != nil:
		d.warn("migrations", fmt.Sprintf("%s; %s: ampel migrate removes it", counts, notes[0]))
	default:
		d.ok("migrations", counts)
	}
}

// tokenCheck names the check of an environment's token and application
// user, after the environment's name.
const tokenCheck = ": token and app user"

// doctor prints one line per check: status, check name (in a column as
// wide as the longest name), detail. The stderr line of a failed run names
// the first failure, so a script's log says what to fix.
type doctor struct {
	w                      io.Writer
	width                  int
	checks, failed, warned int
	first, firstErr        string
}

func (d *doctor) line(status, what, detail string) {
	d.checks++
	fmt.Fprintf(d.w, "%-4s  %-*s  %s\n", status, d.width, what, detail)
}

func (d *doctor) ok(what, detail string) { d.line("ok", what, detail) }

func (d *doctor) warn(what, detail string) {
	d.warned++
	d.line("warn", what, detail)
}

func (d *doctor) fail(what string, err error) {
	msg := oneLine(refusal(err).Error())
	if d.failed == 0 {
		d.first, d.firstErr = what, msg
	}
	d.failed++
	d.line("FAIL", what, msg)
}

func (d *doctor) environment(ctx context.Context, cfg *config.Config, env config.Environment, e *env) {
	name := env.Name + tokenCheck
	client, err := dataverse.New(ctx, clientConfig(cfg, env, e.logger(cfg.Log)))
	if err != nil {
		d.fail(name, err)
		return
	}
	who, err := client.WhoAmI(ctx)
	if err != nil {
		// every table would fail the same way
		d.fail(name, err)
		return
	}
	d.ok(name, fmt.Sprintf("%s reached as user %s", env.URL, who.UserID))
	for _, t := range cfg.Sync.Tables {
		what := env.Name + "/" + t.Name
		// the metadata, then one row read as a sync reads it (with change
		// tracking when the table has it, which needs organization-level Read)
		ent, err := client.CheckTable(ctx, t.Name)
		if err != nil && !errors.Is(err, io.EOF) {
			d.fail(what, err)
			continue
		}
		// an exclude_columns typo would sync the column it meant to leave
		// out; the sync refuses such a table, and doctor says so first
		if err := schema.CheckExclude(ent, t.ExcludeColumns); err != nil {
			d.fail(what, err)
			continue
		}
		if !ent.ChangeTrackingEnabled {
			d.warn(what, "readable; change tracking is off: synced by modifiedon, deletes found by reading every key (sync.reconcile); enable Track changes on the table to read only changes")
			continue
		}
		d.ok(what, "readable, change tracking on")
	}
}

// refusal is the Dataverse or Entra ID answer inside err, if there is one:
// it says what to fix, and the check's name already says where.
func refusal(err error) error {
	var api *dataverse.APIError
	var auth *dataverse.AuthError
	switch {
	case errors.As(err, &auth):
		return auth
	case errors.As(err, &api):
		return api
	}
	return err
}
