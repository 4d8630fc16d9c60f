//go:build cgo

package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// This file reads and writes ClickHouse's RowBinary format: the engine's
// own row layout, little-endian, strings as a varint length and the bytes.
// RowBinaryWithNamesAndTypes adds a header: the column count, the names
// and the type names.

// encoder appends one value, already coerced by warehouse.Coerce, to b.
type encoder func(b []byte, v any) ([]byte, error)

// decoder reads one value from r.
type decoder func(r *reader) any

// newEncoder builds the encoder for a column type.
func newEncoder(t *warehouse.Type) (encoder, error) {
	switch t.Kind {
	case warehouse.KindLowCardinality:
		return newEncoder(t.Elem)
	case warehouse.KindNullable:
		inner, err := newEncoder(t.Elem)
		if err != nil {
			return nil, err
		}
		return func(b []byte, v any) ([]byte, error) {
			if v == nil {
				return append(b, 1), nil
			}
			return inner(append(b, 0), v)
		}, nil
	case warehouse.KindArray:
		inner, err := newEncoder(t.Elem)
		if err != nil {
			return nil, err
		}
		return func(b []byte, v any) ([]byte, error) {
			var err error
			switch x := v.(type) {
			case []string:
				b = binary.AppendUvarint(b, uint64(len(x)))
				for _, e := range x {
					if b, err = inner(b, e); err != nil {
						return b, err
					}
				}
			case []any:
				b = binary.AppendUvarint(b, uint64(len(x)))
				for _, e := range x {
					if b, err = inner(b, e); err != nil {
						return b, err
					}
				}
			default:
				return b, fmt.Errorf("cannot encode %T as %s", v, t.Name)
			}
			return b, nil
		}, nil
	case warehouse.KindString:
		return func(b []byte, v any) ([]byte, error) {
			s := v.(string)
			return append(binary.AppendUvarint(b, uint64(len(s))), s...), nil
		}, nil
	case warehouse.KindFixedString:
		n := t.Size
		return func(b []byte, v any) ([]byte, error) {
			s := v.(string)
			b = append(b, s...)
			for i := len(s); i < n; i++ {
				b = append(b, 0)
			}
			return b, nil
		}, nil
	case warehouse.KindEnum8, warehouse.KindEnum16:
		enum, wide := t.Enum, t.Kind == warehouse.KindEnum16
		return func(b []byte, v any) ([]byte, error) {
			n := enum[v.(string)]
			if wide {
				return binary.LittleEndian.AppendUint16(b, uint16(n)), nil
			}
			return append(b, byte(int8(n))), nil
		}, nil
	case warehouse.KindInt8, warehouse.KindUInt8:
		return func(b []byte, v any) ([]byte, error) { return append(b, byte(intBits(v))), nil }, nil
	case warehouse.KindInt16, warehouse.KindUInt16:
		return func(b []byte, v any) ([]byte, error) {
			return binary.LittleEndian.AppendUint16(b, uint16(intBits(v))), nil
		}, nil
	case warehouse.KindInt32, warehouse.KindUInt32:
		return func(b []byte, v any) ([]byte, error) {
			return binary.LittleEndian.AppendUint32(b, uint32(intBits(v))), nil
		}, nil
	case warehouse.KindInt64, warehouse.KindUInt64:
		return func(b []byte, v any) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(b, intBits(v)), nil
		}, nil
	case warehouse.KindFloat32:
		return func(b []byte, v any) ([]byte, error) {
			return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v.(float64)))), nil
		}, nil
	case warehouse.KindFloat64:
		return func(b []byte, v any) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.(float64))), nil
		}, nil
	case warehouse.KindBool:
		return func(b []byte, v any) ([]byte, error) {
			if v.(bool) {
				return append(b, 1), nil
			}
			return append(b, 0), nil
		}, nil
	case warehouse.KindUUID:
		return func(b []byte, v any) ([]byte, error) {
			u := v.(uuid.UUID)
			// UUID is a UInt128 of two UInt64 halves, high half first,
			// each little-endian.
			b = binary.LittleEndian.AppendUint64(b, binary.BigEndian.Uint64(u[:8]))
			return binary.LittleEndian.AppendUint64(b, binary.BigEndian.Uint64(u[8:])), nil
		}, nil
	case warehouse.KindDate:
		return func(b []byte, v any) ([]byte, error) {
			days := floorDiv(v.(time.Time).Unix(), 86400)
			if days < 0 || days > math.MaxUint16 {
				return b, fmt.Errorf("%s is outside the range of %s (1970-01-01 to 2149-06-06)", v.(time.Time).Format(time.DateOnly), t.Name)
			}
			return binary.LittleEndian.AppendUint16(b, uint16(days)), nil
		}, nil
	case warehouse.KindDateTime:
		return func(b []byte, v any) ([]byte, error) {
			sec := v.(time.Time).Unix()
			if sec < 0 || sec > math.MaxUint32 {
				return b, fmt.Errorf("%s is outside the range of %s (1970 to 2106)", v.(time.Time).Format(time.RFC3339), t.Name)
			}
			return binary.LittleEndian.AppendUint32(b, uint32(sec)), nil
		}, nil
	case warehouse.KindDateTime64:
		scale := t.Scale
		return func(b []byte, v any) ([]byte, error) {
			tm := v.(time.Time)
			ticks := tm.Unix()*pow10[scale] + int64(tm.Nanosecond())/pow10[9-scale]
			return binary.LittleEndian.AppendUint64(b, uint64(ticks)), nil
		}, nil
	case warehouse.KindDecimal:
		return decimalEncoder(t), nil
	}
	return nil, fmt.Errorf("cannot write values of type %s", t.Name)
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// intBits returns the two's complement bits of an int64 or uint64.
func intBits(v any) uint64 {
	switch x := v.(type) {
	case int64:
		return uint64(x)
	case uint64:
		return x
	case bool: // Coerce maps bool to uint64 for UInt8, but be lenient
		if x {
			return 1
		}
	}
	return 0
}

