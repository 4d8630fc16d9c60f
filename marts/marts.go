// Package marts builds the BI marts — the flat, labelled tables Power BI
// reads — and publishes them as snapshots, so that a reader never sees
// half a sync.
//
// # The marts
//
// Each mart is a versioned definition in sql/marts (<id>/v<N>.sql, read
// with package versioned; a mart changes by a new version): a YAML header
// with its title, description, key, the synced tables it reads (sources)
// and its columns with their ClickHouse types, then one SELECT over the
// current-state views (warehouse/landing), kpi_results, dq_findings_current,
// sync_runs and lead_score. The SELECT is the common subset of both engines
// (ClickHouse 18.16 and 26.7: no CTE, no window functions, one JOIN per
// SELECT) or a variant per engine written as a template on .Dialect; it
// reads each of its sources as {{.From.<source>}} (see Mart.Sources) and
// writes SQL keywords in capitals, column names in lower case.
//
// Conventions every mart keeps, for Power BI (its ClickHouse connector's
// DirectQuery fails on aggregates of Nullable columns): readable snake_case column names; a choice's label beside
// its code (state, state_code); numbers and texts are never Nullable (a
// missing number is 0, a missing code -1, a missing text ”), Int64 rather
// than UInt64, Decimal for money (the base currency's _base column); times
// are DateTime('UTC') (created_on, modified_on are never empty: 1970-01-01
// stands for a missing one), dates are Date; only dates and times that are
// often unknown (a close date, a resolution time) and a KPI's value (empty
// when the KPI has none) are Nullable. Every key is a String that holds
// the environment: <environment>|<id> — Power BI relates tables on one
// column, so fact_lead.owner_key relates to dim_user.user_key,
// account_key to dim_account.account_key and so on; a lookup that is empty
// or points elsewhere (an owner that is a team) is ”. dim_date is the
// one mart without an environment: a date is the same in every one; the
// facts' *_date columns relate to dim_date.date.
//
// # Dates in the business time zone
//
// A Date a mart derives from a time (created_date, period_date,
// first_seen_date, started_date) is the day in Options.Timezone (config
// marts.timezone, by default kpis.timezone, else UTC): toDate(x, {{.TZ}})
// in the SELECT, which both engines have. So a lead created at 23:30 UTC
// on 31 October is on 1 November in Europe/Berlin, and a KPI month cut in
// Berlin has its period_date on the 1st. The times themselves stay UTC
// instants (DateTime('UTC'); Power BI's DateTimeOffset). kpi_history and
// kpi_latest take period_date in the marts' zone too, not in the zone a
// run cut its periods in (kpi_runs.timezone): with marts.timezone unlike
// kpis.timezone a period's date is the day its start falls on in the
// marts' zone. Date-only columns (a close date, a due date) are days as
// Dataverse holds them and are not converted. dim_date runs to the end of
// the fifth year after the current year in that zone.
//
// # Snapshots
//
// A mart is a table mart_<name> (MergeTree, PARTITION BY _snapshot, ORDER
// BY _snapshot and the key) whose column _snapshot says which snapshot a
// row belongs to. Publish builds a new snapshot: one INSERT … SELECT per
// mart into the new partition, then one INSERT into mart_snapshots (the
// pointer table of migration 0008) publishes all of them at once. The
// public views bi_<name> (the marts' names are taken: dq_findings and
// sync_runs are Ampel's own tables) read
//
//	WHERE _snapshot = (SELECT max(snapshot) FROM mart_snapshots)
//
// so every query a reader sends sees one complete snapshot: the marts
// before the sync, KPI run or audit, or after it. ClickHouse's Power BI
// connector reads the bi_ views; the OData feed (issue 15) reads
// Table(set) WHERE _snapshot = Current, pinned for all pages of one
// request, so that its paging stays on one snapshot (which stays readable
// for Options.Keep after a newer one is published).
// A snapshot whose build failed is never published, and a later Publish
// drops it.
//
// A snapshot's number is the publishing time in Unix nanoseconds, raised
// past the highest snapshot already published when the clock says
// otherwise; so two processes publishing at once (ampel run and ampel kpi
// run on one server) never take one number, and the later number wins.
//
// Old snapshots stay for Options.Keep (serve.snapshot_keep, default 1h) —
// a Power BI refresh that pinned one can finish — and the last two
// published are always kept; older ones are dropped with ALTER TABLE …
// DROP PARTITION after each Publish. mart_snapshots keeps a row for every
// published snapshot: the history of publishing.
//
// A mart whose source table is not synced is published empty; a column
// it reads that the table lacks (synced with exclude_columns) is NULL in
// its SELECT, so the mart shows the column's default. A new
// version of a mart with other columns drops its table and creates it
// again on the next Publish: readers of that mart see it empty for the
// moment of that one build.
package marts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
)

