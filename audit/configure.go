package audit

import (
	"fmt"
	"os"

	"github.com/ampel/ampel/config"
	ampelsql "github.com/ampel/ampel/sql"
)

// Configure loads what the config's audit section names — the built-in rules and the
// user's from audit.dir — and returns RunOptions with the rules to run (audit.rules), the
// retention period, and each environment's URL for the record links. The caller adds the
// Store and the critical fields (those of the completeness KPIs), and may set AsOf, RunID
// and Logger. Call it for every run: the user's rules are read anew each time. Errors are
// one line naming file, line and key.
func Configure(cfg *config.Config) (RunOptions, error) {
	var o RunOptions
	var userFS = os.DirFS(cfg.Audit.Dir)
	if cfg.Audit.Dir == "" {
		userFS = nil
	}
	var err error
	if o.Catalog, err = LoadCatalog(ampelsql.Audits, cfg.Audit.Dir, userFS); err != nil {
		return o, err
	}
	for i, ref := range cfg.Audit.Rules {
		if _, err := o.Catalog.Resolve(ref); err != nil {
			return o, fmt.Errorf("%s: audit.rules[%d]: %w", cfg.File, i, err)
		}
	}
	o.Refs = cfg.Audit.Rules
	o.RetentionDays = cfg.Audit.RetentionDays
	o.EnvironmentURLs = map[string]string{}
	for _, e := range cfg.Environments {
		o.EnvironmentURLs[e.Name] = e.URL
	}
	return o, nil
}
