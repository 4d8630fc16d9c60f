package dvsim

import (
	"bytes"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// kind is how a column is stored and rendered.
type kind uint8

const (
	kString      kind = iota // arena-backed text (String, Memo)
	kInt                     // int32 (Integer)
	kChoice                  // int32 option value (Picklist, State, Status)
	kBool                    // int32 0/1
	kMoney                   // int64 hundredths
	kMoneyBase               // computed: the _base of a money column (amount ÷ the row's exchange rate)
	kDateTime                // uint32 seconds since epoch2000, 0 = null
	kDateOnly                // uint32 seconds since epoch2000 (midnight), rendered as a date
	kLookup                  // int32 row index in target table (-1 = null); tgt for polymorphic
	kConstLookup             // a lookup to one fixed record (business unit, currency)
	kBigInt                  // int64 (versionnumber)
	kEntityName              // int32 index into names (activitytypecode)
	kFullName                // computed: firstname + " " + lastname
	kGUIDString              // arena-backed GUID text (Uniqueidentifier that is not a key)
	kDecimal                 // int64 hundredths (Decimal)
)

const (
	nullI32 = math.MinInt32
	nullI64 = math.MinInt64
	nullRef = ^uint64(0)
)

var epoch2000 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func toStamp(t time.Time) uint32 {
	s := t.Unix() - epoch2000
	if s < 1 {
		s = 1
	}
	return uint32(s)
}

func fromStamp(s uint32) time.Time { return time.Unix(int64(s)+epoch2000, 0).UTC() }

type option struct {
	Value int32
	Label string
	State int32 // for status options: the state it belongs to; for state options: the default status
}

type column struct {
	name     string // logical name
	prop     string // Web API property name (_x_value for lookups)
	kind     kind
	attrType string // Dataverse AttributeType
	format   string
	options  []option
	targets  []*table // lookup targets (index = value of tgt)
	names    []string // kEntityName values
	nameLbl  []string // kEntityName formatted labels
	custom   bool
	navProp  string // associatednavigationproperty for lookups
	baseOf   *column
	rate     *column // kMoneyBase: the table's exchangerate (hundredths)
	first    *column // kFullName parts
	last     *column
	constID  string // kConstLookup
	constLN  string
	constFmt string

	i32 []int32
	u32 []uint32
	i64 []int64
	tgt []uint8
	buf []byte
	ref []uint64
	// intern maps short texts already in buf to their ref, so repeated values (names,
	// cities, subjects) are stored once; dropped for good once a column shows many distinct
	// values.
	intern   map[string]uint64
	noIntern bool
}

const (
	internMaxLen  = 48
	internMaxKeys = 512
)

func (c *column) grow() {
	switch c.kind {
	case kString, kGUIDString:
		c.ref = append(c.ref, nullRef)
	case kInt, kChoice, kBool, kEntityName:
		c.i32 = append(c.i32, nullI32)
	case kLookup:
		c.i32 = append(c.i32, -1)
		if len(c.targets) > 1 {
			c.tgt = append(c.tgt, 0)
		}
	case kMoney, kBigInt, kDecimal:
		c.i64 = append(c.i64, nullI64)
	case kDateTime, kDateOnly:
		c.u32 = append(c.u32, 0)
	}
}

func (c *column) setStr(row int32, s string) {
	if s == "" && c.kind != kString {
		c.ref[row] = nullRef
		return
	}
	in := !c.noIntern && len(s) <= internMaxLen
	if in {
		if r, ok := c.intern[s]; ok {
			c.ref[row] = r
			return
		}
	}
	off := uint64(len(c.buf))
	c.buf = append(c.buf, s...)
	r := off<<20 | uint64(len(s))
	c.ref[row] = r
	if in {
		switch {
		case c.intern == nil:
			c.intern = map[string]uint64{}
		case len(c.intern) >= internMaxKeys:
			c.intern, c.noIntern = nil, true
			return
		}
		c.intern[strings.Clone(s)] = r
	}
}

// reserve makes room for add more rows, string bytes estimated from the rows so far (have).
func (c *column) reserve(add, have int) {
	switch c.kind {
	case kString, kGUIDString:
		c.ref = slices.Grow(c.ref, add)
		if have > 0 && len(c.buf) > 0 {
			c.buf = slices.Grow(c.buf, int(int64(len(c.buf))*int64(add)/int64(have)))
		}
	case kInt, kChoice, kBool, kEntityName:
		c.i32 = slices.Grow(c.i32, add)
	case kLookup:
		c.i32 = slices.Grow(c.i32, add)
		if len(c.targets) > 1 {
			c.tgt = slices.Grow(c.tgt, add)
		}
	case kMoney, kBigInt, kDecimal:
		c.i64 = slices.Grow(c.i64, add)
	case kDateTime, kDateOnly:
		c.u32 = slices.Grow(c.u32, add)
	}
}

// reserve sizes the storage of t for rows rows in all (a view: its row list), so that
// generation fills columns instead of growing them by doubling (each doubling copies and
// leaves the old array as garbage, which drove peak RSS).
func (t *table) reserve(rows int) {
	if t.owner != t {
		t.rows = slices.Grow(t.rows, rows-len(t.rows))
		return
	}
	have := int(t.n)
	if rows <= have {
		return
	}
	for _, c := range t.storage() {
		c.reserve(rows-have, have)
	}
	t.deleted = slices.Grow(t.deleted, rows-have)
}

func (c *column) setNull(row int32) {
	switch c.kind {
	case kString, kGUIDString:
		c.ref[row] = nullRef
	case kInt, kChoice, kBool, kEntityName:
		c.i32[row] = nullI32
	case kLookup:
		c.i32[row] = -1
	case kMoney, kBigInt, kDecimal:
		c.i64[row] = nullI64
	case kDateTime, kDateOnly:
		c.u32[row] = 0
	}
}

// baseCents is a _base money cell in hundredths: the amount divided by the
// row's exchange rate (as Dataverse computes it), rounded half away from
// zero; nullI64 when the amount is null.
func (c *column) baseCents(row int32) int64 {
	v := c.baseOf.i64[row]
	if v == nullI64 || c.rate == nil {
		return v
	}
	r := c.rate.i64[row]
	if r == nullI64 || r <= 0 || r == 100 {
		return v
	}
	if v < 0 {
		return -((-v*100 + r/2) / r)
	}
	return (v*100 + r/2) / r
}

// str returns the bytes of a string cell (nil, false when null).
func (c *column) str(row int32) ([]byte, bool) {
	r := c.ref[row]
	if r == nullRef {
		return nil, false
	}
	off, n := r>>20, r&(1<<20-1)
	return c.buf[off : off+n], true
}

func (c *column) setLookup(row int32, target *table, idx int32) {
	c.i32[row] = idx
	if len(c.targets) > 1 {
		for i, t := range c.targets {
			if t == target {
				c.tgt[row] = uint8(i)
			}
		}
	}
}

func (c *column) lookup(row int32) (*table, int32) {
	idx := c.i32[row]
	if idx < 0 {
		return nil, -1
	}
	if len(c.targets) > 1 {
		return c.targets[c.tgt[row]], idx
	}
	return c.targets[0], idx
}

func (c *column) isNull(t *table, row int32) bool {
	switch c.kind {
	case kString, kGUIDString:
		return c.ref[row] == nullRef
	case kInt, kChoice, kBool, kEntityName:
		return c.i32[row] == nullI32
	case kLookup:
		return c.i32[row] < 0
	case kMoney, kBigInt, kDecimal:
		return c.i64[row] == nullI64
	case kMoneyBase:
		return c.baseOf.i64[row] == nullI64
	case kDateTime, kDateOnly:
		return c.u32[row] == 0
	case kFullName:
		return c.first.isNull(t, row) && c.last.isNull(t, row)
	}
	return false
}

func (c *column) label(v int32) string {
	for _, o := range c.options {
		if o.Value == v {
			return o.Label
		}
	}
	return ""
}

// table is one Dataverse table. Activity tables (phonecall, …) are views over the
// activitypointer storage: they share its columns and keep the list of their rows.
type table struct {
	idx            int
	logical        string
	set            string
	pk             string
	primaryName    string
	display        string
	changeTracking bool
	trackedSince   int64 // delta tokens below this version predate the last time tracking was turned on
	salt           uint64
	owner          *table // storage owner (self unless a view)
	viewType       int32  // activitytypecode index for views, -1 otherwise
	rows           []int32
	cols           []*column
	byProp         map[string]*column
	byName         map[string]*column
	n              int32 // rows in storage (owner only)
	deleted        []bool
	version        *column
	deletes        []delRec
	typeCol        *column
	views          []*table
	allCols        []*column // storage columns when they differ from cols (activitypointer)
	metadataID     string
}

type delRec struct {
	row int32
	ver int64
}

func (t *table) addCol(c *column) *column {
	if c.prop == "" {
		c.prop = c.name
		if c.kind == kLookup || c.kind == kConstLookup {
			c.prop = "_" + c.name + "_value"
		}
	}
	if c.kind == kLookup && c.navProp == "" {
		c.navProp = c.name
	}
	if t.byProp == nil {
		t.byProp, t.byName = map[string]*column{}, map[string]*column{}
	}
	if t.owner == t {
		for i := int32(0); i < t.n; i++ {
			c.grow()
		}
	}
	t.cols = append(t.cols, c)
	t.byProp[c.prop] = c
	t.byName[c.name] = c
	return c
}

// newRow appends a row to the storage owner and, for views, to the view's row list.
func (t *table) newRow() int32 {
	o := t.owner
	row := o.n
	o.n++
	for _, c := range o.storage() {
		c.grow()
	}
	o.deleted = append(o.deleted, false)
	if t != o {
		t.rows = append(t.rows, row)
		o.typeCol.i32[row] = t.viewType
	}
	return row
}

func (t *table) storage() []*column {
	if t.allCols != nil {
		return t.allCols
	}
	return t.cols
}

// count is the number of row slots (live or deleted) visible through t.
func (t *table) count() int {
	if t.owner != t {
		return len(t.rows)
	}
	return int(t.n)
}

func (t *table) rowAt(pos int) int32 {
	if t.owner != t {
		return t.rows[pos]
	}
	return int32(pos)
}

// posOf finds the position of row in t (the first position holding a row >= row).
func (t *table) posOf(row int32) int {
	if t.owner != t {
		return sort.Search(len(t.rows), func(i int) bool { return t.rows[i] >= row })
	}
	return int(row)
}

func (t *table) alive(row int32) bool { return !t.owner.deleted[row] }

// has reports whether row belongs to t (always for owners, by type for views).
func (t *table) has(row int32) bool {
	if row < 0 || row >= t.owner.n {
		return false
	}
	if t.owner != t {
		return t.owner.typeCol.i32[row] == t.viewType
	}
	return true
}

func (t *table) liveCount() int {
	n := 0
	for p := 0; p < t.count(); p++ {
		if t.alive(t.rowAt(p)) {
			n++
		}
	}
	return n
}

// GUIDs: the last 48 bits encode the row index through a bijection (row*mult+salt mod 2^48),
// the rest is a hash, so keys look random but decode to rows without a map.
const guidMult = 0x5DEECE66D

var guidInv = func() uint64 {
	inv := uint64(guidMult)
	for i := 0; i < 6; i++ {
		inv *= 2 - guidMult*inv
	}
	return inv
}()

const mask48 = 1<<48 - 1

func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

const hexdigits = "0123456789abcdef"

func (t *table) appendGUID(dst []byte, row int32) []byte {
	salt := t.owner.salt
	low := (uint64(row)*guidMult + salt) & mask48
	h := splitmix(salt ^ uint64(row)<<1)
	hi := h&^(0xF<<12) | 0x4<<12 // version 4 nibble in the third group
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(hi >> (56 - 8*i))
	}
	b[8] = byte(0x80 | (h>>5)&0x3F)
	b[9] = byte(h >> 40)
	for i := 0; i < 6; i++ {
		b[10+i] = byte(low >> (40 - 8*i))
	}
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexdigits[x>>4], hexdigits[x&15])
	}
	return dst
}

func (t *table) guid(row int32) string { return string(t.appendGUID(nil, row)) }

// rowOf decodes a GUID produced by appendGUID; -1 when it names no row of t.
func (t *table) rowOf(g string) int32 {
	g = strings.ToLower(strings.Trim(g, "{}"))
	if len(g) != 36 {
		return -1
	}
	var low uint64
	for _, c := range []byte(g[24:]) {
		d := strings.IndexByte(hexdigits, c)
		if d < 0 {
			return -1
		}
		low = low<<4 | uint64(d)
	}
	r := ((low - t.owner.salt) * guidInv) & mask48
	if r >= uint64(t.owner.n) {
		return -1
	}
	row := int32(r)
	if !bytes.Equal(t.appendGUID(nil, row), []byte(g)) || !t.has(row) {
		return -1
	}
	return row
}
