package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ampel/ampel/warehouse"
)

// DefaultCountryCode is the calling code national phone numbers (0 69 …) get when
// Options.CountryCodes names none for their environment: Germany's.
const DefaultCountryCode = "49"

// Options are one duplicate audit.
type Options struct {
	// Models are the fuzzy rules, at most one per table; nil runs DefaultModels.
	Models []Model
	// Rules are the Dynamics-like exact rules; nil runs DefaultRules. An empty, non-nil
	// slice runs none.
	Rules []Rule
	// Tables limits the audit to these tables; empty audits every table a model or rule names.
	Tables []string
	// Environments limits the audit to these environments; empty audits all.
	Environments []string
	// CountryCodes gives each environment's default country calling code for phone numbers
	// (e.g. "prod": "43"); others get DefaultCountryCode.
	CountryCodes map[string]string
	// Workers compare pairs in parallel; default GOMAXPROCS.
	Workers int
	// Logger gets progress; nil discards it.
	Logger *slog.Logger
}

// Result is the outcome of Duplicates, one entry per table in name order.
type Result struct {
	Tables []TableResult
}

// Table returns the result of one table, or nil.
func (r *Result) Table(name string) *TableResult {
	for i := range r.Tables {
		if r.Tables[i].Table == name {
			return &r.Tables[i]
		}
	}
	return nil
}

// TableResult holds the groups of one table under its fuzzy model and under its exact rules.
type TableResult struct {
	Table string
	// Fuzzy are the groups the table's model found; Exact those of its exact rules together.
	Fuzzy, Exact []*Group
	// ByRule holds each exact rule's own groups, by rule id.
	ByRule map[string][]*Group
	// Checked counts, per rule id (the model's too) and environment, the records the rule
	// looked at: every eligible record for the model, those with a matchcode for an exact
	// rule (a blank that never matches, or an inactive record, has none).
	Checked map[string]map[string]int
	// Stats says what it took.
	Stats Stats
}

// Stats measure one table's audit.
type Stats struct {
	// Records are the eligible records (live, not merged into another).
	Records int
	// PairsCompared are the candidate pairs blocking produced, each compared once;
	// PairsMatched those that matched.
	PairsCompared, PairsMatched int
	// Blocks are blocking keys shared by 2 to MaxBlock records; SkippedBlocks those shared by
	// more (SkippedRecords records in all), which made no pairs.
	Blocks, SkippedBlocks, SkippedRecords int
	// Missing lists model columns the view does not have (blank for every record).
	Missing []string
	// Time spent reading, normalising, blocking, comparing, clustering, and on exact rules.
	Load, Prepare, Block, Compare, Cluster, Exact time.Duration
}

// Group is a set of records that are duplicates of each other, with the evidence.
type Group struct {
	// ID is stable across runs while the members stay the same: a hash of the table, the
	// environment and the sorted member ids. A group that gains or loses a member is a new
	// group.
	ID string `json:"id"`
	// Rules are the rules that joined the members (a model id, or exact rule ids).
	Rules       []string `json:"rules"`
	Table       string   `json:"table"`
	Environment string   `json:"environment"`
	// Members are sorted by id.
	Members []Member `json:"members"`
	// Links are the pairs that joined the members: every member is in at least one.
	Links []Link `json:"links"`
}

// Member is one record of a group with the values the rules looked at, as stored.
type Member struct {
	ID     string            `json:"id"`
	Values map[string]string `json:"values"`
}

// Link is why two members matched.
type Link struct {
	A    string `json:"a"`
	B    string `json:"b"`
	Rule string `json:"rule"`
	// Score is the pair's score under a fuzzy model (0 for exact rules).
	Score float64 `json:"score,omitempty"`
	// Swapped: first and last name agree crosswise.
	Swapped bool         `json:"swapped,omitempty"`
	Fields  []FieldMatch `json:"fields"`
}

// FieldMatch is one field of a Link: its level, weight and the two values as stored.
type FieldMatch struct {
	Field  string  `json:"field"`
	Level  Level   `json:"level"`
	Weight float64 `json:"weight,omitempty"`
	A      string  `json:"a"`
	B      string  `json:"b"`
}

// Size is the number of members.
func (g *Group) Size() int { return len(g.Members) }

// IDs returns the member ids.
func (g *Group) IDs() []string {
	out := make([]string, len(g.Members))
	for i, m := range g.Members {
		out[i] = m.ID
	}
	return out
}

