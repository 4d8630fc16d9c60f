// Package clustertest gives tests a real ClickHouse cluster: three
// clickhouse-server (Debian's 18.16) and one ZooKeeper (Debian's) on
// loopback, started by deploy/with-test-cluster.sh, which exports where they
// are. The cluster is "ampel_test": shard 01 = replicas A and B, shard 02 =
// C, internal_replication on, macros {cluster}, {shard} (01, 02) and
// {replica} (A, B, C), distributed DDL through ZooKeeper. Nothing here is a
// fake.
//
//	c := clustertest.Cluster(t)   // waits for the cluster, holds it until t ends
//	cfg := c.Config("A", "default") // a clickhouse store config for node A
//	c.Stop(t, "B")                 // returns once B is down
//	c.Kill(t, "B")                 // the same with SIGKILL: a crash
//	c.Start(t, "B")                // returns once B answers again
//
// Run such tests with `make test-cluster`, or
// `deploy/with-test-cluster.sh go test -run Cluster ./PKG`. Name them so
// that -run Cluster matches (TestCluster…, Test…Cluster…): make test runs
// them under the cluster and skips them (-skip Cluster) in the single-server
// run. Without the cluster a test fails when CI=true and is skipped, with the
// command to run, otherwise.
//
// A test holds the cluster alone (an exclusive flock on
// AMPEL_TEST_CLUSTER_LOCK, taken by Cluster and released when the test
// ends) so that a test stopping a server does not pull it from under a test
// of another package; tests of one binary that run in parallel share the
// hold (such tests must not stop servers). Servers a test stopped are
// started again when it ends. Replicated tables need ZooKeeper paths unique
// to the test: put the database name in them, e.g.
// ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/DB/TABLE', '{replica}', version).
//
// Facts of 18.16 on this cluster, tested in
// warehouse/clustertest/smoke_test.go: FINAL works through a Distributed
// table, from every node (per shard: exact when the sharding key keeps
// every version of a row on one shard); ALTER … ON CLUSTER on a replicated
// table works, on a Distributed table it is refused ("isn't replicated, but
// shard #2 is replicated"; drop and create it again instead); DROP … ON
// CLUSTER works, DROP … SYNC is a syntax error; insert_distributed_sync
// must be a connection or query setting (a SETTINGS clause at the end of
// INSERT … SELECT applies to the SELECT only; INSERT … SETTINGS … VALUES
// is a syntax error).
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse"
	_ "github.com/ampel/ampel/warehouse/clickhouse" // registers "clickhouse"
)

// Environment variables deploy/with-test-cluster.sh exports and Cluster reads.
// Only tests read the environment.
const (
	// EnvDSNs holds the native DSNs of A, B and C, comma-separated.
	EnvDSNs = "AMPEL_TEST_CLUSTER_DSNS"
	// EnvName holds the cluster's name (ampel_test).
	EnvName = "AMPEL_TEST_CLUSTER_NAME"
	// EnvCtl holds the path of the control script (CTL stop|kill|start NODE).
	EnvCtl = "AMPEL_TEST_CLUSTER_CTL"
	// EnvZooKeeper holds host:port of the cluster's ZooKeeper.
	EnvZooKeeper = "AMPEL_TEST_CLUSTER_ZOOKEEPER"
	// EnvLock holds the path of the file tests lock while they use the cluster.
	EnvLock = "AMPEL_TEST_CLUSTER_LOCK"
)

// SetupCommand runs the cluster tests under a cluster.
const SetupCommand = "make test-cluster"

// Nodes are the cluster's servers in the order of EnvDSNs: A and B are
// the replicas of shard 01, C is shard 02.
var Nodes = []string{"A", "B", "C"}

// Handle is a test's hold on the running cluster.
type Handle struct {
	// Name is the cluster's name for ON CLUSTER and Distributed tables.
	Name string
	// DSNs are the native DSNs of Nodes, in that order.
	DSNs []string
	// ZooKeeper is host:port of the cluster's ZooKeeper.
	ZooKeeper string

	ctl string
}

