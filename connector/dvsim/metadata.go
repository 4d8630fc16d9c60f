package dvsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/ampel/ampel/odata"
)

var typeNames = map[string]string{"String": "StringType", "Memo": "MemoType", "Integer": "IntegerType", "Picklist": "PicklistType",
	"State": "StateType", "Status": "StatusType", "Boolean": "BooleanType", "Money": "MoneyType", "Decimal": "DecimalType",
	"DateTime": "DateTimeType", "Lookup": "LookupType", "Customer": "CustomerType", "Owner": "OwnerType", "BigInt": "BigIntType",
	"Uniqueidentifier": "UniqueidentifierType", "EntityName": "EntityNameType", "Double": "DoubleType"}

var castTypes = map[string]string{"String": "StringAttributeMetadata", "Memo": "MemoAttributeMetadata", "Integer": "IntegerAttributeMetadata",
	"Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata", "Status": "StatusAttributeMetadata",
	"Boolean": "BooleanAttributeMetadata", "Money": "MoneyAttributeMetadata", "Decimal": "DecimalAttributeMetadata",
	"DateTime": "DateTimeAttributeMetadata", "Lookup": "LookupAttributeMetadata", "Customer": "LookupAttributeMetadata",
	"Owner": "LookupAttributeMetadata", "BigInt": "BigIntAttributeMetadata", "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
	"EntityName": "EntityNameAttributeMetadata"}

func label(s string) map[string]any {
	l := map[string]any{"Label": s, "LanguageCode": 1033}
	return map[string]any{"LocalizedLabels": []any{l}, "UserLocalizedLabel": l}
}

func (s *Server) attrMeta(t *table, c *column, withOptions bool) map[string]any {
	m := map[string]any{
		odata.KeyType: "#Microsoft.Dynamics.CRM." + castTypes[c.attrType], "LogicalName": c.name, "SchemaName": c.name,
		"AttributeType": c.attrType, "AttributeTypeName": map[string]any{"Value": typeNames[c.attrType]},
		"IsValidForRead": true, "IsCustomAttribute": c.custom, "AttributeOf": nil, "EntityLogicalName": t.logical,
		"IsPrimaryId": c.kind == kPK, "IsPrimaryName": c.name == t.primaryName,
		"MetadataId": guidFromHash(splitmix(t.owner.salt ^ uint64(len(c.name))*131 ^ uint64(c.name[0]))), "DisplayName": label(c.name),
	}
	if c.kind == kMoneyBase {
		m["AttributeOf"] = c.baseOf.name
	}
	switch c.attrType {
	case "String":
		m["Format"] = c.format
		m["MaxLength"] = 200
	case "DateTime":
		m["Format"] = c.format
		behavior := "UserLocal"
		if c.kind == kDateOnly {
			behavior = "DateOnly"
		}
		m["DateTimeBehavior"] = map[string]any{"Value": behavior}
	case "Integer":
		m["Format"] = c.format
	case "Money":
		m["Precision"] = 2
	case "Lookup", "Customer", "Owner":
		var tg []string
		for _, x := range c.targets {
			tg = append(tg, x.logical)
		}
		if c.kind == kConstLookup {
			tg = []string{c.constLN}
		}
		m["Targets"] = tg
	}
	if withOptions && len(c.options) > 0 {
		var optsOut []any
		for _, o := range c.options {
			om := map[string]any{"Value": o.Value, "Label": label(o.Label)}
			if c.attrType == "Status" {
				om["State"] = o.State
			}
			if c.attrType == "State" {
				for _, st := range t.byName["statuscode"].options {
					if st.State == o.Value {
						om["DefaultStatus"] = st.Value
						break
					}
				}
			}
			optsOut = append(optsOut, om)
		}
		os := map[string]any{"Name": t.logical + "_" + c.name, "OptionSetType": c.attrType, "Options": optsOut}
		if c.attrType == "Boolean" {
			os = map[string]any{"Name": t.logical + "_" + c.name, "OptionSetType": "Boolean",
				"FalseOption": map[string]any{"Value": 0, "Label": label(c.label(0))}, "TrueOption": map[string]any{"Value": 1, "Label": label(c.label(1))}}
		}
		m["OptionSet"] = os
		m["GlobalOptionSet"] = nil
	}
	return m
}

