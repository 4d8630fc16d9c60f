package warehouse_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
)

func TestStatementReads(t *testing.T) {
	cases := []struct {
		q      string
		tables []string
		all    bool
	}{
		{"SELECT a FROM lead WHERE b = 'FROM contact'", []string{"lead"}, false},
		{"SELECT x FROM (SELECT a AS x FROM `lead` UNION ALL SELECT a FROM contact) AS u ALL LEFT JOIN account AS c USING x", []string{"lead", "contact", "account"}, false},
		{"SELECT k FROM lead ARRAY JOIN range(3) AS k ARRAY JOIN opportunity AS o", []string{"lead"}, false},
		{"SELECT * FROM numbers(10) JOIN db.lead USING number", nil, true},
		{"SELECT l.* FROM lead AS l /* FROM quote */ -- JOIN invoice", []string{"lead"}, true},
		{"SELECT count(*), extract(YEAR FROM createdon), trim(BOTH ' ' FROM (x)) FROM lead, contact", []string{"lead"}, false},
	}
	for _, c := range cases {
		r, err := warehouse.StatementReads(c.q)
		require.NoError(t, err, c.q)
		require.Equal(t, c.tables, r.Tables, c.q)
		require.Equal(t, c.all, r.All, c.q)
	}
	r, err := warehouse.StatementReads("SELECT `first name`, lastname FROM lead WHERE x = 'companyname'")
	require.NoError(t, err)
	require.True(t, r.Names["first name"] && r.Names["lastname"] && r.Names["lead"] && r.Names["x"])
	require.False(t, r.Names["companyname"], "a string is no name")
	_, err = warehouse.StatementReads("SELECT 'unterminated FROM lead")
	require.Error(t, err)
}

func TestReplaceTables(t *testing.T) {
	to := map[string]string{"lead": "snap_lead", "contact": "snap_contact"}
	cases := []struct{ in, want string }{
		{"SELECT a FROM lead WHERE b = 'lead'", "SELECT a FROM `snap_lead` AS `lead` WHERE b = 'lead'"},
		{"SELECT lead.a FROM `lead` GROUP BY 1", "SELECT lead.a FROM `snap_lead` AS `lead` GROUP BY 1"},
		{"SELECT c.a FROM contact AS c ALL INNER JOIN lead l USING a", "SELECT c.a FROM `snap_contact` AS c ALL INNER JOIN `snap_lead` l USING a"},
		{"SELECT 1 FROM db.lead ARRAY JOIN lead AS x", "SELECT 1 FROM db.lead ARRAY JOIN lead AS x"},
		{"SELECT 1 FROM account", "SELECT 1 FROM account"},
		{"SELECT a FROM (SELECT a FROM lead)", "SELECT a FROM (SELECT a FROM `snap_lead` AS `lead`)"},
	}
	for _, c := range cases {
		got, err := warehouse.ReplaceTables(c.in, to)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
	}
}
