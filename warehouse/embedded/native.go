//go:build cgo

package embedded

import (
	"encoding/binary"
	"fmt"

	"github.com/ampel/ampel/warehouse"
)

// This file writes ClickHouse's Native format for INSERTs: a block is the
// column count and the row count (varints), then per column its name, its
// type name and its values, column after column. A column's values are
// those of RowBinary without the per-row framing: a Nullable column is
// its null map (one byte per row) and then a value for every row (the
// type's zero where the row is NULL); an Array column is the running
// total of its elements (UInt64 per row) and then all the elements.
// The engine reads a fixed-width column with one copy instead of a call
// per value. LowCardinality columns are sent as their inner type, which
// the engine converts (input_format_native_allow_types_conversion).

// nativeColumn collects one column's values of a block.
type nativeColumn struct {
	typ  *warehouse.Type // the column's type, for warehouse.Coerce
	wire string          // the type named in the block
	leaf *warehouse.Type // the type of the values in data (not Array)
	enc  encoder         // of leaf
	zero []byte          // leaf's zero, for the rows where the column is NULL

	nullable bool
	nulls    []byte // 1 where the row is NULL

	data []byte // the leaf values

	elem    *nativeColumn // of an Array
	offsets []byte        // of an Array: elements so far, UInt64 per row
	count   uint64        // of an Array: elements so far

	// the lengths before the row being written, for undo
	markNulls, markData, markOffsets int
	markCount                        uint64
}

