package clustertest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clustertest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestClusterSmoke checks the harness end to end: ON CLUSTER DDL of a
// ReplicatedReplacingMergeTree table and a Distributed table sharded by
// cityHash64(id), a synchronous insert that lands on both shards by the
// key, replication from A to B, a replica that catches up after a stop,
// FINAL through the Distributed table from every node, and ON CLUSTER
// ALTER and DROP (with what 18.16 refuses there).
func TestClusterSmoke(t *testing.T) {
	c := clustertest.Cluster(t)
	ctx := warehousetest.Context(t)
	db := warehousetest.UniqueName(t)

	// A writes through the Distributed table synchronously: the DSN
	// setting (18.16 applies a SETTINGS clause of INSERT … SELECT to the
	// SELECT only).
	cfgA := c.Config("A", "default")
	cfgA.DSN += "?insert_distributed_sync=1"
	a := open(t, cfgA)
	b := open(t, c.Config("B", "default"))
	cc := open(t, c.Config("C", "default"))

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
	exec(t, a, fmt.Sprintf(`CREATE TABLE %[1]s.d ON CLUSTER %[2]s AS %[1]s.l
		ENGINE = Distributed(%[2]s, %[1]s, l, cityHash64(id))`, db, c.Name))

	const n = 1000
	exec(t, a, fmt.Sprintf("INSERT INTO %s.d SELECT number, 1, concat('v1 ', toString(number)) FROM system.numbers LIMIT %d", db, n))

	// both shards hold rows right after the insert, each only the ids the
	// key sends to it (shard 01 = remainder 0, shard 02 = remainder 1)
	onA := count(t, a, db+".l", "")
	onC := count(t, cc, db+".l", "")
	if onA == 0 || onC == 0 || onA+onC != n {
		t.Fatalf("rows per shard: shard 01 (A) %d, shard 02 (C) %d; want both > 0, sum %d", onA, onC, n)
	}
	if wrong := count(t, a, db+".l", "cityHash64(id) % 2 != 0"); wrong != 0 {
		t.Errorf("shard 01 holds %d rows the key sends to shard 02", wrong)
	}
	if wrong := count(t, cc, db+".l", "cityHash64(id) % 2 != 1"); wrong != 0 {
		t.Errorf("shard 02 holds %d rows the key sends to shard 01", wrong)
	}
	if got := count(t, a, db+".d", ""); got != n {
		t.Errorf("rows through the Distributed table: %d, want %d", got, n)
	}

	// B replicates A
	exec(t, b, fmt.Sprintf("SYSTEM SYNC REPLICA %s.l", db))
	sameRows(t, a, b, db+".l")

	// B misses an insert while it is down and catches up after its start
	c.Stop(t, "B")
	exec(t, a, fmt.Sprintf("INSERT INTO %s.d SELECT number, 2, concat('v2 ', toString(number)) FROM system.numbers LIMIT %d", db, n))
	c.Start(t, "B")
	b2 := open(t, c.Config("B", "default"))
	exec(t, b2, fmt.Sprintf("SYSTEM SYNC REPLICA %s.l", db))
	sameRows(t, a, b2, db+".l")
	if got := count(t, b2, db+".l", "version = 2"); got != onA {
		t.Errorf("B after its restart: %d rows of version 2, want the %d of shard 01", got, onA)
	}

	// FINAL through the Distributed table, from every node: one row per
	// id, the newest
	for _, node := range []struct {
		name string
		st   warehouse.Store
	}{{"A", a}, {"B", b2}, {"C", cc}} {
		rows := warehousetest.QueryAll(t, node.st, fmt.Sprintf(
			"SELECT count(), uniqExact(id), min(version), countIf(name != concat('v2 ', toString(id))) FROM %s.d FINAL", db))
		if got, want := fmt.Sprint(rows), fmt.Sprintf("[[%d %d 2 0]]", n, n); got != want {
			t.Errorf("on %s: SELECT count(), uniqExact(id), min(version), stale names FROM d FINAL = %s, want %s", node.name, got, want)
		}
	}

	// ALTER … ON CLUSTER on the replicated table reaches every node
	exec(t, a, fmt.Sprintf("ALTER TABLE %s.l ON CLUSTER %s ADD COLUMN note String DEFAULT ''", db, c.Name))
	for node, st := range map[string]warehouse.Store{"A": a, "B": b2, "C": cc} {
		q := fmt.Sprintf("SELECT count() FROM system.columns WHERE database = '%s' AND table = 'l' AND name = 'note'", db)
		if got := warehousetest.QueryOne(t, st, q); fmt.Sprint(got) != "1" {
			t.Errorf("column note on %s after ALTER ON CLUSTER: %v, want 1", node, got)
		}
	}

	// 18.16 refuses ALTER … ON CLUSTER of a table that is not replicated on
	// a cluster whose shards are (internal_replication): a Distributed
	// table is dropped and created again instead. It has no DROP … SYNC;
	// DROP … ON CLUSTER drops on every node.
	if v := st(t, a, "SELECT version()"); strings.HasPrefix(v, "18.") {
		err := a.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.d ON CLUSTER %s ADD COLUMN note String DEFAULT ''", db, c.Name))
		if err == nil || !strings.Contains(err.Error(), "isn't replicated") {
			t.Errorf("ALTER TABLE d ON CLUSTER on %s: %v, want an error saying d isn't replicated", v, err)
		}
		if err := a.Exec(ctx, fmt.Sprintf("DROP TABLE %s.d ON CLUSTER %s SYNC", db, c.Name)); err == nil {
			t.Errorf("DROP TABLE … SYNC on %s: no error, want a syntax error", v)
		}
	}
	exec(t, a, fmt.Sprintf("DROP TABLE %s.d ON CLUSTER %s", db, c.Name))
	for node, s := range map[string]warehouse.Store{"A": a, "B": b2, "C": cc} {
		q := fmt.Sprintf("SELECT count() FROM system.tables WHERE database = '%s' AND name = 'd'", db)
		if got := warehousetest.QueryOne(t, s, q); fmt.Sprint(got) != "0" {
			t.Errorf("table d on %s after DROP ON CLUSTER: %v, want 0", node, got)
		}
	}
}

func open(t *testing.T, cfg warehouse.Config) warehouse.Store {
	t.Helper()
	st, err := warehouse.Open(warehousetest.Context(t), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.DSN, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func exec(t *testing.T, s warehouse.Store, q string) {
	t.Helper()
	warehousetest.Exec(t, s, q)
}

func st(t *testing.T, s warehouse.Store, q string) string {
	t.Helper()
	return fmt.Sprint(warehousetest.QueryOne(t, s, q))
}

// count returns the rows of table on one node that match where ("" = all).
func count(t *testing.T, s warehouse.Store, table, where string) uint64 {
	t.Helper()
	q := "SELECT count() FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	v := warehousetest.QueryOne(t, s, q)
	n, ok := v.(uint64)
	if !ok {
		t.Fatalf("%s: %T %v, want a UInt64", q, v, v)
	}
	return n
}

// sameRows fails t unless two replicas hold the same rows of table.
func sameRows(t *testing.T, x, y warehouse.Store, table string) {
	t.Helper()
	q := "SELECT count(), sum(cityHash64(id, version, name)) FROM " + table
	if gx, gy := fmt.Sprint(warehousetest.QueryAll(t, x, q)), fmt.Sprint(warehousetest.QueryAll(t, y, q)); gx != gy {
		t.Errorf("replicas differ: %s = %s on one, %s on the other", q, gx, gy)
	}
}
