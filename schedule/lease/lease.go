// Package lease keeps two ampel run processes on one ClickHouse server
// (two pods, one config) from syncing the same schedule group at once. Before
// a group's run a process takes the group's lease in the warehouse (table
// scheduler_leases, sql/schema/0011_scheduler_leases.sql), renews it every
// third of its length while the run goes, and releases it when the run
// ends. A run whose lease another process holds is skipped. A holder that
// dies (kill -9) stops renewing: its lease expires and the next run of the
// group in the other process takes it over and goes on from the saved sync
// state.
//
// # Taking a lease without compare-and-set
//
// ClickHouse 18.16 has no transactions and no conditional insert; what it
// has is inserts that become visible when they return, reads, and one
// clock, the server's. Every time below is the server's now() in whole
// seconds; a pod's clock is never used. A lease is an epoch of its group:
//
//  1. Read the group's newest epoch E. It is held when a claim of E is
//     marked won, not released and not expired, or while a claim of E is
//     younger than Decide seconds (a claim being decided); then the run
//     is skipped: a *HeldError names the holder and until when.
//  2. Insert a claim for epoch E+1 with a unique token; claimed_at = now()
//     is set by the server. Then read now() again: unless it is still
//     before claimed_at+Settle, the insert was too slow to be seen by every
//     rival, and the claim is abandoned (released).
//  3. Wait until the server's now() reaches claimed_at+Settle and read the
//     claims of E+1: the winner is the earliest (claimed_at, then token).
//     Only the winner goes on; it marks its claim won, then reads now()
//     again and abandons the claim unless that is still before
//     claimed_at+Decide.
//
// Why two claimers of one epoch cannot both win: say A's claim sorts before
// B's, so tA ≤ tB. B won, so its read in step 3, at a server time ≥ tB+Settle,
// did not see A's claim. A passed step 2, so A's insert had returned
// before tA+Settle ≤ tB+Settle — before B's read, which would have seen it.
// Contradiction. And a claimer of a later epoch cannot start while a won
// lease of E is alive: it reads E as held (step 1), or it reads E while
// E's winner had not yet marked its claim won — but the claimer only sees
// E as free once every claim of E is older than Decide, and a winner whose
// mark returned later than claimed_at+Decide abandons in step 3. What is
// left is the case no lease on a clock can exclude: a holder stopped (a
// paused VM) for longer than its lease loses it while it is frozen; on its
// next renewal it finds a newer epoch, and its run is canceled
// (ErrLost).
//
// The table grows by one row per claim (writes of one claim collapse under
// ReplacingMergeTree); a group synced every 15 minutes by two replicas adds
// about 200 short rows a day. 18.16 has no TTL; see README, "Running two
// replicas", for clearing old epochs.
//
// The embedded engine admits one process, so ampel run takes no lease on
// it; the logic is the same on both engines and is tested on both.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// Settle and Decide are the windows of the protocol in the package
// comment, in server seconds: a claim's insert must have returned before
// claimed_at+Settle, and its won mark before claimed_at+Decide.
const (
	Settle = 2
	Decide = 4
)

// ErrLost is the error of a renewal that finds the lease taken over: the
// holder was stopped for longer than its lease.
var ErrLost = errors.New("lease lost: another process took the group over")

// HeldError is why a lease was not taken: another process holds it, or
// is deciding a claim on it.
type HeldError struct {
	Group, Holder string
	// Until is when the hold ends unless it is renewed.
	Until time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("group %s held by %s until %s", e.Group, e.Holder, e.Until.UTC().Format(time.RFC3339))
}

// Holder returns an id for this process: host:pid:random.
func Holder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomHex(4))
}

// Manager takes leases in one warehouse for one holder.
type Manager struct {
	s      warehouse.Store
	holder string
	log    *slog.Logger
}

// New returns a Manager of s's leases for holder (see Holder); log (nil
// discards) gets renewals that failed and leases lost.
func New(s warehouse.Store, holder string, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{s: s, holder: holder, log: log}
}

// Holder is the id this Manager claims with.
func (m *Manager) Holder() string { return m.holder }

// Run takes group's lease for ttl and runs fn under it: the lease is
// renewed every ttl/3 while fn runs and released when fn returns. fn's ctx
// is canceled when the lease is lost (another process took the group
// over, or renewals failed until the lease ran out). When another process
// holds the lease, fn does not run and the error is a *HeldError.
func (m *Manager) Run(ctx context.Context, group string, ttl time.Duration, fn func(context.Context) error) error {
	l, err := m.Acquire(ctx, group, ttl)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(ttl/3, 100*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			err := l.Renew(rctx)
			switch {
			case rctx.Err() != nil:
				return
			case errors.Is(err, ErrLost):
				m.log.Error("lease lost: stopping the run", "group", group, "holder", m.holder)
				cancel(ErrLost)
				return
			case err != nil && time.Now().After(l.Until()):
				m.log.Error("lease ran out: renewals failed; stopping the run", "group", group, "error", err)
				cancel(ErrLost)
				return
			case err != nil:
				m.log.Warn("lease renewal failed; retrying", "group", group, "error", err)
			}
		}
	}()
	err = fn(rctx)
	cancel(nil)
	<-done
	if cause := context.Cause(rctx); errors.Is(cause, ErrLost) && err != nil {
		err = fmt.Errorf("%w: %w", ErrLost, err)
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer dcancel()
	if rerr := l.Release(dctx); rerr != nil {
		m.log.Warn("lease not released; it expires by itself", "group", group, "error", rerr)
	}
	return err
}

