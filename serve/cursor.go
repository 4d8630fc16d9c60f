package serve

import (
	"context"
	"sync"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// A read in the key's order (no $orderby but the key's) runs one statement
// for all its pages: the page is cut from the statement's stream, and the
// statement, positioned on the first row of the next page, is kept
// (parked) under the page's nextLink. The request that follows that
// nextLink takes it and goes on streaming, so Power BI's walk through the
// nextLinks costs one statement, not one per page.
//
// The nextLink's $skiptoken is the same keyset token either way (the
// snapshot and the order values of the last row served): a nextLink
// whose statement is gone — taken by an earlier request (a retry), timed
// out, evicted, or on another process — runs a new keyset statement from
// the token and serves exactly the same page. At most Options.KeptReads
// statements are kept, each for at most keptIdle, and none is continued
// past keptMaxAge; each holds one of the
// warehouse's connections (warehouse max_conns, default 8) and the engine's
// read-ahead of its stream, a few blocks. On the 18.16 server, which
// cannot read a table in key order, the statement sorts the read's rows
// once, on the server, instead of once per page.

// noLimit is the LIMIT of a statement that reads all the rest after an
// OFFSET ($skip): ClickHouse has no OFFSET without LIMIT before 21.x, and
// 18.16 fails when offset plus limit overflow an Int64.
const noLimit = 1 << 40

// keptIdle is how long a kept statement waits for its nextLink.
const keptIdle = 30 * time.Second

// keptMaxAge is the age after which a kept statement is not continued: the
// next page starts a new one from the keyset. It stays well below the
// warehouse's query timeout (warehouse.query_timeout, default 10m), which
// would otherwise end a long read's statement in the middle of a page.
const keptMaxAge = 5 * time.Minute

// defaultKeptReads is Options.KeptReads' default.
const defaultKeptReads = 4

// keptRead is a statement parked between two pages of one read.
type keptRead struct {
	key    string // the set and the nextLink's query (see keptKey)
	rows   warehouse.Rows
	cancel context.CancelFunc // ends the statement's context
	next   []any              // the row read past the page: the next page's first
	born   time.Time          // when the statement started
	timer  *time.Timer
}

// close ends the statement without reading the rest of it.
func (k *keptRead) close() {
	k.cancel()
	_ = k.rows.Close()
}

// keptReads are the parked statements of a Server.
type keptReads struct {
	mu     sync.Mutex
	max    int
	idle   time.Duration
	maxAge time.Duration
	byKey  map[string]*keptRead
	order  []*keptRead // oldest first
	closed bool
}

func newKeptReads(max int) *keptReads {
	return &keptReads{max: max, idle: keptIdle, maxAge: keptMaxAge, byKey: map[string]*keptRead{}}
}

// keptKey names a parked statement: the entity set and the query string
// of the nextLink it continues (its options and $skiptoken).
func keptKey(set, nextQuery string) string { return set + "?" + nextQuery }

// park keeps k for the request that follows its nextLink. When the most
// are kept, the oldest is closed; after closeAll nothing is kept.
func (ks *keptReads) park(k *keptRead) {
	ks.mu.Lock()
	if ks.closed || ks.max <= 0 {
		ks.mu.Unlock()
		k.close()
		return
	}
	if old := ks.byKey[k.key]; old != nil { // the same page read twice at once
		ks.removeLocked(old)
		defer old.close()
	}
	for len(ks.order) >= ks.max {
		old := ks.order[0]
		ks.removeLocked(old)
		defer old.close()
	}
	ks.byKey[k.key] = k
	ks.order = append(ks.order, k)
	k.timer = time.AfterFunc(ks.idle, func() {
		if ks.remove(k) {
			k.close()
		}
	})
	ks.mu.Unlock()
}

// take removes and returns the statement parked under key, nil when none
// is or it is older than keptMaxAge (it is closed then).
func (ks *keptReads) take(key string) *keptRead {
	ks.mu.Lock()
	k := ks.byKey[key]
	if k != nil {
		ks.removeLocked(k)
	}
	maxAge := ks.maxAge
	ks.mu.Unlock()
	if k != nil && time.Since(k.born) > maxAge {
		k.close()
		return nil
	}
	return k
}

// remove removes k if it is still parked and reports whether it was.
func (ks *keptReads) remove(k *keptRead) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.byKey[k.key] != k {
		return false
	}
	ks.removeLocked(k)
	return true
}

func (ks *keptReads) removeLocked(k *keptRead) {
	delete(ks.byKey, k.key)
	for i, o := range ks.order {
		if o == k {
			ks.order = append(ks.order[:i], ks.order[i+1:]...)
			break
		}
	}
	if k.timer != nil {
		k.timer.Stop()
	}
}

// len is how many statements are parked.
func (ks *keptReads) len() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return len(ks.order)
}

// closeAll closes every parked statement and parks none from now on.
func (ks *keptReads) closeAll() {
	ks.mu.Lock()
	all := ks.order
	ks.order, ks.byKey, ks.closed = nil, map[string]*keptRead{}, true
	for _, k := range all {
		k.timer.Stop()
	}
	ks.mu.Unlock()
	for _, k := range all {
		k.close()
	}
}

// inKeyOrder reports whether a read's order is its set's key, ascending
// (no $orderby, or one that names the key so): the order the mart tables
// are stored in (ORDER BY _snapshot and the key), which the engine reads
// without sorting. Only such reads keep their statement between pages; a
// statement in another order would sort the whole rest of the set.
func (s *Server) inKeyOrder(o *options, st *set) bool {
	if s.kept.max <= 0 || len(o.order) != len(st.key) {
		return false
	}
	for i, k := range o.order {
		if k.desc || k.col != st.key[i] {
			return false
		}
	}
	return true
}

// detached is the context of a statement that may outlive its request:
// ctx's values, not its end; the statement ends with cancel.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(context.WithoutCancel(ctx))
}
