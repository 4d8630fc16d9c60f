package warehouse

import (
	"context"
	"strings"
)

// TableColumns lists the columns of a table in the store's database, in
// order; none if the table does not exist.
func TableColumns(ctx context.Context, s Store, table string) ([]Column, error) {
	cat, err := ReadCatalog(ctx, s, table)
	return cat[table], err
}

// Catalog maps table and view names to their columns, in order. A table
// it does not list does not exist.
type Catalog map[string][]Column

// ReadCatalog reads the columns of tables (or views) in the store's
// database in one query.
func ReadCatalog(ctx context.Context, s Store, tables ...string) (Catalog, error) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(tables)), ", ")
	q := "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() AND table IN (" + marks + ")"
	if s.Dialect().ModernSQL() { // no position column before 19.x; rows come in table order there
		q += " ORDER BY table, position"
	}
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := make(Catalog, len(tables))
	for rows.Next() {
		var table string
		var c Column
		if err := rows.Scan(&table, &c.Name, &c.Type); err != nil {
			return nil, err
		}
		cols[table] = append(cols[table], c)
	}
	return cols, rows.Err()
}
