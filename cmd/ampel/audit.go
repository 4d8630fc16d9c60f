package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ampel/ampel/audit"
	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/export"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

const auditUsage = "audit [run] [--rule ID[@vN]]... [--format table|csv|json] [--out FILE] [--as-of TIME] | review FINDING|GROUP --mark reviewed|not-duplicate|will-fix [--comment TEXT] [--by NAME] | list | release ID@vN | import-rules [--environment NAME] [--dir DIR]  --config FILE"

// auditValueFlags are the audit flags that take a value as the next argument.
var auditValueFlags = map[string]bool{"config": true, "log-level": true, "log-format": true, "rule": true, "format": true,
	"out": true, "as-of": true, "mark": true, "comment": true, "by": true, "dir": true, "environment": true}

// runAudit finds the subcommand among the arguments (flags may come first; none is run)
// and runs it.
func runAudit(ctx context.Context, e *env, args []string) error {
	if done, err := e.viaLocal(ctx, append([]string{"audit"}, args...)); done {
		return err
	}
	sub := -1
	for i := 0; i < len(args); i++ {
		a := args[i]
		if (a == "-h" || a == "--help" || a == "-help") && sub < 0 {
			fmt.Fprintf(e.stdout, "Usage: ampel %s\n\nampel audit run --help, ampel audit review --help, … show each one's flags.\n", auditUsage)
			return errHelp
		}
		if strings.HasPrefix(a, "-") {
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && auditValueFlags[name] {
				i++
			}
			continue
		}
		sub = i
		break
	}
	if sub < 0 {
		return auditRun(ctx, e, args)
	}
	rest := append(append([]string{}, args[:sub]...), args[sub+1:]...)
	switch args[sub] {
	case "run":
		return auditRun(ctx, e, rest)
	case "review":
		return auditReview(ctx, e, rest)
	case "list":
		return auditList(e, rest)
	case "release":
		return auditRelease(e, rest)
	case "import-rules":
		return auditImportRules(ctx, e, rest)
	}
	return usageError{fmt.Errorf("%q is not an audit subcommand: use run, review, list, release or import-rules", args[sub])}
}

// auditOptions loads the config's audit rules and settings, with the critical fields of the
// completeness KPIs (their defaults and kpis.critical_fields), so that incomplete_record
// finds what record_completeness counts.
func auditOptions(cfg *config.Config) (audit.RunOptions, error) {
	o, err := audit.Configure(cfg)
	if err != nil {
		return o, configError{err}
	}
	o.CriticalFields = maps.Clone(kpis.DefaultCriticalFields)
	for _, cf := range cfg.KPIs.CriticalFields {
		o.CriticalFields[cf.Table] = cf.Fields
	}
	return o, nil
}

var auditFormats = []string{"table", "csv", "json"}

func auditRun(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("audit run", "audit [run] [--rule ID[@vN]]... [--format table|csv|json] [--out FILE] [--as-of TIME] --config FILE")
	var c commonFlags
	c.register(fs)
	var refs listFlag
	fs.Var(&refs, "rule", "run only this `ID[@vN]` (repeat, or separate with commas); default: audit.rules, or every rule's default version")
	format := fs.String("format", "table", "how to write the findings: `table`, csv or json")
	out := fs.String("out", "", "write the findings to this `file` (default: stdout; the summary goes to stdout then)")
	asOf := fs.String("as-of", "", "audit as of this `time` (RFC 3339 or YYYY-MM-DD, UTC): what overdue, stale and retention measure from; default now")
	if err := parse(fs, args); err != nil {
		return err
	}
	at, err := parseAsOf(*asOf)
	if err != nil {
		return err
	}
	if !slices.Contains(auditFormats, *format) {
		return usageError{fmt.Errorf("--format %q: use table, csv or json", *format)}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	o, err := auditOptions(cfg)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := o.Catalog.Resolve(r); err != nil {
			return usageError{fmt.Errorf("--rule %s: %w", r, err)}
		}
	}
	if len(refs) > 0 {
		o.Refs = refs
	}
	log := e.logger(cfg.Log)
	s, err := e.openWriting(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	// run for another process by ampel run, the audit waits for the one
	// after a sync, as those wait for each other
	auditMu.Lock()
	defer auditMu.Unlock()
	o.Store, o.Logger, o.AsOf = s, log, at
	rep, err := audit.Run(ctx, o)
	if err != nil {
		return err
	}
	// the findings go to stdout; the summary goes there too unless the findings are data
	// for another program (csv, json), then to stderr
	summary, findings := e.stdout, e.stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		defer f.Close()
		findings = f
	} else if *format != "table" {
		summary = e.stderr
	}
	printAuditSummary(summary, rep)
	if *format == "table" && *out == "" {
		fmt.Fprintln(summary)
	}
	if err := writeFindingsOut(ctx, s, rep.RunID, *format, findings); err != nil {
		return err
	}
	if err := publishMarts(ctx, cfg, s, log, "audit"); err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d audit rules failed; first: %s on %s: %s", len(rep.Failed), rep.Failed[0].Ref, rep.Failed[0].Table, rep.Failed[0].Err)
	}
	return nil
}

