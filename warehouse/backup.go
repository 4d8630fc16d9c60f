package warehouse

import (
	"context"
	"errors"
)

// Backuper is a Store that copies its whole database to a directory and
// back by itself: the embedded driver, with the engine's own BACKUP and
// RESTORE. A ClickHouse server is backed up with the server's own BACKUP
// … TO Disk or S3 instead, which Ampel does not drive.
type Backuper interface {
	// Backup writes a copy of the store's database to dir, which must not
	// exist yet (its parent must). The copy is one point in time between
	// two writing statements of the process: writes wait while the engine
	// takes it, so every table is as it was at the same moment.
	Backup(ctx context.Context, dir string) error
	// Restore fills the store's database, which must hold no tables, from a
	// directory Backup wrote; the backup's database may have had another
	// name.
	Restore(ctx context.Context, dir string) error
}

// ErrInUse is matched (errors.Is) by the error of an Open that found the
// warehouse held by another process (the embedded driver admits one).
var ErrInUse = errors.New("the warehouse is in use by another process")

// ErrNotEmpty is wrapped by Backuper.Restore when the store's database
// already holds tables.
var ErrNotEmpty = errors.New("the warehouse already holds tables")
