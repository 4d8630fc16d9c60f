package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestDemo runs ampel demo on a small simulated Dataverse: it syncs every
// table, prints the KPIs, and says that --addr serves nothing yet.
func TestDemo(t *testing.T) {
	lib := warehousetest.Embedded(t).Library
	data := filepath.Join(t.TempDir(), "demo")
	out, errOut, code := runAmpel(t, "demo", "--addr", "127.0.0.1:9999", "--scale", "100", "--data", data, "--library", lib)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	first, _, _ := strings.Cut(out, "\n")
	require.Equal(t, "--addr 127.0.0.1:9999: nothing is served yet (serving comes with ampel serve); the demo prints its results here", first)
	require.Regexp(t, `synced 14 tables, \d+ rows`, out)
	require.Contains(t, out, "KPIs (inputs from ")
	require.FileExists(t, filepath.Join(data, "ampel.yaml"))
	// the BI marts, published once at the end: every mart with its rows
	require.Contains(t, out, "BI marts, snapshot ")
	for _, m := range []string{"dim_date", "dim_user", "dim_account", "dim_contact", "fact_lead", "fact_opportunity", "fact_quote",
		"fact_order", "fact_invoice", "fact_activity", "fact_case", "kpi_latest", "kpi_history", "dq_findings", "sync_runs", "lead_scores"} {
		require.Regexp(t, `(?m)^bi_`+m+`\s+\d+ rows\s+\S`, out)
	}
	leads, errOut, code := runAmpel(t, "sql", "--config", filepath.Join(data, "ampel.yaml"), "SELECT count() FROM lead")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^bi_fact_lead\s+`+strings.TrimSpace(strings.Split(leads, "\n")[1])+` rows`, out, "one row per lead")

	// without --addr, no such line
	out, errOut, code = runAmpel(t, "demo", "--scale", "100", "--data", data, "--library", lib)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out, errOut)
	require.NotContains(t, out, "nothing is served")
}
