package serve

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// TestAppendDecimal: the fast path writes every decimal as
// decimal.Decimal.String does — int64 coefficients at every scale the
// engines hold, with signs, zeros, leading and trailing zeros, the
// largest coefficients, and values beyond int64 (the slow path).
func TestAppendDecimal(t *testing.T) {
	coefs := []int64{0, 1, -1, 5, -5, 10, 100, -100, 123, 1200, -1200, 999999999999999999, -999999999999999999, math.MaxInt64, math.MinInt64 + 1}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		coefs = append(coefs, r.Int64N(2_000_000_000_000)-1_000_000_000_000, r.Int64()>>r.IntN(63))
	}
	var ds []decimal.Decimal
	for _, c := range coefs {
		for exp := int32(-20); exp <= 3; exp++ {
			ds = append(ds, decimal.New(c, exp))
		}
	}
	ds = append(ds, decimal.RequireFromString("123456789012345678901234567890.123"), decimal.RequireFromString("-0.000000000000000000001"))
	for _, d := range ds {
		require.Equal(t, d.String(), string(appendDecimal([]byte("x"), d))[1:], "coefficient %s, exponent %d", d.Coefficient(), d.Exponent())
	}
}
