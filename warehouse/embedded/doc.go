// Package embedded is the warehouse driver that runs the ClickHouse engine
// inside the Ampel process, through libchdb (chDB 26.7.3). It registers as
// driver "embedded":
//
//	st, err := warehouse.Open(ctx, warehouse.Config{Driver: "embedded", Path: "/var/lib/ampel/warehouse"})
//
// Config.Path is the data directory (created if missing, unless
// Config.MustExist); it survives restarts. Config.Library is libchdb.so; when empty it is DefaultLibrary,
// where deploy/install-libchdb.sh (make libchdb) installs it. The driver
// reads no environment variables.
//
// # Loading
//
// libchdb is opened at run time with dlopen and its functions are called
// through function pointers from small C trampolines (lib.go), so go build
// and go vet work on machines without the library, and the binary does not
// need it unless the embedded driver is used. A missing library is one
// error line naming the set-up command. The library is loaded once per
// process and never closed.
//
// The driver needs cgo for those trampolines: every file but this one,
// library.go and nocgo.go is built only with cgo. A binary built without
// it (CGO_ENABLED=0: a static binary, make build-server) registers
// "embedded" as a driver whose Open fails with ErrNoCgo, one line that
// says to use the clickhouse driver or build with cgo.
//
// # Signals
//
// ClickHouse installs its own signal handlers, which break the Go runtime.
// Before any engine code runs, the driver saves every signal disposition;
// after loading it calls chdb_set_signal_handlers_enabled(0) (when the
// library has it), and after loading and after each connect it puts back
// any disposition that changed. The engine's threads therefore run under Go's
// handlers, as cgo threads do.
//
// # One engine per process
//
// libchdb runs one engine per process, bound to one data directory for the
// life of the process: a connect to another directory fails, and one after
// every connection to the first was closed was seen to hang. So the first
// Open binds the process to its Path; more stores on the same Path (any
// Database) share the engine, and Open on another Path is an error. Close
// closes the store's connections but leaves the engine up (26.7.3 cannot be
// shut down cleanly with MergeTree tables, so chdb_shutdown is never
// called); the process exit reaps it.
//
// Another process on the same directory is kept out by an flock on
// Path/ampel.lock, which holds the owner's pid. Open waits up to
// DialTimeout (10 s by default) for the lock, then fails naming the
// directory and that pid. The lock is held until the process exits, since
// the engine may still be merging parts in the directory after Close.
//
// # Concurrency
//
// A libchdb connection runs one statement at a time, but several
// connections to the engine run statements in parallel (measured: two
// 1-second sleeps on two connections take 1 s). Each Store keeps a pool of
// up to MaxConns connections; a statement holds one from start to end (for
// Query, until Rows.Close; for a batch, during Send). Each connection's
// current database is Config.Database (created on Open), so unqualified
// names work. Connections for ReadOnly contexts are a separate pool opened
// with the engine's readonly=1 setting.
//
// # Read-only statements
//
// A statement under a warehouse.ReadOnly context passes
// warehouse.CheckReadOnly, then warehouse.CheckExplainAST on the engine's
// EXPLAIN AST of it, then runs on a readonly=1 connection (see the
// warehouse package comment). The engine itself is set up so that it
// cannot reach past the warehouse even for a statement the checks missed:
// every connection passes --config-file=Path/ampel-engine.xml, which the
// driver writes at each start together with Path/ampel-users.xml:
//
//   - the engine's user has only SHOW, SELECT, INSERT, ALTER, CREATE, DROP,
//     TRUNCATE, OPTIMIZE and KILL QUERY: no FILE, URL, REMOTE, S3 or other
//     sources, no SYSTEM, no introspection, no dictGet. url(), remote(),
//     s3() and file() as tables fail with ACCESS_DENIED before connecting,
//     also inside DESCRIBE TABLE (tested with a loopback listener). This
//     holds for Ampel's own statements too; add a privilege in engine.go
//     when Ampel needs one;
//   - user_files_path is Path/user_files, made 0700 and left empty;
//   - remote_url_allow_hosts is empty, although clickhouse-local (libchdb
//     26.7.3) ignores it: the missing privileges are what keep it off the
//     network.
//
// What the engine still allows there, measured: the scalar file() reads
// any absolute path (clickhouse-local does not confine it to
// user_files_path), SELECT … INTO OUTFILE writes files (the client part of
// the engine does it), and KILL QUERY runs (the driver needs the
// privilege). The checks in Go refuse all three; the engine's own
// settings are the last layer, not the only one.
//
// # Files
//
// The warehouse holds customer data, so the directory is 0700 and every
// file in it 0600 whatever the umask: Open sets the process umask to 077
// before the engine starts (the engine creates files from its own threads
// for as long as the process runs, so a umask set around single calls
// would not cover them), and a directory that was open to others (made by
// an older Ampel) has its modes fixed once, file by file.
//
// With Config.MustExist, Open fails with an error wrapping
// warehouse.ErrNoWarehouse when Path holds no database Config.Database
// (metadata/<database>.sql), before the engine starts, so that a read-only
// command pointed at the wrong directory creates nothing there.
//
// # Backup and restore
//
// Store implements warehouse.Backuper with the engine's own BACKUP
// DATABASE … TO File(…) and RESTORE DATABASE … AS … FROM File(…). The
// engine may write and read backups only below Path/backups
// (backups.allowed_path in ampel-engine.xml; no disk is allowed), so a
// backup is staged there and then renamed to the directory asked for (or
// copied, on another file system), and a restore links (or copies) the
// backup there first. Staging needs free space in the data directory
// about the size of the database; a backup's files are private like the
// warehouse's. The engine's user holds the BACKUP privilege for this;
// readonly=1 does not stop BACKUP, so a statement that slipped past the
// read-only checks could write a backup into that private directory, and
// nowhere else (tested), and could not restore one.
//
// A backup is consistent across tables: every writing statement of the
// process (Exec and Batch.Send outside read-only contexts) holds a share
// of a process-wide gate while it runs, and Backup holds all of it while
// the engine copies, so the copy is the warehouse between two statements —
// a state a crash at that moment would have left, which Ampel is built
// to go on from (a delta link is stored only after its rows). Writes wait
// meanwhile; nothing else does. Restore needs a database without tables.
//
// # Formats
//
// Reads stream with chdb_stream_query_n in RowBinaryWithNamesAndTypes and
// are decoded straight from the engine's buffers into the warehouse value
// types; every chunk repeats the header and holds whole rows. Statements
// that libchdb cannot stream (SHOW, EXISTS, DESCRIBE, …) run whole. An
// empty result takes its columns from DESCRIBE.
//
// Batches encode each appended value at once, after warehouse.Coerce,
// into its column's buffers in the Native format (a null map, then the
// values; blocks of up to 8 MiB); Send streams the blocks, column after
// column, into one "INSERT INTO db.t (cols…)" with chdb_stream_insert_n
// (followed by a SETTINGS clause when the context of PrepareInsert
// carries warehouse.InsertSettings). The engine reads a column's values
// at once rather than row by row and field by field as in RowBinary:
// 30–40 % less of its CPU per INSERT (BenchmarkInsertLeads). The batch
// holds bytes, not Go values, and nothing is copied into a query string.
//
// # Cancellation and timeouts
//
// libchdb cannot interrupt a call that is running. Every statement carries
// a marker comment before it (taken out of the engine's error messages
// again, and from their "position N", so positions count in the caller's
// statement); when its context ends (or QueryTimeout passes, 10
// minutes by default, when the context has no deadline) the driver runs
// KILL QUERY … ASYNC on a spare connection, repeating until the statement
// returns, and reports an error that wraps the context's error. A stream
// is also cancelled between chunks with chdb_stream_cancel_query, and a
// batch between buffers with chdb_stream_cancel_insert.
package embedded
