// Package warehouse is Ampel's one way into ClickHouse.
//
// A Store runs DDL, writes batches with named columns, and streams query
// results. Two drivers implement it and register themselves here:
// warehouse/clickhouse talks to a ClickHouse server over the native protocol,
// warehouse/embedded runs the ClickHouse engine in-process (libchdb). Callers
// pick one with Config.Driver and never see the difference: both accept the
// same Go values on insert, return the same Go values on read (see Value
// types below), report server errors as *Error, and pass the conformance
// suite in warehouse/storetest.
//
// This package is the driver contract (Store, Batch, Rows, Dialect,
// Config, errors, value types, Bind, SplitStatements, the catalog read,
// the settings of a batch's INSERT: WithInsertSettings)
// and imports nothing of Ampel. What Ampel keeps in the warehouse is
// elsewhere: the landing layer in warehouse/landing, the migrations in
// warehouse/migrate, the SQL text in sql/.
//
// Value types. Append accepts, and Rows.Values returns, these Go values:
//
//	String, FixedString, Enum   string (Append also takes []byte)
//	Int8 … Int64                int64 (Append takes any Go integer that fits)
//	UInt8 … UInt64              uint64 (likewise)
//	Float32, Float64            float64
//	Bool                        bool (on servers without Bool the column is UInt8; see Dialect.Bool)
//	UUID                        uuid.UUID (Append also takes [16]byte and the text form)
//	Date, DateTime              time.Time in UTC (Append takes any time.Time)
//	Decimal(P,S)                decimal.Decimal (Append also takes its text form and integers)
//	Nullable(T)                 nil or the value for T
//	Array(T)                    []any of the values for T ([]string for Array(String));
//	                            Append takes []T for the types above, or []any
//	LowCardinality(T)           the value for T
//
// Rows.Scan copies into pointers of the usual Go types; see Scan.
//
// # Read-only statements
//
// Every read path Ampel opens to users (ampel sql; the OData feed, the
// cockpit and the local query endpoint when they come) runs its statements
// under a context marked with ReadOnly, and such a statement reads the
// store's database and nothing else: no files, no network, no settings, no
// system statements, no other database (not system, not
// information_schema). The engines' readonly=1 setting is not enough for
// that: on the embedded engine SELECT … INTO OUTFILE wrote files, file()
// read any path (/proc/self/environ with the client secret), DESCRIBE
// TABLE url(…) connected out, SYSTEM STOP MERGES and KILL QUERY ran. So
// there are three layers, and a statement runs only when all let it:
//
//  1. CheckReadOnly, in Go, before anything reaches the engine. A tokenizer
//     that follows ClickHouse's lexer (strings with escapes, quoted names,
//     comments, heredocs, numbers; anything two engines would read
//     differently is refused) feeds a checker that allows one statement
//     (a trailing ; is fine) of these kinds: SELECT, WITH … SELECT,
//     (SELECT …) with UNION, DESCRIBE [TABLE] name, SHOW TABLES [FROM db]
//     [LIKE 'p'] [LIMIT n], SHOW CREATE [TABLE] name, EXISTS [TABLE] name.
//     In a SELECT it refuses INTO OUTFILE, SETTINGS and FORMAT clauses,
//     EXPLAIN, APPLY and PARALLEL WITH; every table function (FROM
//     numbers(…) too); every function not on the engines' function list
//     (functions.txt, taken from system.functions of both engines) or on
//     the deny-list in readonly_functions.go (files, the network,
//     dictionaries and other tables, the server's settings, users and
//     host, sleeping, introspection); names in the system databases; and
//     tables of any database but the store's.
//  2. CheckExplainAST, on the engine's own parse (EXPLAIN AST, on engines
//     that have it: the embedded engine and servers from 20.6): only the
//     node types of plain reads, no Function under a TableExpression, the
//     same function policy, only the store's database. The 18.16 server
//     has no EXPLAIN; there the first check and readonly=1 hold.
//  3. The engine's settings, per driver: readonly=1 on every read-only
//     statement; the embedded engine runs as a user without file, network,
//     SYSTEM, introspection or dictionary privileges, with a private,
//     empty user_files directory (see warehouse/embedded); a server should
//     be configured with an empty user_files_path and remote_url_allow_hosts
//     (deploy/clickhouse-test/config.xml does so for the tests).
//
// A refused statement is a *RefusedError (layers 1 and 2) or a *Error
// (layer 3), both wrapping ErrReadOnly, on one line. The conformance suite
// (warehouse/storetest, readonly.go) holds the table of hostile statements
// both drivers must refuse, with checks that none had an effect, and the
// reads that must keep working; each new bypass goes into that table.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is a connection to one ClickHouse database, safe for concurrent use.
type Store interface {
	// Exec runs one statement that returns no rows: DDL, ALTER, OPTIMIZE,
	// INSERT … SELECT. Args fill ? placeholders; see Bind.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs one statement and streams its rows. Args fill ?
	// placeholders; see Bind. The caller must Close the Rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// PrepareInsert starts a batch that Send writes to table as one INSERT
	// naming columns, run with the settings of InsertSettings(ctx). The
	// table must exist.
	PrepareInsert(ctx context.Context, table string, columns []string) (Batch, error)
	// Dialect reports the engine version and the SQL forms it allows.
	Dialect() Dialect
	// Close releases the store; calls after Close fail with ErrClosed.
	Close() error
}

