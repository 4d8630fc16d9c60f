package clickhouse_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
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
// and the server can disagree about TLS gives an error that says what to
// change.
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
	cases := []struct {
		name, dsn string
		caFile    bool
		want      string
	}{
		{"CA not trusted", "clickhouse://default@" + srv.TLSAddr + "/default?secure=true", false, "set warehouse.ca_file to the PEM of the CA"},
		{"TLS to the plain port", "clickhouse://default@" + srv.PlainAddr + "/default?secure=true", true, "the server answered without TLS: remove secure=true"},
		{"plain to the TLS port", "clickhouse://default@" + srv.TLSAddr + "/default", false, "add secure=true to the DSN"},
		{"wrong host name", "clickhouse://default@localhost:" + tlsPort + "/default?secure=true", true, "not for this host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := warehouse.Config{Driver: "clickhouse", DSN: tc.dsn, Database: warehousetest.UniqueName(t)}
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
