package warehouse_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
)

// TestDDLRewrite checks the rewrite of each kind of statement Ampel's SQL
// holds for a cluster; the harness tests (TestCluster* in warehouse/clickhouse
// and connector) run the result on real servers.
func TestDDLRewrite(t *testing.T) {
	d := warehouse.Dialect{Driver: "clickhouse", Version: warehouse.Version{Major: 18, Minor: 16}, Cluster: "c1", Database: "ampel"}
	cases := []struct{ in, want string }{
		{"CREATE TABLE IF NOT EXISTS sync_runs\n(\n    a String\n)\nENGINE = MergeTree\nORDER BY a",
			"CREATE TABLE IF NOT EXISTS `ampel`.sync_runs ON CLUSTER `c1`\n(\n    a String\n)\nENGINE = ReplicatedMergeTree('/clickhouse/tables/all/ampel/sync_runs', '{replica}')\nORDER BY a"},
		{"CREATE TABLE IF NOT EXISTS sync_state (a String, seq UInt64) ENGINE = ReplacingMergeTree(seq) ORDER BY a",
			"CREATE TABLE IF NOT EXISTS `ampel`.sync_state ON CLUSTER `c1` (a String, seq UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/ampel/sync_state', '{replica}', seq) ORDER BY a"},
		{"CREATE TABLE `lock` (owner String DEFAULT 'x') ENGINE = Log",
			"CREATE TABLE `ampel`.`lock` ON CLUSTER `c1` (owner String DEFAULT 'x') ENGINE = Log"},
		{"CREATE TABLE `snap` ENGINE = Memory AS SELECT a FROM `v`",
			"CREATE TABLE `snap` ENGINE = Memory AS SELECT a FROM `v`"},
		{"CREATE VIEW IF NOT EXISTS lead_score AS SELECT a FROM lead_scores WHERE (m) IN (SELECT m FROM score_runs)",
			"CREATE VIEW IF NOT EXISTS `ampel`.lead_score ON CLUSTER `c1` AS SELECT a FROM `ampel`.lead_scores WHERE (m) IN (SELECT m FROM `ampel`.score_runs)"},
		{"CREATE VIEW dq AS SELECT * FROM dq_findings FINAL",
			"CREATE VIEW `ampel`.dq ON CLUSTER `c1` AS SELECT * FROM `ampel`.dq_findings FINAL"},
		{"CREATE VIEW v AS SELECT a FROM t JOIN u ON cluster = u.c",
			"CREATE VIEW `ampel`.v ON CLUSTER `c1` AS SELECT a FROM `ampel`.t JOIN `ampel`.u ON cluster = u.c"},
		{"DROP TABLE IF EXISTS `x`", "DROP TABLE IF EXISTS `ampel`.`x` ON CLUSTER `c1`"},
		{"RENAME TABLE `a` TO `b`", "RENAME TABLE `ampel`.`a` TO `ampel`.`b` ON CLUSTER `c1`"},
		{"CREATE DATABASE IF NOT EXISTS `ampel`", "CREATE DATABASE IF NOT EXISTS `ampel` ON CLUSTER `c1`"},
		{"DROP DATABASE IF EXISTS `t_1`", "DROP DATABASE IF EXISTS `t_1` ON CLUSTER `c1`"},
		{"ALTER TABLE sync_state ADD COLUMN next_link String", "ALTER TABLE sync_state ADD COLUMN next_link String"},
		{"INSERT INTO t SELECT * FROM u", "INSERT INTO t SELECT * FROM u"},
		{"CREATE TABLE IF NOT EXISTS `ampel`.`l_local` ON CLUSTER `c1` (a String) ENGINE = ReplicatedReplacingMergeTree('p', '{replica}', v) ORDER BY a",
			"CREATE TABLE IF NOT EXISTS `ampel`.`l_local` ON CLUSTER `c1` (a String) ENGINE = ReplicatedReplacingMergeTree('p', '{replica}', v) ORDER BY a"},
	}
	for _, c := range cases {
		got, err := warehouse.ClusterDDL(c.in, d)
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
		same, err := warehouse.ClusterDDL(c.in, warehouse.Dialect{Driver: "clickhouse"})
		require.NoError(t, err)
		require.Equal(t, c.in, same, "one server: unchanged")
	}
}

// TestDDLRewriteNodeLocal: a statement marked NodeLocal stays on its node.
func TestDDLRewriteNodeLocal(t *testing.T) {
	d := warehouse.Dialect{Driver: "clickhouse", Cluster: "c1", Database: "ampel"}
	q := warehouse.NodeLocal + " DROP TABLE IF EXISTS `snap`"
	got, err := warehouse.ClusterDDL(q, d)
	require.NoError(t, err)
	require.Equal(t, q, got)
}
