package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

const kpiUsage = "kpi list|show ID|run [--kpi ID[@vN]] [--fail-on red|amber] [--as-of TIME]|release ID@vN  --config FILE"

// kpiGate is the error of kpi run --fail-on when a KPI reached the level.
type kpiGate struct{ err error }

func (g kpiGate) Error() string { return g.err.Error() }
func (g kpiGate) Unwrap() error { return g.err }

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// kpiValueFlags are the kpi flags that take a value as the next argument.
var kpiValueFlags = map[string]bool{"config": true, "log-level": true, "log-format": true, "kpi": true,
	"fail-on": true, "as-of": true, "dir": true}

// subcommand finds the subcommand among the arguments of a command with
// subcommands (flags may come first: ampel kpi --config FILE run):
// valueFlags are the flags that take the next argument as their value.
// It returns the subcommand and the other arguments; --help before it
// prints usage and returns errHelp.
func subcommand(e *env, args []string, valueFlags map[string]bool, usage, what string) (string, []string, error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(e.stdout, "Usage: ampel %s\n", usage)
			return "", nil, errHelp
		}
		if strings.HasPrefix(a, "-") {
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && valueFlags[name] {
				i++
			}
			continue
		}
		return a, append(append([]string{}, args[:i]...), args[i+1:]...), nil
	}
	return "", nil, usageError{errors.New("name what to do: " + what)}
}

// runKPI finds the subcommand among the arguments and runs it.
func runKPI(ctx context.Context, e *env, args []string) error {
	if done, err := e.viaLocal(ctx, append([]string{"kpi"}, args...)); done {
		return err
	}
	sub, rest, err := subcommand(e, args, kpiValueFlags, kpiUsage, "list, show ID, run or release ID@vN")
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		return kpiList(e, rest)
	case "show":
		return kpiShow(e, rest)
	case "run":
		return kpiRun(ctx, e, rest)
	case "release":
		return kpiRelease(e, rest)
	}
	return usageError{fmt.Errorf("%q is not a kpi subcommand: use list, show, run or release", sub)}
}

// parseAll parses flags that may stand before, between and after the
// positional arguments, and returns the positional ones.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// parseAsOf reads --as-of: RFC 3339 or a date (UTC); empty is the zero
// time (now).
func parseAsOf(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if at, err = time.Parse("2006-01-02", s); err != nil {
			return time.Time{}, usageError{fmt.Errorf("--as-of %q: write 2026-11-30 or 2026-11-30T08:00:00Z", s)}
		}
	}
	return at, nil
}

// kpiCatalog loads the config and its KPI definitions and inputs.
func (e *env) kpiCatalog(c *commonFlags) (*config.Config, kpis.Options, error) {
	cfg, err := e.load(c)
	if err != nil {
		return nil, kpis.Options{}, err
	}
	o, err := kpis.Configure(cfg)
	if err != nil {
		return nil, o, configError{err}
	}
	return cfg, o, nil
}

// versionList shows the versions of a definition: "v1, v2 (draft)".
func versionList(files []*versioned.File) string {
	vs := make([]string, len(files))
	for i, f := range files {
		vs[i] = fmt.Sprintf("v%d", f.Version)
		if !f.Released {
			vs[i] += " (draft)"
		}
	}
	return strings.Join(vs, ", ")
}

