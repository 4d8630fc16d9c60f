//go:build cgo

package embedded

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The few libchdb types we touch, as chdb.h (chdb-core, programs/local)
// declares them: every handle is a pointer to a struct holding one pointer.
typedef struct ach_result_s { void *internal_data; } ach_result;
typedef struct ach_conn_s { void *internal_data; } *ach_conn;
typedef struct ach_insert_s { void *internal_data; } *ach_insert;

typedef ach_conn *(*fn_connect)(int, char **);
typedef void (*fn_close_conn)(ach_conn *);
typedef ach_result *(*fn_query_n)(ach_conn, const char *, size_t, const char *, size_t);
typedef ach_result *(*fn_stream_fetch)(ach_conn, ach_result *);
typedef void (*fn_stream_cancel)(ach_conn, ach_result *);
typedef void (*fn_destroy_result)(ach_result *);
typedef char *(*fn_result_buffer)(ach_result *);
typedef size_t (*fn_result_length)(ach_result *);
typedef const char *(*fn_result_error)(ach_result *);
typedef ach_insert (*fn_insert_n)(ach_conn, const char *, size_t, const char *, size_t);
typedef int (*fn_append)(ach_insert, const void *, size_t);
typedef ach_result *(*fn_done)(ach_insert);
typedef void (*fn_insert_void)(ach_insert);
typedef const char *(*fn_insert_error)(ach_insert);
typedef void (*fn_set_int)(int);
typedef const char *(*fn_version)(void);

static void *ach_handle;
static fn_connect p_connect;
static fn_close_conn p_close_conn;
static fn_query_n p_query_n;
static fn_query_n p_stream_query_n;
static fn_stream_fetch p_stream_fetch;
static fn_stream_cancel p_stream_cancel;
static fn_destroy_result p_destroy_result;
static fn_result_buffer p_result_buffer;
static fn_result_length p_result_length;
static fn_result_error p_result_error;
static fn_insert_n p_insert_n;
static fn_append p_append;
static fn_done p_done;
static fn_insert_void p_cancel_insert;
static fn_insert_void p_destroy_insert;
static fn_insert_error p_insert_error;
static fn_set_int p_set_signal_handlers;
static fn_version p_version;

// Signal dispositions saved before libchdb runs any code, so that whatever
// it installs can be undone: the Go runtime owns the process's signals.
static struct sigaction ach_saved[65];

static void ach_save_signals(void) {
	for (int i = 1; i < 65; i++) {
		if (i == SIGKILL || i == SIGSTOP) continue;
		sigaction(i, NULL, &ach_saved[i]);
	}
}

// ach_restore_signals puts back every disposition that changed since
// ach_save_signals and returns how many it restored.
static int ach_restore_signals(void) {
	int n = 0;
	for (int i = 1; i < 65; i++) {
		if (i == SIGKILL || i == SIGSTOP) continue;
		struct sigaction cur;
		if (sigaction(i, NULL, &cur) != 0) continue;
		if ((void *)cur.sa_sigaction != (void *)ach_saved[i].sa_sigaction || cur.sa_flags != ach_saved[i].sa_flags) {
			sigaction(i, &ach_saved[i], NULL);
			n++;
		}
	}
	return n;
}

static void *sym(const char *name) { return dlsym(ach_handle, name); }

// ach_load opens the library and resolves its functions. It returns NULL on
// success, or the name of the first missing function, or dlerror's text.
static const char *ach_load(const char *path) {
	ach_save_signals();
	ach_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (ach_handle == NULL) {
		const char *e = dlerror();
		return e ? e : "dlopen failed";
	}
#define REQ(var, type, name) if ((var = (type)sym(name)) == NULL) return name;
	REQ(p_connect, fn_connect, "chdb_connect")
	REQ(p_close_conn, fn_close_conn, "chdb_close_conn")
	REQ(p_query_n, fn_query_n, "chdb_query_n")
	REQ(p_stream_query_n, fn_query_n, "chdb_stream_query_n")
	REQ(p_stream_fetch, fn_stream_fetch, "chdb_stream_fetch_result")
	REQ(p_stream_cancel, fn_stream_cancel, "chdb_stream_cancel_query")
	REQ(p_destroy_result, fn_destroy_result, "chdb_destroy_query_result")
	REQ(p_result_buffer, fn_result_buffer, "chdb_result_buffer")
	REQ(p_result_length, fn_result_length, "chdb_result_length")
	REQ(p_result_error, fn_result_error, "chdb_result_error")
	REQ(p_insert_n, fn_insert_n, "chdb_stream_insert_n")
	REQ(p_append, fn_append, "chdb_stream_append")
	REQ(p_done, fn_done, "chdb_stream_done")
	REQ(p_cancel_insert, fn_insert_void, "chdb_stream_cancel_insert")
	REQ(p_destroy_insert, fn_insert_void, "chdb_destroy_insert_stream")
	REQ(p_insert_error, fn_insert_error, "chdb_stream_insert_error")
#undef REQ
	p_set_signal_handlers = (fn_set_int)sym("chdb_set_signal_handlers_enabled");
	p_version = (fn_version)sym("chdb_version");
	if (p_set_signal_handlers) p_set_signal_handlers(0);
	ach_restore_signals();
	return NULL;
}

static const char *ach_version(void) { return p_version ? p_version() : ""; }

