package dvsim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ampel/ampel/odata"
)

// Snapshot is the data of a simulator at one moment, as a backup of a
// Dataverse environment holds it: every row with its values and
// versionnumber, the deleted rows, the version counter and the planted
// truth. Take one with Server.Snapshot, go back to it with Server.Restore.
type Snapshot struct {
	id      int
	version int64
	truth   planted
	tables  map[*table]tableSnap // storage owners
	cols    map[*column]columnSnap
}

type tableSnap struct {
	n       int32
	deleted []bool
	deletes []delRec
}

type columnSnap struct {
	i32      []int32
	i64      []int64
	u32      []uint32
	tgt      []uint8
	buf      []byte
	ref      []uint64
	intern   map[string]uint64
	noIntern bool
}

// Snapshot copies the simulator's data; Restore goes back to it.
func (s *Server) Snapshot() *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := &Snapshot{id: len(s.snapshots) + 1, version: s.version, truth: s.truth.clone(),
		tables: map[*table]tableSnap{}, cols: map[*column]columnSnap{}}
	for _, t := range s.tables {
		if t.owner != t {
			continue // views share their owner's storage
		}
		snap.tables[t] = tableSnap{n: t.n, deleted: slices.Clone(t.deleted), deletes: slices.Clone(t.deletes)}
		for _, c := range t.storage() {
			snap.cols[c] = columnSnap{i32: slices.Clone(c.i32), i64: slices.Clone(c.i64), u32: slices.Clone(c.u32),
				tgt: slices.Clone(c.tgt), buf: slices.Clone(c.buf), ref: slices.Clone(c.ref),
				intern: maps.Clone(c.intern), noIntern: c.noIntern}
		}
	}
	s.snapshots = append(s.snapshots, snap)
	return snap
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// KeepLinks answers delta links issued before the restore as if the
	// environment had not been restored: a link reads the changes above
	// its version, none when its version is above every version now (a
	// token "from the future"), and ends with a delta link at the current
	// version — lower than the one it came with.
	KeepLinks bool
}

// RestoreResult says what a restore undid, per logical name (activities
// under their type and under activitypointer): rows whose values went
// back (Reverted), rows deleted since the snapshot that are back
// (Undeleted), rows created since that are gone (Dropped).
type RestoreResult struct {
	Snapshot  int            `json:"snapshot"`
	Reverted  map[string]int `json:"reverted"`
	Undeleted map[string]int `json:"undeleted"`
	Dropped   map[string]int `json:"dropped"`
}

// Restore puts the data back as it was at snap, as restoring a Dataverse
// environment from a backup (or copying another environment over it)
// does: rows changed since go back to their old values and their old,
// lower versionnumbers; rows deleted since are back; rows created since
// are gone (their GUIDs are not given out again). The version counter
// goes back too, so later changes get versionnumbers that rows had before
// the restore — with other values. The schema (columns added since) and
// the change tracking settings stay; added columns are null in the
// restored rows.
//
// Delta links and paging links issued before the restore are refused
// afterwards, as expired (0x80044352): the changes they would continue
// from no longer exist. VERIFY: Dataverse's documentation says nothing of
// delta tokens after a restore; a sync must handle their refusal in any
// case, and must not rely on it (a restored environment's new changes can
// reach version numbers above a token's). opts.KeepLinks keeps answering
// delta links from before the restore instead, by their version alone.
func (s *Server) Restore(snap *Snapshot, opts RestoreOptions) RestoreResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := RestoreResult{Snapshot: snap.id, Reverted: map[string]int{}, Undeleted: map[string]int{}, Dropped: map[string]int{}}
	for _, t := range s.tables {
		s.countRestore(res, t, snap)
	}
	for _, t := range s.tables {
		ts, known := snap.tables[t]
		if t.owner != t {
			continue
		}
		for _, c := range t.storage() {
			cs, had := snap.cols[c]
			if !known || !had {
				for row := int32(0); row < t.n; row++ {
					c.setNull(row)
				}
				continue
			}
			// rows created since keep their slots (deleted below), so
			// the copies grow to the current length
			c.i32 = grown(slices.Clone(cs.i32), len(c.i32))
			c.i64 = grown(slices.Clone(cs.i64), len(c.i64))
			c.u32 = grown(slices.Clone(cs.u32), len(c.u32))
			c.tgt = grown(slices.Clone(cs.tgt), len(c.tgt))
			c.ref = grown(slices.Clone(cs.ref), len(c.ref))
			c.buf, c.intern, c.noIntern = slices.Clone(cs.buf), maps.Clone(cs.intern), cs.noIntern
		}
		if !known {
			continue
		}
		copy(t.deleted, ts.deleted)
		for row := ts.n; row < t.n; row++ {
			t.deleted[row] = true // created since: gone, without a delete record
		}
		t.deletes = slices.Clone(ts.deletes)
	}
	s.version = snap.version
	s.expiredBelow = min(s.expiredBelow, s.version)
	for _, t := range s.tables {
		t.trackedSince = min(t.trackedSince, s.version)
	}
	t := snap.truth.clone()
	s.truth = &t
	s.restores++
	s.restoredAt = s.clock().UTC().Truncate(time.Second)
	s.keepLinks = opts.KeepLinks
	s.orderCache.reset()
	return res
}

