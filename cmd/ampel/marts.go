package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/ampel/ampel/config"
	"github.com/ampel/ampel/marts"
	"github.com/ampel/ampel/warehouse"
)

// newPublisher makes the publisher of the BI marts for s, keeping old
// snapshots for serve.snapshot_keep, its dates in marts.timezone.
func newPublisher(cfg *config.Config, s warehouse.Store, log *slog.Logger) (*marts.Publisher, error) {
	return marts.New(s, marts.Options{Keep: cfg.Serve.SnapshotKeep.D(), Logger: log, Timezone: cfg.Marts.Timezone})
}

// publishMarts builds and publishes a snapshot of the BI marts after a
// command that changed what they show (reason names it).
func publishMarts(ctx context.Context, cfg *config.Config, s warehouse.Store, log *slog.Logger, reason string) error {
	p, err := newPublisher(cfg, s, log)
	if err != nil {
		return err
	}
	if _, err := p.Publish(ctx, reason); err != nil {
		return fmt.Errorf("publish the BI marts: %w", err)
	}
	return nil
}

// publishAfterRun is publishMarts in a scheduled job: a failure is logged,
// and the marts keep showing the snapshot before.
func publishAfterRun(ctx context.Context, p *marts.Publisher, log *slog.Logger, reason string) {
	if _, err := p.Publish(ctx, reason); err != nil {
		if ctx.Err() != nil {
			log.Info("marts not published: stopping")
			return
		}
		log.Error("marts not published", "error", oneLine(err.Error()))
	}
}

// printMarts lists the published marts: the public view, the rows, the title.
func printMarts(ctx context.Context, w io.Writer, p *marts.Publisher) error {
	counts, err := p.Counts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, m := range p.Marts() {
		fmt.Fprintf(tw, "%s\t%d rows\t%s\n", p.View(m.Name), counts[m.Name], m.Title)
	}
	return tw.Flush()
}
