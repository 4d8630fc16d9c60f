package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
	"github.com/ampel/ampel/versioned"
)

// TestKPICommand drives ampel kpi through the binary on both engines: run
// records every result, --fail-on gates with exit code 4 exactly when the
// warehouse holds a result at that status, a user's draft runs beside the
// built-in catalog and is marked draft, release locks it, and an edited
// release is refused naming the file and both checksums.
func TestKPICommand(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 5, Scale: 300})
			x.ampel("sync")
			truth := x.sim.Truth()

			out := x.ampel("kpi", "list")
			for _, id := range []string{"lead_conversion_rate", "field_completeness", "key_user_training_rate"} {
				require.Contains(t, out, id)
			}
			out = x.ampel("kpi", "show", "lead_conversion_rate")
			require.Contains(t, out, "qualified ÷ (qualified + disqualified)")

			out = x.ampel("kpi", "run", "--as-of", truth.Now)
			require.Contains(t, out, "lead_conversion_rate@v1")
			rows := x.query("SELECT kpi_id, status FROM kpi_results WHERE kpi_id = 'lead_conversion_rate'")
			require.Len(t, rows, 1)
			// and published the marts: kpi_latest shows the run's result
			require.Len(t, x.query("SELECT snapshot FROM mart_snapshots WHERE reason = 'kpi run'"), 1)
			latest := x.query("SELECT status FROM bi_kpi_latest WHERE kpi_id = 'lead_conversion_rate'")
			require.Len(t, latest, 1)
			require.Equal(t, rows[0]["status"], latest[0]["status"])

			// the gate: exit 4 exactly when a result of this run has the status
			for _, level := range []string{"red", "amber"} {
				stdout, errOut, err := x.run(context.Background(), "kpi", "run", "--as-of", truth.Now, "--fail-on", level)
				statuses := "'red'"
				if level == "amber" {
					statuses = "'red', 'amber'"
				}
				m := regexp.MustCompile(`kpi run (kpi-\S+):`).FindStringSubmatch(stdout)
				require.NotNil(t, m, stdout)
				n := x.query("SELECT count() AS n FROM kpi_results WHERE run_id = '" + m[1] + "' AND status IN (" + statuses + ")")
				if n[0]["n"].(interface{ String() string }).String() != "0" {
					require.Error(t, err, level)
					require.Equal(t, exitKPIGate, err.(interface{ ExitCode() int }).ExitCode(), errOut)
					require.Contains(t, errOut, "is "+level)
				} else {
					require.NoError(t, err, errOut)
				}
			}

			// a user's definition, as a draft, then released
			dir := filepath.Join(filepath.Dir(x.config), "my-kpis")
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "open_leads"), 0o755))
			def := `/*
id: open_leads
version: 1
title: Open leads
description: Leads not yet decided.
owner: me
level: operational
phase: business-impact
type: value
unit: count
direction: lower_better
grain: snapshot
sources: [lead]
counting: live leads with statecode 0
formula: count of open leads
source: a test
*/
SELECT _environment AS environment, toFloat64(countIf(statecode = 0)) AS value FROM lead GROUP BY _environment
`
			file := filepath.Join(dir, "open_leads", "v1.sql")
			require.NoError(t, os.WriteFile(file, []byte(def), 0o644))
			cfg, err := os.ReadFile(x.config)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(x.config, []byte(strings.Replace(string(cfg), "kpis:\n", "kpis:\n  dir: my-kpis\n", 1)), 0o600))

			x.ampel("kpi", "run", "--kpi", "open_leads")
			got := x.query("SELECT value, draft FROM kpi_results WHERE kpi_id = 'open_leads'")
			require.Len(t, got, 1)
			require.Equal(t, "1", got[0]["draft"].(interface{ String() string }).String())
			require.Equal(t, strconv.Itoa(truth.Conversions.LeadsOpen), got[0]["value"].(interface{ String() string }).String())

			out = x.ampel("kpi", "release", "open_leads@v1")
			require.Contains(t, out, "released open_leads@v1")
			x.ampel("kpi", "run", "--kpi", "open_leads@v1")
			got = x.query("SELECT sum(draft) AS drafts, count() AS n FROM kpi_results WHERE kpi_id = 'open_leads'")
			require.Equal(t, "1", got[0]["drafts"].(interface{ String() string }).String(), "the run after the release is not a draft")
			require.Equal(t, "2", got[0]["n"].(interface{ String() string }).String())

			edited := strings.Replace(def, "owner: me", "owner: someone else", 1)
			require.NoError(t, os.WriteFile(file, []byte(edited), 0o644))
			_, errOut, err := x.run(context.Background(), "kpi", "run")
			require.Error(t, err)
			require.Equal(t, exitConfig, err.(interface{ ExitCode() int }).ExitCode())
			require.Contains(t, errOut, filepath.Join(dir, "open_leads", "v1.sql")+" changed after its release")
			require.Contains(t, errOut, versioned.Sum([]byte(def)))
			require.Contains(t, errOut, versioned.Sum([]byte(edited)))
			require.Equal(t, 1, strings.Count(errOut, "\n"), "one line")
		})
	}
}

// TestMartsTimezoneSetting: marts.timezone in the config reaches the
// marts that ampel kpi run publishes — fact_lead's created_date is the day
// of created_on in Berlin, and for some leads (the simulator plants them
// on month edges) not the UTC day.
func TestMartsTimezoneSetting(t *testing.T) {
	x := newE2E(t, "embedded", dvsim.Options{Seed: 5, Scale: 100})
	x.ampel("sync")
	x.appendConfig("marts:\n  timezone: Europe/Berlin\n")
	x.ampel("kpi", "run", "--as-of", x.sim.Truth().Now)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	rows := x.query("SELECT toString(created_on) AS at, toString(created_date) AS d FROM bi_fact_lead")
	require.NotEmpty(t, rows)
	shifted := 0
	for _, r := range rows {
		at, err := time.Parse(time.DateTime, r["at"].(string))
		require.NoError(t, err)
		require.Equal(t, at.In(berlin).Format(time.DateOnly), r["d"], "created_on %s", at)
		if r["d"] != at.Format(time.DateOnly) {
			shifted++
		}
	}
	require.Positive(t, shifted, "some leads are on another day in Berlin than in UTC")
}
