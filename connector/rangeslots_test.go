package connector_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector"
	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// firstTakesSlots lets the first table's ranges start before the
// second's, then holds them until the second's ranges read beside them: it
// holds the second table's tracked read (the walk, which a ranged load's
// ranges wait for) until a range request of the first is in flight, and
// every range request of the first (a createdon $filter) until one of the
// second is. A sync whose first ranged table holds every range slot while
// another waits for one never gets past it.
type firstTakesSlots struct {
	base          http.RoundTripper
	first, second string // entity sets
	firstIn       chan struct{}
	secondIn      chan struct{}
	once1, once2  sync.Once
}

func (h *firstTakesSlots) RoundTrip(req *http.Request) (*http.Response, error) {
	q, _ := url.QueryUnescape(req.URL.RawQuery)
	set := strings.TrimPrefix(req.URL.Path, "/api/data/v9.2/")
	wait := func(c chan struct{}) error {
		select {
		case <-c:
			return nil
		case <-req.Context().Done():
			return req.Context().Err()
		}
	}
	switch {
	case set == h.first && strings.Contains(q, "$filter=createdon"):
		h.once1.Do(func() { close(h.firstIn) })
		if err := wait(h.secondIn); err != nil {
			return nil, err
		}
	case set == h.second && strings.Contains(q, "$filter=createdon"):
		h.once2.Do(func() { close(h.secondIn) })
	case set == h.second && strings.Contains(req.Header.Get("Prefer"), "odata.track-changes") && !strings.Contains(q, "$skiptoken"):
		if err := wait(h.firstIn); err != nil {
			return nil, err
		}
	}
	return h.base.RoundTrip(req)
}

// TestRangedLoadsShareRangeSlots: while two tables load in ranges, the
// first one's ranges do not take every parallel_ranges slot: the other's
// ranges read beside them (the run's first ranged table, the largest,
// once held them all while its INSERTs bound it and the other tables'
// ranges waited). Each table still loads in all its ranges, and the views
// equal the source.
func TestRangedLoadsShareRangeSlots(t *testing.T) {
	cfg := warehousetest.Embedded(t)
	st := openMigrated(t, cfg)
	sim := startSim(t, dvsim.Options{Seed: 76, Scale: 1200})
	tables := []connector.Table{{Name: "lead"}, {Name: "contact"}}
	// the tracked reads wait (holdWalk), so that the in-process
	// simulator's walk does not reach its end before the ranges start
	walks := &holdWalk{base: sim.Client().Transport}
	walks.held.Store(true)
	hold := &firstTakesSlots{base: walks, first: "leads", second: "contacts", firstIn: make(chan struct{}), secondIn: make(chan struct{})}
	// a bound, should the ranges wait for each other for ever
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := connector.Sync(ctx, connector.Options{Store: st, Client: viaClient(t, sim, hold, 50), Environment: "prod", Tables: tables,
		RunID: "share", ParallelTables: 2, ParallelRanges: 4})
	require.NoError(t, err)
	for _, r := range res {
		t.Logf("%s: %s %d rows, %d requests, %s: %s", r.Table, r.Status, r.Upserted, r.Requests, r.Finished.Sub(r.Started), r.Note)
		require.Equal(t, connector.StatusOK, r.Status, "%s: %v", r.Table, r.Err)
		require.Contains(t, r.Note, "loaded in 4 createdon ranges at once", r.Table)
	}
	requireViewsEqualSim(t, st, sim, tables, "prod", "two tables in ranges")
}
