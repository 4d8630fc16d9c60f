// Package migrate applies Ampel's numbered schema migrations to a
// warehouse.
//
// Migrations are files NNNN_name.sql (sql/schema, embedded in the binary).
// Each holds one or more statements separated by semicolons, and may use
// {{.Dialect.IsDeleted}}-style template conditions for what differs between
// ClickHouse versions (see warehouse.Dialect.TemplateData). Up applies the
// pending ones in order and records each in schema_migrations with its name,
// sha256 checksum and time. It refuses to run when a file that was applied
// has been edited or removed: applied migrations are history, changes go in
// a new file.
//
// # Forward only
//
// There are no down migrations. A binary older than the warehouse — one
// that lacks applied migrations numbered above its newest — is refused by
// Status, Inspect and Up with a *NewerError ("this warehouse was migrated
// by a newer Ampel (0009_…); use that version or newer"), so every command
// that reads the migrations refuses it before it reads or writes
// anything else. Going back means restoring a backup taken before the
// upgrade (README, "Upgrading").
//
// # Safe to run twice
//
// ClickHouse has no transactions, and a process can be killed between any
// two statements. A migration is recorded only after its last statement
// ran; one stopped halfway (an error, SIGKILL, a lost connection) runs
// again from its first statement on the next try — `ampel migrate` or any
// writing command. Hence the rule for every statement of every migration:
// run a second time, after any part of its migration has run, it changes
// nothing and does not fail. On both engines (ClickHouse 18.16 included):
//
//   - CREATE TABLE, VIEW or DATABASE … IF NOT EXISTS; DROP … IF EXISTS. A
//     view to replace is DROP TABLE IF EXISTS, then CREATE VIEW IF NOT
//     EXISTS (18.16 has neither CREATE OR REPLACE nor DROP VIEW).
//   - ALTER TABLE … ADD COLUMN and DROP COLUMN: the runner makes them
//     idempotent, because 18.16 has neither ADD COLUMN IF NOT EXISTS nor
//     DROP COLUMN IF EXISTS. Before such an ALTER it reads the table's
//     columns (system.columns) and leaves out each column that is there
//     already with the same type — or, to drop, is gone already. A column
//     that is there with another type stops the migration with a
//     *ConflictError that says what to fix; the runner never changes a type
//     on its own. An ALTER that adds or drops columns does nothing else
//     (one ALTER per kind of change), or the runner refuses it.
//   - MODIFY COLUMN to a type, and other statements that set a state, are
//     idempotent as written.
//   - No data changes (INSERT, ALTER … UPDATE or DELETE) unless written to
//     be repeatable, e.g. INSERT … SELECT of the rows not there yet.
//
// This is also what repairs a warehouse left by an earlier Ampel that was
// killed inside a migration (a column added, the migration not recorded):
// the next run skips what is there and records the migration.
// TestMigrationsRunTwice enforces the rule for every file in sql/schema,
// on both engines, so a new file is covered as soon as it is added.
//
// # Lock
//
// Two migrators at once — two processes, or two goroutines — are kept apart
// by a lock table, schema_migrations_lock: CREATE TABLE without IF NOT EXISTS
// succeeds for exactly one of them. The others wait (Options.LockTimeout)
// and then find nothing left to do. The lock's owner (host:pid) and time
// are defaults of its columns, written by the statement that takes it. A
// lock left by a migrator that died is taken over when its process is gone
// (same host) or when it is older than Options.StaleLock; a stale lock left
// after the last migration was recorded is removed by the next Up.
//
// On a cluster (warehouse.Dialect.Clustered) the same holds across nodes:
// the server driver sends the lock's CREATE, RENAME and DROP ON CLUSTER
// (warehouse.ClusterDDL), the Keeper's DDL queue orders two creators so
// that exactly one wins on every node, and schema_migrations is replicated
// to every node, so migrations run once for the cluster whichever node a
// migrator talks to. The column guard reads system.columns of that node,
// which has every one of Ampel's tables (they are replicated to all).
//
// The runner's own statements — the schema_migrations table, the lock,
// recording a migration — are templates in sql/migrate that see the
// engine's Dialect, like the migrations.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// Migration is one numbered file.
type Migration struct {
	Version  int
	Name     string // the file name, e.g. 0001_sync_runs.sql
	Checksum string // sha256 of the file, hex, line endings as LF
	Body     string // the file's text, a template
}

// Applied is a migration recorded in schema_migrations.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
	Duration  time.Duration
}

