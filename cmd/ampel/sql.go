package main

import (
	"bufio"
	"context"
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

func runSQL(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("sql", `sql --config FILE [--format tsv|csv|json] "SELECT ..."`)
	var c commonFlags
	c.register(fs)
	format := fs.String("format", "tsv", "output `format`: tsv (with a header line), csv (with a header line) or json (an array of objects)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New(`give one query, quoted: ampel sql --config FILE "SELECT count() FROM lead"`)}
	}
	var out rowWriter
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	switch *format {
	case "tsv":
		out = &tsvWriter{w: w}
	case "csv":
		out = &csvWriter{w: csv.NewWriter(w)}
	case "json":
		out = &jsonWriter{w: w}
	default:
		return usageError{fmt.Errorf("--format %q: use tsv, csv or json", *format)}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	s, err := openExisting(ctx, cfg, e.logger(cfg.Log))
	if err != nil {
		return err
	}
	defer s.Close()

	rows, err := s.Query(warehouse.ReadOnly(ctx), fs.Arg(0))
	if err != nil {
		return sqlRefusal(err)
	}
	defer rows.Close()
	if err := writeRows(out, rows); err != nil {
		return err
	}
	return w.Flush()
}

// sqlRefusal rewrites a statement refused as not read-only into the line
// ampel sql prints; other errors pass unchanged.
func sqlRefusal(err error) error {
	var re *warehouse.RefusedError
	switch {
	case errors.As(err, &re) && re.What == "FORMAT":
		return errors.New("refused: a FORMAT clause; ampel sql chooses the output format: use --format tsv, csv or json")
	case errors.As(err, &re):
		return fmt.Errorf("refused: %s; ampel sql reads the warehouse's tables only", re.Reason)
	case errors.Is(err, warehouse.ErrReadOnly):
		return fmt.Errorf("refused: ampel sql is read-only, and the warehouse refused the statement as a change: %w", err)
	}
	return err
}

// writeRows streams rows through out.
func writeRows(out rowWriter, rows warehouse.Rows) error {
	cols := rows.Columns()
	types := make([]*warehouse.Type, len(cols))
	for i, c := range cols {
		types[i], _ = warehouse.ParseType(c.Type) // nil formats by Go type
	}
	if err := out.header(cols); err != nil {
		return err
	}
	for rows.Next() {
		if err := out.row(types, rows.Values()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return out.end()
}

// rowWriter writes a result in one output format.
type rowWriter interface {
	header(cols []warehouse.Column) error
	row(types []*warehouse.Type, values []any) error
	end() error
}

// tsvWriter writes ClickHouse's TabSeparatedWithNames: \N for NULL, and
// backslash escapes for tab, newline and backslash.
type tsvWriter struct{ w *bufio.Writer }

var tsvEscaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func (t *tsvWriter) header(cols []warehouse.Column) error {
	for i, c := range cols {
		if i > 0 {
			t.w.WriteByte('\t')
		}
		tsvEscaper.WriteString(t.w, c.Name)
	}
	return t.w.WriteByte('\n')
}

func (t *tsvWriter) row(types []*warehouse.Type, values []any) error {
	for i, v := range values {
		if i > 0 {
			t.w.WriteByte('\t')
		}
		if v == nil {
			t.w.WriteString(`\N`)
			continue
		}
		tsvEscaper.WriteString(t.w, text(types[i], v))
	}
	return t.w.WriteByte('\n')
}

func (t *tsvWriter) end() error { return nil }

// csvWriter writes RFC 4180 CSV with a header; NULL is an empty field.
type csvWriter struct {
	w      *csv.Writer
	record []string
}

func (c *csvWriter) header(cols []warehouse.Column) error {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	return c.w.Write(names)
}

func (c *csvWriter) row(types []*warehouse.Type, values []any) error {
	c.record = c.record[:0]
	for i, v := range values {
		if v == nil {
			c.record = append(c.record, "")
			continue
		}
		c.record = append(c.record, text(types[i], v))
	}
	return c.w.Write(c.record)
}

func (c *csvWriter) end() error {
	c.w.Flush()
	return c.w.Error()
}

// jsonWriter writes one JSON array of objects, streamed row by row. Times
// are RFC 3339, decimals exact numbers, UUIDs strings, NULL null.
type jsonWriter struct {
	w     *bufio.Writer
	names [][]byte
	n     int
}

func (j *jsonWriter) header(cols []warehouse.Column) error {
	j.names = make([][]byte, len(cols))
	for i, c := range cols {
		j.names[i], _ = json.Marshal(c.Name)
	}
	_, err := j.w.WriteString("[")
	return err
}

func (j *jsonWriter) row(types []*warehouse.Type, values []any) error {
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
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return err
		}
		j.w.Write(b)
	}
	return j.w.WriteByte('}')
}

func (j *jsonWriter) end() error {
	if j.n > 0 {
		j.w.WriteString("\n")
	}
	_, err := j.w.WriteString("]\n")
	return err
}

// jsonValue turns a warehouse value into what encoding/json should print.
func jsonValue(v any) any {
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
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}

// text formats a non-NULL value for tsv and csv.
func text(t *warehouse.Type, v any) string {
	switch x := v.(type) {
	case uuid.UUID:
		return x.String()
	case decimal.Decimal:
		return x.String()
	}
	return warehouse.FormatValue(t, v)
}

var _ io.Writer = (*bufio.Writer)(nil)
