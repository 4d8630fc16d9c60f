package dvsim

import "strings"

const kPK kind = 200 // the primary key, rendered from the row index

func opts(pairs ...any) []option {
	var out []option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: int32(pairs[i].(int)), Label: pairs[i+1].(string)})
	}
	return out
}

// statusOpts takes triples value, label, state.
func statusOpts(triples ...any) []option {
	var out []option
	for i := 0; i+2 < len(triples); i += 3 {
		out = append(out, option{Value: int32(triples[i].(int)), Label: triples[i+1].(string), State: int32(triples[i+2].(int))})
	}
	return out
}

var yesNo = opts(0, "No", 1, "Yes")

type schemaDef struct {
	logical, set, pk, primary, display string
	state, status                      []option
}

var activityTypes = []string{"phonecall", "email", "task", "appointment"}
var activityLabels = []string{"Phone Call", "Email", "Task", "Appointment"}

func (s *Server) defineSchema() {
	add := func(d schemaDef) *table {
		t := &table{idx: len(s.tables), logical: d.logical, set: d.set, pk: d.pk, primaryName: d.primary, display: d.display,
			changeTracking: true, viewType: -1}
		t.owner = t
		t.salt = splitmix(uint64(s.opts.Seed)*31+uint64(len(d.logical))*7919+uint64(t.idx)) & mask48
		t.metadataID = guidFromHash(splitmix(t.salt ^ 0xabc))
		s.tables = append(s.tables, t)
		s.bySet[d.set] = t
		s.byLogical[d.logical] = t
		t.addCol(&column{name: d.pk, kind: kPK, attrType: "Uniqueidentifier"})
		return t
	}
	common := func(t *table, d schemaDef, owned bool) {
		t.addCol(&column{name: "createdon", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})
		t.addCol(&column{name: "modifiedon", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})
		t.version = t.addCol(&column{name: "versionnumber", kind: kBigInt, attrType: "BigInt"})
		t.addCol(&column{name: "createdby", kind: kLookup, attrType: "Lookup", targets: []*table{s.users}})
		t.addCol(&column{name: "modifiedby", kind: kLookup, attrType: "Lookup", targets: []*table{s.users}})
		if d.state != nil {
			t.addCol(&column{name: "statecode", kind: kChoice, attrType: "State", options: d.state})
			t.addCol(&column{name: "statuscode", kind: kChoice, attrType: "Status", options: d.status})
		}
		if owned {
			t.addCol(&column{name: "ownerid", kind: kLookup, attrType: "Owner", targets: []*table{s.users}})
		}
		t.addCol(&column{name: "owningbusinessunit", kind: kConstLookup, attrType: "Lookup", constID: s.businessUnitID, constLN: "businessunit", constFmt: "Ampel Sim"})
	}
	str := func(t *table, names ...string) {
		for _, n := range names {
			format := "Text"
			switch {
			case strings.HasPrefix(n, "email") || n == "internalemailaddress":
				format = "Email"
			case strings.HasPrefix(n, "telephone") || n == "phonenumber" || n == "mobilephone":
				format = "Phone"
			case n == "websiteurl":
				format = "Url"
			}
			t.addCol(&column{name: n, kind: kString, attrType: "String", format: format})
		}
	}
	money := func(t *table, names ...string) {
		for _, n := range names {
			c := t.addCol(&column{name: n, kind: kMoney, attrType: "Money"})
			t.addCol(&column{name: n + "_base", kind: kMoneyBase, attrType: "Money", baseOf: c})
		}
	}
	lookup := func(t *table, name, attrType string, targets ...*table) {
		t.addCol(&column{name: name, kind: kLookup, attrType: attrType, targets: targets})
	}
	currency := func(t *table) {
		t.addCol(&column{name: "transactioncurrencyid", kind: kConstLookup, attrType: "Lookup", constID: s.currencyID, constLN: "transactioncurrency", constFmt: "US Dollar"})
		rate := t.addCol(&column{name: "exchangerate", kind: kDecimal, attrType: "Decimal"})
		for _, c := range t.cols {
			if c.kind == kMoneyBase {
				c.rate = rate
			}
		}
	}

	// systemuser first: everything else points at it.
	s.users = add(schemaDef{logical: "systemuser", set: "systemusers", pk: "systemuserid", primary: "fullname", display: "User"})
	u := s.users
	common(u, schemaDef{}, false)
	str(u, "firstname", "lastname")
	u.addCol(&column{name: "fullname", kind: kFullName, attrType: "String", format: "Text", first: u.byName["firstname"], last: u.byName["lastname"]})
	str(u, "internalemailaddress", "domainname")
	u.addCol(&column{name: "isdisabled", kind: kBool, attrType: "Boolean", options: opts(0, "Enabled", 1, "Disabled")})
	u.addCol(&column{name: "azureactivedirectoryobjectid", kind: kGUIDString, attrType: "Uniqueidentifier"})
	u.addCol(&column{name: "applicationid", kind: kGUIDString, attrType: "Uniqueidentifier"})
	u.addCol(&column{name: "accessmode", kind: kChoice, attrType: "Picklist", options: opts(0, "Read-Write", 1, "Administrative", 2, "Read", 3, "Support User", 4, "Non-interactive", 5, "Delegated Admin")})
	u.addCol(&column{name: "businessunitid", kind: kConstLookup, attrType: "Lookup", constID: s.businessUnitID, constLN: "businessunit", constFmt: "Ampel Sim"})

	accountDef := schemaDef{logical: "account", set: "accounts", pk: "accountid", primary: "name", display: "Account",
		state: opts(0, "Active", 1, "Inactive"), status: statusOpts(1, "Active", 0, 2, "Inactive", 1)}
	s.accounts = add(accountDef)
	contactDef := schemaDef{logical: "contact", set: "contacts", pk: "contactid", primary: "fullname", display: "Contact",
		state: opts(0, "Active", 1, "Inactive"), status: statusOpts(1, "Active", 0, 2, "Inactive", 1)}
	s.contacts = add(contactDef)
	leadDef := schemaDef{logical: "lead", set: "leads", pk: "leadid", primary: "fullname", display: "Lead",
		state: opts(0, "Open", 1, "Qualified", 2, "Disqualified"),
		status: statusOpts(1, "New", 0, 2, "Contacted", 0, 3, "Qualified", 1, 4, "Lost", 2, 5, "Cannot Contact", 2,
			6, "No Longer Interested", 2, 7, "Canceled", 2)}
	s.leads = add(leadDef)
	oppDef := schemaDef{logical: "opportunity", set: "opportunities", pk: "opportunityid", primary: "name", display: "Opportunity",
		state:  opts(0, "Open", 1, "Won", 2, "Lost"),
		status: statusOpts(1, "In Progress", 0, 2, "On Hold", 0, 3, "Won", 1, 4, "Canceled", 2, 5, "Out-Sold", 2)}
	s.opps = add(oppDef)
	quoteDef := schemaDef{logical: "quote", set: "quotes", pk: "quoteid", primary: "name", display: "Quote",
		state:  opts(0, "Draft", 1, "Active", 2, "Won", 3, "Closed"),
		status: statusOpts(1, "In Progress", 0, 2, "In Progress", 1, 3, "Open", 1, 4, "Won", 2, 5, "Lost", 3, 6, "Canceled", 3, 7, "Revised", 3)}
	s.quotes = add(quoteDef)
	orderDef := schemaDef{logical: "salesorder", set: "salesorders", pk: "salesorderid", primary: "name", display: "Order",
		state:  opts(0, "Active", 1, "Submitted", 2, "Canceled", 3, "Fulfilled", 4, "Invoiced"),
		status: statusOpts(1, "New", 0, 2, "Pending", 0, 3, "In Progress", 1, 4, "No Money", 2, 100001, "Complete", 3, 100002, "Partial", 3, 100003, "Invoiced", 4)}
	s.orders = add(orderDef)
	invDef := schemaDef{logical: "invoice", set: "invoices", pk: "invoiceid", primary: "name", display: "Invoice",
		state: opts(0, "Active", 1, "Closed (deprecated)", 2, "Paid", 3, "Canceled"),
		status: statusOpts(1, "New", 0, 2, "Partially Shipped", 0, 4, "Billed", 0, 5, "Booked (applies to services)", 0, 6, "Installed (applies to services)", 0,
			3, "Canceled (deprecated)", 1, 7, "Paid in Full (deprecated)", 1, 100001, "Complete", 2, 100002, "Partial", 2, 100003, "Canceled", 3)}
	s.invoices = add(invDef)
	actDef := schemaDef{logical: "activitypointer", set: "activitypointers", pk: "activityid", primary: "subject", display: "Activity",
		state:  opts(0, "Open", 1, "Completed", 2, "Canceled", 3, "Scheduled"),
		status: statusOpts(1, "Open", 0, 2, "Completed", 1, 3, "Canceled", 2, 4, "Scheduled", 3)}
	s.acts = add(actDef)
	caseDef := schemaDef{logical: "incident", set: "incidents", pk: "incidentid", primary: "title", display: "Case",
		state: opts(0, "Active", 1, "Resolved", 2, "Canceled"),
		status: statusOpts(1, "In Progress", 0, 2, "On Hold", 0, 3, "Waiting for Details", 0, 4, "Researching", 0,
			5, "Problem Solved", 1, 1000, "Information Provided", 1, 6, "Canceled", 2, 2000, "Merged", 2)}
	s.cases = add(caseDef)

	a := s.accounts
	common(a, accountDef, true)
	str(a, "name", "accountnumber", "telephone1", "emailaddress1", "websiteurl", "address1_city", "address1_postalcode", "address1_country")
	lookup(a, "parentaccountid", "Lookup", a)
	lookup(a, "primarycontactid", "Lookup", s.contacts)
	a.addCol(&column{name: "industrycode", kind: kChoice, attrType: "Picklist", options: opts(1, "Accounting", 2, "Agriculture and Non-petrol Natural Resource Extraction", 3, "Broadcasting Printing and Publishing", 4, "Brokers", 5, "Building Supply Retail", 6, "Business Services", 7, "Consulting", 8, "Consumer Services", 9, "Design, Direction and Creative Management", 10, "Distributors, Dispatchers and Processors", 11, "Doctor's Offices and Clinics", 12, "Durable Manufacturing")})
	a.addCol(&column{name: "numberofemployees", kind: kInt, attrType: "Integer", format: "None"})
	money(a, "revenue")
	currency(a)
	mergeable(a)

	c := s.contacts
	common(c, contactDef, true)
	str(c, "firstname", "lastname")
	c.addCol(&column{name: "fullname", kind: kFullName, attrType: "String", format: "Text", first: c.byName["firstname"], last: c.byName["lastname"]})
	str(c, "emailaddress1", "telephone1", "mobilephone", "jobtitle", "address1_city", "address1_postalcode")
	lookup(c, "parentcustomerid", "Customer", a, c)
	c.addCol(&column{name: "birthdate", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	mergeable(c)

	l := s.leads
	common(l, leadDef, true)
	str(l, "firstname", "lastname")
	l.addCol(&column{name: "fullname", kind: kFullName, attrType: "String", format: "Text", first: l.byName["firstname"], last: l.byName["lastname"]})
	str(l, "subject", "companyname", "emailaddress1", "telephone1", "jobtitle", "address1_city", "address1_postalcode")
	l.addCol(&column{name: "leadsourcecode", kind: kChoice, attrType: "Picklist", options: opts(1, "Advertisement", 2, "Employee Referral", 3, "External Referral", 4, "Partner", 5, "Public Relations", 6, "Seminar", 7, "Trade Show", 8, "Web", 9, "Word of Mouth", 10, "Other")})
	l.addCol(&column{name: "leadqualitycode", kind: kChoice, attrType: "Picklist", options: opts(1, "Hot", 2, "Warm", 3, "Cold")})
	scoringColumns(l)
	money(l, "estimatedamount")
	currency(l)
	lookup(l, "parentaccountid", "Lookup", a)
	lookup(l, "parentcontactid", "Lookup", c)
	lookup(l, "customerid", "Customer", a, c)
	lookup(l, "qualifyingopportunityid", "Lookup", s.opps)
	l.addCol(&column{name: "donotemail", kind: kBool, attrType: "Boolean", options: opts(0, "Allow", 1, "Do Not Allow")})
	mergeable(l)

	o := s.opps
	common(o, oppDef, true)
	str(o, "name", "stepname")
	lookup(o, "customerid", "Customer", a, c)
	lookup(o, "parentaccountid", "Lookup", a)
	lookup(o, "parentcontactid", "Lookup", c)
	lookup(o, "originatingleadid", "Lookup", l)
	money(o, "estimatedvalue", "actualvalue")
	currency(o)
	o.addCol(&column{name: "estimatedclosedate", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	o.addCol(&column{name: "actualclosedate", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	o.addCol(&column{name: "closeprobability", kind: kInt, attrType: "Integer", format: "None"})
	o.addCol(&column{name: "salesstage", kind: kChoice, attrType: "Picklist", options: opts(0, "Qualify", 1, "Develop", 2, "Propose", 3, "Close")})

	q := s.quotes
	common(q, quoteDef, true)
	str(q, "name", "quotenumber")
	q.addCol(&column{name: "revisionnumber", kind: kInt, attrType: "Integer", format: "None"})
	lookup(q, "opportunityid", "Lookup", o)
	lookup(q, "customerid", "Customer", a, c)
	money(q, "totalamount")
	currency(q)
	q.addCol(&column{name: "effectivefrom", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	q.addCol(&column{name: "effectiveto", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	q.addCol(&column{name: "closedon", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})

	so := s.orders
	common(so, orderDef, true)
	str(so, "name", "ordernumber")
	lookup(so, "quoteid", "Lookup", q)
	lookup(so, "opportunityid", "Lookup", o)
	lookup(so, "customerid", "Customer", a, c)
	money(so, "totalamount")
	currency(so)
	so.addCol(&column{name: "datefulfilled", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})

	iv := s.invoices
	common(iv, invDef, true)
	str(iv, "name", "invoicenumber")
	lookup(iv, "salesorderid", "Lookup", so)
	lookup(iv, "opportunityid", "Lookup", o)
	lookup(iv, "customerid", "Customer", a, c)
	money(iv, "totalamount")
	currency(iv)
	iv.addCol(&column{name: "duedate", kind: kDateOnly, attrType: "DateTime", format: "DateOnly"})
	iv.addCol(&column{name: "datedelivered", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})

	ap := s.acts
	common(ap, actDef, true)
	ap.typeCol = ap.addCol(&column{name: "activitytypecode", kind: kEntityName, attrType: "EntityName", names: activityTypes, nameLbl: activityLabels})
	str(ap, "subject")
	lookup(ap, "regardingobjectid", "Lookup", l, o, a, c, s.cases)
	ap.addCol(&column{name: "scheduledstart", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})
	ap.addCol(&column{name: "scheduledend", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})
	ap.addCol(&column{name: "actualend", kind: kDateTime, attrType: "DateTime", format: "DateAndTime"})
	ap.addCol(&column{name: "prioritycode", kind: kChoice, attrType: "Picklist", options: opts(0, "Low", 1, "Normal", 2, "High")})
	shared := len(ap.cols)
	// type-specific columns live in the activity storage; each view exposes its own.
	specific := map[string][]*column{}
	dir := func() *column {
		return &column{name: "directioncode", kind: kBool, attrType: "Boolean", options: opts(0, "Incoming", 1, "Outgoing")}
	}
	ap.addCol(&column{name: "phonenumber", kind: kString, attrType: "String", format: "Phone"})
	specific["phonecall"] = []*column{ap.byName["phonenumber"]}
	// directioncode is shared by phone calls and emails; it is stored once.
	d := ap.addCol(dir())
	specific["phonecall"] = append(specific["phonecall"], d)
	specific["email"] = []*column{d}
	ap.addCol(&column{name: "sender", kind: kString, attrType: "String", format: "Email"})
	ap.addCol(&column{name: "torecipients", kind: kString, attrType: "String", format: "Text"})
	specific["email"] = append(specific["email"], ap.byName["sender"], ap.byName["torecipients"])
	ap.addCol(&column{name: "percentcomplete", kind: kInt, attrType: "Integer", format: "None"})
	specific["task"] = []*column{ap.byName["percentcomplete"]}
	ap.addCol(&column{name: "location", kind: kString, attrType: "String", format: "Text"})
	specific["appointment"] = []*column{ap.byName["location"]}
	base := append([]*column(nil), ap.cols[:shared]...)
	// activitypointer itself does not expose the type-specific columns; its storage keeps them.
	ap.allCols = ap.cols
	ap.cols = base
	for _, col := range ap.allCols[shared:] {
		delete(ap.byProp, col.prop)
		delete(ap.byName, col.name)
	}
	sets := map[string]string{"phonecall": "phonecalls", "email": "emails", "task": "tasks", "appointment": "appointments"}
	for ti, typ := range activityTypes {
		v := &table{idx: len(s.tables), logical: typ, set: sets[typ], pk: "activityid", primaryName: "subject", display: activityLabels[ti],
			changeTracking: true, owner: ap, viewType: int32(ti)}
		v.metadataID = guidFromHash(splitmix(ap.salt ^ uint64(ti+1)))
		for _, col := range base {
			v.addCol(col)
		}
		for _, col := range specific[typ] {
			v.addCol(col)
		}
		s.tables = append(s.tables, v)
		s.bySet[v.set] = v
		s.byLogical[typ] = v
		ap.views = append(ap.views, v)
	}

	k := s.cases
	common(k, caseDef, true)
	str(k, "title", "ticketnumber")
	lookup(k, "customerid", "Customer", a, c)
	k.addCol(&column{name: "prioritycode", kind: kChoice, attrType: "Picklist", options: opts(1, "High", 2, "Normal", 3, "Low")})
	k.addCol(&column{name: "caseorigincode", kind: kChoice, attrType: "Picklist", options: opts(1, "Phone", 2, "Email", 3, "Web", 2483, "Facebook", 3986, "Twitter", 700610000, "IoT")})
	k.addCol(&column{name: "casetypecode", kind: kChoice, attrType: "Picklist", options: opts(1, "Question", 2, "Problem", 3, "Request")})
	k.addCol(&column{name: "resolvebyslastatus", kind: kChoice, attrType: "Picklist", options: opts(1, "In Progress", 2, "Nearing Noncompliance", 3, "Succeeded", 4, "Noncompliant")})
}

// mergeable adds what Dynamics' Merge sets on the subordinate record: merged and masterid
// (lead, contact, account).
func mergeable(t *table) {
	t.addCol(&column{name: "merged", kind: kBool, attrType: "Boolean", options: yesNo})
	t.addCol(&column{name: "masterid", kind: kLookup, attrType: "Lookup", targets: []*table{t}})
}

func guidFromHash(h uint64) string {
	h2 := splitmix(h)
	var b []byte
	for i := 0; i < 16; i++ {
		x := byte(h >> (8 * (i % 8)))
		if i >= 8 {
			x = byte(h2 >> (8 * (i % 8)))
		}
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&15])
	}
	return string(b)
}
