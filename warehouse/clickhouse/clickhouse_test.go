package clickhouse_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/clickhouse"
	"github.com/ampel/ampel/warehouse/storetest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) warehouse.Store {
		return warehousetest.Open(t, warehousetest.ClickHouse(t))
	})
}

// TestTLS starts a server of its own with a TLS native port. Over TLS,
// trusting the CA that signed the server's certificate through
// Config.CAFile, the store passes the whole contract; and each way Ampel
// and the server can disagree about TLS, and each wrong port (one nothing
// listens on, the HTTP port), gives an error that says what to change.
func TestTLS(t *testing.T) {
	srv := warehousetest.StartTLSServer(t)
	t.Run("contract", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) warehouse.Store {
			cfg := warehousetest.ClickHouse(t)
			cfg.DSN = "clickhouse://default@" + srv.TLSAddr + "/default?secure=true"
			cfg.CAFile = srv.CAFile
			return warehousetest.Open(t, cfg)
		})
	})
	_, tlsPort, err := net.SplitHostPort(srv.TLSAddr)
	require.NoError(t, err)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())
	cases := []struct {
		name, dsn string
		caFile    bool
		want      string
		// dial bounds the dial and the handshake (0: the default)
		dial time.Duration
	}{
		{"nothing listens", "clickhouse://default@" + closedAddr + "/default", false,
			"clickhouse: open " + closedAddr + ": nothing listens there: is the ClickHouse server running, and is this its native TCP port " +
				"(tcp_port, 9000 by default; 9440 with secure=true)? Check warehouse.dsn: dial tcp " + closedAddr + ": connect: connection refused", 0},
		{"the HTTP port", "clickhouse://default@" + srv.HTTPAddr + "/default", false,
			"the server did not answer the native protocol's handshake: is this ClickHouse's native TCP port (tcp_port, 9000 by default)? " +
				"Its HTTP port (8123 by default) does not speak it. Check warehouse.dsn: ",
			// the HTTP port waits for the rest of a request: the
			// handshake waits as long as the dial may take
			2 * time.Second},
		{"CA not trusted", "clickhouse://default@" + srv.TLSAddr + "/default?secure=true", false, "set warehouse.ca_file to the PEM of the CA", 0},
		{"TLS to the plain port", "clickhouse://default@" + srv.PlainAddr + "/default?secure=true", true, "the server answered without TLS: remove secure=true", 0},
		{"plain to the TLS port", "clickhouse://default@" + srv.TLSAddr + "/default", false, "add secure=true to the DSN", 0},
		{"wrong host name", "clickhouse://default@localhost:" + tlsPort + "/default?secure=true", true, "not for this host", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := warehouse.Config{Driver: "clickhouse", DSN: tc.dsn, Database: warehousetest.UniqueName(t), DialTimeout: tc.dial}
			if tc.caFile {
				cfg.CAFile = srv.CAFile
			}
			st, err := warehouse.Open(context.Background(), cfg)
			if err == nil {
				st.Close()
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// TestReadOnlyServerLayer runs statements with readonly=1 and the checks
// in Go switched off: what the server alone refuses. On 18.16 that is
// every write, setting, SYSTEM statement and table function (also under
// DESCRIBE, before connecting anywhere); the test server's configuration
// (deploy/clickhouse-test/config.xml) also gives it an empty
// user_files_path and no remote hosts, which newer servers apply. KILL
// QUERY and FORMAT get through the server; the checks in Go refuse them.
// The settings changed are ones whose value really changes: 18.16 lets a
// readonly query "set" a setting to the value it has (max_threads = 1 got
// through on a machine whose engine counted one physical core).
func TestReadOnlyServerLayer(t *testing.T) {
	st := warehousetest.Open(t, warehousetest.ClickHouse(t))
	ctx := context.Background()
	require.NoError(t, st.Exec(ctx, "CREATE TABLE r (a UInt8) ENGINE = Memory"))
	addr, connections := storetest.Listener(t)
	for _, q := range []string{
		"INSERT INTO r VALUES (1)", "DROP TABLE r", "SET max_result_rows = 17", "SELECT 1 SETTINGS max_result_rows = 17",
		"SYSTEM STOP MERGES",
		"SELECT * FROM url('http://" + addr + "/a', TSV, 'a String')",
		"DESCRIBE TABLE url('http://" + addr + "/b', TSV, 'a String')",
		"SELECT * FROM remote('" + addr + "', system.one)",
		"DESCRIBE TABLE remote('" + addr + "', system.one)",
		"SELECT * FROM file('/etc/hostname', TSV, 'a String')",
		"SELECT * FROM numbers(3)",
	} {
		_, err := clickhouse.QueryUnchecked(ctx, st, q)
		assert.Equal(t, warehouse.CodeReadOnly, warehouse.ErrorCode(err), "%s: %v", q, err)
		assert.ErrorIs(t, err, warehouse.ErrReadOnly, q)
	}
	assert.Zero(t, connections.Load(), "no connection reached the listener")
}

// TestSendLeavesPoolUsable sends many small batches from several goroutines,
// each followed at once by a query on the pooled connections. A batch's
// context is cancelled when Send returns; clickhouse-go before v2.51.0 could
// then still close the connection Send had put back in the pool, and the
// next statement on it failed with "use of closed network connection" (seen
// in CI as a failed CREATE TABLE during a sync).
func TestSendLeavesPoolUsable(t *testing.T) {
	st := warehousetest.Open(t, warehousetest.ClickHouse(t))
	ctx := context.Background()
	require.NoError(t, st.Exec(ctx, "CREATE TABLE s (a UInt32) ENGINE = Memory"))
	const workers, rounds = 4, 300
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				for i := range rounds {
					b, err := st.PrepareInsert(ctx, "s", []string{"a"})
					if err != nil {
						return err
					}
					if err := b.Append(uint32(w*rounds + i)); err != nil {
						return err
					}
					if err := b.Send(ctx); err != nil {
						return err
					}
					if err := st.Exec(ctx, "CREATE TABLE IF NOT EXISTS s (a UInt32) ENGINE = Memory"); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
	require.EqualValues(t, workers*rounds, warehousetest.QueryOne(t, st, "SELECT count() FROM s"))
}
