package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/backup"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(restoreAndSyncChild())
	}
	warehousetest.Main(m)
}

func schema() fstest.MapFS {
	return fstest.MapFS{
		"0001_people.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS people (id UInt64) ENGINE = MergeTree ORDER BY id")},
		"0002_visits.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS visits (id UInt64) ENGINE = MergeTree ORDER BY id")},
	}
}

// TestCreate: the manifest names the database, the migrations and the
// engine, beside the engine's backup; an older binary (without the
// newest migration) is refused before it writes anything.
func TestCreate(t *testing.T) {
	ctx := context.Background()
	cfg := warehousetest.Embedded(t)
	s := warehousetest.Open(t, cfg)
	_, err := migrate.Up(ctx, s, schema(), migrate.Options{})
	require.NoError(t, err)

	dir := filepath.Join(t.TempDir(), "b")
	before := time.Now().UTC()
	m, err := backup.Create(ctx, s, dir, schema(), "v9.9.9")
	require.NoError(t, err)
	assert.Equal(t, cfg.Database, m.Database)
	assert.Equal(t, []string{"0001_people.sql", "0002_visits.sql"}, m.Migrations)
	assert.Equal(t, "embedded "+s.Dialect().Version.String(), m.Engine)
	assert.False(t, m.Created.Before(before.Truncate(time.Second)))

	read, err := backup.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, m.Migrations, read.Migrations)
	assert.Equal(t, "v9.9.9", read.Ampel)
	b, err := os.ReadFile(filepath.Join(dir, backup.ManifestFile))
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Equal(t, time.Duration(m.Took).String(), raw["took"])
	warehousetest.RequirePrivate(t, dir, 3)

	old := schema()
	delete(old, "0002_visits.sql")
	other := filepath.Join(t.TempDir(), "old")
	_, err = backup.Create(ctx, s, other, old, "v0.0.1")
	var ne *migrate.NewerError
	require.True(t, errors.As(err, &ne), "%v", err)
	_, err = os.Stat(other)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestRestoreRefuses: a backup this binary cannot use is refused before
// the warehouse changes — one made by a newer Ampel, a directory that is
// no Ampel backup — and so is a store that cannot restore at all.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	s := warehousetest.Open(t, warehousetest.Embedded(t))
	_, err := migrate.Up(ctx, s, schema(), migrate.Options{})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "b")
	_, err = backup.Create(ctx, s, dir, schema(), "v2")
	require.NoError(t, err)

	target := warehousetest.Open(t, warehousetest.Embedded(t))
	old := schema()
	delete(old, "0002_visits.sql")
	_, err = backup.Restore(ctx, target, dir, old)
	require.EqualError(t, err, "this warehouse was migrated by a newer Ampel (0002_visits.sql); use that version or newer")
	tables, err := target.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	require.NoError(t, err)
	assert.False(t, tables.Next(), "nothing was restored")
	require.NoError(t, tables.Close())

	empty := t.TempDir()
	_, err = backup.Restore(ctx, target, empty, schema())
	require.ErrorContains(t, err, "is not an Ampel backup (no ampel-backup.json in it): make one with ampel backup")

	// a restore into a database with tables: refused by the driver
	_, err = backup.Restore(ctx, s, dir, schema())
	require.ErrorContains(t, err, "the warehouse already holds tables")
}

// TestNotSupported: the clickhouse driver has no backup of its own.
func TestNotSupported(t *testing.T) {
	ctx := context.Background()
	s := warehousetest.Open(t, warehousetest.ClickHouse(t))
	_, err := backup.Create(ctx, s, filepath.Join(t.TempDir(), "b"), schema(), "v1")
	require.ErrorIs(t, err, backup.ErrNotSupported)
	_, err = backup.Restore(ctx, s, t.TempDir(), schema())
	require.ErrorIs(t, err, backup.ErrNotSupported)
	assert.Contains(t, backup.ErrNotSupported.Error(), "BACKUP … TO Disk or S3")
}
