// Package backup makes and restores backups of an embedded warehouse:
// what `ampel backup` and `ampel restore` run.
//
// A backup is a directory: the engine's own backup of the database
// (written by warehouse.Backuper, see warehouse/embedded) and
// ampel-backup.json, a Manifest that says which Ampel made it, of which
// database, when, and which migrations the warehouse had. Create refuses
// a warehouse migrated by a newer Ampel, as every command does; Restore
// refuses a backup whose migrations this binary does not know, before it
// changes anything, with the same *migrate.NewerError. A restore needs a
// database without tables (a new warehouse directory); migrations this
// binary has and the backup lacks are left to the caller (migrate.Up), so
// a backup of an older Ampel restores into a newer one.
//
// A ClickHouse server is backed up with the server's own BACKUP … TO Disk
// or S3; Create and Restore return ErrNotSupported for a store that cannot
// back itself up.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
)

// ManifestFile is the name of the manifest in a backup directory.
const ManifestFile = "ampel-backup.json"

// Manifest describes a backup.
type Manifest struct {
	// Format is the manifest's version, 1.
	Format int `json:"format"`
	// Ampel is the version of the Ampel that made the backup.
	Ampel string `json:"ampel"`
	// Engine is the driver and engine version, e.g. "embedded 26.7.2.1".
	Engine string `json:"engine"`
	// Database is the database the backup holds.
	Database string `json:"database"`
	// Created is when the backup was taken.
	Created time.Time `json:"created"`
	// Took is how long taking it took.
	Took Duration `json:"took"`
	// Migrations are the applied migrations, in order.
	Migrations []string `json:"migrations"`
}

// Duration is a time.Duration written as text ("1.2s").
type Duration time.Duration

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// ErrNotSupported is returned for a store that cannot back itself up (the
// clickhouse driver).
var ErrNotSupported = errors.New("this warehouse driver has no backup of its own: " +
	"back a ClickHouse server up with its own BACKUP … TO Disk or S3 (README, Backup and restore)")

// Create writes a backup of s to dir, which must not exist yet. schema
// holds the binary's migrations; version is written to the manifest.
func Create(ctx context.Context, s warehouse.Store, dir string, schema fs.FS, version string) (*Manifest, error) {
	b, ok := s.(warehouse.Backuper)
	if !ok {
		return nil, ErrNotSupported
	}
	applied, _, err := migrate.Status(ctx, s, schema)
	if err != nil {
		return nil, err
	}
	db, err := currentDatabase(ctx, s)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: 1, Ampel: version, Engine: s.Dialect().Driver + " " + s.Dialect().Version.String(), Database: db, Created: time.Now().UTC()}
	for _, a := range applied {
		m.Migrations = append(m.Migrations, a.Name)
	}
	start := time.Now()
	if err := b.Backup(ctx, dir); err != nil {
		return nil, err
	}
	m.Took = Duration(time.Since(start).Round(time.Millisecond))
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// Read reads the manifest of the backup in dir.
func Read(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not an Ampel backup (no %s in it): make one with ampel backup", dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != 1 {
		return nil, fmt.Errorf("%s: format %d; this Ampel reads format 1: use the Ampel that made the backup, or a newer one", filepath.Join(dir, ManifestFile), m.Format)
	}
	return &m, nil
}

// Restore fills s, which must hold no tables, from the backup in dir.
// schema holds the binary's migrations: a backup with migrations numbered
// above them is refused first, with a *migrate.NewerError.
func Restore(ctx context.Context, s warehouse.Store, dir string, schema fs.FS) (*Manifest, error) {
	b, ok := s.(warehouse.Backuper)
	if !ok {
		return nil, ErrNotSupported
	}
	m, err := Check(dir, schema)
	if err != nil {
		return nil, err
	}
	if err := b.Restore(ctx, dir); err != nil {
		return nil, err
	}
	return m, nil
}

// Check reads the manifest of the backup in dir and refuses a backup
// whose migrations are numbered above every one in schema (made by a
// newer Ampel) with a *migrate.NewerError. Restore calls it first; a
// command calls it before it opens, and so creates, the warehouse to
// restore into.
func Check(dir string, schema fs.FS) (*Manifest, error) {
	m, err := Read(dir)
	if err != nil {
		return nil, err
	}
	if err := checkNewer(m.Migrations, schema); err != nil {
		return nil, err
	}
	return m, nil
}

var version = regexp.MustCompile(`^(\d{4})_`)

// checkNewer refuses migrations numbered above every one in schema.
func checkNewer(names []string, schema fs.FS) error {
	ms, err := migrate.Load(schema)
	if err != nil {
		return err
	}
	newest := 0
	for _, m := range ms {
		newest = max(newest, m.Version)
	}
	var newer []string
	for _, n := range names {
		if v := version.FindStringSubmatch(n); v != nil {
			if k, _ := strconv.Atoi(v[1]); k > newest {
				newer = append(newer, n)
			}
		}
	}
	if len(newer) > 0 {
		return &migrate.NewerError{Unknown: newer}
	}
	return nil
}

func currentDatabase(ctx context.Context, s warehouse.Store) (string, error) {
	rows, err := s.Query(ctx, "SELECT currentDatabase()")
	if err != nil {
		return "", err
	}
	var db string
	if rows.Next() {
		err = rows.Scan(&db)
	}
	return db, errors.Join(err, rows.Err(), rows.Close())
}
