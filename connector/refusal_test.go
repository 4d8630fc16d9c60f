package connector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// startSim starts a simulator for the test.
func startSim(t *testing.T, opts dvsim.Options) *dvsim.Server {
	t.Helper()
	sim, err := dvsim.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	return sim
}

// runRow is a sync_runs row's mode, status and error.
type runRow struct{ mode, status, err string }

// runRows reads the sync_runs rows of one run by table.
func runRows(t *testing.T, st warehouse.Store, runID string) map[string]runRow {
	t.Helper()
	rows, err := st.Query(context.Background(), "SELECT table_name, mode, status, error FROM sync_runs WHERE run_id = ?", runID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]runRow{}
	for rows.Next() {
		var table string
		var r runRow
		require.NoError(t, rows.Scan(&table, &r.mode, &r.status, &r.err))
		out[table] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// TestSyncRefusesUnknownExcludeColumn: a typo in exclude_columns would
// sync the column it meant to leave out, so the table is refused before
// anything of it is written; the other tables sync.
func TestSyncRefusesUnknownExcludeColumn(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 71, Scale: 100})
			tables := []connector.Table{
				{Name: "lead", ExcludeColumns: []string{"emailadress1"}},
				{Name: "contact", ExcludeColumns: []string{"emailaddress1", "parentcustomeridname"}},
			}
			res, err := connector.Sync(ctx, connector.Options{Store: st, Client: simClient(t, sim), Environment: "prod", Tables: tables, RunID: "exclude"})
			require.EqualError(t, err, "lead: exclude_columns: emailadress1 is not a column of lead (did you mean emailaddress1?)")
			require.Equal(t, connector.StatusFailed, res[0].Status)
			require.Equal(t, connector.ModeFull, res[0].Mode, "a first sync would have been a full load")
			require.Equal(t, connector.StatusOK, res[1].Status)

			cat, err := warehouse.ReadCatalog(ctx, st, "landing_lead", "lead", "landing_contact", "contact")
			require.NoError(t, err)
			require.NotContains(t, cat, "landing_lead", "nothing of the refused table is written")
			require.NotContains(t, cat, "lead")
			var cols []string
			for _, c := range cat["contact"] {
				cols = append(cols, c.Name)
			}
			require.Contains(t, cols, "parentcustomerid")
			require.NotContains(t, cols, "emailaddress1")
			require.NotContains(t, cols, "parentcustomeridname", "a lookup's name can be left out without its id")

			runs := runRows(t, st, "exclude")
			require.Equal(t, runRow{"full", "failed", "exclude_columns: emailadress1 is not a column of lead (did you mean emailaddress1?)"}, runs["lead"])
			require.Equal(t, "ok", runs["contact"].status)
		})
	}
}

// TestSyncEnvironmentWideFailure: when the environment goes away after a
// first sync, every table fails the same way. The error says the cause
// once, and each table's sync_runs row has the mode its sync was due in.
func TestSyncEnvironmentWideFailure(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := openMigrated(t, cfg)
			sim := startSim(t, dvsim.Options{Seed: 72, Scale: 100})
			client, err := dataverse.New(ctx, dataverse.Config{
				URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(), ClientID: sim.ClientID(),
				ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client(), MaxWait: 300 * time.Millisecond,
			})
			require.NoError(t, err)
			_, err = connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod",
				Tables: []connector.Table{{Name: "lead"}}, RunID: "before"})
			require.NoError(t, err)

			require.NoError(t, sim.Close())
			tables := []connector.Table{{Name: "lead"}, {Name: "contact"}, {Name: "account"}, {Name: "incident"}}
			res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables, RunID: "gone"})
			require.Error(t, err)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "all 4 tables: "), msg)
			require.Equal(t, 1, strings.Count(msg, "connection refused"), msg)
			require.True(t, errors.Is(err, dataverse.ErrUnreachable), "the kind survives the grouping: %v", err)
			require.Contains(t, msg, "check url", "names the setting to check")
			require.Len(t, connector.GroupErrors(res), 1)

			runs := runRows(t, st, "gone")
			require.Len(t, runs, 4)
			require.Equal(t, "delta", runs["lead"].mode, "lead was due for a delta")
			for _, table := range []string{"contact", "account", "incident"} {
				require.Equal(t, "full", runs[table].mode, table)
			}
			for table, r := range runs {
				require.Equal(t, "failed", r.status, table)
				require.Contains(t, r.err, "connection refused", table)
			}

			// refused before any table started (ampel sync's WhoAmI): the
			// same modes, from the stored state
			results, err := connector.RecordFailure(ctx, st, "refused", "prod", tables, false, errors.New("token refused"))
			require.NoError(t, err)
			require.Equal(t, "delta", results[0].Mode)
			require.Equal(t, "full", results[1].Mode)
			require.Equal(t, "delta", runRows(t, st, "refused")["lead"].mode)
			results, err = connector.RecordFailure(ctx, st, "refused-full", "prod", tables, true, errors.New("token refused"))
			require.NoError(t, err)
			require.Equal(t, "full", results[0].Mode, "--full")
		})
	}
}

func TestErrorGroupNames(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	var results []connector.TableResult
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		results = append(results, connector.TableResult{Environment: "prod", Table: n, Err: cause})
	}
	results = append(results, connector.TableResult{Environment: "prod", Table: "f"},
		connector.TableResult{Environment: "test", Table: "a", Err: cause})
	groups := connector.GroupErrors(results)
	require.Len(t, groups, 2, "one per environment and cause")
	require.EqualError(t, groups[0], "a, b, c and 2 more tables: boom")
	require.EqualError(t, groups[1], "a: boom")
	require.Equal(t, "test", groups[1].Environment)
	groups = connector.GroupErrors(results[:3])
	require.EqualError(t, groups[0], "all 3 tables: boom")
	groups = connector.GroupErrors(append(results[:2:2], connector.TableResult{Environment: "prod", Table: "z"}))
	require.EqualError(t, groups[0], "a and b: boom")

	// one answer after a different number of retries is one cause; another
	// answer is another
	unavailable := func(table string, attempts int, status int) connector.TableResult {
		return connector.TableResult{Environment: "prod", Table: table, Err: fmt.Errorf("read %s: %w", table, &dataverse.APIError{
			Kind: dataverse.ErrUnavailable, Method: "GET", Path: "/api/data/v9.2/" + table + "s", Table: table, Status: status,
			Attempts: attempts, Waited: time.Duration(attempts) * time.Second})}
	}
	groups = connector.GroupErrors([]connector.TableResult{unavailable("lead", 3, 503), unavailable("contact", 5, 503), unavailable("account", 4, 502)})
	require.Len(t, groups, 2)
	require.Equal(t, []string{"lead", "contact"}, groups[0].Tables)
	require.Equal(t, []string{"account"}, groups[1].Tables)
}
