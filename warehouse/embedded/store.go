//go:build cgo

package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// Defaults for the Config fields left zero.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultQueryTimeout = 10 * time.Minute
)

func init() { warehouse.Register("embedded", Open) }

// Store is a warehouse.Store on the in-process engine.
type Store struct {
	db       string
	dir      string // the data directory
	dialect  warehouse.Dialect
	qTimeout time.Duration
	args     []string // connect arguments, without readonly

	create bool // create the database when missing (not with Config.MustExist)

	sem    chan struct{} // one token per connection in use
	mu     sync.Mutex
	idle   []*conn // read-write connections, current database set
	idleRO []*conn // readonly=1 connections
	closed bool

	killMu sync.Mutex
	killer *conn // a connection for KILL QUERY, made on first need

	seq atomic.Uint64 // statement markers for KILL QUERY

	schemas schemas // column types for PrepareInsert
	// batchSizes holds the sizes of the buffers of the last batch of one
	// block sent per INSERT statement ([]int, nativeColumn.sizes), for
	// the next one's first buffers
	batchSizes sync.Map
}

var _ warehouse.Store = (*Store)(nil)

// Open opens the embedded warehouse; warehouse.Open calls it for driver
// "embedded". cfg.Path is the data directory (created if missing),
// cfg.Library the libchdb.so to load (DefaultLibrary when empty).
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("embedded warehouse: no data directory (Config.Path) given")
	}
	if cfg.Cluster != "" {
		return nil, errors.New("embedded warehouse: warehouse.cluster needs the clickhouse driver (a cluster of servers); remove it for the embedded warehouse")
	}
	if cfg.Database == "" {
		cfg.Database = warehouse.DefaultDatabase
	}
	if !warehouse.ValidIdentifier(cfg.Database) {
		return nil, fmt.Errorf("embedded warehouse: database name %q: use letters, digits and underscores only", cfg.Database)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	lib := cfg.Library
	if lib == "" {
		lib = DefaultLibrary()
	}
	if err := load(lib); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: %w", err)
	}
	if cfg.MustExist {
		// an Atomic database keeps its definition in metadata/<name>.sql;
		// checked before the engine starts, which would fill the directory
		if _, err := os.Stat(filepath.Join(dir, "metadata", cfg.Database+".sql")); err != nil {
			return nil, fmt.Errorf("embedded warehouse: %w at %s (no database %s)", warehouse.ErrNoWarehouse, dir, cfg.Database)
		}
	}
	if err := acquireEngine(ctx, dir, cfg.DialTimeout); err != nil {
		return nil, err
	}
	s := &Store{
		db:       cfg.Database,
		dir:      dir,
		qTimeout: cfg.QueryTimeout,
		// the engine logs to a terminal otherwise; errors reach us as results
		args:   []string{"clickhouse", "--path=" + dir, "--config-file=" + filepath.Join(dir, engineConfigFile), "--log-level=none"},
		create: !cfg.MustExist,
		sem:    make(chan struct{}, cfg.MaxConns),
	}
	c, err := s.dial(false)
	if err != nil {
		releaseEngine()
		if warehouse.ErrorCode(err) == warehouse.CodeUnknownDatabase {
			return nil, fmt.Errorf("embedded warehouse: %w at %s (no database %s)", warehouse.ErrNoWarehouse, dir, cfg.Database)
		}
		return nil, err
	}
	if _, err := s.run(ctx, c, "SELECT version()", "TabSeparated", func(b []byte) error {
		v, err := warehouse.ParseVersion(string(b))
		s.dialect = warehouse.Dialect{Driver: "embedded", Version: v}
		return err
	}); err != nil {
		c.close()
		releaseEngine()
		return nil, err
	}
	s.idle = append(s.idle, c)
	if cfg.Logger != nil {
		cfg.Logger.Debug("embedded warehouse open", "path", dir, "database", s.db, "version", s.dialect.Version.String(), "library", lib)
	}
	return s, nil
}