// newNativeColumn builds the column for type t.
func newNativeColumn(t *warehouse.Type) (*nativeColumn, error) {
	c := &nativeColumn{typ: t}
	base := t
	for base.Kind == warehouse.KindLowCardinality || base.Kind == warehouse.KindNullable {
		if base.Kind == warehouse.KindNullable {
			c.nullable = true
		}
		base = base.Elem
	}
	if base.Kind == warehouse.KindArray {
		elem, err := newNativeColumn(base.Elem)
		if err != nil {
			return nil, err
		}
		c.elem = elem
		c.wire = "Array(" + elem.wire + ")"
		return c, nil
	}
	enc, err := newEncoder(base)
	if err != nil {
		return nil, err
	}
	c.leaf, c.enc, c.wire = base, enc, base.Name
	if c.nullable {
		c.wire = "Nullable(" + base.Name + ")"
		if c.zero, err = zeroValue(base); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// zeroValue is the encoding of t's zero value: a value of the right width
// under a NULL, which the engine does not read.
func zeroValue(t *warehouse.Type) ([]byte, error) {
	switch t.Kind {
	case warehouse.KindString:
		return []byte{0}, nil // length 0
	case warehouse.KindFixedString:
		return make([]byte, t.Size), nil
	case warehouse.KindInt8, warehouse.KindUInt8, warehouse.KindBool, warehouse.KindEnum8:
		return make([]byte, 1), nil
	case warehouse.KindInt16, warehouse.KindUInt16, warehouse.KindDate, warehouse.KindEnum16:
		return make([]byte, 2), nil
	case warehouse.KindInt32, warehouse.KindUInt32, warehouse.KindFloat32, warehouse.KindDateTime:
		return make([]byte, 4), nil
	case warehouse.KindInt64, warehouse.KindUInt64, warehouse.KindFloat64, warehouse.KindDateTime64:
		return make([]byte, 8), nil
	case warehouse.KindUUID:
		return make([]byte, 16), nil
	case warehouse.KindDecimal:
		return make([]byte, decimalSize(t.Precision)), nil
	}
	return nil, fmt.Errorf("cannot write NULL of type %s", t.Name)
}

// mark notes the lengths before a row, for undo and added.
func (c *nativeColumn) mark() {
	c.markNulls, c.markData = len(c.nulls), len(c.data)
	if c.elem != nil {
		c.markArray()
	}
}

func (c *nativeColumn) markArray() {
	c.markOffsets, c.markCount = len(c.offsets), c.count
	c.elem.mark()
}

// added is the bytes written since mark.
func (c *nativeColumn) added() int {
	n := len(c.nulls) - c.markNulls + len(c.data) - c.markData
	if c.elem != nil {
		n += c.arrayAdded()
	}
	return n
}

func (c *nativeColumn) arrayAdded() int {
	return len(c.offsets) - c.markOffsets + c.elem.added()
}

// undo drops what was written since mark.
func (c *nativeColumn) undo() {
	c.nulls, c.data, c.offsets, c.count = c.nulls[:c.markNulls], c.data[:c.markData], c.offsets[:c.markOffsets], c.markCount
	if c.elem != nil {
		c.elem.undo()
	}
}

// append adds v, as Batch.Append takes it, for one row.
func (c *nativeColumn) append(v any) error {
	if c.elem == nil {
		if c.nullable && v == nil {
			c.nulls = append(c.nulls, 1)
			c.data = append(c.data, c.zero...)
			return nil
		}
		if out, ok := fastEncode(c.leaf, c.data, v); ok {
			if c.nullable {
				c.nulls = append(c.nulls, 0)
			}
			c.data = out
			return nil
		}
	}
	cv, err := warehouse.Coerce(c.typ, v)
	if err != nil {
		return err
	}
	return c.appendCoerced(cv)
}

// appendCoerced adds a value warehouse.Coerce returned for c.typ.
func (c *nativeColumn) appendCoerced(v any) error {
	if c.nullable {
		if v == nil {
			c.nulls = append(c.nulls, 1)
			c.data = append(c.data, c.zero...)
			return nil
		}
		c.nulls = append(c.nulls, 0)
	}
	if c.elem == nil {
		var err error
		c.data, err = c.enc(c.data, v)
		return err
	}
	switch x := v.(type) {
	case []string:
		for _, e := range x {
			if err := c.elem.appendCoerced(e); err != nil {
				return err
			}
		}
		c.count += uint64(len(x))
	case []any:
		for _, e := range x {
			if err := c.elem.appendCoerced(e); err != nil {
				return err
			}
		}
		c.count += uint64(len(x))
	default:
		return fmt.Errorf("cannot encode %T as %s", v, c.typ.Name)
	}
	c.offsets = binary.LittleEndian.AppendUint64(c.offsets, c.count)
	return nil
}

// chunks calls f with the column's values in the order of the Native
// format.
func (c *nativeColumn) chunks(f func([]byte) bool) bool {
	if c.nullable && !f(c.nulls) {
		return false
	}
	if c.elem != nil {
		return f(c.offsets) && c.elem.chunks(f)
	}
	return f(c.data)
}

// sizes appends the capacity each buffer of c needs (nulls, data,
// offsets, then the element's), for the next block's first buffers.
func (c *nativeColumn) sizes(out []int) []int {
	out = append(out, len(c.nulls), len(c.data), len(c.offsets))
	if c.elem != nil {
		out = c.elem.sizes(out)
	}
	return out
}

// reserve sizes c's empty buffers from sizes as sizes made them, and
// returns the rest. A batch's first buffers are sized from the last batch
// sent into the same columns of the same table (Store.batchSizes; a sync
// writes one batch of megabytes after another into a table): grown by
// doubling from nothing, each batch zeroed and copied its values several
// times over and ended with up to twice the room it needed.
func (c *nativeColumn) reserve(sizes []int) []int {
	if len(sizes) < 3 {
		return nil
	}
	c.nulls, c.data, c.offsets = withRoom(c.nulls, sizes[0]), withRoom(c.data, sizes[1]), withRoom(c.offsets, sizes[2])
	sizes = sizes[3:]
	if c.elem != nil {
		sizes = c.elem.reserve(sizes)
	}
	return sizes
}

// expect grows c's buffers, where they are smaller, to hold what they
// hold now (for probe rows) times rows/probe, and an eighth more.
func (c *nativeColumn) expect(rows, probe int) {
	grow := func(buf []byte) []byte { return withRoom(buf, len(buf)*rows/probe) }
	c.nulls, c.data, c.offsets = grow(c.nulls), grow(c.data), grow(c.offsets)
	if c.elem != nil {
		c.elem.expect(rows, probe)
	}
}

// withRoom returns buf, or a copy of it, with room for n bytes and an
// eighth more: the slack of every sized buffer of a batch.
func withRoom(buf []byte, n int) []byte {
	n += n / 8
	if cap(buf) >= n {
		return buf
	}
	out := make([]byte, len(buf), n)
	copy(out, buf)
	return out
}

// nativeHeader is a block's start: the column and row counts.
func nativeHeader(b []byte, columns, rows int) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(b, uint64(columns)), uint64(rows))
}

// nativeColumnHeader is a column's start within a block: its name and type.
func nativeColumnHeader(b []byte, name, typ string) []byte {
	b = append(binary.AppendUvarint(b, uint64(len(name))), name...)
	return append(binary.AppendUvarint(b, uint64(len(typ))), typ...)
}
