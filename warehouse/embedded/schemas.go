//go:build cgo

package embedded

import (
	"context"
	"strings"
	"sync"
)

// schemas caches the column types PrepareInsert needs, by "db.table", so
// that a batch costs no metadata query when the table has not changed.
// The engine's directory belongs to this process alone (see the lock in
// engine.go), so every change to a table goes through this Store: Exec,
// a Query that is not a read, and a failed INSERT forget the cache. A
// generation counter keeps a lookup that raced with such a change from
// being cached.
type schemas struct {
	mu     sync.Mutex
	gen    uint64
	tables map[string]map[string]string
}

func (c *schemas) get(key string) (cols map[string]string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tables[key], c.gen
}

func (c *schemas) put(key string, cols map[string]string, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.tables == nil {
		c.tables = map[string]map[string]string{}
	}
	c.tables[key] = cols
}

func (c *schemas) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.tables)
}

// tableColumns returns the column types of db.name, from the cache or
// from system.columns; none when the table does not exist.
func (s *Store) tableColumns(ctx context.Context, db, name string) (map[string]string, error) {
	key := db + "." + name
	cols, gen := s.schemas.get(key)
	if cols != nil {
		return cols, nil
	}
	rows, err := s.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols = map[string]string{}
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return nil, err
		}
		cols[n] = t
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) > 0 {
		s.schemas.put(key, cols, gen)
	}
	return cols, nil
}

// readStatement reports whether q only reads: SELECT, WITH, SHOW,
// DESCRIBE, EXISTS or EXPLAIN, after leading blanks and comments.
func readStatement(q string) bool {
	for {
		q = strings.TrimLeft(q, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "--"):
			_, rest, ok := strings.Cut(q, "\n")
			if !ok {
				return false
			}
			q = rest
		case strings.HasPrefix(q, "/*"):
			_, rest, ok := strings.Cut(q, "*/")
			if !ok {
				return false
			}
			q = rest
		default:
			end := strings.IndexFunc(q, func(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') })
			if end < 0 {
				end = len(q)
			}
			switch strings.ToUpper(q[:end]) {
			case "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN":
				return true
			}
			return false
		}
	}
}
