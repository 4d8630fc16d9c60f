package schema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Row appends the values of r in column order to dst[:0] and returns it;
// the first is the primary key, a uuid.UUID.
// The values are the canonical Go values of the column types, which the
// warehouse drivers take without conversion where they can: uuid.UUID,
// string, int (Int32), int64, uint64, float64, decimal.Decimal, time.Time,
// bool, []int64 and []string for arrays, nil for NULL. Strings share the
// page's buffer.
func (m *Mapping) Row(r *dataverse.Record, dst []any) ([]any, error) {
	dst = dst[:0]
	pos := 0 // records list properties in $select order: look there first
	for i := range m.cols {
		c := &m.cols[i]
		f := findField(r, c.prop, &pos)
		v, err := c.value(f)
		if err != nil {
			key := ""
			if kf := r.Field(m.key); kf != nil {
				key = kf.Value.Text
			}
			return dst, fmt.Errorf("%s %s: column %s: %w", m.Table, key, c.name, err)
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func findField(r *dataverse.Record, prop string, pos *int) *dataverse.Field {
	fs := r.Fields
	p := *pos
	if p < len(fs) && fs[p].Name == prop {
		*pos = p + 1
		return &fs[p]
	}
	if p > 0 && p-1 < len(fs) && fs[p-1].Name == prop { // derived column of the same property
		return &fs[p-1]
	}
	for j := range fs {
		if fs[j].Name == prop {
			*pos = j + 1
			return &fs[j]
		}
	}
	return nil
}

func (c *column) value(f *dataverse.Field) (any, error) {
	null := f == nil || f.Value.IsNull()
	switch c.kind {
	case vMulti:
		if null {
			return []int64{}, nil
		}
		return multiValues(f.Value)
	case vMultiLabels:
		if null {
			return []string{}, nil
		}
		vals, err := multiValues(f.Value)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(vals))
		formatted := strings.Split(f.Formatted, "; ")
		for i, v := range vals {
			if l, ok := c.labels[int(v)]; ok {
				out[i] = l
			} else if len(formatted) == len(vals) {
				out[i] = formatted[i]
			} else {
				out[i] = strconv.FormatInt(v, 10)
			}
		}
		return out, nil
	}
	if null {
		if !c.nullable {
			switch c.kind {
			case vUint:
				return uint64(0), nil
			}
			return nil, fmt.Errorf("no value")
		}
		return nil, nil
	}
	v := f.Value
	switch c.kind {
	case vString:
		return v.Text, nil
	case vUUID:
		u, err := uuid.Parse(v.Text)
		if err != nil || v.Kind != dataverse.KindString {
			return nil, fmt.Errorf("%s is not a GUID", v.Text)
		}
		return u, nil
	case vInt32, vChoice:
		n, err := strconv.ParseInt(v.Text, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a 32-bit integer", v.Text)
		}
		return int(n), nil
	case vInt:
		n, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v.Text)
		}
		return n, nil
	case vUint:
		n, err := strconv.ParseUint(v.Text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an unsigned integer", v.Text)
		}
		return n, nil
	case vFloat:
		x, err := strconv.ParseFloat(v.Text, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v.Text)
		}
		return x, nil
	case vDecimal:
		d, err := decimal.NewFromString(v.Text)
		if err != nil {
			return nil, fmt.Errorf("%q is not a decimal number", v.Text)
		}
		if -d.Exponent() > c.scale {
			d = d.Round(c.scale)
		}
		return d, nil
	case vDateTime, vDate:
		t, err := dataverse.ParseTime(v.Text)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date-time", v.Text)
		}
		return t, nil
	case vBool:
		switch v.Text {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", v.Text)
	case vChoiceLabel:
		n, err := strconv.Atoi(v.Text)
		if err != nil {
			return nil, fmt.Errorf("%q is not a choice value", v.Text)
		}
		if l, ok := c.labels[n]; ok {
			return l, nil
		}
		if f.Formatted != "" {
			return f.Formatted, nil
		}
		return nil, nil
	case vLookupName:
		if f.Formatted == "" {
			return nil, nil
		}
		return f.Formatted, nil
	case vLookupType:
		if f.LookupLogicalName != "" {
			return f.LookupLogicalName, nil
		}
		if c.target != "" {
			return c.target, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unknown column kind %d", c.kind)
}

// multiValues reads a multi-select choice: Dataverse sends "1,2,3"; a JSON
// array [1,2,3] is accepted too.
func multiValues(v dataverse.Value) ([]int64, error) {
	s := v.Text
	if v.Kind == dataverse.KindRaw {
		s = strings.Trim(s, "[] \t\r\n")
	}
	if strings.TrimSpace(s) == "" {
		return []int64{}, nil
	}
	parts := strings.Split(s, ",")
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(p), `"`), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of choice values", v.Text)
		}
		out = append(out, n)
	}
	return out, nil
}
