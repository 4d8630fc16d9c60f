package scoring

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ampel/ampel/warehouse"
)

// kind is how a rule compares a column's values.
type kind uint8

const (
	kindUnknown kind = iota
	kindText         // case-insensitive, spaces around ignored
	kindNumber       // compared as a number; choices compare their option value
	kindBool         // true or false
	kindMoney        // a transaction-currency amount: refused, use its _base twin
)

func (k kind) String() string {
	switch k {
	case kindText:
		return "text"
	case kindNumber:
		return "a number"
	case kindBool:
		return "true or false"
	case kindMoney:
		return "money"
	}
	return "unknown"
}

// LeadColumns are the lead columns of Dataverse's standard lead table a
// rule may name, with how they compare. A choice is its option value (a
// number) plus <column>name, its label (text). A custom column (with a
// publisher prefix such as new_ or cr1a2_) is accepted at load and checked
// against the lead view when the model runs.
var LeadColumns = map[string]kind{
	"firstname": kindText, "lastname": kindText, "fullname": kindText, "middlename": kindText, "salutation": kindText,
	"subject": kindText, "companyname": kindText, "jobtitle": kindText, "description": kindText,
	"emailaddress1": kindText, "emailaddress2": kindText, "emailaddress3": kindText,
	"telephone1": kindText, "telephone2": kindText, "telephone3": kindText, "mobilephone": kindText, "fax": kindText,
	"websiteurl": kindText, "address1_line1": kindText, "address1_line2": kindText, "address1_city": kindText,
	"address1_stateorprovince": kindText, "address1_postalcode": kindText, "address1_country": kindText,
	"numberofemployees": kindNumber, "estimatedvalue": kindNumber, "sic": kindText,
	"estimatedamount": kindMoney, "estimatedamount_base": kindNumber,
	"revenue": kindMoney, "revenue_base": kindNumber, "budgetamount": kindMoney, "budgetamount_base": kindNumber,
	"donotemail": kindBool, "donotphone": kindBool, "donotpostalmail": kindBool, "donotbulkemail": kindBool,
	"donotsendmm": kindBool, "decisionmaker": kindBool, "confirminterest": kindBool, "evaluatefit": kindBool,
	"followemail":    kindBool,
	"campaignidname": kindText, "owneridname": kindText, "parentaccountidname": kindText,
}

// leadChoices are the standard lead choice columns: each is a number (the
// option value) and has a name column with its label.
var leadChoices = []string{"leadsourcecode", "leadqualitycode", "industrycode", "statuscode", "salesstagecode",
	"prioritycode", "preferredcontactmethodcode", "purchasetimeframe", "purchaseprocess", "need", "budgetstatus",
	"initialcommunication", "ownershipcode", "address1_addresstypecode"}

func init() {
	for _, c := range leadChoices {
		LeadColumns[c] = kindNumber
		LeadColumns[c+"name"] = kindText
	}
}

var customColumn = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]+$`)

// checkKnownColumn refuses a column that is neither a standard lead
// column nor a custom one, and a transaction-currency amount.
func (m *Model) checkKnownColumn(r *Rule, key string) error {
	k, known := LeadColumns[r.Column]
	switch {
	case k == kindMoney:
		return m.errorf(key+".column", "%s is in each record's own currency: use %s_base, the amount in the organisation's base currency", r.Column, r.Column)
	case known:
		r.columnKind = k
		return nil
	case customColumn.MatchString(r.Column) && !strings.HasPrefix(r.Column, "address") && !strings.HasPrefix(r.Column, "msdyn_"):
		return nil // a custom column: the view decides at run time
	}
	msg := fmt.Sprintf("%q is not a lead column", r.Column)
	if near := closest(r.Column); near != "" {
		msg += " (did you mean " + near + "?)"
	}
	return m.errorf(key+".column", "%s; a custom column has its publisher prefix, such as new_rating", msg)
}

// checkValues checks a rule's values against its column's kind, when known.
func (m *Model) checkValues(r *Rule, key string) error {
	var vals []string
	var vkey string
	switch r.op {
	case "equals":
		vals, vkey = []string{r.Equals}, key+".equals"
	case "in":
		vals, vkey = r.In, key+".in"
	}
	switch r.columnKind {
	case kindNumber:
		if r.op == "contains" {
			return m.errorf(key+".contains", "%s is a number: use equals, in or range", r.Column)
		}
		for _, v := range vals {
			if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				hint := ""
				if slices.Contains(leadChoices, r.Column) {
					hint = fmt.Sprintf(" (a choice compares its option value; for the label use %sname)", r.Column)
				}
				return m.errorf(vkey, "%s is a number, %q is not%s", r.Column, v, hint)
			}
		}
	case kindBool:
		if r.op != "equals" && r.op != "present" && r.op != "blank" {
			return m.errorf(key+"."+r.op, "%s is true or false: use equals: true (or false)", r.Column)
		}
		for _, v := range vals {
			if _, err := strconv.ParseBool(v); err != nil {
				return m.errorf(vkey, "%s is true or false, not %q", r.Column, v)
			}
		}
	case kindText:
		if r.op == "range" {
			return m.errorf(key+".range", "%s is text: use equals, in, contains, present or blank", r.Column)
		}
	}
	return nil
}

// kindOf derives a column's kind from its ClickHouse type in the view.
func kindOf(typ string) kind {
	t, err := warehouse.ParseType(typ)
	if err != nil {
		return kindUnknown
	}
	base := strings.ToLower(t.Base().Name)
	switch {
	case base == "bool":
		return kindBool
	case strings.HasPrefix(base, "int") || strings.HasPrefix(base, "uint") || strings.HasPrefix(base, "float") || strings.HasPrefix(base, "decimal"):
		return kindNumber
	case base == "string" || base == "fixedstring" || base == "uuid":
		return kindText
	}
	return kindUnknown
}

// closest is the known lead column nearest to name, when it is near.
func closest(name string) string {
	names := make([]string, 0, len(LeadColumns))
	for n := range LeadColumns {
		names = append(names, n)
	}
	sort.Strings(names)
	best, bestD := "", 4
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
