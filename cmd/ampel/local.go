package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/serve"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
)

// Commands through the running process. The embedded engine admits one
// process per warehouse directory. While ampel run, ampel serve or ampel
// demo holds it, ampel kpi, ampel audit and ampel score send their command
// line to that process over its local endpoint (serve.LocalRun); it runs
// them in-process, on its own config and Store, and their output and exit
// code come back as they would have been. The writes (KPI results,
// findings, review marks, scores) so happen in the one process allowed to
// write. ampel doctor sends its warehouse checks alone (doctor warehouse)
// and checks the environments itself.
//
// The serving process runs only the command lines of localAllowed: the
// subcommands that read or write the warehouse or list the definitions,
// with the flags that only choose what to compute. Flags that name files or
// other places (--config, --out, --dir) are refused: the command runs with
// the serving process's config, and its output goes to the caller. Who may
// connect is decided by the socket's file mode (0600 in the private
// warehouse directory), as for ampel sql: no feed key.

// localAllowed lists, by command and subcommand ("" is the command
// without one), the flags a command line sent to the running process may
// carry; --log-level and --log-format are allowed everywhere. Every flag
// listed takes a value.
var localAllowed = map[string]map[string][]string{
	"kpi":   {"run": {"kpi", "fail-on", "as-of"}, "list": nil, "show": nil},
	"audit": {"": {"rule", "format", "as-of"}, "run": {"rule", "format", "as-of"}, "review": {"mark", "comment", "by"}, "list": nil},
	"score": {"run": {"model", "as-of"}, "list": nil, "show": nil},
	// the warehouse checks of ampel doctor, which checks the environments
	// itself, with its own config
	"doctor": {"warehouse": nil},
}

// localPositional is how many arguments after the subcommand a command
// line sent to the running process may carry.
var localPositional = map[string]int{"kpi show": 1, "score show": 1, "audit review": 1}

// localLine is a command line split into its command, subcommand, flags
// (name → value) and the other arguments.
type localLine struct {
	command, sub string
	flags        map[string]string
	pos          []string
}

// splitLocal splits args (command first) as the commands do: flags may
// stand anywhere, and every flag takes a value; a flag without one, a
// flag the subcommand does not take here and a command not on localAllowed
// are refused.
func splitLocal(args []string) (localLine, error) {
	var l localLine
	if len(args) == 0 {
		return l, errors.New("no command")
	}
	l.command = args[0]
	subs, ok := localAllowed[l.command]
	if !ok {
		return l, notLocal{fmt.Errorf("%q is not run for other processes: only kpi, audit, score and doctor warehouse are", l.command)}
	}
	l.flags = map[string]string{}
	var names []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			l.pos = append(l.pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue {
			if i+1 == len(args) {
				return l, fmt.Errorf("flag %s: no value", a)
			}
			i++
			value = args[i]
		}
		names = append(names, name)
		l.flags[name] = value
	}
	if len(l.pos) > 0 {
		l.sub, l.pos = l.pos[0], l.pos[1:]
	}
	allowed, ok := subs[l.sub]
	if !ok {
		return l, notLocal{fmt.Errorf("ampel %s %s is not run for other processes: only %s are", l.command, l.sub, strings.Join(localSubs(l.command), ", "))}
	}
	for _, n := range names {
		if n != "log-level" && n != "log-format" && !slices.Contains(allowed, n) {
			return l, fmt.Errorf("--%s is not taken by ampel %s sent to the running process (it runs on its own config and writes to you)", n, strings.TrimSpace(l.command+" "+l.sub))
		}
	}
	if n := localPositional[l.command+" "+l.sub]; len(l.pos) > n {
		return l, fmt.Errorf("unexpected argument %q", l.pos[n])
	}
	return l, nil
}

// notLocal is splitLocal's error for a command or subcommand the running
// process does not run for others (release, import-rules: they do not
// need the warehouse), as opposed to one it runs but not with these flags.
type notLocal struct{ err error }

func (n notLocal) Error() string { return n.err.Error() }

// localSubs lists a command's subcommands localAllowed takes.
func localSubs(command string) []string {
	var subs []string
	for sub := range localAllowed[command] {
		if sub != "" {
			subs = append(subs, command+" "+sub)
		}
	}
	slices.Sort(subs)
	return subs
}

// held is the warehouse a serving process holds, which the command lines
// it runs for others use.
type held struct {
	cfg   *config.Config
	store warehouse.Store
}

// heldStore is the held Store as a command sees it: its Close leaves the
// store open for the process that holds it.
type heldStore struct{ warehouse.Store }

// Close does nothing: the serving process closes the store.
func (heldStore) Close() error { return nil }

// openWriting opens the warehouse for a command that writes, as
// openMigrated does; a command run for another process gets the held
// Store, migrated first (ampel serve holds a warehouse without migrating it).
func (e *env) openWriting(ctx context.Context, cfg *config.Config, log *slog.Logger) (warehouse.Store, error) {
	if e.held == nil {
		return openMigrated(ctx, cfg, log)
	}
	if _, err := migrate.Up(ctx, e.held.store, ampelsql.Schema, migrate.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return heldStore{e.held.store}, nil
}

// localCommands runs the command lines sent to the local endpoint of a
// process that holds cfg's warehouse as s: those splitLocal takes, in
// process, with cfg and s; every other is refused with one line and exit
// code 2.
func localCommands(cfg *config.Config, s warehouse.Store) serve.LocalCommand {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		if _, err := splitLocal(args); err != nil {
			fmt.Fprintf(stderr, "ampel: refused by the running process: %s\n", oneLine(err.Error()))
			return exitUsage
		}
		e := &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: os.LookupEnv,
			held: &held{cfg: cfg, store: s}}
		return e.main(ctx, args)
	}
}

// exitStatus is the exit code of a command run by the running process;
// its output is written already.
type exitStatus struct{ code int }

func (x exitStatus) Error() string { return fmt.Sprintf("exit status %d", x.code) }

// viaLocal runs args (command first) in the process that holds the
// embedded warehouse, when one does and the command line is one it runs
// (splitLocal), or one it runs but not with these flags, which it refuses
// with one line; done reports whether it did. --config only finds the
// warehouse: the process runs the command on its own config. A review
// without --by is by this user.
func (e *env) viaLocal(ctx context.Context, args []string) (done bool, err error) {
	if e.held != nil {
		return false, nil // already in the serving process
	}
	file := "ampel.yaml"
	var sent []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" || a == "-help" {
			return false, nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "config" {
			if !hasValue {
				if i+1 == len(args) {
					return false, nil // the command reports it
				}
				i++
				value = args[i]
			}
			file = value
			continue
		}
		sent = append(sent, a)
	}
	l, err := splitLocal(sent)
	var nl notLocal
	if errors.As(err, &nl) {
		return false, nil // a command the process does not run: it runs here
	}
	cfg, err := config.Load(file, e.getenv)
	if err != nil || cfg.Warehouse.Driver != "embedded" {
		return false, nil // the command reports a bad config
	}
	if l.command == "audit" && l.sub == "review" {
		if _, ok := l.flags["by"]; !ok {
			if user, _ := e.getenv("USER"); strings.TrimSpace(user) != "" {
				sent = append(sent, "--by", user)
			}
		}
	}
	code, err := serve.LocalRun(ctx, filepath.Join(cfg.Warehouse.Path, serve.LocalSocket), sent, e.stdout, e.stderr)
	switch {
	case errors.Is(err, serve.ErrNoLocal):
		return false, nil
	case err != nil:
		return true, err
	case code != exitOK:
		return true, exitStatus{code}
	}
	return true, nil
}
