package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dvsim"
)

// TestAuditCommand drives ampel audit through the binary on both engines: the rules are
// listed; a run writes its findings as JSON to stdout with the summary on stderr, and the
// planted invalid e-mails are among them with their record links; CSV goes to --out with
// the summary on stdout; the table shows summary and findings; ampel audit review marks a
// group not a duplicate and a finding will-fix, the next run resolves the group's
// findings, keeps the mark, and its trend covers both runs.
func TestAuditCommand(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 9, Scale: 400})
			x.ampel("sync")
			truth := x.sim.Truth()

			out := x.ampel("audit", "list")
			for _, id := range []string{"fuzzy_lead", "invalid_email", "retention_expired", "won_opportunity_without_quote"} {
				require.Contains(t, out, id)
			}

			stdout, stderr, err := x.run(t.Context(), "audit", "--format", "json", "--as-of", truth.Now)
			require.NoError(t, err, stderr)
			var findings []map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &findings), stdout)
			require.Contains(t, stderr, "RULE")
			m := regexp.MustCompile(`audit run (audit-\S+): (\d+) open findings`).FindStringSubmatch(stderr)
			require.NotNil(t, m, stderr)
			require.Equal(t, m[2], strconv.Itoa(len(findings)))
			// and published the marts: dq_findings holds the open findings
			open := x.query("SELECT count() AS n FROM bi_dq_findings WHERE status = 'open'")
			require.Equal(t, strconv.Itoa(len(findings)), fmt.Sprint(open[0]["n"]))
			var invalid []string
			groups := map[string][]string{}
			for _, f := range findings {
				require.Equal(t, "open", f["status"])
				id, table := f["record_id"].(string), f["table_name"].(string)
				if f["rule_id"] == "invalid_email" && table == "lead" {
					invalid = append(invalid, id)
				}
				if f["rule_id"] == "fuzzy_lead" {
					groups[f["group_id"].(string)] = append(groups[f["group_id"].(string)], f["finding_id"].(string))
				}
				if table != "activitypointer" {
					require.Equal(t, x.sim.URL()+"/main.aspx?etn="+table+"&id="+id+"&pagetype=entityrecord", f["link"])
				}
			}
			slices.Sort(invalid)
			want := slices.Clone(truth.Invalid["lead"]["emailaddress1"])
			slices.Sort(want)
			require.Equal(t, want, invalid)
			require.NotEmpty(t, groups)

			file := filepath.Join(t.TempDir(), "findings.csv")
			out = x.ampel("audit", "--format", "csv", "--out", file, "--as-of", truth.Now)
			require.Contains(t, out, "audit run audit-")
			f, err := os.Open(file)
			require.NoError(t, err)
			records, err := csv.NewReader(f).ReadAll()
			f.Close()
			require.NoError(t, err)
			require.Len(t, records, len(findings)+1, "a header and a line per finding")
			require.Equal(t, "finding_id", records[0][0])

			// review: a group not a duplicate, an invalid e-mail will be fixed
			var group string
			for g := range groups {
				group = g
			}
			var bad string
			for _, f := range findings {
				if f["rule_id"] == "invalid_email" {
					bad = f["finding_id"].(string)
				}
			}
			out = x.ampel("audit", "review", group, "--mark", "not-duplicate", "--comment", "twins", "--by", "anna")
			require.Contains(t, out, "marked group "+group+" not_a_duplicate by anna")
			out = x.ampel("audit", "review", bad, "--mark", "will-fix", "--by", "anna")
			require.Contains(t, out, "marked finding "+bad+" will_fix by anna")
			_, errOut, err := x.run(t.Context(), "audit", "review", "f0", "--mark", "reviewed", "--by", "anna")
			require.Error(t, err)
			require.Contains(t, errOut, "no finding or group f0")

			out = x.ampel("audit", "--as-of", truth.Now)
			require.Contains(t, out, "STATUS") // the findings table after the summary
			for _, id := range groups[group] {
				rows := x.query("SELECT status FROM dq_findings_current WHERE finding_id = '" + id + "'")
				require.Equal(t, "resolved", rows[0]["status"], "a group marked not a duplicate is resolved")
			}
			rows := x.query("SELECT review_mark, reviewed_by FROM dq_findings_current WHERE finding_id = '" + bad + "'")
			require.Equal(t, "will_fix", rows[0]["review_mark"])
			require.Equal(t, "anna", rows[0]["reviewed_by"])
			line := ""
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "fuzzy_lead@v1") {
					line = l
				}
			}
			require.Regexp(t, `\d+ → \d+ → \d+$`, line, "the trend over three runs")
			require.Regexp(t, `fuzzy_lead@v1\s+warning\s+lead\s+\d+\s+\d+\s+0\s+`+strconv.Itoa(len(groups[group]))+`\s`, line, "resolved the marked group's findings")
		})
	}
}

