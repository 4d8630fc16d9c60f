//go:build cgo

package embedded

import "testing"

func TestReadStatement(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                             true,
		"  select 1":                           true,
		"(SELECT 1) UNION ALL (SELECT 2)":      true,
		"WITH x AS (SELECT 1) SELECT * FROM x": true,
		"SHOW TABLES":                          true,
		"DESCRIBE TABLE t":                     true,
		"EXISTS TABLE t":                       true,
		"-- note\nSELECT 1":                    true,
		"/* x */ SELECT 1":                     true,
		"ALTER TABLE t ADD COLUMN c Int8":      false,
		"INSERT INTO t SELECT 1":               false,
		"-- SELECT\nDROP TABLE t":              false,
		"/* SELECT */ DROP TABLE t":            false,
		"/* unterminated SELECT":               false,
		"SELECT\n1":                            true,
		"SELECTED":                             false,
		"":                                     false,
	} {
		if got := readStatement(q); got != want {
			t.Errorf("readStatement(%q) = %v, want %v", q, got, want)
		}
	}
}
