package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ampel/ampel/export"
	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
)

// runSQL runs one read-only statement and writes its result. On an
// embedded warehouse that ampel run or ampel serve holds, the statement
// runs in that process, through its local endpoint (serve.LocalQuery),
// under the same read-only checks.
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
	out, err := export.New(e.stdout, *format)
	if err != nil {
		return usageError{fmt.Errorf("--format %q: use tsv, csv or json", *format)}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if cfg.Warehouse.Driver == "embedded" {
		// ampel run or ampel serve may hold the warehouse: ask it
		err := serve.LocalQuery(ctx, filepath.Join(cfg.Warehouse.Path, serve.LocalSocket), fs.Arg(0), *format, e.stdout)
		if !errors.Is(err, serve.ErrNoLocal) {
			return sqlRefusal(err)
		}
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
	return export.Write(out, rows)
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