// writeFindingsOut writes the run's findings in format.
func writeFindingsOut(ctx context.Context, s warehouse.Store, runID, format string, w io.Writer) error {
	rows, err := audit.QueryFindings(ctx, s, runID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out export.Writer
	if format == "table" {
		out = &findingTable{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	} else if out, err = export.New(w, format); err != nil {
		return err
	}
	return export.Write(out, rows)
}

// findingTable writes findings as an aligned table of the columns a steward reads first.
type findingTable struct {
	w   *tabwriter.Writer
	idx []int
}

var findingTableColumns = []string{"status", "severity", "rule_id", "table_name", "record_id", "field", "review_mark", "detail", "finding_id", "group_id"}

func (t *findingTable) Header(cols []warehouse.Column) error {
	var names []string
	for _, name := range findingTableColumns {
		i := slices.IndexFunc(cols, func(c warehouse.Column) bool { return c.Name == name })
		if i < 0 {
			return fmt.Errorf("the findings have no column %s", name)
		}
		t.idx = append(t.idx, i)
		names = append(names, strings.ToUpper(strings.TrimSuffix(strings.TrimSuffix(name, "_id"), "_name")))
	}
	_, err := fmt.Fprintln(t.w, strings.Join(names, "\t"))
	return err
}

func (t *findingTable) Row(values []any) error {
	cells := make([]string, len(t.idx))
	for j, i := range t.idx {
		cells[j] = strings.NewReplacer("\t", " ", "\n", " ").Replace(fmt.Sprint(values[i]))
		if r := []rune(cells[j]); len(r) > 72 {
			cells[j] = string(r[:71]) + "…" // csv and json have it whole
		}
		if cells[j] == "" {
			cells[j] = "-"
		}
	}
	_, err := fmt.Fprintln(t.w, strings.Join(cells, "\t"))
	return err
}

func (t *findingTable) End() error { return t.w.Flush() }

// printAuditSummary prints a line per rule — findings, new, resolved, marked, the trend over
// the last runs — then what failed or was skipped, and a total.
func printAuditSummary(w io.Writer, rep *audit.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tSEVERITY\tTABLES\tCHECKED\tFINDINGS\tNEW\tRESOLVED\tMARKED\tTREND")
	for _, r := range rep.Rules {
		if len(r.Tables) == 0 {
			continue
		}
		trend := make([]string, len(r.Trend))
		for i, n := range r.Trend {
			trend[i] = strconv.Itoa(n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Def.Ref(), r.Def.Severity, strings.Join(r.Tables, ","), r.Checked,
			r.Findings, r.New, r.Resolved, r.Marked, strings.Join(trend, " → "))
	}
	tw.Flush()
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped %s on %s: %s\n", s.Ref, s.Table, s.Reason)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "failed %s on %s: %s\n", f.Ref, f.Table, oneLine(f.Err.Error()))
	}
	var newF, resolved int
	for _, r := range rep.Rules {
		newF += r.New
		resolved += r.Resolved
	}
	fmt.Fprintf(w, "audit run %s: %d open findings (%d error, %d warning, %d info), %d new, %d resolved; %d rules failed, %d skipped\n",
		rep.RunID, rep.Count(""), rep.Count(audit.SeverityError), rep.Count(audit.SeverityWarning), rep.Count(audit.SeverityInfo),
		newF, resolved, len(rep.Failed), len(rep.Skipped))
}

func auditReview(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("audit review", "audit review FINDING|GROUP --mark reviewed|not-duplicate|will-fix [--comment TEXT] [--by NAME] --config FILE")
	var c commonFlags
	c.register(fs)
	markFlag := fs.String("mark", "", "the verdict: `reviewed`, not-duplicate or will-fix")
	comment := fs.String("comment", "", "why, in a few words")
	by := fs.String("by", "", "who reviews (default: $USER)")
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("name one finding or group: ampel audit review ID --mark reviewed (ampel audit lists the ids)")}
	}
	if *markFlag == "" {
		return usageError{errors.New("--mark: say reviewed, not-duplicate or will-fix")}
	}
	mark, err := audit.ParseMark(*markFlag)
	if err != nil {
		return usageError{fmt.Errorf("--mark: %w", err)}
	}
	if *by == "" {
		*by, _ = e.getenv("USER")
	}
	if strings.TrimSpace(*by) == "" {
		return usageError{errors.New("--by: say who reviews (no $USER to take it from)")}
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	s, err := e.openWriting(ctx, cfg, e.logger(cfg.Log))
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := audit.MarkFinding(ctx, s, pos[0], mark, *comment, *by, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "marked %s %s %s by %s: %s %s, %d records; %d open findings carry it\n", m.Kind, m.ID, mark, *by,
		m.Table, m.Environment, len(m.Records), m.Findings)
	if mark == audit.MarkNotDuplicate {
		fmt.Fprintln(e.stdout, "the records are not grouped together again from the next audit run on")
	}
	return nil
}

func auditList(e *env, args []string) error {
	fs := e.flagSet("audit list", "audit list --config FILE")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	o, err := auditOptions(cfg)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tDEFAULT\tVERSIONS\tKIND\tSEVERITY\tTABLES\tTITLE")
	for _, d := range o.Catalog.Defaults() {
		var vs []string
		for _, v := range o.Catalog.Versions(d.ID) {
			s := fmt.Sprintf("v%d", v.Version)
			if !v.File.Released {
				s += " (draft)"
			}
			vs = append(vs, s)
		}
		fmt.Fprintf(w, "%s\tv%d\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Version, strings.Join(vs, ", "), d.Kind, d.Severity,
			strings.Join(d.TableList(), ","), d.Title)
	}
	return w.Flush()
}

func auditRelease(e *env, args []string) error {
	fs := e.flagSet("audit release", "audit release ID@vN [--dir DIR | --config FILE]")
	var c commonFlags
	c.register(fs)
	dir := fs.String("dir", "", "the rules `directory` whose releases.lock to add to (default: the config's audit.dir; sql/audits for the built-in ones)")
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("name one version: ampel audit release ID@vN")}
	}
	if *dir == "" {
		cfg, err := e.load(&c)
		if err != nil {
			return err
		}
		if cfg.Audit.Dir == "" {
			return configError{fmt.Errorf("%s: audit.dir: not set; name your rules directory there or give --dir", cfg.File)}
		}
		*dir = cfg.Audit.Dir
	}
	line, err := versioned.Release(*dir, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "released %s: added \"%s\" to %s\n", pos[0], line, *dir+"/"+versioned.LockFile)
	return nil
}

