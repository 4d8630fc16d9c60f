package dvsim

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/odata"
)

const (
	// VERIFY: Dataverse's exact code/status for these is not confirmed from a primary source.
	// The simulator answers 400 with 0x80040203 (InvalidArgument) for malformed delta tokens,
	// unsupported options with change tracking and untracked tables, and 400 with
	// 0x80044352 (ExpiredVersionStamp) for expired tokens.
	codeInvalidArgument = "0x80040203"
	codeExpiredVersion  = "0x80044352"
	codeNotFound        = "0x80040217"
	maxPage             = 5000
)

func (s *Server) writeErr(w http.ResponseWriter, err error) {
	if e, ok := err.(*apiError); ok {
		odata.WriteError(w, e.status, e.code, e.message)
		return
	}
	odata.WriteError(w, 500, "0x80040216", err.Error())
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", odata.ContentTypeJSON)
	h.Set(odata.HeaderVersion, odata.Version)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// cookie is the simulator's paging state, carried inside Dataverse's pagingcookie.
type cookie struct {
	page  int
	last  string // GUID of the last row of the previous page
	snap  int64  // tracking snapshot version (0 when not tracking)
	from  int64  // delta: the token version
	phase string // delta: "rows" or "deletes"
	key   int64  // delta rows: last version sent; deletes: next delete index
	epoch int    // restores before the walk began: a restore ends every walk
}

func (c cookie) encode(t *table, tracking bool) string {
	inner := `<cookie page="` + strconv.Itoa(c.page) + `" snap="` + strconv.FormatInt(c.snap, 10) + `" from="` + strconv.FormatInt(c.from, 10) +
		`" phase="` + c.phase + `" key="` + strconv.FormatInt(c.key, 10) + `" epoch="` + strconv.Itoa(c.epoch) + `"><` + t.pk + ` last="{` + strings.ToUpper(c.last) + `}" /></cookie>`
	// Dataverse double-encodes the inner cookie.
	enc := url.QueryEscape(url.QueryEscape(inner))
	trk := "False"
	if tracking {
		trk = "True"
	}
	return `<cookie pagenumber="` + strconv.Itoa(c.page+1) + `" pagingcookie="` + enc + `" istracking="` + trk + `" />`
}

func attr(s, name string) string {
	i := strings.Index(s, " "+name+`="`)
	if i < 0 {
		return ""
	}
	s = s[i+len(name)+3:]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return ""
	}
	return s[:j]
}

func parseCookie(s string) (cookie, bool) {
	enc := attr(s, "pagingcookie")
	if enc == "" {
		return cookie{}, false
	}
	inner, err := url.QueryUnescape(enc)
	if err == nil {
		inner, err = url.QueryUnescape(inner)
	}
	if err != nil {
		return cookie{}, false
	}
	var c cookie
	c.page, _ = strconv.Atoi(attr(inner, "page"))
	c.snap, _ = strconv.ParseInt(attr(inner, "snap"), 10, 64)
	c.from, _ = strconv.ParseInt(attr(inner, "from"), 10, 64)
	c.phase = attr(inner, "phase")
	c.key, _ = strconv.ParseInt(attr(inner, "key"), 10, 64)
	c.epoch, _ = strconv.Atoi(attr(inner, "epoch"))
	c.last = strings.Trim(attr(inner, "last"), "{}")
	return c, c.page > 0
}

// rawParam finds a query option in the raw query without re-encoding anything.
func queryParams(raw string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		// '+' in a $filter is a literal plus only when encoded; treat raw '+' as space like forms do.
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func withoutParam(raw, name string) string {
	var keep []string
	for _, part := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k2, err := url.QueryUnescape(k); part == "" || (err == nil && k2 == name) {
			continue
		}
		keep = append(keep, part)
	}
	return strings.Join(keep, "&")
}

// selectCols resolves $select on t's columns under the read lock (a
// column may be added while requests are served; callers hold no lock).
func (s *Server) selectCols(t *table, sel string) ([]*column, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sel == "" {
		return slices.Clip(t.cols), nil
	}
	var cols []*column
	cols = append(cols, t.cols[0]) // the key is always returned
	for _, name := range odata.ParseSelect(sel) {
		c := t.byProp[name]
		if c == nil {
			return nil, noProperty(t, name)
		}
		if c.kind == kPK {
			continue
		}
		cols = append(cols, c)
		if c.kind == kMoney { // Dataverse adds the currency lookup when a money column is selected
			if cur := t.byName["transactioncurrencyid"]; cur != nil && !slices.Contains(cols, cur) {
				cols = append(cols, cur)
			}
		}
	}
	return cols, nil
}

