package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"sync"

	"github.com/ampel/ampel/odata"
)

// Entity is the metadata of one table.
type Entity struct {
	LogicalName string
	// EntitySetName is the resource path of the table in the Web API.
	EntitySetName        string
	PrimaryIDAttribute   string
	PrimaryNameAttribute string
	// ChangeTrackingEnabled says whether delta links are available.
	ChangeTrackingEnabled bool
	ObjectTypeCode        int
	// Attributes are all the table's attributes, sorted by logical name.
	Attributes []Attribute
}

// Attribute returns the attribute called logicalName, or nil.
func (e *Entity) Attribute(logicalName string) *Attribute {
	i := sort.Search(len(e.Attributes), func(i int) bool { return e.Attributes[i].LogicalName >= logicalName })
	if i < len(e.Attributes) && e.Attributes[i].LogicalName == logicalName {
		return &e.Attributes[i]
	}
	return nil
}

// Attribute is the metadata of one column.
type Attribute struct {
	LogicalName string
	// Type is AttributeType: String, Memo, Integer, BigInt, Decimal,
	// Double, Money, Boolean, DateTime, Lookup, Customer, Owner, Picklist,
	// State, Status, Uniqueidentifier, EntityName, Virtual, …
	Type string
	// TypeName is AttributeTypeName.Value: StringType, MultiSelectPicklistType,
	// ImageType, … It tells Virtual attributes apart.
	TypeName string
	// Format is the DateTime format (DateOnly, DateAndTime) or the string
	// format, if metadata gave it.
	Format string
	// DateTimeBehavior is UserLocal, DateOnly or TimeZoneIndependent.
	DateTimeBehavior string
	IsValidForRead   bool
	IsPrimaryID      bool
	// AttributeOf names the attribute this one derives from (owneridname
	// → ownerid); such attributes are not Web API properties.
	AttributeOf string
	// Targets are the tables a lookup may point to.
	Targets []string
	// Precision is the number of decimals of Money, Decimal and Double;
	// -1 if unknown.
	Precision int
	// Options are the choices of Picklist, State, Status,
	// MultiSelectPicklist and Boolean (0 = false, 1 = true) attributes.
	Options []Option
}

// Option is one choice of an option set.
type Option struct {
	Value int
	Label string
	// State is the statecode a Status option belongs to, -1 otherwise.
	State int
}

// IsLookup reports whether the attribute is a lookup (Lookup, Customer,
// Owner): the Web API property is _<name>_value.
func (a *Attribute) IsLookup() bool {
	switch a.Type {
	case "Lookup", "Customer", "Owner":
		return true
	}
	return false
}

// IsMultiSelect reports whether the attribute is a multi-select choice.
func (a *Attribute) IsMultiSelect() bool {
	return a.TypeName == "MultiSelectPicklistType" || a.Type == "MultiSelectPicklist"
}

// IsDateOnly reports whether a DateTime attribute holds dates only.
func (a *Attribute) IsDateOnly() bool {
	return a.Type == "DateTime" && (a.Format == "DateOnly" || a.DateTimeBehavior == "DateOnly")
}

// Property is the attribute's Web API property name.
func (a *Attribute) Property() string {
	if a.IsLookup() {
		return "_" + a.LogicalName + "_value"
	}
	return a.LogicalName
}

// Label returns the label of option value v, and whether there is one.
func (a *Attribute) Label(v int) (string, bool) {
	for _, o := range a.Options {
		if o.Value == v {
			return o.Label, true
		}
	}
	return "", false
}

type rawLabel struct {
	UserLocalizedLabel *struct {
		Label string
	}
	LocalizedLabels []struct {
		Label        string
		LanguageCode int
	}
}

func (l rawLabel) text() string {
	if l.UserLocalizedLabel != nil && l.UserLocalizedLabel.Label != "" {
		return l.UserLocalizedLabel.Label
	}
	for _, x := range l.LocalizedLabels {
		if x.LanguageCode == 1033 {
			return x.Label
		}
	}
	if len(l.LocalizedLabels) > 0 {
		return l.LocalizedLabels[0].Label
	}
	return ""
}

type rawOption struct {
	Value int
	Label rawLabel
	State *int
}

type rawOptionSet struct {
	Options     []rawOption
	TrueOption  *rawOption
	FalseOption *rawOption
}

