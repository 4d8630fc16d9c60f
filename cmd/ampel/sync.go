package main

import "context"

func runSync(ctx context.Context, e *env, args []string) error {
	return pending(e, "sync", "sync --config FILE [--tables a,b] [--full]", args)
}

func runRun(ctx context.Context, e *env, args []string) error {
	return pending(e, "run", "run --config FILE", args)
}

func runDoctor(ctx context.Context, e *env, args []string) error {
	return pending(e, "doctor", "doctor --config FILE", args)
}

func runSimulate(ctx context.Context, e *env, args []string) error {
	return pending(e, "simulate", "simulate --addr HOST:PORT [--seed N] [--scale N] [--write-config FILE]", args)
}

func runDemo(ctx context.Context, e *env, args []string) error {
	return pending(e, "demo", "demo [--addr 127.0.0.1:8080] [--data DIR] [--scale N]", args)
}
