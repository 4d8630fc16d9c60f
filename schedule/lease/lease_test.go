package lease_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/schedule/lease"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/migrate"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

// migrated opens a fresh migrated database of cfg's engine, and returns a
// function that opens more stores on it: on the server each claimer gets
// its own connection, as separate processes would; the embedded engine
// admits one store per process, so its claimers share it.
func migrated(t *testing.T, cfg warehouse.Config) (warehouse.Store, func() warehouse.Store) {
	t.Helper()
	s := warehousetest.Open(t, cfg)
	_, err := migrate.Up(warehousetest.Context(t), s, ampelsql.Schema, migrate.Options{})
	require.NoError(t, err)
	return s, func() warehouse.Store {
		if cfg.Driver != "clickhouse" {
			return s
		}
		o, err := warehouse.Open(warehousetest.Context(t), cfg)
		require.NoError(t, err)
		t.Cleanup(func() { o.Close() })
		return o
	}
}

// twoClaimers returns two Managers, holders a:1:x and b:2:y, on a fresh
// migrated database of cfg's engine.
func twoClaimers(t *testing.T, cfg warehouse.Config) (context.Context, *lease.Manager, *lease.Manager) {
	t.Helper()
	_, open := migrated(t, cfg)
	return warehousetest.Context(t), lease.New(open(), "a:1:x", nil), lease.New(open(), "b:2:y", nil)
}

// TestRace has many claimers take one group's lease at the same moment,
// round after round: exactly one wins each round, the others are told who
// holds it.
func TestRace(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) { race(t, cfg) })
	}
}

// race is TestRace on the warehouse cfg opens.
func race(t *testing.T, cfg warehouse.Config) {
	ctx := warehousetest.Context(t)
	_, open := migrated(t, cfg)
	const claimers, rounds = 8, 3
	ms := make([]*lease.Manager, claimers)
	for i := range ms {
		ms[i] = lease.New(open(), fmt.Sprintf("test:%d:%d", i, i), nil)
	}
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		won := make([]*lease.Lease, claimers)
		errs := make([]error, claimers)
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				won[i], errs[i] = m.Acquire(ctx, "sales", time.Minute)
			}()
		}
		close(start)
		wg.Wait()
		var winner *lease.Lease
		var holder string
		for i := range ms {
			if won[i] != nil {
				require.Nil(t, winner, "round %d: two claimers won", round)
				winner, holder = won[i], ms[i].Holder()
				continue
			}
			var held *lease.HeldError
			require.ErrorAs(t, errs[i], &held, "round %d claimer %d", round, i)
		}
		require.NotNil(t, winner, "round %d: nobody won: %v", round, errs)
		for i := range ms {
			var held *lease.HeldError
			if errors.As(errs[i], &held) && held.Holder == holder {
				require.Equal(t, "sales", held.Group)
			}
		}
		// while it is held, a late claimer is refused and told by whom
		_, err := ms[0].Acquire(ctx, "sales", time.Minute)
		var held *lease.HeldError
		require.ErrorAs(t, err, &held)
		require.Equal(t, holder, held.Holder)
		require.NoError(t, winner.Release(ctx))
	}
}

// TestTakeOver: a holder that stops renewing (as after kill -9) loses the
// group to another claimer within one lease period, and finds it lost.
func TestTakeOver(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) { takeOver(t, cfg) })
	}
}

// takeOver is TestTakeOver on the warehouse cfg opens.
func takeOver(t *testing.T, cfg warehouse.Config) {
	ctx, a, b := twoClaimers(t, cfg)
	const ttl = 3 * time.Second
	la, err := a.Acquire(ctx, "sales", ttl)
	require.NoError(t, err)
	died := time.Now()
	var lb *lease.Lease
	deadline := died.Add(ttl + (lease.Decide+1)*time.Second)
	for lb == nil {
		require.True(t, time.Now().Before(deadline), "b did not take the group over within the lease")
		lb, err = b.Acquire(ctx, "sales", ttl)
		if err != nil {
			var held *lease.HeldError
			require.ErrorAs(t, err, &held)
			require.Equal(t, "a:1:x", held.Holder)
		}
	}
	require.GreaterOrEqual(t, time.Since(died), ttl-time.Second, "taken over before the lease ran out")
	require.ErrorIs(t, la.Renew(ctx), lease.ErrLost)
	require.NoError(t, lb.Renew(ctx))
}

// TestRun: a lease kept by Run outlives its length while the run goes,
// and is free the moment the run returns.
func TestRun(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx, a, b := twoClaimers(t, cfg)
			const ttl = 3 * time.Second
			err := a.Run(ctx, "sales", ttl, func(ctx context.Context) error {
				end := time.Now().Add(2 * ttl)
				for time.Now().Before(end) {
					_, err := b.Acquire(ctx, "sales", ttl)
					var held *lease.HeldError
					require.ErrorAs(t, err, &held, "the renewed lease was taken")
					require.Equal(t, "a:1:x", held.Holder)
				}
				return nil
			})
			require.NoError(t, err)
			lb, err := b.Acquire(ctx, "sales", ttl)
			require.NoError(t, err, "released lease not free")
			require.NoError(t, lb.Release(ctx))
		})
	}
}
