package landing

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/ampel/ampel/warehouse"
)

// Newest returns the newest _version of env's rows in the landing table
// (0 when there are none) and how many rows env has there.
func (l Table) Newest(ctx context.Context, s warehouse.Store, env string) (version, rows uint64, err error) {
	err = l.queryRows(ctx, s, "newest.sql", nil, []any{env}, func(r warehouse.Rows) error {
		return r.Scan(&version, &rows)
	})
	return version, rows, err
}

// StoredVersions returns the newest stored _version of each of keys that
// env has in the landing table; a key it does not have is not in the map.
func (l Table) StoredVersions(ctx context.Context, s warehouse.Store, env string, keys []uuid.UUID) (map[uuid.UUID]uint64, error) {
	stored := make(map[uuid.UUID]uint64, len(keys))
	if len(keys) == 0 {
		return stored, nil
	}
	err := l.queryRows(ctx, s, "stored_versions.sql", map[string]any{"Keys": keys}, []any{env}, func(r warehouse.Rows) error {
		var id uuid.UUID
		var version uint64
		if err := r.Scan(&id, &version); err != nil {
			return err
		}
		stored[id] = version
		return nil
	})
	return stored, err
}

// CountOlder counts env's live records whose newest _version is below
// version: after a full load whose generation starts at version, the
// records the load did not see.
func (l Table) CountOlder(ctx context.Context, s warehouse.Store, env string, version uint64) (uint64, error) {
	var n uint64
	err := l.queryRows(ctx, s, "older_count.sql", nil, []any{env, version}, func(r warehouse.Rows) error { return r.Scan(&n) })
	return n, err
}

// TombstoneOlder writes a tombstone for each of env's live records whose
// newest _version is below version (those CountOlder counts), one version
// above the record's: it outranks the record, and a row the key gets
// again (an undone delete) outranks it.
func (l Table) TombstoneOlder(ctx context.Context, s warehouse.Store, env string, version uint64) error {
	q, err := render(s, "tombstone_older.sql", l.data(nil))
	if err != nil {
		return err
	}
	return s.Exec(ctx, q, env, version)
}

// LiveKeys calls each with the key and newest _version of every live
// record of env in the landing table whose newest _version is at most
// upTo: key reconciliation's side of the warehouse.
func (l Table) LiveKeys(ctx context.Context, s warehouse.Store, env string, upTo uint64, each func(key uuid.UUID, version uint64) error) error {
	return l.queryRows(ctx, s, "live_keys.sql", nil, []any{env, upTo}, func(r warehouse.Rows) error {
		var id uuid.UUID
		var version uint64
		if err := r.Scan(&id, &version); err != nil {
			return err
		}
		return each(id, version)
	})
}

// TombstoneKeysBatch is how many keys TombstoneKeys writes per statement:
// the keys are literals, and a statement stays well below the engine's
// max_query_size (256 KiB by default).
const TombstoneKeysBatch = 2000

// TombstoneKeys writes a tombstone for each of keys that is a live record
// of env whose newest _version is at most upTo, one version above the
// record's (as TombstoneOlder does): records the source deleted. Keys
// that are not live, or got a newer row since, are left alone, so a
// tombstone never hides a row written after upTo was read.
func (l Table) TombstoneKeys(ctx context.Context, s warehouse.Store, env string, upTo uint64, keys []uuid.UUID) error {
	for len(keys) > 0 {
		n := min(len(keys), TombstoneKeysBatch)
		q, err := render(s, "tombstone_keys.sql", l.data(map[string]any{"Keys": keys[:n]}))
		if err != nil {
			return err
		}
		if err := s.Exec(ctx, q, env, upTo); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// DropScratch drops name, a scratch table of seen keys an earlier Ampel
// kept during a full load, if it exists.
func DropScratch(ctx context.Context, s warehouse.Store, name string) error {
	return exec(ctx, s, "drop_table.sql", map[string]any{"Table": name})
}

// data is the template data of l's statements, with extra.
func (l Table) data(extra map[string]any) map[string]any {
	data := map[string]any{"Table": l.Table(), "View": l.Name, "Key": l.Key}
	for k, v := range extra {
		data[k] = v
	}
	return data
}

// queryRows runs the statement of template name with args and calls each
// for every row.
func (l Table) queryRows(ctx context.Context, s warehouse.Store, name string, extra map[string]any, args []any, each func(warehouse.Rows) error) error {
	q, err := render(s, name, l.data(extra))
	if err != nil {
		return err
	}
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Snapshot copies columns of the current-state view of the source table
// name into the new table snapshot (Memory engine), so that a reader that
// needs the view many times pays its FINAL once: reading the snapshot
// costs a plain read. The copy is the state of one moment; the caller
// drops it with DropSnapshot.
func Snapshot(ctx context.Context, s warehouse.Store, name, snapshot string, columns []string) error {
	if len(columns) == 0 {
		return fmt.Errorf("snapshot of %s: no columns", name)
	}
	return exec(ctx, s, "snapshot.sql", map[string]any{"View": name, "Snapshot": snapshot, "Columns": columns})
}

// DropSnapshot drops the snapshot table name if it exists. On a cluster
// a snapshot lives on the node Ampel talks to only (a Memory table, see
// warehouse.ClusterDDL), and so does its DROP: no round through the DDL
// queue, and no wait for a node that is down.
func DropSnapshot(ctx context.Context, s warehouse.Store, name string) error {
	return exec(ctx, s, "drop_table.sql", map[string]any{"Table": name, "Local": true})
}
