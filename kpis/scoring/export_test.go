package scoring

import (
	"context"
	"log/slog"

	"github.com/ampel/ampel/warehouse"
)

// SetBefore makes Run score as main did at bc6aca0, before the last
// performance change (on: the INSERT's blocks squashed to the engine's
// default size), or as it does (off), for BenchmarkScoring's before
// figure; it returns the previous setting.
func SetBefore(on bool) bool {
	was := before
	before = on
	return was
}

// LowCardinality returns the columns Run would lower-case through
// LowCardinality for the model ref (see lowCardinality).
func LowCardinality(ctx context.Context, s warehouse.Store, models *Set, ref string) (map[string]bool, error) {
	m, err := models.Resolve(ref)
	if err != nil {
		return nil, err
	}
	v, err := readViews(ctx, s)
	if err != nil {
		return nil, err
	}
	return lowCardinality(ctx, s, v, []*Model{m}, slog.New(slog.DiscardHandler)), nil
}
