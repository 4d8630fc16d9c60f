// Package export writes query results as text, streamed row by row: the
// formats of ampel sql (--format), which ampel kpi, ampel audit and the
// OData feed's plain downloads share.
//
//   - tsv: ClickHouse's TabSeparatedWithNames — a header line, \N for
//     NULL, backslash escapes for tab, newline, carriage return and
//     backslash;
//   - csv: RFC 4180 with a header line; NULL is an empty field;
//   - json: one array of objects, one per row, keyed by column name; times
//     in RFC 3339, decimals as exact numbers, UUIDs as strings, NULL as
//     null, arrays as arrays. An empty result is [].
//
// Values are the warehouse's Go values (see package warehouse); a value
// that is not NULL is formatted for its column's ClickHouse type where the
// type matters (dates, times, arrays), the way ClickHouse prints it.
package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/ampel/ampel/warehouse"
)

// Formats are the formats New knows, in the order a usage line lists them.
var Formats = []string{"tsv", "csv", "json"}

// ErrUnknownFormat is New's error for a format it does not know.
var ErrUnknownFormat = errors.New("unknown format")

// Writer writes one result in one format: Header once, Row for every row,
// then End, which flushes what is buffered.
type Writer interface {
	// Header starts the result with its columns.
	Header(cols []warehouse.Column) error
	// Row writes one row, the values in column order.
	Row(values []any) error
	// End finishes the result and flushes it to the underlying writer.
	End() error
}

// New returns a Writer of format to w. It buffers; End flushes.
func New(w io.Writer, format string) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "tsv":
		return &tsvWriter{w: bw}, nil
	case "csv":
		return &csvWriter{bw: bw, w: csv.NewWriter(bw)}, nil
	case "json":
		return &jsonWriter{w: bw}, nil
	}
	return nil, fmt.Errorf("%w %q: use %s", ErrUnknownFormat, format, strings.Join(Formats, ", "))
}

// Write streams every row of rows through out and ends it.
func Write(out Writer, rows warehouse.Rows) error {
	if err := out.Header(rows.Columns()); err != nil {
		return err
	}
	for rows.Next() {
		if err := out.Row(rows.Values()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return out.End()
}

// types parses the columns' types; a type it does not know is nil, and
// its values are formatted by their Go type.
func types(cols []warehouse.Column) []*warehouse.Type {
	out := make([]*warehouse.Type, len(cols))
	for i, c := range cols {
		out[i], _ = warehouse.ParseType(c.Type)
	}
	return out
}

// tsvWriter writes ClickHouse's TabSeparatedWithNames: \N for NULL, and
// backslash escapes for tab, newline and backslash.
type tsvWriter struct {
	w     *bufio.Writer
	types []*warehouse.Type
}

var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func (t *tsvWriter) Header(cols []warehouse.Column) error {
	t.types = types(cols)
	for i, c := range cols {
		if i > 0 {
			t.w.WriteByte('\t')
		}
		tsvEscaper.WriteString(t.w, c.Name)
	}
	return t.w.WriteByte('\n')
}

func (t *tsvWriter) Row(values []any) error {
	for i, v := range values {
		if i > 0 {
			t.w.WriteByte('\t')
		}
		if v == nil {
			t.w.WriteString(`\N`)
			continue
		}
		tsvEscaper.WriteString(t.w, Text(t.types[i], v))
	}
	return t.w.WriteByte('\n')
}

func (t *tsvWriter) End() error { return t.w.Flush() }

// csvWriter writes RFC 4180 CSV with a header; NULL is an empty field.
type csvWriter struct {
	bw     *bufio.Writer
	w      *csv.Writer
	types  []*warehouse.Type
	record []string
}

func (c *csvWriter) Header(cols []warehouse.Column) error {
	c.types = types(cols)
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	return c.w.Write(names)
}

func (c *csvWriter) Row(values []any) error {
	c.record = c.record[:0]
	for i, v := range values {
		if v == nil {
			c.record = append(c.record, "")
			continue
		}
		c.record = append(c.record, Text(c.types[i], v))
	}
	return c.w.Write(c.record)
}

func (c *csvWriter) End() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// jsonWriter writes one JSON array of objects, streamed row by row.
type jsonWriter struct {
	w     *bufio.Writer
	names [][]byte
	n     int
}

func (j *jsonWriter) Header(cols []warehouse.Column) error {
	j.names = make([][]byte, len(cols))
	for i, c := range cols {
		j.names[i], _ = json.Marshal(c.Name)
	}
	_, err := j.w.WriteString("[")
	return err
}

func (j *jsonWriter) Row(values []any) error {
	if j.n > 0 {
		j.w.WriteString(",\n")
	} else {
		j.w.WriteString("\n")
	}
	j.n++
	j.w.WriteByte('{')
	for i, v := range values {
		if i > 0 {
			j.w.WriteByte(',')
		}
		j.w.Write(j.names[i])
		j.w.WriteByte(':')
		b, err := json.Marshal(JSONValue(v))
		if err != nil {
			return err
		}
		j.w.Write(b)
	}
	return j.w.WriteByte('}')
}

func (j *jsonWriter) End() error {
	if j.n > 0 {
		j.w.WriteString("\n")
	}
	if _, err := j.w.WriteString("]\n"); err != nil {
		return err
	}
	return j.w.Flush()
}

// JSONValue turns a warehouse value into what encoding/json should print:
// a time in RFC 3339, a decimal as an exact number, a UUID as its string,
// an array element by element; other values as they are.
func JSONValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case decimal.Decimal:
		return json.Number(x.String())
	case uuid.UUID:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(e)
		}
		return out
	}
	return v
}

// Text formats a value that is not NULL as ClickHouse prints it in text
// formats, for its column type t (nil: by the value's Go type).
func Text(t *warehouse.Type, v any) string {
	switch x := v.(type) {
	case uuid.UUID:
		return x.String()
	case decimal.Decimal:
		return x.String()
	}
	return warehouse.FormatValue(t, v)
}