func decimalSize(p int) int {
	switch {
	case p <= 9:
		return 4
	case p <= 18:
		return 8
	case p <= 38:
		return 16
	}
	return 32
}

func decimalEncoder(t *warehouse.Type) encoder {
	scale, size := int32(t.Scale), decimalSize(t.Precision)
	return func(b []byte, v any) ([]byte, error) {
		d := v.(decimal.Decimal).Shift(scale)
		switch size {
		case 4:
			return binary.LittleEndian.AppendUint32(b, uint32(int32(d.IntPart()))), nil
		case 8:
			return binary.LittleEndian.AppendUint64(b, uint64(d.IntPart())), nil
		}
		return appendBigInt(b, d.BigInt(), size), nil
	}
}

// appendBigInt writes n as a size-byte two's complement little-endian integer.
func appendBigInt(b []byte, n *big.Int, size int) []byte {
	var buf [32]byte
	x := new(big.Int).Set(n)
	if x.Sign() < 0 { // two's complement: 2^(8*size) + n
		x.Add(x, new(big.Int).Lsh(big.NewInt(1), uint(8*size)))
	}
	x.FillBytes(buf[:size]) // big-endian
	for i := size - 1; i >= 0; i-- {
		b = append(b, buf[i])
	}
	return b
}

// reader walks a RowBinary buffer. Decoders panic with errShort on a
// truncated buffer; Next recovers it.
type reader struct {
	b   []byte
	pos int
}

var errShort = errors.New("embedded warehouse: truncated RowBinary data")

func (r *reader) next(n int) []byte {
	if n < 0 || r.pos+n > len(r.b) {
		panic(errShort)
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p
}

func (r *reader) byte() byte { return r.next(1)[0] }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		panic(errShort)
	}
	r.pos += n
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)-r.pos) {
		panic(errShort)
	}
	return string(r.next(int(n)))
}