// finish sets the members (records recs, each once, sorted by id) with their values of
// cols, and the id.
func (g *Group) finish(d *dataset, recs []int32, cols []string) {
	slices.Sort(recs)
	recs = slices.Compact(recs)
	slices.SortFunc(recs, func(a, b int32) int { return bytes.Compare(d.ids[a][:], d.ids[b][:]) })
	h := sha256.New()
	h.Write([]byte(g.Table + "\x00" + g.Environment))
	for _, r := range recs {
		m := Member{ID: d.ids[r].String(), Values: map[string]string{}}
		for _, c := range cols {
			m.Values[c] = d.rawValue(r, c)
		}
		g.Members = append(g.Members, m)
		h.Write([]byte("\x00" + m.ID))
	}
	g.ID = hex.EncodeToString(h.Sum(nil)[:16])
	slices.SortFunc(g.Links, func(x, y Link) int {
		if c := strings.Compare(x.A, y.A); c != 0 {
			return c
		}
		if c := strings.Compare(x.B, y.B); c != 0 {
			return c
		}
		return strings.Compare(x.Rule, y.Rule)
	})
}

func sortGroups(gs []*Group) {
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].Environment != gs[j].Environment {
			return gs[i].Environment < gs[j].Environment
		}
		return gs[i].Members[0].ID < gs[j].Members[0].ID
	})
}

// Duplicates runs the duplicate audit over the current-state views: per table it reads
// the columns its fuzzy model and its exact rules need once, then finds the model's groups
// and the exact rules' groups. Records are compared only within their environment, and two
// records a steward marked as no duplicates (RecordReview, MarkNotDuplicate) are never in
// one group, under either kind of rule. The warehouse must be migrated (dq_reviews).
func Duplicates(ctx context.Context, st warehouse.Store, opts Options) (*Result, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	models := opts.Models
	if models == nil {
		models = DefaultModels()
	}
	rules := opts.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	byTable := map[string]*Model{}
	keys := map[string]string{}
	for i := range models {
		m := &models[i]
		if err := m.validate(); err != nil {
			return nil, err
		}
		if byTable[m.Table] != nil {
			return nil, fmt.Errorf("two fuzzy models for table %s: %s and %s", m.Table, byTable[m.Table].ID, m.ID)
		}
		byTable[m.Table] = m.withDefaults()
		keys[m.Table] = m.Key
	}
	rulesOf := map[string][]Rule{}
	for _, r := range rules {
		if err := r.validate(); err != nil {
			return nil, err
		}
		if k, ok := keys[r.Table]; ok && k != r.Key {
			return nil, fmt.Errorf("duplicate rule %s: key %s of %s differs from %s", r.ID, r.Key, r.Table, k)
		}
		keys[r.Table] = r.Key
		rulesOf[r.Table] = append(rulesOf[r.Table], r)
	}
	var tables []string
	for t := range keys {
		if len(opts.Tables) == 0 || slices.Contains(opts.Tables, t) {
			tables = append(tables, t)
		}
	}
	slices.Sort(tables)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	country := func(env string) string {
		if c := opts.CountryCodes[env]; c != "" {
			return c
		}
		return DefaultCountryCode
	}
	res := &Result{}
	for _, table := range tables {
		tr, err := auditTable(ctx, st, table, keys[table], byTable[table], rulesOf[table], opts.Environments, country, workers)
		if err != nil {
			return nil, err
		}
		log.Info("duplicate audit", "table", table, "records", tr.Stats.Records, "pairs_compared", tr.Stats.PairsCompared,
			"fuzzy_groups", len(tr.Fuzzy), "exact_groups", len(tr.Exact))
		res.Tables = append(res.Tables, *tr)
	}
	return res, nil
}

