package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// The lock. One table name; whoever creates it holds it. Its owner and
// time are the defaults of its two columns (sql/migrate/lock.sql), so they
// come into being with the lock itself: there is no moment when a lock
// exists without saying whose it is.
const lockTable = "schema_migrations_lock"

// Lock is a migration lock found in the warehouse.
type Lock struct {
	// Owner is host:pid of the migrator that took it.
	Owner string
	// Since is when it was taken.
	Since time.Time
	// Stale is true when its owner is gone (a process on this host that no
	// longer runs) or the lock is older than Options.StaleLock: the next
	// migrator takes it over.
	Stale bool
}

// inProcess serialises migrators in one process, whose locks carry the
// same pid and so cannot be told apart by liveness.
var inProcess sync.Mutex

func (r *runner) lock(ctx context.Context) (unlock func(), err error) {
	opts := r.opts
	if !tryLockInProcess(ctx, opts.LockTimeout) {
		return nil, fmt.Errorf("%w (another migration in this process)", ErrLockTimeout)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s:%d", host, os.Getpid())
	deadline := time.Now().Add(opts.LockTimeout)
	wait := 50 * time.Millisecond
	for {
		err := r.exec(ctx, "lock.sql", map[string]any{"Table": lockTable}, owner, uint32(time.Now().Unix()))
		if err == nil {
			return func() {
				// a fresh context: the lock must go even when ctx was canceled
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if err := r.exec(dctx, "drop.sql", map[string]any{"Table": lockTable}); err != nil {
					opts.Logger.Error("migration lock: could not release; drop table "+lockTable+" by hand", "err", err)
				}
				inProcess.Unlock()
			}, nil
		}
		if warehouse.ErrorCode(err) != warehouse.CodeTableAlreadyExists {
			inProcess.Unlock()
			return nil, fmt.Errorf("take migration lock: %w", err)
		}
		held, err := r.readLock(ctx)
		if err == nil && held != nil && held.Stale {
			if err := r.takeOver(ctx, held); err != nil {
				inProcess.Unlock()
				return nil, err
			}
			continue
		}
		if time.Now().After(deadline) {
			inProcess.Unlock()
			who, since := "unknown", "unknown"
			if held != nil {
				who, since = held.Owner, held.Since.Format(time.RFC3339)
			}
			return nil, fmt.Errorf("%w: held by %s since %s; if no migration is running there, drop table %s",
				ErrLockTimeout, who, since, lockTable)
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

// takeOver removes a stale lock. It renames the lock table first, which
// only one of several migrators that found it stale can do, and checks
// that what it renamed is the stale lock: a migrator that saw the stale
// lock but lost the race to one that has taken the lock anew since does
// not remove the new lock.
func (r *runner) takeOver(ctx context.Context, stale *Lock) error {
	r.opts.Logger.Warn("migration lock: taking over a stale lock", "owner", stale.Owner, "since", stale.Since)
	aside := fmt.Sprintf("%s_stale_%d_%d", lockTable, os.Getpid(), time.Now().UnixNano())
	err := r.exec(ctx, "rename.sql", map[string]any{"Table": lockTable, "To": aside})
	if warehouse.ErrorCode(err) == warehouse.CodeUnknownTable {
		return nil // another migrator removed it first
	}
	if err != nil {
		return fmt.Errorf("take over the stale migration lock: %w", err)
	}
	moved, err := readLockTable(ctx, r.s, aside, r.opts.StaleLock)
	if err == nil && moved != nil && moved.Owner != stale.Owner {
		// a live lock taken after the stale one went: put it back
		if err := r.exec(ctx, "rename.sql", map[string]any{"Table": aside, "To": lockTable}); err != nil {
			r.opts.Logger.Error("migration lock: could not put back a lock moved by mistake", "owner", moved.Owner, "table", aside, "err", err)
		}
		return nil
	}
	if err := r.exec(ctx, "drop.sql", map[string]any{"Table": aside}); err != nil {
		return fmt.Errorf("drop the stale migration lock: %w", err)
	}
	return nil
}

// readLock returns the lock held in the warehouse, nil if none.
func (r *runner) readLock(ctx context.Context) (*Lock, error) {
	return readLockTable(ctx, r.s, lockTable, r.opts.StaleLock)
}

// readLockTable reads the owner and time of the lock table name from its
// columns' defaults; nil if the table does not exist. A lock left by an
// Ampel from before the defaults (owner in a row) is read from its row;
// such a lock without a row was left by a migrator killed between
// creating it and writing the row, and is stale.
func readLockTable(ctx context.Context, s warehouse.Store, name string, staleAfter time.Duration) (*Lock, error) {
	rows, err := s.Query(ctx, "SELECT name, default_expression FROM system.columns WHERE database = currentDatabase() AND table = ?", name)
	if err != nil {
		return nil, fmt.Errorf("read the migration lock: %w", err)
	}
	defaults := map[string]string{}
	for rows.Next() {
		var col, def string
		if err := rows.Scan(&col, &def); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the migration lock: %w", err)
		}
		defaults[col] = def
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the migration lock: %w", err)
	}
	if len(defaults) == 0 {
		return nil, nil
	}
	l := &Lock{}
	owner, okOwner := unquote(defaults["owner"])
	secs, errSecs := strconv.ParseInt(defaults["acquired_at"], 10, 64)
	if okOwner && errSecs == nil {
		l.Owner, l.Since = owner, time.Unix(secs, 0).UTC()
	} else if !legacyLock(ctx, s, name, l) {
		l.Owner, l.Since, l.Stale = "unknown (a lock killed while it was taken)", time.Time{}, true
		return l, nil
	}
	l.Stale = staleLock(l, staleAfter)
	return l, nil
}

// legacyLock reads the owner row of a lock from an earlier Ampel into l.
func legacyLock(ctx context.Context, s warehouse.Store, name string, l *Lock) bool {
	rows, err := s.Query(ctx, "SELECT owner, acquired_at FROM "+warehouse.QuoteIdentifier(name)+" LIMIT 1")
	if err != nil {
		return false
	}
	defer rows.Close()
	return rows.Next() && rows.Scan(&l.Owner, &l.Since) == nil
}

// staleLock reports whether l's owner is a process on this host that is
// gone (or this process, which holds the in-process lock, so the lock is
// a leftover), or l is older than staleAfter.
func staleLock(l *Lock, staleAfter time.Duration) bool {
	if time.Since(l.Since) > staleAfter {
		return true
	}
	host, _ := os.Hostname()
	h, pidText, ok := strings.Cut(l.Owner, ":")
	pid, err := strconv.Atoi(pidText)
	return ok && err == nil && h == host && (pid == os.Getpid() || !processAlive(pid))
}

// clearStaleLock removes a stale lock when nothing is pending: a migrator
// killed after its last migration was recorded leaves one behind.
func (r *runner) clearStaleLock(ctx context.Context) {
	if !inProcess.TryLock() {
		return // a migration of this process runs: its lock is not stale
	}
	defer inProcess.Unlock()
	held, err := r.readLock(ctx)
	if err != nil || held == nil || !held.Stale {
		return
	}
	if err := r.takeOver(ctx, held); err != nil {
		r.opts.Logger.Warn("migration lock: could not remove a stale lock", "err", err)
	}
}

// unquote reads a ClickHouse string literal as the engine prints a default
// expression: 'text' with backslash escapes.
func unquote(lit string) (string, bool) {
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", false
	}
	var b strings.Builder
	body := lit[1 : len(lit)-1]
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) {
			i++
		}
		b.WriteByte(body[i])
	}
	return b.String(), true
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

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