// Batch collects rows for one INSERT. It is not safe for concurrent use.
type Batch interface {
	// Append adds one row; values follow the columns given to PrepareInsert
	// and are checked against the column types at once. Append keeps no
	// reference into the values: the memory behind them (a string's bytes)
	// may be reused as soon as it returns.
	Append(values ...any) error
	// Rows is how many rows were appended so far.
	Rows() int
	// Bytes is about how many bytes the appended rows take in the batch
	// (the embedded engine's Native columns; the server's driver columns,
	// estimated from the values): cheap, for bounding a batch's memory.
	Bytes() int
	// Send writes every appended row as one INSERT and releases the batch.
	Send(ctx context.Context) error
	// Abort drops the batch without writing. It is safe after Send.
	Abort() error
}

// Rows streams the result of a query. It is not safe for concurrent use.
type Rows interface {
	// Columns names the result columns and their ClickHouse types.
	Columns() []Column
	// Next advances to the next row; it returns false at the end or on error.
	Next() bool
	// Values returns the current row as Go values (see the package comment).
	// The slice is reused by the next call to Next.
	Values() []any
	// Scan copies the current row into dest; see Scan.
	Scan(dest ...any) error
	// Err reports the error that stopped Next, if any.
	Err() error
	// Close ends the query; it is safe to call more than once.
	Close() error
}

// Column is one column of a table or result: its name and ClickHouse type.
type Column struct {
	Name string
	Type string
}

// Config says which driver to open and how. Only cmd fills it, from the
// config file; drivers read nothing else (no environment, no files but the
// ones named here).
type Config struct {
	// Driver is "clickhouse" or "embedded".
	Driver string
	// DSN locates the server for the clickhouse driver:
	// clickhouse://user:pass@host:9000/ampel?secure=true&dial_timeout=5s.
	DSN string
	// CAFile is a PEM bundle to trust for TLS (clickhouse driver).
	CAFile string
	// Path is the data directory of the embedded engine.
	Path string
	// Library is the path of libchdb.so (embedded driver); empty searches
	// the default places (see warehouse/embedded).
	Library string
	// Database is the database the store works in; it is created if missing.
	// Default "ampel".
	Database string
	// Cluster names a cluster of the server's remote_servers (clickhouse
	// driver only; the embedded driver refuses it). With it the driver
	// checks that the cluster exists, creates the database ON CLUSTER, and
	// its Dialect carries the name, so that every template sends its DDL
	// ON CLUSTER and makes replicated and Distributed tables (see
	// Dialect.Cluster). Empty: one server, as before.
	Cluster string
	// MustExist makes Open fail with an error wrapping ErrNoWarehouse when
	// the warehouse is not there (no such data directory or database)
	// instead of creating it: for commands that only read.
	MustExist bool
	// MaxConns caps open connections (clickhouse) or engine sessions
	// (embedded). Default 8.
	MaxConns int
	// DialTimeout bounds connecting; QueryTimeout bounds each statement when
	// the caller's context has no deadline. Zero means the driver default.
	DialTimeout  time.Duration
	QueryTimeout time.Duration
	// Logger receives driver logs; nil discards them.
	Logger *slog.Logger
}

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "ampel"

// Opener opens a store for one driver.
type Opener func(ctx context.Context, cfg Config) (Store, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Opener{}
)

