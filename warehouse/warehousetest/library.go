package warehousetest

import (
	"fmt"
	"os"
	"path/filepath"
)

// embeddedLibrary returns the libchdb the embedded tests load:
// AMPEL_LIBCHDB, or else the one deploy/install-libchdb.sh installs
// (${XDG_CACHE_HOME:-$HOME/.cache}/ampel/libchdb-26.7.3/libchdb.so). It
// is an error naming the set-up command when the file is missing.
func embeddedLibrary() (string, error) {
	lib := os.Getenv(EnvLibCHDB)
	from := EnvLibCHDB
	if lib == "" {
		lib, from = defaultLibrary(), "the default place"
	}
	if lib == "" {
		return "", fmt.Errorf("libchdb location unknown: set %s or run `%s`", EnvLibCHDB, LibrarySetupCommand)
	}
	if _, err := os.Stat(lib); err != nil {
		return "", fmt.Errorf("libchdb not found at %s (%s): run `%s` to install it", lib, from, LibrarySetupCommand)
	}
	return lib, nil
}

func defaultLibrary() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "ampel", "libchdb-26.7.3", "libchdb.so")
}
