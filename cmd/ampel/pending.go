package main

import "context"

// Subcommands that later work fills in: they parse --help and otherwise say
// they are not available yet (exit code 2).

func runServe(ctx context.Context, e *env, args []string) error {
	return pending(e, "serve", "serve --config FILE [--addr HOST:PORT]", args)
}

func pending(e *env, name, usage string, args []string) error {
	fs := e.flagSet(name, usage)
	var c commonFlags
	c.register(fs)
	fs.String("addr", "", "listen address")
	if err := parse(fs, args); err != nil {
		return err
	}
	return notAvailable{}
}