// auditMu keeps the audits after syncs of several schedule groups, and those run for
// other processes (local.go), apart: each compares its findings with the state the one
// before wrote.
var auditMu sync.Mutex

// auditImportRules reads the published duplicate detection rules of the configured
// environments over the Web API and writes them as rule files into the user's rule
// directory, so the audit finds the groups the organisation's own rules find.
func auditImportRules(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("audit import-rules", "audit import-rules [--environment NAME] [--dir DIR] --config FILE")
	var c commonFlags
	c.register(fs)
	only := fs.String("environment", "", "read the rules of this `environment` only (default: every configured one)")
	dir := fs.String("dir", "", "write the rule files here (default: the config's audit.dir)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.load(&c)
	if err != nil {
		return err
	}
	if *dir == "" {
		if cfg.Audit.Dir == "" {
			return configError{fmt.Errorf("%s: audit.dir: not set; name your rules directory there or give --dir", cfg.File)}
		}
		*dir = cfg.Audit.Dir
	}
	log := e.logger(cfg.Log)
	found := false
	for _, env := range cfg.Environments {
		if *only != "" && env.Name != *only {
			continue
		}
		found = true
		client, err := dataverse.New(ctx, clientConfig(cfg, env, log))
		if err != nil {
			return fmt.Errorf("environment %s: %w", env.Name, err)
		}
		body, err := client.DuplicateRules(ctx)
		if err != nil {
			return fmt.Errorf("environment %s: read duplicate rules: %w", env.Name, err)
		}
		rules, skipped, err := audit.ParseDataverseRules(bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("environment %s: %w", env.Name, err)
		}
		done, err := audit.ImportRules(*dir, rules)
		if err != nil {
			return err
		}
		for _, im := range done {
			fmt.Fprintf(e.stdout, "%s: %s %s@v%d (%s)\n", env.Name, im.Status, im.ID, im.Version, im.Path)
		}
		for _, s := range skipped {
			fmt.Fprintf(e.stdout, "%s: skipped %q: %s\n", env.Name, s.Name, s.Reason)
		}
	}
	if !found {
		return usageError{fmt.Errorf("--environment %q: no such environment in %s", *only, cfg.File)}
	}
	fmt.Fprintf(e.stdout, "the new rule files are drafts: they run with ampel audit; lock one with ampel audit release ID@vN\n")
	return nil
}

// runAuditAfterSync runs the audit after a sync (ampel run) and logs the outcome.
func runAuditAfterSync(ctx context.Context, cfg *config.Config, s warehouse.Store, log *slog.Logger) {
	auditMu.Lock()
	defer auditMu.Unlock()
	o, err := auditOptions(cfg)
	if err != nil {
		log.Error("audit not run", "error", oneLine(err.Error()))
		return
	}
	o.Store, o.Logger = s, log
	rep, err := audit.Run(ctx, o)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("audit stopped")
		return
	case err != nil:
		log.Error("audit failed", "error", oneLine(err.Error()))
		return
	}
	var newF, resolved int
	for _, r := range rep.Rules {
		newF += r.New
		resolved += r.Resolved
	}
	log.Info("audit done", "run", rep.RunID, "findings", rep.Count(""), "errors", rep.Count(audit.SeverityError),
		"warnings", rep.Count(audit.SeverityWarning), "new", newF, "resolved", resolved, "failed", len(rep.Failed),
		"skipped", len(rep.Skipped))
}
