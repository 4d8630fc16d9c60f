// Package warehousetest gives tests a real warehouse: a ClickHouse server
// (Debian's clickhouse-server, started on a free loopback port) and the
// embedded engine (libchdb). Nothing here is a fake.
//
//	func TestMain(m *testing.M) { warehousetest.Main(m) } // stops what tests started
//
//	cfg := warehousetest.ClickHouse(t) // a fresh database on the test server
//	cfg := warehousetest.Embedded(t)   // a fresh database in this process's engine
//	for _, cfg := range warehousetest.All(t) { … } // both
//
// The server is the one AMPEL_TEST_CLICKHOUSE_DSN names (make test starts
// one), or else one this test binary starts itself and stops in Main; the
// engine is the libchdb that AMPEL_LIBCHDB names, or else the one
// deploy/install-libchdb.sh installed. When either is missing, tests fail
// with a line naming the set-up command: they never skip.
package warehousetest
