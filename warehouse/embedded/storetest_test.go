//go:build cgo

package embedded_test

import (
	"testing"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/storetest"
)

// TestStore runs the warehouse contract (warehouse/storetest) on the
// embedded engine, in this binary's shared data directory.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) warehouse.Store { return open(t) })
}