// Lease is a hold on a group, taken by Acquire.
type Lease struct {
	m       *Manager
	group   string
	epoch   uint64
	token   string
	claimed uint32
	secs    uint32

	mu  sync.Mutex
	seq uint64
	// Until is when the lease ends unless renewed (server time).
	until time.Time
}

// Group is the group the lease holds.
func (l *Lease) Group() string { return l.group }

// Until is when the lease ends unless it is renewed.
func (l *Lease) Until() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

type claim struct {
	token, holder    string
	claimed, expires uint32
	won, released    bool
	epoch            uint64
}

// Acquire takes group's lease for ttl (whole seconds, at least one), or
// returns a *HeldError when another process holds it.
func (m *Manager) Acquire(ctx context.Context, group string, ttl time.Duration) (*Lease, error) {
	secs := uint32(math.Ceil(ttl.Seconds()))
	if secs < 1 {
		return nil, fmt.Errorf("take lease of %s: the lease %s is shorter than a second", group, ttl)
	}
	now, err := m.now(ctx)
	if err != nil {
		return nil, fmt.Errorf("take lease of %s: %w", group, err)
	}
	epoch, claims, err := m.newest(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("take lease of %s: %w", group, err)
	}
	if held := heldBy(group, claims, now); held != nil {
		return nil, held
	}
	l := &Lease{m: m, group: group, epoch: epoch + 1, token: randomHex(12), secs: secs}
	err = m.s.Exec(ctx, "INSERT INTO scheduler_leases (grp, epoch, token, holder, claimed_at, expires_at, won, released, seq) SELECT ?, ?, ?, ?, now(), now() + ?, 0, 0, 1",
		group, l.epoch, l.token, m.holder, secs)
	if err != nil {
		return nil, fmt.Errorf("take lease of %s: claim: %w", group, err)
	}
	l.seq = 1
	mine, err := m.claims(ctx, group, l.epoch, l.token)
	if err != nil || len(mine) != 1 {
		return nil, fmt.Errorf("take lease of %s: read the claim back: %w", group, errors.Join(err, errNotFound(len(mine))))
	}
	l.claimed = mine[0].claimed
	if now, err = m.now(ctx); err != nil || now >= l.claimed+Settle {
		return nil, l.abandon(ctx, err, "the claim took too long to land")
	}
	if err := m.waitFor(ctx, l.claimed+Settle); err != nil {
		return nil, l.abandon(ctx, err, "")
	}
	rivals, err := m.claims(ctx, group, l.epoch, "")
	if err != nil {
		return nil, l.abandon(ctx, err, "")
	}
	first := rivals[0]
	for _, c := range rivals[1:] {
		if c.claimed < first.claimed || c.claimed == first.claimed && c.token < first.token {
			first = c
		}
	}
	if first.token != l.token {
		// lost: the claim stays as it is, the winner's sorts first
		return nil, &HeldError{Group: group, Holder: first.holder, Until: time.Unix(int64(first.expires), 0)}
	}
	if err := l.write(ctx, false); err != nil {
		return nil, l.abandon(ctx, err, "")
	}
	if now, err = m.now(ctx); err != nil || now >= l.claimed+Decide {
		return nil, l.abandon(ctx, err, "the claim was decided too late")
	}
	return l, nil
}

// heldBy says who holds group according to the claims of its newest
// epoch at server time now, or nil when it is free.
func heldBy(group string, claims []claim, now uint32) *HeldError {
	var deciding *claim
	for i, c := range claims {
		if c.won {
			if !c.released && c.expires > now {
				return &HeldError{Group: group, Holder: c.holder, Until: time.Unix(int64(c.expires), 0)}
			}
			return nil
		}
		if !c.released && c.claimed+Decide > now && (deciding == nil || c.claimed < deciding.claimed) {
			deciding = &claims[i]
		}
	}
	if deciding != nil {
		return &HeldError{Group: group, Holder: deciding.holder, Until: time.Unix(int64(deciding.claimed+Decide), 0)}
	}
	return nil
}