static ach_conn *ach_connect(int argc, char **argv, int *restored) {
	ach_save_signals();
	ach_conn *c = p_connect(argc, argv);
	*restored = ach_restore_signals();
	return c;
}
static void ach_close_conn(ach_conn *c) { p_close_conn(c); }
static ach_result *ach_query_n(ach_conn *c, const char *q, size_t ql, const char *f, size_t fl) { return p_query_n(*c, q, ql, f, fl); }
static ach_result *ach_stream_query_n(ach_conn *c, const char *q, size_t ql, const char *f, size_t fl) { return p_stream_query_n(*c, q, ql, f, fl); }
static ach_result *ach_stream_fetch(ach_conn *c, ach_result *r) { return p_stream_fetch(*c, r); }
static void ach_stream_cancel(ach_conn *c, ach_result *r) { p_stream_cancel(*c, r); }
static void ach_destroy_result(ach_result *r) { p_destroy_result(r); }
static char *ach_result_buffer(ach_result *r) { return p_result_buffer(r); }
static size_t ach_result_length(ach_result *r) { return p_result_length(r); }
static const char *ach_result_error(ach_result *r) { return p_result_error(r); }
static ach_insert ach_insert_n(ach_conn *c, const char *q, size_t ql, const char *f, size_t fl) { return p_insert_n(*c, q, ql, f, fl); }
static int ach_append(ach_insert s, const void *d, size_t n) { return p_append(s, d, n); }
static ach_result *ach_done(ach_insert s) { return p_done(s); }
static void ach_cancel_insert(ach_insert s) { p_cancel_insert(s); }
static void ach_destroy_insert(ach_insert s) { p_destroy_insert(s); }
static const char *ach_insert_error(ach_insert s) { return p_insert_error(s); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// library is the loaded libchdb. A process loads at most one: dlclose of
// the ClickHouse engine is not safe, so it stays loaded until exit.
var library struct {
	mu      sync.Mutex
	path    string
	err     error
	version string
}

// load opens libchdb at path once per process.
func load(path string) error {
	library.mu.Lock()
	defer library.mu.Unlock()
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("embedded warehouse: libchdb not found at %s: run \"make libchdb\" (or deploy/install-libchdb.sh) to install it", path)
		}
		return fmt.Errorf("embedded warehouse: libchdb at %s: %w", path, err)
	}
	if library.path != "" {
		if library.path != path {
			return fmt.Errorf("embedded warehouse: libchdb is already loaded from %s; a process can load only one (asked for %s)", library.path, path)
		}
		return library.err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	library.path = path
	if msg := C.ach_load(cpath); msg != nil {
		library.err = fmt.Errorf("embedded warehouse: cannot load libchdb from %s: %s (reinstall with deploy/install-libchdb.sh)", path, C.GoString(msg))
		return library.err
	}
	library.version = C.GoString(C.ach_version())
	return nil
}

// conn is one libchdb connection (a session of the engine).
type conn struct {
	h *C.ach_conn
}

// connect opens a connection with command-line style arguments.
func connect(args []string) (*conn, int, error) {
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	// argv lives in C memory: cgo forbids passing Go memory that holds Go
	// pointers, and a []*C.char backing array is Go memory.
	cargv := (**C.char)(C.malloc(C.size_t(len(argv)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(cargv))
	copy(unsafe.Slice(cargv, len(argv)), argv)
	var restored C.int
	h := C.ach_connect(C.int(len(args)), cargv, &restored)
	if h == nil || *h == nil {
		return nil, int(restored), errors.New("chdb_connect failed")
	}
	return &conn{h: h}, int(restored), nil
}

func (c *conn) close() {
	if c.h != nil {
		C.ach_close_conn(c.h)
		c.h = nil
	}
}

// result is a libchdb result; its buffer lives in C memory until free.
type result struct {
	r *C.ach_result
}

func (r result) bytes() []byte {
	n := C.ach_result_length(r.r)
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(C.ach_result_buffer(r.r))), int(n))
}

// error returns the engine's error text, or "".
func (r result) error() string {
	e := C.ach_result_error(r.r)
	if e == nil {
		return ""
	}
	return C.GoString(e)
}

func (r result) free() {
	if r.r != nil {
		C.ach_destroy_result(r.r)
	}
}

func cstr(s string) (*C.char, C.size_t) {
	if s == "" {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// query runs a statement to completion.
func (c *conn) query(q, format string) result {
	qp, ql := cstr(q)
	fp, fl := cstr(format)
	return result{C.ach_query_n(c.h, qp, ql, fp, fl)}
}

// streamQuery starts a streaming statement; fetch pulls its chunks.
func (c *conn) streamQuery(q, format string) result {
	qp, ql := cstr(q)
	fp, fl := cstr(format)
	return result{C.ach_stream_query_n(c.h, qp, ql, fp, fl)}
}

func (c *conn) fetch(stream result) result {
	return result{C.ach_stream_fetch(c.h, stream.r)}
}

func (c *conn) cancel(stream result) {
	C.ach_stream_cancel(c.h, stream.r)
}

// insertStream is a streaming INSERT.
type insertStream struct {
	s C.ach_insert
}

func (c *conn) insert(q, format string) insertStream {
	qp, ql := cstr(q)
	fp, fl := cstr(format)
	return insertStream{C.ach_insert_n(c.h, qp, ql, fp, fl)}
}

func (s insertStream) error() string {
	e := C.ach_insert_error(s.s)
	if e == nil {
		return ""
	}
	return C.GoString(e)
}

// append hands a chunk to the engine, which copies it.
func (s insertStream) append(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	return C.ach_append(s.s, unsafe.Pointer(&b[0]), C.size_t(len(b))) == 0
}

func (s insertStream) done() result { return result{C.ach_done(s.s)} }
func (s insertStream) cancel()      { C.ach_cancel_insert(s.s) }
func (s insertStream) destroy()     { C.ach_destroy_insert(s.s) }
