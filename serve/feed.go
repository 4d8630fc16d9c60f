package serve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
	"github.com/ampel/ampel/warehouse"
)

// snapshotColumn is the column of every mart table that says which
// published state a row belongs to; the feed never serves it.
const snapshotColumn = "_snapshot"

// set is an entity set ready to serve: its columns by name and the Edm
// entity type.
type set struct {
	name   string
	table  string
	cols   []column
	byName map[string]*column
	key    []*column
	etype  odata.EntityType
}

// model reads the marts' entity sets and their Edm types.
func (s *Server) model(ctx context.Context) ([]*set, error) {
	if s.marts == nil {
		return nil, nil
	}
	es, err := s.marts.Sets(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the entity sets: %w", err)
	}
	out := make([]*set, 0, len(es))
	for _, e := range es {
		st := &set{name: e.Name, table: s.marts.Table(e.Name), byName: map[string]*column{}}
		for _, wc := range e.Columns {
			if wc.Name == snapshotColumn {
				continue
			}
			c, err := newColumn(wc)
			if err != nil {
				return nil, fmt.Errorf("entity set %s: %w", e.Name, err)
			}
			st.cols = append(st.cols, c)
		}
		for i := range st.cols {
			st.byName[st.cols[i].name] = &st.cols[i]
			st.etype.Properties = append(st.etype.Properties, st.cols[i].prop)
		}
		for _, k := range e.Key {
			c, ok := st.byName[k]
			if !ok {
				return nil, fmt.Errorf("entity set %s: key column %s is not one of its columns", e.Name, k)
			}
			st.key = append(st.key, c)
		}
		st.etype.Name, st.etype.Key = e.Name, e.Key
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) findSet(ctx context.Context, name string) (*set, error) {
	sets, err := s.model(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range sets {
		if st.name == name {
			return st, nil
		}
	}
	return nil, nil
}

// serviceRoot is the feed's base URL as the client reached it.
func serviceRoot(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + feedPrefix
}

// feed routes a request under /odata/.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) (string, int) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		odata.WriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the feed is read-only: use GET")
		return "", http.StatusMethodNotAllowed
	}
	path := strings.TrimPrefix(r.URL.Path, feedPrefix)
	// the marts are Ampel's own code and may read the catalog; the
	// statements the feed runs for a request are read-only (see read)
	ctx := r.Context()
	switch {
	case path == "" || path == "/":
		return "", s.serviceDocument(ctx, w, r)
	case path == "$metadata":
		return "", s.metadata(ctx, w, r)
	}
	name, rest, _ := strings.Cut(path, "/")
	if i := strings.IndexByte(name, '('); i >= 0 {
		odata.WriteError(w, http.StatusBadRequest, "NotSupported", "the feed does not address single entities: read the entity set with $filter on the key")
		return name[:i], http.StatusBadRequest
	}
	st, err := s.findSet(ctx, name)
	if err != nil {
		return name, s.internal(w, r, err)
	}
	if st == nil {
		odata.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%q is not an entity set of this feed; the service document at %s lists them", name, feedPrefix))
		return name, http.StatusNotFound
	}
	switch rest {
	case "":
		return name, s.read(ctx, w, r, st, false)
	case "$count":
		return name, s.read(ctx, w, r, st, true)
	}
	odata.WriteError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s/%s: the feed serves entity sets and their /$count only", name, rest))
	return name, http.StatusNotFound
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) int {
	s.log.Error("feed request failed", "path", r.URL.Path, "error", err.Error())
	odata.WriteError(w, http.StatusInternalServerError, "InternalError", "the feed could not read the warehouse; the server log says why")
	return http.StatusInternalServerError
}

func setHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set(odata.HeaderVersion, odata.Version)
}

func (s *Server) serviceDocument(ctx context.Context, w http.ResponseWriter, r *http.Request) int {
	sets, err := s.model(ctx)
	if err != nil {
		return s.internal(w, r, err)
	}
	names := make([]string, len(sets))
	for i, st := range sets {
		names[i] = st.name
	}
	setHeaders(w, odata.ContentTypeJSON)
	_, _ = w.Write(odata.ServiceDocument(serviceRoot(r)+"$metadata", names))
	return http.StatusOK
}

