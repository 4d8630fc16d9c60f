package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/kpis"
	"github.com/ampel/ampel/kpis/scoring"
	"github.com/ampel/ampel/versioned"
	"github.com/ampel/ampel/warehouse"
)

const scoreUsage = "score run [--model ID[@vN]] [--as-of TIME] | list | show LEAD | release ID@vN  --config FILE"

// scoreValueFlags are the score flags that take a value as the next argument.
var scoreValueFlags = map[string]bool{"config": true, "log-level": true, "log-format": true, "model": true, "as-of": true, "dir": true}

// runScore finds the subcommand among the arguments and runs it.
func runScore(ctx context.Context, e *env, args []string) error {
	if done, err := e.viaLocal(ctx, append([]string{"score"}, args...)); done {
		return err
	}
	sub, rest, err := subcommand(e, args, scoreValueFlags, scoreUsage, "run, list, show LEAD or release ID@vN")
	if err != nil {
		return err
	}
	switch sub {
	case "run":
		return scoreRun(ctx, e, rest)
	case "list":
		return scoreList(e, rest)
	case "show":
		return scoreShow(ctx, e, rest)
	case "release":
		return releaseVersion(e, rest, "score", "scoring.dir", func(cfg *config.Config) string { return cfg.Scoring.Dir })
	}
	return usageError{fmt.Errorf("%q is not a score subcommand: use run, list, show or release", sub)}
}

// scoreModels loads the config and its scoring models.
func (e *env) scoreModels(c *commonFlags) (*config.Config, scoring.Options, error) {
	cfg, err := e.load(c)
	if err != nil {
		return nil, scoring.Options{}, err
	}
	o, err := scoring.Configure(cfg)
	if err != nil {
		return nil, o, configError{err}
	}
	return cfg, o, nil
}

