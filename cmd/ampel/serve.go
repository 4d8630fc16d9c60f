package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"github.com/ampel/ampel/cockpit"
	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/metrics"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// runServe serves the cockpit, the OData feed, /healthz and /metrics
// until SIGTERM or SIGINT.
func runServe(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("serve", "serve --config FILE [--addr HOST:PORT]")
	var c commonFlags
	c.register(fs)
	addr := fs.String("addr", "", "listen `address` (default: the config's serve.addr)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if err := setAddr(cfg, *addr); err != nil {
		return err
	}
	log := e.logger(cfg.Log)
	s, err := openExisting(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	pub, err := newPublisher(cfg, s, log)
	if err != nil {
		return err
	}
	srv, ln, err := startServer(cfg, s, pub, metrics.New(), log)
	if err != nil {
		return err
	}
	return serveWhile(ctx, cfg, srv, ln, nil)
}

// setAddr puts --addr in place of serve.addr, with the same check the
// config applies to serve.addr.
func setAddr(cfg *config.Config, addr string) error {
	if addr == "" {
		return nil
	}
	if err := cfg.Serve.CheckAddr(addr); err != nil {
		return usageError{fmt.Errorf("--addr %w", err)}
	}
	cfg.Serve.Addr = addr
	return nil
}

// feedKeys turns serve.keys into the server's keys.
func feedKeys(cfg *config.Config) ([]serve.Key, error) {
	keys := make([]serve.Key, 0, len(cfg.Serve.Keys))
	for _, k := range cfg.Serve.Keys {
		if k.Key != "" {
			keys = append(keys, serve.KeyFromSecret(k.Name, k.Key))
			continue
		}
		key, err := serve.KeyFromHash(k.Name, k.SHA256)
		if err != nil {
			return nil, configError{fmt.Errorf("%s: serve.keys: %w", cfg.File, err)}
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// keptReads is how many feed reads may hold a warehouse connection
// between two pages: at most half of warehouse.max_conns and at most 4, so
// syncs, the cockpit and /healthz always find a connection; none with fewer
// than 2 connections (every page then runs its own statement).
func keptReads(maxConns int) int {
	if n := min(maxConns/2, 4); n > 0 {
		return n
	}
	return -1
}

// newServer makes the server the config describes, serving the BI marts
// pub publishes.
func newServer(cfg *config.Config, s warehouse.Store, pub *marts.Publisher, m *metrics.Metrics, log *slog.Logger) (*serve.Server, error) {
	keys, err := feedKeys(cfg)
	if err != nil {
		return nil, err
	}
	srv, err := serve.New(serve.Options{
		Store: s, Marts: pub, Keys: keys, KeyParam: cfg.Serve.KeyParam, PageSize: cfg.Serve.PageSize,
		KeptReads: keptReads(cfg.Warehouse.MaxConns),
		Metrics:   m, Logger: log, Commands: localCommands(cfg, s),
	})
	if err != nil {
		return nil, err
	}
	var userFS fs.FS
	if cfg.KPIs.Dir != "" {
		userFS = os.DirFS(cfg.KPIs.Dir)
	}
	cat, err := kpis.LoadCatalog(ampelsql.KPIs, cfg.KPIs.Dir, userFS)
	if err != nil {
		return nil, configError{err}
	}
	if _, err := cockpit.Mount(srv, cockpit.Options{Store: s, TLS: cfg.Serve.TLSCert != "", Logger: log, Catalog: cat}); err != nil {
		return nil, err
	}
	return srv, nil
}

// startServer makes the server the config describes and opens its
// listener; it logs where it serves.
func startServer(cfg *config.Config, s warehouse.Store, pub *marts.Publisher, m *metrics.Metrics, log *slog.Logger) (*serve.Server, net.Listener, error) {
	srv, err := newServer(cfg, s, pub, m, log)
	if err != nil {
		return nil, nil, err
	}
	ln, err := serve.Listen(cfg.Serve.Addr, cfg.Serve.TLSCert, cfg.Serve.TLSKey)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Serve.Keys) == 0 {
		log.Warn("serve.keys is empty: the feed lets nobody in")
	}
	log.Info("serving", "cockpit", cockpitURL(cfg, ln), "feed", feedURL(cfg, ln), "addr", ln.Addr().String())
	return srv, ln, nil
}

// feedURL is the feed's URL on ln.
func feedURL(cfg *config.Config, ln net.Listener) string { return baseURL(cfg, ln) + "/odata/" }

// cockpitURL is the cockpit's URL on ln.
func cockpitURL(cfg *config.Config, ln net.Listener) string { return baseURL(cfg, ln) + "/" }

func baseURL(cfg *config.Config, ln net.Listener) string {
	scheme := "http"
	if cfg.Serve.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String()
}

// serveWhile serves the feed on ln (nil: no feed) and, for an embedded
// warehouse, the local endpoint ampel sql, kpi, audit, score and doctor use while
// this process holds the warehouse (serve.ServeLocal, local.go), while run(ctx) runs — or, with run
// nil, until ctx ends. Whichever stops first with an error stops the
// others.
func serveWhile(ctx context.Context, cfg *config.Config, srv *serve.Server, ln net.Listener, run func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	if ln != nil {
		g.Go(func() error { return srv.Serve(gctx, ln) })
	}
	if cfg.Warehouse.Driver == "embedded" {
		g.Go(func() error { return srv.ServeLocal(gctx, filepath.Join(cfg.Warehouse.Path, serve.LocalSocket)) })
	}
	if run != nil {
		g.Go(func() error {
			defer cancel() // run is done: so is serving
			return run(gctx)
		})
	}
	return g.Wait()
}
