package cockpit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVersions(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 1, 1, 0, min, 0, 0, time.UTC) }
	require.Equal(t, "", versions([]result{{Version: 1, Computed: at(1)}, {Version: 1, Computed: at(2)}}))
	// in the order computed, not as stored
	require.Equal(t, "v1 → v2 → v1", versions([]result{{Version: 2, Computed: at(2)}, {Version: 1, Computed: at(1)}, {Version: 1, Computed: at(3)}}))
}

func TestDraw(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	c := draw([]point{{Label: "a", Value: v(1)}, {Label: "b"}, {Label: "c", Value: v(3)}}, 100, 50, 10, formatNum)
	require.False(t, c.Empty)
	// the lowest value at the bottom left, the highest at the top right; no dot for a missing value
	require.Equal(t, "10.0,40.0 90.0,10.0", c.Line)
	require.Len(t, c.Dots, 2)
	require.Equal(t, "1", c.Min)
	require.Equal(t, "3", c.Max)
	require.True(t, draw([]point{{Label: "a"}}, 100, 50, 10, formatNum).Empty)
}

func TestHintFor(t *testing.T) {
	for msg, want := range map[string]string{
		"403: Principal user is missing prvReadInvoice privilege": "hint_privilege",
		"token: AADSTS7000215: Invalid client secret":             "hint_auth",
		"429 Too Many Requests after 5 retries":                   "hint_throttle",
		"context deadline exceeded":                               "hint_timeout",
		"something else":                                          "hint_other",
	} {
		require.Equal(t, want, hintFor(msg), msg)
	}
}

func TestLatestPeriod(t *testing.T) {
	week := func(n int) time.Time { return time.Date(2026, 1, 1+7*n, 0, 0, 0, 0, time.UTC) }
	rs := []result{
		{KPI: "weekly", Environment: "prod", Dimensions: "week=1", Start: week(0), Status: "red"},
		{KPI: "weekly", Environment: "prod", Dimensions: "week=2", Start: week(1), Status: "red"},
		{KPI: "weekly", Environment: "prod", Dimensions: "week=3", Start: week(2), Status: "green"},
		{KPI: "weekly", Environment: "test", Dimensions: "week=1", Start: week(0), Status: "amber"},
		{KPI: "dupes", Environment: "prod", Dimensions: "table=lead", Start: week(0), Status: "red"},
		{KPI: "dupes", Environment: "prod", Dimensions: "table=account", Start: week(0), Status: "green"},
	}
	var got []string
	for _, r := range latestPeriod(rs) {
		got = append(got, r.KPI+" "+r.Environment+" "+r.Dimensions)
	}
	// per KPI and environment its newest period; every dimension of that period
	require.Equal(t, []string{"weekly prod week=3", "weekly test week=1", "dupes prod table=lead", "dupes prod table=account"}, got)
	p := phases([]string{"hypercare"}, latestPeriod(rs[:3]), map[string]definition{"weekly": {ID: "weekly", Phase: "hypercare"}})
	require.Equal(t, "green", p[0].Status, "past red weeks do not colour the phase")
}
