package dvsim

import (
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Inputs is the KPI inputs file that goes with the simulated data (the
// format of package kpis, written by the simulator's own types): go-live
// and licensed users as the data has them, and deterministic costs,
// benefits, surveys, key users, migration counts, milestones and partners.
// The truth's kpis section is computed from these values.
type Inputs struct {
	Environments []InputEnvironment `yaml:"environments"`
	Costs        []InputMoney       `yaml:"costs"`
	Benefits     []InputMoney       `yaml:"benefits"`
	Surveys      []InputSurvey      `yaml:"surveys"`
	KeyUsers     []InputKeyUser     `yaml:"key_users"`
	Migration    []InputMigration   `yaml:"migration"`
	Milestones   []InputMilestone   `yaml:"milestones"`
	Partners     []InputPartner     `yaml:"partners"`
}

// InputEnvironment is the environment's entry of the inputs file.
type InputEnvironment struct {
	Name          string  `yaml:"name"`
	GoLive        string  `yaml:"go_live"`
	LicensedUsers int     `yaml:"licensed_users"`
	GrossMargin   float64 `yaml:"gross_margin"`
	TCOYears      int     `yaml:"tco_years"`
}

// InputMoney is a cost or benefit of one month.
type InputMoney struct {
	Environment string  `yaml:"environment"`
	Month       string  `yaml:"month"`
	Category    string  `yaml:"category"`
	Amount      float64 `yaml:"amount"`
}

// InputSurvey is an NPS or user-effort survey.
type InputSurvey struct {
	Environment string  `yaml:"environment"`
	Kind        string  `yaml:"kind"`
	Date        string  `yaml:"date"`
	Promoters   int     `yaml:"promoters,omitempty"`
	Passives    int     `yaml:"passives,omitempty"`
	Detractors  int     `yaml:"detractors,omitempty"`
	Responses   int     `yaml:"responses,omitempty"`
	Average     float64 `yaml:"average,omitempty"`
}

// InputKeyUser is a key user planned for training.
type InputKeyUser struct {
	Environment string `yaml:"environment"`
	Name        string `yaml:"name"`
	TrainedOn   string `yaml:"trained_on,omitempty"`
}

// InputMigration counts migrated and rejected rows of one object.
type InputMigration struct {
	Environment string `yaml:"environment"`
	Object      string `yaml:"object"`
	Migrated    int    `yaml:"migrated"`
	Rejected    int    `yaml:"rejected"`
}

// InputMilestone is a project milestone.
type InputMilestone struct {
	Environment string `yaml:"environment"`
	Name        string `yaml:"name"`
	Due         string `yaml:"due"`
	Done        string `yaml:"done,omitempty"`
}

// InputPartner is one partner's enablement.
type InputPartner struct {
	Environment         string `yaml:"environment"`
	Name                string `yaml:"name"`
	OnboardingStarted   string `yaml:"onboarding_started,omitempty"`
	OnboardingCompleted string `yaml:"onboarding_completed,omitempty"`
	Certified           string `yaml:"certified,omitempty"`
	FirstDeal           string `yaml:"first_deal,omitempty"`
}

const dayFmt = "2006-01-02"

// genInputs makes the inputs once, after the data: what the simulated
// project recorded outside Dataverse. Environment names are filled in by
// Inputs.
func (s *Server) genInputs() Inputs {
	rng := mrand.New(mrand.NewPCG(uint64(s.opts.Seed), 99))
	in := Inputs{}
	licensed := 0
	for row := int32(0); row < s.users.n; row++ {
		if row != s.appRow && s.users.byName["isdisabled"].i32[row] == 0 {
			licensed++
		}
	}
	in.Environments = []InputEnvironment{{GoLive: s.goLive.Format(dayFmt), LicensedUsers: licensed, GrossMargin: 0.35, TCOYears: 3}}
	// money per month: from six months before go-live to the month of now
	first := time.Date(s.goLive.Year(), s.goLive.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -6, 0)
	for m := first; !m.After(s.now); m = m.AddDate(0, 1, 0) {
		month := m.Format("2006-01")
		live := !m.Before(time.Date(s.goLive.Year(), s.goLive.Month(), 1, 0, 0, 0, 0, time.UTC))
		add := func(list *[]InputMoney, cat string, amount float64) {
			*list = append(*list, InputMoney{Month: month, Category: cat, Amount: amount})
		}
		add(&in.Costs, "licences", float64(licensed*65))
		add(&in.Costs, "marketing", float64(4000+rng.IntN(40)*100))
		if live {
			add(&in.Costs, "support", float64(3000+rng.IntN(20)*100))
			add(&in.Benefits, "time_saved", float64(9000+rng.IntN(60)*250))
			add(&in.Benefits, "fewer_licences_elsewhere", 2500)
		} else {
			add(&in.Costs, "implementation", float64(25000+rng.IntN(50)*200))
			add(&in.Costs, "training", float64(2000+rng.IntN(10)*100))
		}
	}
	for i, d := range []int{30, 90} {
		at := s.goLive.AddDate(0, 0, d)
		if at.After(s.now) {
			continue
		}
		p, pa, de := 20+rng.IntN(20), 10+rng.IntN(10), 5+rng.IntN(10)+5*(1-i)
		in.Surveys = append(in.Surveys,
			InputSurvey{Kind: "nps", Date: at.Format(dayFmt), Promoters: p, Passives: pa, Detractors: de},
			InputSurvey{Kind: "ues", Date: at.Format(dayFmt), Responses: 30 + rng.IntN(30), Average: float64(20+rng.IntN(25)) / 10})
	}
	nk := max(5, int(s.users.n)/4)
	for i := 0; i < nk; i++ {
		u := InputKeyUser{Name: fmt.Sprintf("Key user %02d", i+1)}
		if rng.IntN(10) < 9 {
			// most are trained in the two months before go-live; one in ten later or not yet
			u.TrainedOn = s.goLive.AddDate(0, 0, -60+rng.IntN(75)).Format(dayFmt)
		}
		in.KeyUsers = append(in.KeyUsers, u)
	}
	for _, name := range []string{"lead", "contact", "account", "opportunity"} {
		t := s.byLogical[name]
		n := 0
		for row := int32(0); row < t.n; row++ {
			if fromStamp(t.byName["createdon"].u32[row]).Before(s.goLive) {
				n++
			}
		}
		in.Migration = append(in.Migration, InputMigration{Object: name, Migrated: n, Rejected: n * (1 + rng.IntN(40)) / 1000})
	}
	for i, name := range []string{"Blueprint signed off", "Data migration rehearsal", "User acceptance test", "Go-live", "Hypercare exit"} {
		due := s.goLive.AddDate(0, 0, -90+30*i+15*max(0, i-3))
		m := InputMilestone{Name: name, Due: due.Format(dayFmt)}
		if done := due.AddDate(0, 0, rng.IntN(9)-3); !done.After(s.now) {
			m.Done = done.Format(dayFmt)
		}
		in.Milestones = append(in.Milestones, m)
	}
	for i := 0; i < 8; i++ {
		p := InputPartner{Name: fmt.Sprintf("Partner %s", pseudoWord(1000+i))}
		start := s.goLive.AddDate(0, 0, -120+rng.IntN(200))
		if start.After(s.now) {
			start = s.now.AddDate(0, 0, -1)
		}
		p.OnboardingStarted = start.Format(dayFmt)
		if rng.IntN(4) != 0 {
			if c := start.AddDate(0, 0, 14+rng.IntN(40)); !c.After(s.now) {
				p.OnboardingCompleted = c.Format(dayFmt)
				if rng.IntN(3) != 0 {
					p.Certified = c.AddDate(0, 0, 10+rng.IntN(30)).Format(dayFmt)
				}
			}
		}
		if rng.IntN(3) != 0 {
			if f := start.AddDate(0, 0, 20+rng.IntN(150)); !f.After(s.now) {
				p.FirstDeal = f.Format(dayFmt)
			}
		}
		in.Partners = append(in.Partners, p)
	}
	return in
}

// Inputs returns the inputs file for the simulated data with env as the
// environment's name (the name the config gives the simulator).
func (s *Server) Inputs(env string) Inputs {
	s.mu.RLock()
	in := s.truth.inputs
	s.mu.RUnlock()
	out := Inputs{}
	for _, e := range in.Environments {
		e.Name = env
		out.Environments = append(out.Environments, e)
	}
	for _, m := range in.Costs {
		m.Environment = env
		out.Costs = append(out.Costs, m)
	}
	for _, m := range in.Benefits {
		m.Environment = env
		out.Benefits = append(out.Benefits, m)
	}
	for _, x := range in.Surveys {
		x.Environment = env
		out.Surveys = append(out.Surveys, x)
	}
	for _, x := range in.KeyUsers {
		x.Environment = env
		out.KeyUsers = append(out.KeyUsers, x)
	}
	for _, x := range in.Migration {
		x.Environment = env
		out.Migration = append(out.Migration, x)
	}
	for _, x := range in.Milestones {
		x.Environment = env
		out.Milestones = append(out.Milestones, x)
	}
	for _, x := range in.Partners {
		x.Environment = env
		out.Partners = append(out.Partners, x)
	}
	return out
}

// WriteInputs writes Inputs(env) as YAML to file.
func (s *Server) WriteInputs(file, env string) error {
	data, err := s.InputsYAML(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o600)
}

// InputsYAML is the inputs file WriteInputs writes, for env.
func (s *Server) InputsYAML(env string) ([]byte, error) {
	data, err := yaml.Marshal(s.Inputs(env))
	if err != nil {
		return nil, fmt.Errorf("dvsim: inputs: %w", err)
	}
	head := "# KPI inputs of the simulated Dataverse (written by the simulator; see kpis/inputs.example.yaml)\n"
	return append([]byte(head), data...), nil
}