// dial opens a connection whose current database is the store's, creating
// the database if needed.
func (s *Store) dial(readonly bool) (*conn, error) {
	args := s.args
	if readonly {
		args = append(args[:len(args):len(args)], "--readonly=1")
	}
	c, _, err := connect(args)
	if err != nil {
		return nil, fmt.Errorf("embedded warehouse: connect to the engine on %s: %w", strings.TrimPrefix(s.args[1], "--path="), err)
	}
	if !readonly && s.create {
		q, err := createDatabase(s.db)
		if err == nil {
			err = s.simple(c, q)
		}
		if err != nil {
			c.close()
			return nil, err
		}
	}
	if err := s.simple(c, "USE "+warehouse.QuoteIdentifier(s.db)); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// createDatabase is the statement that creates the database db
// (sql/warehouse/create_database.sql). It runs on a store's first
// connection, before the engine is asked its version, so the template
// sees the dialect of the engine this driver is built for.
func createDatabase(db string) (string, error) {
	v, err := warehouse.ParseVersion(EngineVersion)
	if err != nil {
		return "", err
	}
	d := warehouse.Dialect{Driver: "embedded", Version: v}
	return ampelsql.Render(ampelsql.Warehouse, "create_database.sql", map[string]any{"Database": db, "Dialect": d.TemplateData()})
}

// simple runs a statement without output, context or markers.
func (s *Store) simple(c *conn, q string) error {
	r := c.query(q, "Null")
	defer r.free()
	if e := r.error(); e != "" {
		return engineError(e, q, nil)
	}
	return nil
}

// acquire takes a connection from the pool, waiting for one while MaxConns
// are in use.
func (s *Store) acquire(ctx context.Context, readonly bool) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sem
		return nil, warehouse.ErrClosed
	}
	idle := &s.idle
	if readonly {
		idle = &s.idleRO
	}
	if n := len(*idle); n > 0 {
		c := (*idle)[n-1]
		*idle = (*idle)[:n-1]
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	c, err := s.dial(readonly)
	if err != nil {
		<-s.sem
		return nil, err
	}
	return c, nil
}

// release returns a connection to the pool; a broken one is closed.
func (s *Store) release(c *conn, readonly, broken bool) {
	s.mu.Lock()
	if broken || s.closed {
		s.mu.Unlock()
		c.close()
	} else {
		if readonly {
			s.idleRO = append(s.idleRO, c)
		} else {
			s.idle = append(s.idle, c)
		}
		s.mu.Unlock()
	}
	<-s.sem
}

// marker returns a comment that makes a statement findable in
// system.processes, for KILL QUERY.
func (s *Store) marker() string {
	return fmt.Sprintf("/* ampel-embedded %p-%d */ ", s, s.seq.Add(1))
}

// watch kills the statement carrying mark when ctx ends before stop is
// called. libchdb offers no cancel for a blocking call, so a second
// connection runs KILL QUERY; it repeats until the statement is gone,
// in case the kill came before the engine listed it.
// stop reports whether a kill was sent: the connection is then not reused.
func (s *Store) watch(ctx context.Context, mark string) (stop func() (killed bool)) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var killed bool
	go func() {
		defer close(finished)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		killed = true
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			s.kill(mark)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() bool {
		close(done)
		<-finished
		return killed
	}
}

func (s *Store) kill(mark string) {
	s.killMu.Lock()
	defer s.killMu.Unlock()
	if s.killer == nil {
		c, _, err := connect(s.args)
		if err != nil {
			return
		}
		s.killer = c
	}
	id := strings.TrimSuffix(strings.TrimPrefix(mark, "/* "), " */ ")
	q := "KILL QUERY WHERE position(query, " + quote(id) + ") > 0 AND NOT startsWith(query, 'KILL') ASYNC"
	r := s.killer.query(q, "Null")
	r.free()
}

func quote(s string) string {
	lit, _ := warehouse.Literal(s)
	return lit
}

// timeout gives ctx the store's QueryTimeout when it has no deadline.
func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.qTimeout)
}

// run executes q on c to completion and hands its output to out. broken
// says the statement was killed, so c should not be reused.
func (s *Store) run(ctx context.Context, c *conn, q, format string, out func([]byte) error) (broken bool, err error) {
	return s.runPrefixed(ctx, c, "", q, format, out)
}