func contextURL(base string, t *table, sel string) string {
	u := base + "$metadata#" + t.set
	if sel != "" {
		u += "(" + strings.Join(odata.ParseSelect(sel), ",") + ")"
	}
	return u
}

// serveCollection answers GET <entityset> with paging, $filter/$orderby/$top/$count and
// change tracking.
func (s *Server) serveCollection(w http.ResponseWriter, r *http.Request, t *table) {
	q, err := queryParams(r.URL.RawQuery)
	if err != nil {
		s.writeErr(w, badRequest(codeODataSyntax, "The query string could not be parsed: %v", err))
		return
	}
	pref := odata.ParsePrefer(r.Header)
	pageSize := maxPage
	if pref.MaxPageSize > 0 && pref.MaxPageSize < maxPage {
		pageSize = pref.MaxPageSize
	}
	a := annotationsFor(pref)
	for k := range q {
		switch k {
		case odata.OptionSelect, odata.OptionFilter, odata.OptionOrderBy, odata.OptionTop, odata.OptionCount, odata.OptionSkipToken, odata.OptionDeltaToken:
		case odata.OptionExpand:
			s.writeErr(w, badRequest(codeODataSyntax, "The simulator does not support $expand on %s.", t.set))
			return
		default:
			if strings.HasPrefix(k, "$") {
				s.writeErr(w, badRequest(codeODataSyntax, "The query parameter %s is not supported", k))
				return
			}
		}
	}
	_, isDelta := q[odata.OptionDeltaToken]
	tracking := pref.TrackChanges || isDelta
	var cur cookie
	if st, ok := q[odata.OptionSkipToken]; ok {
		if cur, ok = parseCookie(st); !ok {
			s.writeErr(w, badRequest(codeInvalidArgument, "The $skiptoken is not a valid paging cookie."))
			return
		}
	}
	cols, err := s.selectCols(t, q[odata.OptionSelect])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	if tracking {
		if !t.changeTracking {
			s.writeErr(w, badRequest(codeInvalidArgument, "Entity: %s isn't enabled for change tracking.", t.logical))
			return
		}
		for _, o := range []string{odata.OptionFilter, odata.OptionOrderBy, odata.OptionExpand, odata.OptionTop} {
			if _, ok := q[o]; ok {
				s.writeErr(w, badRequest(codeInvalidArgument, "The \"%s\" query parameter isn't supported when Change Tracking is enabled.", strings.TrimPrefix(o, "$")))
				return
			}
		}
	}
	var filter pred
	if f, ok := q[odata.OptionFilter]; ok {
		n, err := odata.ParseFilter(f)
		if err != nil {
			s.writeErr(w, badRequest(codeODataSyntax, "Syntax error in $filter: %v", err))
			return
		}
		s.mu.RLock()
		filter, err = compileFilter(t, n)
		s.mu.RUnlock()
		if err != nil {
			s.writeErr(w, err)
			return
		}
	}
	var order []*column
	var desc []bool
	if ob, ok := q[odata.OptionOrderBy]; ok {
		items, err := odata.ParseOrderBy(ob)
		if err != nil {
			s.writeErr(w, badRequest(codeODataSyntax, "Syntax error in $orderby: %v", err))
			return
		}
		for _, it := range items {
			c := t.byProp[it.Property]
			if c == nil {
				s.writeErr(w, noProperty(t, it.Property))
				return
			}
			order, desc = append(order, c), append(desc, it.Desc)
		}
	}
	top := -1
	if v, ok := q[odata.OptionTop]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeErr(w, badRequest(codeODataSyntax, "Invalid value for $top: %s", v))
			return
		}
		// VERIFY: with $top Dataverse returns at most that many rows and no nextLink; the
		// simulator ignores odata.maxpagesize then.
		top, pageSize = n, min(n, maxPage)
	}
	count := q[odata.OptionCount] == "true"

	var from int64
	if isDelta {
		v, at, ok := parseDeltaToken(q[odata.OptionDeltaToken])
		if !ok {
			s.writeErr(w, badRequest(codeInvalidArgument, "The delta token '%s' is not valid.", q[odata.OptionDeltaToken]))
			return
		}
		s.mu.RLock()
		expired := s.deltaExpired(t, v, at)
		s.mu.RUnlock()
		if expired {
			s.writeErr(w, badRequest(codeExpiredVersion, "The version stamp associated with the client has expired. Please perform a full sync."))
			return
		}
		from = v
	}

	s.mu.RLock()
	if cur.page > 0 && cur.epoch != s.restores {
		s.mu.RUnlock()
		s.writeErr(w, badRequest(codeInvalidArgument, "The $skiptoken is not a valid paging cookie."))
		return
	}
	body := getBody()
	defer func() { putBody(body) }()
	ctx := contextURL(s.apiURL, t, q[odata.OptionSelect])
	if isDelta {
		ctx += odata.ContextDelta
	}
	body = append(body, `{"`+odata.KeyContext+`":`...)
	body = appendStr(body, ctx)
	if count {
		n := 0
		for p := 0; p < t.count(); p++ {
			if row := t.rowAt(p); t.alive(row) && (filter == nil || filter(row)) {
				n++
			}
		}
		body = append(body, `,"`+odata.KeyCount+`":`...)
		body = strconv.AppendInt(body, int64(min(n, maxPage)), 10)
		if n > maxPage {
			body = append(body, `,"@`+odata.AnnotationTotalRecordCount+`":-1,"@`+odata.AnnotationTotalRecordCountLimitExceeded+`":true`...)
		} else {
			body = append(body, `,"@`+odata.AnnotationTotalRecordCount+`":`...)
			body = strconv.AppendInt(body, int64(n), 10)
			body = append(body, `,"@`+odata.AnnotationTotalRecordCountLimitExceeded+`":false`...)
		}
	}
	body = append(body, `,"value":[`...)
	var next *cookie
	first := true
	emit := func(row int32) {
		if !first {
			body = append(body, ',')
		}
		first = false
		body = appendRow(body, t, row, cols, a)
	}
	switch {
	case isDelta:
		next = s.deltaPage(t, cur, from, pageSize, emit, func(id string) {
			if !first {
				body = append(body, ',')
			}
			first = false
			body = append(body, `{"`+odata.KeyContext+`":`...)
			body = appendStr(body, s.apiURL+"$metadata#"+t.set+odata.ContextDeletedEntity)
			body = append(body, `,"id":"`...)
			body = append(body, id...)
			body = append(body, `","reason":"deleted"}`...)
		})
	case order != nil:
		next = s.orderedPage(t, cur, q[odata.OptionFilter]+"\x00"+q[odata.OptionOrderBy], filter, order, desc, pageSize, emit)
	default:
		next = s.keyPage(t, cur, filter, pageSize, emit)
	}
	if tracking && next != nil && next.snap == 0 {
		next.snap = cur.snap
	}
	snap := cur.snap
	if snap == 0 {
		snap = s.version
	}
	restores, tokenAt := s.restores, s.deltaTime()
	s.mu.RUnlock()
	body = append(body, ']')
	if top >= 0 {
		next = nil
	}
	if next != nil {
		if tracking {
			next.snap = snap
			next.from = from
		}
		link := s.apiURL + t.set + "?" + withoutParam(r.URL.RawQuery, odata.OptionSkipToken)
		if !strings.HasSuffix(link, "?") {
			link += "&"
		}
		next.epoch = restores
		link += odata.OptionSkipToken + "=" + url.QueryEscape(next.encode(t, tracking))
		body = append(body, `,"`+odata.KeyNextLink+`":`...)
		body = appendStr(body, link)
	} else if tracking {
		link := s.apiURL + t.set + "?"
		if sel := q[odata.OptionSelect]; sel != "" {
			link += odata.OptionSelect + "=" + url.QueryEscape(sel) + "&"
		}
		link += odata.OptionDeltaToken + "=" + url.QueryEscape(deltaTokenText(snap, tokenAt))
		body = append(body, `,"`+odata.KeyDeltaLink+`":`...)
		body = appendStr(body, link)
	}
	body = append(body, '}')
	applied := odata.Prefer{IncludeAnnotations: pref.IncludeAnnotations, TrackChanges: pref.TrackChanges}
	if pref.MaxPageSize > 0 && top < 0 {
		applied.MaxPageSize = pageSize
	}
	if h := applied.String(); h != "" {
		w.Header().Set(odata.HeaderPreferenceApplied, h)
	}
	s.stats.pages.Add(1)
	writeJSON(w, 200, body)
}

