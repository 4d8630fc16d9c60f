package embedded

import (
	"context"
	"fmt"
	"strings"

	"github.com/ampel/ampel/warehouse"
)

// chunkSize is how many bytes of RowBinary a batch collects before it
// starts another buffer; Send hands the engine one buffer at a time.
const chunkSize = 8 << 20

// PrepareInsert starts a batch for table; Append encodes each row into
// RowBinary at once, so a batch holds bytes, not Go values.
func (s *Store) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	db, name := s.db, table
	if d, n, ok := strings.Cut(table, "."); ok && warehouse.ValidIdentifier(d) && warehouse.ValidIdentifier(n) {
		db, name = d, n
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("embedded warehouse: insert into %s names no columns", table)
	}
	rows, err := s.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, name)
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			rows.Close()
			return nil, err
		}
		have[n] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	quoted := make([]string, len(columns))
	b := &batch{s: s, types: make([]*warehouse.Type, len(columns)), encs: make([]encoder, len(columns)), columns: columns}
	for i, c := range columns {
		quoted[i] = warehouse.QuoteIdentifier(c)
	}
	b.query = "INSERT INTO " + warehouse.QuoteIdentifier(db) + "." + warehouse.QuoteIdentifier(name) + " (" + strings.Join(quoted, ", ") + ")"
	if len(have) == 0 {
		return nil, &warehouse.Error{Code: warehouse.CodeUnknownTable, Message: fmt.Sprintf("table %s.%s does not exist", db, name), Query: b.query}
	}
	for i, c := range columns {
		typ, ok := have[c]
		if !ok {
			return nil, &warehouse.Error{Code: codeNoSuchColumn, Message: fmt.Sprintf("table %s.%s has no column %s", db, name, c), Query: b.query}
		}
		t, err := warehouse.ParseType(typ)
		if err != nil {
			return nil, fmt.Errorf("embedded warehouse: insert into %s column %s: %w", table, c, err)
		}
		enc, err := newEncoder(t)
		if err != nil {
			return nil, fmt.Errorf("embedded warehouse: insert into %s column %s: %w", table, c, err)
		}
		b.types[i], b.encs[i] = t, enc
	}
	return b, nil
}

const codeNoSuchColumn = 16 // NO_SUCH_COLUMN_IN_TABLE

type batch struct {
	s       *Store
	query   string
	columns []string
	types   []*warehouse.Type
	encs    []encoder
	full    [][]byte // filled buffers
	cur     []byte
	rows    int
	done    bool
}

func (b *batch) Append(values ...any) error {
	if b.done {
		return warehouse.ErrClosed
	}
	if len(values) != len(b.types) {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.query, len(values), len(b.types))
	}
	start := len(b.cur)
	for i, v := range values {
		cv, err := warehouse.Coerce(b.types[i], v)
		if err == nil {
			b.cur, err = b.encs[i](b.cur, cv)
		}
		if err != nil {
			b.cur = b.cur[:start]
			return fmt.Errorf("column %s: %w", b.columns[i], err)
		}
	}
	b.rows++
	if len(b.cur) >= chunkSize {
		b.full = append(b.full, b.cur)
		b.cur = make([]byte, 0, chunkSize+chunkSize/4)
	}
	return nil
}

func (b *batch) Rows() int { return b.rows }

// Send streams the buffers into one INSERT … FORMAT RowBinary.
func (b *batch) Send(ctx context.Context) error {
	if b.done {
		return warehouse.ErrClosed
	}
	defer b.Abort()
	if b.rows == 0 {
		return nil
	}
	if warehouse.IsReadOnly(ctx) {
		return &warehouse.Error{Code: warehouse.CodeReadOnly, Message: "cannot insert in a read-only context", Query: b.query, Err: warehouse.ErrReadOnly}
	}
	s := b.s
	c, err := s.acquire(ctx, false)
	if err != nil {
		return err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	broken := false
	defer func() { s.release(c, false, broken) }()
	ins := c.insert(b.query, "RowBinary")
	defer ins.destroy()
	if e := ins.error(); e != "" {
		return engineError(e, b.query, nil)
	}
	if b.cur != nil {
		b.full = append(b.full, b.cur)
		b.cur = nil
	}
	for i, buf := range b.full {
		if err := ctx.Err(); err != nil {
			ins.cancel()
			return &warehouse.Error{Code: codeQueryWasCancelled, Message: "insert cancelled: " + err.Error(), Query: b.query, Err: context.Cause(ctx)}
		}
		if !ins.append(buf) {
			e := ins.error()
			ins.cancel()
			if e == "" {
				e = "the engine refused the data"
			}
			return engineError(e, b.query, nil)
		}
		b.full[i] = nil // let the buffer go
	}
	// The last step (the engine finishing the insert) cannot be
	// interrupted; its time is bounded by the data already handed over.
	r := ins.done()
	defer r.free()
	if e := r.error(); e != "" {
		return engineError(e, b.query, nil)
	}
	return nil
}

func (b *batch) Abort() error {
	b.done = true
	b.full, b.cur = nil, nil
	return nil
}
