package check

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// root is the repository root: this module lives in deploy/check.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "cmd", "ampel"))
	require.NoError(t, err, "the repository root is two levels up from deploy/check")
	return dir
}

// path joins parts onto the repository root.
func path(t *testing.T, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{root(t)}, parts...)...)
}

// read returns a repository file's text.
func read(t *testing.T, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(path(t, parts...))
	require.NoError(t, err)
	return string(b)
}
