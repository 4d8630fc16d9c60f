package kpis_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis"
)

var update = flag.Bool("update", false, "rewrite docs/kpis.md from the definitions")

// TestCatalogPage fails when docs/kpis.md is not what the definitions
// generate; make kpi-docs (this test with -update) rewrites it.
func TestCatalogPage(t *testing.T) {
	page := kpis.CatalogPage(loadCatalog(t))
	file := filepath.Join("..", "docs", "kpis.md")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o755))
		require.NoError(t, os.WriteFile(file, []byte(page), 0o644))
	}
	have, err := os.ReadFile(file)
	require.NoError(t, err, "run make kpi-docs")
	require.Equal(t, page, string(have), "docs/kpis.md is stale: run make kpi-docs")
}
