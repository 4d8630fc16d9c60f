package clickhouse

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/warehouse"
)

// rows adapts clickhouse-go's rows: it scans each row into destinations of
// the driver's scan types, allocated once, and converts them to the
// canonical Go values the warehouse package lists.
type rows struct {
	ctx    context.Context
	r      driver.Rows
	cancel context.CancelFunc
	query  string
	cols   []warehouse.Column
	dest   []any
	conv   []func(any) any
	values []any
	err    error
	closed bool
}

func newRows(ctx context.Context, r driver.Rows, cancel context.CancelFunc, query string) *rows {
	types := r.ColumnTypes()
	rs := &rows{
		ctx:    ctx,
		r:      r,
		cancel: cancel,
		query:  query,
		cols:   make([]warehouse.Column, len(types)),
		dest:   make([]any, len(types)),
		conv:   make([]func(any) any, len(types)),
		values: make([]any, len(types)),
	}
	for i, ct := range types {
		rs.cols[i] = warehouse.Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
		rs.dest[i] = reflect.New(ct.ScanType()).Interface()
		isDate := false
		if t, err := warehouse.ParseType(ct.DatabaseTypeName()); err == nil {
			isDate = dateLeaf(t)
		}
		rs.conv[i] = converter(rs.dest[i], isDate)
	}
	return rs
}

func (r *rows) Columns() []warehouse.Column { return r.cols }

func (r *rows) Next() bool {
	if r.closed || r.err != nil {
		return false
	}
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			r.err = wrapErr(r.ctx, err, r.query)
		}
		return false
	}
	if err := r.r.Scan(r.dest...); err != nil {
		r.err = fmt.Errorf("clickhouse: scan: %w", err)
		return false
	}
	for i, d := range r.dest {
		r.values[i] = r.conv[i](d)
	}
	return true
}

func (r *rows) Values() []any { return r.values }

func (r *rows) Scan(dest ...any) error {
	if r.closed {
		return warehouse.ErrClosed
	}
	return warehouse.Scan(r.values, dest...)
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.r.Close()
	r.cancel()
	if err != nil && r.err == nil {
		return wrapErr(r.ctx, err, r.query)
	}
	return nil
}

// converter returns the function that reads a scan destination (a pointer
// to the driver's scan type) as a canonical value. The common types have a
// direct path; the rest go through reflection.
func converter(dest any, isDate bool) func(any) any {
	switch dest.(type) {
	case *string:
		return func(d any) any { return *d.(*string) }
	case **string:
		return func(d any) any {
			if p := *d.(**string); p != nil {
				return *p
			}
			return nil
		}
	case *int8:
		return func(d any) any { return int64(*d.(*int8)) }
	case *int16:
		return func(d any) any { return int64(*d.(*int16)) }
	case *int32:
		return func(d any) any { return int64(*d.(*int32)) }
	case *int64:
		return func(d any) any { return *d.(*int64) }
	case *uint8:
		return func(d any) any { return uint64(*d.(*uint8)) }
	case *uint16:
		return func(d any) any { return uint64(*d.(*uint16)) }
	case *uint32:
		return func(d any) any { return uint64(*d.(*uint32)) }
	case *uint64:
		return func(d any) any { return *d.(*uint64) }
	case *float64:
		return func(d any) any { return *d.(*float64) }
	case *bool:
		return func(d any) any { return *d.(*bool) }
	case *uuid.UUID:
		return func(d any) any { return *d.(*uuid.UUID) }
	case *decimal.Decimal:
		return func(d any) any { return *d.(*decimal.Decimal) }
	case *time.Time:
		if isDate {
			return func(d any) any { return dateUTC(*d.(*time.Time)) }
		}
		return func(d any) any { return d.(*time.Time).UTC() }
	case *[]string:
		return func(d any) any {
			p := d.(*[]string)
			v := *p
			*p = nil // the driver appends into a non-nil slice; give each row its own
			return v
		}
	}
	return func(d any) any { return canonical(reflect.ValueOf(d).Elem(), isDate) }
}

// dateLeaf reports whether t, under Nullable, LowCardinality and Array,
// is a Date.
func dateLeaf(t *warehouse.Type) bool {
	for {
		t = t.Base()
		if t.Kind != warehouse.KindArray {
			return t.Kind == warehouse.KindDate
		}
		t = t.Elem
	}
}

func dateUTC(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// canonical converts any value the driver scans to its canonical form.
func canonical(v reflect.Value, isDate bool) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil
	}
	switch x := v.Interface().(type) {
	case time.Time:
		if isDate {
			return dateUTC(x)
		}
		return x.UTC()
	case uuid.UUID, decimal.Decimal, string, bool:
		return x
	case []string:
		return append([]string(nil), x...)
	case []byte:
		return string(x)
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return v.String()
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = canonical(v.Index(i), isDate)
		}
		return out
	}
	return v.Interface()
}
