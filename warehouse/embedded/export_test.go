//go:build cgo

package embedded

import (
	"context"

	"github.com/ampel/ampel/warehouse"
)

// QueryUnchecked runs q on one of st's read-only connections (readonly=1)
// without the read-only checks in Go (warehouse.CheckReadOnly,
// CheckExplainAST), so that tests see what the engine alone allows. It
// returns the result as TabSeparated.
func QueryUnchecked(ctx context.Context, st warehouse.Store, q string) (string, error) {
	s := st.(*Store)
	c, err := s.acquire(ctx, true)
	if err != nil {
		return "", err
	}
	var out string
	broken, err := s.run(ctx, c, q, "TabSeparated", func(b []byte) error {
		out = string(b)
		return nil
	})
	s.release(c, true, broken)
	return out, err
}

// ExplainAST returns the engine's EXPLAIN AST output for q, as the
// driver's second read-only check reads it.
func ExplainAST(ctx context.Context, st warehouse.Store, q string) (string, error) {
	s := st.(*Store)
	c, err := s.acquire(ctx, true)
	if err != nil {
		return "", err
	}
	tree, broken, err := s.explainAST(ctx, c, q)
	s.release(c, true, broken)
	return tree, err
}

// BatchCapacity is the room of the buffers of b's open block, in bytes.
func BatchCapacity(b warehouse.Batch) int {
	n := 0
	var add func(c *nativeColumn)
	add = func(c *nativeColumn) {
		n += cap(c.nulls) + cap(c.data) + cap(c.offsets)
		if c.elem != nil {
			add(c.elem)
		}
	}
	for _, c := range b.(*batch).cur.cols {
		add(c)
	}
	return n
}

// ProbeRows is probeRows.
const ProbeRows = probeRows
