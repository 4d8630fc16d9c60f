package warehouse_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestBatchBytes: on both drivers a batch's Bytes starts at 0, grows with
// every row by at least the row's text and at most its text and 24 bytes
// a value (no fixed-size value takes more, nor a string's length), and
// stays as it was after a refused row.
func TestBatchBytes(t *testing.T) {
	gen := newLeadRows()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			st := warehousetest.Open(t, cfg)
			cols := leadColumns(st.Dialect())
			names := make([]string, len(cols))
			defs := make([]string, len(cols))
			for i, c := range cols {
				names[i], defs[i] = c.Name, warehouse.QuoteIdentifier(c.Name)+" "+c.Type
			}
			warehousetest.Exec(t, st, "CREATE TABLE sized_lead ("+strings.Join(defs, ", ")+") ENGINE = MergeTree ORDER BY leadid")
			b, err := st.PrepareInsert(ctx, "sized_lead", names)
			require.NoError(t, err)
			defer b.Abort()
			require.Zero(t, b.Bytes())
			row := make([]any, len(cols))
			prev := 0
			for i := range 500 {
				gen.row(i, row)
				text := 0
				for _, v := range row {
					switch x := v.(type) {
					case string:
						text += len(x)
					case []string:
						for _, s := range x {
							text += len(s)
						}
					}
				}
				require.NoError(t, b.Append(row...))
				grew := b.Bytes() - prev
				require.GreaterOrEqual(t, grew, text, "row %d", i)
				require.LessOrEqual(t, grew, text+24*len(row), "row %d", i)
				prev = b.Bytes()
			}
			row[0] = "not a GUID"
			require.Error(t, b.Append(row...))
			require.Equal(t, prev, b.Bytes(), "a refused row adds nothing")
			require.Equal(t, 500, b.Rows())
			require.NoError(t, b.Send(ctx))
			require.EqualValues(t, 500, warehousetest.QueryOne(t, st, "SELECT count() FROM sized_lead"))
		})
	}
}
