package migrate

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseAlter(t *testing.T) {
	for _, tc := range []struct {
		stmt    string
		ok      bool
		db      string
		table   string
		head    string
		clauses []clause
		err     string
	}{
		{stmt: "CREATE TABLE IF NOT EXISTS t (a String) ENGINE = Log"},
		{stmt: "ALTER TABLE t MODIFY COLUMN a UInt16"},
		{stmt: "ALTER TABLE t DELETE WHERE a = 1"},
		{
			stmt: "-- a comment with ADD COLUMN in it\nALTER TABLE sync_state ADD COLUMN next_link String", ok: true,
			table: "sync_state", head: "ALTER TABLE sync_state",
			clauses: []clause{{add: true, column: "next_link", typ: "String", text: "ADD COLUMN next_link String"}},
		},
		{
			stmt:  "alter table `db`.`my table` on cluster main add column if not exists amount Decimal(18, 4) DEFAULT 0 AFTER a, drop column old, ADD COLUMN at DateTime('UTC') /* why */ COMMENT 'x, y'",
			ok:    true,
			db:    "db",
			table: "my table",
			head:  "alter table `db`.`my table` on cluster main",
			clauses: []clause{
				{add: true, column: "amount", typ: "Decimal(18, 4)", text: "add column if not exists amount Decimal(18, 4) DEFAULT 0 AFTER a"},
				{column: "old", text: "drop column old"},
				{add: true, column: "at", typ: "DateTime('UTC')", text: "ADD COLUMN at DateTime('UTC') /* why */ COMMENT 'x, y'"},
			},
		},
		{
			stmt: `ALTER TABLE t ADD COLUMN "x" Nullable(String), DROP COLUMN IF EXISTS y`, ok: true, table: "t", head: "ALTER TABLE t",
			clauses: []clause{
				{add: true, column: "x", typ: "Nullable(String)", text: `ADD COLUMN "x" Nullable(String)`},
				{column: "y", text: "DROP COLUMN IF EXISTS y"},
			},
		},
		{stmt: "ALTER TABLE t ADD COLUMN a String, MODIFY COLUMN b UInt8", err: "mixes ADD or DROP COLUMN with other changes"},
	} {
		a, ok, err := parseAlter(tc.stmt)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.stmt)
			continue
		}
		require.NoError(t, err, tc.stmt)
		require.Equal(t, tc.ok, ok, tc.stmt)
		if !ok {
			continue
		}
		require.Equal(t, tc.db, a.database, tc.stmt)
		require.Equal(t, tc.table, a.table, tc.stmt)
		require.Equal(t, tc.head, a.head, tc.stmt)
		require.Equal(t, tc.clauses, a.clauses, tc.stmt)
	}
}

func TestSameType(t *testing.T) {
	require.True(t, sameType("Decimal(18, 4)", "Decimal(18,4)"))
	require.True(t, sameType("DateTime('UTC')", `DateTime("UTC")`))
	require.True(t, sameType("String", "string"))
	require.False(t, sameType("String", "Nullable(String)"))
	require.False(t, sameType("UInt8", "UInt16"))
}

func TestUnquote(t *testing.T) {
	s, ok := unquote(`'host-1.example:4242'`)
	require.True(t, ok)
	require.Equal(t, "host-1.example:4242", s)
	s, ok = unquote(`'it\'s \\ here'`)
	require.True(t, ok)
	require.Equal(t, `it's \ here`, s)
	_, ok = unquote("1700000000")
	require.False(t, ok)
}