// Options tune Up.
type Options struct {
	// Hook, if set, is called at each point of Up where a crash test kills
	// the process: "locked" once the lock is held, "<file>#<k>" after
	// statement k of a migration ran, "<file>#recorded" once it is recorded.
	Hook func(point string)
	// Logger receives one line per applied migration; nil discards.
	Logger *slog.Logger
	// LockTimeout is how long to wait for another migrator. Default 2m.
	LockTimeout time.Duration
	// StaleLock is the age after which a lock is taken over even when its
	// owner's liveness cannot be checked (another host). Default 15m.
	StaleLock time.Duration
}

// ChecksumError says an applied migration's file was edited.
type ChecksumError struct {
	Name            string
	Applied, OnDisk string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("migration %s was edited after it was applied (applied sha256 %.12s…, file now %.12s…): "+
		"restore the file and put the change in a new migration", e.Name, e.Applied, e.OnDisk)
}

// ErrLockTimeout is returned when another migrator held the lock for
// longer than Options.LockTimeout.
var ErrLockTimeout = errors.New("migrate: timed out waiting for the migration lock")

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Load reads the migrations in fsys, sorted by version. Files that do not
// match NNNN_name.sql are an error, as are two files with one number.
func Load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name it NNNN_name.sql (four digits, lower-case name)", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same number", other, e.Name())
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		sum := sha256.Sum256([]byte(body))
		ms = append(ms, Migration{Version: v, Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), Body: body})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// trackingTable records the applied migrations.
const trackingTable = "schema_migrations"

// Statements renders m for the engine d and splits it into statements, as
// Up runs them.
func (m Migration) Statements(d warehouse.Dialect) ([]string, error) {
	script, err := ampelsql.RenderText(m.Name, m.Body, map[string]any{"Dialect": d.TemplateData()})
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return warehouse.SplitStatements(script), nil
}

// State is what Inspect finds in a warehouse.
type State struct {
	Applied []Applied
	Pending []Migration
	// Begun lists, per pending migration that had started before (a run
	// killed or failed inside it), what of it is in the warehouse already,
	// e.g. "column sync_state.next_link exists". Up finishes such a
	// migration.
	Begun map[string][]string
	// Conflict is a pending migration that cannot apply as the warehouse
	// stands (a column it adds exists with another type); nil if none.
	Conflict error
	// Lock is the migration lock, nil when none is held.
	Lock *Lock
}

