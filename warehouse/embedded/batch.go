//go:build cgo

package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/warehouse"
)

// chunkSize is how many bytes of RowBinary a batch collects before it
// starts another buffer; Send hands the engine one buffer at a time (the
// engine copies it) and lets it go. Small chunks keep a filling batch at
// about what it holds: a batch of 8 MB chunks had its first buffer sized
// for the whole batch before a row was in it (a lead batch of a large
// sync 6–7 MB, in each of the tables loading at once), so the batch
// writers held 26–34 MB of the sync's Go heap at its largest at 1M leads
// against 13 MB at 10k (heap profiles, BenchmarkSyncPeakRSS in
// cmd/ampel; docs/performance.md has the figures).
const chunkSize = 1 << 20

// A batch's first buffer is sized from the last batch sent into the same
// columns of the same table (Store.batchSizes; a sync writes one batch of
// megabytes after another into a table), up to chunkSize and a quarter:
// grown by doubling from nothing, each batch zeroed and copied its rows
// several times over and ended with up to twice the room it needed.
func (s *Store) firstBuffer(query string) []byte {
	if n, ok := s.batchSizes.Load(query); ok {
		return make([]byte, 0, min(n.(int)+n.(int)/8, chunkSize+chunkSize/4))
	}
	return nil
}

// PrepareInsert starts a batch for table; Append encodes each row into
// RowBinary at once, so a batch holds bytes, not Go values. The INSERT
// carries the settings of warehouse.InsertSettings(ctx) in its SETTINGS
// clause.
func (s *Store) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	if warehouse.IsReadOnly(ctx) {
		return nil, &warehouse.RefusedError{What: "INSERT", Reason: "INSERT writes data", Query: "INSERT INTO " + table}
	}
	db, name := s.db, table
	if d, n, ok := strings.Cut(table, "."); ok && warehouse.ValidIdentifier(d) && warehouse.ValidIdentifier(n) {
		db, name = d, n
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("embedded warehouse: insert into %s names no columns", table)
	}
	have, err := s.tableColumns(ctx, db, name)
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(columns))
	b := &batch{s: s, types: make([]*warehouse.Type, len(columns)), encs: make([]encoder, len(columns)), columns: columns}
	for i, c := range columns {
		quoted[i] = warehouse.QuoteIdentifier(c)
	}
	b.query = "INSERT INTO " + warehouse.QuoteIdentifier(db) + "." + warehouse.QuoteIdentifier(name) + " (" + strings.Join(quoted, ", ") + ")"
	settings, err := warehouse.SettingsClause(warehouse.InsertSettings(ctx))
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: insert into %s: %w", table, err)
	}
	b.query += settings
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
	b.cur = s.firstBuffer(b.query)
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
	bytes   int // of RowBinary in all buffers
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
		if out, ok := fastEncode(b.types[i], b.cur, v); ok {
			b.cur = out
			continue
		}
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
	b.bytes += len(b.cur) - start
	if len(b.cur) >= chunkSize {
		b.full = append(b.full, b.cur)
		b.cur = make([]byte, 0, chunkSize+chunkSize/4)
	}
	return nil
}

func (b *batch) Rows() int { return b.rows }

// Bytes is the RowBinary encoded so far.
func (b *batch) Bytes() int { return b.bytes }

// Send streams the buffers into one INSERT … FORMAT RowBinary.
func (b *batch) Send(ctx context.Context) (err error) {
	if b.done {
		return warehouse.ErrClosed
	}
	defer b.Abort()
	defer func() {
		if err != nil {
			b.s.schemas.forget() // the table may have changed under the batch
		}
	}()
	if b.rows == 0 {
		return nil
	}
	if warehouse.IsReadOnly(ctx) {
		return &warehouse.Error{Code: warehouse.CodeReadOnly, Message: "cannot insert in a read-only context", Query: b.query, Err: warehouse.ErrReadOnly}
	}
	s := b.s
	leave, err := enterWrite(ctx)
	if err != nil {
		return err
	}
	defer leave()
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
	s.batchSizes.Store(b.query, b.bytes)
	return nil
}

func (b *batch) Abort() error {
	b.done = true
	b.full, b.cur = nil, nil
	return nil
}

// fastEncode appends v when it already is the canonical Go value of a
// simple type, skipping warehouse.Coerce (and its boxing); it reports
// false for anything else, which then takes the general path. It accepts
// exactly what Coerce accepts for these values, with the same result.
func fastEncode(t *warehouse.Type, b []byte, v any) ([]byte, bool) {
	switch t.Kind {
	case warehouse.KindLowCardinality:
		return fastEncode(t.Elem, b, v)
	case warehouse.KindNullable:
		if v == nil {
			return append(b, 1), true
		}
		if out, ok := fastEncode(t.Elem, append(b, 0), v); ok {
			return out, true
		}
		return b, false
	case warehouse.KindString:
		if s, ok := v.(string); ok {
			return append(binary.AppendUvarint(b, uint64(len(s))), s...), true
		}
	case warehouse.KindInt64:
		switch x := v.(type) {
		case int64:
			return binary.LittleEndian.AppendUint64(b, uint64(x)), true
		case int:
			return binary.LittleEndian.AppendUint64(b, uint64(x)), true
		}
	case warehouse.KindInt32:
		if x, ok := v.(int); ok && x >= math.MinInt32 && x <= math.MaxInt32 {
			return binary.LittleEndian.AppendUint32(b, uint32(int32(x))), true
		}
	case warehouse.KindUInt64:
		if x, ok := v.(uint64); ok {
			return binary.LittleEndian.AppendUint64(b, x), true
		}
	case warehouse.KindFloat64:
		if x, ok := v.(float64); ok {
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), true
		}
	case warehouse.KindBool:
		if x, ok := v.(bool); ok {
			if x {
				return append(b, 1), true
			}
			return append(b, 0), true
		}
	case warehouse.KindUUID:
		if u, ok := v.(uuid.UUID); ok {
			b = binary.LittleEndian.AppendUint64(b, binary.BigEndian.Uint64(u[:8]))
			return binary.LittleEndian.AppendUint64(b, binary.BigEndian.Uint64(u[8:])), true
		}
	case warehouse.KindDateTime:
		if tm, ok := v.(time.Time); ok {
			if sec := tm.Unix(); sec >= 0 && sec <= math.MaxUint32 {
				return binary.LittleEndian.AppendUint32(b, uint32(sec)), true
			}
		}
	}
	return b, false
}
