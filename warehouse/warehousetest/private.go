package warehousetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// RequirePrivate fails tb unless dir and every directory below it are
// 0700 and every file below it 0600 (symbolic links have no mode of their
// own), and it holds at least min files.
func RequirePrivate(tb testing.TB, dir string, min int) {
	tb.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		switch mode := info.Mode().Perm(); {
		case d.IsDir() && mode != 0o700:
			tb.Errorf("directory %s has mode %o, want 700", path, mode)
		case info.Mode().IsRegular() && mode != 0o600:
			tb.Errorf("file %s has mode %o, want 600", path, mode)
		case info.Mode().IsRegular():
			files++
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("warehousetest: walk %s: %v", dir, err)
	}
	if files < min {
		tb.Fatalf("warehousetest: %s holds %d files, want at least %d", dir, files, min)
	}
}
