// Package clickhouse is the warehouse driver for a ClickHouse server or
// cluster. Import it for its side effect; it registers the driver
// "clickhouse":
//
//	import _ "github.com/ampel/ampel/warehouse/clickhouse"
//
//	st, err := warehouse.Open(ctx, warehouse.Config{
//		Driver: "clickhouse",
//		DSN:    "clickhouse://ampel:secret@ch.example.com:9440/ampel?secure=true",
//	})
//
// It speaks the native TCP protocol through github.com/ClickHouse/clickhouse-go/v2.
//
// # Old servers
//
// Ampel's tests run against Debian's clickhouse-server 18.16.1 (native
// protocol revision 54412). clickhouse-go v2 negotiates the protocol down to
// that revision and works for everything the landing layer needs: DDL,
// ReplacingMergeTree, views, ALTER … ADD COLUMN, batch inserts and reads of
// every type Ampel uses, FINAL. It logs one warning on the first connection
// ("unsupported clickhouse version"), which is harmless. What needs care:
//
//   - clickhouse-go's HTTP protocol does not work with 18.16 (it sends the
//     setting client_protocol_version, which 18.16 rejects), so this driver
//     is native only; a DSN with http:// or https:// is refused.
//   - Query arguments are never handed to clickhouse-go: statements are
//     bound with warehouse.Bind first, so no server-side parameters (absent
//     on 18.16) are used, and both warehouse drivers accept the same SQL.
//   - LowCardinality is experimental before 19.9; on such servers the driver
//     sets allow_experimental_low_cardinality_type=1 on every Exec that is
//     not read-only, so a column type LowCardinality(String) can be created.
//   - There is no Bool before 21.12; Dialect().Bool() says UInt8, and
//     warehouse.Coerce turns Go bools into 0/1 for UInt8 columns.
//
// # Configuration
//
// Everything comes from warehouse.Config: the DSN (user, password, host,
// port, and clickhouse-go's DSN options such as secure, skip_verify,
// dial_timeout, compress), CAFile (a PEM bundle to trust; setting it turns
// TLS on), Database (created when missing; it wins over the DSN's path,
// which is only the database the first connection uses), MaxConns (pool
// size), DialTimeout and QueryTimeout (applied when the caller's context has
// no deadline; default 30 minutes) and Logger.
//
// # Behaviour
//
// Server errors are *warehouse.Error with the server's code and message and
// the statement. A statement under a warehouse.ReadOnly context passes
// warehouse.CheckReadOnly, then on servers with EXPLAIN AST (20.6 and newer)
// warehouse.CheckExplainAST, and runs with the server setting readonly=1;
// what the server then refuses is an error that wraps warehouse.ErrReadOnly.
// On 18.16 readonly=1 also refuses every table function, before connecting
// anywhere. A server should have an empty user_files_path and an empty
// remote_url_allow_hosts (deploy/clickhouse-test/config.xml). With
// Config.MustExist, a missing database is an error wrapping
// warehouse.ErrNoWarehouse instead of being created. Batches are prepared with
// clickhouse-go's PrepareBatch and release their connection until Send, so a
// slow producer holds no server connection.
//
// # Cluster
//
// With Config.Cluster the driver works on a ClickHouse cluster through the
// node the DSN names first (clickhouse-go falls over to the next host in
// order; a DSN with another connection_open_strategy is refused, since a
// KPI run's snapshots live on one node and a process must read what it
// wrote before replication carries it on): Open checks the cluster in system.clusters (one line naming
// warehouse.cluster when it is unknown) and creates the database ON
// CLUSTER; every statement goes through warehouse.ClusterDDL, which sends
// DDL ON CLUSTER with qualified names and makes Ampel's tables replicated
// to every node; every write runs with insert_distributed_sync=1, so that
// an INSERT into a Distributed table (the landing tables,
// sql/landing/create_table.sql) returns once its rows are on their shards.
// README, "Running on a cluster", says what that needs and what it cannot
// do (DDL while a node is down).
package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// DriverName is the name the driver registers under.
const DriverName = "clickhouse"

// DefaultQueryTimeout bounds a statement whose context has no deadline when
// Config.QueryTimeout is zero.
const DefaultQueryTimeout = 30 * time.Minute

// DefaultDialTimeout bounds connecting when neither Config.DialTimeout nor
// the DSN's dial_timeout says otherwise.
const DefaultDialTimeout = 10 * time.Second

func init() {
	warehouse.Register(DriverName, Open)
}

// Store is a pool of connections to one database on a ClickHouse server.
type Store struct {
	conn         driver.Conn
	db           string
	dialect      warehouse.Dialect
	queryTimeout time.Duration
	closed       atomic.Bool
}

var _ warehouse.Store = (*Store)(nil)

