package embedded

import (
	"os"
	"path/filepath"
)

// EngineVersion is the chDB release this driver is built and tested for.
const EngineVersion = "26.7.3"

// DefaultLibrary is where deploy/install-libchdb.sh puts libchdb.so:
// ${XDG_CACHE_HOME:-$HOME/.cache}/ampel/libchdb-26.7.3/libchdb.so.
func DefaultLibrary() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "ampel", "libchdb-"+EngineVersion, "libchdb.so")
}
