package scoring

import (
	"fmt"
	"os"

	"github.com/ampel/ampel/config"
	ampelsql "github.com/ampel/ampel/sql"
)

// BacktestKPIs are the catalog KPIs that read the backtest (sql/kpis):
// run them after scoring to judge the models.
var BacktestKPIs = []string{"lead_score_conversion_by_grade", "lead_score_lift", "lead_score_auc"}

// Configure loads the models the config's scoring section names — the
// built-in ones and the user's from scoring.dir — and returns Options for
// Run with Refs from scoring.models, each of which must name a model. The
// caller adds the Store (and, if it wants, AsOf, RunID, Logger). Call it
// for every run: the user's models are read anew each time. Errors are
// one line naming file, line and key.
func Configure(cfg *config.Config) (Options, error) {
	var o Options
	var userFS = os.DirFS(cfg.Scoring.Dir)
	if cfg.Scoring.Dir == "" {
		userFS = nil
	}
	var err error
	if o.Models, err = Load(ampelsql.Scoring, cfg.Scoring.Dir, userFS); err != nil {
		return o, err
	}
	for i, ref := range cfg.Scoring.Models {
		if _, err := o.Models.Resolve(ref); err != nil {
			return o, &config.Error{File: cfg.File, Key: fmt.Sprintf("scoring.models[%d]", i), Msg: err.Error()}
		}
	}
	o.Refs = cfg.Scoring.Models
	return o, nil
}
