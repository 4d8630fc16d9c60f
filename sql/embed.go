// Package sql holds Ampel's SQL as files, embedded into the binary:
// schema/ has the numbered migrations `ampel migrate` applies, landing/ the
// templates for per-table landing tables and current-state views, and later
// kpis/, audits/ and marts/ the KPI definitions, audit rules and BI views.
// Code reads them only through the fs.FS values here.
package sql

import (
	"embed"
	"io/fs"
)

//go:embed schema landing
var files embed.FS

// Schema holds the numbered migrations, NNNN_name.sql.
var Schema = sub("schema")

// Landing holds the templates for landing tables and current-state views.
var Landing = sub("landing")

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return f
}
