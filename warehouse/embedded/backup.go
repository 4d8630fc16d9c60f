//go:build cgo

package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/ampel/ampel/warehouse"
)

var _ warehouse.Backuper = (*Store)(nil)

// backupsDir is the directory in the data directory where the engine
// writes a backup and reads one to restore: the only place its BACKUP
// statement may write (backups.allowed_path).
const backupsDir = "backups"

// writeGate keeps writes and backups apart in the process: every writing
// statement (Exec and Batch.Send outside read-only contexts) holds one
// unit while it runs, a backup all of them. The semaphore is FIFO, so a
// waiting backup holds off new writes until the ones in flight are done,
// and the backup sees the warehouse between two statements.
var writeGate = semaphore.NewWeighted(gateUnits)

const gateUnits = 1 << 30

// enterWrite waits until no backup runs or waits, then counts one write.
func enterWrite(ctx context.Context) (leave func(), err error) {
	if err := writeGate.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { writeGate.Release(1) }, nil
}

// Backup writes a copy of the store's database to dir with the engine's
// BACKUP DATABASE; see warehouse.Backuper and the package comment.
func (s *Store) Backup(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("backup: %s exists already: name a new directory", dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	if fi, err := os.Stat(filepath.Dir(dir)); err != nil || !fi.IsDir() {
		return fmt.Errorf("backup: the parent of %s is not a directory", dir)
	}
	stage, err := s.stageDir("backup")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)

	// every write in flight finishes first; new ones wait
	if err := writeGate.Acquire(ctx, gateUnits); err != nil {
		return fmt.Errorf("backup: waiting for the writes in flight: %w", err)
	}
	err = s.execWhole(ctx, "BACKUP DATABASE "+warehouse.QuoteIdentifier(s.db)+" TO File("+quote(stage)+")")
	writeGate.Release(gateUnits)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := moveDir(stage, dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// Restore fills the store's database from a directory Backup wrote, with
// the engine's RESTORE DATABASE; see warehouse.Backuper.
func (s *Store) Restore(ctx context.Context, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	from, err := BackupDatabase(dir)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rows, err := s.Query(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var n uint64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	err = errors.Join(err, rows.Err(), rows.Close())
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("restore: %w (%d in database %s at %s): restore into a new directory", warehouse.ErrNotEmpty, n, s.db, s.dir)
	}
	stage, err := s.stageDir("restore")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	// the engine reads backups only below backupsDir: link the files
	// there (a copy when dir is on another file system)
	if err := copyTree(dir, stage, true); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	leave, err := enterWrite(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer leave()
	q := "RESTORE DATABASE " + warehouse.QuoteIdentifier(from) + " AS " + warehouse.QuoteIdentifier(s.db) + " FROM File(" + quote(stage) + ")"
	err = s.execWhole(ctx, q)
	s.schemas.forget()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// BackupDatabase names the database a backup directory holds (its
// metadata/<database>.sql), or says why dir is not a backup.
func BackupDatabase(dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, ".backup")); err != nil {
		return "", fmt.Errorf("%s is not a backup of an embedded warehouse (no .backup file in it)", dir)
	}
	sqls, err := filepath.Glob(filepath.Join(dir, "metadata", "*.sql"))
	if err != nil {
		return "", err
	}
	if len(sqls) != 1 {
		return "", fmt.Errorf("%s holds %d databases; a backup of an embedded warehouse holds one", dir, len(sqls))
	}
	return strings.TrimSuffix(filepath.Base(sqls[0]), ".sql"), nil
}

// execWhole runs BACKUP or RESTORE on a read-write connection, outside
// the write gate (the caller holds what it needs). The connection is
// closed after: the engine finishes such a statement in its own thread
// under the connection's query id, and the next statement on that
// connection was seen to fail with QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING.
func (s *Store) execWhole(ctx context.Context, q string) error {
	c, err := s.acquire(ctx, false)
	if err != nil {
		return err
	}
	_, err = s.run(ctx, c, q, "Null", nil)
	s.release(c, false, true)
	return err
}

// stageDir makes a new directory below backupsDir.
func (s *Store) stageDir(kind string) (string, error) {
	base := filepath.Join(s.dir, backupsDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("%s: %w", kind, err)
	}
	name := filepath.Join(base, kind+"-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	return name, nil
}

// moveDir renames src to dst, or copies it and removes src when dst is on
// another file system.
func moveDir(src, dst string) error {
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		return err
	}
	if err := copyTree(src, dst, false); err != nil {
		os.RemoveAll(dst)
		return err
	}
	return os.RemoveAll(src)
}

// copyTree copies the directory src to dst (which must not exist),
// directories 0700 and files 0600. With link, files are hard-linked
// where the file system allows.
func copyTree(src, dst string, link bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o700)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		if link && os.Link(p, target) == nil {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