func auditTable(ctx context.Context, st warehouse.Store, table, key string, m *Model, rules []Rule, envs []string,
	country func(string) string, workers int) (*TableResult, error) {
	tr := &TableResult{Table: table, ByRule: map[string][]*Group{}, Checked: map[string]map[string]int{}}
	t0 := time.Now()
	d, err := load(ctx, st, loadSpec{table: table, key: key, columns: wantedColumns(m, rules), environments: envs})
	if err != nil {
		return nil, err
	}
	if d.cannot, err = readCannotLinks(ctx, st, d); err != nil {
		return nil, err
	}
	tr.Stats.Load = time.Since(t0)
	tr.Stats.Records = d.n()
	for c := range d.missing {
		tr.Stats.Missing = append(tr.Stats.Missing, c)
	}
	slices.Sort(tr.Stats.Missing)
	for _, r := range rules {
		for _, c := range r.Conditions {
			if d.missing[c.Attribute] || c.Operator == OpPicklistLabel && d.missing[c.Attribute+"name"] {
				return nil, fmt.Errorf("duplicate rule %s: view %s has no column %s", r.ID, table, c.Attribute)
			}
		}
		if r.ExcludeInactive && d.missing["statecode"] {
			return nil, fmt.Errorf("duplicate rule %s excludes inactive records, but view %s has no statecode", r.ID, table)
		}
	}
	if m != nil {
		groups, err := fuzzyGroups(ctx, d, m, country, workers, &tr.Stats)
		if err != nil {
			return nil, err
		}
		tr.Fuzzy = groups
		tr.Checked[m.ID] = map[string]int{}
		for _, e := range d.env {
			tr.Checked[m.ID][d.envs[e]]++
		}
	}
	t0 = time.Now()
	if len(rules) > 0 {
		tr.Exact = exactGroups(d, rules)
		for i := range rules {
			if len(rules) == 1 {
				tr.ByRule[rules[i].ID] = tr.Exact
			} else {
				tr.ByRule[rules[i].ID] = exactGroups(d, rules[i:i+1])
			}
			tr.Checked[rules[i].ID] = rules[i].eligible(d)
		}
	}
	tr.Stats.Exact = time.Since(t0)
	return tr, nil
}

// fuzzyGroups normalises, blocks, compares the candidate pairs in parallel, and clusters.
func fuzzyGroups(ctx context.Context, d *dataset, m *Model, country func(string) string, workers int, st *Stats) ([]*Group, error) {
	t0 := time.Now()
	prepare(d, m, country)
	st.Prepare = time.Since(t0)
	t0 = time.Now()
	pairs, bs := candidates(d, m)
	st.Block = time.Since(t0)
	st.PairsCompared, st.Blocks, st.SkippedBlocks, st.SkippedRecords = len(pairs), bs.blocks, bs.skippedBlocks, bs.skippedRecords
	t0 = time.Now()
	parts := make([][]edge, workers)
	var wg sync.WaitGroup
	chunk := (len(pairs) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := min(len(pairs), w*chunk), min(len(pairs), (w+1)*chunk)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, p := range pairs[lo:hi] {
				if i%8192 == 0 && ctx.Err() != nil {
					return
				}
				a, b := int32(p>>32), int32(p&0xffffffff)
				if c := compare(d, m, a, b, false); m.match(c) {
					parts[w] = append(parts[w], edge{a, b, c.score})
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var edges []edge
	for _, p := range parts {
		edges = append(edges, p...)
	}
	st.PairsMatched = len(edges)
	st.Compare = time.Since(t0)
	t0 = time.Now()
	var cols []string
	for _, f := range m.Fields {
		for _, c := range f.Columns {
			if !d.missing[c] {
				cols = append(cols, c)
			}
		}
	}
	var out []*Group
	for _, links := range cluster(d, m, edges) {
		g := &Group{Rules: []string{m.ID}, Table: d.table, Environment: d.envs[d.env[links[0].a]]}
		var recs []int32
		for _, e := range links {
			g.Links = append(g.Links, explain(d, m, e.a, e.b))
			recs = append(recs, e.a, e.b)
		}
		g.finish(d, recs, cols)
		out = append(out, g)
	}
	sortGroups(out)
	st.Cluster = time.Since(t0)
	return out, nil
}

// explain compares a pair again and writes down every field.
func explain(d *dataset, m *Model, a, b int32) Link {
	c := compare(d, m, a, b, true)
	if bytes.Compare(d.ids[a][:], d.ids[b][:]) > 0 {
		a, b = b, a
	}
	l := Link{A: d.ids[a].String(), B: d.ids[b].String(), Rule: m.ID, Score: c.score, Swapped: c.swapped}
	for fi, f := range m.Fields {
		var va, vb []string
		for _, col := range f.Columns {
			if x := d.rawValue(a, col); x != "" {
				va = append(va, x)
			}
			if x := d.rawValue(b, col); x != "" {
				vb = append(vb, x)
			}
		}
		l.Fields = append(l.Fields, FieldMatch{Field: f.Name, Level: c.levels[fi], Weight: c.weights[fi],
			A: strings.Join(va, " | "), B: strings.Join(vb, " | ")})
	}
	return l
}
