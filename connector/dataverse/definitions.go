package dataverse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ampel/ampel/odata"
)

// Metadata is the definitions of several tables read at one global
// metadata version. Entities and what they point to are shared: callers
// must not modify them.
type Metadata struct {
	// Version is Dataverse's global metadata version the entities were
	// read at ("" if the server sent none: such a snapshot is never
	// reused).
	Version string
	// Entities are the definitions by logical name.
	Entities map[string]*Entity
}

// Covers reports whether m holds every table of names at a known
// version (false for a nil m).
func (m *Metadata) Covers(names []string) bool {
	if m == nil || m.Version == "" {
		return false
	}
	for _, n := range names {
		if m.Entities[n] == nil {
			return false
		}
	}
	return true
}

// entityProps are the table properties Ampel reads.
var entityProps = []string{"LogicalName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute", "ChangeTrackingEnabled", "ObjectTypeCode"}

// optionSetCast is the one cast segment that gives the option sets of a
// table's Picklist, State, Status and MultiSelectPicklist attributes in one
// request: EnumAttributeMetadata is their common base type in the Web API's
// CSDL, and OptionSet and GlobalOptionSet are its navigation properties.
// (VERIFY against Dataverse that the abstract type is accepted as a cast
// segment; where it is refused with 400/404/501 the client falls back to
// the per-type casts Microsoft documents. The simulator accepts both.)
const optionSetCast = "EnumAttributeMetadata"

// enumTypes are the attribute types whose options come with optionSetCast.
// Boolean labels are not read: no column uses them.
var enumTypes = []string{"Picklist", "State", "Status", "MultiSelectPicklist", "MultiSelectPicklistType"}

type rawEntity struct {
	LogicalName           string
	EntitySetName         string
	PrimaryIDAttribute    string `json:"PrimaryIdAttribute"`
	PrimaryNameAttribute  string
	ChangeTrackingEnabled *bool
	ObjectTypeCode        int
	MetadataVersion       string `json:"@Microsoft.Dynamics.CRM.globalmetadataversion"`
	Attributes            []rawAttr
}

func (r *rawEntity) entity() *Entity {
	return &Entity{
		LogicalName: r.LogicalName, EntitySetName: r.EntitySetName, PrimaryIDAttribute: r.PrimaryIDAttribute,
		PrimaryNameAttribute: r.PrimaryNameAttribute, ObjectTypeCode: r.ObjectTypeCode,
		ChangeTrackingEnabled: r.ChangeTrackingEnabled != nil && *r.ChangeTrackingEnabled,
	}
}

