package audit

import (
	"fmt"
	"math"
)

// Kind says how a field is normalised, compared and blocked on.
type Kind uint8

// Field kinds.
const (
	// KindFirstName and KindLastName are a person's names: folded (see Fold), compared by
	// Jaro–Winkler, edit distance and Kölner Phonetik, and checked for being swapped.
	KindFirstName Kind = iota + 1
	KindLastName
	// KindEmail is an e-mail address (NormalizeEmail); close: the same domain and at most
	// two edits in the local part, or the same local part and one edit in the domain.
	KindEmail
	// KindPhone is a phone number (NormalizePhone); several columns are alternatives.
	// Close: the same last eight digits, or one edit.
	KindPhone
	// KindCompany is a company name (NormalizeCompany); close: Jaro–Winkler ≥ 0.92 or at
	// most two edits (one under eight letters).
	KindCompany
	// KindCity is a town (Fold); close: one edit.
	KindCity
	// KindWebsite is a website (NormalizeWebsite): equal hosts or different.
	KindWebsite
)

// Level is how two values of one field compare.
type Level uint8

// Comparison levels, from no evidence to the strongest.
const (
	// Blank: one of the two values is empty, so the field says nothing.
	Blank Level = iota
	// Different values.
	Different
	// Close values: a typo, a phonetic twin, another format.
	Close
	// Exact: equal after normalisation.
	Exact
)

