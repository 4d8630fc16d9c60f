package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/export"
	"github.com/ampel/ampel/warehouse"
	_ "github.com/ampel/ampel/warehouse/embedded" // registers "embedded"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// query returns one row of the types whose text differs between the
// formats: a UUID, escapes, a decimal, a date, an array, a NULL.
const query = `SELECT toUUID('7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11') AS id, 'line\nbreak "q"' AS name,
	toDecimal64(3.25, 4) AS amount, toDate('2025-03-01') AS day, ['x,y'] AS tags, CAST(NULL AS Nullable(UInt8)) AS flag`

// write runs q on st and writes the result in format.
func write(t *testing.T, st warehouse.Store, format, q string) string {
	t.Helper()
	var b bytes.Buffer
	out, err := export.New(&b, format)
	require.NoError(t, err)
	rows, err := st.Query(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	require.NoError(t, export.Write(out, rows))
	return b.String()
}

// TestFormats writes one result in each format, from both drivers.
func TestFormats(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := warehousetest.Open(t, cfg)
			require.Equal(t, "id\tname\tamount\tday\ttags\tflag\n"+
				"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11\tline\\nbreak \"q\"\t3.25\t2025-03-01\t['x,y']\t\\N\n", write(t, st, "tsv", query))

			records, err := csv.NewReader(strings.NewReader(write(t, st, "csv", query))).ReadAll()
			require.NoError(t, err)
			require.Equal(t, [][]string{
				{"id", "name", "amount", "day", "tags", "flag"},
				{"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", "line\nbreak \"q\"", "3.25", "2025-03-01", "['x,y']", ""},
			}, records)

			require.JSONEq(t, `[{"id": "7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", "name": "line\nbreak \"q\"", "amount": 3.25,
				"day": "2025-03-01T00:00:00Z", "tags": ["x,y"], "flag": null}]`, write(t, st, "json", query))

			// an empty result: the header alone, or an empty array
			require.Equal(t, "n\n", write(t, st, "tsv", "SELECT 1 AS n WHERE 0"))
			require.JSONEq(t, "[]", write(t, st, "json", "SELECT 1 AS n WHERE 0"))
		})
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11")
	at := time.Date(2025, 3, 1, 10, 0, 0, 500_000_000, time.UTC)
	require.Equal(t, "7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", export.JSONValue(id))
	require.Equal(t, "2025-03-01T10:00:00.5Z", export.JSONValue(at))
	require.Equal(t, json.Number("-0.01"), export.JSONValue(decimal.RequireFromString("-0.0100")))
	require.Equal(t, []any{"7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", nil}, export.JSONValue([]any{id, nil}))
	require.Equal(t, int64(3), export.JSONValue(int64(3)))
	require.Equal(t, "7b0f2f9a-0c1d-ef11-9f89-000d3a5c4e11", export.Text(nil, id))
	require.Equal(t, "12.5", export.Text(nil, decimal.RequireFromString("12.50")))

	var b bytes.Buffer
	_, err := export.New(&b, "xml")
	require.True(t, errors.Is(err, export.ErrUnknownFormat))
	require.EqualError(t, err, `unknown format "xml": use tsv, csv, json`)

	// rows written by hand: escapes in names and values, NULLs
	for format, want := range map[string]string{
		"tsv":  "a\\tb\tc\nx\\ny\t\\N\n",
		"csv":  "a\tb,c\n\"x\ny\",\n",
		"json": "[\n{\"a\\tb\":\"x\\ny\",\"c\":null}\n]\n",
	} {
		b.Reset()
		w, err := export.New(&b, format)
		require.NoError(t, err)
		require.NoError(t, w.Header([]warehouse.Column{{Name: "a\tb", Type: "String"}, {Name: "c", Type: "Nullable(Int32)"}}))
		require.NoError(t, w.Row([]any{"x\ny", nil}))
		require.Empty(t, b.String(), "%s: buffered until End", format)
		require.NoError(t, w.End())
		require.Equal(t, want, b.String(), format)
	}
}