func scoreRun(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("score run", "score run [--model ID[@vN]]... [--as-of TIME] --config FILE")
	var c commonFlags
	c.register(fs)
	var refs listFlag
	fs.Var(&refs, "model", "score with this `ID[@vN]` only (repeat, or separate with commas); default: the config's scoring.models, else every model")
	asOf := fs.String("as-of", "", "score as of this `time` (RFC 3339 or YYYY-MM-DD, UTC): later interactions do not count; default now")
	if err := parse(fs, args); err != nil {
		return err
	}
	at, err := parseAsOf(*asOf)
	if err != nil {
		return err
	}
	cfg, o, err := e.scoreModels(&c)
	if err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := o.Models.Resolve(r); err != nil {
			return usageError{fmt.Errorf("--model %s: %w", r, err)}
		}
	}
	log := e.logger(cfg.Log)
	s, err := e.openWriting(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	if len(refs) > 0 {
		o.Refs = refs
	}
	o.Store, o.AsOf, o.Logger = s, at, log
	rep, err := scoring.Run(ctx, o)
	if err != nil {
		return err
	}
	printScoreReport(e.stdout, rep)
	krep, err := backtestKPIs(ctx, cfg, s, rep.AsOf, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	printKPIReport(e.stdout, krep, false)
	if err := publishMarts(ctx, cfg, s, log, "score run"); err != nil {
		return err
	}
	if len(rep.Failed) > 0 {
		return fmt.Errorf("%d models failed; first: %s", len(rep.Failed), rep.Failed[0].Err)
	}
	return nil
}

// backtestKPIs runs the KPIs that judge the models on their backtest.
func backtestKPIs(ctx context.Context, cfg *config.Config, s warehouse.Store, asOf time.Time, log *slog.Logger) (*kpis.Report, error) {
	ko, err := kpis.Configure(cfg)
	if err != nil {
		return nil, configError{err}
	}
	ko.Store, ko.Refs, ko.AsOf, ko.Logger = s, scoring.BacktestKPIs, asOf, log
	return kpis.Run(ctx, ko)
}

// printScoreReport prints per model the leads per grade and stage and
// the backtest per environment.
func printScoreReport(w io.Writer, rep *scoring.Report) {
	for _, mr := range rep.Models {
		m := mr.Model
		state := "released"
		if !m.File.Released {
			state = "draft"
		}
		fmt.Fprintf(w, "%s (%s): %d leads scored as of %s in %s\n", m.Ref(), state, mr.Leads,
			rep.AsOf.Format("2006-01-02 15:04 MST"), mr.Took.Round(time.Millisecond))
		stages := []string{scoring.StageSalesReady, scoring.StageMarketingQualified, scoring.StageNotQualified}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  GRADE\tLEADS\tSALES READY\tMARKETING QUALIFIED\tNOT QUALIFIED")
		for _, g := range m.GradeNames() {
			var n uint64
			by := map[string]uint64{}
			for _, c := range mr.Counts {
				if c.Grade == g {
					n += c.Leads
					by[c.Stage] += c.Leads
				}
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\n", g, n, by[stages[0]], by[stages[1]], by[stages[2]])
		}
		tw.Flush()
		for _, b := range mr.Backtests {
			fmt.Fprintf(w, "  backtest %s: %d leads decided %s – %s, scored as of their decision:", b.Environment,
				b.Positives+b.Negatives, b.WindowStart.Format("2006-01-02"), b.AsOf.Format("2006-01-02"))
			for _, g := range b.Grades {
				if r, ok := g.Rate(); ok {
					fmt.Fprintf(w, " %s %.1f %% of %d,", g.Grade, 100*r, g.Decided)
				} else {
					fmt.Fprintf(w, " %s – of 0,", g.Grade)
				}
			}
			lift, auc := "–", "–"
			if v, ok := b.Lift(); ok {
				lift = fmt.Sprintf("%.2f", v)
			}
			if v, ok := b.AUC(); ok {
				auc = fmt.Sprintf("%.3f", v)
			}
			fmt.Fprintf(w, " lift %s, AUC %s\n", lift, auc)
			printRuleOutcomes(w, b)
		}
		if len(mr.Backtests) == 0 {
			fmt.Fprintf(w, "  backtest: no lead was decided in the %d days before %s\n", m.WindowDays(), rep.AsOf.Format("2006-01-02"))
		}
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "failed %s: %s\n", f.Ref, oneLine(f.Err.Error()))
	}
	fmt.Fprintf(w, "score run %s: %d scored, %d failed\n", rep.RunID, len(rep.Models), len(rep.Failed))
}

// printRuleOutcomes prints each rule's conversion among the decided leads
// it fired for, beside all decided leads': a rule whose leads convert
// worse than the rest may take the points it gives.
func printRuleOutcomes(w io.Writer, b scoring.Backtest) {
	all := b.Positives + b.Negatives
	if all == 0 {
		return
	}
	fmt.Fprintf(w, "  conversion when a rule fired (all decided leads: %.1f %%):", 100*float64(b.Positives)/float64(all))
	for i, r := range b.Rules {
		if i > 0 {
			fmt.Fprint(w, ",")
		}
		if r.Fired == 0 {
			fmt.Fprintf(w, " %s –", r.Rule)
			continue
		}
		fmt.Fprintf(w, " %s %.1f %% of %d", r.Rule, 100*float64(r.Qualified)/float64(r.Fired), r.Fired)
	}
	fmt.Fprintln(w)
}

func scoreList(e *env, args []string) error {
	fs := e.flagSet("score list", "score list --config FILE")
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, o, err := e.scoreModels(&c)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEFAULT\tVERSIONS\tRULES\tGRADES\tTITLE")
	for _, m := range o.Models.Defaults() {
		var files []*versioned.File
		for _, v := range o.Models.Versions(m.ID) {
			files = append(files, v.File)
		}
		rules := fmt.Sprint(m.RuleCount())
		if m.Combined() {
			comps, weights := m.Components()
			var parts []string
			for i, c := range comps {
				parts = append(parts, fmt.Sprintf("%g×%s", weights[i], c.Ref()))
			}
			rules += " (" + strings.Join(parts, " + ") + ")"
		}
		fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\t%s\n", m.ID, m.Version, versionList(files), rules, strings.Join(m.GradeNames(), " "), m.Title)
	}
	return tw.Flush()
}

func scoreShow(ctx context.Context, e *env, args []string) error {
	fs := e.flagSet("score show", "score show LEAD --config FILE   (LEAD: the lead's id or email address)")
	var c commonFlags
	c.register(fs)
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("name one lead by its id or email address: ampel score show LEAD")}
	}
	cfg, o, err := e.scoreModels(&c)
	if err != nil {
		return err
	}
	s, err := e.openWriting(ctx, cfg, e.logger(cfg.Log))
	if err != nil {
		return err
	}
	defer s.Close()
	x, err := scoring.Explain(ctx, s, o.Models, pos[0])
	if err != nil {
		return err
	}
	printExplanation(e.stdout, x)
	return nil
}

