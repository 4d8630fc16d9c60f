package scoring

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ampel/ampel/warehouse"
)

// Explanation says why a lead has its scores: per model version its
// current score with the rules that fired, the scores of its last runs,
// and, for a decided lead, the score it had when it was decided (what
// the backtest uses).
type Explanation struct {
	LeadID      string
	Environment string
	Name        string // fullname, and companyname when known
	State       int    // statecode: 0 open, 1 qualified, 2 disqualified
	Current     []Scored
	History     []Scored // newest first, per model
	AtDecision  []Scored // decided leads only; DecidedAt says when
	// Gone says the lead view no longer has the lead (deleted from the
	// source) while lead_scores keeps its scores.
	Gone bool
}

// Scored is one score of one lead.
type Scored struct {
	Model     string // ID@vN
	Draft     bool
	Score     float64
	Grade     string
	Stage     string
	Rules     []string
	Points    []float64
	ScoredAt  time.Time
	AsOf      time.Time
	DecidedAt time.Time // AtDecision only
}

// HistoryRuns is how many runs per model Explain shows.
const HistoryRuns = 10

// Explain finds a lead by its GUID or its email address and explains its
// scores. models (optional) gives the model files, to compute the score
// at the decision; a model no longer in it is left out of AtDecision.
func Explain(ctx context.Context, s warehouse.Store, models *Set, lead string) (*Explanation, error) {
	v, err := readViews(ctx, s)
	if err != nil {
		return nil, err
	}
	if !v.hasLead {
		return nil, fmt.Errorf("the warehouse has no view lead: sync the lead table first")
	}
	id, err := findLead(ctx, s, v, lead)
	if err != nil {
		return nil, err
	}
	e := &Explanation{LeadID: id}
	name := "''"
	if _, ok := v.lead["fullname"]; ok {
		name = "ifNull(fullname, '')"
		if _, ok := v.lead["companyname"]; ok {
			name = "concat(ifNull(fullname, ''), if(companyname IS NULL, '', concat(', ', companyname)))"
		}
	}
	rows, err := s.Query(ctx, "SELECT _environment, "+name+", ifNull(statecode, 0) FROM lead WHERE leadid = toUUID(?)", id)
	if err != nil {
		return nil, fmt.Errorf("read lead %s: %w", id, err)
	}
	found := false
	for rows.Next() {
		found = true
		var st int64
		if err := rows.Scan(&e.Environment, &e.Name, &st); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read lead %s: %w", id, err)
		}
		e.State = int(st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read lead %s: %w", id, err)
	}
	cols := "concat(model, '@v', toString(version)), draft, score, grade, stage, rules, points, scored_at, as_of"
	if e.Current, err = readScores(ctx, s, "SELECT "+cols+" FROM lead_score WHERE leadid = toUUID(?) ORDER BY model, version", id); err != nil {
		return nil, err
	}
	if e.History, err = readScores(ctx, s, "SELECT "+cols+" FROM lead_scores WHERE leadid = toUUID(?) "+
		"ORDER BY model, version, scored_at DESC LIMIT ? BY model, version", id, HistoryRuns); err != nil {
		return nil, err
	}
	if !found {
		if len(e.History) == 0 {
			return nil, fmt.Errorf("no lead %s in the warehouse and no score of it: check the id, or sync the lead table first (ampel sync)", id)
		}
		e.Gone = true
		return e, nil
	}
	if e.State == 0 || models == nil {
		return e, nil
	}
	for _, cur := range e.Current {
		m, err := models.Resolve(cur.Model)
		if err != nil || m.check(v) != nil {
			continue
		}
		q := scoredSQL(m, v, query{asOf: time.Now().UTC(), backtest: true, from: time.Unix(0, 0), lead: id})
		at, err := readScores(ctx, s, fmt.Sprintf("SELECT %s, %d, score, grade, stage, rules, points, decided_at, decided_at FROM (%s)",
			quote(m.Ref()), b2u(!m.File.Released), q))
		if err != nil {
			return nil, fmt.Errorf("score %s at its decision with %s: %w", id, m.Ref(), err)
		}
		for _, a := range at {
			a.DecidedAt = a.AsOf
			e.AtDecision = append(e.AtDecision, a)
		}
	}
	return e, nil
}

// findLead resolves a GUID or an email address to one lead's GUID.
func findLead(ctx context.Context, s warehouse.Store, v views, lead string) (string, error) {
	if u, err := uuid.Parse(strings.TrimSpace(lead)); err == nil {
		return u.String(), nil
	}
	if _, ok := v.lead["emailaddress1"]; !ok || !strings.Contains(lead, "@") {
		return "", fmt.Errorf("%q is not a lead id (a GUID) or email address", lead)
	}
	rows, err := s.Query(ctx, "SELECT toString(leadid) FROM lead WHERE lowerUTF8(emailaddress1) = ? LIMIT 2", strings.ToLower(strings.TrimSpace(lead)))
	if err != nil {
		return "", fmt.Errorf("find lead %s: %w", lead, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", fmt.Errorf("find lead %s: %w", lead, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("find lead %s: %w", lead, err)
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no lead has the email address %s", lead)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("several leads have the email address %s: name one by its id", lead)
}

func readScores(ctx context.Context, s warehouse.Store, q string, args ...any) ([]Scored, error) {
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	defer rows.Close()
	var out []Scored
	for rows.Next() {
		var sc Scored
		var draft uint64
		var points any
		if err := rows.Scan(&sc.Model, &draft, &sc.Score, &sc.Grade, &sc.Stage, &sc.Rules, &points, &sc.ScoredAt, &sc.AsOf); err != nil {
			return nil, fmt.Errorf("read scores: %w", err)
		}
		sc.Draft = draft == 1
		ps, _ := points.([]any)
		for _, p := range ps {
			f, _ := p.(float64)
			sc.Points = append(sc.Points, f)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out, nil
}
