// Package sql holds Ampel's SQL as files, embedded into the binary:
// schema/ has the numbered migrations `ampel migrate` applies, landing/ the
// templates for per-table landing tables and current-state views, kpis/ the
// versioned KPI definitions (<id>/v<N>.sql and releases.lock; see package
// versioned and package kpis), scoring/ the versioned lead scoring models
// (<id>/v<N>.yaml and releases.lock; see package kpis/scoring), and later
// audits/ and marts/ the audit rules and BI views.
// Code reads them only through the fs.FS values here.
package sql

import (
	"embed"
	"io/fs"
)

//go:embed schema landing kpis scoring
var files embed.FS

// Schema holds the numbered migrations, NNNN_name.sql.
var Schema = sub("schema")

// Landing holds the templates for landing tables and current-state views.
var Landing = sub("landing")

// KPIs holds the built-in KPI definitions, <id>/v<N>.sql, and their lock
// file releases.lock.
var KPIs = sub("kpis")

// Scoring holds the built-in lead scoring models, <id>/v<N>.yaml, and
// their lock file releases.lock.
var Scoring = sub("scoring")

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return f
}
