package warehouse_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse"
)

func TestInsertSettings(t *testing.T) {
	ctx := context.Background()
	assert.Nil(t, warehouse.InsertSettings(ctx))
	assert.Equal(t, ctx, warehouse.WithInsertSettings(ctx), "no settings: the same context")

	a := warehouse.WithInsertSettings(ctx, warehouse.InsertSetting{Name: "optimize_on_insert", Value: 0}, warehouse.InsertSetting{Name: "max_threads", Value: 1})
	b := warehouse.WithInsertSettings(a, warehouse.InsertSetting{Name: "max_threads", Value: 2}, warehouse.InsertSetting{Name: "x", Value: -3})
	assert.Equal(t, []warehouse.InsertSetting{{Name: "optimize_on_insert", Value: 0}, {Name: "max_threads", Value: 1}}, warehouse.InsertSettings(a), "the outer context keeps its own")
	assert.Equal(t, []warehouse.InsertSetting{{Name: "optimize_on_insert", Value: 0}, {Name: "max_threads", Value: 2}, {Name: "x", Value: -3}}, warehouse.InsertSettings(b), "a later one of the same name wins")

	clause, err := warehouse.SettingsClause(warehouse.InsertSettings(b))
	require.NoError(t, err)
	assert.Equal(t, " SETTINGS optimize_on_insert = 0, max_threads = 2, x = -3", clause)
	clause, err = warehouse.SettingsClause(nil)
	require.NoError(t, err)
	assert.Empty(t, clause)
	_, err = warehouse.SettingsClause([]warehouse.InsertSetting{{Name: "a = 1, readonly", Value: 0}})
	assert.ErrorContains(t, err, "letters, digits and underscores")
}
