// Package schedule runs jobs on cron schedules until it is stopped: each
// job a func(ctx) error with a name and a robfig/cron schedule. It knows
// nothing of what the jobs do.
//
//   - No overlap: a run that comes due while the job's last run is still
//     going is skipped and logged as missed ("run missed: the previous run
//     of this group is still going" — Ampel's jobs are its schedule
//     groups), at warning level on the job's logger.
//   - Panic recovery: a run that panics is logged with its stack and
//     counted as failed; the scheduler and the other jobs go on.
//   - Outcome: a job logs its own outcome, which it knows best (the rows
//     a sync wrote); the scheduler keeps the last one of each job in
//     Status, for /healthz and /metrics, and logs a returned error at
//     debug level only.
//   - Start and stop: with Options.RunAtStart every job runs once when Run
//     starts, so that after a restart the work catches up now rather than
//     at the next scheduled time. When ctx is canceled no run starts any
//     more; Run returns once every running job has returned, so a job
//     must return soon after its ctx is canceled.
//
// No overlap holds within one process; two processes on one warehouse
// take turns per job with the leases of package schedule/lease, which
// ampel run wraps around each job on a ClickHouse server.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Job is work that runs on a schedule.
type Job struct {
	// Name names the job in Status and, unless Logger is set, in logs.
	Name string
	// Spec is the schedule in robfig/cron's standard syntax: five fields
	// ("0 * * * *") or a descriptor ("@hourly", "@every 90s"), in the
	// machine's local time zone unless it starts with CRON_TZ=.
	Spec string
	// Run does the work. Its ctx is canceled when the scheduler stops.
	Run func(ctx context.Context) error
	// Logger gets the job's log lines (missed runs, panics); nil takes the
	// scheduler's, with "job" set to Name.
	Logger *slog.Logger
}

// Options tune a Scheduler.
type Options struct {
	// RunAtStart runs every job once when Run starts.
	RunAtStart bool
	// Logger gets the scheduler's logs; nil discards them.
	Logger *slog.Logger
}

// Status is what a job has done so far.
type Status struct {
	Name string
	// Running is true while a run is going.
	Running bool
	// Runs counts the runs started; Failed those that returned an error
	// or panicked; Missed the runs skipped because the last was going.
	Runs, Failed, Missed int
	// LastStart and LastDuration are those of the last run that ended;
	// LastErr is its error (nil if it succeeded).
	LastStart    time.Time
	LastDuration time.Duration
	LastErr      error
}

// PanicError is the error of a run that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// MissedMessage is the log message of a run skipped because the job's
// last run was still going.
const MissedMessage = "run missed: the previous run of this group is still going"

// Scheduler runs jobs on their schedules; see the package comment.
type Scheduler struct {
	opts Options
	log  *slog.Logger
	jobs []*entry
	runs sync.WaitGroup
}

type entry struct {
	job   Job
	sched cron.Schedule
	log   *slog.Logger

	mu      sync.Mutex
	running bool
	st      Status
}

// New checks the jobs' schedules and returns a Scheduler for them. A
// schedule that does not parse is an error that names its job.
func New(jobs []Job, opts Options) (*Scheduler, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{opts: opts, log: log}
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.Run == nil {
			return nil, fmt.Errorf("schedule %s: no work to run", j.Name)
		}
		if seen[j.Name] {
			return nil, fmt.Errorf("schedule %s: the name is taken by another job", j.Name)
		}
		seen[j.Name] = true
		sched, err := cron.ParseStandard(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", j.Name, err)
		}
		jl := j.Logger
		if jl == nil {
			jl = log.With("job", j.Name)
		}
		s.jobs = append(s.jobs, &entry{job: j, sched: sched, log: jl, st: Status{Name: j.Name}})
	}
	return s, nil
}

// Run runs the jobs on their schedules until ctx is canceled, then waits
// for the running ones to return. It returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	c := cron.New(cron.WithLogger(cronLogger{s.log}))
	for _, e := range s.jobs {
		c.Schedule(e.sched, cron.FuncJob(func() {
			s.runs.Add(1)
			defer s.runs.Done()
			s.fire(ctx, e)
		}))
	}
	if s.opts.RunAtStart {
		for _, e := range s.jobs {
			s.runs.Add(1)
			go func() {
				defer s.runs.Done()
				s.fire(ctx, e)
			}()
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done() // no scheduled run starts after this
	s.runs.Wait()
	return nil
}

// Status returns what each job has done so far, in the order of New.
func (s *Scheduler) Status() []Status {
	out := make([]Status, len(s.jobs))
	for i, e := range s.jobs {
		e.mu.Lock()
		out[i] = e.st
		e.mu.Unlock()
	}
	return out
}

// fire runs e's job now unless its last run is still going or the
// scheduler stops.
func (s *Scheduler) fire(ctx context.Context, e *entry) {
	e.mu.Lock()
	if ctx.Err() != nil {
		e.mu.Unlock()
		return
	}
	if e.running {
		e.st.Missed++
		e.mu.Unlock()
		e.log.Warn(MissedMessage)
		return
	}
	e.running = true
	e.st.Running = true
	e.st.Runs++
	e.mu.Unlock()

	start := time.Now()
	err := run(ctx, e.job.Run)
	took := time.Since(start)
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		e.log.Error("run panicked", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
	case err != nil:
		e.log.Debug("run ended with an error", "error", err)
	}

	e.mu.Lock()
	e.running = false
	e.st.Running = false
	e.st.LastStart, e.st.LastDuration, e.st.LastErr = start, took, err
	if err != nil {
		e.st.Failed++
	}
	e.mu.Unlock()
}

// run calls fn, turning a panic into a *PanicError.
func run(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// cronLogger sends robfig/cron's logs to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
