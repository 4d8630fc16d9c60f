package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/metrics"
	"github.com/ampel/ampel/warehouse"
)

// EntitySet is one mart as the feed serves it: an entity set of the same
// name, its key and columns (see package marts).
type EntitySet = marts.EntitySet

// Marts is what the feed reads: the published snapshot, the entity sets,
// and the table behind each (a table with a _snapshot UInt64 column, rows
// of several snapshots side by side).
type Marts interface {
	// Current is the snapshot a read starting now uses; 0 when nothing
	// was published.
	Current(ctx context.Context) (snapshot uint64, err error)
	// Sets lists the entity sets.
	Sets(ctx context.Context) ([]EntitySet, error)
	// Table is the physical table of an entity set.
	Table(set string) string
}

// Options configure a Server.
type Options struct {
	// Store is the warehouse. Every statement the feed runs on it is
	// marked warehouse.ReadOnly.
	Store warehouse.Store
	// Marts are the entity sets; nil serves a feed without any.
	Marts Marts
	// Keys may read the feed; none lets nobody in.
	Keys []Key
	// KeyParam is the query parameter that may carry a key. Default api_key.
	KeyParam string
	// PageSize is the most rows in one response. Default 5000.
	PageSize int
	// KeptReads is how many reads in key order may keep their statement
	// open between two pages, for the request that follows the nextLink
	// (see keptRead); each holds a warehouse connection meanwhile.
	// Default 4; negative: none, every page runs its own statement.
	KeptReads int
	// Metrics receives the feed's counters and serves /metrics; nil: a
	// registry of the server's own.
	Metrics *metrics.Metrics
	// Logger gets the access log and errors; nil discards them.
	Logger *slog.Logger
	// Commands runs the command lines sent to the local endpoint
	// (LocalRun); nil refuses every one.
	Commands LocalCommand
}

// Server is the HTTP server of the feed, /healthz and /metrics.
type Server struct {
	store    warehouse.Store
	marts    Marts
	keys     []Key
	keyParam string
	pageSize int
	metrics  *metrics.Metrics
	log      *slog.Logger
	mux      *http.ServeMux
	commands LocalCommand
	kept     *keptReads
}

// feedPrefix is where the OData feed lives.
const feedPrefix = "/odata/"

// New makes a Server.
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("serve: no store")
	}
	s := &Server{store: o.Store, marts: o.Marts, keys: o.Keys, keyParam: o.KeyParam, pageSize: o.PageSize, metrics: o.Metrics, log: o.Logger, commands: o.Commands}
	if s.keyParam == "" {
		s.keyParam = "api_key"
	}
	if s.pageSize <= 0 {
		s.pageSize = 5000
	}
	switch {
	case o.KeptReads == 0:
		s.kept = newKeptReads(defaultKeptReads)
	case o.KeptReads > 0:
		s.kept = newKeptReads(o.KeptReads)
	default:
		s.kept = newKeptReads(0)
	}
	if s.metrics == nil {
		s.metrics = metrics.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/odata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, feedPrefix, http.StatusMovedPermanently)
	})
	s.mux.HandleFunc(feedPrefix, s.authorized(s.feedHandler))
	s.mux.HandleFunc("/healthz", s.healthz)
	s.mux.Handle("/metrics", s.metrics.Handler())
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, feedPrefix, http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	return s, nil
}

// Handle serves h at pattern (http.ServeMux patterns) beside the feed:
// the cockpit's pages. Call it before Serve. Such routes need no feed key
// unless h checks one (CheckKey).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// CheckKey reports which configured key secret is, in constant time: the
// feed's keys protect other routes too (a login form that sets a cookie).
func (s *Server) CheckKey(secret string) (name string, ok bool) { return match(s.keys, secret) }

// authorized lets a request through when it carries one of the keys.
func (s *Server) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := presented(r, s.keyParam)
		if secret == "" {
			unauthorized(w, "the feed needs a key: as the Basic password (any user name), as the "+s.keyParam+" query parameter, or as a Bearer token")
			s.metrics.FeedRequest("", http.StatusUnauthorized)
			return
		}
		name, ok := match(s.keys, secret)
		if !ok {
			unauthorized(w, "the key is not valid: it may have been revoked; ask for a new one")
			s.metrics.FeedRequest("", http.StatusUnauthorized)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.key = name
		}
		next(w, r)
	}
}

func (s *Server) feedHandler(w http.ResponseWriter, r *http.Request) {
	set, code := s.feed(w, r)
	s.metrics.FeedRequest(set, code)
}

// recorder keeps the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	key    string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush passes a flush on, so streamed pages leave as they are written.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Handler is the server's handler with the access log around it: method,
// path, the query with every value but the system query options' redacted, status, bytes,
// duration and the name of the key used — never a key.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if p := recover(); p != nil {
				status = 0
				defer panic(p)
			}
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "query", redactedQuery(r.URL),
				"status", status, "bytes", rec.bytes, "duration", time.Since(start).Round(time.Microsecond), "key", rec.key)
		}()
		s.mux.ServeHTTP(rec, r)
	})
}

// redactedQuery is u's query for the log: the system query options ($…)
// as they are, every other parameter's value — the key parameter's, and
// a key sent under a wrong name — as REDACTED.
func redactedQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "(not a valid query string)"
	}
	for name := range q {
		if !strings.HasPrefix(name, "$") {
			q[name] = []string{"REDACTED"}
		}
	}
	return q.Encode()
}

// Listen opens the listener for addr: TLS with the certificate and key
// files when certFile is given.
func Listen(addr, certFile, keyFile string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if certFile == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("load the TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}), nil
}

// Serve serves on ln until ctx ends, then shuts down, letting running
// requests finish for up to ten seconds, and closes the statements kept
// for nextLinks.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	defer s.kept.closeAll()
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-done
	if err != nil {
		return fmt.Errorf("serve: shut down: %w", err)
	}
	return nil
}
