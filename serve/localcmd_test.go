package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// startLocal serves the local endpoint of a server with commands until
// the test ends and returns its socket, once it answers.
func startLocal(t *testing.T, commands serve.LocalCommand) string {
	t.Helper()
	f := newFixture(t, warehousetest.Embedded(t))
	s, err := serve.New(serve.Options{Store: f.st, Commands: commands})
	require.NoError(t, err)
	socket := filepath.Join(t.TempDir(), serve.LocalSocket)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeLocal(ctx, socket) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		return serve.LocalQuery(context.Background(), socket, "SELECT 1", "tsv", io.Discard) == nil
	}, time.Minute, 20*time.Millisecond)
	return socket
}

// TestLocalRun: a command line sent to the local endpoint runs in the
// serving process; its stdout and stderr come back each to its own
// writer, in order, large output whole, and its exit code with them.
func TestLocalRun(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, many frames' worth of reads
	socket := startLocal(t, func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		for i, a := range args {
			fmt.Fprintf(stdout, "out %d %s\n", i, a)
			fmt.Fprintf(stderr, "err %d\n", i)
		}
		if args[0] == "big" {
			_, _ = io.WriteString(stdout, big)
		}
		return len(args)
	})
	var out, errs bytes.Buffer
	code, err := serve.LocalRun(context.Background(), socket, []string{"kpi", "run", "--fail-on", "red"}, &out, &errs)
	require.NoError(t, err)
	require.Equal(t, 4, code)
	require.Equal(t, "out 0 kpi\nout 1 run\nout 2 --fail-on\nout 3 red\n", out.String())
	require.Equal(t, "err 0\nerr 1\nerr 2\nerr 3\n", errs.String())

	out.Reset()
	errs.Reset()
	code, err = serve.LocalRun(context.Background(), socket, []string{"big"}, &out, &errs)
	require.NoError(t, err)
	require.Equal(t, 1, code)
	require.Equal(t, "out 0 big\n"+big, out.String())
}

// TestLocalRunNoCommands: a server without Commands refuses every command
// line with an error that says so; no socket is ErrNoLocal.
func TestLocalRunNoCommands(t *testing.T) {
	socket := startLocal(t, nil)
	_, err := serve.LocalRun(context.Background(), socket, []string{"kpi", "list"}, io.Discard, io.Discard)
	require.EqualError(t, err, "the running ampel process: this process runs no commands for others")
	_, err = serve.LocalRun(context.Background(), filepath.Join(t.TempDir(), serve.LocalSocket), []string{"kpi", "list"}, io.Discard, io.Discard)
	require.ErrorIs(t, err, serve.ErrNoLocal)
}