// EntityDefinitions reads the metadata of the tables names in as few
// requests as Dataverse allows, and returns what it could read. known is
// an earlier snapshot (the warehouse's metadata cache, or nil); the
// Client's last snapshot is used when known is nil.
//
// With a snapshot that holds every table, one request asks for the tables
// (EntityDefinitions?$select=…&$filter=LogicalName eq 'a' or …) and the
// global metadata version: when the version is the snapshot's, nothing in
// the environment's schema changed and the snapshot is returned as it is.
// Otherwise one request reads the tables with all their attributes
// ($expand=Attributes: each attribute comes as its derived type, with
// lookup targets, date-time behaviour and precision), and one request per
// table reads their option sets (the EnumAttributeMetadata cast with
// $expand=OptionSet,GlobalOptionSet). A cold read of n tables thus costs
// 1 + n requests. Without a snapshot (a first sync) the option sets are
// asked for at once, beside the attributes: one round trip, not two; a
// table without choices costs one request for nothing then. With a
// snapshot at another version, only the tables with choices are asked,
// after the attributes.
//
// The attributes are expanded only for the configured tables, never for
// all of an organisation's (which exhausts memory, airbytehq/airbyte#52678).
// The version comes from the @Microsoft.Dynamics.CRM.globalmetadataversion
// annotation of the collection, asked for with Prefer
// odata.include-annotations (VERIFY that Dataverse annotates the
// EntityDefinitions collection as it does data collections; the simulator
// does). A server that sends none gets the cold read every time, and
// nothing is cached.
//
// A table the server did not return is left out of the result: the caller
// asks for it with EntityDefinition, which says why. An error means the
// snapshot could not be read at all (the caller may fall back to
// EntityDefinition per table).
func (c *Client) EntityDefinitions(ctx context.Context, names []string, known *Metadata) (*Metadata, error) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, n := range names {
		if !logicalNameRE.MatchString(n) {
			return nil, fmt.Errorf("dataverse: %q is not a table logical name", n)
		}
	}
	if known == nil {
		c.snapMu.Lock()
		known = c.snapshot
		c.snapMu.Unlock()
	}
	var filter []string
	for _, n := range names {
		filter = append(filter, "LogicalName eq '"+n+"'")
	}
	q := odata.Query{Select: entityProps, Filter: strings.Join(filter, " or ")}
	var top struct {
		MetadataVersion string `json:"@Microsoft.Dynamics.CRM.globalmetadataversion"`
		Value           []rawEntity
	}
	if known.Covers(names) {
		if err := c.getJSON(ctx, c.base+"EntityDefinitions?"+q.Encode(), "", &top, strongWithVersion); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		if top.MetadataVersion == known.Version {
			md := &Metadata{Version: known.Version, Entities: map[string]*Entity{}}
			for _, r := range top.Value {
				if e := known.Entities[r.LogicalName]; e != nil && e.EntitySetName == r.EntitySetName {
					md.Entities[r.LogicalName] = e
					c.rememberSet(r.LogicalName, e.EntitySetName)
				}
			}
			if md.Covers(names) {
				return md, nil
			}
		}
	}
	// with no snapshot to check against (a first sync), the option sets
	// are asked for beside the attributes, not a round trip after them
	var early map[string]*optionSetRead
	earlyCtx, cancelEarly := context.WithCancel(ctx)
	defer cancelEarly() // the reads of tables that were not returned
	if known == nil || !known.Covers(names) {
		early = make(map[string]*optionSetRead, len(names))
		for _, n := range names {
			early[n] = c.startOptionSets(earlyCtx, n)
		}
	}
	q.Expand = "Attributes"
	top.Value, top.MetadataVersion = nil, ""
	if err := c.getJSON(ctx, c.base+"EntityDefinitions?"+q.Encode(), "", &top, strongWithVersion); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	md := &Metadata{Version: top.MetadataVersion, Entities: map[string]*Entity{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(top.Value))
	for i := range top.Value {
		r := &top.Value[i]
		if !slices.Contains(names, r.LogicalName) || r.EntitySetName == "" || r.PrimaryIDAttribute == "" {
			continue // asked for again on its own, which says what is wrong
		}
		e := r.entity()
		index, present := addAttributes(e, r.Attributes)
		if _, ok := index[e.PrimaryIDAttribute]; !ok {
			continue
		}
		c.rememberSet(e.LogicalName, e.EntitySetName)
		wanted := false
		for _, t := range enumTypes {
			wanted = wanted || present[t]
		}
		wg.Go(func() {
			if wanted && early[e.LogicalName].apply(e, index) {
				wanted = false
			}
			if wanted {
				if err := c.optionSets(ctx, e, index); err != nil {
					errs[i] = err
					return
				}
			}
			sort.Slice(e.Attributes, func(i, j int) bool { return e.Attributes[i].LogicalName < e.Attributes[j].LogicalName })
			mu.Lock()
			md.Entities[e.LogicalName] = e
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if md.Version != "" {
		c.snapMu.Lock()
		c.snapshot = md
		c.snapMu.Unlock()
		for n, e := range md.Entities {
			c.metadata.put(n, md.Version, e)
		}
	}
	return md, nil
}

// addAttributes appends the attributes of raw to e and returns where each
// is and which types (AttributeType and AttributeTypeName) occur.
func addAttributes(e *Entity, raw []rawAttr) (map[string]int, map[string]bool) {
	index := make(map[string]int, len(raw))
	present := map[string]bool{}
	for _, r := range raw {
		if r.LogicalName == "" {
			continue
		}
		a := Attribute{LogicalName: r.LogicalName, IsValidForRead: true, Precision: -1}
		r.merge(&a)
		if a.LogicalName == e.PrimaryIDAttribute {
			a.IsPrimaryID = true
		}
		present[a.Type] = true
		present[a.TypeName] = true
		index[a.LogicalName] = len(e.Attributes)
		e.Attributes = append(e.Attributes, a)
	}
	return index, present
}

// optionSetRead is the one-request read of a table's option sets (the
// optionSetCast form), sent before the table's attributes are known.
type optionSetRead struct {
	done  chan struct{}
	attrs []rawAttr
	err   error
}

// startOptionSets asks for the option sets of the table name in one
// request, in the background.
func (c *Client) startOptionSets(ctx context.Context, name string) *optionSetRead {
	r := &optionSetRead{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		q := odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet,GlobalOptionSet"}
		var details struct{ Value []rawAttr }
		r.err = c.getJSON(ctx, c.base+"EntityDefinitions(LogicalName='"+name+"')/Attributes/Microsoft.Dynamics.CRM."+optionSetCast+"?"+q.Encode(), name, &details, strong)
		r.attrs = details.Value
	}()
	return r
}

// apply waits for the read and merges its option sets into e's
// attributes. It reports false when there is nothing to apply (no read
// was sent, or it failed: the caller asks again with optionSets, which
// falls back to the per-type casts and says what went wrong).
func (r *optionSetRead) apply(e *Entity, index map[string]int) bool {
	if r == nil {
		return false
	}
	<-r.done
	if r.err != nil {
		return false
	}
	mergeOptionSets(e, index, r.attrs)
	return true
}

// mergeOptionSets merges the option sets of a cast answer into e's
// attributes (a cast answer must not change an attribute's type).
func mergeOptionSets(e *Entity, index map[string]int, attrs []rawAttr) {
	for _, r := range attrs {
		if j, ok := index[r.LogicalName]; ok {
			r.AttributeType = ""
			r.merge(&e.Attributes[j])
		}
	}
}

// optionSets reads the option sets of e's choice attributes in one
// request, or with the per-type casts if the server refuses that one.
func (c *Client) optionSets(ctx context.Context, e *Entity, index map[string]int) error {
	defURL := c.base + "EntityDefinitions(LogicalName='" + e.LogicalName + "')/Attributes/Microsoft.Dynamics.CRM."
	q := odata.Query{Select: []string{"LogicalName"}, Expand: "OptionSet,GlobalOptionSet"}
	casts := []string{optionSetCast}
	for i := 0; i < len(casts); i++ {
		var details struct{ Value []rawAttr }
		err := c.getJSON(ctx, defURL+casts[i]+"?"+q.Encode(), e.LogicalName, &details, strong)
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == 400 || ae.Status == 404 || ae.Status == 501) {
			if casts[i] == optionSetCast {
				c.log.Debug("dataverse: one-request option sets refused; asking per type", "table", e.LogicalName, "err", err)
				casts = append(casts, "PicklistAttributeMetadata", "StateAttributeMetadata", "StatusAttributeMetadata", "MultiSelectPicklistAttributeMetadata")
			} else {
				c.log.Warn("dataverse: attribute details unavailable", "table", e.LogicalName, "cast", casts[i], "err", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("option sets of %s: %w", e.LogicalName, err)
		}
		mergeOptionSets(e, index, details.Value)
	}
	return nil
}

// Snapshot returns the Client's last metadata snapshot (nil before the
// first EntityDefinitions that got a version), for saving in a cache.
func (c *Client) Snapshot() *Metadata {
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	return c.snapshot
}
