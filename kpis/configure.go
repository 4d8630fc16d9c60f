package kpis

import (
	"os"

	"github.com/ampel/ampel/config"
	ampelsql "github.com/ampel/ampel/sql"
)

// Configure loads what the config's kpis section names — the built-in
// definitions, the user's from kpis.dir, the inputs file — and returns
// Options for Run with the time zone and critical fields filled in; the
// caller adds the Store (and, if it wants, Refs, AsOf, RunID, Logger).
// Call it for every run: the inputs file and the user's definitions are
// read anew each time. Errors are one line naming file, line and key.
func Configure(cfg *config.Config) (Options, error) {
	var o Options
	var err error
	var userFS = os.DirFS(cfg.KPIs.Dir)
	if cfg.KPIs.Dir == "" {
		userFS = nil
	}
	if o.Catalog, err = LoadCatalog(ampelsql.KPIs, cfg.KPIs.Dir, userFS); err != nil {
		return o, err
	}
	if cfg.KPIs.Inputs != "" {
		var envs []string
		for _, e := range cfg.Environments {
			envs = append(envs, e.Name)
		}
		if o.Inputs, err = LoadInputs(cfg.KPIs.Inputs, envs); err != nil {
			return o, err
		}
	}
	o.Timezone = cfg.KPIs.Timezone
	if len(cfg.KPIs.CriticalFields) > 0 {
		o.CriticalFields = map[string][]string{}
		for _, cf := range cfg.KPIs.CriticalFields {
			o.CriticalFields[cf.Table] = cf.Fields
		}
	}
	return o, nil
}
