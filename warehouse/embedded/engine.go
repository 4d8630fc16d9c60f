//go:build cgo

package embedded

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ampel/ampel/warehouse"
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
	// The engine creates files from its own threads for as long as it
	// runs, so only a process-wide umask keeps them private.
	syscall.Umask(0o077)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	f, err := lockDir(ctx, dir, wait)
	if err != nil {
		return err
	}
	if err := makePrivate(dir); err != nil {
		f.Close()
		return err
	}
	if err := writeEngineConfig(dir); err != nil {
		f.Close()
		return err
	}
	engine.path, engine.lock, engine.refs = dir, f, 1
	return nil
}

// Files of the engine's configuration in the data directory, and the
// directory the engine may read files from (always empty).
const (
	engineConfigFile = "ampel-engine.xml"
	engineUsersFile  = "ampel-users.xml"
	userFilesDir     = "user_files"
)

// engineGrants are the only privileges the engine's user has: what Ampel's
// own statements need. Left out are the sources (FILE, URL, REMOTE, S3, …:
// table functions and engines that read files or other servers), SYSTEM,
// INTROSPECTION, dictGet and access management. A statement that needs one
// fails with ACCESS_DENIED (code 497), also under DESCRIBE and before any
// connection is made. BACKUP is for Store.Backup; the engine's
// configuration confines it to Path/backups. Add a privilege here when
// Ampel needs one.
const engineGrants = "SHOW, SELECT, INSERT, ALTER, CREATE, DROP, TRUNCATE, OPTIMIZE, KILL QUERY, BACKUP"

// writeEngineConfig writes the configuration every connection passes to
// the engine with --config-file (see the package comment, "Read-only
// statements"): a private, empty user_files directory and a user without
// file or network privileges. It is rewritten at each start, so a new
// Ampel's settings apply to an old warehouse.
func writeEngineConfig(dir string) error {
	userFiles := filepath.Join(dir, userFilesDir)
	if err := os.MkdirAll(userFiles, 0o700); err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	if err := os.Chmod(userFiles, 0o700); err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	config := `<clickhouse>
    <!-- written by Ampel at each start; see warehouse/embedded -->
    <user_files_path>` + esc(userFiles+"/") + `</user_files_path>
    <users_config>` + esc(filepath.Join(dir, engineUsersFile)) + `</users_config>
    <!-- clickhouse-local (libchdb 26.7.3) ignores this; the grants in the users file keep the engine off the network -->
    <remote_url_allow_hosts></remote_url_allow_hosts>
    <!-- BACKUP and RESTORE (Store.Backup, Store.Restore) write and read here only; no disk is allowed -->
    <backups><allowed_path>` + esc(filepath.Join(dir, backupsDir)+"/") + `</allowed_path></backups>
</clickhouse>
`
	users := `<clickhouse>
    <!-- written by Ampel at each start; see warehouse/embedded -->
    <profiles><default></default></profiles>
    <quotas><default></default></quotas>
    <users>
        <default>
            <password></password>
            <networks><ip>::/0</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
            <grants><query>GRANT ` + engineGrants + ` ON *.*</query></grants>
        </default>
    </users>
</clickhouse>
`
	for name, text := range map[string]string{engineConfigFile: config, engineUsersFile: users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("embedded warehouse: %w", err)
		}
	}
	return nil
}

// makePrivate makes dir 0700. A directory that was open to others (made by
// an older Ampel, or by hand) has every directory below it made 0700 and
// every file 0600: it holds customer data.
func makePrivate(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("embedded warehouse: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(path, 0o700)
		case d.Type().IsRegular():
			return os.Chmod(path, 0o600)
		}
		return nil // symbolic links have no mode of their own
	})
	if err != nil {
		return fmt.Errorf("embedded warehouse: make %s private: %w", dir, err)
	}
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

// inUseError is lockDir's error when another process holds the
// directory; it matches warehouse.ErrInUse.
type inUseError string

func (e inUseError) Error() string { return string(e) }

// Is reports whether target is warehouse.ErrInUse.
func (e inUseError) Is(target error) bool { return target == warehouse.ErrInUse }

// lockDir takes an exclusive flock on dir/ampel.lock, retrying until wait
// has passed or ctx ends, and writes this process's pid into it.
func lockDir(ctx context.Context, dir string, wait time.Duration) (*os.File, error) {
	name := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
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
			return nil, inUseError(fmt.Sprintf("embedded warehouse: warehouse directory %s is in use by %s; waited %s", dir, owner, wait))
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
