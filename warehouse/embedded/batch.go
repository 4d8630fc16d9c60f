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
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/warehouse"
)

// chunkSize is how many bytes a batch's block collects before the batch
// starts another; Send hands the engine one block after another. A
// block's buffers are sized from the block before (the first from the
// last batch's first block). Smaller blocks hold less before rows fill
// them, but under `ampel sync`'s memory limit 1 MB blocks left the
// sync's largest Go heap where it was (BenchmarkSyncPeakRSS, 2026-12-01,
// alternated: 1M leads 156 / 160 MB against 157 / 158, 10k 107–133
// against 108–127) and cost the engine 15–20 % more CPU per INSERT
// (BenchmarkInsertLeads, send 4.1–4.5 against 3.5–3.7 CPU-s per 1M
// rows: each Native block is converted on its own).
const chunkSize = 8 << 20

// PrepareInsert starts a batch for table; Append encodes each value into
// its column's buffers in the Native format at once (native.go), so a
// batch holds bytes, not Go values. The INSERT carries the settings of
// warehouse.InsertSettings(ctx) in its SETTINGS clause.
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
	b := &batch{s: s, types: make([]*warehouse.Type, len(columns)), columns: columns, bound: warehouse.BatchBoundFrom(ctx)}
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
		b.types[i] = t
	}
	var sizes []int
	if v, ok := s.batchSizes.Load(b.query); ok {
		sizes = v.([]int)
	}
	if b.cur, err = b.newBlock(sizes); err != nil {
		return nil, fmt.Errorf("embedded warehouse: insert into %s %w", table, err)
	}
	return b, nil
}

const codeNoSuchColumn = 16 // NO_SUCH_COLUMN_IN_TABLE

// batch is a batch in Native blocks: Append adds each value to its
// column's buffers, and a block ends past chunkSize bytes.
type batch struct {
	s       *Store
	query   string
	columns []string
	types   []*warehouse.Type
	full    []nativeBlock // ended blocks
	cur     nativeBlock
	rows    int
	bytes   int // in all blocks
	done    bool
	bound   warehouse.BatchBound // where the writer means to send the batch
}

type nativeBlock struct {
	cols  []*nativeColumn
	rows  int
	bytes int
}

// sizes are the lengths of the block's column buffers, for the next
// block's (nativeColumn.sizes, reserve).
func (blk *nativeBlock) sizes() []int {
	var out []int
	for _, c := range blk.cols {
		out = c.sizes(out)
	}
	return out
}

func (b *batch) newBlock(sizes []int) (nativeBlock, error) {
	blk := nativeBlock{cols: make([]*nativeColumn, len(b.types))}
	for i, t := range b.types {
		c, err := newNativeColumn(t)
		if err != nil {
			return blk, fmt.Errorf("column %s: %w", b.columns[i], err)
		}
		sizes = c.reserve(sizes)
		blk.cols[i] = c
	}
	return blk, nil
}

func (b *batch) Append(values ...any) error {
	if b.done {
		return warehouse.ErrClosed
	}
	if len(values) != len(b.types) {
		return fmt.Errorf("insert into %s: %d values for %d columns", b.query, len(values), len(b.types))
	}
	added := 0
	for i, v := range values {
		c := b.cur.cols[i]
		c.mark()
		if err := c.append(v); err != nil {
			for _, c := range b.cur.cols[:i+1] {
				c.undo()
			}
			return fmt.Errorf("column %s: %w", b.columns[i], err)
		}
		added += c.added()
	}
	b.rows++
	b.cur.rows++
	b.bytes += added
	b.cur.bytes += added
	if b.cur.rows == probeRows && len(b.full) == 0 {
		if n := b.expectedRows(); n > probeRows {
			b.cur.expect(n, probeRows)
		}
	}
	if b.cur.bytes >= chunkSize {
		next, err := b.newBlock(b.cur.sizes())
		if err != nil {
			return err
		}
		b.full = append(b.full, b.cur)
		b.cur = next
	}
	return nil
}

// probeRows: at this many rows, a batch's first block sizes its buffers
// for the rows it is expected to hold (expectedRows), from the bytes each
// buffer took per row so far. Without it, a batch whose buffers were not
// sized from the batch before (each table's first batch in a process,
// and every range of a ranged load, which start at once) grew each of
// its buffers by append from nothing, at a quarter at a time past a few
// hundred bytes. Measured (BenchmarkSync, 50k leads, one process): 25,141
// growths of 614 MB in 154 INSERTs, 11,268 of them in a cold sync's 17
// first batches; runtime.growslice 0.71 s of the sync's Go CPU.
const probeRows = 256

