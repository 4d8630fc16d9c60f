package dataverse_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
)

// TestEntityDefinitions reads every simulated table's metadata in one go
// and compares it with what the per-table requests read (Boolean labels
// aside: the bulk read leaves them out; it has more formats), counting requests; a second read
// at the same metadata version costs one request and returns the same
// snapshot; a schema change reads everything again.
func TestEntityDefinitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sim := startSim(t, dvsim.Options{})
	c := simClient(t, sim, nil)
	before := sim.Stats().ByKind["metadata"]
	md, err := c.EntityDefinitions(ctx, dvsim.TableNames, nil)
	require.NoError(t, err)
	require.NotEmpty(t, md.Version)
	require.Len(t, md.Entities, len(dvsim.TableNames))
	require.LessOrEqual(t, sim.Stats().ByKind["metadata"]-before, int64(1+len(dvsim.TableNames)))

	single := simClient(t, sim, nil)
	for _, name := range dvsim.TableNames {
		want, err := single.EntityDefinition(ctx, name)
		require.NoError(t, err)
		w := *want
		w.Attributes = append([]dataverse.Attribute(nil), want.Attributes...)
		for i := range w.Attributes {
			if w.Attributes[i].Type == "Boolean" {
				w.Attributes[i].Options = nil
			}
		}
		got := *md.Entities[name]
		got.Attributes = append([]dataverse.Attribute(nil), got.Attributes...)
		for i := range got.Attributes {
			if got.Attributes[i].Type != "DateTime" {
				got.Attributes[i].Format = "" // the bulk read has it for every type; only DateTime's is used
			}
		}
		require.Equal(t, &w, &got, name)
	}

	before = sim.Stats().ByKind["metadata"]
	again, err := c.EntityDefinitions(ctx, []string{"lead", "account"}, md)
	require.NoError(t, err)
	require.Equal(t, int64(1), sim.Stats().ByKind["metadata"]-before, "an unchanged version costs one request")
	require.Same(t, md.Entities["lead"], again.Entities["lead"])

	require.NoError(t, sim.AddColumn("lead", "new_rating", "Integer"))
	before = sim.Stats().ByKind["metadata"]
	fresh, err := c.EntityDefinitions(ctx, []string{"lead", "account"}, md)
	require.NoError(t, err)
	require.NotEqual(t, md.Version, fresh.Version)
	require.Greater(t, sim.Stats().ByKind["metadata"]-before, int64(1))
	require.NotNil(t, fresh.Entities["lead"].Attribute("new_rating"))
	require.Nil(t, md.Entities["lead"].Attribute("new_rating"))
}
