package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestDemo runs ampel demo on a small simulated Dataverse: it syncs every
// table, prints the KPIs, then serves the cockpit and the feed at --addr
// with the demo key it prints, until SIGTERM.
func TestDemo(t *testing.T) {
	lib := warehousetest.Embedded(t).Library
	data := filepath.Join(t.TempDir(), "demo")
	addr := freeAddr(t)
	cmd, feed, key, out := startDemo(t, "--addr", addr, "--scale", "100", "--data", data, "--library", lib)
	require.Regexp(t, `synced 14 tables, \d+ rows`, out.String())
	require.Contains(t, out.String(), "KPIs (inputs from ")
	require.FileExists(t, filepath.Join(data, "ampel.yaml"))
	// the BI marts, published once before serving: every mart with its rows
	text := out.String()
	require.Contains(t, text, "BI marts, snapshot ")
	for _, m := range []string{"dim_date", "dim_user", "dim_account", "dim_contact", "fact_lead", "fact_opportunity", "fact_quote",
		"fact_order", "fact_invoice", "fact_activity", "fact_case", "kpi_latest", "kpi_history", "dq_findings", "sync_runs", "lead_scores"} {
		require.Regexp(t, `(?m)^bi_`+m+`\s+\d+ rows\s+\S`, text)
	}
	// ampel sql reads through the serving demo's local endpoint
	leads, errOut, code := runAmpel(t, "sql", "--config", filepath.Join(data, "ampel.yaml"), "SELECT count() FROM lead")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^bi_fact_lead\s+`+strings.TrimSpace(strings.Split(leads, "\n")[1])+` rows`, text, "one row per lead")

	// the feed serves the marts with the printed key, and nothing without it
	require.Equal(t, "http://"+addr+"/odata/", feed)
	code, _, body := fetch(t, feed, key)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"fact_lead"`, "the service document lists the marts")
	code, _, _ = fetch(t, feed, "")
	require.Equal(t, http.StatusUnauthorized, code)

	// one cockpit URL, filled once logged in with the demo key
	require.Contains(t, out.String(), "cockpit: http://"+addr+"/ ")
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm("http://"+addr+"/cockpit/login", url.Values{"key": {key}, "next": {"/"}})
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	require.Regexp(t, `data-phase="[a-z-]+" data-status="(green|amber|red|none)"`, string(page))
	stopDemo(t, cmd)
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