// DefaultKeep is how long old snapshots are kept unless Options.Keep says
// otherwise.
const DefaultKeep = time.Hour

// ViewPrefix starts the names of the public views: bi_fact_lead.
const ViewPrefix = "bi_"

// TablePrefix starts the names of the marts' tables: mart_fact_lead.
const TablePrefix = "mart_"

// SnapshotColumn names the column of a mart's table that says which
// snapshot a row belongs to.
const SnapshotColumn = "_snapshot"

// EntitySet is one published mart.
type EntitySet struct {
	// Name is the mart's name, e.g. "fact_lead".
	Name string
	// Key names the columns that identify a row.
	Key []string
	// Columns are the mart's columns in order (not _snapshot), with their
	// ClickHouse types as the definition declares them and the table has
	// them: String, Int64, Float64, UUID, Date, DateTime('UTC'),
	// Decimal(P, S), and Nullable(Float64), Nullable(Date) or
	// Nullable(DateTime('UTC')) where a value may be missing.
	Columns []warehouse.Column
	// Description says what a row is.
	Description string
}

// Options configure a Publisher.
type Options struct {
	// Keep is how long a snapshot stays after a newer one is published
	// (the last two published stay whatever their age). Zero means
	// DefaultKeep.
	Keep time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives what Publish did; nil discards it.
	Logger *slog.Logger
	// Timezone is the IANA zone the marts' dates are days in (config
	// marts.timezone, by default kpis.timezone); empty is UTC.
	Timezone string
}

// Publisher builds and publishes snapshots.
type Publisher struct {
	store  warehouse.Store
	opts   Options
	marts  []*Mart
	byName map[string]*Mart

	mu sync.Mutex // one Publish at a time in this process
}

// New loads the mart definitions (sql/marts) for store. It reads nothing
// from the warehouse; the tables and views are made by the first Publish.
func New(store warehouse.Store, opts Options) (*Publisher, error) {
	if store == nil {
		return nil, errors.New("marts: no warehouse store")
	}
	if opts.Keep < 0 {
		return nil, fmt.Errorf("marts: snapshot keep time %s is negative", opts.Keep)
	}
	if opts.Keep == 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timezone == "" {
		opts.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(opts.Timezone); err != nil {
		return nil, fmt.Errorf("marts: time zone %q: %w", opts.Timezone, err)
	}
	ms, err := load(ampelsql.Marts, "sql/marts")
	if err != nil {
		return nil, err
	}
	p := &Publisher{store: store, opts: opts, marts: ms, byName: map[string]*Mart{}}
	for _, m := range ms {
		p.byName[m.Name] = m
	}
	return p, nil
}

// Marts lists the mart definitions, sorted by name.
func (p *Publisher) Marts() []*Mart { return p.marts }

// Table is the table that holds the mart set's snapshots: "mart_<name>",
// with the column _snapshot.
func (p *Publisher) Table(set string) string { return TablePrefix + set }

// View is the public view of the mart set, "bi_<name>": the published
// snapshot only.
func (p *Publisher) View(set string) string { return ViewPrefix + set }

// Sets lists the marts, their keys and column types, sorted by name.
func (p *Publisher) Sets(ctx context.Context) ([]EntitySet, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]EntitySet, len(p.marts))
	for i, m := range p.marts {
		out[i] = EntitySet{
			Name:        m.Name,
			Key:         append([]string(nil), m.Key...),
			Columns:     append([]warehouse.Column(nil), m.Columns...),
			Description: m.Description,
		}
	}
	return out, nil
}

