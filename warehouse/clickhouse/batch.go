package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ampel/ampel/warehouse"
)

// batch wraps a clickhouse-go batch prepared with WithReleaseConnection:
// the INSERT's column types are known at once, the connection goes back to
// the pool while rows are appended, and Send takes one again.
type batch struct {
	store   *Store
	b       driver.Batch
	query   string
	columns []string
	types   []*warehouse.Type
	conv    []func(any) any
	row     []any
	// ctx is the context clickhouse-go keeps for the batch: it carries the
	// caller's values (read-only marking) but not its cancellation, which
	// Send ties to its own ctx through cancel.
	ctx    context.Context
	cancel context.CancelFunc
	err    error // a failed Append leaves the block unusable
	done   bool
	bytes  int // about what the appended rows take (valueBytes)
}

// PrepareInsert starts a batch for INSERT INTO database.table (columns),
// sent with the settings of warehouse.InsertSettings(ctx) beside the
// driver's own.
func (s *Store) PrepareInsert(ctx context.Context, table string, columns []string) (warehouse.Batch, error) {
	if s.closed.Load() {
		return nil, warehouse.ErrClosed
	}
	if warehouse.IsReadOnly(ctx) {
		return nil, &warehouse.RefusedError{What: "INSERT", Reason: "INSERT writes data", Query: "INSERT INTO " + table}
	}
	if !warehouse.ValidIdentifier(table) {
		return nil, fmt.Errorf("clickhouse: insert: table name %q: use letters, digits and underscores only", table)
	}
	if len(columns) == 0 {
		return nil, fmt.Errorf("clickhouse: insert into %s: no columns", table)
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		if !warehouse.ValidIdentifier(c) {
			return nil, fmt.Errorf("clickhouse: insert into %s: column name %q: use letters, digits and underscores only", table, c)
		}
		quoted[i] = warehouse.QuoteIdentifier(c)
	}
	query := fmt.Sprintf("INSERT INTO %s.%s (%s)", warehouse.QuoteIdentifier(s.db), warehouse.QuoteIdentifier(table), strings.Join(quoted, ", "))

	bctx := context.WithoutCancel(ctx)
	set := s.settings(ctx, true)
	for _, is := range warehouse.InsertSettings(ctx) {
		if !warehouse.ValidIdentifier(is.Name) {
			return nil, fmt.Errorf("clickhouse: insert into %s: setting %q: use letters, digits and underscores only", table, is.Name)
		}
		set[is.Name] = is.Value
	}
	if len(set) > 0 {
		bctx = ch.Context(bctx, ch.WithSettings(set))
	}
	bctx, cancel := context.WithCancel(bctx)
	stop := s.tieCancel(ctx, cancel)
	b, err := s.conn.PrepareBatch(bctx, query, driver.WithReleaseConnection())
	stop()
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, wrapErr(ctx, err, query)
		}
		return nil, wrapErr(bctx, err, query)
	}
	cols := b.Columns()
	if len(cols) != len(columns) {
		_ = b.Abort()
		cancel()
		return nil, fmt.Errorf("clickhouse: insert into %s: server returned %d columns for %d", table, len(cols), len(columns))
	}
	bt := &batch{
		store:   s,
		b:       b,
		query:   query,
		columns: columns,
		types:   make([]*warehouse.Type, len(cols)),
		conv:    make([]func(any) any, len(cols)),
		row:     make([]any, len(cols)),
		ctx:     bctx,
		cancel:  cancel,
	}
	for i, c := range cols {
		t, err := warehouse.ParseType(string(c.Type()))
		if err != nil {
			_ = b.Abort()
			cancel()
			return nil, fmt.Errorf("clickhouse: insert into %s column %s: %w", table, columns[i], err)
		}
		bt.types[i] = t
		bt.conv[i] = driverConv(t, c.ScanType())
	}
	return bt, nil
}

// tieCancel makes cancel run when ctx is done, or after the query timeout
// when ctx has no deadline. The returned stop undoes both.
func (s *Store) tieCancel(ctx context.Context, cancel context.CancelFunc) (stop func()) {
	stopCtx := context.AfterFunc(ctx, cancel)
	var timer *time.Timer
	if _, ok := ctx.Deadline(); !ok {
		timer = time.AfterFunc(s.queryTimeout, cancel)
	}
	return func() {
		stopCtx()
		if timer != nil {
			timer.Stop()
		}
	}
}