// Status returns the applied migrations and the pending ones, after
// checking that every applied file is unchanged and still there. It
// changes nothing in the warehouse.
func Status(ctx context.Context, s warehouse.Store, fsys fs.FS) (applied []Applied, pending []Migration, err error) {
	ms, err := Load(fsys)
	if err != nil {
		return nil, nil, err
	}
	applied, err = readApplied(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	pending, err = check(ms, applied)
	return applied, pending, err
}

// Inspect is Status plus what the next Up would meet: the pending
// migrations that had begun, a conflict, and the lock. It changes nothing.
func Inspect(ctx context.Context, s warehouse.Store, fsys fs.FS, opts Options) (*State, error) {
	opts = opts.withDefaults()
	applied, pending, err := Status(ctx, s, fsys)
	if err != nil {
		return nil, err
	}
	st := &State{Applied: applied, Pending: pending, Begun: map[string][]string{}}
	for _, m := range pending {
		stmts, err := m.Statements(s.Dialect())
		if err != nil {
			return nil, err
		}
		for _, stmt := range stmts {
			step, err := guard(ctx, s, m.Name, stmt)
			if err != nil {
				if st.Conflict == nil {
					st.Conflict = err
				}
				continue
			}
			st.Begun[m.Name] = append(st.Begun[m.Name], step.done...)
		}
		if len(st.Begun[m.Name]) == 0 {
			delete(st.Begun, m.Name)
		}
	}
	r := &runner{s: s, opts: opts}
	if st.Lock, err = r.readLock(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// NewerError says the warehouse was migrated by a newer Ampel: it holds
// applied migrations numbered above the newest this binary has. Such a
// binary may not run on it: it would write in a schema it does not know.
type NewerError struct {
	// Unknown are the applied migrations this binary lacks, in order.
	Unknown []string
}

func (e *NewerError) Error() string {
	return fmt.Sprintf("this warehouse was migrated by a newer Ampel (%s); use that version or newer", strings.Join(e.Unknown, ", "))
}

func check(ms []Migration, applied []Applied) ([]Migration, error) {
	byVersion := make(map[int]Migration, len(ms))
	newest := 0
	for _, m := range ms {
		byVersion[m.Version] = m
		newest = max(newest, m.Version)
	}
	var newer []string
	for _, a := range applied {
		if _, ok := byVersion[a.Version]; !ok && a.Version > newest {
			newer = append(newer, a.Name)
		}
	}
	if len(newer) > 0 {
		return nil, &NewerError{Unknown: newer}
	}
	done := make(map[int]bool, len(applied))
	for _, a := range applied {
		m, ok := byVersion[a.Version]
		if !ok {
			return nil, fmt.Errorf("migration %s was applied on %s but this Ampel does not have its file: "+
				"restore the file (applied migrations are never removed)", a.Name, a.AppliedAt.Format(time.DateOnly))
		}
		if m.Checksum != a.Checksum {
			return nil, &ChecksumError{Name: m.Name, Applied: a.Checksum, OnDisk: m.Checksum}
		}
		done[a.Version] = true
	}
	var pending []Migration
	for _, m := range ms {
		if !done[m.Version] {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// readApplied reads schema_migrations; nothing is applied when the table
// does not exist yet.
func readApplied(ctx context.Context, s warehouse.Store) ([]Applied, error) {
	rows, err := s.Query(ctx, "SELECT version, name, checksum, applied_at, duration_ms FROM "+trackingTable+" ORDER BY version")
	if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", trackingTable, err)
	}
	defer rows.Close()
	var out []Applied
	seen := map[int]bool{}
	for rows.Next() {
		var a Applied
		var ms uint64
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt, &ms); err != nil {
			return nil, fmt.Errorf("read %s: %w", trackingTable, err)
		}
		if seen[a.Version] {
			continue // recorded twice by two migrators that both took over a stale lock
		}
		seen[a.Version] = true
		a.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Minute
	}
	if o.StaleLock <= 0 {
		o.StaleLock = 15 * time.Minute
	}
	if o.Hook == nil {
		o.Hook = func(string) {}
	}
	return o
}

// runner is one Up or Inspect on one store.
type runner struct {
	s    warehouse.Store
	opts Options
}

// exec runs one of the runner's own statements, the template name in
// sql/migrate, with data (and the Dialect) and args bound to its ?.
func (r *runner) exec(ctx context.Context, name string, data map[string]any, args ...any) error {
	data["Dialect"] = r.s.Dialect().TemplateData()
	q, err := ampelsql.Render(ampelsql.Migrate, name, data)
	if err != nil {
		return err
	}
	return r.s.Exec(ctx, q, args...)
}

// Up applies the pending migrations in fsys in order and returns those it
// applied (none when the warehouse is current). A migration that an
// earlier run began and did not finish is finished (see the package doc).
func Up(ctx context.Context, s warehouse.Store, fsys fs.FS, opts Options) ([]Migration, error) {
	r := &runner{s: s, opts: opts.withDefaults()}
	_, pending, err := Status(ctx, s, fsys)
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		r.clearStaleLock(ctx)
		return nil, nil
	}
	if err := r.exec(ctx, "tracking.sql", map[string]any{"Table": trackingTable}); err != nil {
		return nil, fmt.Errorf("create %s: %w", trackingTable, err)
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r.opts.Hook("locked")
	// another migrator may have run while we waited
	_, pending, err = Status(ctx, s, fsys)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range pending {
		start := time.Now()
		if err := r.apply(ctx, m); err != nil {
			return done, err
		}
		took := time.Since(start)
		err := r.exec(ctx, "record.sql", map[string]any{"Table": trackingTable},
			m.Version, m.Name, m.Checksum, start.UTC().Truncate(time.Second), took.Milliseconds())
		if err != nil {
			return done, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		r.opts.Hook(m.Name + "#recorded")
		r.opts.Logger.Info("applied migration", "name", m.Name, "duration", took.Round(time.Millisecond))
		done = append(done, m)
	}
	return done, nil
}

func (r *runner) apply(ctx context.Context, m Migration) error {
	stmts, err := m.Statements(r.s.Dialect())
	if err != nil {
		return err
	}
	for i, stmt := range stmts {
		step, err := guard(ctx, r.s, m.Name, stmt)
		if err != nil {
			return err
		}
		if len(step.done) > 0 {
			r.opts.Logger.Info("migration had begun before; leaving out what is done", "name", m.Name, "statement", i+1, "done", strings.Join(step.done, "; "))
		}
		if step.stmt != "" {
			if err := r.s.Exec(ctx, step.stmt); err != nil {
				return fmt.Errorf("migration %s failed at statement %d of %d (the ones before it ran and will run again on the next try): %w",
					m.Name, i+1, len(stmts), err)
			}
		}
		r.opts.Hook(m.Name + "#" + strconv.Itoa(i+1))
	}
	return nil
}