func parseDeltaToken(tok string) (int64, time.Time, bool) {
	v, date, ok := strings.Cut(tok, "!")
	if !ok {
		return 0, time.Time{}, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, time.Time{}, false
	}
	at, err := time.Parse("01/02/2006 15:04:05", date)
	if err != nil {
		return 0, time.Time{}, false
	}
	return n, at, true
}

// keyPage walks rows in key (creation) order, the default when no $orderby is given.
func (s *Server) keyPage(t *table, cur cookie, filter pred, size int, emit func(int32)) *cookie {
	start := 0
	if cur.last != "" {
		if row := t.rowOf(cur.last); row >= 0 {
			start = t.posOf(row) + 1
		}
	}
	n, last := 0, int32(-1)
	for p := start; p < t.count(); p++ {
		row := t.rowAt(p)
		if !t.alive(row) || (filter != nil && !filter(row)) {
			continue
		}
		if n == size {
			return &cookie{page: cur.page + 1, last: t.guid(last)}
		}
		emit(row)
		n, last = n+1, row
	}
	return nil
}

// deltaPage returns rows changed after from (up to the snapshot), ordered by version, then
// the deletes.
func (s *Server) deltaPage(t *table, cur cookie, from int64, size int, emit func(int32), emitDel func(string)) *cookie {
	snap := cur.snap
	if snap == 0 {
		snap = s.version
	}
	phase, key := cur.phase, cur.key
	if phase == "" {
		phase, key = "rows", from
	}
	n := 0
	if phase == "rows" {
		var rows []int32
		ver := t.owner.version.i64
		for p := 0; p < t.count(); p++ {
			row := t.rowAt(p)
			if v := ver[row]; v > key && v <= snap && t.alive(row) {
				rows = append(rows, row)
			}
		}
		slices.SortFunc(rows, func(a, b int32) int { return cmp.Compare(ver[a], ver[b]) })
		for _, row := range rows {
			if n == size {
				return &cookie{page: cur.page + 1, snap: snap, phase: "rows", key: ver[row] - 1, last: t.guid(row)}
			}
			emit(row)
			n++
		}
		phase, key = "deletes", 0
	}
	dels := t.owner.deletes
	for i := int(key); i < len(dels); i++ {
		d := dels[i]
		if d.ver <= from || d.ver > snap || !t.has(d.row) {
			continue
		}
		if n == size {
			return &cookie{page: cur.page + 1, snap: snap, phase: "deletes", key: int64(i), last: t.guid(d.row)}
		}
		emitDel(t.guid(d.row))
		n++
	}
	return nil
}

// serveRecord answers GET <entityset>(<guid>).
func (s *Server) serveRecord(w http.ResponseWriter, r *http.Request, t *table, id string) {
	q, _ := queryParams(r.URL.RawQuery)
	cols, err := s.selectCols(t, q[odata.OptionSelect])
	if err != nil {
		s.writeErr(w, err)
		return
	}
	a := annotationsFor(odata.ParsePrefer(r.Header))
	s.mu.RLock()
	defer s.mu.RUnlock()
	row := t.rowOf(id)
	if row < 0 || !t.alive(row) {
		s.writeErr(w, &apiError{status: 404, code: codeNotFound, message: t.logical + " With Id = " + strings.ToLower(strings.Trim(id, "{}")) + " Does Not Exist"})
		return
	}
	rec := appendRow(nil, t, row, cols, a)
	body := append([]byte(`{"`+odata.KeyContext+`":`), appendStr(nil, contextURL(s.apiURL, t, q[odata.OptionSelect])+"/$entity")...)
	body = append(body, ',')
	body = append(body, rec[1:]...)
	writeJSON(w, 200, body)
}
