package connector

import (
	"context"
	"sync"
	"time"

	"github.com/ampel/ampel/connector/dataverse"
)

// Early delta reads. A one-shot sync of tables that read only their
// changes is mostly waiting: first for the run's metadata version check
// (and WhoAmI, beside it), then for each table's delta request. The delta
// request of a table in mode delta needs nothing the metadata says — its
// stored delta link is the whole request — so it goes out at once, beside
// the metadata check, and its answer is held: the Reader fetches and
// decodes the first page and keeps it until the table asks for it (one
// page, as every Reader holds one ahead). The run then costs one round
// trip before the writes instead of two.
//
// The metadata decides afterwards whether the held answer is used: only
// when the table still reads its changes by that link (change tracking
// on, the same columns, the same URL, no --full: the same checks as
// without early reads, in tableSync.run) does applyDelta take it.
// Otherwise — a column added, change tracking off, any reload — the
// held answer is discarded unread (tableSync.dropEarly), and so is every
// held answer when WhoAmI fails: then no table starts and nothing is
// written. Reading a delta link and dropping the answer is harmless: the
// link's $deltatoken is "<version>!<utc timestamp>", a point in the
// table's change-tracking log, and a read of it asks for the changes
// after that version — Dataverse keeps no cursor that the read moves on.
// The changes stay readable for Organization.ExpireChangeTrackingInDays
// (7 days by default), after which the link is refused whoever read it
// (Microsoft Learn, "Use change tracking to synchronize data with
// external systems"). The sync rests on that already: a run
// that stops before it saves the next link has the rerun read the same
// link again (sync.go, step 4). A discarded answer costs one request,
// which the table's request count shows.
//
// An early request fails like any other (the client's retries, Retry-After
// and request slots apply to it as to every request); a failed one is
// simply sent again on the normal path, which says what went wrong.
// Early reads wait for the client's token first (Client.Authenticate):
// a refused sign-in so costs one token request, and no early read starts.
// Tables in other modes (a load, tracking, watermark) build their request
// from the metadata, and are not read early.
type earlyDeltas struct {
	// started is closed once the reads went out (or will not)
	started chan struct{}

	mu    sync.Mutex
	reads map[string]*earlyDelta // by table, until taken
}

// earlyDelta is one table's delta read sent before the metadata was known.
type earlyDelta struct {
	link string
	// counter is the table's request counter: the early request is the
	// table's
	counter *dataverse.Counter
	r       *dataverse.Reader // nil when the read was not sent
}

// close discards the read, if it was sent and not used.
func (d *earlyDelta) close() {
	if d != nil && d.r != nil {
		_ = d.r.Close()
		d.r = nil
	}
}

// startEarlyDeltas sends the delta request of every table of opts whose
// stored state is a delta link the run would read, once the client has
// its token.
func startEarlyDeltas(ctx context.Context, opts *Options, stored map[string]state) *earlyDeltas {
	e := &earlyDeltas{started: make(chan struct{}), reads: map[string]*earlyDelta{}}
	for name, link := range readByLink(opts, stored) {
		e.reads[name] = &earlyDelta{link: link, counter: &dataverse.Counter{}}
	}
	if len(e.reads) == 0 {
		close(e.started)
		return e
	}
	go func() {
		defer close(e.started)
		if err := opts.Client.Authenticate(ctx); err != nil {
			// the check and the metadata read say why; each table sends
			// its request on the normal path if the run goes on
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, d := range e.reads {
			d.r = opts.Client.Read(dataverse.WithCounter(ctx, d.counter), dataverse.Query{DeltaLink: d.link})
		}
	}()
	return e
}

// readByLink returns the delta link of each table of opts that the run
// reads by its stored delta link unless the metadata says otherwise.
func readByLink(opts *Options, stored map[string]state) map[string]string {
	out := map[string]string{}
	if opts.Full {
		return out
	}
	for _, t := range opts.Tables {
		st, ok := stored[t.Name]
		if ok && st.Mode == ModeDelta && st.DeltaLink != "" && sameHost(st.DeltaLink, opts.Client.URL()) {
			out[t.Name] = st.DeltaLink
		}
	}
	return out
}

// take hands a table its early read (nil if it has none): from then on the
// table closes it. A table without one does not wait for the reads to go
// out.
func (e *earlyDeltas) take(table string) *earlyDelta {
	e.mu.Lock()
	_, ok := e.reads[table]
	e.mu.Unlock()
	if !ok {
		return nil
	}
	<-e.started
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.reads[table]
	delete(e.reads, table)
	return d
}

// discard closes every read not taken.
func (e *earlyDeltas) discard() {
	<-e.started
	e.mu.Lock()
	defer e.mu.Unlock()
	for name, d := range e.reads {
		d.close()
		delete(e.reads, name)
	}
}

// headStart is the first round trip of a table's load from the start (a
// first sync, --full), sent before the landing tables are made and the
// load's generation is saved: in one read its first page, in ranges the
// walk's first page and the createdon bounds. On a first sync those local
// steps (DDL, a read and a sync_state INSERT) took 0.1–0.5 s per table
// before its first request went out. Reading writes nothing, and no row
// is written before the generation is saved, so a crash in between
// leaves no trace; what the load does not take is canceled when the
// table's run ends (close).
type headStart struct {
	cancel context.CancelFunc
	read   *dataverse.Reader // a load in one read: its first page
	began  time.Time         // a load in ranges: when its walk began,
	walk   *walk             // the walk,
	bounds <-chan bounds     // and the createdon bounds
}

// startHead sends the first round trip of a load from the start of the
// table, in one read or in ranges as full will decide (the same row count
// and columns).
func (ts *tableSync) startHead(ctx context.Context, sel []string) *headStart {
	ctx, cancel := context.WithCancel(ctx)
	h := &headStart{cancel: cancel}
	if ts.rangeCount(ts.estimate(ctx), sel) > 1 {
		h.began, h.walk = ts.startWalkNow(ctx, sel)
		h.bounds = ts.startBounds(ctx)
	} else {
		h.read = ts.opts.Client.Read(ctx, dataverse.Query{EntitySet: ts.entity.EntitySetName, Select: sel, TrackChanges: true})
	}
	return h
}

// takeRead hands over the first read, if it was sent and not taken.
func (h *headStart) takeRead() *dataverse.Reader {
	if h == nil {
		return nil
	}
	r := h.read
	h.read = nil
	return r
}

// takeWalk hands over the walk and the bounds, if they were sent and not
// taken (a nil walk otherwise).
func (h *headStart) takeWalk() (time.Time, *walk, <-chan bounds) {
	if h == nil || h.walk == nil {
		return time.Time{}, nil, nil
	}
	began, w, b := h.began, h.walk, h.bounds
	h.walk, h.bounds = nil, nil
	return began, w, b
}

// close stops what was sent and not taken, when the table's run ends.
func (h *headStart) close() {
	if h == nil {
		return
	}
	if h.read != nil {
		h.read.Close()
	}
	if h.walk != nil {
		h.walk.cancel()
	}
	h.cancel()
}