func (s *Server) metadata(ctx context.Context, w http.ResponseWriter, r *http.Request) int {
	sets, err := s.model(ctx)
	if err != nil {
		return s.internal(w, r, err)
	}
	m := odata.Model{Namespace: Namespace, Container: Container}
	for _, st := range sets {
		m.Types = append(m.Types, st.etype)
	}
	if err := m.Check(); err != nil {
		return s.internal(w, r, err)
	}
	setHeaders(w, "application/xml")
	if err := odata.WriteMetadata(w, m); err != nil {
		s.log.Warn("write $metadata", "error", err.Error())
	}
	return http.StatusOK
}

// Namespace and Container name the feed's schema and entity container in
// $metadata.
const (
	Namespace = "Ampel"
	Container = "Ampel"
)

// options are the system query options of one read, checked.
type options struct {
	sel     []*column // nil: every column
	filter  sqlExpr
	order   []orderKey // the total order: $orderby, then the key
	top     int64      // -1: none
	skip    int64
	count   bool
	token   string
	queryID uint32 // a hash of $filter and $orderby, kept in skip tokens
	raw     url.Values
}

var allowedOptions = map[string]bool{
	odata.OptionSelect: true, odata.OptionFilter: true, odata.OptionOrderBy: true, odata.OptionTop: true,
	odata.OptionSkip: true, odata.OptionCount: true, odata.OptionSkipToken: true, "$format": true,
}

func (s *Server) parseOptions(r *http.Request, st *set) (*options, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badf("the query string is not valid: %v", err)
	}
	o := &options{top: -1, raw: q}
	for name, vals := range q {
		if strings.HasPrefix(name, "$") {
			if !allowedOptions[name] {
				return nil, badf("%s is not supported by this feed; it takes $select, $filter, $orderby, $top, $skip and $count", name)
			}
			if len(vals) > 1 {
				return nil, badf("%s is given more than once", name)
			}
		}
	}
	if f := q.Get("$format"); f != "" && f != "json" && !strings.HasPrefix(f, "application/json") {
		return nil, badf("$format=%s: the feed answers in JSON only", f)
	}
	if sel := q.Get(odata.OptionSelect); sel != "" && sel != "*" {
		picked := map[string]bool{}
		for _, name := range odata.ParseSelect(sel) {
			c, ok := st.byName[name]
			if !ok {
				return nil, badf("$select: %s is not a property of %s", name, st.name)
			}
			if !picked[name] { // a property named twice is served once
				o.sel = append(o.sel, c)
				picked[name] = true
			}
		}
	}
	if f := q.Get(odata.OptionFilter); f != "" {
		n, err := odata.ParseFilter(f)
		if err != nil {
			return nil, badf("$filter: %v", err)
		}
		tr := &translator{cols: st.byName}
		if o.filter, err = tr.filter(n); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	if ob := q.Get(odata.OptionOrderBy); ob != "" {
		items, err := odata.ParseOrderBy(ob)
		if err != nil {
			return nil, badf("$orderby: %v", err)
		}
		for _, it := range items {
			c, ok := st.byName[it.Property]
			if !ok {
				return nil, badf("$orderby: %s is not a property of %s", it.Property, st.name)
			}
			if strings.HasPrefix(c.prop.Type, "Collection(") {
				return nil, badf("$orderby: %s is a collection", c.name)
			}
			if !seen[c.name] {
				o.order = append(o.order, orderKey{col: c, desc: it.Desc})
				seen[c.name] = true
			}
		}
	}
	for _, k := range st.key {
		if !seen[k.name] {
			o.order = append(o.order, orderKey{col: k})
			seen[k.name] = true
		}
	}
	for _, opt := range []struct {
		name string
		dst  *int64
	}{{odata.OptionTop, &o.top}, {odata.OptionSkip, &o.skip}} {
		if v := q.Get(opt.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, badf("%s=%s: give a whole number, 0 or more", opt.name, v)
			}
			*opt.dst = n
		}
	}
	switch c := q.Get(odata.OptionCount); c {
	case "", "false":
	case "true":
		o.count = true
	default:
		return nil, badf("$count=%s: give true or false", c)
	}
	o.token = q.Get(odata.OptionSkipToken)
	h := fnv.New32a()
	h.Write([]byte(q.Get(odata.OptionFilter) + "\x00" + q.Get(odata.OptionOrderBy)))
	o.queryID = h.Sum32()
	return o, nil
}

