package dvsim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// dupRule is a duplicate detection rule as the Web API returns it (duplicaterule).
type dupRule struct {
	ID                 string        `json:"duplicateruleid"`
	Name               string        `json:"name"`
	BaseEntityName     string        `json:"baseentityname"`
	MatchingEntityName string        `json:"matchingentityname"`
	IsCaseSensitive    bool          `json:"iscasesensitive"`
	ExcludeInactive    bool          `json:"excludeinactiverecords"`
	StateCode          int           `json:"statecode"`
	StatusCode         int           `json:"statuscode"`
	Conditions         []dupRuleCond `json:"DuplicateRule_DuplicateRuleConditions,omitempty"`
}

type dupRuleCond struct {
	ID                    string `json:"duplicateruleconditionid"`
	BaseAttributeName     string `json:"baseattributename"`
	MatchingAttributeName string `json:"matchingattributename"`
	OperatorCode          int    `json:"operatorcode"`
	OperatorParam         *int   `json:"operatorparam"`
	IgnoreBlankValues     bool   `json:"ignoreblankvalues"`
}

// duplicateRules are the environment's duplicate detection rules: Dynamics 365's four
// out-of-the-box rules (published), a rule of the organisation's own (leads with the same
// last name and the same first six characters of the company name), a rule that matches
// leads against contacts, and an unpublished draft.
func (s *Server) duplicateRules() []dupRule {
	n := 0
	id := func() string { n++; return idFromSeed(s.opts.Seed, uint64(500+n)) }
	six := 6
	cond := func(attr string, op int, param *int, blank bool) dupRuleCond {
		return dupRuleCond{ID: id(), BaseAttributeName: attr, MatchingAttributeName: attr, OperatorCode: op, OperatorParam: param, IgnoreBlankValues: blank}
	}
	rule := func(name, base, match string, status int, conds ...dupRuleCond) dupRule {
		state := 0
		if status == 2 {
			state = 1
		}
		return dupRule{ID: id(), Name: name, BaseEntityName: base, MatchingEntityName: match, StateCode: state, StatusCode: status, Conditions: conds}
	}
	return []dupRule{
		rule("Accounts with the same Account Name", "account", "account", 2, cond("name", 0, nil, true)),
		rule("Accounts with the same e-mail address", "account", "account", 2, cond("emailaddress1", 0, nil, true)),
		rule("Contacts with the same e-mail address", "contact", "contact", 2, cond("emailaddress1", 0, nil, true)),
		rule("Leads with the same e-mail address", "lead", "lead", 2, cond("emailaddress1", 0, nil, true)),
		rule("Leads with the same last name and company", "lead", "lead", 2, cond("lastname", 0, nil, true), cond("companyname", 1, &six, true)),
		rule("Leads with the e-mail address of a contact", "lead", "contact", 2, cond("emailaddress1", 0, nil, true)),
		rule("Contacts with the same mobile phone", "contact", "contact", 0, cond("mobilephone", 0, nil, true)),
	}
}

// serveDuplicateRules answers GET duplicaterules[?$expand=DuplicateRule_DuplicateRuleConditions]
// (the Web API's entity set of duplicate detection rules; other query options are ignored).
func (s *Server) serveDuplicateRules(w http.ResponseWriter, r *http.Request) {
	rules := s.duplicateRules()
	expand := strings.Contains(r.URL.Query().Get("$expand"), "DuplicateRule_DuplicateRuleConditions")
	if !expand {
		for i := range rules {
			rules[i].Conditions = nil
		}
	}
	ctx := s.apiURL + "$metadata#duplicaterules"
	if expand {
		ctx += "(DuplicateRule_DuplicateRuleConditions())"
	}
	body, _ := json.Marshal(map[string]any{"@odata.context": ctx, "value": rules})
	writeJSON(w, http.StatusOK, body)
}
