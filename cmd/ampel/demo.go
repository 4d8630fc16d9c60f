package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/scoring"
	"github.com/ampel/ampel/metrics"
)

// runDemo runs the main job end to end on one machine: a simulated
// Dataverse, a sync into an embedded warehouse in --data, a summary of
// what landed, the data-quality audit's summary, the lead scores of the
// built-in models with their backtest, the KPI catalog's traffic
// lights over it (with the inputs file the simulator writes), and the BI
// marts published over all of it; then it serves the cockpit and the
// OData feed at --addr with a demo key it writes into the config, prints
// the cockpit's URL, the feed's URL and the key, and serves until Ctrl-C.
func runDemo(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("demo", "demo [--addr 127.0.0.1:8080] [--data DIR] [--scale N]")
	addr := fs.String("addr", "127.0.0.1:8080", "where the demo serves the cockpit, the OData feed, /healthz and /metrics")
	data := fs.String("data", "ampel-demo", "`directory` for the config and the embedded warehouse")
	scale := fs.Int("scale", 10000, "number of leads in the simulated Dataverse")
	seed := fs.Int64("seed", 1, "seed of the simulated data")
	library := fs.String("library", "", "libchdb.so `path` (default: where make libchdb installs it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := (config.Serve{}).CheckAddr(*addr); err != nil {
		return usageError{fmt.Errorf("--addr %w", err)}
	}
	start := time.Now()
	sim, err := dvsim.Start(dvsim.Options{Seed: *seed, Scale: *scale})
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Fprintf(e.stdout, "simulated Dataverse at %s: %d leads, seed %d (%s)\n", sim.URL(), *scale, *seed, time.Since(start).Round(time.Millisecond))

	file := filepath.Join(*data, "ampel.yaml")
	if err := writeSimConfig(file, sim); err != nil {
		return err
	}
	key, err := appendDemoServe(file, *addr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(file, e.getenv)
	if err != nil {
		return configError{err}
	}
	if *library != "" {
		cfg.Warehouse.Library = *library
	}
	log := e.logger(cfg.Log)
	s, err := openMigrated(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(e.stdout, "embedded warehouse in %s (ClickHouse %s)\n", cfg.Warehouse.Path, s.Dialect().Version)

	tables, _ := selectTables(cfg, "")
	syncStart := time.Now()
	// each demo starts a new simulator: reload in full, which also removes
	// rows of an earlier demo that this one's data does not have
	results, err := newRunner(cfg, s, cfg.Environments, log).Sync(ctx, connector.Request{Tables: tables, Full: true, Progress: e.progress(log)})
	printResults(e.stdout, results)
	if err != nil {
		return err
	}
	var rows, throttled, requests uint64
	for _, r := range results {
		rows += r.Upserted
		throttled += uint64(r.Throttled)
		requests += uint64(r.Requests)
	}
	took := time.Since(syncStart)
	fmt.Fprintf(e.stdout, "synced %d tables, %d rows in %s (%.0f rows/s), %d requests, %d throttled\n",
		len(results), rows, took.Round(time.Millisecond), float64(rows)/took.Seconds(), requests, throttled)
	ao, err := auditOptions(cfg)
	if err != nil {
		return err
	}
	ao.Store, ao.Logger = s, log
	arep, err := audit.Run(ctx, ao)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\ndata-quality audit:")
	printAuditSummary(e.stdout, arep)

	so, err := scoring.Configure(cfg)
	if err != nil {
		return configError{err}
	}
	so.Store, so.Logger = s, log
	srep, err := scoring.Run(ctx, so)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nlead scores (sql/scoring; ampel score show LEAD explains one):\n")
	printScoreReport(e.stdout, srep)
	o, err := kpis.Configure(cfg)
	if err != nil {
		return configError{err}
	}
	o.Store, o.Logger = s, log
	rep, err := kpis.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nKPIs (inputs from %s):\n", cfg.KPIs.Inputs)
	printKPIReport(e.stdout, rep, true)
	pub, err := newPublisher(cfg, s, log)
	if err != nil {
		return err
	}
	snap, err := pub.Publish(ctx, "demo")
	if err != nil {
		return fmt.Errorf("publish the BI marts: %w", err)
	}
	fmt.Fprintf(e.stdout, "\nBI marts, snapshot %d (Power BI: see \"Connect Power BI\" in the README):\n", snap)
	if err := printMarts(ctx, e.stdout, pub); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nquery it: ampel sql --config %s \"SELECT count() FROM lead\"\n", file)
	fmt.Fprintf(e.stdout, "every KPI result: ampel kpi run --config %s\n", file)
	fmt.Fprintf(e.stdout, "scores: ampel score run --config %s; ampel sql --config %s \"SELECT grade, count() FROM lead_score GROUP BY grade\"\n", file, file)
	fmt.Fprintf(e.stdout, "the marts: ampel sql --config %s \"SELECT status, count() FROM bi_fact_lead GROUP BY status\"\n", file)
	fmt.Fprintf(e.stdout, "every finding: ampel audit --config %s; mark one: ampel audit review ID --mark reviewed --config %s\n", file, file)

	srv, ln, err := startServer(cfg, s, pub, metrics.New(), log)
	if err != nil {
		return err
	}
	url := feedURL(cfg, ln)
	fmt.Fprintf(e.stdout, "\ncockpit: %s (log in with the demo key)\n", cockpitURL(cfg, ln))
	fmt.Fprintf(e.stdout, "OData feed: %s\n", url)
	fmt.Fprintf(e.stdout, "demo key: %s (Power BI: OData feed, Basic with any user name and the key as password; or %s?%s=KEY)\n", key, url, cfg.Serve.KeyParam)
	fmt.Fprintln(e.stdout, "serving until Ctrl-C (ampel sql, kpi, score, audit and doctor run through this process meanwhile)")
	return serveWhile(ctx, cfg, srv, ln, nil)
}

// appendDemoServe adds a serve section with a new random key to the
// demo's config and returns the key.
func appendDemoServe(file, addr string) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("make the demo key: %w", err)
	}
	key := "demo-" + hex.EncodeToString(b)
	text, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	text = append(text, fmt.Sprintf("serve:\n  addr: %q\n  keys:\n    - name: demo\n      key: %s\n", addr, key)...)
	if err := writePrivate(file, text); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return key, nil
}
