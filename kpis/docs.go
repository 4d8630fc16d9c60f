package kpis

import (
	"fmt"
	"strings"
)

// CatalogPage renders the catalog page (docs/kpis.md) from the
// definitions: per phase, for each KPI what it counts, its formula,
// thresholds, sources, required inputs and version history. make kpi-docs
// writes it; a test fails when the file in the repository is stale.
func CatalogPage(c *Catalog) string {
	var b strings.Builder
	b.WriteString(`# KPI catalog

<!-- Generated from sql/kpis by "make kpi-docs" (go test ./kpis -run TestCatalogPage -update). Do not edit. -->

Every KPI is a versioned SQL definition in ` + "`sql/kpis/<id>/v<N>.sql`" + `; a released version never
changes (` + "`sql/kpis/releases.lock`" + ` holds its sha256) and every result in ` + "`kpi_results`" + ` carries the id,
version and checksum it was computed with. Run them with ` + "`ampel kpi run`" + `; ` + "`ampel run`" + ` runs them after
every sync. Package kpis documents the SQL result contract.

Counting rules that hold for every KPI:

- Only current-state views count (deleted records are gone); the environment is always a
  dimension and environments are never mixed.
- Money uses the ` + "`_base`" + ` columns: the organisation's base currency, whatever the record's currency.
- Periods — weeks (from Monday), months, days after go-live — are cut in the configured time zone
  (` + "`kpis.timezone`" + `, default UTC). Dataverse date-times are UTC; date-only columns are read as the
  start of that day in the configured zone.
- A median is ` + "`quantileExact(0.5)`" + `: for an even count the upper of the two middle values.
- A ratio whose denominator is zero or below the KPI's minimum has status *none* and no value; its
  numerator and denominator are still recorded. Thresholds name the included side (` + "`>= 95`" + `).
  Green is checked first, then amber; anything else is red.
- Blank means NULL or only whitespace.

`)
	phases := map[string][]*Definition{}
	for _, d := range c.Defaults() {
		phases[d.Phase] = append(phases[d.Phase], d)
	}
	b.WriteString("| KPI | phase | unit | green | amber |\n|---|---|---|---|---|\n")
	for _, p := range Phases {
		for _, d := range phases[p] {
			fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s |\n", d.Title, d.ID, p, d.Unit,
				orDash(d.Thresholds.Green), orDash(d.Thresholds.Amber))
		}
	}
	for _, p := range Phases {
		if len(phases[p]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n", phaseTitle(p))
		for _, d := range phases[p] {
			fmt.Fprintf(&b, "\n### %s\n\n<a id=\"%s\"></a>`%s` · %s · %s · owner: %s\n\n%s\n\n",
				d.Title, d.ID, d.ID, d.Level, strings.ReplaceAll(d.Direction, "_", " "), d.Owner, oneLine(d.Description))
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(&b, "- **%s:** %s\n", k, v)
				}
			}
			row("Formula", oneLine(d.Formula))
			row("What counts", oneLine(d.Counting))
			row("Unit", d.Unit+" ("+d.Type+")")
			th := "none: the status is always *none*"
			if d.Thresholds.Green != "" {
				th = "green `" + d.Thresholds.Green + "`"
				if d.Thresholds.Amber != "" {
					th += ", amber `" + d.Thresholds.Amber + "`"
				}
				th += ", red otherwise"
			}
			row("Thresholds", th)
			if d.MinDenominator > 0 {
				row("Minimum denominator", fmt.Sprintf("%g (below it: status none, no value)", d.MinDenominator))
			}
			row("Grain", d.Grain)
			row("Dimensions", "`"+strings.Join(append([]string{"environment"}, d.Dimensions...), "`, `")+"`")
			if len(d.Sources) > 0 {
				row("Source tables", "`"+strings.Join(d.Sources, "`, `")+"`")
			}
			if len(d.Inputs) > 0 {
				row("Required inputs", "`"+strings.Join(d.Inputs, "`, `")+"` (inputs file)")
			}
			row("Definition source", oneLine(d.Source))
			var hist []string
			for _, v := range c.Versions(d.ID) {
				state := "released"
				if !v.File.Released {
					state = "draft"
				}
				h := fmt.Sprintf("v%d (%s, sha256 `%.12s…`)", v.Version, state, v.File.Checksum)
				if v.Changes != "" {
					h += ": " + oneLine(v.Changes)
				}
				hist = append(hist, h)
			}
			row("Versions", strings.Join(hist, "; "))
		}
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return "`" + s + "`"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func phaseTitle(p string) string {
	titles := map[string]string{"pre-go-live": "Before go-live", "hypercare": "Hypercare (first 30/60/90 days)",
		"business-impact": "Business impact", "data-quality": "Data quality", "finance": "Finance", "partner": "Partner enablement"}
	if t, ok := titles[p]; ok {
		return t
	}
	return p
}
