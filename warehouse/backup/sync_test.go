package backup_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/backup"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// childEnv makes the test binary restoreAndSyncChild.
const childEnv = "AMPEL_BACKUP_TEST_CHILD"

func tables() []connector.Table {
	var ts []connector.Table
	for _, n := range config.DefaultTables {
		ts = append(ts, connector.Table{Name: n})
	}
	return ts
}

// key is the primary key column of a Dataverse table.
func key(table string) string {
	switch table {
	case "activitypointer", "phonecall", "email", "task", "appointment":
		return "activityid"
	}
	return table + "id"
}

// backupDuringSync has a backup taken while a sync writes: once the sync
// has stored rows of some table, backup.Create runs beside it.
type backupDuringSync struct {
	start func()
	once  sync.Once
}

func (b *backupDuringSync) TableStarted(string, string, string, int64) {}
func (b *backupDuringSync) TableDone(connector.TableResult)            {}
func (b *backupDuringSync) Rows(string, string, int)                   { b.once.Do(b.start) }

// TestBackupWhileSyncing takes backups while syncs write — one during the
// first full load, one during a delta after the source changed — restores
// each into a new warehouse in another process, syncs that once and
// compares every current-state view with the simulator's records (key
// and version of every live row). A backup that held a table's new delta
// link without the rows it covers would miss those rows for good.
func TestBackupWhileSyncing(t *testing.T) {
	ctx := context.Background()
	st := warehousetest.Open(t, warehousetest.Embedded(t))
	_, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{})
	require.NoError(t, err)
	sim, err := dvsim.Start(dvsim.Options{Seed: 18, Scale: 2000})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	client, err := dataverse.New(ctx, dataverse.Config{URL: sim.URL(), Authority: sim.Authority(), TenantID: sim.TenantID(),
		ClientID: sim.ClientID(), ClientSecret: sim.ClientSecret(), HTTPClient: sim.Client(), PageSize: 200})
	require.NoError(t, err)

	syncWithBackup := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		var wg sync.WaitGroup
		var berr error
		var took atomic.Int64
		p := &backupDuringSync{start: func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := backup.Create(ctx, st, dir, ampelsql.Schema, "test")
				berr = err
				if err == nil {
					took.Store(int64(m.Took))
				}
			}()
		}}
		res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables(), RunID: name, Progress: p})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err, r.Table)
		}
		wg.Wait()
		require.NoError(t, berr, name)
		t.Logf("%s: backup took %v while the sync ran", name, time.Duration(took.Load()))
		return dir
	}
	full := syncWithBackup("full")
	mut := sim.Mutate(40, 120, 30)
	require.NotEmpty(t, mut.Deleted["lead"])
	require.NotEmpty(t, mut.Updated["lead"])
	delta := syncWithBackup("delta")

	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, sim.CACertPEM(), 0o600))
	want := map[string]bool{}
	for _, tb := range tables() {
		for _, r := range sim.Records(tb.Name) {
			want[fmt.Sprintf("%s\t%v\t%v", tb.Name, r[key(tb.Name)], r["versionnumber"])] = true
		}
	}
	require.Greater(t, len(want), 5000)
	finalRows := landingRows(t, st)
	for _, dir := range []string{full, delta} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1", "AMPEL_TEST_DIR="+filepath.Join(t.TempDir(), "restored"), "AMPEL_TEST_FROM="+dir,
			"AMPEL_LIBCHDB="+warehousetest.Embedded(t).Library, "AMPEL_TEST_SIM="+strings.Join([]string{sim.URL(), sim.Authority(), sim.TenantID(), sim.ClientID(), sim.ClientSecret(), ca}, " "))
		out, err := cmd.Output()
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		require.NoError(t, err, "%s\n%s", out, stderr)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var restored uint64
		_, err = fmt.Sscanf(lines[0], "landing rows %d", &restored)
		require.NoError(t, err, lines[0])
		if dir == full {
			require.Less(t, restored, finalRows, "the backup was taken part way through the full load")
		}
		got := map[string]bool{}
		for _, line := range lines[1:] {
			got[line] = true
		}
		var missing, extra []string
		for k := range want {
			if !got[k] {
				missing = append(missing, k)
			}
		}
		for k := range got {
			if !want[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		require.Empty(t, missing, "%s: rows of the source missing after restore and sync", filepath.Base(dir))
		require.Empty(t, extra, "%s: rows in the views the source does not have", filepath.Base(dir))
	}
}

// restoreAndSyncChild restores AMPEL_TEST_FROM into a new warehouse at
// AMPEL_TEST_DIR, syncs it once from the simulator named by
// AMPEL_TEST_SIM, and prints "table<TAB>key<TAB>versionnumber" for every
// row of every current-state view.
func restoreAndSyncChild() int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	st, err := warehouse.Open(ctx, warehouse.Config{Driver: "embedded", Path: os.Getenv("AMPEL_TEST_DIR"), Library: os.Getenv("AMPEL_LIBCHDB")})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	if _, err := backup.Restore(ctx, st, os.Getenv("AMPEL_TEST_FROM"), ampelsql.Schema); err != nil {
		return fail(err)
	}
	if _, err := migrate.Up(ctx, st, ampelsql.Schema, migrate.Options{}); err != nil {
		return fail(err)
	}
	n, err := landingRowsOf(ctx, st)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("landing rows %d\n", n)
	f := strings.Fields(os.Getenv("AMPEL_TEST_SIM"))
	client, err := dataverse.New(ctx, dataverse.Config{URL: f[0], Authority: f[1], TenantID: f[2], ClientID: f[3], ClientSecret: f[4], CAFile: f[5], PageSize: 200})
	if err != nil {
		return fail(err)
	}
	res, err := connector.Sync(ctx, connector.Options{Store: st, Client: client, Environment: "prod", Tables: tables(), RunID: "after-restore"})
	if err != nil {
		return fail(err)
	}
	for _, r := range res {
		if r.Err != nil {
			return fail(fmt.Errorf("%s: %w", r.Table, r.Err))
		}
	}
	for _, tb := range tables() {
		rows, err := st.Query(ctx, fmt.Sprintf("SELECT toString(%s), versionnumber FROM %s WHERE _environment = 'prod'", warehouse.QuoteIdentifier(key(tb.Name)), warehouse.QuoteIdentifier(tb.Name)))
		if err != nil {
			return fail(err)
		}
		for rows.Next() {
			v := rows.Values()
			fmt.Printf("%s\t%v\t%v\n", tb.Name, v[0], v[1])
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fail(err)
		}
	}
	return 0
}

// landingRowsOf counts the rows of every landing table.
func landingRowsOf(ctx context.Context, st warehouse.Store) (uint64, error) {
	rows, err := st.Query(ctx, "SELECT sum(total_rows) FROM system.tables WHERE database = currentDatabase() AND name LIKE 'landing\\_%'")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n uint64
	if rows.Next() {
		var v *uint64
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		if v != nil {
			n = *v
		}
	}
	return n, rows.Err()
}

func landingRows(t *testing.T, st warehouse.Store) uint64 {
	t.Helper()
	n, err := landingRowsOf(context.Background(), st)
	require.NoError(t, err)
	require.Positive(t, n)
	return n
}