func (b *batch) Append(values ...any) error {
	if b.done {
		return errors.New("clickhouse: append to a batch that was sent or aborted")
	}
	if b.err != nil {
		return b.err
	}
	if len(values) != len(b.types) {
		return fmt.Errorf("clickhouse: append: %d values for %d columns", len(values), len(b.types))
	}
	n := 0
	for i, v := range values {
		cv, err := warehouse.Coerce(b.types[i], v)
		if err != nil {
			return fmt.Errorf("column %s: %w", b.columns[i], err)
		}
		n += valueBytes(cv)
		b.row[i] = b.conv[i](cv)
	}
	if err := b.b.Append(b.row...); err != nil {
		// part of the row may be in the block now: the batch cannot be sent
		b.err = fmt.Errorf("clickhouse: append: %w", err)
		return b.err
	}
	b.bytes += n
	return nil
}

func (b *batch) Rows() int { return b.b.Rows() }

// Bytes is an estimate from the values appended (valueBytes): the driver's
// columns do not report their size.
func (b *batch) Bytes() int { return b.bytes }

// valueBytes is about what a canonical value (warehouse.Coerce) takes in
// a column of the native format: a string its bytes and a length, an
// array its elements and an offset, a fixed-size value 8 bytes (16 for a
// UUID or a Decimal), a NULL one.
func valueBytes(v any) int {
	switch x := v.(type) {
	case nil:
		return 1
	case string:
		return len(x) + 1
	case []string:
		n := 8
		for _, s := range x {
			n += len(s) + 1
		}
		return n
	case []any:
		n := 8
		for _, e := range x {
			n += valueBytes(e)
		}
		return n
	default:
		if reflect.TypeOf(v).Size() > 8 {
			return 16 // uuid.UUID, decimal.Decimal, time.Time
		}
		return 8
	}
}

func (b *batch) Send(ctx context.Context) error {
	if b.done {
		return errors.New("clickhouse: batch was already sent or aborted")
	}
	b.done = true
	defer b.cancel()
	if b.err != nil {
		_ = b.b.Abort()
		return b.err
	}
	if b.store.closed.Load() {
		_ = b.b.Abort()
		return warehouse.ErrClosed
	}
	stop := b.store.tieCancel(ctx, b.cancel)
	err := b.b.Send()
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return wrapErr(ctx, err, b.query)
		}
		return wrapErr(b.ctx, err, b.query)
	}
	return nil
}

func (b *batch) Abort() error {
	if b.done {
		return nil
	}
	b.done = true
	b.cancel()
	err := b.b.Abort()
	if err != nil && !errors.Is(err, ch.ErrBatchAlreadySent) {
		return err
	}
	return nil
}

// driverConv returns the function that turns a canonical value (what
// warehouse.Coerce returns for t) into the Go type clickhouse-go appends to
// a column of scan type scan.
func driverConv(t *warehouse.Type, scan reflect.Type) func(any) any {
	ident := func(v any) any { return v }
	switch t.Kind {
	case warehouse.KindNullable:
		inner := scan
		if inner.Kind() == reflect.Pointer {
			inner = inner.Elem()
		}
		conv := driverConv(t.Elem, inner)
		return func(v any) any {
			if v == nil {
				return nil
			}
			return conv(v)
		}
	case warehouse.KindLowCardinality:
		conv := driverConv(t.Elem, scan)
		return func(v any) any {
			if s, ok := v.(string); ok {
				// clickhouse-go keys its dictionary by the string itself;
				// Append must not keep the caller's memory (Batch.Append)
				v = strings.Clone(s)
			}
			return conv(v)
		}
	case warehouse.KindInt8:
		return func(v any) any { return int8(v.(int64)) }
	case warehouse.KindInt16:
		return func(v any) any { return int16(v.(int64)) }
	case warehouse.KindInt32:
		return func(v any) any { return int32(v.(int64)) }
	case warehouse.KindUInt8:
		return func(v any) any { return uint8(v.(uint64)) }
	case warehouse.KindUInt16:
		return func(v any) any { return uint16(v.(uint64)) }
	case warehouse.KindUInt32:
		return func(v any) any { return uint32(v.(uint64)) }
	case warehouse.KindFloat32:
		return func(v any) any { return float32(v.(float64)) }
	case warehouse.KindArray:
		if scan.Kind() != reflect.Slice {
			return ident
		}
		elemScan := scan.Elem()
		conv := driverConv(t.Elem, elemScan)
		return func(v any) any {
			src, ok := v.([]any)
			if !ok {
				return v // []string for Array(String)
			}
			out := reflect.MakeSlice(scan, len(src), len(src))
			for i, e := range src {
				dv := conv(e)
				if dv == nil {
					continue // zero: a nil pointer for Nullable elements
				}
				rv := reflect.ValueOf(dv)
				if elemScan.Kind() == reflect.Pointer && rv.Kind() != reflect.Pointer {
					p := reflect.New(rv.Type())
					p.Elem().Set(rv)
					rv = p
				}
				if rv.Type() != elemScan && rv.Type().ConvertibleTo(elemScan) {
					rv = rv.Convert(elemScan)
				}
				out.Index(i).Set(rv)
			}
			return out.Interface()
		}
	}
	return ident
}
