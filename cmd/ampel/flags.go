package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ampel/ampel/config"
)

// errHelp is returned when --help was asked for and printed.
var errHelp = errors.New("help shown")

// usageError is a bad command line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

// configError is a bad or unreadable config file.
type configError struct{ err error }

func (c configError) Error() string { return c.err.Error() }

// notAvailable marks a subcommand a later version fills in.
type notAvailable struct{}

func (notAvailable) Error() string { return "not yet available" }

// flagSet makes a FlagSet whose --help prints to stdout and whose errors
// become usageErrors.
func (e *env) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("ampel "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: ampel %s\n\nFlags:\n", usage)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// argsTaken is how many arguments a command takes after its flags, by
// command name; a command not listed takes none, and -1 leaves the check
// to the command.
var argsTaken = map[string]int{"sql": -1, "kpi": -1, "kpi show": -1, "kpi release": -1, "score": -1, "score show": -1, "score release": -1, "audit review": -1, "audit release": -1, "doctor": 1}

// parse parses args; --help prints usage and returns errHelp. An argument
// the command does not take is a usage error: Go's flag package stops at
// the first argument that is not a flag, so "ampel sync --config f extra
// --full" would otherwise ignore "extra" and "--full" alike.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp // Parse has printed the usage
		}
		return usageError{err}
	}
	name := strings.TrimPrefix(fs.Name(), "ampel ")
	n, ok := argsTaken[name]
	if !ok {
		n = 0
	}
	if n >= 0 && fs.NArg() > n {
		return usageError{fmt.Errorf("unexpected argument %q: ampel %s takes flags only, and flags go before any argument (see ampel %s --help)", fs.Arg(n), name, name)}
	}
	return nil
}

// commonFlags are the flags every command with a config file takes.
type commonFlags struct {
	config    string
	logLevel  string
	logFormat string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "ampel.yaml", "the configuration `file`")
	fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error (default: the config's log.level)")
	fs.StringVar(&c.logFormat, "log-format", "", "text or json (default: the config's log.format)")
}

// load reads the config file named by --config.
// A command run for another process gets a copy of the serving process's
// config instead.
func (e *env) load(c *commonFlags) (*config.Config, error) {
	var cfg *config.Config
	if e.held != nil {
		cp := *e.held.cfg
		cfg = &cp
	} else {
		var err error
		if cfg, err = config.Load(c.config, e.getenv); err != nil {
			return nil, configError{err}
		}
	}
	if c.logLevel != "" {
		cfg.Log.Level = c.logLevel
	}
	if c.logFormat != "" {
		cfg.Log.Format = c.logFormat
	}
	return cfg, nil
}

// logger builds the logger the config asks for, writing to stderr.
func (e *env) logger(cfg config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts))
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// errNoEnvironments is the configuration error of a command that syncs
// when the config names no Dataverse environment.
func errNoEnvironments(cfg *config.Config) error {
	return configError{fmt.Errorf("%s: environments: none configured; add one (see README, Configuration)", cfg.File)}
}
