package odata

// The names of OData v4 and Dataverse that Ampel uses on both sides of
// the wire, in one place: a client that builds requests and reads
// answers, a server that reads requests and builds answers.

// System query options.
const (
	OptionSelect     = "$select"
	OptionFilter     = "$filter"
	OptionOrderBy    = "$orderby"
	OptionExpand     = "$expand"
	OptionTop        = "$top"
	OptionSkip       = "$skip"
	OptionCount      = "$count"
	OptionSkipToken  = "$skiptoken"  // the paging cookie in a next link
	OptionDeltaToken = "$deltatoken" // the change-tracking token in a delta link
)

// Control information: the odata-namespace annotations of a response
// body, as JSON keys.
const (
	KeyContext   = "@odata.context"
	KeyNextLink  = "@odata.nextLink"
	KeyDeltaLink = "@odata.deltaLink"
	KeyCount     = "@odata.count"
	KeyETag      = "@odata.etag"
	KeyID        = "@odata.id"
	KeyType      = "@odata.type"
	// KeyRemoved marks a deleted entity in a delta response (OData 4.01;
	// 4.0 services write KeyRemovedV4 or a $deletedEntity context).
	KeyRemoved   = "@removed"
	KeyRemovedV4 = "@odata.removed"
	// KeyIDV401 is the OData 4.01 spelling of KeyID.
	KeyIDV401 = "@id"
)

// Context URL parts.
const (
	// ContextDelta ends the context URL of a delta response.
	ContextDelta = "/$delta"
	// ContextDeletedEntity ends the context URL of a deleted entity in a
	// delta response.
	ContextDeletedEntity = "/$deletedEntity"
)

// Annotation terms a client asks for with Prefer odata.include-annotations
// and finds as "<property>@<term>" (or "@<term>" on the whole response).
const (
	// AnnotationFormattedValue is a value as the user sees it: a choice's
	// label, a lookup's name, a formatted number or date.
	AnnotationFormattedValue = "OData.Community.Display.V1.FormattedValue"
	// AnnotationLookupLogicalName is the table a lookup points to.
	AnnotationLookupLogicalName = "Microsoft.Dynamics.CRM.lookuplogicalname"
	// AnnotationAssociatedNavigationProperty is a lookup's navigation
	// property.
	AnnotationAssociatedNavigationProperty = "Microsoft.Dynamics.CRM.associatednavigationproperty"
	// AnnotationGlobalMetadataVersion is Dataverse's metadata version: it
	// changes with any schema change in the environment.
	AnnotationGlobalMetadataVersion = "Microsoft.Dynamics.CRM.globalmetadataversion"
	// AnnotationTotalRecordCount and AnnotationTotalRecordCountLimitExceeded
	// come with $count=true: the count, and whether it stopped at 5,000.
	AnnotationTotalRecordCount              = "Microsoft.Dynamics.CRM.totalrecordcount"
	AnnotationTotalRecordCountLimitExceeded = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
)

// HTTP headers.
const (
	HeaderVersion           = "OData-Version"
	HeaderMaxVersion        = "OData-MaxVersion"
	HeaderPrefer            = "Prefer"
	HeaderPreferenceApplied = "Preference-Applied"
	// Version is the protocol version Ampel speaks, for HeaderVersion and
	// HeaderMaxVersion.
	Version = "4.0"
	// ContentTypeJSON is the content type of a JSON response with minimal
	// metadata.
	ContentTypeJSON = "application/json; odata.metadata=minimal"
)