// TestAuditImportRules: ampel audit import-rules reads the simulated environment's
// duplicate detection rules over the Web API and writes the published ones that match a
// table against itself as rule files into audit.dir (the others are skipped, saying why);
// a second import changes nothing. The imported copy of Dynamics' e-mail rule finds the
// same groups as the built-in one, and the organisation's own rule (same last name, same
// first six characters of the company) finds exactly the groups computed from the
// simulator's leads; on both engines.
func TestAuditImportRules(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			x := newE2E(t, driver, dvsim.Options{Seed: 11, Scale: 400})
			x.appendConfig("audit:\n  dir: my-rules\n")
			x.ampel("sync")
			out := x.ampel("audit", "import-rules")
			require.Contains(t, out, "added dynamics_leads_with_the_same_last_name_and_company@v1")
			require.Contains(t, out, "added dynamics_leads_with_the_same_e_mail_address@v1")
			require.Contains(t, out, `skipped "Leads with the e-mail address of a contact": matches lead against contact`)
			require.Contains(t, out, `skipped "Contacts with the same mobile phone": not published`)
			require.FileExists(t, filepath.Join(filepath.Dir(x.config), "my-rules", "dynamics_leads_with_the_same_last_name_and_company", "v1.yaml"))
			out = x.ampel("audit", "import-rules")
			require.Contains(t, out, "unchanged dynamics_leads_with_the_same_last_name_and_company@v1")
			require.NotContains(t, out, "added")
			require.Contains(t, x.ampel("audit", "list"), "dynamics_leads_with_the_same_last_name_and_company")

			stdout, stderr, err := x.run(t.Context(), "audit", "--format", "json", "--rule", "lead_same_email",
				"--rule", "dynamics_leads_with_the_same_e_mail_address", "--rule", "dynamics_leads_with_the_same_last_name_and_company")
			require.NoError(t, err, stderr)
			var findings []map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &findings))
			groups := map[string]map[string][]string{} // rule → group → records
			for _, f := range findings {
				rule, g := f["rule_id"].(string), f["group_id"].(string)
				if groups[rule] == nil {
					groups[rule] = map[string][]string{}
				}
				groups[rule][g] = append(groups[rule][g], f["record_id"].(string))
			}
			require.NotEmpty(t, groups["lead_same_email"])
			require.Equal(t, groups["lead_same_email"], groups["dynamics_leads_with_the_same_e_mail_address"])

			// the organisation's rule, computed from the simulator's leads
			byKey := map[string][]string{}
			for _, r := range x.sim.Records("lead") {
				last, _ := r["lastname"].(string)
				company, _ := r["companyname"].(string)
				if merged, _ := r["merged"].(bool); merged || strings.TrimSpace(last) == "" || strings.TrimSpace(company) == "" {
					continue
				}
				c := []rune(strings.ToLower(company))
				k := strings.ToLower(last) + "\x00" + string(c[:min(6, len(c))])
				byKey[k] = append(byKey[k], r["leadid"].(string))
			}
			var want, got [][]string
			for _, ids := range byKey {
				if len(ids) > 1 {
					slices.Sort(ids)
					want = append(want, ids)
				}
			}
			for _, ids := range groups["dynamics_leads_with_the_same_last_name_and_company"] {
				slices.Sort(ids)
				got = append(got, ids)
			}
			sortGroups := func(gs [][]string) {
				slices.SortFunc(gs, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
			}
			sortGroups(want)
			sortGroups(got)
			require.NotEmpty(t, want)
			require.Equal(t, want, got)
		})
	}
}