// Cluster returns the running cluster, once this test holds it (see the
// package doc). It fails tb when there is none and CI=true, and skips tb
// otherwise.
func Cluster(tb testing.TB) *Handle {
	tb.Helper()
	dsns, name, ctl := os.Getenv(EnvDSNs), os.Getenv(EnvName), os.Getenv(EnvCtl)
	if dsns == "" || name == "" || ctl == "" {
		msg := fmt.Sprintf("clustertest: no test cluster (%s, %s or %s is not set): run `%s` "+
			"or deploy/with-test-cluster.sh go test -run Cluster ./PKG", EnvDSNs, EnvName, EnvCtl, SetupCommand)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	h := &Handle{Name: name, DSNs: strings.Split(dsns, ","), ZooKeeper: os.Getenv(EnvZooKeeper), ctl: ctl}
	if len(h.DSNs) != len(Nodes) {
		tb.Fatalf("clustertest: %s holds %d DSNs, want %d (%s)", EnvDSNs, len(h.DSNs), len(Nodes), strings.Join(Nodes, ", "))
	}
	if err := hold(os.Getenv(EnvLock)); err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	tb.Cleanup(func() {
		if err := release(); err != nil {
			tb.Errorf("clustertest: %v", err)
		}
	})
	return h
}

// DSN returns the native DSN of node (A, B or C).
func (h *Handle) DSN(node string) string {
	i := slices.Index(Nodes, node)
	if i < 0 {
		panic("clustertest: unknown node " + node + ": want A, B or C")
	}
	return h.DSNs[i]
}

// Config returns the config of a clickhouse store on node working in
// database (created on that node only when missing: use CREATE DATABASE …
// ON CLUSTER first for one on every node).
func (h *Handle) Config(node, database string) warehouse.Config {
	return warehouse.Config{Driver: "clickhouse", DSN: h.DSN(node), Database: database, MaxConns: 4}
}

// ClusterConfig is Config with warehouse.cluster set to the cluster: how
// Ampel talks to the cluster through node.
func (h *Handle) ClusterConfig(node, database string) warehouse.Config {
	cfg := h.Config(node, database)
	cfg.Cluster = h.Name
	return cfg
}

// Stop stops node and returns once it is down; a cleanup starts it again
// when the test leaves it stopped. It fails tb when the node does not stop.
func (h *Handle) Stop(tb testing.TB, node string) {
	tb.Helper()
	if err := h.run("stop", node); err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	tb.Cleanup(func() {
		if err := h.run("start", node); err != nil {
			tb.Errorf("clustertest: %v", err)
		}
	})
}

// Kill kills node with SIGKILL, as a crash would, and returns once it is
// gone; a cleanup starts it again when the test leaves it down. Its
// ZooKeeper session lives on for up to 6 s (session_timeout_ms), so its
// replicated tables may take that long to become active after Start; Start
// waits for that and starts it with the flag force_restore_data, as an
// operator would after a crash (18.16 refuses a small table whose newest
// part the replica wrote but had not registered in ZooKeeper).
func (h *Handle) Kill(tb testing.TB, node string) {
	tb.Helper()
	if err := h.run("kill", node); err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	tb.Cleanup(func() {
		if err := h.run("start", node); err != nil {
			tb.Errorf("clustertest: %v", err)
		}
	})
}

// Start starts node and returns once it answers and reaches ZooKeeper;
// a running node is left as it is. It fails tb when the node does not start.
func (h *Handle) Start(tb testing.TB, node string) {
	tb.Helper()
	if err := h.run("start", node); err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
}

// run runs the control script (which waits 120 s at most for a server to
// come up, AMPEL_TEST_CLUSTER_WAIT).
func (h *Handle) run(cmd, node string) error {
	if !slices.Contains(Nodes, node) {
		return fmt.Errorf("%s %s: unknown node: want A, B or C", cmd, node)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.ctl, cmd, node).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", cmd, node, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// The hold: one exclusive flock per process, counted across the tests of
// the process that hold it.
var (
	holdMu   sync.Mutex
	holdFile *os.File
	holders  int
)

func hold(path string) error {
	if path == "" {
		return errors.New(EnvLock + " is not set: run the tests under deploy/with-test-cluster.sh")
	}
	holdMu.Lock()
	defer holdMu.Unlock()
	if holders > 0 {
		holders++
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lock the cluster: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return fmt.Errorf("lock the cluster: %w", err)
	}
	holdFile, holders = f, 1
	return nil
}

func release() error {
	holdMu.Lock()
	defer holdMu.Unlock()
	holders--
	if holders > 0 {
		return nil
	}
	f := holdFile
	holdFile = nil
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		_ = f.Close()
		return fmt.Errorf("unlock the cluster: %w", err)
	}
	return f.Close()
}