// Open connects to the server cfg.DSN names, creates cfg.Database when it
// is missing and returns a Store working in it. Callers normally use
// warehouse.Open, which fills the defaults.
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Store, error) {
	if cfg.Database == "" {
		cfg.Database = warehouse.DefaultDatabase
	}
	if !warehouse.ValidIdentifier(cfg.Database) {
		return nil, fmt.Errorf("clickhouse: database name %q: use letters, digits and underscores only", cfg.Database)
	}
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Cluster != "" && opts.ConnOpenStrategy != ch.ConnOpenInOrder {
		// a KPI run's snapshots live on one node, and a process must read
		// what it wrote before replication carries it to the other nodes
		return nil, errors.New("clickhouse: warehouse.dsn: with warehouse.cluster Ampel talks to one node at a time: " +
			"remove connection_open_strategy from the DSN (the default, in_order, falls over to the next host)")
	}
	qt := cfg.QueryTimeout
	if qt <= 0 {
		qt = DefaultQueryTimeout
	}

	// First connect to the database the DSN names (or the server's
	// default) to create ours when it is missing.
	boot := *opts
	boot.MaxOpenConns, boot.MaxIdleConns = 1, 1
	bootConn, err := ch.Open(&boot)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	if cfg.Cluster != "" && !warehouse.ValidIdentifier(cfg.Cluster) {
		_ = bootConn.Close()
		return nil, fmt.Errorf("clickhouse: cluster name %q: use letters, digits and underscores only", cfg.Cluster)
	}
	s := &Store{conn: bootConn, db: cfg.Database, queryTimeout: qt}
	version, err := s.version(ctx)
	d := warehouse.Dialect{Driver: DriverName, Version: version, Cluster: cfg.Cluster, Database: cfg.Database}
	if err == nil && cfg.Cluster != "" {
		err = s.checkCluster(ctx, cfg.Cluster)
		var missing *noClusterError
		if errors.As(err, &missing) {
			_ = bootConn.Close()
			return nil, err
		}
	}
	if err == nil {
		err = s.createDatabase(ctx, !cfg.MustExist, d)
	}
	if errors.Is(err, warehouse.ErrNoWarehouse) {
		_ = bootConn.Close()
		return nil, fmt.Errorf("clickhouse: %w at %s (no database %s)", err, hostList(opts), cfg.Database)
	}
	_ = bootConn.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %s%w", hostList(opts), connectHint(err, opts.TLS != nil), connectCause(err))
	}
	s.dialect = d

	opts.Auth.Database = cfg.Database
	conn, err := ch.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	s.conn = conn
	return s, nil
}

func hostList(o *ch.Options) string { return strings.Join(o.Addr, ",") }

// options turns the config into clickhouse-go options.
func options(cfg warehouse.Config) (*ch.Options, error) {
	if cfg.DSN == "" {
		return nil, errors.New("clickhouse: no DSN (clickhouse://user:pass@host:9000/ampel)")
	}
	if !strings.HasPrefix(cfg.DSN, "clickhouse://") && !strings.HasPrefix(cfg.DSN, "tcp://") {
		return nil, fmt.Errorf("clickhouse: DSN must start with clickhouse:// (the native protocol); got %q", redact(cfg.DSN))
	}
	opts, err := ch.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: DSN %s: %w", redact(cfg.DSN), err)
	}
	if opts.Protocol != ch.Native {
		return nil, errors.New("clickhouse: only the native protocol is supported")
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		if opts.TLS == nil {
			opts.TLS = &tls.Config{}
		}
		opts.TLS.RootCAs = pool
	}
	if opts.TLS != nil && opts.TLS.MinVersion == 0 {
		opts.TLS.MinVersion = tls.VersionTLS12
	}
	switch {
	case cfg.DialTimeout > 0:
		opts.DialTimeout = cfg.DialTimeout
	case !strings.Contains(cfg.DSN, "dial_timeout="):
		opts.DialTimeout = DefaultDialTimeout
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = 8
	}
	opts.MaxOpenConns, opts.MaxIdleConns = maxConns, maxConns
	if cfg.Logger != nil {
		// clickhouse-go logs every server exception (which Ampel returns as
		// an error anyway) and an "unsupported version" warning for old
		// servers: useful when debugging, noise otherwise
		opts.Logger = slog.New(debugOnly{cfg.Logger.Handler()})
	}
	if opts.ClientInfo.Products == nil {
		opts.ClientInfo.Products = []struct{ Name, Version string }{{Name: "ampel", Version: "1"}}
	}
	return opts, nil
}

// redact hides the password in a DSN for error messages.
func redact(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return dsn[:scheme+3] + user + ":***" + dsn[at:]
	}
	return dsn
}