func (l Level) String() string {
	switch l {
	case Blank:
		return "blank"
	case Different:
		return "different"
	case Close:
		return "close"
	case Exact:
		return "exact"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Field is one compared field of a Model.
type Field struct {
	// Name names the field in explanations (first_name, email, …).
	Name string
	// Columns are the view's columns; for KindPhone every non-blank one is a number of the
	// record, for the other kinds the first non-blank one is the value.
	Columns []string
	// Kind says how the field is normalised and compared.
	Kind Kind
	// ExactMin and ExactMax bound the weight of an exact agreement. When they differ the
	// weight is term-frequency adjusted: log2(0.95·N/k) for a value k of the table's N
	// records share, so that agreeing on a common name weighs less than on a rare one.
	ExactMin, ExactMax float64
	// Close and Different are the weights of those levels (Different is negative).
	Close, Different float64
}

// Model is a fuzzy duplicate rule for one table: which fields are compared and how much
// each level weighs. A pair is a match when it passes the gate and its score (the sum of the
// field weights) reaches Threshold. The gate of a person table: the last name at least
// close and the first name at least close or blank (names may be swapped), or the e-mail
// exact; of any other table: the company name at least close. So one shared phone, one
// shared company or one shared common name never makes a match on its own.
type Model struct {
	// ID names the rule in groups and findings, e.g. "fuzzy_lead".
	ID string
	// Table is the view (the Dataverse logical name) and Key its primary key column.
	Table, Key string
	// Fields are compared for every candidate pair.
	Fields []Field
	// Threshold is the score a pair must reach.
	Threshold float64
	// MaxBlock: a blocking key shared by more records than this is too common to tell
	// anything (a switchboard number, a free-mail domain) and makes no pairs. Default 64.
	MaxBlock int
	// MaxTokenCount: a company-name token or e-mail domain is distinctive, and used in
	// blocking keys, when at most this many records have it. Default 32.
	MaxTokenCount int
	// MaxGroup caps a group's size; default 20.
	MaxGroup int

	iFirst, iLast int // field indexes of the names, -1 without (set by withDefaults)
}

// person reports whether m compares people (it has a last name).
func (m *Model) person() bool { return m.field(KindLastName) >= 0 }

func (m *Model) field(k Kind) int {
	for i, f := range m.Fields {
		if f.Kind == k {
			return i
		}
	}
	return -1
}

func (m *Model) withDefaults() *Model {
	c := *m
	if c.MaxBlock <= 0 {
		c.MaxBlock = 64
	}
	if c.MaxTokenCount <= 0 {
		c.MaxTokenCount = 32
	}
	if c.MaxGroup <= 0 {
		c.MaxGroup = 20
	}
	c.iFirst, c.iLast = c.field(KindFirstName), c.field(KindLastName)
	return &c
}

func (m *Model) validate() error {
	if m.Table == "" || m.Key == "" || len(m.Fields) == 0 {
		return fmt.Errorf("model %q: table, key and fields are required", m.ID)
	}
	if m.person() && m.field(KindFirstName) < 0 {
		return fmt.Errorf("model %q: a last name needs a first name field", m.ID)
	}
	if !m.person() && m.field(KindCompany) < 0 {
		return fmt.Errorf("model %q: needs a last name or a company name field", m.ID)
	}
	for _, f := range m.Fields {
		if len(f.Columns) == 0 || f.Kind < KindFirstName || f.Kind > KindWebsite {
			return fmt.Errorf("model %q: field %q needs columns and a kind", m.ID, f.Name)
		}
	}
	return nil
}

// Default weights. Person names: two names agreeing by chance is common, a different last
// name is strong evidence against (a typo is close, not different). Identifiers (e-mail,
// phone, website) are near unique when present, and people do change them.
var (
	firstName = Field{Name: "first_name", Columns: []string{"firstname"}, Kind: KindFirstName, ExactMin: 2, ExactMax: 7, Close: 2, Different: -8}
	lastName  = Field{Name: "last_name", Columns: []string{"lastname"}, Kind: KindLastName, ExactMin: 2, ExactMax: 8, Close: 3, Different: -10}
	email     = Field{Name: "email", Columns: []string{"emailaddress1"}, Kind: KindEmail, ExactMin: 4, ExactMax: 10, Close: 5, Different: -5}
	city      = Field{Name: "city", Columns: []string{"address1_city"}, Kind: KindCity, ExactMin: 0.5, ExactMax: 0.5, Close: 0.5, Different: -0.5}
)

// DefaultModels returns the fuzzy rules Ampel runs when none are configured: lead and
// contact compare first and last name, e-mail, phone, company (a contact's is its parent
// account's name) and city (threshold 10); account compares name, phone, website, e-mail
// and city (threshold 9).
func DefaultModels() []Model {
	return []Model{
		{ID: "fuzzy_lead", Table: "lead", Key: "leadid", Threshold: 10, Fields: []Field{firstName, lastName, email,
			{Name: "phone", Columns: []string{"telephone1", "mobilephone"}, Kind: KindPhone, ExactMin: 8, ExactMax: 8, Close: 3, Different: -3},
			{Name: "company", Columns: []string{"companyname"}, Kind: KindCompany, ExactMin: 2, ExactMax: 7, Close: 4, Different: -3},
			city}},
		{ID: "fuzzy_contact", Table: "contact", Key: "contactid", Threshold: 10, Fields: []Field{firstName, lastName, email,
			{Name: "phone", Columns: []string{"telephone1", "mobilephone"}, Kind: KindPhone, ExactMin: 8, ExactMax: 8, Close: 3, Different: -3},
			{Name: "company", Columns: []string{"parentcustomeridname"}, Kind: KindCompany, ExactMin: 2, ExactMax: 7, Close: 4, Different: -3},
			city}},
		{ID: "fuzzy_account", Table: "account", Key: "accountid", Threshold: 9, Fields: []Field{
			{Name: "name", Columns: []string{"name"}, Kind: KindCompany, ExactMin: 3, ExactMax: 9, Close: 4, Different: -6},
			{Name: "phone", Columns: []string{"telephone1"}, Kind: KindPhone, ExactMin: 8, ExactMax: 8, Close: 3, Different: -3},
			{Name: "website", Columns: []string{"websiteurl"}, Kind: KindWebsite, ExactMin: 8, ExactMax: 8, Different: -4},
			{Name: "email", Columns: []string{"emailaddress1"}, Kind: KindEmail, ExactMin: 3, ExactMax: 8, Close: 3, Different: -2},
			{Name: "city", Columns: []string{"address1_city"}, Kind: KindCity, ExactMin: 1, ExactMax: 1, Close: 1, Different: -1}}},
	}
}

// exactWeight is the weight of an exact agreement on a value k of n records share.
func (f *Field) exactWeight(k, n int) float64 {
	if f.ExactMin == f.ExactMax || k <= 0 || n <= 0 {
		return f.ExactMax
	}
	w := math.Log2(0.95 * float64(n) / float64(k))
	return min(f.ExactMax, max(f.ExactMin, w))
}

// levelWeight is the weight of a non-exact level.
func (f *Field) levelWeight(l Level) float64 {
	switch l {
	case Close:
		return f.Close
	case Different:
		return f.Different
	}
	return 0
}
