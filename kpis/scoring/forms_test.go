package scoring_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/kpis/kpistest"
	"github.com/ampel/ampel/kpis/scoring"
	ampelsql "github.com/ampel/ampel/sql"
	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

// TestTextRuleForms scores hand-made leads whose text has odd case and
// spaces around it with text rules of every kind, on both engines, and
// compares every lead's score with the rules evaluated in Go on the
// normalized text (lower-cased, spaces around removed). The compiler
// lower-cases a column only for equals and in, reads it trimmed for
// present and blank and searches contains case-insensitively in the raw
// or trimmed value: the outcome must be the same. On the embedded engine
// a column of few distinct values (jobtitle) is lower-cased through
// LowCardinality and one of distinct values (fullname) as it is: both
// forms are checked.
func TestTextRuleForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	model := `id: forms
version: 1
title: Text rule forms
description: text rules of every kind
owner: tests
source: tests
grades:
  - {name: hot, min: 32}
  - {name: cold, max: 32}
rules:
  - {name: ag, column: companyname, contains: " AG", points: 1}
  - {name: ag_end, column: companyname, contains: "AG ", points: 2}
  - {name: crm, column: subject, contains: CRM, points: 4}
  - {name: no_phone, column: telephone1, blank: true, points: 8}
  - {name: phone, column: telephone1, present: true, points: 16}
  - {name: cfo, column: jobtitle, in: [CFO, Geschäftsführer], points: 32}
  - {name: oest, column: subject, contains: Öst, points: 64}
  - {name: named, column: fullname, in: [name 3, NAME 12, Ölaf 7], points: 128}
`
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "forms"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "forms", "v1.yaml"), []byte(model), 0o644))
	models, err := scoring.Load(ampelsql.Scoring, dir, os.DirFS(dir))
	require.NoError(t, err)

	companies := []any{" AG Holding", "Müller AG", "Müller ag  ", "AGRAR", nil, "  ", "Bau-AG Nord", "X ag y"}
	subjects := []any{"CRM-Einführung", "kein Crm", "nothing", nil, "ÖSTERREICH crm", "  crm  ", "", "österreich"}
	phones := []any{"  ", "", nil, "+49 1", " 1 ", "x", "   ", nil}
	titles := []any{" CFO ", "cfo", "Cfo-Assistent", "GESCHÄFTSFÜHRER", nil, "", "geschäftsführer ", "CF O"}
	norm := func(v any) (string, bool) {
		if v == nil {
			return "", false
		}
		return strings.ToLower(strings.Trim(v.(string), " ")), true
	}
	contains := func(v any, needle string) bool {
		s, ok := norm(v)
		return ok && strings.Contains(s, strings.ToLower(needle))
	}
	var rows [][]any
	want := map[string]float64{}
	modified := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range companies {
		for j := range phones {
			id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i*len(phones)+j)
			c, s, p, ti := companies[i], subjects[(i+j)%len(subjects)], phones[j], titles[(i+2*j)%len(titles)]
			n := i*len(phones) + j
			// every lead's own name, in odd case and spaces
			name := []string{" Name %d", "NAME %d  ", "ÖLAF %d", "name %d"}[n%4]
			name = fmt.Sprintf(name, n)
			rows = append(rows, []any{kpistest.Env, id, int32(0), modified, c, s, p, ti, name})
			var score float64
			if contains(c, " AG") {
				score++
			}
			if contains(c, "AG ") {
				score += 2
			}
			if contains(s, "CRM") {
				score += 4
			}
			if ps, ok := norm(p); !ok || ps == "" {
				score += 8
			} else {
				score += 16
			}
			if ts, ok := norm(ti); ok && (ts == "cfo" || ts == "geschäftsführer") {
				score += 32
			}
			if contains(s, "Öst") {
				score += 64
			}
			if ns, _ := norm(name); ns == "name 3" || ns == "name 12" || ns == "ölaf 7" {
				score += 128
			}
			want[id] = score
		}
	}
	for _, cfg := range warehousetest.All(t) {
		t.Run(cfg.Driver, func(t *testing.T) {
			st := kpistest.OpenMigrated(t, cfg)
			require.NoError(t, st.Exec(ctx, "CREATE TABLE lead (_environment String, leadid UUID, statecode Nullable(Int32), "+
				"modifiedon Nullable(DateTime('UTC')), companyname Nullable(String), subject Nullable(String), "+
				"telephone1 Nullable(String), jobtitle Nullable(String), fullname Nullable(String)) ENGINE = MergeTree ORDER BY (_environment, leadid)"))
			require.NoError(t, warehouse.InsertRows(ctx, st, "lead", []string{"_environment", "leadid", "statecode", "modifiedon",
				"companyname", "subject", "telephone1", "jobtitle", "fullname"}, rows))
			low, err := scoring.LowCardinality(ctx, st, models, "forms")
			require.NoError(t, err)
			if st.Dialect().ModernSQL() {
				require.Equal(t, map[string]bool{"jobtitle": true}, low)
			} else {
				require.Empty(t, low)
			}
			rep, err := scoring.Run(ctx, scoring.Options{Store: st, Models: models, Refs: []string{"forms"}, RunID: "f1"})
			require.NoError(t, err)
			require.Empty(t, rep.Failed)
			require.Equal(t, uint64(len(rows)), rep.Models[0].Leads)
			got := map[string]float64{}
			q, err := st.Query(ctx, "SELECT toString(leadid), score FROM lead_scores WHERE run_id = 'f1'")
			require.NoError(t, err)
			for q.Next() {
				var id string
				var score float64
				require.NoError(t, q.Scan(&id, &score))
				got[id] = score
			}
			require.NoError(t, q.Err())
			q.Close()
			require.Equal(t, want, got)
		})
	}
}