// Current is the published snapshot: 0, nil when none is published yet.
func (p *Publisher) Current(ctx context.Context) (uint64, error) {
	var snap uint64
	if err := queryOne(ctx, p.store, &snap, "SELECT max(snapshot) FROM mart_snapshots"); err != nil {
		return 0, fmt.Errorf("read the published mart snapshot: %w", err)
	}
	return snap, nil
}

// Publish builds every mart into a new snapshot and publishes it in one
// step, then drops the snapshots older than the keep time. reason says what
// triggered it ("run", "demo", "kpi run", "audit"). It returns the new
// snapshot's number. On an error with snapshot 0 nothing new is published:
// readers keep seeing the snapshot before; an error with a snapshot says
// that it was published but old snapshots could not be dropped.
func (p *Publisher) Publish(ctx context.Context, reason string) (snapshot uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.opts.Now()
	if err := p.ensure(ctx); err != nil {
		return 0, err
	}
	cur, err := p.Current(ctx)
	if err != nil {
		return 0, err
	}
	snapshot = uint64(start.UnixNano())
	if snapshot <= cur {
		snapshot = cur + 1
	}
	sources, err := p.sources(ctx)
	if err != nil {
		return 0, err
	}
	for _, m := range p.marts {
		if err := p.build(ctx, m, snapshot, sources); err != nil {
			p.discard(ctx, snapshot)
			return 0, fmt.Errorf("build mart %s (sql/marts/%s): %w", m.Name, m.File.Name, err)
		}
	}
	counts, err := p.counts(ctx, snapshot)
	if err != nil {
		p.discard(ctx, snapshot)
		return 0, err
	}
	var rows uint64
	for _, n := range counts {
		rows += n
	}
	took := p.opts.Now().Sub(start)
	q, err := ampelsql.Render(ampelsql.MartTables, "publish.sql", p.data(nil))
	if err != nil {
		return 0, err
	}
	if err := p.store.Exec(ctx, q, snapshot, p.opts.Now().UTC().Truncate(time.Second), reason, uint32(len(p.marts)), rows, uint64(max(took, 0).Milliseconds())); err != nil {
		// not discarded: the row may have landed all the same (a timeout
		// after the write); an unpublished snapshot goes with a later Prune
		return 0, fmt.Errorf("publish mart snapshot %d: %w", snapshot, err)
	}
	p.opts.Logger.Info("marts published", "snapshot", snapshot, "reason", reason, "marts", len(p.marts), "rows", rows, "took", took.Round(time.Millisecond))
	if err := p.Prune(ctx); err != nil {
		return snapshot, fmt.Errorf("marts published as snapshot %d, but old snapshots stay: %w", snapshot, err)
	}
	return snapshot, nil
}

