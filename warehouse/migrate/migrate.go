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
// ClickHouse has no transactions. A migration that fails halfway is not
// recorded and runs again from its first statement on the next try, so every
// statement must be safe to run twice (CREATE … IF NOT EXISTS and the like).
//
// Two migrators at once — two processes, or two goroutines — are kept apart
// by a lock table, schema_migrations_lock: CREATE TABLE without IF NOT EXISTS
// succeeds for exactly one of them. The others wait (Options.LockTimeout)
// and then find nothing left to do. A lock left by a migrator that died is
// taken over when its process is gone (same host) or when it is older than
// Options.StaleLock.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

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

const createTracking = `CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC'),
    duration_ms UInt64
)
ENGINE = MergeTree
ORDER BY version`

// Status returns the applied migrations and the pending ones, after
// checking that every applied file is unchanged and still there.
func Status(ctx context.Context, s warehouse.Store, fsys fs.FS) (applied []Applied, pending []Migration, err error) {
	ms, err := Load(fsys)
	if err != nil {
		return nil, nil, err
	}
	if err := s.Exec(ctx, createTracking); err != nil {
		return nil, nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err = readApplied(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	pending, err = check(ms, applied)
	return applied, pending, err
}

func check(ms []Migration, applied []Applied) ([]Migration, error) {
	byVersion := make(map[int]Migration, len(ms))
	for _, m := range ms {
		byVersion[m.Version] = m
	}
	done := make(map[int]bool, len(applied))
	for _, a := range applied {
		m, ok := byVersion[a.Version]
		if !ok {
			return nil, fmt.Errorf("migration %s was applied on %s but its file is gone: restore it", a.Name, a.AppliedAt.Format(time.DateOnly))
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

func readApplied(ctx context.Context, s warehouse.Store) ([]Applied, error) {
	rows, err := s.Query(ctx, "SELECT version, name, checksum, applied_at, duration_ms FROM schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []Applied
	for rows.Next() {
		var a Applied
		var ms uint64
		if err := rows.Scan(&a.Version, &a.Name, &a.Checksum, &a.AppliedAt, &ms); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		a.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// Up applies the pending migrations in fsys in order and returns those it
// applied (none when the warehouse is current).
func Up(ctx context.Context, s warehouse.Store, fsys fs.FS, opts Options) ([]Migration, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 2 * time.Minute
	}
	if opts.StaleLock <= 0 {
		opts.StaleLock = 15 * time.Minute
	}
	_, pending, err := Status(ctx, s, fsys)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	unlock, err := lock(ctx, s, opts)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// another migrator may have run while we waited
	_, pending, err = Status(ctx, s, fsys)
	if err != nil {
		return nil, err
	}
	data := map[string]any{"Dialect": s.Dialect().TemplateData()}
	var done []Migration
	for _, m := range pending {
		start := time.Now()
		if err := apply(ctx, s, m, data); err != nil {
			return done, err
		}
		took := time.Since(start)
		err := s.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at, duration_ms) VALUES (?, ?, ?, ?, ?)",
			m.Version, m.Name, m.Checksum, start.UTC().Truncate(time.Second), took.Milliseconds())
		if err != nil {
			return done, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		opts.Logger.Info("applied migration", "name", m.Name, "duration", took.Round(time.Millisecond))
		done = append(done, m)
	}
	return done, nil
}

func apply(ctx context.Context, s warehouse.Store, m Migration, data any) error {
	script, err := warehouse.RenderText(m.Name, m.Body, data)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.Name, err)
	}
	stmts := warehouse.SplitStatements(script)
	for i, stmt := range stmts {
		if err := s.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("migration %s failed at statement %d of %d (the ones before it ran and will run again on the next try): %w",
				m.Name, i+1, len(stmts), err)
		}
	}
	return nil
}

// The lock. One table name; whoever creates it holds the lock.
const lockTable = "schema_migrations_lock"

// inProcess serialises migrators in one process, whose lock rows carry the
// same pid and so cannot be told apart by liveness.
var inProcess sync.Mutex

func lock(ctx context.Context, s warehouse.Store, opts Options) (unlock func(), err error) {
	if !tryLockInProcess(ctx, opts.LockTimeout) {
		return nil, fmt.Errorf("%w (another migration in this process)", ErrLockTimeout)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s:%d", host, os.Getpid())
	deadline := time.Now().Add(opts.LockTimeout)
	wait := 50 * time.Millisecond
	for {
		err := s.Exec(ctx, "CREATE TABLE "+lockTable+" (owner String, acquired_at DateTime('UTC')) ENGINE = Log")
		if err == nil {
			if err := s.Exec(ctx, "INSERT INTO "+lockTable+" (owner, acquired_at) VALUES (?, ?)", owner, time.Now().UTC().Truncate(time.Second)); err != nil {
				opts.Logger.Warn("migration lock: could not record owner", "err", err)
			}
			return func() {
				// a fresh context: the lock must go even when ctx was canceled
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := s.Exec(dctx, "DROP TABLE IF EXISTS "+lockTable); err != nil {
					opts.Logger.Error("migration lock: could not release; drop table "+lockTable+" by hand", "err", err)
				}
				inProcess.Unlock()
			}, nil
		}
		if warehouse.ErrorCode(err) != warehouse.CodeTableAlreadyExists {
			inProcess.Unlock()
			return nil, fmt.Errorf("take migration lock: %w", err)
		}
		holder, since, stale := lockHolder(ctx, s, host, opts.StaleLock)
		if stale {
			opts.Logger.Warn("migration lock: taking over a stale lock", "owner", holder, "since", since)
			if err := s.Exec(ctx, "DROP TABLE IF EXISTS "+lockTable); err != nil {
				inProcess.Unlock()
				return nil, fmt.Errorf("drop stale migration lock: %w", err)
			}
			continue
		}
		if time.Now().After(deadline) {
			inProcess.Unlock()
			return nil, fmt.Errorf("%w: held by %s since %s; if no migration is running there, drop table %s",
				ErrLockTimeout, holder, since.Format(time.RFC3339), lockTable)
		}
		select {
		case <-ctx.Done():
			inProcess.Unlock()
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Second)
	}
}

func tryLockInProcess(ctx context.Context, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !inProcess.TryLock() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond) // sync.Mutex has no timed lock
	}
	return true
}

// lockHolder reads who holds the lock and whether it is stale: its owner
// process on this host is gone, or it is older than staleAfter.
func lockHolder(ctx context.Context, s warehouse.Store, host string, staleAfter time.Duration) (owner string, since time.Time, stale bool) {
	rows, err := s.Query(ctx, "SELECT owner, acquired_at FROM "+lockTable+" LIMIT 1")
	if err != nil {
		return "unknown", time.Now(), false // just dropped, or not yet readable: try again
	}
	defer rows.Close()
	if !rows.Next() {
		return "unknown (lock being taken)", time.Now(), false
	}
	if err := rows.Scan(&owner, &since); err != nil {
		return "unknown", time.Now(), false
	}
	if time.Since(since) > staleAfter {
		return owner, since, true
	}
	h, pidText, ok := strings.Cut(owner, ":")
	pid, err := strconv.Atoi(pidText)
	// our own pid: this process holds inProcess, so the row is left over
	if ok && err == nil && h == host && (pid == os.Getpid() || !processAlive(pid)) {
		return owner, since, true
	}
	return owner, since, false
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
