package landing_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/landing"
)

func TestSameType(t *testing.T) {
	t.Parallel()
	same := [][2]string{
		{"Decimal(18,4)", "Decimal(18, 4)"},
		{"Nullable(Decimal(19,4))", "Nullable(Decimal(19, 4))"},
		{`DateTime("UTC")`, "DateTime('UTC')"},
		{"Nullable(DateTime('UTC'))", "Nullable( DateTime( 'UTC' ) )"},
		{"Nullable(UInt8)", "Nullable(Bool)"},
		{"UInt8", "Bool"},
		{"Boolean", "Bool"},
		{"LowCardinality(String)", "String"},
		{"LowCardinality(Nullable(String))", "Nullable(String)"},
		{"Nullable(LowCardinality(String))", "LowCardinality(Nullable(String))"},
		{"Array(LowCardinality(String))", "Array(String)"},
		{"Decimal64(4)", "Decimal(18, 4)"},
		{"Decimal32(2)", "Decimal(9, 2)"},
		{"Decimal128(10)", "Decimal(38, 10)"},
		{"Enum8('a' = 1, 'b' = 2)", "Enum8('a'=1,'b'=2)"},
		{"SomethingNew(1, 2)", "SomethingNew(1,2)"},
	}
	for _, c := range same {
		require.True(t, landing.SameType(c[0], c[1]), "%s and %s", c[0], c[1])
		require.True(t, landing.SameType(c[1], c[0]), "%s and %s", c[1], c[0])
	}
	differ := [][2]string{
		{"Nullable(Float64)", "Nullable(Decimal(19, 4))"},
		{"Decimal(19, 4)", "Decimal(18, 4)"},
		{"Decimal(19, 4)", "Decimal(19, 2)"},
		{"Decimal64(4)", "Decimal(19, 4)"},
		{"String", "Nullable(String)"},
		{"Nullable(Int32)", "Nullable(Int64)"},
		{"UInt16", "Bool"},
		{"DateTime('UTC')", "DateTime('Europe/Berlin')"},
		{"DateTime", "DateTime('UTC')"},
		{"Date", "Nullable(Date)"},
		{"Array(Int32)", "Array(String)"},
	}
	for _, c := range differ {
		require.False(t, landing.SameType(c[0], c[1]), "%s and %s", c[0], c[1])
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	want := []warehouse.Column{{Name: "leadid", Type: "UUID"}, {Name: "donotemail", Type: "Nullable(Bool)"}, {Name: "amount", Type: "Nullable(Decimal(19, 4))"}, {Name: "new_x", Type: "Nullable(String)"}}
	have := []warehouse.Column{{Name: "leadid", Type: "UUID"}, {Name: "donotemail", Type: "Nullable(UInt8)"}, {Name: "amount", Type: "Nullable(Decimal(19,4))"},
		{Name: "_version", Type: "UInt64"}, {Name: "dropped", Type: "String"}}
	cols, added, err := landing.Diff("landing_lead", have, want)
	require.NoError(t, err)
	require.Equal(t, []warehouse.Column{{Name: "new_x", Type: "Nullable(String)"}}, added)
	require.Equal(t, "Nullable(UInt8)", cols[1].Type, "existing spelling kept")

	_, added, err = landing.Diff("landing_lead", nil, want)
	require.NoError(t, err)
	require.Equal(t, want, added)

	have[2].Type = "Nullable(Float64)"
	_, _, err = landing.Diff("landing_lead", have, want)
	var tce *landing.TypeChangeError
	require.True(t, errors.As(err, &tce))
	require.Equal(t, landing.TypeChangeError{Table: "landing_lead", Column: "amount", Have: "Nullable(Float64)", Want: "Nullable(Decimal(19, 4))"}, *tce)
	require.ErrorContains(t, err, "amount")
}
