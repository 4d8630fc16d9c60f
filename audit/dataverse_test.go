package audit

import (
	"strings"
	"testing"
)

func TestParseDataverseRules(t *testing.T) {
	const body = `{"@odata.context":"https://org.crm4.dynamics.com/api/data/v9.2/$metadata#duplicaterules(DuplicateRule_DuplicateRuleConditions())",
	"value":[
	 {"duplicateruleid":"a1","name":"Leads with the same e-mail address","baseentityname":"lead","matchingentityname":"lead",
	  "iscasesensitive":false,"excludeinactiverecords":true,"statecode":1,"statuscode":2,
	  "DuplicateRule_DuplicateRuleConditions":[{"baseattributename":"emailaddress1","matchingattributename":"emailaddress1","operatorcode":0,"operatorparam":null,"ignoreblankvalues":true}]},
	 {"duplicateruleid":"a2","name":"Accounts: same first 5 of name and same phone","baseentityname":"account","matchingentityname":"account",
	  "iscasesensitive":true,"excludeinactiverecords":false,"statuscode":2,
	  "DuplicateRule_DuplicateRuleConditions":[
	   {"baseattributename":"name","matchingattributename":"name","operatorcode":1,"operatorparam":5,"ignoreblankvalues":true},
	   {"baseattributename":"telephone1","matchingattributename":"telephone1","operatorcode":0,"operatorparam":null,"ignoreblankvalues":false}]},
	 {"duplicateruleid":"a3","name":"Contact with same e-mail as lead","baseentityname":"lead","matchingentityname":"contact","statuscode":2,
	  "DuplicateRule_DuplicateRuleConditions":[{"baseattributename":"emailaddress1","matchingattributename":"emailaddress1","operatorcode":0}]},
	 {"duplicateruleid":"a4","name":"Draft rule","baseentityname":"contact","matchingentityname":"contact","statuscode":0,
	  "DuplicateRule_DuplicateRuleConditions":[{"baseattributename":"lastname","matchingattributename":"lastname","operatorcode":0}]},
	 {"duplicateruleid":"a5","name":"Broken","baseentityname":"contact","matchingentityname":"contact","statuscode":2,
	  "DuplicateRule_DuplicateRuleConditions":[{"baseattributename":"lastname","matchingattributename":"lastname","operatorcode":2}]}
	]}`
	rules, skipped, err := ParseDataverseRules(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || len(skipped) != 3 {
		t.Fatalf("rules %+v, skipped %+v", rules, skipped)
	}
	r := rules[0]
	if r.ID != "dynamics_leads_with_the_same_e_mail_address" || r.Table != "lead" || r.Key != "leadid" || !r.ExcludeInactive || r.CaseSensitive ||
		len(r.Conditions) != 1 || r.Conditions[0] != (Condition{Attribute: "emailaddress1", Operator: OpExactMatch, IgnoreBlank: true}) {
		t.Fatalf("rule 0: %+v", r)
	}
	r = rules[1]
	if !r.CaseSensitive || len(r.Conditions) != 2 || r.Conditions[0] != (Condition{Attribute: "name", Operator: OpSameFirstCharacters, Param: 5, IgnoreBlank: true}) ||
		r.Conditions[1].IgnoreBlank {
		t.Fatalf("rule 1: %+v", r)
	}
	for i, want := range []string{"against contact", "not published", "count of 1 or more"} {
		if !strings.Contains(skipped[i].Reason, want) {
			t.Errorf("skipped %d: %+v, want %q", i, skipped[i], want)
		}
	}
	if _, _, err := ParseDataverseRules(strings.NewReader(`{"error":"x"`)); err == nil || !strings.Contains(err.Error(), "GET duplicaterules") {
		t.Fatalf("bad JSON: %v", err)
	}
}