func (r *reader) u16() uint16 { return binary.LittleEndian.Uint16(r.next(2)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.next(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.next(8)) }

// newDecoder builds the decoder for a result column type.
func newDecoder(t *warehouse.Type) (decoder, error) {
	switch t.Kind {
	case warehouse.KindLowCardinality:
		return newDecoder(t.Elem)
	case warehouse.KindNullable:
		inner, err := newDecoder(t.Elem)
		if err != nil {
			return nil, err
		}
		return func(r *reader) any {
			if r.byte() != 0 {
				return nil
			}
			return inner(r)
		}, nil
	case warehouse.KindNothing:
		return func(*reader) any { return nil }, nil
	case warehouse.KindArray:
		if t.Elem.Base().Kind == warehouse.KindString && !t.Elem.IsNullable() {
			return func(r *reader) any {
				n := r.uvarint()
				if n > uint64(len(r.b)-r.pos) {
					panic(errShort)
				}
				out := make([]string, n)
				for i := range out {
					out[i] = r.string()
				}
				return out
			}, nil
		}
		inner, err := newDecoder(t.Elem)
		if err != nil {
			return nil, err
		}
		return func(r *reader) any {
			n := r.uvarint()
			if n > uint64(len(r.b)-r.pos) {
				panic(errShort)
			}
			out := make([]any, n)
			for i := range out {
				out[i] = inner(r)
			}
			return out
		}, nil
	case warehouse.KindString:
		return func(r *reader) any { return r.string() }, nil
	case warehouse.KindFixedString:
		n := t.Size
		return func(r *reader) any { return string(r.next(n)) }, nil
	case warehouse.KindEnum8:
		names := t.EnumNames
		return func(r *reader) any { return names[int16(int8(r.byte()))] }, nil
	case warehouse.KindEnum16:
		names := t.EnumNames
		return func(r *reader) any { return names[int16(r.u16())] }, nil
	case warehouse.KindInt8:
		return func(r *reader) any { return int64(int8(r.byte())) }, nil
	case warehouse.KindInt16:
		return func(r *reader) any { return int64(int16(r.u16())) }, nil
	case warehouse.KindInt32:
		return func(r *reader) any { return int64(int32(r.u32())) }, nil
	case warehouse.KindInt64:
		return func(r *reader) any { return int64(r.u64()) }, nil
	case warehouse.KindUInt8:
		return func(r *reader) any { return uint64(r.byte()) }, nil
	case warehouse.KindUInt16:
		return func(r *reader) any { return uint64(r.u16()) }, nil
	case warehouse.KindUInt32:
		return func(r *reader) any { return uint64(r.u32()) }, nil
	case warehouse.KindUInt64:
		return func(r *reader) any { return r.u64() }, nil
	case warehouse.KindFloat32:
		return func(r *reader) any { return float64(math.Float32frombits(r.u32())) }, nil
	case warehouse.KindFloat64:
		return func(r *reader) any { return math.Float64frombits(r.u64()) }, nil
	case warehouse.KindBool:
		return func(r *reader) any { return r.byte() != 0 }, nil
	case warehouse.KindUUID:
		return func(r *reader) any {
			var u uuid.UUID
			binary.BigEndian.PutUint64(u[:8], r.u64())
			binary.BigEndian.PutUint64(u[8:], r.u64())
			return u
		}, nil
	case warehouse.KindDate:
		return func(r *reader) any { return time.Unix(int64(r.u16())*86400, 0).UTC() }, nil
	case warehouse.KindDateTime:
		return func(r *reader) any { return time.Unix(int64(r.u32()), 0).UTC() }, nil
	case warehouse.KindDateTime64:
		scale := t.Scale
		return func(r *reader) any {
			ticks := int64(r.u64())
			sec := floorDiv(ticks, pow10[scale])
			frac := ticks - sec*pow10[scale]
			return time.Unix(sec, frac*pow10[9-scale]).UTC()
		}, nil
	case warehouse.KindDecimal:
		scale, size := int32(t.Scale), decimalSize(t.Precision)
		return func(r *reader) any {
			switch size {
			case 4:
				return decimal.New(int64(int32(r.u32())), -scale)
			case 8:
				return decimal.New(int64(r.u64()), -scale)
			}
			return decimal.NewFromBigInt(readBigInt(r.next(size)), -scale)
		}, nil
	}
	return nil, fmt.Errorf("embedded warehouse: cannot read values of type %s", t.Name)
}

// readBigInt reads a two's complement little-endian integer.
func readBigInt(le []byte) *big.Int {
	be := make([]byte, len(le))
	for i, c := range le {
		be[len(le)-1-i] = c
	}
	n := new(big.Int).SetBytes(be)
	if le[len(le)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(le))))
	}
	return n
}