func (s *Server) entityMeta(t *table) map[string]any {
	return map[string]any{odata.KeyType: "#Microsoft.Dynamics.CRM.EntityMetadata", "LogicalName": t.logical, "SchemaName": t.logical,
		"EntitySetName": t.set, "LogicalCollectionName": t.set, "PrimaryIdAttribute": t.pk, "PrimaryNameAttribute": t.primaryName,
		"ChangeTrackingEnabled": t.changeTracking, "CanChangeTrackingBeEnabled": map[string]any{"Value": true, "CanBeChanged": t.changeTracking},
		"MetadataId": t.metadataID, "DisplayName": label(t.display), "IsCustomEntity": false, "ObjectTypeCode": 1 + t.idx}
}

// project keeps the $select'ed keys (plus @odata.type and MetadataId, as Dataverse does).
func project(m map[string]any, sel []string) map[string]any {
	if sel == nil {
		return m
	}
	out := map[string]any{"MetadataId": m["MetadataId"]}
	if v, ok := m[odata.KeyType]; ok {
		out[odata.KeyType] = v
	}
	for _, k := range sel {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// evalMeta evaluates a $filter over a metadata object.
func evalMeta(n odata.Node, m map[string]any) bool {
	switch x := n.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case "and":
			return evalMeta(x.Left, m) && evalMeta(x.Right, m)
		case "or":
			return evalMeta(x.Left, m) || evalMeta(x.Right, m)
		}
		p, ok1 := x.Left.(*odata.Property)
		l, ok2 := x.Right.(*odata.Literal)
		if !ok1 || !ok2 {
			return false
		}
		var v any = m
		for _, seg := range p.Path {
			mm, ok := v.(map[string]any)
			if !ok {
				return false
			}
			v = mm[seg]
		}
		eq := false
		switch lv := l.Value.(type) {
		case nil:
			eq = v == nil
		case string:
			sv, _ := v.(string)
			eq = strings.EqualFold(sv, lv)
		case bool:
			bv, _ := v.(bool)
			eq = bv == lv
		case int64:
			switch nv := v.(type) {
			case int:
				eq = int64(nv) == lv
			case int32:
				eq = int64(nv) == lv
			}
		}
		switch x.Op {
		case "eq":
			return eq
		case "ne":
			return !eq
		}
		return false
	case *odata.NotExpr:
		return !evalMeta(x.X, m)
	}
	return false
}