func (s *Store) version(ctx context.Context) (warehouse.Version, error) {
	rows, err := s.Query(ctx, "SELECT version()")
	if err != nil {
		return warehouse.Version{}, err
	}
	defer rows.Close()
	var v string
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return warehouse.Version{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return warehouse.Version{}, err
	}
	return warehouse.ParseVersion(v)
}

// createDatabase creates the store's database when it is missing
// (sql/warehouse/create_database.sql, for the server's dialect d), or
// returns ErrNoWarehouse when create is false.
func (s *Store) createDatabase(ctx context.Context, create bool, d warehouse.Dialect) error {
	rows, err := s.Query(ctx, "SELECT count() FROM system.databases WHERE name = ?", s.db)
	if err != nil {
		return err
	}
	var n uint64
	if rows.Next() {
		err = rows.Scan(&n)
	}
	rows.Close()
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if !create {
		return warehouse.ErrNoWarehouse
	}
	q, err := ampelsql.Render(ampelsql.Warehouse, "create_database.sql", map[string]any{"Database": s.db, "Dialect": d.TemplateData()})
	if err != nil {
		return err
	}
	return s.Exec(ctx, q)
}

// noClusterError says the configured cluster is not one of the server's.
type noClusterError struct {
	cluster string
	known   []string
}

func (e *noClusterError) Error() string {
	known := "none"
	if len(e.known) > 0 {
		known = strings.Join(e.known, ", ")
	}
	return fmt.Sprintf("warehouse.cluster: the server has no cluster %q in its remote_servers (it has: %s); "+
		"name one of those, or remove warehouse.cluster for one server", e.cluster, known)
}

// checkCluster makes sure the server knows the cluster name
// (system.clusters) before anything is sent ON CLUSTER to it: a DDL to an
// unknown cluster fails only after the server has parsed it, with a
// message that does not name the config key.
func (s *Store) checkCluster(ctx context.Context, name string) error {
	rows, err := s.Query(ctx, "SELECT DISTINCT cluster FROM system.clusters ORDER BY cluster")
	if err != nil {
		return err
	}
	defer rows.Close()
	var known []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return err
		}
		if c == name {
			return nil
		}
		known = append(known, c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return &noClusterError{cluster: name, known: known}
}

// Dialect reports the server's version.
func (s *Store) Dialect() warehouse.Dialect { return s.dialect }

// Close closes every connection of the pool.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return warehouse.ErrClosed
	}
	return s.conn.Close()
}

// queryContext applies the query timeout and the read-only setting. The
// returned cancel must be called when the statement is done.
func (s *Store) queryContext(ctx context.Context, exec bool) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, s.queryTimeout)
	}
	if set := s.settings(ctx, exec); len(set) > 0 {
		ctx = ch.Context(ctx, ch.WithSettings(set))
	}
	return ctx, cancel
}

// settings are the server settings a statement runs with: readonly=1 under
// warehouse.ReadOnly; before 19.9 LowCardinality for writing statements;
// on a cluster insert_distributed_sync=1 for every write, so that an
// INSERT into a Distributed table returns once its rows are on their
// shards (a sync's commit then means its rows are stored, as on one
// server), not once they are queued on the node Ampel talks to.
func (s *Store) settings(ctx context.Context, exec bool) ch.Settings {
	if warehouse.IsReadOnly(ctx) {
		return ch.Settings{"readonly": 1}
	}
	set := ch.Settings{}
	if exec && !s.dialect.Version.AtLeast(19, 9) && s.dialect.Version.Major != 0 {
		set["allow_experimental_low_cardinality_type"] = 1
	}
	if exec && s.dialect.Clustered() {
		set["insert_distributed_sync"] = 1
	}
	return set
}

// Exec runs one statement that returns no rows.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	if s.closed.Load() {
		return warehouse.ErrClosed
	}
	q, err := s.statement(query, args)
	if err != nil {
		return err
	}
	ctx, cancel := s.queryContext(ctx, true)
	defer cancel()
	if err := s.checkReadOnly(ctx, q); err != nil {
		return err
	}
	if err := s.conn.Exec(ctx, q); err != nil {
		return wrapErr(ctx, err, q)
	}
	return nil
}

// Query runs one statement and streams its rows.
func (s *Store) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	if s.closed.Load() {
		return nil, warehouse.ErrClosed
	}
	q, err := s.statement(query, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.queryContext(ctx, false)
	if err := s.checkReadOnly(ctx, q); err != nil {
		cancel()
		return nil, err
	}
	r, err := s.conn.Query(ctx, q)
	if err != nil {
		err = wrapErr(ctx, err, q) // before cancel, which would make every error look canceled
		cancel()
		return nil, err
	}
	return newRows(ctx, r, cancel, q), nil
}

