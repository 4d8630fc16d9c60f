package serve_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/serve"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestLocalEndpoint: a statement sent to the local socket runs read-only
// in the serving process and streams its result; a refusal comes back as
// the same *warehouse.RefusedError; the socket is private and gone after.
func TestLocalEndpoint(t *testing.T) {
	f := newFixture(t, warehousetest.Embedded(t))
	f.publish(t, 1, makeLeads(4, ""))
	s, err := serve.New(serve.Options{Store: f.st})
	require.NoError(t, err)
	dir := t.TempDir()
	socket := filepath.Join(dir, serve.LocalSocket)
	require.ErrorIs(t, serve.LocalQuery(context.Background(), socket, "SELECT 1", "tsv", &bytes.Buffer{}), serve.ErrNoLocal)
	require.NoError(t, os.WriteFile(socket, nil, 0o600)) // a socket left behind by a process that ended

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeLocal(ctx, socket) }()
	var out bytes.Buffer
	require.Eventually(t, func() bool {
		out.Reset()
		return serve.LocalQuery(context.Background(), socket, "SELECT count() AS n FROM mart_leads", "csv", &out) == nil
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, "n\n4\n", out.String())
	fi, err := os.Stat(socket)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	err = serve.LocalQuery(context.Background(), socket, "SELECT * FROM system.users", "tsv", &out)
	var re *warehouse.RefusedError
	require.ErrorAs(t, err, &re)
	require.True(t, errors.Is(err, warehouse.ErrReadOnly))
	require.Contains(t, re.Reason, "system")
	require.Error(t, serve.LocalQuery(context.Background(), socket, "SELECT nope FROM mart_leads", "tsv", &out))
	require.ErrorContains(t, serve.LocalQuery(context.Background(), socket, "SELECT 1", "xml", &out), "unknown format")

	cancel()
	require.NoError(t, <-done)
	require.NoFileExists(t, socket)
}
