// Command ampel keeps Dynamics 365 / Dataverse sales data in ClickHouse,
// computes versioned KPIs on it, audits its quality and serves it to Power
// BI. Run "ampel help" for the subcommands.
//
// This package holds no business logic: each file parses one subcommand's
// flags and calls the packages that do the work. Everything it takes from
// the process (arguments, environment, standard streams) comes through one
// env value, so the commands are testable in-process.
//
// Exit codes:
//
//	0  success
//	1  the command failed (a sync, a query, a migration…)
//	2  usage error, or a subcommand that is not available yet
//	3  configuration error (also a KPI definition or inputs file that is wrong)
//	4  ampel kpi run --fail-on red|amber: a KPI result reached that status
//	130 interrupted (SIGINT/SIGTERM) before the work was done
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// Exit codes; see the package comment.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitConfig      = 3
	exitKPIGate     = 4
	exitInterrupted = 130
)

// env is everything a command takes from the process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) (string, bool)
	// isTerminal reports whether stderr is a terminal (progress display).
	isTerminal bool
	// held is set when the command runs in the process that holds the
	// warehouse, for another process (local.go): it uses that process's
	// config and Store.
	held *held
	// setMemoryLimit is debug.SetMemoryLimit in the process's own main;
	// nil where the command shares a process (tests, commands the
	// running process runs for another): the limit is the process's.
	setMemoryLimit func(int64) int64
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run parses args and does the work.
	run func(ctx context.Context, e *env, args []string) error
}

// commands lists the subcommands in the order help shows them.
var commands []command

func init() {
	commands = []command{
		{"demo", "simulated Dataverse → embedded warehouse → KPIs → audit → served", runDemo},
		{"simulate", "run the Dataverse simulator", runSimulate},
		{"sync", "sync Dataverse tables into the warehouse", runSync},
		{"kpi", "run, list or show KPI definitions", runKPI},
		{"score", "score leads with versioned models, judge them, explain a lead", runScore},
		{"audit", "run the data-quality audit, review its findings", runAudit},
		{"sql", "run a read-only query on the warehouse", runSQL},
		{"serve", "serve the OData feed, cockpit, /healthz and /metrics", runServe},
		{"run", "scheduled syncs and serving, until SIGTERM", runRun},
		{"migrate", "apply pending schema migrations", runMigrate},
		{"backup", "copy the embedded warehouse to a directory", runBackup},
		{"restore", "fill a new embedded warehouse from a backup", runRestore},
		{"doctor", "check auth, permissions, change tracking and the warehouse", runDoctor},
		{"version", "print the version", runVersion},
	}
}

func main() {
	e := &env{
		stdin:      os.Stdin,
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.LookupEnv,
		isTerminal: isTerminal(os.Stderr),

		setMemoryLimit: debug.SetMemoryLimit,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := e.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs one command line and returns the exit code.
func (e *env) main(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return e.main(ctx, []string{args[1], "--help"})
		}
		e.usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		return e.report(ctx, c.name, err)
	}
	fmt.Fprintf(e.stderr, "ampel: unknown command %q; run \"ampel help\" for the list\n", args[0])
	return exitUsage
}

func (e *env) usage(w io.Writer) {
	fmt.Fprintln(w, "Ampel keeps Dataverse sales data in ClickHouse, computes KPIs, audits data quality and serves Power BI.")
	fmt.Fprintln(w, "\nUsage: ampel <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"ampel <command> --help\" for a command's flags.")
}

// report turns a command's error into one line on stderr and an exit code.
func (e *env) report(ctx context.Context, name string, err error) int {
	var ue usageError
	var ce configError
	var na notAvailable
	var gate kpiGate
	var xs exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &xs):
		return xs.code // the running process has reported it
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "ampel %s: %v\n", name, ue.err)
		return exitUsage
	case errors.As(err, &na):
		fmt.Fprintf(e.stderr, "ampel %s: not yet available\n", name)
		return exitUsage
	case errors.As(err, &gate):
		fmt.Fprintf(e.stderr, "ampel %s: %s\n", name, oneLine(gate.Error()))
		return exitKPIGate
	case errors.As(err, &ce):
		fmt.Fprintf(e.stderr, "ampel %s: %s\n", name, oneLine(ce.err.Error()))
		return exitConfig
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintf(e.stderr, "ampel %s: interrupted\n", name)
		return exitInterrupted
	default:
		fmt.Fprintf(e.stderr, "ampel %s: %s\n", name, oneLine(err.Error()))
		return exitFailed
	}
}