// checkReadOnly runs the read-only checks on q when ctx is ReadOnly:
// warehouse.CheckReadOnly, and on servers with EXPLAIN AST the server's own
// parse through warehouse.CheckExplainAST. ctx carries readonly=1 already.
func (s *Store) checkReadOnly(ctx context.Context, q string) error {
	if !warehouse.IsReadOnly(ctx) {
		return nil
	}
	if err := warehouse.CheckReadOnly(q, s.db); err != nil {
		return err
	}
	if !s.dialect.ExplainAST() {
		return nil
	}
	const explain = "EXPLAIN AST "
	rows, err := s.conn.Query(ctx, explain+q)
	if err != nil {
		var exc *ch.Exception
		if errors.As(err, &exc) {
			exc.Message = warehouse.HidePrefix(exc.Message, explain)
		}
		return wrapErr(ctx, err, q)
	}
	defer rows.Close()
	var tree strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return wrapErr(ctx, err, q)
		}
		tree.WriteString(line)
		tree.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		return wrapErr(ctx, err, q)
	}
	return warehouse.CheckExplainAST(q, tree.String(), s.db)
}

// statement binds args into query, on servers before 21.9 rewrites
// INSERT … VALUES (see rewriteInsert), and on a cluster sends DDL there
// (warehouse.ClusterDDL).
func (s *Store) statement(query string, args []any) (string, error) {
	q, err := warehouse.Bind(query, args...)
	if err != nil {
		return "", err
	}
	if s.dialect.Version.Major != 0 && !s.dialect.ModernSQL() {
		if q, err = rewriteInsert(q); err != nil {
			return "", err
		}
	}
	return warehouse.ClusterDDL(q, s.dialect)
}

// wrapErr turns a server exception into *warehouse.Error and keeps context
// errors recognisable.
func wrapErr(ctx context.Context, err error, query string) error {
	var exc *ch.Exception
	if errors.As(err, &exc) {
		e := &warehouse.Error{
			Code:    int(exc.Code),
			Message: oneLine(exc.Message),
			Query:   warehouse.ShortQuery(query),
			Err:     err,
		}
		if e.Code == warehouse.CodeReadOnly {
			e.Err = fmt.Errorf("%w: %w", warehouse.ErrReadOnly, err)
		}
		return e
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("clickhouse: %w (%w), in: %s", ctxErr, err, warehouse.ShortQuery(query))
	}
	return fmt.Errorf("clickhouse: %w, in: %s", err, warehouse.ShortQuery(query))
}

// connectHint says what to fix when err is a failure to reach the server
// or a TLS mismatch between Ampel and the server, "" for other errors.
func connectHint(err error, useTLS bool) string {
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var plain tls.RecordHeaderError
	var dns *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: is the ClickHouse server running, and is this its native TCP port (tcp_port, 9000 by default; 9440 with secure=true)? Check warehouse.dsn: "
	case errors.As(err, &dns):
		return "the host name does not resolve: check warehouse.dsn: "
	case errors.As(err, &netErr) && netErr.Timeout() && strings.Contains(err.Error(), "handshake"):
		// ClickHouse's HTTP port reads the native hello as the start of
		// a request and waits for the rest
		return "the server did not answer the native protocol's handshake: is this ClickHouse's native TCP port (tcp_port, 9000 by default)? " +
			"Its HTTP port (8123 by default) does not speak it. Check warehouse.dsn: "
	case errors.As(err, &unknownCA):
		return "the server's TLS certificate is signed by an unknown authority: set warehouse.ca_file to the PEM of the CA that signed it: "
	case errors.As(err, &badHost):
		return "the server's TLS certificate is not for this host: connect by a name it lists, or fix the DSN's host: "
	case errors.As(err, &invalid):
		return "the server's TLS certificate is not valid (expired or not for servers): "
	case errors.As(err, &plain):
		return "the server answered without TLS: remove secure=true from the DSN, or use its secure port (tcp_port_secure, 9440 by default): "
	case !useTLS && errors.Is(err, syscall.ECONNRESET):
		return "the server dropped the connection at once; if this is its TLS port (tcp_port_secure, 9440 by default), add secure=true to the DSN: "
	}
	return ""
}

// connectCause is what of err a connection error shows after its hint:
// the network's own error (what failed, where and why: "dial tcp
// 127.0.0.1:1: connect: connection refused") without the driver's and the
// first query's wrapping, or err when it has none.
func connectCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

// debugOnly passes a driver's log records on at debug level.
type debugOnly struct{ h slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(attrs []slog.Attr) slog.Handler { return debugOnly{d.h.WithAttrs(attrs)} }
func (d debugOnly) WithGroup(name string) slog.Handler       { return debugOnly{d.h.WithGroup(name)} }
