//go:build cgo

package embedded

import (
	"context"
	"fmt"
	"strings"

	"github.com/ampel/ampel/warehouse"
)

// Query runs one statement and streams its rows in RowBinaryWithNamesAndTypes.
func (s *Store) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	q, err := warehouse.Bind(query, args...)
	if err != nil {
		return nil, err
	}
	ro := warehouse.IsReadOnly(ctx)
	if ro {
		if err := warehouse.CheckReadOnly(q, s.db); err != nil {
			return nil, err
		}
	} else if !readStatement(q) {
		s.schemas.forget() // it may change a table
	}
	c, err := s.acquire(ctx, ro)
	if err != nil {
		return nil, err
	}
	if ro {
		if broken, err := s.checkAST(ctx, c, q); err != nil {
			s.release(c, ro, broken)
			return nil, err
		}
	}
	ctx, cancel := s.timeout(ctx)
	mark := s.marker()
	r := &rows{s: s, c: c, ro: ro, query: q, mark: mark, ctx: ctx, cancel: cancel}
	r.stopWatch = s.watch(ctx, mark)
	r.stream = c.streamQuery(mark+q, "RowBinaryWithNamesAndTypes")
	if e := r.stream.error(); e != "" {
		r.stream.free()
		r.stream = result{}
		if !strings.Contains(e, "Streaming query is not supported") {
			err := s.failure(ctx, e, q, mark)
			r.finish(false)
			return nil, err
		}
		// SHOW, EXISTS, DESCRIBE and the like do not stream: run them
		// whole; their results are small.
		res := c.query(mark+q, "RowBinaryWithNamesAndTypes")
		if e := res.error(); e != "" {
			res.free()
			err := s.failure(ctx, e, q, mark)
			r.finish(false)
			return nil, err
		}
		r.whole = res
	}
	// The first chunk carries the header; an empty result has none, so
	// ask the engine for the result's shape instead.
	if !r.fetch() {
		if r.err != nil {
			err := r.err
			r.finish(true)
			return nil, err
		}
		cols, err := s.describe(ctx, c, q)
		if err != nil {
			r.finish(true)
			return nil, err
		}
		r.cols = cols
		r.vals = make([]any, len(cols))
	}
	return r, nil
}

// describe returns the columns a query would produce, or none when the
// statement cannot be described (SHOW, EXISTS, …).
func (s *Store) describe(ctx context.Context, c *conn, q string) ([]warehouse.Column, error) {
	var cols []warehouse.Column
	// without a trailing ; or comment, which would swallow the parenthesis
	q = warehouse.TrimStatement(q)
	_, err := s.run(ctx, c, "DESCRIBE TABLE ("+q+")", "RowBinaryWithNamesAndTypes", func(b []byte) error {
		d := &rows{rd: reader{b: b}}
		if len(b) == 0 {
			return nil
		}
		if err := d.header(); err != nil {
			return err
		}
		for d.rd.pos < len(d.rd.b) {
			if !d.decode() {
				return d.err
			}
			name, _ := d.vals[0].(string)
			typ, _ := d.vals[1].(string)
			cols = append(cols, warehouse.Column{Name: name, Type: typ})
		}
		return nil
	})
	if err != nil {
		return nil, nil //nolint:nilerr // not describable: no columns
	}
	return cols, nil
}

// rows streams one statement's result, one engine chunk at a time. Each
// chunk is a complete RowBinaryWithNamesAndTypes document (header and
// whole rows), decoded straight from the engine's buffer.
type rows struct {
	s         *Store
	c         *conn
	ro        bool
	query     string
	mark      string          // the marker before query
	ctx       context.Context // the statement's context, with its timeout
	cancel    context.CancelFunc
	stopWatch func() bool
	stream    result
	whole     result // the one result of a statement that does not stream
	chunk     result // current chunk, in C memory
	rd        reader
	cols      []warehouse.Column
	decs      []decoder
	vals      []any
	err       error
	eof       bool
	closed    bool
}