// countRestore adds to res what restoring snap undoes in t (a view counts
// its own rows).
func (s *Server) countRestore(res RestoreResult, t *table, snap *Snapshot) {
	o := t.owner
	ts, known := snap.tables[o]
	if !known {
		return
	}
	old := snap.cols[o.version].i64
	for p := 0; p < t.count(); p++ {
		row := t.rowAt(p)
		alive := t.alive(row)
		switch {
		case row >= ts.n || ts.deleted[row]:
			if alive {
				res.Dropped[t.logical]++
			}
		case !alive:
			res.Undeleted[t.logical]++
		case old[row] != o.version.i64[row]:
			res.Reverted[t.logical]++
		}
	}
}

// deltaTime is the timestamp of a delta token issued now: after a restore
// it is later than the restore's second, so that tokens issued before it
// (refused) and after it (valid) are told apart.
func (s *Server) deltaTime() time.Time {
	now := s.clock()
	if !s.restoredAt.IsZero() && !now.After(s.restoredAt.Add(time.Second)) {
		return s.restoredAt.Add(time.Second)
	}
	return now
}

// beforeRestore reports whether a delta token with timestamp at was issued
// before the last restore.
func (s *Server) beforeRestore(at time.Time) bool {
	return !s.restoredAt.IsZero() && !at.After(s.restoredAt)
}

// refusedAfterRestore reports whether a delta token issued at is refused
// because of a restore: issued before it, unless the restore kept links,
// which answers it even from above the current version.
func (s *Server) refusedAfterRestore(at time.Time) (refused, kept bool) {
	if !s.beforeRestore(at) {
		return false, false
	}
	return !s.keepLinks, s.keepLinks
}

// reset forgets every kept order: after a restore, a data version can
// stand for other data than it did when the order was kept.
func (oc *orderCache) reset() {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.entries = nil
}

// grown returns s extended to n entries (the storage has grown since).
func grown[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

func (p planted) clone() planted {
	out := planted{dups: cloneGroups(p.dups), look: cloneGroups(p.look), invalid: map[string]map[string][]int32{},
		inputs: p.inputs} // the inputs are made once and never changed
	for k, fields := range p.invalid {
		out.invalid[k] = map[string][]int32{}
		for f, rows := range fields {
			out.invalid[k][f] = slices.Clone(rows)
		}
	}
	return out
}

func cloneGroups(in map[string][]dupGroup) map[string][]dupGroup {
	out := make(map[string][]dupGroup, len(in))
	for k, groups := range in {
		cp := make([]dupGroup, len(groups))
		for i, g := range groups {
			cp[i] = dupGroup{Kind: g.Kind, rows: slices.Clone(g.rows)}
		}
		out[k] = cp
	}
	return out
}

// restoreRoutes serves POST /_sim/snapshot (Server.Snapshot; answers
// {"snapshot": id}) and POST /_sim/restore?snapshot=id[&keep_links=true]
// (Server.Restore; answers the RestoreResult).
func (s *Server) restoreRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/snapshot", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(map[string]int{"snapshot": s.Snapshot().id})
		writeJSON(w, 200, b)
	})
	mux.HandleFunc("POST /_sim/restore", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.URL.Query().Get("snapshot"))
		s.mu.RLock()
		var snap *Snapshot
		if err == nil && id >= 1 && id <= len(s.snapshots) {
			snap = s.snapshots[id-1]
		}
		s.mu.RUnlock()
		if snap == nil {
			odata.WriteError(w, http.StatusBadRequest, codeInvalidArgument,
				"name a snapshot taken with POST /_sim/snapshot: /_sim/restore?snapshot=<id>")
			return
		}
		b, _ := json.Marshal(s.Restore(snap, RestoreOptions{KeepLinks: r.URL.Query().Get("keep_links") == "true"}))
		writeJSON(w, 200, b)
	})
}