// expectedRows is how many rows the first block is expected to hold,
// from the bytes per row of its first probeRows rows: where the batch's
// bound (warehouse.BatchBound) ends it, a quarter more where the bound is
// in bytes (a writer ends a batch at the first page past the bound), or
// where the block ends (chunkSize); 0 without a bound.
func (b *batch) expectedRows() int {
	if b.bound.Rows <= 0 && b.bound.Bytes <= 0 {
		return 0
	}
	per := max(b.cur.bytes/b.cur.rows, 1)
	n := chunkSize/per + 1
	if b.bound.Rows > 0 {
		n = min(n, b.bound.Rows)
	}
	if b.bound.Bytes > 0 {
		n = min(n, b.bound.Bytes/per*5/4)
	}
	return n
}

// expect sizes the block's buffers for rows rows, from what they hold
// for the block's probe rows (probe).
func (blk *nativeBlock) expect(rows, probe int) {
	for _, c := range blk.cols {
		c.expect(rows, probe)
	}
}

func (b *batch) Rows() int { return b.rows }

// Bytes is the Native data collected so far, the blocks' headers aside.
func (b *batch) Bytes() int { return b.bytes }

func (b *batch) Abort() error {
	b.done = true
	b.full, b.cur = nil, nativeBlock{}
	return nil
}

// Send streams the blocks into one INSERT … FORMAT Native.
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
	ins := c.insert(b.query, "Native")
	defer ins.destroy()
	if e := ins.error(); e != "" {
		return engineError(e, b.query, nil)
	}
	sizes := b.cur.sizes()
	if b.cur.rows > 0 {
		b.full = append(b.full, b.cur)
		b.cur = nativeBlock{}
	}
	var head []byte
	put := func(buf []byte) bool {
		if err = ctx.Err(); err != nil {
			err = &warehouse.Error{Code: codeQueryWasCancelled, Message: "insert cancelled: " + err.Error(), Query: b.query, Err: context.Cause(ctx)}
			return false
		}
		if !ins.append(buf) {
			e := ins.error()
			if e == "" {
				e = "the engine refused the data"
			}
			err = engineError(e, b.query, nil)
			return false
		}
		return true
	}
	for i := range b.full {
		blk := &b.full[i]
		head = nativeHeader(head[:0], len(blk.cols), blk.rows)
		ok := put(head)
		for j, c := range blk.cols {
			head = nativeColumnHeader(head[:0], b.columns[j], c.wire)
			ok = ok && put(head) && c.chunks(put)
		}
		if !ok {
			ins.cancel()
			return err
		}
		b.full[i] = nativeBlock{} // let the block go
	}
	// The last step (the engine finishing the insert) cannot be
	// interrupted; its time is bounded by the data already handed over.
	r := ins.done()
	defer r.free()
	if e := r.error(); e != "" {
		return engineError(e, b.query, nil)
	}
	if len(b.full) == 1 {
		// the next batch's first buffers
		s.batchSizes.Store(b.query, sizes)
	}
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
	case warehouse.KindDecimal:
		if d, ok := v.(decimal.Decimal); ok {
			return fastDecimal(t, b, d)
		}
	}
	return b, false
}

// fastDecimal appends d when its coefficient fits an int64 scaled to t's
// scale (no digits to drop: Coerce's checkDecimal and the encoder's
// Shift and big.Int would give the same integer, at a few allocations and
// a String each): a money value of Dataverse always does. It reports false
// for anything else.
func fastDecimal(t *warehouse.Type, b []byte, d decimal.Decimal) ([]byte, bool) {
	shift := int(d.Exponent()) + t.Scale // digits to append to the coefficient
	digits := d.NumDigits()
	if shift < 0 || digits+shift > 18 {
		return b, false
	}
	n := d.CoefficientInt64() * pow10[shift] // |n| < 10^18: no overflow
	if t.Precision < 19 {
		// the digits left of the point fit precision-scale
		if lim := pow10[t.Precision]; n >= lim || n <= -lim {
			return b, false
		}
	}
	switch decimalSize(t.Precision) {
	case 4:
		return binary.LittleEndian.AppendUint32(b, uint32(int32(n))), true
	case 8:
		return binary.LittleEndian.AppendUint64(b, uint64(n)), true
	case 16:
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
		return binary.LittleEndian.AppendUint64(b, uint64(n>>63)), true // the sign
	}
	return b, false
}