// Prune drops the snapshots no reader needs any more: those older than
// the oldest one kept, which is the second newest published or the oldest
// published within the keep time, whichever is older. Publish calls it.
func (p *Publisher) Prune(ctx context.Context) error {
	rows, err := p.store.Query(ctx, "SELECT snapshot, published_at FROM mart_snapshots ORDER BY snapshot DESC")
	if err != nil {
		return fmt.Errorf("read mart snapshots: %w", err)
	}
	var (
		oldest uint64
		n      int
		cutoff = p.opts.Now().Add(-p.opts.Keep)
	)
	for rows.Next() {
		var snap uint64
		var at time.Time
		if err := rows.Scan(&snap, &at); err != nil {
			rows.Close()
			return fmt.Errorf("read mart snapshots: %w", err)
		}
		n++
		if n <= 2 || !at.Before(cutoff) {
			oldest = snap
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("read mart snapshots: %w", err)
	}
	rows.Close()
	if oldest == 0 {
		return nil
	}
	parts, err := p.partitions(ctx)
	if err != nil {
		return err
	}
	var dropped int
	for _, m := range p.marts {
		for _, s := range parts[p.Table(m.Name)] {
			if s >= oldest {
				break
			}
			if err := p.dropPartition(ctx, m, s); err != nil {
				return err
			}
			dropped++
		}
	}
	if dropped > 0 {
		p.opts.Logger.Debug("old mart snapshots dropped", "snapshot", oldest, "dropped", dropped)
	}
	return nil
}

// Snapshots lists the snapshots the mart set's table holds, ascending:
// the published ones still kept, and one being built.
func (p *Publisher) Snapshots(ctx context.Context, set string) ([]uint64, error) {
	if _, ok := p.byName[set]; !ok {
		return nil, fmt.Errorf("no mart %q", set)
	}
	parts, err := p.partitions(ctx)
	if err != nil {
		return nil, err
	}
	return parts[p.Table(set)], nil
}

// partitions reads the snapshots every mart table holds, ascending, from
// the engine's list of parts: one query, however many marts.
func (p *Publisher) partitions(ctx context.Context) (map[string][]uint64, error) {
	tables := make([]any, len(p.marts))
	for i, m := range p.marts {
		tables[i] = p.Table(m.Name)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(tables)), ", ")
	rows, err := p.store.Query(ctx, "SELECT DISTINCT table, partition_id FROM system.parts "+
		"WHERE database = currentDatabase() AND active AND table IN ("+marks+")", tables...)
	if err != nil {
		return nil, fmt.Errorf("read the marts' snapshots: %w", err)
	}
	defer rows.Close()
	out := map[string][]uint64{}
	for rows.Next() {
		var table, id string
		if err := rows.Scan(&table, &id); err != nil {
			return nil, fmt.Errorf("read the marts' snapshots: %w", err)
		}
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("read the marts' snapshots: table %s has partition %q, not a snapshot", table, id)
		}
		out[table] = append(out[table], n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the marts' snapshots: %w", err)
	}
	for _, snaps := range out {
		slices.Sort(snaps)
	}
	return out, nil
}

