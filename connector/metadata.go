package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/warehouse"
)

// runShared is what the tables of one run share besides the warehouse's
// state: the metadata of every table, read up front in few requests, and
// the row counts, read once for all tables when the first full load needs
// them.
type runShared struct {
	opts *Options
	meta *dataverse.Metadata

	countOnce sync.Once
	counts    map[string]int64

	// ranges holds a slot per range being read in the run, of all
	// tables: at most Options.ParallelRanges at once (ranges.go,
	// rangeslots.go)
	ranges *rangeSlots
}

// newRunShared returns what the tables of a run share, before anything
// is read.
func newRunShared(opts *Options) *runShared {
	return &runShared{opts: opts, ranges: newRangeSlots(opts.ParallelRanges)}
}

// readMetadata reads the metadata of every table of the run with
// dataverse.Client.EntityDefinitions. When that fails (a server that
// refuses the collection form, a network error), each table reads its
// own with EntityDefinition, which says what went wrong for it; the error
// is returned for the caller to log.
func (rs *runShared) readMetadata(ctx context.Context) error {
	opts := rs.opts
	names := make([]string, len(opts.Tables))
	for i, t := range opts.Tables {
		names[i] = t.Name
	}
	log := opts.Logger.With("environment", opts.Environment)
	// the Client's own snapshot is newer than the warehouse's: it is used
	// when it covers the tables (ampel run, one Runner for every sync)
	known := opts.Client.Snapshot()
	if !known.Covers(names) {
		var err error
		if known, err = loadCachedMetadata(ctx, opts.Store, opts.Environment, opts.Client.URL(), names); err != nil {
			log.Warn("metadata cache unreadable; reading the metadata from Dataverse", "error", err)
		}
	}
	md, err := opts.Client.EntityDefinitions(ctx, names, known)
	if err != nil {
		return err
	}
	rs.meta = md
	if md.Version != "" && (known == nil || known.Version != md.Version || !known.Covers(names) || len(known.Entities) < len(md.Entities)) {
		if err := saveCachedMetadata(ctx, opts.Store, opts.Environment, opts.Client.URL(), md); err != nil {
			log.Warn("metadata cache not written; the next process reads the metadata again", "error", err)
		}
	}
	return nil
}

// entity returns a table's definition, from the run's read or on its own.
func (rs *runShared) entity(ctx context.Context, name string) (*dataverse.Entity, error) {
	if rs.meta != nil {
		if e := rs.meta.Entities[name]; e != nil {
			return e, nil
		}
	}
	return rs.opts.Client.EntityDefinition(ctx, name)
}

// readCounts asks for the row counts of every table of the run in one
// request, once: the first caller sends it, the others wait for it. It
// returns nil if the server could not say.
func (rs *runShared) readCounts(ctx context.Context) map[string]int64 {
	rs.countOnce.Do(func() {
		names := make([]string, len(rs.opts.Tables))
		for i, t := range rs.opts.Tables {
			names[i] = t.Name
		}
		counts, err := rs.opts.Client.RecordCounts(ctx, names)
		if err != nil {
			rs.opts.Logger.Debug("no row counts for all tables at once", "environment", rs.opts.Environment, "error", err)
			return
		}
		rs.counts = counts
	})
	return rs.counts
}

// estimate returns a table's row count for progress, -1 if unknown. The
// first call asks for every table of the run in one request (readCounts);
// a server without RetrieveTotalRecordCount gets one request per table.
func (rs *runShared) estimate(ctx context.Context, name string) int64 {
	if n, ok := rs.readCounts(ctx)[name]; ok {
		return n
	}
	n, err := rs.opts.Client.RecordCount(ctx, name)
	if err != nil {
		rs.opts.Logger.Debug("no row count for progress", "environment", rs.opts.Environment, "table", name, "error", err)
		return -1
	}
	return n
}

// cacheFormat is the layout of metadata_cache.definition: the JSON of a
// dataverse.Entity. A change to Entity that old rows cannot be read into
// raises it, and rows of another format are read again from Dataverse.
const cacheFormat = 1

// loadCachedMetadata reads the environment's definitions from
// metadata_cache: those read from the client's URL, in this format, at one
// metadata version that covers every table of names (nil if there is none).
func loadCachedMetadata(ctx context.Context, s warehouse.Store, env, origin string, names []string) (*dataverse.Metadata, error) {
	rows, err := s.Query(ctx, "SELECT table_name, metadata_version, definition FROM metadata_cache FINAL WHERE environment = ? AND url = ? AND format = ?", env, origin, uint32(cacheFormat))
	if err != nil {
		return nil, fmt.Errorf("read the metadata cache: %w", err)
	}
	defer rows.Close()
	byVersion := map[string]*dataverse.Metadata{}
	for rows.Next() {
		var name, version, def string
		if err := rows.Scan(&name, &version, &def); err != nil {
			return nil, fmt.Errorf("read the metadata cache: %w", err)
		}
		var e dataverse.Entity
		if err := json.Unmarshal([]byte(def), &e); err != nil {
			continue // read again from Dataverse
		}
		md := byVersion[version]
		if md == nil {
			md = &dataverse.Metadata{Version: version, Entities: map[string]*dataverse.Entity{}}
			byVersion[version] = md
		}
		md.Entities[name] = &e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the metadata cache: %w", err)
	}
	for _, md := range byVersion {
		if md.Covers(names) {
			return md, nil
		}
	}
	return nil, nil
}

// saveCachedMetadata stores the definitions of md in metadata_cache.
func saveCachedMetadata(ctx context.Context, s warehouse.Store, env, origin string, md *dataverse.Metadata) error {
	b, err := s.PrepareInsert(ctx, "metadata_cache", []string{"environment", "url", "table_name", "metadata_version", "format", "definition", "cached_at", "seq"})
	if err != nil {
		return fmt.Errorf("write the metadata cache: %w", err)
	}
	now := time.Now().UTC()
	for name, e := range md.Entities {
		def, err := json.Marshal(e)
		if err == nil {
			err = b.Append(env, origin, name, md.Version, uint32(cacheFormat), string(def), now, uint64(now.UnixNano()))
		}
		if err != nil {
			b.Abort()
			return fmt.Errorf("write the metadata cache: %w", err)
		}
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("write the metadata cache: %w", err)
	}
	return nil
}