// read answers a read of an entity set (count: its /$count).
func (s *Server) read(ctx context.Context, w http.ResponseWriter, r *http.Request, st *set, count bool) int {
	o, err := s.parseOptions(r, st)
	if err != nil {
		return s.bad(w, err)
	}
	var last []any
	var snapshot uint64
	left := o.top
	if o.token != "" {
		tok, vals, err := decodeSkipToken(o.token, o.order)
		if err != nil {
			return s.bad(w, err)
		}
		if tok.Query != o.queryID {
			return s.bad(w, badf("$skiptoken belongs to a read with another $filter or $orderby: follow the @odata.nextLink as given"))
		}
		snapshot, last, left = tok.Snapshot, vals, tok.Left
	} else if snapshot, err = s.marts.Current(ctx); err != nil {
		return s.internal(w, r, err)
	}

	where := []string{quote(snapshotColumn) + " = ?"}
	args := []any{snapshot}
	if o.filter.text != "" {
		where = append(where, o.filter.text)
		args = append(args, o.filter.args...)
	}
	if count {
		if o.top >= 0 || o.skip > 0 || o.token != "" {
			return s.bad(w, badf("/$count takes $filter only, not $top, $skip or $skiptoken"))
		}
		n, err := s.count(ctx, st, where, args)
		if err != nil {
			return s.internal(w, r, err)
		}
		setHeaders(w, "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(strconv.FormatUint(n, 10)))
		return http.StatusOK
	}
	var total uint64
	if o.count {
		if total, err = s.count(ctx, st, where, args); err != nil {
			return s.internal(w, r, err)
		}
	}
	if last != nil {
		a := after(o.order, last)
		where = append(where, a.text)
		args = append(args, a.args...)
	}

	page := int64(s.pageSize)
	pref := odata.ParsePrefer(r.Header)
	if pref.MaxPageSize > 0 && int64(pref.MaxPageSize) < page {
		page = int64(pref.MaxPageSize)
		w.Header().Set(odata.HeaderPreferenceApplied, odata.Prefer{MaxPageSize: pref.MaxPageSize}.String())
	}
	limit := page
	if left >= 0 && left < limit {
		limit = left
	}
	if snapshot == 0 { // nothing published yet: an empty set
		limit = 0
	}

	// the served columns, then the order columns not among them
	out := o.sel
	if out == nil {
		out = make([]*column, len(st.cols))
		for i := range st.cols {
			out[i] = &st.cols[i]
		}
	}
	selected := map[string]int{}
	var names []string
	for i, c := range out {
		selected[c.name] = i
		names = append(names, quote(c.name))
	}
	orderIdx := make([]int, len(o.order))
	for i, k := range o.order {
		j, ok := selected[k.col.name]
		if !ok {
			j = len(names)
			selected[k.col.name] = j
			names = append(names, quote(k.col.name))
		}
		orderIdx[i] = j
	}
	offset := int64(0)
	if o.token == "" {
		offset = o.skip
	}
	// A read in key order streams all its pages from one statement (see
	// keptRead), started by a page that may have more after it; any other
	// read runs one statement per page.
	keyOrder := limit > 0 && s.inKeyOrder(o, st)
	oneStatement := keyOrder && limit == page && !(left >= 0 && left <= page)
	var (
		rows    warehouse.Rows
		cancel  context.CancelFunc // the one statement's: it outlives the request
		pending []any              // a kept statement's row read past the last page
		drained bool               // rows.Next said there are no more rows
		parked  bool
		parkAs  string    // the key to keep the statement under
		born    time.Time // when the statement started
	)
	stopCancel := func() bool { return true }
	if keyOrder && o.token != "" {
		if k := s.kept.take(keptKey(st.name, nextQuery(o.raw, o.token))); k != nil {
			rows, cancel, pending, born = k.rows, k.cancel, k.next, k.born
		}
	}
	if rows == nil && limit > 0 {
		q := "SELECT " + strings.Join(names, ", ") + " FROM " + quote(st.table) +
			" WHERE " + strings.Join(where, " AND ") +
			" ORDER BY " + orderBy(o.order)
		qctx := ctx
		switch {
		case !oneStatement:
			q += " LIMIT " + strconv.FormatInt(offset, 10) + ", " + strconv.FormatInt(limit+1, 10)
		case left >= 0:
			q += " LIMIT " + strconv.FormatInt(offset, 10) + ", " + strconv.FormatInt(left+1, 10)
		case offset > 0:
			q += " LIMIT " + strconv.FormatInt(offset, 10) + ", " + strconv.FormatInt(noLimit, 10)
		}
		if oneStatement {
			qctx, cancel = detached(ctx)
			born = time.Now()
		}
		if rows, err = s.store.Query(warehouse.ReadOnly(qctx), q, args...); err != nil {
			if cancel != nil {
				cancel()
			}
			return s.internal(w, r, err)
		}
	}
	if rows != nil {
		if cancel != nil {
			// the statement outlives the request only when parked
			stopCancel = context.AfterFunc(ctx, cancel)
		}
		defer func() {
			switch {
			case parked:
			case cancel == nil:
				_ = rows.Close()
			case drained:
				stopCancel()
				_ = rows.Close()
				cancel()
			default: // cut short: end the statement rather than read it out
				stopCancel()
				cancel()
				_ = rows.Close()
			}
		}()
	}
	nextRow := func() []any {
		if pending != nil {
			v := pending
			pending = nil
			return v
		}
		if rows == nil || drained {
			return nil
		}
		if rows.Next() {
			return rows.Values()
		}
		drained = true
		return nil
	}

	setHeaders(w, odata.ContentTypeJSON)
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 4096)
	buf = append(buf, `{"@odata.context":`...)
	ctxURL := serviceRoot(r) + "$metadata#" + st.name
	if o.sel != nil {
		parts := make([]string, len(o.sel))
		for i, c := range o.sel {
			parts[i] = c.name
		}
		ctxURL += "(" + strings.Join(parts, ",") + ")"
	}
	buf = odata.AppendJSONString(buf, ctxURL)
	if o.count {
		buf = append(buf, `,"@odata.count":`...)
		buf = strconv.AppendUint(buf, total, 10)
	}
	buf = append(buf, `,"value":[`...)
	keys := make([][]byte, len(out))
	for i, c := range out {
		keys[i] = odata.AppendJSONString(nil, c.name)
	}
	var served int64
	lastVals := make([]any, len(o.order)) // the order values of the last row served
	var next []any                        // the first row after the page
	for {
		vals := nextRow()
		if vals == nil {
			break
		}
		if served == limit {
			next = vals
			break
		}
		if served > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '{')
		for i, c := range out {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			buf = append(buf, ':')
			buf = appendValue(buf, c, vals[i])
		}
		buf = append(buf, '}')
		served++
		if len(buf) >= 32<<10 {
			if _, err := bw.Write(buf); err != nil {
				s.metrics.FeedRows(st.name, int(served))
				panic(http.ErrAbortHandler) // the client went away
			}
			buf = buf[:0]
		}
		for i, j := range orderIdx {
			lastVals[i] = vals[j] // Values' slice is reused by Next
		}
	}
	more := next != nil
	if rows != nil {
		if err := rows.Err(); err != nil {
			if bw.Buffered() == 0 {
				return s.internal(w, r, err)
			}
			// rows were sent already: end the response broken rather than
			// as a complete, shorter answer
			s.log.Error("feed read failed midway", "set", st.name, "error", err.Error())
			s.metrics.FeedRows(st.name, int(served))
			panic(http.ErrAbortHandler)
		}
	}
	if served == 0 && o.token != "" && limit > 0 {
		// a nextLink is written only when a row follows, so a page that
		// finds none lost its snapshot: nothing was written yet, and the
		// client learns why
		kept, err := s.snapshotKept(ctx, st, snapshot)
		if err != nil {
			return s.internal(w, r, err)
		}
		if !kept {
			w.Header().Del(odata.HeaderPreferenceApplied)
			odata.WriteError(w, http.StatusGone, "SnapshotGone", fmt.Sprintf("the data this read started on (snapshot %d) has been replaced and is no longer kept: refresh again to read the current data", snapshot))
			return http.StatusGone
		}
	}
	buf = append(buf, ']')
	if left >= 0 && left-served <= 0 {
		more = false // $top is reached
	}
	if more && served > 0 {
		tok := skipToken{Snapshot: snapshot, Query: o.queryID, Left: -1}
		if left >= 0 {
			tok.Left = left - served
		}
		for i := range o.order {
			v := lastVals[i]
			if v == nil {
				if tok.Nulls == nil {
					tok.Nulls = make([]bool, len(o.order))
				}
				tok.Nulls[i] = true
				tok.Last = append(tok.Last, "")
				continue
			}
			tok.Last = append(tok.Last, keyText(v))
		}
		nq := nextQuery(o.raw, tok.encode())
		buf = append(buf, `,"@odata.nextLink":`...)
		buf = odata.AppendJSONString(buf, serviceRoot(r)+st.name+"?"+nq)
		if cancel != nil { // one statement for the read's pages
			parkAs = keptKey(st.name, nq)
		}
	}
	buf = append(buf, "}\n"...)
	_, werr := bw.Write(buf)
	ferr := bw.Flush()
	// keep the statement for the nextLink, unless the response failed or
	// the request ended meanwhile (which cancelled the statement)
	if parkAs != "" && werr == nil && ferr == nil && stopCancel() {
		s.kept.park(&keptRead{key: parkAs, rows: rows, cancel: cancel, next: slices.Clone(next), born: born})
		parked = true
	}
	s.metrics.FeedRows(st.name, int(served))
	return http.StatusOK
}

