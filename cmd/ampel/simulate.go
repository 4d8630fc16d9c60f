package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ampel/ampel/connector/dvsim"
)

// runSimulate serves a simulated Dataverse until SIGINT/SIGTERM.
func runSimulate(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("simulate", "simulate --addr HOST:PORT [--seed N] [--scale N] [--write-config FILE] [--throttle ...] [--faults ...]")
	addr := fs.String("addr", "127.0.0.1:0", "listen `address` (port 0: a free port)")
	seed := fs.Int64("seed", 1, "seed of the generated data")
	scale := fs.Int("scale", 1000, "number of leads; the other tables follow in proportion")
	writeConfig := fs.String("write-config", "", "write an Ampel config `file` for this simulator (embedded warehouse beside it)")
	throttle := fs.String("throttle", "", "service protection limits, e.g. requests=600,window=5m,concurrent=52,retry-after=1s")
	faults := fs.String("faults", "", "faults, e.g. errors=0.05,latency=50ms,drop=0.01,no-change-tracking=incident+task,no-app-user=true,no-read=lead+account")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := dvsim.Options{Addr: *addr, Seed: *seed, Scale: *scale}
	var err error
	if opts.Throttle, err = parseThrottle(*throttle); err != nil {
		return usageError{err}
	}
	if opts.Faults, err = parseFaults(*faults); err != nil {
		return usageError{err}
	}
	start := time.Now()
	sim, err := dvsim.Start(opts)
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Fprintf(e.stdout, "simulated Dataverse at %s (seed %d, %d leads, ready in %s)\n", sim.URL(), *seed, *scale, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "authority %s, client id %s\n", sim.Authority(), sim.ClientID())
	if *writeConfig != "" {
		if err := writeSimConfig(*writeConfig, sim); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s: run ampel sync --config %s\n", *writeConfig, *writeConfig)
	}
	<-ctx.Done()
	return nil
}

// writeSimConfig writes a ready Ampel config for sim at file, with the
// simulator's CA certificate and KPI inputs file beside it and the embedded
// warehouse in a directory beside it.
func writeSimConfig(file string, sim *dvsim.Server) error {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	caFile := base + "-ca.pem"
	inputs := base + "-inputs.yaml" // the KPI inputs that go with the simulated data
	if err := os.WriteFile(filepath.Join(dir, caFile), sim.CACertPEM(), 0o644); err != nil {
		return err
	}
	text := fmt.Sprintf(`# Written by ampel simulate: a simulated Dataverse and an embedded warehouse.
warehouse:
  driver: embedded
  path: %s-warehouse
environments:
  - name: sim
    url: %s
    authority: %s
    tenant_id: %s
    client_id: %s
    client_secret: %s
    ca_file: %s
kpis:
  inputs: %s
`, base, sim.URL(), sim.Authority(), sim.TenantID(), sim.ClientID(), strconv.Quote(sim.ClientSecret()), caFile, inputs)
	if err := sim.WriteInputs(filepath.Join(dir, inputs), "sim"); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(text), 0o600)
}

// parseThrottle parses requests=N,window=D,concurrent=N,retry-after=D.
func parseThrottle(s string) (dvsim.Throttle, error) {
	var t dvsim.Throttle
	err := parseOptions("--throttle", s, func(k, v string) error {
		var err error
		switch k {
		case "requests":
			t.Requests, err = strconv.Atoi(v)
		case "window":
			t.Window, err = time.ParseDuration(v)
		case "concurrent":
			t.Concurrent, err = strconv.Atoi(v)
		case "retry-after":
			t.RetryAfter, err = time.ParseDuration(v)
		default:
			return errors.New("unknown setting; use requests, window, concurrent, retry-after")
		}
		return err
	})
	return t, err
}

// parseFaults parses errors=P,latency=D,drop=P,no-change-tracking=a+b,
// no-app-user=true,no-read=a+b.
func parseFaults(s string) (dvsim.Faults, error) {
	var f dvsim.Faults
	err := parseOptions("--faults", s, func(k, v string) error {
		var err error
		switch k {
		case "errors":
			f.ErrorRate, err = strconv.ParseFloat(v, 64)
		case "latency":
			f.Latency, err = time.ParseDuration(v)
		case "drop":
			f.DropRate, err = strconv.ParseFloat(v, 64)
		case "no-change-tracking":
			f.NoChangeTracking = strings.Split(v, "+")
		case "no-app-user":
			f.NoAppUser, err = strconv.ParseBool(v)
		case "no-read":
			f.NoReadPrivilege = strings.Split(v, "+")
		default:
			return errors.New("unknown setting; use errors, latency, drop, no-change-tracking, no-app-user, no-read")
		}
		return err
	})
	return f, err
}

func parseOptions(flag, s string, set func(k, v string) error) error {
	if s == "" {
		return nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%s: %q is not key=value", flag, kv)
		}
		if err := set(strings.TrimSpace(k), strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s %s=%s: %v", flag, k, v, err)
		}
	}
	return nil
}
