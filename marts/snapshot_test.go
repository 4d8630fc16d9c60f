package marts_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// fingerprint is a query that sums a hash of every row of a mart, with
// its count: two reads agree only when they saw the same rows.
func fingerprint(set marts.EntitySet, from string) string {
	cols := make([]string, len(set.Columns))
	for i, c := range set.Columns {
		cols[i] = fmt.Sprintf("ifNull(toString(%s), '\\\\N')", warehouse.QuoteIdentifier(c.Name))
	}
	return fmt.Sprintf("SELECT concat(toString(count()), ':', toString(sum(cityHash64(concat(%s))))) FROM %s",
		strings.Join(cols, ", '|', "), from)
}

// state reads the fingerprint of every mart in snapshot from its table.
func state(t *testing.T, st warehouse.Store, p *marts.Publisher, sets []marts.EntitySet, snapshot uint64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, set := range sets {
		out[set.Name] = one[string](t, st, fingerprint(set, p.Table(set.Name))+" WHERE _snapshot = ?", snapshot)
	}
	return out
}

// TestReadsSeeOneSnapshot is issue 15 point 2: a reader that reads every
// public mart in a loop while a sync, the audit, the scores and a KPI run
// write, and a Publish follows, sees each mart as one complete published
// state — the one before or the one after — and never a mix.
func TestReadsSeeOneSnapshot(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			ctx := context.Background()
			s := setUp(t, cfg, 300)
			s.run(t, "r1")
			p := newPublisher(t, s.st, marts.Options{})
			before, err := p.Publish(ctx, "test")
			require.NoError(t, err)
			sets, err := p.Sets(ctx)
			require.NoError(t, err)

			type read struct {
				set, got string
				round    int64
			}
			var (
				rounds  atomic.Int64
				tick    = make(chan struct{}, 1)
				stop    = make(chan struct{})
				reads   []read
				readErr error
				wg      sync.WaitGroup
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					round := rounds.Load() + 1
					for _, set := range sets {
						var got string
						rows, err := s.st.Query(ctx, fingerprint(set, p.View(set.Name)))
						if err == nil {
							if rows.Next() {
								err = rows.Scan(&got)
							}
							if err == nil {
								err = rows.Err()
							}
							rows.Close()
						}
						if err != nil {
							readErr = err
							return
						}
						reads = append(reads, read{set.Name, got, round})
					}
					rounds.Add(1)
					select {
					case tick <- struct{}{}:
					default:
					}
				}
			}()
			// waitRounds waits until a whole round of reads started after now.
			waitRounds := func() int64 {
				target := rounds.Load() + 2
				deadline := time.After(5 * time.Minute)
				for rounds.Load() < target {
					select {
					case <-tick:
					case <-deadline:
						t.Fatalf("the reader did not finish a round in 5 minutes")
					}
				}
				return target
			}
			waitRounds()
			s.sim.Mutate(40, 80, 20)
			s.run(t, "r2") // landing, findings, scores and KPI results change: the marts must not
			unpublished := waitRounds()
			after, err := p.Publish(ctx, "test")
			require.NoError(t, err)
			published := waitRounds()
			close(stop)
			wg.Wait()
			require.NoError(t, readErr)

			want := map[uint64]map[string]string{before: state(t, s.st, p, sets, before), after: state(t, s.st, p, sets, after)}
			require.NotEqual(t, want[before]["fact_lead"], want[after]["fact_lead"], "the second sync changed the leads")
			require.NotEqual(t, want[before]["kpi_history"], want[after]["kpi_history"], "the second KPI run added results")
			// rounds up to unpublished ended before Publish began: they must
			// see the state before; rounds from published began after it
			// returned: the state after; rounds in between either one
			var sawBefore, sawAfter int
			for _, r := range reads {
				switch {
				case r.round <= unpublished:
					require.Equal(t, want[before][r.set], r.got, "round %d (before Publish) read %s", r.round, r.set)
					sawBefore++
				case r.round >= published:
					require.Equal(t, want[after][r.set], r.got, "round %d (after Publish) read %s", r.round, r.set)
					sawAfter++
				default:
					require.Contains(t, []string{want[before][r.set], want[after][r.set]}, r.got,
						"round %d (during Publish) read %s: neither the snapshot before nor after", r.round, r.set)
				}
			}
			require.GreaterOrEqual(t, sawBefore, 2*len(sets), "whole rounds read the state before while the sync wrote")
			require.GreaterOrEqual(t, sawAfter, len(sets), "a whole round read the state after")
		})
	}
}

// TestPrune publishes on an injected clock: snapshots older than the keep
// time go, except the last two published.
func TestPrune(t *testing.T) {
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) { prune(t, cfg) })
	}
}

// prune is TestPrune on the warehouse cfg opens.
func prune(t *testing.T, cfg warehouse.Config) {
	ctx := context.Background()
	st := kpistest.OpenMigrated(t, cfg)
	start := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	now := start
	p := newPublisher(t, st, marts.Options{Keep: time.Hour, Now: func() time.Time { return now }})
	publish := func(at time.Duration) uint64 {
		now = start.Add(at)
		snap, err := p.Publish(ctx, "test")
		require.NoError(t, err)
		cur, err := p.Current(ctx)
		require.NoError(t, err)
		require.Equal(t, snap, cur)
		return snap
	}
	kept := func() []uint64 {
		snaps, err := p.Snapshots(ctx, "dim_date")
		require.NoError(t, err)
		return snaps
	}
	s1 := publish(0)
	s2 := publish(10 * time.Minute)
	require.Equal(t, []uint64{s1, s2}, kept())
	s3 := publish(20 * time.Minute)
	require.Equal(t, []uint64{s1, s2, s3}, kept(), "younger than an hour")
	s4 := publish(90 * time.Minute)
	require.Equal(t, []uint64{s3, s4}, kept(), "older than an hour, but the last two stay")
	s5 := publish(95 * time.Minute)
	require.Equal(t, []uint64{s4, s5}, kept())
	s6 := publish(96 * time.Minute)
	require.Equal(t, []uint64{s4, s5, s6}, kept())
	require.Zero(t, one[uint64](t, st, "SELECT count() FROM mart_dim_date WHERE _snapshot < ?", s4), "dropped partitions hold no rows")
	require.NotZero(t, one[uint64](t, st, "SELECT count() FROM bi_dim_date"))
	require.Equal(t, one[uint64](t, st, "SELECT count() FROM mart_dim_date WHERE _snapshot = ?", s6), one[uint64](t, st, "SELECT count() FROM bi_dim_date"))
	require.EqualValues(t, 6, one[uint64](t, st, "SELECT count() FROM mart_snapshots"), "every publish is recorded")
	require.Zero(t, one[uint64](t, st, "SELECT count() FROM bi_fact_lead"), "nothing synced: the facts are published empty")

	// a mart whose build fails publishes nothing and leaves nothing behind
	warehousetest.Exec(t, st, "CREATE VIEW lead AS SELECT 'sim' AS _environment, toUUID('00000000-0000-0000-0000-000000000001') AS leadid, 'x' AS statecode")
	now = start.Add(100 * time.Minute)
	_, err := p.Publish(ctx, "test")
	require.ErrorContains(t, err, "build mart fact_lead")
	cur, err := p.Current(ctx)
	require.NoError(t, err)
	require.Equal(t, s6, cur)
	require.Equal(t, []uint64{s4, s5, s6}, kept(), "the failed snapshot's partitions are dropped")
}
