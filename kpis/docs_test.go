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

// TestBuiltinCatalog loads the built-in definitions: a released file that
// changed fails here (and every command refuses to run it), and every
// built-in KPI's default version is released.
func TestBuiltinCatalog(t *testing.T) {
	c := loadCatalog(t)
	require.GreaterOrEqual(t, len(c.IDs()), 30)
	for _, d := range c.Defaults() {
		require.True(t, d.File.Released, "%s is a draft: release it with make kpi-release KPI=%s", d.Ref(), d.Ref())
	}
}