func (s *rawOptionSet) options() []Option {
	if s == nil {
		return nil
	}
	var out []Option
	add := func(o rawOption) {
		st := -1
		if o.State != nil {
			st = *o.State
		}
		out = append(out, Option{Value: o.Value, Label: o.Label.text(), State: st})
	}
	for _, o := range s.Options {
		add(o)
	}
	if s.FalseOption != nil {
		add(*s.FalseOption)
	}
	if s.TrueOption != nil {
		add(*s.TrueOption)
	}
	return out
}

type rawAttr struct {
	LogicalName       string
	AttributeType     string
	AttributeTypeName *struct{ Value string }
	IsValidForRead    *bool
	IsPrimaryID       *bool `json:"IsPrimaryId"`
	AttributeOf       *string
	Targets           []string
	Format            *string
	DateTimeBehavior  *struct{ Value string }
	Precision         *int
	OptionSet         *rawOptionSet
	GlobalOptionSet   *rawOptionSet
}

// merge copies what r knows into a.
func (r *rawAttr) merge(a *Attribute) {
	if r.AttributeType != "" {
		a.Type = r.AttributeType
	}
	if r.AttributeTypeName != nil && r.AttributeTypeName.Value != "" {
		a.TypeName = r.AttributeTypeName.Value
	}
	if r.IsValidForRead != nil {
		a.IsValidForRead = *r.IsValidForRead
	}
	if r.IsPrimaryID != nil {
		a.IsPrimaryID = *r.IsPrimaryID
	}
	if r.AttributeOf != nil {
		a.AttributeOf = *r.AttributeOf
	}
	if r.Targets != nil {
		a.Targets = r.Targets
	}
	if r.Format != nil {
		a.Format = *r.Format
	}
	if r.DateTimeBehavior != nil && r.DateTimeBehavior.Value != "" {
		a.DateTimeBehavior = r.DateTimeBehavior.Value
	}
	if r.Precision != nil {
		a.Precision = *r.Precision
	}
	if opts := r.OptionSet.options(); opts != nil {
		a.Options = opts
	} else if opts := r.GlobalOptionSet.options(); opts != nil {
		a.Options = opts
	}
}

var logicalNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// detailCasts are the derived metadata types Ampel reads details from, the
// attribute types each applies to, and what to ask for. These are the URL
// forms Microsoft documents ("Query table definitions using the Web API").
var detailCasts = []struct {
	cast  string
	types []string
	query odata.Query
}{
	{"LookupAttributeMetadata", []string{"Lookup", "Customer", "Owner"}, odata.Query{Select: []string{"LogicalName", "Targets"}}},
	{"PicklistAttributeMetadata", []string{"Picklist"}, odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet,GlobalOptionSet"}},
	{"StateAttributeMetadata", []string{"State"}, odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet"}},
	{"StatusAttributeMetadata", []string{"Status"}, odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet"}},
	{"MultiSelectPicklistAttributeMetadata", []string{"MultiSelectPicklistType"}, odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet,GlobalOptionSet"}},
	{"BooleanAttributeMetadata", []string{"Boolean"}, odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet"}},
	{"DateTimeAttributeMetadata", []string{"DateTime"}, odata.Query{Select: []string{"LogicalName", "Format", "DateTimeBehavior"}}},
	{"MoneyAttributeMetadata", []string{"Money"}, odata.Query{Select: []string{"LogicalName", "Precision"}}},
	{"DecimalAttributeMetadata", []string{"Decimal"}, odata.Query{Select: []string{"LogicalName", "Precision"}}},
	{"DoubleAttributeMetadata", []string{"Double"}, odata.Query{Select: []string{"LogicalName", "Precision"}}},
}

// strong asks for metadata fresh from the source rather than from the
// ~30 s metadata cache, so a column added just now is seen.
var strong = http.Header{"Consistency": {"Strong"}}

// strongWithVersion is strong, and asks for the global metadata version.
var strongWithVersion = http.Header{"Consistency": {"Strong"},
	odata.HeaderPrefer: {odata.Prefer{IncludeAnnotations: []string{odata.AnnotationGlobalMetadataVersion}}.String()}}

// metadataCache keeps each table's last definition with the global
// metadata version it was read at.
type metadataCache struct {
	mu sync.Mutex
	m  map[string]cachedEntity
}

type cachedEntity struct {
	version string
	entity  *Entity
}

func (mc *metadataCache) get(logicalName, version string) *Entity {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if c, ok := mc.m[logicalName]; ok && version != "" && c.version == version {
		return c.entity
	}
	return nil
}

func (mc *metadataCache) put(logicalName, version string, e *Entity) {
	if version == "" {
		return
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.m == nil {
		mc.m = map[string]cachedEntity{}
	}
	mc.m[logicalName] = cachedEntity{version, e}
}

// EntityDefinition reads one table's metadata: the table, its attributes,
// and for each attribute type the details Ampel maps (lookup targets,
// option sets, date-only behaviour, precision). It asks one table at a
// time; expanding the attributes of all tables at once exhausts memory on
// real organisations.
//
// The first request, for the table itself, also asks for the global
// metadata version. When it equals the version the Client last read this
// table at, nothing in the environment's schema changed since, and the
// attributes and their details come from that read: a sync of unchanged
// tables costs one metadata request per table instead of up to twelve.
// A server that sends no version gets every request every time. (VERIFY
// that Dataverse returns the annotation on this request: Microsoft lists
// Microsoft.Dynamics.CRM.globalmetadataversion among the annotations a
// client may ask for; the simulator returns it.) The returned Entity may be
// shared with later calls: callers must not modify it.
//
// A detail request the server refuses with 400, 404 or 501 is logged and
// skipped: the attribute keeps what the base request said (servers may
// include these properties there).
func (c *Client) EntityDefinition(ctx context.Context, logicalName string) (*Entity, error) {
	if !logicalNameRE.MatchString(logicalName) {
		return nil, fmt.Errorf("dataverse: %q is not a table logical name", logicalName)
	}
	defURL := c.base + "EntityDefinitions(LogicalName='" + logicalName + "')"
	var raw rawEntity
	err := c.getJSON(ctx, defURL+"?"+odata.Query{Select: entityProps}.Encode(), logicalName, &raw, strongWithVersion)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", logicalName, err)
	}
	if raw.EntitySetName == "" || raw.PrimaryIDAttribute == "" {
		return nil, fmt.Errorf("metadata of %s: %w", logicalName, &APIError{Kind: ErrMalformed, Method: http.MethodGet,
			Path: APIPath + "EntityDefinitions", Table: logicalName, Message: "EntitySetName or PrimaryIdAttribute missing"})
	}
	e := raw.entity()
	if e.LogicalName == "" {
		e.LogicalName = logicalName
	}
	c.rememberSet(logicalName, e.EntitySetName)
	if cached := c.metadata.get(logicalName, raw.MetadataVersion); cached != nil {
		return cached, nil
	}
	var attrs struct{ Value []rawAttr }
	err = c.getJSON(ctx, defURL+"/Attributes?"+odata.Query{Select: []string{"LogicalName", "AttributeType", "AttributeTypeName", "IsValidForRead", "IsPrimaryId", "AttributeOf"}}.Encode(), logicalName, &attrs, strong)
	if err != nil {
		return nil, fmt.Errorf("attributes of %s: %w", logicalName, err)
	}
	index, present := addAttributes(e, attrs.Value)
	if _, ok := index[e.PrimaryIDAttribute]; !ok {
		return nil, fmt.Errorf("attributes of %s: %w", logicalName, &APIError{Kind: ErrMalformed, Method: http.MethodGet,
			Path: APIPath + "EntityDefinitions/Attributes", Table: logicalName, Message: "primary key " + e.PrimaryIDAttribute + " not among the attributes"})
	}
	// The detail requests go out together (the client's concurrency limit
	// still applies): discovery costs one round trip more, not ten.
	type answer struct {
		values []rawAttr
		err    error
	}
	answers := make([]answer, len(detailCasts))
	var wg sync.WaitGroup
	for i, dc := range detailCasts {
		wanted := false
		for _, t := range dc.types {
			wanted = wanted || present[t]
		}
		if !wanted {
			continue
		}
		wg.Go(func() {
			var details struct{ Value []rawAttr }
			err := c.getJSON(ctx, defURL+"/Attributes/Microsoft.Dynamics.CRM."+dc.cast+"?"+dc.query.Encode(), logicalName, &details, strong)
			answers[i] = answer{details.Value, err}
		})
	}
	wg.Wait()
	for i, dc := range detailCasts {
		err := answers[i].err
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == 400 || ae.Status == 404 || ae.Status == 501) {
			c.log.Warn("dataverse: attribute details unavailable", "table", logicalName, "cast", dc.cast, "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("attributes of %s (%s): %w", logicalName, dc.cast, err)
		}
		for _, r := range answers[i].values {
			if j, ok := index[r.LogicalName]; ok {
				r.AttributeType = "" // a cast answer must not change the type
				r.merge(&e.Attributes[j])
			}
		}
	}
	sort.Slice(e.Attributes, func(i, j int) bool { return e.Attributes[i].LogicalName < e.Attributes[j].LogicalName })
	c.metadata.put(logicalName, raw.MetadataVersion, e)
	return e, nil
}