// serveMetadata answers the EntityDefinitions forms:
//
//	EntityDefinitions?$select=…&$filter=…[&$expand=Attributes[($select=…)]]
//	EntityDefinitions(LogicalName='x')?$select=…&$expand=Attributes($select=…)
//	EntityDefinitions(LogicalName='x')/Attributes?$select=…&$filter=…
//	EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.<Type>AttributeMetadata?$select=…&$expand=OptionSet,GlobalOptionSet
//	EntityDefinitions(LogicalName='x')/Attributes/Microsoft.Dynamics.CRM.EnumAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet
//	EntityDefinitions(LogicalName='x')/Attributes(LogicalName='y')[/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]
//
// OptionSet is expanded only through a cast, as on Dataverse.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, rest string) {
	q, _ := queryParams(r.URL.RawQuery)
	var sel []string
	if v, ok := q[odata.OptionSelect]; ok {
		sel = odata.ParseSelect(v)
	}
	var filter odata.Node
	if f, ok := q[odata.OptionFilter]; ok {
		var err error
		if filter, err = odata.ParseFilter(f); err != nil {
			s.writeErr(w, badRequest(codeODataSyntax, "Syntax error in $filter: %v", err))
			return
		}
	}
	expand := q[odata.OptionExpand]
	s.mu.RLock()
	defer s.mu.RUnlock()
	version := strconv.FormatInt(s.metadataVersion, 10)
	w.Header().Set("x-ms-dynamics-globalmetadataversion", version)
	ctxBase := s.apiURL + "$metadata#EntityDefinitions"
	withVersion := false
	if p := odata.ParsePrefer(r.Header); p.IncludeAnnotations != nil && odata.AnnotationIncluded(p.IncludeAnnotations, odata.AnnotationGlobalMetadataVersion) {
		withVersion = true
	}
	if rest == "" {
		var out []any
		for _, t := range s.tables {
			m := s.entityMeta(t)
			if filter == nil || evalMeta(filter, m) {
				m = project(m, sel)
				s.expandAttributes(t, m, expand)
				out = append(out, m)
			}
		}
		top := map[string]any{odata.KeyContext: ctxBase, "value": out}
		if withVersion {
			// VERIFY: the simulator puts the annotation on the collection
			// as on a single definition
			top["@"+odata.AnnotationGlobalMetadataVersion] = version
		}
		body, _ := json.Marshal(top)
		writeJSON(w, 200, body)
		return
	}
	if !strings.HasPrefix(rest, "(LogicalName='") {
		s.writeErr(w, &apiError{404, codeODataSyntax, "Resource not found for the segment 'EntityDefinitions" + rest + "'."})
		return
	}
	name, path, _ := strings.Cut(strings.TrimPrefix(rest, "(LogicalName='"), "')")
	t := s.byLogical[name]
	if t == nil {
		s.writeErr(w, &apiError{404, "0x80040217", "Could not find an entity with specified LogicalName = " + name + "."})
		return
	}
	if path == "" {
		m := project(s.entityMeta(t), sel)
		s.expandAttributes(t, m, expand)
		m[odata.KeyContext] = ctxBase + "/$entity"
		if withVersion {
			m["@"+odata.AnnotationGlobalMetadataVersion] = version
		}
		body, _ := json.Marshal(m)
		writeJSON(w, 200, body)
		return
	}
	path = strings.TrimPrefix(path, "/")
	if !strings.HasPrefix(path, "Attributes") {
		s.writeErr(w, &apiError{404, codeODataSyntax, "Resource not found for the segment '" + path + "'."})
		return
	}
	path = strings.TrimPrefix(path, "Attributes")
	var single string
	if strings.HasPrefix(path, "(LogicalName='") {
		single, path, _ = strings.Cut(strings.TrimPrefix(path, "(LogicalName='"), "')")
	}
	cast := strings.TrimPrefix(strings.TrimPrefix(path, "/"), "Microsoft.Dynamics.CRM.")
	withOptions := strings.Contains(expand, "OptionSet")
	if withOptions && cast == "" {
		s.writeErr(w, badRequest(codeODataSyntax, "Could not find a property named 'OptionSet' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'."))
		return
	}
	var out []any
	for _, c := range t.cols {
		if single != "" && c.name != single {
			continue
		}
		if cast != "" && !isCast(c.attrType, cast) {
			continue
		}
		m := s.attrMeta(t, c, withOptions)
		if filter != nil && !evalMeta(filter, m) {
			continue
		}
		if sel != nil {
			m = project(m, append(sel, optionKeys(withOptions)...))
		}
		out = append(out, m)
	}
	if single != "" {
		if len(out) == 0 {
			s.writeErr(w, &apiError{404, "0x80040217", "Could not find attribute " + single + " on " + t.logical + "."})
			return
		}
		m := out[0].(map[string]any)
		m[odata.KeyContext] = ctxBase + "('" + t.logical + "')/Attributes/$entity"
		body, _ := json.Marshal(m)
		writeJSON(w, 200, body)
		return
	}
	body, _ := json.Marshal(map[string]any{odata.KeyContext: ctxBase + "('" + t.logical + "')/Attributes", "value": out})
	writeJSON(w, 200, body)
}

func optionKeys(on bool) []string {
	if on {
		return []string{"OptionSet", "GlobalOptionSet"}
	}
	return nil
}

// isCast reports whether an attribute of attrType is of the derived
// metadata type cast: its own, or EnumAttributeMetadata, the base type of
// the choice attributes' metadata (the one cast that expands the option
// sets of Picklist, State, Status and MultiSelectPicklist attributes
// together).
func isCast(attrType, cast string) bool {
	if cast == "EnumAttributeMetadata" {
		switch attrType {
		case "Picklist", "State", "Status", "MultiSelectPicklist", "EntityName":
			return true
		}
		return false
	}
	return castTypes[attrType] == cast
}

// expandAttributes adds the table's attributes to m when expand asks for
// them ($expand=Attributes or Attributes($select=…)): each as its derived
// type, without option sets (those come only through a cast).
func (s *Server) expandAttributes(t *table, m map[string]any, expand string) {
	if !strings.HasPrefix(expand, "Attributes") {
		return
	}
	var asel []string
	if i := strings.Index(expand, "$select="); i >= 0 {
		asel = odata.ParseSelect(strings.TrimRight(strings.SplitN(expand[i+8:], ";", 2)[0], ")"))
	}
	attrs := []any{}
	for _, c := range t.cols {
		attrs = append(attrs, project(s.attrMeta(t, c, false), asel))
	}
	m["Attributes"] = attrs
}
