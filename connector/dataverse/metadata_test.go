package dataverse_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dataverse/dataversetest"
	"github.com/stretchr/testify/require"
)

func TestEntityDefinition(t *testing.T) {
	t.Parallel()
	var paths []string
	var mu sync.Mutex
	h := dataversetest.MetadataHandler("testdata/metadata")
	c, _ := dataversetest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "Strong", r.Header.Get("Consistency"))
		mu.Lock()
		paths = append(paths, r.URL.RequestURI())
		mu.Unlock()
		h.ServeHTTP(w, r)
	}), nil)
	e, err := c.EntityDefinition(context.Background(), "lead")
	require.NoError(t, err)
	require.Equal(t, "leads", e.EntitySetName)
	require.Equal(t, "leadid", e.PrimaryIDAttribute)
	require.Equal(t, "fullname", e.PrimaryNameAttribute)
	require.True(t, e.ChangeTrackingEnabled)
	require.Equal(t, 4, e.ObjectTypeCode)

	require.Contains(t, paths, "/api/data/v9.2/EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet")
	require.Len(t, paths, 12, "table, attributes, ten casts (one of them missing)")

	owner := e.Attribute("ownerid")
	require.Equal(t, []string{"systemuser", "team"}, owner.Targets)
	require.True(t, owner.IsLookup())
	require.Equal(t, "_ownerid_value", owner.Property())
	require.Equal(t, "ownerid", e.Attribute("owneridname").AttributeOf)

	status := e.Attribute("statuscode")
	require.Len(t, status.Options, 7)
	require.Equal(t, dataverse.Option{Value: 5, Label: "Cannot Contact", State: 2}, status.Options[4])
	l, ok := e.Attribute("leadsourcecode").Label(8)
	require.True(t, ok)
	require.Equal(t, "Web", l)
	multi := e.Attribute("new_interests")
	require.True(t, multi.IsMultiSelect())
	require.Equal(t, "BI", multi.Options[2].Label, "global option set")
	require.Equal(t, []dataverse.Option{{Value: 0, Label: "Allow", State: -1}, {Value: 1, Label: "Do Not Allow", State: -1}}, e.Attribute("donotemail").Options)
	require.True(t, e.Attribute("estimatedclosedate").IsDateOnly())
	require.False(t, e.Attribute("createdon").IsDateOnly())
	require.Equal(t, 2, e.Attribute("estimatedamount").Precision)
	require.Equal(t, -1, e.Attribute("exchangerate").Precision, "decimal details missing: tolerated")
	require.False(t, e.Attribute("new_secret").IsValidForRead)
	require.True(t, e.Attribute("leadid").IsPrimaryID)
}

func TestEntityDefinitionUnknownTable(t *testing.T) {
	t.Parallel()
	c, _ := dataversetest.NewClient(t, dataversetest.MetadataHandler("testdata/metadata"), nil)
	_, err := c.EntityDefinition(context.Background(), "leed")
	require.ErrorIs(t, err, dataverse.ErrNotFound)
	require.Contains(t, err.Error(), "metadata of leed")
	_, err = c.EntityDefinition(context.Background(), "lead')/x")
	require.Error(t, err)
}

func TestRecordCount(t *testing.T) {
	t.Parallel()
	meta := dataversetest.MetadataHandler("testdata/metadata")
	withFunc, _ := dataversetest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/api/data/v9.2/RetrieveTotalRecordCount(EntityNames=['lead'])", r.URL.Path)
		_, _ = w.Write([]byte(`{"@odata.context":"x","EntityRecordCountCollection":{"Count":1,"IsReadOnly":false,"Keys":["lead"],"Values":[123456]}}`))
	}), nil)
	n, err := withFunc.RecordCount(context.Background(), "lead")
	require.NoError(t, err)
	require.EqualValues(t, 123456, n)

	fallback, _ := dataversetest.NewClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/data/v9.2/leads/$count" {
			_, _ = w.Write([]byte("\ufeff4321"))
			return
		}
		meta.ServeHTTP(w, r)
	}), nil)
	n, err = fallback.RecordCount(context.Background(), "lead")
	require.NoError(t, err)
	require.EqualValues(t, 4321, n)
}