// Register makes a driver available to Open under name. It panics when
// called twice for one name or with a nil opener; drivers call it in init.
func Register(name string, open Opener) {
	driversMu.Lock()
	defer driversMu.Unlock()
	if open == nil {
		panic("warehouse: Register opener is nil")
	}
	if _, dup := drivers[name]; dup {
		panic("warehouse: Register called twice for driver " + name)
	}
	drivers[name] = open
}

// Drivers lists the registered driver names, sorted.
func Drivers() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	names := make([]string, 0, len(drivers))
	for name := range drivers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Open opens a store with the driver cfg names.
func Open(ctx context.Context, cfg Config) (Store, error) {
	driversMu.RLock()
	open, ok := drivers[cfg.Driver]
	driversMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown warehouse driver %q (known: %s)", cfg.Driver, strings.Join(Drivers(), ", "))
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if !ValidIdentifier(cfg.Database) {
		return nil, fmt.Errorf("warehouse database name %q: use letters, digits and underscores only", cfg.Database)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return open(ctx, cfg)
}

// Sentinel errors every driver returns for the same conditions.
var (
	// ErrClosed is returned by calls on a closed Store, Batch or Rows.
	ErrClosed = errors.New("warehouse: store is closed")
	// ErrReadOnly is returned when a statement run under ReadOnly would
	// change something or read past the warehouse's tables; see
	// RefusedError.
	ErrReadOnly = errors.New("warehouse: statement is not read-only")
	// ErrNoWarehouse is returned by Open with Config.MustExist when the
	// warehouse does not exist.
	ErrNoWarehouse = errors.New("no warehouse")
)

// Error is a failure the ClickHouse engine reported, with the statement
// that caused it.
type Error struct {
	// Code is ClickHouse's error code (e.g. 60 for UNKNOWN_TABLE), 0 if unknown.
	Code int
	// Message is the engine's message, on one line.
	Message string
	// Query is the statement, shortened to one line.
	Query string
	// Err is the driver's own error, if any.
	Err error
}

func (e *Error) Error() string {
	code := ""
	if e.Code != 0 {
		code = fmt.Sprintf(" (code %d)", e.Code)
	}
	return fmt.Sprintf("clickhouse: %s%s, in: %s", e.Message, code, e.Query)
}

// Unwrap returns the driver's error so errors.Is and errors.As see it.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the ClickHouse error code inside err, or 0.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// Some ClickHouse error codes callers branch on.
const (
	CodeUnknownTable       = 60
	CodeUnknownDatabase    = 81
	CodeTableAlreadyExists = 57
	CodeReadOnly           = 164
)

// ShortQuery folds a statement onto one line and cuts it to about 300
// bytes, for error messages and logs.
func ShortQuery(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	const max = 300
	if len(q) > max {
		cut := max
		for cut > 0 && q[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		q = q[:cut] + "…"
	}
	return q
}

var positionRE = regexp.MustCompile(`(at position )(\d+)`)

// HidePrefix removes prefix, text a driver sent before the caller's
// statement (a marker comment, EXPLAIN AST), from an engine's error
// message, and its length from the positions of syntax errors ("failed
// at position N"), so that they count from the start of the statement.
func HidePrefix(msg, prefix string) string {
	if prefix == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, prefix, "")
	return positionRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := positionRE.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		if n > len(prefix) {
			n -= len(prefix)
		}
		return sub[1] + strconv.Itoa(n)
	})
}

type readOnlyKey struct{}

// ReadOnly marks ctx so that Query and Exec run only statements that read
// the store's database: a statement that would change data, settings or
// schema, or read files, the network, the engine's system tables or other
// databases, is refused with an error wrapping ErrReadOnly. Every read
// path Ampel opens to users runs under it. See the package comment
// ("Read-only statements") for the checks behind it.
func ReadOnly(ctx context.Context) context.Context {
	return context.WithValue(ctx, readOnlyKey{}, true)
}

// IsReadOnly reports whether ctx was marked with ReadOnly.
func IsReadOnly(ctx context.Context) bool {
	v, _ := ctx.Value(readOnlyKey{}).(bool)
	return v
}

// ValidIdentifier reports whether s can be used unquoted as a database,
// table or column name: a letter or underscore, then letters, digits or
// underscores.
func ValidIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// QuoteIdentifier quotes a name for ClickHouse with backticks.
func QuoteIdentifier(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}
