package kpis

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const header = `/*
id: x
version: 1
title: X
description: d
owner: o
level: tactical
phase: business-impact
type: ratio
unit: percent
direction: higher_better
thresholds:
  green: ">= 30"
  amber: ">= 15"
min_denominator: 10
grain: snapshot
sources: [opportunity]
counting: c
formula: f
source: s
*/
SELECT 1`

func catalogOf(t *testing.T, text string) (*Catalog, error) {
	t.Helper()
	return LoadCatalog(fstest.MapFS{"x/v1.sql": {Data: []byte(text)}}, "", nil)
}

func TestJudge(t *testing.T) {
	t.Parallel()
	c, err := catalogOf(t, header)
	require.NoError(t, err)
	d, err := c.Resolve("x")
	require.NoError(t, err)
	f := func(x float64) *float64 { return &x }
	cases := []struct {
		num, den float64
		value    *float64
		status   string
	}{
		{3, 10, f(30), Green}, // 30 is green: >= includes the bound
		{29, 100, f(29), Amber},
		{15, 100, f(15), Amber},
		{14, 100, f(14), Red},
		{0, 0, nil, None},  // zero denominator: no value, no division
		{9, 9, nil, None},  // 100 % of 9 is below min_denominator 10
		{0, 10, f(0), Red}, // a real zero
	}
	for _, c := range cases {
		v, s := d.Judge(nil, &c.num, &c.den)
		require.Equal(t, c.status, s, "%v/%v", c.num, c.den)
		if c.value == nil {
			require.Nil(t, v)
		} else {
			require.InDelta(t, *c.value, *v, 1e-12)
		}
	}
}

func TestBadDefinitions(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ from, to, want string }{
		"unknown key":    {"owner: o\n", "ownr: o\n", "sql/kpis/x/v1.sql:6: ownr: unknown key"},
		"bad level":      {"level: tactical", "level: tactic", `sql/kpis/x/v1.sql:7: level: "tactic" is not one of operational, tactical, strategic`},
		"no title":       {"title: X\n", "", "sql/kpis/x/v1.sql:2: title: required"},
		"bad threshold":  {`green: ">= 30"`, `green: "30+"`, `sql/kpis/x/v1.sql:13: thresholds.green: "30+" is not a comparison`},
		"wrong side":     {`green: ">= 30"`, `green: "<= 30"`, `sql/kpis/x/v1.sql:13: thresholds.green: "<= 30" does not fit direction higher_better`},
		"amber stricter": {`amber: ">= 15"`, `amber: ">= 45"`, `sql/kpis/x/v1.sql:14: thresholds.amber: ">= 45" is stricter than green`},
		"bad input":      {"sources: [opportunity]", "sources: [opportunity]\ninputs: [budget]", `sql/kpis/x/v1.sql:18: inputs: inputs[0] "budget" is not an inputs-file key`},
		"environment":    {"sources: [opportunity]", "sources: [opportunity]\ndimensions: [environment]", "dimensions: environment is always a dimension"},
		"number":         {"min_denominator: 10", "min_denominator: ten", `sql/kpis/x/v1.sql:15: min_denominator: "ten" is not a number`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text := replaceOnce(t, header, c.from, c.to)
			_, err := catalogOf(t, text)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	i := len(s)
	for j := 0; j+len(from) <= len(s); j++ {
		if s[j:j+len(from)] == from {
			i = j
			break
		}
	}
	require.Less(t, i, len(s), "%q not in the header", from)
	return s[:i] + to + s[i+len(from):]
}