func kpiList(e *env, args []string) error {
	fs := e.flagSet("kpi list", "kpi list --config FILE")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, o, err := e.kpiCatalog(&c)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDEFAULT\tVERSIONS\tPHASE\tLEVEL\tUNIT\tTITLE")
	for _, d := range o.Catalog.Defaults() {
		var files []*versioned.File
		for _, v := range o.Catalog.Versions(d.ID) {
			files = append(files, v.File)
		}
		fmt.Fprintf(w, "%s\tv%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Version, versionList(files), d.Phase, d.Level, d.Unit, d.Title)
	}
	return w.Flush()
}

func kpiShow(e *env, args []string) error {
	fs := e.flagSet("kpi show", "kpi show ID[@vN] --config FILE")
	var c commonFlags
	c.register(fs)
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("name one KPI: ampel kpi show ID[@vN]")}
	}
	_, o, err := e.kpiCatalog(&c)
	if err != nil {
		return err
	}
	d, err := o.Catalog.Resolve(pos[0])
	if err != nil {
		return usageError{err}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s\t%s\n", k, oneLine(v))
		}
	}
	row("id", d.Ref())
	row("title", d.Title)
	row("description", d.Description)
	row("owner", d.Owner)
	row("level / phase", d.Level+" / "+d.Phase)
	row("type / unit", d.Type+" / "+d.Unit+", "+strings.ReplaceAll(d.Direction, "_", " "))
	row("formula", d.Formula)
	row("counting", d.Counting)
	th := "none (status none)"
	if d.Thresholds.Green != "" {
		th = "green " + d.Thresholds.Green
		if d.Thresholds.Amber != "" {
			th += ", amber " + d.Thresholds.Amber
		}
		th += ", red otherwise"
	}
	row("thresholds", th)
	row("min denominator", fmt.Sprint(d.MinDenominator))
	row("grain", d.Grain)
	row("dimensions", strings.Join(append([]string{"environment"}, d.Dimensions...), ", "))
	row("sources", strings.Join(d.Sources, ", "))
	row("inputs", strings.Join(d.Inputs, ", "))
	row("source", d.Source)
	for _, v := range o.Catalog.Versions(d.ID) {
		state := "released"
		if !v.File.Released {
			state = "draft"
		}
		row(fmt.Sprintf("v%d", v.Version), fmt.Sprintf("%s, sha256 %s, %s", state, v.File.Checksum, v.File.Path))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%s\n", d.File.Body)
	return nil
}

func kpiRun(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("kpi run", "kpi run [--kpi ID[@vN]]... [--fail-on red|amber] [--as-of TIME] --config FILE")
	var c commonFlags
	c.register(fs)
	var refs listFlag
	fs.Var(&refs, "kpi", "run only this `ID[@vN]` (repeat, or separate with commas); default: every KPI's default version")
	failOn := fs.String("fail-on", "", "exit with code 4 when a result is `red` (or amber or red, with amber)")
	asOf := fs.String("as-of", "", "compute as of this `time` (RFC 3339 or YYYY-MM-DD, UTC); default now")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *failOn != "" && *failOn != kpis.Red && *failOn != kpis.Amber {
		return usageError{fmt.Errorf("--fail-on %q: use red or amber", *failOn)}
	}
	at, err := parseAsOf(*asOf)
	if err != nil {
		return err
	}
	cfg, o, err := e.kpiCatalog(&c)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := o.Catalog.Resolve(r); err != nil {
			return usageError{fmt.Errorf("--kpi %s: %w", r, err)}
		}
	}
	log := e.logger(cfg.Log)
	s, err := e.openWriting(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	o.Store, o.Refs, o.AsOf, o.Logger = s, refs, at, log
	rep, err := kpis.Run(ctx, o)
	if err != nil {
		return err
	}
	printKPIReport(e.stdout, rep, false)
	if err := publishMarts(ctx, cfg, s, log, "kpi run"); err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d KPIs failed; first: %s", len(rep.Failed), rep.Failed[0].Err)
	}
	if *failOn != "" {
		if err := rep.FailOn(*failOn); err != nil {
			return kpiGate{err}
		}
	}
	return nil
}

func kpiRelease(e *env, args []string) error {
	return releaseVersion(e, args, "kpi", "kpis.dir", func(cfg *config.Config) string { return cfg.KPIs.Dir })
}

// releaseVersion is ampel kpi|score release ID@vN: it adds a draft to the
// releases.lock of --dir, or of the directory the config names (key).
func releaseVersion(e *env, args []string, command, key string, dirOf func(*config.Config) string) error {
	fs := e.flagSet(command+" release", command+" release ID@vN [--dir DIR | --config FILE]")
	var c commonFlags
	c.register(fs)
	dir := fs.String("dir", "", "the definitions `directory` whose releases.lock to add to (default: the config's "+key+")")
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("name one version: ampel %s release ID@vN", command)}
	}
	if *dir == "" {
		cfg, err := e.load(&c)
		if err != nil {
			return err
		}
		if *dir = dirOf(cfg); *dir == "" {
			return configError{fmt.Errorf("%s: %s: not set; name your definitions directory there or give --dir", cfg.File, key)}
		}
	}
	line, err := versioned.Release(*dir, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "released %s: added \"%s\" to %s\n", pos[0], line, filepath.Join(*dir, versioned.LockFile))
	return nil
}

