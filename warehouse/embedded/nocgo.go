//go:build !cgo

package embedded

import (
	"context"
	"errors"

	"github.com/ampel/ampel/warehouse"
)

// ErrNoCgo is what opening the embedded driver returns in a binary built
// without cgo (CGO_ENABLED=0): the engine is a C library, and such a
// binary has the clickhouse driver only.
var ErrNoCgo = errors.New("this ampel was built without cgo and has no embedded engine: " +
	"use warehouse.driver: clickhouse, or build ampel with cgo (CGO_ENABLED=1 and a C compiler, as make build does)")

func init() {
	warehouse.Register("embedded", func(context.Context, warehouse.Config) (warehouse.Store, error) { return nil, ErrNoCgo })
}