func printExplanation(w io.Writer, x *scoring.Explanation) {
	state := map[int]string{0: "open", 1: "qualified", 2: "disqualified"}[x.State]
	if x.Gone {
		fmt.Fprintf(w, "lead %s: no longer in the lead view (deleted from the source); its last scores:\n", x.LeadID)
		for _, h := range x.History {
			fmt.Fprintf(w, "  %s: %s %s %s\n", h.Model, h.ScoredAt.Format("2006-01-02 15:04"), scoreText(h.Score), h.Grade)
		}
		return
	}
	fmt.Fprintf(w, "lead %s: %s (%s), %s\n", x.LeadID, x.Name, x.Environment, state)
	if len(x.Current) == 0 {
		fmt.Fprintln(w, "no score yet: run ampel score run")
	}
	for _, cur := range x.Current {
		fmt.Fprintf(w, "\n%s: score %s, grade %s", cur.Model, scoreText(cur.Score), cur.Grade)
		if cur.Stage != "" {
			fmt.Fprintf(w, ", %s", strings.ReplaceAll(cur.Stage, "_", " "))
		}
		fmt.Fprintf(w, " (as of %s)\n", cur.AsOf.Format("2006-01-02 15:04"))
		printRules(w, cur)
		var hist []string
		for _, h := range x.History {
			if h.Model == cur.Model {
				hist = append(hist, fmt.Sprintf("%s %s %s", h.ScoredAt.Format("2006-01-02 15:04"), scoreText(h.Score), h.Grade))
			}
		}
		fmt.Fprintf(w, "  last runs: %s\n", strings.Join(hist, "; "))
		for _, d := range x.AtDecision {
			if d.Model == cur.Model {
				fmt.Fprintf(w, "  at its decision (%s): score %s, grade %s — what the backtest counts\n",
					d.DecidedAt.Format("2006-01-02 15:04"), scoreText(d.Score), d.Grade)
				printRules(w, d)
			}
		}
	}
}

// scoreText shows a score to two decimals, cut rather than rounded, so
// that 44.997 does not read as 45 beside its grade below 45.
func scoreText(f float64) string {
	return strconv.FormatFloat(math.Floor(f*100)/100, 'f', 2, 64)
}

func printRules(w io.Writer, sc scoring.Scored) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, r := range sc.Rules {
		fmt.Fprintf(tw, "    %s\t%+.1f\n", r, sc.Points[i])
	}
	if len(sc.Rules) == 0 {
		fmt.Fprintln(tw, "    no rule fired")
	}
	tw.Flush()
}

// runScoring scores the leads after a sync (ampel run) and logs the outcome.
func runScoring(ctx context.Context, cfg *config.Config, s warehouse.Store, log *slog.Logger) {
	o, err := scoring.Configure(cfg)
	if err != nil {
		log.Error("leads not scored", "error", oneLine(err.Error()))
		return
	}
	o.Store, o.Logger = s, log
	rep, err := scoring.Run(ctx, o)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("scoring stopped")
		return
	case err != nil:
		log.Error("scoring failed", "error", oneLine(err.Error()))
		return
	}
	for _, f := range rep.Failed {
		log.Error("model failed", "model", f.Ref, "error", oneLine(f.Err.Error()))
	}
	for _, mr := range rep.Models {
		log.Info("leads scored", "run", rep.RunID, "model", mr.Model.Ref(), "leads", mr.Leads, "took", mr.Took.Round(time.Millisecond))
	}
}