// Renew extends the lease by its length from now, or returns ErrLost when
// another process took the group over.
func (l *Lease) Renew(ctx context.Context) error {
	epoch, _, err := l.m.newest(ctx, l.group)
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.group, err)
	}
	if epoch != l.epoch {
		return ErrLost
	}
	if err := l.write(ctx, false); err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.group, err)
	}
	return nil
}

// Release gives the lease back, so that another process may take the group
// at once.
func (l *Lease) Release(ctx context.Context) error {
	if err := l.write(ctx, true); err != nil {
		return fmt.Errorf("release lease of %s: %w", l.group, err)
	}
	return nil
}

// write marks the claim won with a fresh expiry, or released.
func (l *Lease) write(ctx context.Context, release bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	rel := 0
	if release {
		rel = 1
	}
	err := l.m.s.Exec(ctx, "INSERT INTO scheduler_leases (grp, epoch, token, holder, claimed_at, expires_at, won, released, seq) SELECT ?, ?, ?, ?, toDateTime(?, 'UTC'), now() + ?, 1, ?, ?",
		l.group, l.epoch, l.token, l.m.holder, l.claimed, l.secs, rel, l.seq)
	if err != nil {
		return err
	}
	if !release {
		now, err := l.m.now(ctx)
		if err != nil {
			return err
		}
		l.until = time.Unix(int64(now+l.secs), 0) // at least; the row says now()+secs at its insert
	}
	return nil
}

// abandon releases a claim that may not go on, and returns cause (or an
// error saying why) for Acquire.
func (l *Lease) abandon(ctx context.Context, cause error, why string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	l.mu.Lock()
	l.seq++
	seq := l.seq
	l.mu.Unlock()
	err := l.m.s.Exec(rctx, "INSERT INTO scheduler_leases (grp, epoch, token, holder, claimed_at, expires_at, won, released, seq) SELECT ?, ?, ?, ?, toDateTime(?, 'UTC'), now(), 0, 1, ?",
		l.group, l.epoch, l.token, l.m.holder, l.claimed, seq)
	if cause == nil {
		cause = errors.New(why)
	}
	return fmt.Errorf("take lease of %s: %w", l.group, errors.Join(cause, err))
}

// newest returns group's newest epoch and its claims.
func (m *Manager) newest(ctx context.Context, group string) (uint64, []claim, error) {
	var epoch uint64
	rows, err := m.s.Query(ctx, "SELECT max(epoch) FROM scheduler_leases WHERE grp = ?", group)
	if err != nil {
		return 0, nil, fmt.Errorf("read leases: %w", err)
	}
	for rows.Next() {
		if err := rows.Scan(&epoch); err != nil {
			rows.Close()
			return 0, nil, fmt.Errorf("read leases: %w", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("read leases: %w", err)
	}
	if epoch == 0 {
		return 0, nil, nil
	}
	claims, err := m.claims(ctx, group, epoch, "")
	return epoch, claims, err
}

// claims reads the claims of group's epoch (token's alone unless empty),
// each in its latest state.
func (m *Manager) claims(ctx context.Context, group string, epoch uint64, token string) ([]claim, error) {
	q := "SELECT token, holder, toUInt32(claimed_at), toUInt32(expires_at), won, released FROM scheduler_leases FINAL WHERE grp = ? AND epoch = ?"
	args := []any{group, epoch}
	if token != "" {
		q += " AND token = ?"
		args = append(args, token)
	}
	rows, err := m.s.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	defer rows.Close()
	var out []claim
	for rows.Next() {
		c := claim{epoch: epoch}
		var won, rel uint8
		if err := rows.Scan(&c.token, &c.holder, &c.claimed, &c.expires, &won, &rel); err != nil {
			return nil, fmt.Errorf("read leases: %w", err)
		}
		c.won, c.released = won == 1, rel == 1
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	return out, nil
}

// now reads the server's clock.
func (m *Manager) now(ctx context.Context) (uint32, error) {
	rows, err := m.s.Query(ctx, "SELECT toUInt32(now())")
	if err != nil {
		return 0, fmt.Errorf("read the server's clock: %w", err)
	}
	defer rows.Close()
	var now uint32
	if !rows.Next() {
		return 0, fmt.Errorf("read the server's clock: no row: %w", rows.Err())
	}
	if err := rows.Scan(&now); err != nil {
		return 0, fmt.Errorf("read the server's clock: %w", err)
	}
	return now, nil
}

// waitFor waits until the server's clock reaches t.
func (m *Manager) waitFor(ctx context.Context, t uint32) error {
	for {
		now, err := m.now(ctx)
		if err != nil {
			return err
		}
		if now >= t {
			return nil
		}
		// the server's second may start any time within the next
		wait := time.Duration(t-now-1)*time.Second + 100*time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func errNotFound(n int) error {
	if n == 1 {
		return nil
	}
	return fmt.Errorf("%d rows of the claim", n)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