// runPrefixed runs prefix+q like run; its errors name q, and positions in
// them count from the start of q.
func (s *Store) runPrefixed(ctx context.Context, c *conn, prefix, q, format string, out func([]byte) error) (broken bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	mark := s.marker()
	stop := s.watch(ctx, mark)
	r := c.query(mark+prefix+q, format)
	broken = stop()
	defer r.free()
	if e := r.error(); e != "" {
		return broken, s.failure(ctx, e, q, mark+prefix)
	}
	if out != nil {
		return broken, out(r.bytes())
	}
	return broken, nil
}

// failure turns an engine error into the error callers see: the
// context's error when the statement was killed for it. hidden is what the
// driver put before q (the marker): it is taken out of the message and
// from its positions, so that they point into q.
func (s *Store) failure(ctx context.Context, msg, q, hidden string) error {
	err := engineError(warehouse.HidePrefix(msg, hidden), q, nil)
	if ctx.Err() != nil && warehouse.ErrorCode(err) == codeQueryWasCancelled {
		return &warehouse.Error{Code: codeQueryWasCancelled, Message: "statement cancelled: " + ctx.Err().Error(), Query: warehouse.ShortQuery(q), Err: context.Cause(ctx)}
	}
	return err
}

const codeQueryWasCancelled = 394

// Exec runs one statement that returns no rows.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	q, err := warehouse.Bind(query, args...)
	if err != nil {
		return err
	}
	ro := warehouse.IsReadOnly(ctx)
	if ro {
		if err := warehouse.CheckReadOnly(q, s.db); err != nil {
			return err
		}
	}
	if !ro {
		leave, err := enterWrite(ctx)
		if err != nil {
			return err
		}
		defer leave()
	}
	c, err := s.acquire(ctx, ro)
	if err != nil {
		return err
	}
	broken := false
	if ro {
		broken, err = s.checkAST(ctx, c, q)
	}
	if err == nil {
		broken, err = s.run(ctx, c, q, "Null", nil)
	}
	s.release(c, ro, broken)
	s.schemas.forget() // DDL goes through Exec
	return err
}

// Dialect reports the engine's version.
func (s *Store) Dialect() warehouse.Dialect { return s.dialect }

// Close closes the store's connections. The engine itself stays up for
// the process (see the package comment).
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := append(s.idle, s.idleRO...)
	s.idle, s.idleRO = nil, nil
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.killMu.Lock()
	if s.killer != nil {
		s.killer.close()
		s.killer = nil
	}
	s.killMu.Unlock()
	releaseEngine()
	return nil
}

// checkAST runs the second read-only check: the engine's own parse of q
// (EXPLAIN AST) through warehouse.CheckExplainAST.
func (s *Store) checkAST(ctx context.Context, c *conn, q string) (broken bool, err error) {
	tree, broken, err := s.explainAST(ctx, c, q)
	if err != nil {
		return broken, err
	}
	return broken, warehouse.CheckExplainAST(q, tree, s.db)
}

// explainAST returns the engine's EXPLAIN AST output for q.
func (s *Store) explainAST(ctx context.Context, c *conn, q string) (tree string, broken bool, err error) {
	broken, err = s.runPrefixed(ctx, c, "EXPLAIN AST ", q, "TSVRaw", func(b []byte) error {
		tree = string(b)
		return nil
	})
	return tree, broken, err
}

var codeRE = regexp.MustCompile(`^Code: (\d+)\. (?:DB::Exception: )?`)
var versionRE = regexp.MustCompile(` \(version [0-9.]+[^)]*\)\.?`)

// engineError parses libchdb's error text ("Code: 60. DB::Exception: …
// (UNKNOWN_TABLE)") into a *warehouse.Error.
func engineError(msg, q string, cause error) error {
	msg = strings.Join(strings.Fields(msg), " ")
	code := 0
	for {
		m := codeRE.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		if code == 0 {
			code, _ = strconv.Atoi(m[1])
		}
		msg = msg[len(m[0]):]
	}
	msg = versionRE.ReplaceAllString(msg, "")
	if cause == nil && code == warehouse.CodeReadOnly {
		cause = warehouse.ErrReadOnly
	}
	return &warehouse.Error{Code: code, Message: msg, Query: warehouse.ShortQuery(q), Err: cause}
}
