package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ampel/ampel/schedule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// start runs s until the returned stop is called; stop waits for Run to
// return and says how long that took.
func start(t *testing.T, s *schedule.Scheduler) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			t0 := time.Now()
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context was canceled")
			}
			took = time.Since(t0)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestNoOverlap: a job whose run outlasts its interval never runs twice at
// once; the runs that came due meanwhile are logged as missed on the
// job's logger, and counted.
func TestNoOverlap(t *testing.T) {
	t.Parallel()
	log, buf := newLog()
	var now, most atomic.Int32
	release := make(chan struct{})
	s, err := schedule.New([]schedule.Job{{
		Name: "slow", Spec: "@every 1s", Logger: log.With("group", "slow"),
		Run: func(ctx context.Context) error {
			n := now.Add(1)
			defer now.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
	}}, schedule.Options{RunAtStart: true, Logger: log})
	require.NoError(t, err)
	stop := start(t, s)
	require.Eventually(t, func() bool { return s.Status()[0].Missed >= 1 }, 10*time.Second, 2*time.Millisecond, "a missed run")
	require.True(t, s.Status()[0].Running)
	close(release)
	require.Eventually(t, func() bool { return s.Status()[0].Runs >= 2 }, 10*time.Second, 2*time.Millisecond, "a second run")
	stop()
	st := s.Status()[0]
	require.Equal(t, int32(1), most.Load(), "never two runs at once")
	require.False(t, st.Running)
	require.Zero(t, st.Failed)
	require.Contains(t, buf.String(), `level=WARN msg="`+schedule.MissedMessage+`" group=slow`)
}

// TestPanicRecovered: a run that panics is logged with its stack and
// counted as failed; the job runs again on its schedule.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	log, buf := newLog()
	var runs atomic.Int32
	s, err := schedule.New([]schedule.Job{{
		Name: "fragile", Spec: "@every 1s",
		Run: func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				var m map[string]int
				m["boom"]++ // a nil map: panics
			}
			return nil
		},
	}}, schedule.Options{RunAtStart: true, Logger: log})
	require.NoError(t, err)
	stop := start(t, s)
	require.Eventually(t, func() bool { st := s.Status()[0]; return st.Runs >= 2 && !st.Running }, 10*time.Second, 2*time.Millisecond, "a run after the panic")
	stop()
	st := s.Status()[0]
	require.Equal(t, 1, st.Failed)
	require.NoError(t, st.LastErr, "the run after the panic succeeded")
	out := buf.String()
	require.Contains(t, out, `msg="run panicked" job=fragile panic="assignment to entry in nil map"`)
	require.Contains(t, out, "schedule_test.TestPanicRecovered", "the stack")
}

// TestErrorKept: a returned error is the job's to log; the scheduler keeps
// it in Status.
func TestErrorKept(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s, err := schedule.New([]schedule.Job{{Name: "failing", Spec: "@yearly", Run: func(context.Context) error { return boom }}},
		schedule.Options{RunAtStart: true})
	require.NoError(t, err)
	stop := start(t, s)
	require.Eventually(t, func() bool { return s.Status()[0].Failed == 1 }, 10*time.Second, 2*time.Millisecond, "the first run")
	stop()
	st := s.Status()[0]
	require.ErrorIs(t, st.LastErr, boom)
	require.Equal(t, 1, st.Runs)
	require.False(t, st.LastStart.IsZero())
}

// TestStopWaitsForRuns: Run returns only when the running jobs have
// returned, and starts none after its context is canceled; without
// RunAtStart a job waits for its schedule.
func TestStopWaitsForRuns(t *testing.T) {
	t.Parallel()
	var finished, lateRuns atomic.Int32
	started := make(chan struct{})
	s, err := schedule.New([]schedule.Job{
		{Name: "long", Spec: "@every 1s", Run: func(ctx context.Context) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // finishing the current batch
			finished.Add(1)
			return ctx.Err()
		}},
		{Name: "yearly", Spec: "0 0 1 1 *", Run: func(context.Context) error { lateRuns.Add(1); return nil }},
	}, schedule.Options{})
	require.NoError(t, err)
	stop := start(t, s)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start on its schedule")
	}
	took := stop()
	require.Equal(t, int32(1), finished.Load(), "Run returned after the running job")
	require.GreaterOrEqual(t, took, 50*time.Millisecond)
	require.Zero(t, lateRuns.Load(), "no RunAtStart: the yearly job did not run")
	for _, st := range s.Status() {
		require.False(t, st.Running, st.Name)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	_, err := schedule.New([]schedule.Job{{Name: "hourly", Spec: "every hour", Run: ok}}, schedule.Options{})
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "schedule hourly: "), err.Error())
	_, err = schedule.New([]schedule.Job{{Name: "a", Spec: "@hourly", Run: ok}, {Name: "a", Spec: "@daily", Run: ok}}, schedule.Options{})
	require.EqualError(t, err, "schedule a: the name is taken by another job")
	_, err = schedule.New([]schedule.Job{{Name: "empty", Spec: "@hourly"}}, schedule.Options{})
	require.EqualError(t, err, "schedule empty: no work to run")
}
