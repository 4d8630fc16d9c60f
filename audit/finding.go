package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Finding states.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
)

// Value is one field value that triggered a finding.
type Value struct {
	Name, Value string
}

// Finding is one problem of one record (and field) under one rule, as kept in dq_findings.
type Finding struct {
	// ID stays the same across runs while the rule version finds the same problem: see
	// FindingID.
	ID          string
	RuleID      string
	RuleVersion int
	Severity    string
	Kind        string
	Environment string
	Table       string
	RecordID    string
	// Field is the field the finding is about; "" for the whole record.
	Field string
	// Values are the field values that triggered it, in the rule's order.
	Values []Value
	// Detail says what is wrong, in words.
	Detail string
	// Group is a duplicate group's id (duplicate rules); Supersedes the group the record was
	// in before, when that changed.
	Group, Supersedes string
	// Link opens the record in Dynamics.
	Link string
	// Status is open or resolved; New: open now and not open in the run before.
	Status string
	New    bool
	// FirstSeen, LastSeen: the audit moments of the first and the latest run that found it;
	// ResolvedAt: of the run that no longer found it (zero while open).
	FirstSeen, LastSeen, ResolvedAt time.Time
	// Review is the steward's latest mark that applies (nil without one).
	Review *ReviewMark

	recordTable string // the table the link names, when not Table (an activity's type)
	runID       string // the run that wrote the row read (readFindings)
	valuesJSON  string // Values as stored, for a finding read back
}

// ReviewMark is the review mark a finding carries: the latest mark on the finding, on its group,
// or on a group its group supersedes with the members that mark covered.
type ReviewMark struct {
	Mark     Mark
	Comment  string
	Reviewer string
	At       time.Time
}

// FindingID is a finding's id: a hash of rule id, rule version, environment, table, record
// id and field. The environment is in it because copied environments share record GUIDs.
func FindingID(ruleID string, version int, env, table, record, field string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{ruleID, strconv.Itoa(version), env, table, record, field}, "\x00")))
	return "f" + hex.EncodeToString(h[:15])
}

// RecordLink is the link that opens a record in Dynamics 365:
// <org url>/main.aspx?etn=<table>&id=<guid>&pagetype=entityrecord; "" without an org url.
func RecordLink(orgURL, table, id string) string {
	if orgURL == "" || table == "" || id == "" {
		return ""
	}
	return strings.TrimRight(orgURL, "/") + "/main.aspx?etn=" + url.QueryEscape(table) + "&id=" + url.QueryEscape(id) + "&pagetype=entityrecord"
}

// ValuesJSON writes values as a JSON object in their order.
func ValuesJSON(values []Value) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.Name)
		x, _ := json.Marshal(v.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(x)
	}
	b.WriteByte('}')
	return b.String()
}

// parseValuesJSON reads what ValuesJSON wrote, keeping the order.
func parseValuesJSON(s string) []Value {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var out []Value
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return out
		}
		var v string
		if err := dec.Decode(&v); err != nil {
			return out
		}
		out = append(out, Value{Name: k.(string), Value: v})
	}
	return out
}
