//go:build cgo

package embedded

import (
	"fmt"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
)

// TestFastDecimal: the fast path for decimal.Decimal writes what Coerce
// and the encoder write, and leaves to them what they refuse.
func TestFastDecimal(t *testing.T) {
	var values []decimal.Decimal
	for _, s := range []string{"0", "1", "-1", "1.25", "-1.25", "0.0001", "-0.0001", "1.2500", "1.23456", "12345.6789",
		"999999999999999.9999", "-999999999999999.9999", "1000000000000000", "9999999.99", "10000000", "-9999999.99",
		"99999999999999999", "123456789012345678", "1234567890123456789", "0.00000000001", "1e3", "-1e5", "1e20",
		"922337203685477.5807", "-922337203685477.5808", "0.1234567890", "1234567890123.4567890123"} {
		values = append(values, decimal.RequireFromString(s))
	}
	values = append(values, decimal.Decimal{}, decimal.New(125, 2), decimal.New(-7, -1), decimal.New(1, 17), decimal.New(123456789, -8))
	for _, name := range []string{"Decimal(9, 2)", "Decimal(18, 4)", "Decimal(19, 4)", "Decimal(23, 10)", "Decimal(38, 10)", "Decimal(9, 0)", "Decimal(18, 18)", "Decimal(1, 1)"} {
		typ, err := warehouse.ParseType(name)
		require.NoError(t, err)
		enc, err := newEncoder(typ)
		require.NoError(t, err)
		for _, d := range values {
			t.Run(fmt.Sprintf("%s/%s", name, d), func(t *testing.T) {
				fast, ok := fastEncode(typ, nil, d)
				cv, err := warehouse.Coerce(typ, d)
				if err != nil {
					assert.False(t, ok, "fast path took what Coerce refuses: %v", err)
					return
				}
				slow, err := enc(nil, cv)
				require.NoError(t, err)
				if ok {
					assert.Equal(t, slow, fast)
				}
			})
		}
	}
	// the Dataverse money values the sync writes take the fast path
	typ, err := warehouse.ParseType("Nullable(Decimal(19, 4))")
	require.NoError(t, err)
	_, ok := fastEncode(typ.Elem, nil, decimal.RequireFromString("12345.6700"))
	assert.True(t, ok)
}
