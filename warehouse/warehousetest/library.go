package warehousetest

import (
	"fmt"
	"os"

	"github.com/ampel/ampel/warehouse/embedded" // registers "embedded"
)

// embeddedLibrary returns the libchdb the embedded tests load:
// AMPEL_LIBCHDB, or else embedded.DefaultLibrary (where
// deploy/install-libchdb.sh puts it). It is an error naming the set-up
// command when the file is missing.
func embeddedLibrary() (string, error) {
	lib, from := os.Getenv(EnvLibCHDB), EnvLibCHDB
	if lib == "" {
		lib, from = embedded.DefaultLibrary(), "the default place"
	}
	if _, err := os.Stat(lib); err != nil {
		return "", fmt.Errorf("libchdb not found at %s (%s): run `%s` to install it", lib, from, LibrarySetupCommand)
	}
	return lib, nil
}
