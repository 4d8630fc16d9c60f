package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	if *scale < minScale {
		return usageError{fmt.Errorf("--scale %d: the number of leads, at least %d", *scale, minScale)}
	}
	opts := dvsim.Options{Addr: *addr, Seed: *seed, Scale: *scale}
	var err error
	if opts.Throttle, err = parseThrottle(*throttle); err != nil {
		return usageError{err}
	}
	if opts.Faults, err = parseFaults(*faults); err != nil {
		return usageError{err}
	}
	if err := opts.Validate(); err != nil { // what the flags' own checks leave
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
	fmt.Fprintf(e.stdout, "control: %s/_sim/faults, /_sim/throttle, /_sim/expire-deltas, /_sim/expire-tokens, /_sim/change-tracking, /_sim/stats (see README)\n", sim.URL())
	if *writeConfig != "" {
		if err := writeSimConfig(*writeConfig, sim); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s: run ampel sync --config %s\n", *writeConfig, *writeConfig)
	}
	<-ctx.Done()
	return nil
}

// minScale is the fewest leads the simulator makes.
const minScale = 100

// writeSimConfig writes a ready Ampel config for sim at file, with the
// simulator's CA certificate and KPI inputs file beside it and the embedded
// warehouse in a directory beside it. The files are private (files.go): the
// config holds the client secret.
func writeSimConfig(file string, sim *dvsim.Server) error {
	dir := filepath.Dir(file)
	if err := mkdirPrivate(dir); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	caFile := base + "-ca.pem"
	inputs := base + "-inputs.yaml" // the KPI inputs that go with the simulated data
	if err := writePrivate(filepath.Join(dir, caFile), sim.CACertPEM()); err != nil {
		return fmt.Errorf("write config: %w", err)
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
	in, err := sim.InputsYAML("sim")
	if err != nil {
		return err
	}
	if err := writePrivate(filepath.Join(dir, inputs), in); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := writePrivate(file, []byte(text)); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// parseThrottle parses requests=N,window=D,concurrent=N,retry-after=D.
func parseThrottle(s string) (dvsim.Throttle, error) {
	var t dvsim.Throttle
	err := parseOptions("--throttle", s, func(k, v string) error {
		var err error
		switch k {
		case "requests":
			t.Requests, err = count(v)
		case "window":
			t.Window, err = duration(v)
		case "concurrent":
			t.Concurrent, err = count(v)
		case "retry-after":
			t.RetryAfter, err = duration(v)
		default:
			return errors.New("unknown setting; use requests, window, concurrent, retry-after")
		}
		return err
	})
	if err == nil && t.Window > 0 && t.Requests == 0 {
		err = errors.New("--throttle window: needs requests=N, the number of requests to allow per window")
	}
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
			f.ErrorRate, err = share(v)
		case "latency":
			f.Latency, err = duration(v)
		case "drop":
			f.DropRate, err = share(v)
		case "no-change-tracking":
			f.NoChangeTracking, err = simTables(v)
		case "no-app-user":
			if f.NoAppUser, err = strconv.ParseBool(v); err != nil {
				err = errors.New("not true or false")
			}
		case "no-read":
			f.NoReadPrivilege, err = simTables(v)
		default:
			return errors.New("unknown setting; use errors, latency, drop, no-change-tracking, no-app-user, no-read")
		}
		return err
	})
	return f, err
}

// share parses a probability, 0 to 1.
func share(v string) (float64, error) {
	p, err := strconv.ParseFloat(v, 64)
	if err != nil || p < 0 || p > 1 || p != p {
		return 0, errors.New("a share between 0 and 1, e.g. 0.05")
	}
	return p, nil
}

// count parses a limit, 0 or more.
func count(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("a whole number, 0 or more (0: no limit)")
	}
	return n, nil
}

// duration parses a duration, 0 or more.
func duration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errors.New("a duration such as 50ms, 1s or 5m")
	}
	return d, nil
}

// simTables parses table logical names joined by +.
func simTables(v string) ([]string, error) {
	names := strings.Split(v, "+")
	for _, n := range names {
		if !slices.Contains(dvsim.TableNames, n) {
			return nil, fmt.Errorf("%q is not a simulated table; use %s", n, strings.Join(dvsim.TableNames, ", "))
		}
	}
	return names, nil
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
			return fmt.Errorf("%s %s: %v", flag, kv, err)
		}
	}
	return nil
}
