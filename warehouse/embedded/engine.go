//go:build cgo

package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// engine is the process's one ClickHouse engine, bound to one data
// directory for the life of the process.
var engine struct {
	mu   sync.Mutex
	path string   // the data directory, once a store opened one
	lock *os.File // the flock on path/ampel.lock, held until the process exits
	refs int      // open stores
}

// lockFile is the file in the data directory that one process at a time holds.
const lockFile = "ampel.lock"

// acquireEngine binds the engine to dir (absolute) or checks it already is,
// and counts one more store on it.
func acquireEngine(ctx context.Context, dir string, wait time.Duration) error {
	engine.mu.Lock()
	defer engine.mu.Unlock()
	if engine.path != "" {
		if engine.path != dir {
			return fmt.Errorf("embedded warehouse: this process already runs the engine on %s; libchdb allows one data directory per process (asked for %s)", engine.path, dir)
		}
		engine.refs++
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	f, err := lockDir(ctx, dir, wait)
	if err != nil {
		return err
	}
	engine.path, engine.lock, engine.refs = dir, f, 1
	return nil
}

// releaseEngine counts one store less. The engine and the directory lock
// stay: libchdb cannot boot again on another directory in this process,
// and background merges may still write to this one.
func releaseEngine() {
	engine.mu.Lock()
	engine.refs--
	engine.mu.Unlock()
}

// lockDir takes an exclusive flock on dir/ampel.lock, retrying until wait
// has passed or ctx ends, and writes this process's pid into it.
func lockDir(ctx context.Context, dir string, wait time.Duration) (*os.File, error) {
	name := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("embedded warehouse: lock %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			owner := "another process"
			if b, err := os.ReadFile(name); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					owner = fmt.Sprintf("another process (pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("embedded warehouse: warehouse directory %s is in use by %s; waited %s", dir, owner, wait)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("embedded warehouse: waiting for the lock on %s: %w", dir, ctx.Err())
		case <-tick.C:
		}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