// nextQuery is the query string of a nextLink: the options that shape the
// read, and the skip token; never $top or $skip (the token carries what
// is left of them) nor a key.
func nextQuery(q url.Values, token string) string {
	var parts []string
	for _, name := range []string{odata.OptionSelect, odata.OptionFilter, odata.OptionOrderBy, odata.OptionCount, "$format"} {
		if v := q.Get(name); v != "" {
			parts = append(parts, name+"="+odata.EscapeOption(v))
		}
	}
	parts = append(parts, odata.OptionSkipToken+"="+token)
	return strings.Join(parts, "&")
}

func (s *Server) count(ctx context.Context, st *set, where []string, args []any) (uint64, error) {
	rows, err := s.store.Query(warehouse.ReadOnly(ctx), "SELECT count() FROM "+quote(st.table)+" WHERE "+strings.Join(where, " AND "), args...)
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", st.name, err)
	}
	defer rows.Close()
	var n uint64
	if !rows.Next() {
		return 0, fmt.Errorf("count %s: no row: %w", st.name, rows.Err())
	}
	if err := rows.Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", st.name, err)
	}
	return n, rows.Close()
}

// snapshotKept reports whether the table still holds rows of snapshot: a
// nextLink exists only for a read that found rows, so none left means the
// snapshot was dropped.
func (s *Server) snapshotKept(ctx context.Context, st *set, snapshot uint64) (bool, error) {
	rows, err := s.store.Query(warehouse.ReadOnly(ctx), "SELECT 1 FROM "+quote(st.table)+" WHERE "+quote(snapshotColumn)+" = ? LIMIT 1", snapshot)
	if err != nil {
		return false, fmt.Errorf("look for snapshot %d of %s: %w", snapshot, st.name, err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("look for snapshot %d of %s: %w", snapshot, st.name, err)
	}
	return found, nil
}

func (s *Server) bad(w http.ResponseWriter, err error) int {
	var br badRequest
	if !errors.As(err, &br) {
		br = badRequest{err.Error()}
	}
	odata.WriteError(w, http.StatusBadRequest, "BadRequest", br.msg)
	return http.StatusBadRequest
}
