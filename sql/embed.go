// Package sql holds Ampel's SQL as files, embedded into the binary:
// schema/ has the numbered migrations `ampel migrate` applies, migrate/ the
// statements of the migration runner itself (its record table and lock),
// landing/ the templates for per-table landing tables and current-state
// views, warehouse/ the statements the drivers run (creating the store's
// database), kpis/ the versioned KPI definitions (<id>/v<N>.sql and
// releases.lock; see package versioned and package kpis), scoring/ the
// versioned lead scoring models (<id>/v<N>.yaml and releases.lock; see
// package kpis/scoring), audits/ the data-quality audit's rules
// (<id>/v<N>.yaml or .sql and releases.lock; see package audit), and
// marts/ the BI marts (<id>/v<N>.sql and releases.lock, with the
// templates of their tables and views in marts/_tables; see package
// marts).
// Code reads them only through the fs.FS values here, and renders them
// with Render and RenderText: every file is a text/template that sees the
// engine's Dialect (see render.go).
package sql

import (
	"embed"
	"io/fs"
)

//go:embed schema migrate landing warehouse kpis scoring audits marts marts/_tables
var files embed.FS

// Schema holds the numbered migrations, NNNN_name.sql.
var Schema = sub("schema")

// Migrate holds the migration runner's own statements: the
// schema_migrations table, the lock, and recording a migration.
var Migrate = sub("migrate")

// Landing holds the templates for landing tables and current-state views.
var Landing = sub("landing")

// Warehouse holds the statements the warehouse drivers run themselves.
var Warehouse = sub("warehouse")

// KPIs holds the built-in KPI definitions, <id>/v<N>.sql, and their lock
// file releases.lock.
var KPIs = sub("kpis")

// Scoring holds the built-in lead scoring models, <id>/v<N>.yaml, and
// their lock file releases.lock.
var Scoring = sub("scoring")

// Audits holds the built-in audit rules, <id>/v<N>.yaml or <id>/v<N>.sql,
// and their lock file releases.lock.
var Audits = sub("audits")

// Marts holds the BI marts, <id>/v<N>.sql, and their lock file
// releases.lock.
var Marts = sub("marts")

// MartTables holds the templates of the marts' tables and public views,
// the snapshots' building, publishing and dropping.
var MartTables = sub("marts/_tables")

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return f
}