// fetch loads the next non-empty chunk; false at the end or on error.
func (r *rows) fetch() bool {
	for {
		r.chunk.free()
		r.chunk = result{}
		r.rd = reader{}
		if err := r.ctx.Err(); err != nil {
			r.err = &warehouse.Error{Code: codeQueryWasCancelled, Message: "statement cancelled: " + err.Error(), Query: warehouse.ShortQuery(r.query), Err: context.Cause(r.ctx)}
			return false
		}
		var ch result
		switch {
		case r.whole.r != nil:
			ch, r.whole = r.whole, result{}
		case r.stream.r != nil:
			ch = r.c.fetch(r.stream)
		default:
			r.eof = true
			return false
		}
		if e := ch.error(); e != "" {
			ch.free()
			r.err = r.s.failure(r.ctx, e, r.query, r.mark)
			return false
		}
		b := ch.bytes()
		if len(b) == 0 {
			ch.free()
			r.eof = true
			return false
		}
		r.chunk = result{ch.r}
		r.rd = reader{b: b}
		if err := r.header(); err != nil {
			r.err = err
			return false
		}
		if r.rd.pos < len(r.rd.b) {
			return true
		}
	}
}

// header reads a chunk's header; the first one sets the columns.
func (r *rows) header() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("embedded warehouse: result header: %v", p)
		}
	}()
	n := int(r.rd.uvarint())
	names := make([]string, n)
	for i := range names {
		names[i] = r.rd.string()
	}
	types := make([]string, n)
	for i := range types {
		types[i] = r.rd.string()
	}
	if r.cols != nil {
		if len(r.cols) != n {
			return fmt.Errorf("embedded warehouse: result chunk has %d columns, the first had %d", n, len(r.cols))
		}
		return nil
	}
	r.cols = make([]warehouse.Column, n)
	r.decs = make([]decoder, n)
	for i := range names {
		r.cols[i] = warehouse.Column{Name: names[i], Type: types[i]}
		t, err := warehouse.ParseType(types[i])
		if err != nil {
			return fmt.Errorf("embedded warehouse: result column %s: %w", names[i], err)
		}
		if r.decs[i], err = newDecoder(t); err != nil {
			return fmt.Errorf("embedded warehouse: result column %s: %w", names[i], err)
		}
	}
	r.vals = make([]any, n)
	return nil
}

func (r *rows) Columns() []warehouse.Column { return r.cols }

func (r *rows) Next() bool {
	if r.closed || r.err != nil || r.eof {
		return false
	}
	if r.rd.pos >= len(r.rd.b) && !r.fetch() {
		return false
	}
	return r.decode()
}

func (r *rows) decode() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.err = fmt.Errorf("embedded warehouse: decoding a result row: %v", p)
			ok = false
		}
	}()
	for i, dec := range r.decs {
		r.vals[i] = dec(&r.rd)
	}
	return true
}

func (r *rows) Values() []any { return r.vals }

func (r *rows) Scan(dest ...any) error {
	if r.closed {
		return warehouse.ErrClosed
	}
	return warehouse.Scan(r.vals, dest...)
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.finish(!r.eof)
	return nil
}

// finish ends the statement and gives the connection back.
func (r *rows) finish(cancel bool) {
	r.chunk.free()
	r.chunk = result{}
	r.whole.free()
	r.whole = result{}
	if r.stream.r != nil {
		if cancel {
			r.c.cancel(r.stream)
		}
		r.stream.free()
		r.stream = result{}
	}
	killed := r.stopWatch()
	r.cancel()
	// A connection whose statement was killed, failed or left unfinished
	// is closed rather than reused: a fresh one costs well under a
	// millisecond, and a half-read stream must not leak into the next
	// statement.
	r.s.release(r.c, r.ro, killed || cancel || r.err != nil)
	r.closed = true
}
