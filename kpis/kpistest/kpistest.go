// Package kpistest helps the tests of package kpis and kpis/scoring: a
// migrated test database, and a simulated Dataverse synced into it. It is
// for tests only; production code of kpis never imports the connector.
package kpistest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// Env is the environment name the simulated data is synced under.
const Env = "sim"

// OpenMigrated opens a test database (see warehousetest.Open) with
// Ampel's schema.
func OpenMigrated(tb testing.TB, cfg warehouse.Config) warehouse.Store {
	tb.Helper()
	st := warehousetest.Open(tb, cfg)
	_, err := migrate.Up(context.Background(), st, ampelsql.Schema, migrate.Options{})
	require.NoError(tb, err)
	return st
}

// Client returns a Dataverse client for the simulator.
func Client(tb testing.TB, sim *dvsim.Server) *dataverse.Client {
	tb.Helper()
	c, err := dataverse.New(context.Background(), dataverse.Config{
		URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client(),
	})
	require.NoError(tb, err)
	return c
}

// Sync syncs the default tables from the simulator into st under Env as
// run; a second call with the same client is a delta sync.
func Sync(tb testing.TB, st warehouse.Store, client *dataverse.Client, run string) {
	tb.Helper()
	var tables []connector.Table
	for _, n := range config.DefaultTables {
		tables = append(tables, connector.Table{Name: n})
	}
	_, err := connector.Sync(context.Background(), connector.Options{Store: st, Client: client, Environment: Env, Tables: tables, RunID: run})
	require.NoError(tb, err)
}

// Settle waits until the engine has no merges running, so that a
// benchmark's baseline and the work it measures see the same parts.
func Settle(tb testing.TB, st warehouse.Store) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rows, err := st.Query(context.Background(), "SELECT count() FROM system.merges")
		require.NoError(tb, err)
		var n uint64
		for rows.Next() {
			require.NoError(tb, rows.Scan(&n))
		}
		require.NoError(tb, rows.Err())
		rows.Close()
		if n == 0 {
			return
		}
		require.True(tb, time.Now().Before(deadline), "the engine still runs %d merges after 2 minutes", n)
		time.Sleep(20 * time.Millisecond) // polling the engine's merge list
	}
}

// CPUTime is the process's user and system CPU time so far: with the
// embedded engine in the process, the CPU its queries took, which a
// benchmark on a shared machine measures more steadily than wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
