package clustertest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestClusterKill checks Kill: a replica killed with SIGKILL is down
// (nothing answers on its port), misses inserts, and after Start catches
// up with its peer although ZooKeeper still held its old session.
func TestClusterKill(t *testing.T) {
	c := clustertest.Cluster(t)
	db := warehousetest.UniqueName(t)
	a := open(t, c.Config("A", "default"))

	exec(t, a, fmt.Sprintf("CREATE DATABASE %s ON CLUSTER %s", db, c.Name))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := a.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s ON CLUSTER %s", db, c.Name)); err != nil {
			t.Errorf("drop database %s on cluster: %v", db, err)
		}
	})
	exec(t, a, fmt.Sprintf(`CREATE TABLE %[1]s.l ON CLUSTER %[2]s (id UInt64, version UInt64, name String)
		ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%[1]s/l', '{replica}', version) ORDER BY id`, db, c.Name))
	exec(t, a, fmt.Sprintf("INSERT INTO %s.l SELECT number, 1, toString(number) FROM system.numbers LIMIT 100", db))

	c.Kill(t, "B")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if st, err := warehouse.Open(ctx, c.Config("B", "default")); err == nil {
		_ = st.Close()
		t.Fatal("B answers after Kill")
	}
	exec(t, a, fmt.Sprintf("INSERT INTO %s.l SELECT number, 2, toString(number) FROM system.numbers LIMIT 50, 100", db))
	c.Start(t, "B")

	b := open(t, c.Config("B", "default"))
	exec(t, b, fmt.Sprintf("SYSTEM SYNC REPLICA %s.l", db))
	sameRows(t, a, b, db+".l")
	if got := count(t, b, db+".l", "version = 2"); got != 100 {
		t.Errorf("B after its restart: %d rows of version 2, want the 100 inserted while it was down", got)
	}
}