// ensure creates every mart's table and public view that is missing, and
// makes again those whose columns a new version changed.
func (p *Publisher) ensure(ctx context.Context) error {
	names := make([]string, 0, 2*len(p.marts))
	for _, m := range p.marts {
		names = append(names, p.Table(m.Name), p.View(m.Name))
	}
	cat, err := warehouse.ReadCatalog(ctx, p.store, names...)
	if err != nil {
		return fmt.Errorf("read the marts' tables: %w", err)
	}
	for _, m := range p.marts {
		table, view := cat[p.Table(m.Name)], cat[p.View(m.Name)]
		want := append([]warehouse.Column{{Name: SnapshotColumn, Type: "UInt64"}}, m.Columns...)
		data := p.data(m)
		if len(table) > 0 && !sameColumns(table, want) {
			p.opts.Logger.Info("mart columns changed: its table is made again", "mart", m.Name, "version", m.Version)
			if err := p.exec(ctx, "drop_table.sql", data); err != nil {
				return err
			}
			table = nil
		}
		if len(table) == 0 {
			if err := p.exec(ctx, "create_table.sql", data); err != nil {
				return err
			}
		}
		if len(view) == 0 || !sameColumns(view, m.Columns) {
			data["Replace"] = len(view) > 0
			if err := p.exec(ctx, "create_view.sql", data); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameColumns(have, want []warehouse.Column) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range have {
		if have[i].Name != want[i].Name || normType(have[i].Type) != normType(want[i].Type) {
			return false
		}
	}
	return true
}

// normType spells a type the one way: the engines write Decimal(19,4) or
// Decimal(19, 4), DateTime('UTC') with or without quotes.
func normType(t string) string {
	out := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		if c := t[i]; c != ' ' && c != '\'' && c != '"' {
			out = append(out, c)
		}
	}
	return string(out)
}

// sources reads the columns of the marts' source views; a view that does
// not exist has none.
func (p *Publisher) sources(ctx context.Context) (warehouse.Catalog, error) {
	var names []string
	for _, m := range p.marts {
		names = append(names, m.Sources...)
	}
	if len(names) == 0 {
		return warehouse.Catalog{}, nil
	}
	cat, err := warehouse.ReadCatalog(ctx, p.store, names...)
	if err != nil {
		return nil, fmt.Errorf("read the marts' source tables: %w", err)
	}
	return cat, nil
}

// build writes the mart's rows into snapshot; a mart whose source is not
// synced gets none.
func (p *Publisher) build(ctx context.Context, m *Mart, snapshot uint64, sources warehouse.Catalog) error {
	for _, s := range m.Sources {
		if len(sources[s]) == 0 {
			p.opts.Logger.Debug("mart left empty: its source table is not synced", "mart", m.Name, "source", s)
			return nil
		}
	}
	body, err := m.body(p.store.Dialect(), sources, p.opts.Timezone)
	if err != nil {
		return err
	}
	data := p.data(m)
	data["Snapshot"] = strconv.FormatUint(snapshot, 10)
	data["Body"] = body
	return p.exec(ctx, "build.sql", data)
}

// Counts reports the rows of every mart in the published snapshot, by
// name; nil when none is published.
func (p *Publisher) Counts(ctx context.Context) (map[string]uint64, error) {
	cur, err := p.Current(ctx)
	if err != nil || cur == 0 {
		return nil, err
	}
	return p.counts(ctx, cur)
}

// counts reads the rows of every mart in snapshot in one query.
func (p *Publisher) counts(ctx context.Context, snapshot uint64) (map[string]uint64, error) {
	parts := make([]string, len(p.marts))
	args := make([]any, 0, 2*len(p.marts))
	for i, m := range p.marts {
		parts[i] = "SELECT ? AS mart, count() AS n FROM " + warehouse.QuoteIdentifier(p.Table(m.Name)) + " WHERE _snapshot = ?"
		args = append(args, m.Name, snapshot)
	}
	rows, err := p.store.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("count the rows of mart snapshot %d: %w", snapshot, err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("count the rows of mart snapshot %d: %w", snapshot, err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count the rows of mart snapshot %d: %w", snapshot, err)
	}
	return out, nil
}

// discard drops what a failed build wrote, so that it takes no space until
// the next Prune; a failure here only leaves the partition to Prune. It
// runs also when ctx was canceled (that may be why the build failed).
func (p *Publisher) discard(ctx context.Context, snapshot uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, m := range p.marts {
		if err := p.dropPartition(ctx, m, snapshot); err != nil {
			p.opts.Logger.Warn("drop an unpublished mart snapshot", "mart", m.Name, "snapshot", snapshot, "err", err)
		}
	}
}

func (p *Publisher) dropPartition(ctx context.Context, m *Mart, snapshot uint64) error {
	data := p.data(m)
	data["Snapshot"] = strconv.FormatUint(snapshot, 10)
	if err := p.exec(ctx, "drop_partition.sql", data); err != nil {
		return fmt.Errorf("drop snapshot %d of mart %s: %w", snapshot, m.Name, err)
	}
	return nil
}

// data is what the templates of sql/marts/_tables see.
func (p *Publisher) data(m *Mart) map[string]any {
	d := map[string]any{"Dialect": p.store.Dialect().TemplateData()}
	if m != nil {
		d["Table"] = p.Table(m.Name)
		d["View"] = p.View(m.Name)
		d["Key"] = m.Key
		d["Columns"] = m.Columns
	}
	return d
}

// exec renders a template of sql/marts/_tables and runs its statements.
func (p *Publisher) exec(ctx context.Context, name string, data map[string]any) error {
	script, err := ampelsql.Render(ampelsql.MartTables, name, data)
	if err != nil {
		return err
	}
	for _, q := range warehouse.SplitStatements(script) {
		if err := p.store.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// queryOne reads the one value of a query's one row into dest.
func queryOne(ctx context.Context, s warehouse.Store, dest any, q string, args ...any) error {
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("no row")
	}
	if err := rows.Scan(dest); err != nil {
		return err
	}
	return rows.Close()
}
