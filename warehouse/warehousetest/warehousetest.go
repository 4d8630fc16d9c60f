package warehousetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ampel/ampel/warehouse"
	_ "github.com/ampel/ampel/warehouse/clickhouse" // registers "clickhouse"
)

// Environment variables the helpers read. Only tests read the environment.
const (
	// EnvClickHouseDSN names a running server to use instead of starting one.
	EnvClickHouseDSN = "AMPEL_TEST_CLICKHOUSE_DSN"
	// EnvLibCHDB names the libchdb.so the embedded engine loads.
	EnvLibCHDB = "AMPEL_LIBCHDB"
)

// LibrarySetupCommand is the command that installs libchdb.
const LibrarySetupCommand = "make libchdb"

var (
	mu          sync.Mutex
	srv         *server // started by this binary, stopped by Main
	srvDSN      string
	srvErr      error
	srvTried    bool
	embeddedDir string
	counter     atomic.Int64
)

// Main runs the tests and then stops the server this binary started and
// removes the embedded engine's data directory. Use it as TestMain:
//
//	func TestMain(m *testing.M) { warehousetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if err := stopAll(); err != nil {
		fmt.Fprintln(os.Stderr, "warehousetest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func stopAll() error {
	mu.Lock()
	defer mu.Unlock()
	var errs []error
	if srv != nil {
		if err := srv.stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop clickhouse-server: %w", err))
		}
		srv = nil
	}
	if embeddedDir != "" {
		if err := os.RemoveAll(embeddedDir); err != nil {
			errs = append(errs, err)
		}
		embeddedDir = ""
	}
	return errors.Join(errs...)
}

// ServerDSN returns the DSN of the test server: AMPEL_TEST_CLICKHOUSE_DSN
// when set, or else a clickhouse-server this binary starts on first use
// (Main stops it). It fails tb when there is neither.
func ServerDSN(tb testing.TB) string {
	tb.Helper()
	if dsn := os.Getenv(EnvClickHouseDSN); dsn != "" {
		return dsn
	}
	mu.Lock()
	defer mu.Unlock()
	if !srvTried {
		srvTried = true
		start := time.Now()
		srv, srvErr = startServer()
		if srvErr == nil {
			srvDSN = srv.dsn()
			tb.Logf("warehousetest: started clickhouse-server at %s in %s", srvDSN, time.Since(start).Round(time.Millisecond))
		}
	}
	if srvErr != nil {
		tb.Fatalf("warehousetest: no ClickHouse server for tests: %v", srvErr)
	}
	return srvDSN
}

// ClickHouse returns the config of a fresh, uniquely named database on the
// test server (see ServerDSN). The database is created when a store opens
// it; Open drops it at cleanup.
func ClickHouse(tb testing.TB) warehouse.Config {
	tb.Helper()
	return warehouse.Config{
		Driver:   "clickhouse",
		DSN:      ServerDSN(tb),
		Database: UniqueName(tb),
		MaxConns: 8,
	}
}

// Embedded returns the config of a fresh, uniquely named database in this
// process's embedded engine. The engine takes one data path per process,
// so every call in a test binary shares one directory (removed by Main)
// and the databases tell the tests apart. The library is AMPEL_LIBCHDB, or
// else the default the embedded driver searches; when it is missing tb
// fails with a line naming the set-up command.
func Embedded(tb testing.TB) warehouse.Config {
	tb.Helper()
	lib, err := embeddedLibrary()
	if err != nil {
		tb.Fatalf("warehousetest: no embedded engine for tests: %v", err)
	}
	mu.Lock()
	if embeddedDir == "" {
		embeddedDir, err = os.MkdirTemp("", "ampel-chdb-")
	}
	dir := embeddedDir
	mu.Unlock()
	if err != nil {
		tb.Fatalf("warehousetest: embedded data directory: %v", err)
	}
	return warehouse.Config{
		Driver:   "embedded",
		Path:     dir,
		Library:  lib,
		Database: UniqueName(tb),
	}
}

// All returns the config of a fresh database for every driver: the
// ClickHouse server first, then the embedded engine.
func All(tb testing.TB) []warehouse.Config {
	tb.Helper()
	return []warehouse.Config{ClickHouse(tb), Embedded(tb)}
}

// UniqueName returns a database name unique to this process and call,
// readable from the test's name: t_<test>_<pid>_<n>.
func UniqueName(tb testing.TB) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(tb.Name()) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	fmt.Fprintf(&b, "_%d_%d", os.Getpid(), counter.Add(1))
	return b.String()
}

// Open opens a store for cfg and registers a cleanup that drops its
// database and closes it. It fails tb when the store does not open.
func Open(tb testing.TB, cfg warehouse.Config) warehouse.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := warehouse.Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("warehousetest: open %s store: %v", cfg.Driver, err)
	}
	tb.Cleanup(func() { drop(tb, st, cfg) })
	return st
}

// drop removes the test's database, reopening a store when the test closed
// its own, and closes the store.
func drop(tb testing.TB, st warehouse.Store, cfg warehouse.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := "DROP DATABASE IF EXISTS " + warehouse.QuoteIdentifier(cfg.Database)
	err := st.Exec(ctx, q)
	if errors.Is(err, warehouse.ErrClosed) {
		if st2, err2 := warehouse.Open(ctx, cfg); err2 == nil {
			err = st2.Exec(ctx, q)
			_ = st2.Close()
		} else {
			err = err2
		}
	}
	if err != nil {
		tb.Errorf("warehousetest: drop database %s: %v", cfg.Database, err)
	}
	if err := st.Close(); err != nil && !errors.Is(err, warehouse.ErrClosed) {
		tb.Errorf("warehousetest: close %s store: %v", cfg.Driver, err)
	}
}
