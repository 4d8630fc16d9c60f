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

// query returns two rows with a NULL, escapes, a decimal, a time and
// arrays, ordered.
const query = `SELECT * FROM (
	SELECT 1 AS n, 'tab\there' AS s, CAST(NULL AS Nullable(String)) AS nothing, toDecimal64(12.5, 2) AS amount,
		toDateTime('2025-03-01 10:00:00', 'UTC') AS at, ['a', 'b'] AS tags UNION ALL
	SELECT 2, 'quote"comma,', 'x', toDecimal64(-0.01, 2), toDateTime('2025-03-02 00:00:00', 'UTC'), CAST([] AS Array(String))
) ORDER BY n`

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

// TestFormats writes the same result in each format, from both drivers:
// what ClickHouse itself prints for TabSeparatedWithNames, RFC 4180 CSV,
// and JSON with exact decimals and RFC 3339 times.
func TestFormats(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := warehousetest.Open(t, cfg)
			require.Equal(t, "n\ts\tnothing\tamount\tat\ttags\n"+
				"1\ttab\\there\t\\N\t12.5\t2025-03-01 10:00:00\t['a','b']\n"+
				"2\tquote\"comma,\tx\t-0.01\t2025-03-02 00:00:00\t[]\n", write(t, st, "tsv", query))

			records, err := csv.NewReader(strings.NewReader(write(t, st, "csv", query))).ReadAll()
			require.NoError(t, err)
			require.Equal(t, [][]string{
				{"n", "s", "nothing", "amount", "at", "tags"},
				{"1", "tab\there", "", "12.5", "2025-03-01 10:00:00", "['a','b']"},
				{"2", `quote"comma,`, "x", "-0.01", "2025-03-02 00:00:00", "[]"},
			}, records)

			out := write(t, st, "json", query)
			var rows []map[string]any
			dec := json.NewDecoder(strings.NewReader(out))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&rows), out)
			require.Len(t, rows, 2)
			require.Equal(t, json.Number("12.5"), rows[0]["amount"])
			require.Nil(t, rows[0]["nothing"])
			require.Equal(t, "2025-03-01T10:00:00Z", rows[0]["at"])
			require.Equal(t, []any{"a", "b"}, rows[0]["tags"])
			require.Equal(t, []any{}, rows[1]["tags"])
			require.Equal(t, "tab\there", rows[0]["s"])

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
