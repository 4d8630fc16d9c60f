package main

import (
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestDemo runs ampel demo on a small simulated Dataverse: it syncs every
// table, prints the KPIs, then serves the feed at --addr with the demo key
// it prints, until SIGTERM.
func TestDemo(t *testing.T) {
	lib := warehousetest.Embedded(t).Library
	data := filepath.Join(t.TempDir(), "demo")
	addr := freeAddr(t)
	cmd, feed, key, out := startDemo(t, "--addr", addr, "--scale", "100", "--data", data, "--library", lib)
	require.Regexp(t, `synced 14 tables, \d+ rows`, out.String())
	require.Contains(t, out.String(), "KPIs (inputs from ")
	require.FileExists(t, filepath.Join(data, "ampel.yaml"))
	require.Equal(t, "http://"+addr+"/odata/", feed)
	code, _, body := fetch(t, feed, key)
	require.Equal(t, http.StatusOK, code, body)
	code, _, _ = fetch(t, feed, "")
	require.Equal(t, http.StatusUnauthorized, code)
	stopDemo(t, cmd)
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