// runCatalog runs every KPI after a sync (ampel run) and logs the outcome.
func runCatalog(ctx context.Context, cfg *config.Config, s warehouse.Store, log *slog.Logger) {
	o, err := kpis.Configure(cfg)
	if err != nil {
		log.Error("kpis not run", "error", oneLine(err.Error()))
		return
	}
	o.Store, o.Logger = s, log
	rep, err := kpis.Run(ctx, o)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("kpi run stopped")
		return
	case err != nil:
		log.Error("kpi run failed", "error", oneLine(err.Error()))
		return
	}
	log.Info("kpis computed", "run", rep.RunID, "results", len(rep.Results), "green", rep.Count(kpis.Green),
		"amber", rep.Count(kpis.Amber), "red", rep.Count(kpis.Red), "none", rep.Count(kpis.None),
		"failed", len(rep.Failed), "skipped", len(rep.Skipped))
}

// light is the traffic light of a status, for terminals and logs alike.
func light(status string) string {
	switch status {
	case kpis.Green:
		return "● green"
	case kpis.Amber:
		return "● amber"
	case kpis.Red:
		return "● red"
	}
	return "○ none"
}

// formatValue shows a value in its unit.
func formatValue(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	switch unit {
	case "percent":
		return fmt.Sprintf("%.1f %%", *v)
	case "per_100_users":
		return fmt.Sprintf("%.2f per 100 users", *v)
	case "days":
		return fmt.Sprintf("%.1f days", *v)
	case "months":
		return fmt.Sprintf("%.0f months", *v)
	case "count":
		return fmt.Sprintf("%.0f", *v)
	case "currency":
		return fmt.Sprintf("%.2f", *v)
	}
	return fmt.Sprintf("%.2f", *v)
}

func basis(r kpis.Result) string {
	switch {
	case r.Numerator != nil && r.Denominator != nil:
		return fmt.Sprintf("%.12g / %.12g", *r.Numerator, *r.Denominator)
	case r.Denominator != nil:
		return fmt.Sprintf("n = %.12g", *r.Denominator)
	}
	return ""
}

// printKPIReport prints the results as traffic lights. Brief prints one
// line per KPI with more than three results (the worst one and the count
// per status).
func printKPIReport(w io.Writer, rep *kpis.Report, brief bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tKPI\tENV\tPERIOD\tDIMENSIONS\tVALUE\tBASIS")
	byKPI := map[string][]kpis.Result{}
	var order []string
	for _, r := range rep.Results {
		ref := r.Def.Ref()
		if byKPI[ref] == nil {
			order = append(order, ref)
		}
		byKPI[ref] = append(byKPI[ref], r)
	}
	rank := map[string]int{kpis.Red: 3, kpis.Amber: 2, kpis.Green: 1, kpis.None: 0}
	period := func(r kpis.Result) string {
		if r.Def.Grain == "snapshot" {
			return "as of " + r.PeriodEnd.Format("2006-01-02")
		}
		return r.PeriodStart.Format("2006-01-02") + " – " + r.PeriodEnd.Format("2006-01-02")
	}
	for _, ref := range order {
		rs := byKPI[ref]
		if brief && len(rs) > 3 {
			worst := rs[0]
			counts := map[string]int{}
			for _, r := range rs {
				counts[r.Status]++
				if rank[r.Status] > rank[worst.Status] {
					worst = r
				}
			}
			var parts []string
			for _, s := range []string{kpis.Green, kpis.Amber, kpis.Red, kpis.None} {
				if counts[s] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tworst: %s\t%s\t%d results: %s\n", light(worst.Status), ref, worst.Environment,
				period(worst), worst.DimText(), formatValue(worst.Value, worst.Def.Unit), len(rs), strings.Join(parts, ", "))
			continue
		}
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", light(r.Status), ref, r.Environment, period(r), r.DimText(),
				formatValue(r.Value, r.Def.Unit), basis(r))
		}
	}
	tw.Flush()
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s: needs %s (inputs: config kpis.inputs; views: sync the table)\n", s.Ref, strings.Join(s.Missing, ", "))
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "failed %s: %s\n", f.Ref, oneLine(f.Err.Error()))
	}
	fmt.Fprintf(w, "kpi run %s: %d results (%d green, %d amber, %d red, %d none), %d failed, %d skipped\n", rep.RunID,
		len(rep.Results), rep.Count(kpis.Green), rep.Count(kpis.Amber), rep.Count(kpis.Red), rep.Count(kpis.None),
		len(rep.Failed), len(rep.Skipped))
}
